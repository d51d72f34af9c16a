// Package sarif writes `vigil scan` results as SARIF 2.1.0, the format
// GitHub code scanning and other tools ingest
// (https://docs.oasis-open.org/sarif/sarif/v2.1.0/).
//
// Each advisory is one rule; each finding one result at the files its
// package was found in. GitHub reads the rule's "security-severity"
// property to rate an alert and the result's partialFingerprints to follow
// it across runs.
package sarif

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/vigilsec/vigil/internal/finding"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/report"
	"github.com/vigilsec/vigil/internal/severity"
)

const (
	// Version is the SARIF version written.
	Version = "2.1.0"
	// SchemaURI is the JSON schema of Version, as GitHub documents it.
	SchemaURI = "https://json.schemastore.org/sarif-2.1.0.json"

	// FingerprintKey names Vigil's partial fingerprint. Its value depends
	// only on the advisory, the package (type, ecosystem, name, version,
	// arch) and its first location, never on scores that change daily.
	FingerprintKey = "vigilFinding/v1"

	// rootBase is the uriBaseId of every location: the scanned root.
	rootBase = "ROOTPATH"
)

// Log is a SARIF log file.
type Log struct {
	Schema  string `json:"$schema"`
	Version string `json:"version"`
	Runs    []Run  `json:"runs"`
}

// Run is one run of a tool.
type Run struct {
	Tool               Tool                        `json:"tool"`
	OriginalURIBaseIDs map[string]ArtifactLocation `json:"originalUriBaseIds,omitempty"`
	Results            []Result                    `json:"results"`
	Properties         map[string]any              `json:"properties,omitempty"`
}

// Tool is the tool that ran.
type Tool struct {
	Driver Driver `json:"driver"`
}

// Driver is the tool's main component.
type Driver struct {
	Name           string `json:"name"`
	Version        string `json:"version,omitempty"`
	InformationURI string `json:"informationUri"`
	Rules          []Rule `json:"rules"`
}

// Rule describes one advisory (a SARIF reportingDescriptor).
type Rule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name,omitempty"`
	ShortDescription     Message        `json:"shortDescription"`
	FullDescription      Message        `json:"fullDescription"`
	Help                 Message        `json:"help"`
	HelpURI              string         `json:"helpUri"`
	DefaultConfiguration Configuration  `json:"defaultConfiguration"`
	Properties           RuleProperties `json:"properties"`
}

// Configuration is a rule's default reporting configuration.
type Configuration struct {
	Level string `json:"level"`
}

// RuleProperties are the properties GitHub code scanning reads.
type RuleProperties struct {
	// SecuritySeverity is a score from 0.0 to 10.0 as a string; GitHub
	// rates over 9.0 critical, 7.0 to 8.9 high, 4.0 to 6.9 medium and
	// 0.1 to 3.9 low.
	SecuritySeverity string   `json:"security-severity,omitempty"`
	Precision        string   `json:"precision"`
	Tags             []string `json:"tags"`
}

// Message is a text with an optional Markdown form.
type Message struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

