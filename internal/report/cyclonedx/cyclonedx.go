// Package cyclonedx writes `vigil scan` results as a CycloneDX 1.6 JSON
// BOM (https://cyclonedx.org/docs/1.6/json/): the packages as components
// and the findings as its vulnerabilities section, a VEX-style BOM that
// Dependency-Track and other tools import.
package cyclonedx

import (
	"cmp"
	"crypto/rand"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/vigilsec/vigil/internal/finding"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/report"
	"github.com/vigilsec/vigil/internal/severity"
)

// SpecVersion is the CycloneDX version written.
const SpecVersion = cdx.SpecVersion1_6

// Property names Vigil adds, in its own namespace as CycloneDX's property
// taxonomy asks.
const (
	PropEcosystem     = "vigil:package:ecosystem"
	PropSourceName    = "vigil:package:source_name"
	PropSourceVersion = "vigil:package:source_version"
	PropPriority      = "vigil:priority"
	PropKEV           = "vigil:kev:cve"    // the CVE that CISA KEV lists
	PropEPSS          = "vigil:epss:score" // EPSS probability, 0 to 1
	PropTargetType    = "vigil:target:type"
)

// Write writes the packages and findings of a scan of t as one CycloneDX
// 1.6 JSON BOM. toolVersion is Vigil's version.
func Write(w io.Writer, t report.Target, pkgs []inventory.Package, findings []finding.Finding, toolVersion string) error {
	serial, err := newSerial()
	if err != nil {
		return err
	}
	return encode(w, Build(t, pkgs, findings, toolVersion, time.Now(), serial))
}

func encode(w io.Writer, bom *cdx.BOM) error {
	enc := cdx.NewBOMEncoder(w, cdx.BOMFileFormatJSON)
	enc.SetPretty(true).SetEscapeHTML(false)
	if err := enc.EncodeVersion(bom, SpecVersion); err != nil {
		return fmt.Errorf("write cyclonedx: %w", err)
	}
	return nil
}

// newSerial returns a random (version 4) UUID URN.
func newSerial() (string, error) {
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		return "", fmt.Errorf("bom serial number: %w", err)
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16]), nil
}

// pkgKey is what scan.Dedupe merges packages by.
type pkgKey struct{ typ, eco, name, version, arch string }

func keyOf(p inventory.Package) pkgKey {
	return pkgKey{p.Type, p.Ecosystem, p.Name, p.Version, p.Arch}
}

// Build returns the BOM Write writes, made at now with the given serial
// number ("urn:uuid:...").
func Build(t report.Target, pkgs []inventory.Package, findings []finding.Finding, toolVersion string, now time.Time, serial string) *cdx.BOM {
	bom := cdx.NewBOM()
	bom.SpecVersion = SpecVersion
	bom.JSONSchema = "http://cyclonedx.org/schema/bom-1.6.schema.json"
	bom.XMLNS = "http://cyclonedx.org/schema/bom/1.6"
	bom.SerialNumber = serial
	bom.Metadata = &cdx.Metadata{
		Timestamp: now.UTC().Format(time.RFC3339),
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{
			Type: cdx.ComponentTypeApplication, Name: "vigil", Version: toolVersion,
			ExternalReferences: &[]cdx.ExternalReference{{Type: cdx.ERTypeWebsite, URL: "https://github.com/vigilsec/vigil"}},
		}}},
		Component: targetComponent(t),
	}

	b := builder{refs: map[pkgKey]string{}, used: map[string]bool{"target": true}}
	var comps []cdx.Component
	if t.OS != nil && t.OS.ID != "" {
		comps = append(comps, osComponent(t.OS, b.unique("os:"+t.OS.ID+"@"+t.OS.VersionID)))
	}
	for _, p := range pkgs {
		if c, ok := b.component(p); ok {
			comps = append(comps, c)
		}
	}
	// A finding's package is one of pkgs; should it not be, it still gets
	// a component, so that every "affects" refers to one.
	for _, f := range findings {
		if c, ok := b.component(f.Target.Package); ok {
			comps = append(comps, c)
		}
	}
	bom.Components = &comps

	vulns := vulnerabilities(findings, b.refs)
	if len(vulns) > 0 {
		bom.Vulnerabilities = &vulns
	}
	return bom
}

func targetComponent(t report.Target) *cdx.Component {
	typ := cdx.ComponentTypePlatform // a host or a mounted root tree
	switch t.Type {
	case "image":
		typ = cdx.ComponentTypeContainer
	case "dir":
		typ = cdx.ComponentTypeApplication
	}
	return &cdx.Component{BOMRef: "target", Type: typ, Name: t.Name,
		Properties: &[]cdx.Property{{Name: PropTargetType, Value: t.Type}}}
}

func osComponent(o *inventory.OSRelease, ref string) cdx.Component {
	return cdx.Component{BOMRef: ref, Type: cdx.ComponentTypeOS, Name: o.ID, Version: o.VersionID, Description: o.PrettyName}
}

type builder struct {
	refs map[pkgKey]string // package -> bom-ref
	used map[string]bool   // bom-refs given out
}

// unique returns ref, or ref with a "#n" suffix when it is taken: bom-refs
// must be unique within a BOM.
func (b *builder) unique(ref string) string {
	r := ref
	for n := 2; b.used[r]; n++ {
		r = fmt.Sprintf("%s#%d", ref, n)
	}
	b.used[r] = true
	return r
}

// component makes p's component, false when p already has one.
func (b *builder) component(p inventory.Package) (cdx.Component, bool) {
	k := keyOf(p)
	if _, ok := b.refs[k]; ok {
		return cdx.Component{}, false
	}
	ref := p.PURL
	if ref == "" {
		ref = "vigil:" + cmp.Or(p.Type, "unknown") + "/" + p.Name + "@" + p.Version
	}
	ref = b.unique(ref)
	b.refs[k] = ref
	c := cdx.Component{BOMRef: ref, Type: cdx.ComponentTypeLibrary, Name: p.Name, Version: p.Version, PackageURL: p.PURL}
	var props []cdx.Property
	add := func(name, value string) {
		if value != "" {
			props = append(props, cdx.Property{Name: name, Value: value})
		}
	}
	add(PropEcosystem, p.Ecosystem)
	add(PropSourceName, p.SourceName)
	add(PropSourceVersion, p.SourceVersion)
	if len(props) > 0 {
		c.Properties = &props
	}
	if len(p.Locations) > 0 {
		occ := make([]cdx.EvidenceOccurrence, 0, len(p.Locations))
		for _, l := range p.Locations {
			occ = append(occ, cdx.EvidenceOccurrence{Location: l})
		}
		c.Evidence = &cdx.Evidence{Occurrences: &occ}
	}
	return c, true
}

// vulnerabilities makes one vulnerability per advisory, in the order the
// findings are (highest priority first), affecting every component it was
// found on.
func vulnerabilities(findings []finding.Finding, refs map[pkgKey]string) []cdx.Vulnerability {
	var out []cdx.Vulnerability
	idx := map[string]int{}
	var recs [][]string
	var prio []float64
	for _, f := range findings {
		a := f.Advisory
		i, ok := idx[a.ID]
		if !ok {
			i = len(out)
			idx[a.ID] = i
			out = append(out, vulnerability(f))
			recs = append(recs, nil)
			prio = append(prio, f.Priority.Score)
		}
		v := &out[i]
		p := f.Target.Package
		*v.Affects = append(*v.Affects, cdx.Affects{Ref: refs[keyOf(p)],
			Range: &[]cdx.AffectedVersions{{Version: p.Version, Status: cdx.VulnerabilityStatusAffected}}})
		if r := recommendation(f); r != "" && !slices.Contains(recs[i], r) {
			recs[i] = append(recs[i], r)
		}
		prio[i] = max(prio[i], f.Priority.Score)
	}
	for i := range out {
		out[i].Recommendation = strings.Join(recs[i], "\n")
		// The highest priority among the packages it affects.
		props := append([]cdx.Property{{Name: PropPriority, Value: fmt.Sprintf("%.1f", prio[i])}}, *out[i].Properties...)
		out[i].Properties = &props
	}
	return out
}