// Result is one finding.
type Result struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             Message           `json:"message"`
	Locations           []Location        `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Properties          ResultProperties  `json:"properties"`
}

// ResultProperties carry what SARIF has no field for.
type ResultProperties struct {
	PURL             string  `json:"purl,omitempty"`
	Package          string  `json:"package"`
	InstalledVersion string  `json:"installedVersion"`
	FixedVersion     string  `json:"fixedVersion,omitempty"`
	Remediation      string  `json:"remediation,omitempty"`
	Priority         float64 `json:"priority"`
	Severity         string  `json:"severity"`
	KEV              bool    `json:"kev"`
	EPSS             float64 `json:"epss,omitempty"`
}

// Location is where a result was found.
type Location struct {
	PhysicalLocation PhysicalLocation `json:"physicalLocation"`
}

// PhysicalLocation is a file (and region) a result is in.
type PhysicalLocation struct {
	ArtifactLocation ArtifactLocation `json:"artifactLocation"`
	Region           *Region          `json:"region,omitempty"`
}

// ArtifactLocation is a file, by a URI relative to its uriBaseId.
type ArtifactLocation struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
}

// Region is a part of a file.
type Region struct {
	StartLine int `json:"startLine"`
}

// Write writes the findings of a scan of t as one SARIF 2.1.0 log, rules
// and results in the order of findings (highest priority first). pkgs are
// all packages found; toolVersion is Vigil's version.
func Write(w io.Writer, t report.Target, pkgs []inventory.Package, findings []finding.Finding, toolVersion string) error {
	l := Build(t, pkgs, findings, toolVersion)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(l); err != nil {
		return fmt.Errorf("write sarif: %w", err)
	}
	return nil
}

// Build returns the SARIF log Write writes.
func Build(t report.Target, pkgs []inventory.Package, findings []finding.Finding, toolVersion string) *Log {
	run := Run{
		Tool: Tool{Driver: Driver{
			Name: "vigil", Version: toolVersion, InformationURI: "https://github.com/vigilsec/vigil",
			Rules: []Rule{},
		}},
		Results:    make([]Result, 0, len(findings)),
		Properties: targetProperties(t, len(pkgs)),
	}
	// A scanned directory is a real file tree: say where locations are
	// relative to. An image's files exist only inside the image.
	if t.Type != "image" && strings.HasPrefix(t.Name, "/") {
		run.OriginalURIBaseIDs = map[string]ArtifactLocation{rootBase: {URI: (&url.URL{Scheme: "file", Path: strings.TrimSuffix(t.Name, "/") + "/"}).String()}}
	}
	ruleIndex := map[string]int{}
	for _, f := range findings {
		i, ok := ruleIndex[f.Advisory.ID]
		if !ok {
			i = len(run.Tool.Driver.Rules)
			ruleIndex[f.Advisory.ID] = i
			run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, rule(f))
		}
		run.Results = append(run.Results, result(t, f, i))
	}
	return &Log{Schema: SchemaURI, Version: Version, Runs: []Run{run}}
}

func targetProperties(t report.Target, packages int) map[string]any {
	p := map[string]any{"targetType": t.Type, "targetName": t.Name, "packages": packages}
	if t.OS != nil {
		p["os"] = osName(t.OS)
	}
	return p
}

func osName(o *inventory.OSRelease) string {
	if o.PrettyName != "" {
		return o.PrettyName
	}
	return strings.TrimSpace(o.ID + " " + o.VersionID)
}

// Level is the SARIF level of a severity: error for critical and high,
// warning for medium, note for the rest.
func Level(s severity.Level) string {
	switch {
	case s >= severity.High:
		return "error"
	case s == severity.Medium:
		return "warning"
	}
	return "note"
}

// SecuritySeverity is the score GitHub rates an alert by: the CVSS base
// score when the advisory has one, else a score inside the band of its
// severity (the mid-points Trivy also uses), "" when it has neither.
func SecuritySeverity(a finding.Advisory) string {
	if a.CVSS.Vector != "" {
		return strconv.FormatFloat(a.CVSS.Score, 'f', 1, 64)
	}
	switch a.Severity {
	case severity.Critical:
		return "9.5"
	case severity.High:
		return "8.0"
	case severity.Medium:
		return "5.5"
	case severity.Low:
		return "2.0"
	}
	return ""
}

func helpURI(a finding.Advisory) string {
	for _, r := range a.References {
		if strings.HasPrefix(r, "https://") || strings.HasPrefix(r, "http://") {
			return r
		}
	}
	return "https://osv.dev/vulnerability/" + a.ID
}

func rule(f finding.Finding) Rule {
	a := f.Advisory
	short := a.Summary
	if short == "" {
		short = a.ID
		if len(a.Aliases) > 0 {
			short += " (" + strings.Join(a.Aliases, ", ") + ")"
		}
	}
	full := a.Details
	if full == "" {
		full = short
	}
	tags := []string{"security", "vulnerability", a.Severity.String()}
	for _, al := range a.Aliases {
		if !slices.Contains(tags, al) {
			tags = append(tags, al)
		}
	}
	return Rule{
		ID:                   a.ID,
		ShortDescription:     Message{Text: short},
		FullDescription:      Message{Text: full},
		Help:                 help(a),
		HelpURI:              helpURI(a),
		DefaultConfiguration: Configuration{Level: Level(a.Severity)},
		Properties:           RuleProperties{SecuritySeverity: SecuritySeverity(a), Precision: "very-high", Tags: tags},
	}
}

func help(a finding.Advisory) Message {
	var txt, md strings.Builder
	fmt.Fprintf(&txt, "%s", a.ID)
	fmt.Fprintf(&md, "**%s**", a.ID)
	if len(a.Aliases) > 0 {
		fmt.Fprintf(&txt, " (%s)", strings.Join(a.Aliases, ", "))
		fmt.Fprintf(&md, " (%s)", strings.Join(a.Aliases, ", "))
	}
	fmt.Fprintf(&txt, "\nSeverity: %s", a.Severity)
	fmt.Fprintf(&md, "\n\n| Severity | CVSS |\n| --- | --- |\n| %s | %s |", a.Severity, mdCVSS(a.CVSS))
	if a.CVSS.Vector != "" {
		fmt.Fprintf(&txt, "\nCVSS %s: %.1f %s", a.CVSS.Version, a.CVSS.Score, a.CVSS.Vector)
	}
	if a.Summary != "" {
		fmt.Fprintf(&txt, "\n\n%s", a.Summary)
		fmt.Fprintf(&md, "\n\n%s", a.Summary)
	}
	if len(a.References) > 0 {
		txt.WriteString("\n\nReferences:")
		md.WriteString("\n\n#### References")
		for _, r := range a.References {
			fmt.Fprintf(&txt, "\n%s", r)
			fmt.Fprintf(&md, "\n- %s", r)
		}
	}
	return Message{Text: txt.String(), Markdown: md.String()}
}

func mdCVSS(c finding.CVSS) string {
	if c.Vector == "" {
		return "none"
	}
	return fmt.Sprintf("%.1f `%s`", c.Score, c.Vector)
}

// message names the package, installed and fixed version and the fix.
func message(f finding.Finding) string {
	p := f.Target.Package
	var b strings.Builder
	fmt.Fprintf(&b, "Package %s %s is affected by %s", p.Name, p.Version, f.Advisory.ID)
	if len(f.Advisory.Aliases) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(f.Advisory.Aliases, ", "))
	}
	fmt.Fprintf(&b, ", severity %s.", f.Advisory.Severity)
	if f.KEV.Listed {
		fmt.Fprintf(&b, " %s is in CISA's Known Exploited Vulnerabilities catalog.", f.KEV.CVE)
	}
	if f.FixedVersion == "" {
		b.WriteString(" No fixed version is published.")
		return b.String()
	}
	fmt.Fprintf(&b, " Fixed version: %s.", f.FixedVersion)
	if r := f.Remediation; r.Command != "" {
		fmt.Fprintf(&b, " Remediation: %s", r.Command)
	} else if r.Note != "" {
		fmt.Fprintf(&b, " Remediation: %s.", r.Note)
	}
	return b.String()
}

func result(t report.Target, f finding.Finding, ruleIndex int) Result {
	p := f.Target.Package
	locs := locations(t, p)
	remediation := f.Remediation.Command
	if remediation == "" {
		remediation = f.Remediation.Note
	}
	return Result{
		RuleID:              f.Advisory.ID,
		RuleIndex:           ruleIndex,
		Level:               Level(f.Advisory.Severity),
		Message:             Message{Text: message(f)},
		Locations:           locs,
		PartialFingerprints: map[string]string{FingerprintKey: Fingerprint(f.Advisory.ID, p, locs[0].PhysicalLocation.ArtifactLocation.URI)},
		Properties: ResultProperties{
			PURL: p.PURL, Package: p.Name, InstalledVersion: p.Version, FixedVersion: f.FixedVersion,
			Remediation: remediation, Priority: f.Priority.Score, Severity: f.Advisory.Severity.String(),
			KEV: f.KEV.Listed, EPSS: f.EPSS.Score,
		},
	}
}

// locations are the package's locations as URIs relative to the scanned
// root. GitHub rejects a result without a location: a package found
// nowhere in particular is placed at its database file, else at the
// target.
func locations(t report.Target, p inventory.Package) []Location {
	var out []Location
	add := func(path string) {
		uri := report.RelativeURI(path)
		if uri == "" {
			return
		}
		for _, l := range out {
			if l.PhysicalLocation.ArtifactLocation.URI == uri {
				return
			}
		}
		out = append(out, Location{PhysicalLocation: PhysicalLocation{
			ArtifactLocation: ArtifactLocation{URI: uri, URIBaseID: rootBase},
			Region:           &Region{StartLine: 1},
		}})
	}
	for _, l := range p.Locations {
		add(l)
	}
	if len(out) == 0 {
		add(p.Source)
	}
	if len(out) == 0 {
		name := t.Name
		if t.Type != "image" {
			name = "" // the root itself has no relative URI
		}
		add(name)
	}
	if len(out) == 0 {
		out = append(out, Location{PhysicalLocation: PhysicalLocation{
			ArtifactLocation: ArtifactLocation{URI: ".", URIBaseID: rootBase},
		}})
	}
	return out
}

// Fingerprint identifies a finding across runs: the same advisory on the
// same package (type, ecosystem, name, version, arch) at the same primary
// location gives the same value.
func Fingerprint(advisoryID string, p inventory.Package, primaryURI string) string {
	h := sha256.New()
	for _, s := range []string{advisoryID, p.Type, p.Ecosystem, p.Name, p.Version, p.Arch, primaryURI} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}