func vulnerability(f finding.Finding) cdx.Vulnerability {
	a := f.Advisory
	v := cdx.Vulnerability{
		BOMRef:      a.ID,
		ID:          a.ID,
		Source:      &cdx.Source{Name: "OSV", URL: "https://osv.dev/vulnerability/" + a.ID},
		Ratings:     &[]cdx.VulnerabilityRating{Rating(a)},
		Description: a.Summary,
		Detail:      a.Details,
		Affects:     &[]cdx.Affects{},
		Properties:  &[]cdx.Property{},
	}
	if !a.Published.IsZero() {
		v.Published = a.Published.UTC().Format(time.RFC3339)
	}
	if !a.Modified.IsZero() {
		v.Updated = a.Modified.UTC().Format(time.RFC3339)
	}
	if len(a.Aliases) > 0 {
		refs := make([]cdx.VulnerabilityReference, 0, len(a.Aliases))
		for _, al := range a.Aliases {
			refs = append(refs, cdx.VulnerabilityReference{ID: al, Source: aliasSource(al)})
		}
		v.References = &refs
	}
	if len(a.References) > 0 {
		adv := make([]cdx.Advisory, 0, len(a.References))
		for _, r := range a.References {
			adv = append(adv, cdx.Advisory{URL: r})
		}
		v.Advisories = &adv
	}
	if f.KEV.Listed {
		*v.Properties = append(*v.Properties, cdx.Property{Name: PropKEV, Value: f.KEV.CVE})
	}
	if f.EPSS.Scored() {
		*v.Properties = append(*v.Properties, cdx.Property{Name: PropEPSS, Value: strconv.FormatFloat(f.EPSS.Score, 'f', -1, 64)})
	}
	return v
}

// aliasSource names the database an alias ID belongs to.
func aliasSource(id string) *cdx.Source {
	switch {
	case strings.HasPrefix(id, "CVE-"):
		return &cdx.Source{Name: "NVD", URL: "https://nvd.nist.gov/vuln/detail/" + id}
	case strings.HasPrefix(id, "GHSA-"):
		return &cdx.Source{Name: "GitHub", URL: "https://github.com/advisories/" + id}
	}
	return &cdx.Source{Name: "OSV", URL: "https://osv.dev/vulnerability/" + id}
}

// Rating is the CycloneDX rating of an advisory: its CVSS vector, score
// and severity, or only its severity (method "other", as cyclonedx-go
// writes a rating without a method) when it has no vector.
func Rating(a finding.Advisory) cdx.VulnerabilityRating {
	r := cdx.VulnerabilityRating{Severity: Severity(a.Severity), Method: cdx.ScoringMethodOther}
	if a.CVSS.Vector == "" {
		return r
	}
	score := a.CVSS.Score
	r.Score = &score
	r.Vector = a.CVSS.Vector
	switch a.CVSS.Version {
	case "2.0":
		r.Method = cdx.ScoringMethodCVSSv2
	case "3.0":
		r.Method = cdx.ScoringMethodCVSSv3
	case "3.1":
		r.Method = cdx.ScoringMethodCVSSv31
	case "4.0":
		r.Method = cdx.ScoringMethodCVSSv4
	default:
		r.Method = cdx.ScoringMethodOther
	}
	return r
}

// Severity is the CycloneDX severity of a level.
func Severity(l severity.Level) cdx.Severity {
	switch l {
	case severity.Critical:
		return cdx.SeverityCritical
	case severity.High:
		return cdx.SeverityHigh
	case severity.Medium:
		return cdx.SeverityMedium
	case severity.Low:
		return cdx.SeverityLow
	case severity.Info:
		return cdx.SeverityInfo
	}
	return cdx.SeverityUnknown
}

// recommendation says how to fix one finding: the command, or what to do.
func recommendation(f finding.Finding) string {
	p := f.Target.Package
	r := f.Remediation
	switch {
	case f.FixedVersion == "":
		return fmt.Sprintf("%s %s: %s", p.Name, p.Version, cmp.Or(r.Note, "no fixed version published"))
	case r.Command != "":
		return fmt.Sprintf("%s %s: upgrade to %s: %s", p.Name, p.Version, f.FixedVersion, r.Command)
	case r.Note != "":
		return fmt.Sprintf("%s %s: upgrade to %s: %s", p.Name, p.Version, f.FixedVersion, r.Note)
	}
	return fmt.Sprintf("%s %s: upgrade to %s", p.Name, p.Version, f.FixedVersion)
}
