// Package ocsf converts Vigil's alerts and vulnerability findings to OCSF
// (Open Cybersecurity Schema Framework) 1.3 JSON, the form in which they
// leave Vigil for a SIEM:
//
//   - a runtime alert (internal/alert) becomes a Detection Finding
//     (class_uid 2004) with the host and security_control profiles;
//   - a vulnerability finding (internal/finding) becomes a Vulnerability
//     Finding (class_uid 2002).
//
// Authentication alerts (brute force, abnormal login) are Detection
// Findings too, not Authentication (3002) events: an alert is a judgement
// over one or many events, with a rule, ATT&CK IDs and a response, which
// is what a Finding carries; Authentication is the class of a single logon
// activity. The source address and account of such an alert go into the
// finding's evidences (src_endpoint, user). docs/exporters.md has the full
// field mapping.
//
// The types here are the OCSF edge, written by hand: no Go OCSF binding is
// well kept, and the two classes need a few dozen fields.
package ocsf

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/finding"
	"github.com/vigilsec/vigil/internal/severity"
)

// SchemaVersion is the OCSF schema version the payloads follow.
const SchemaVersion = "1.3.0"

// Class UIDs of the classes Vigil emits.
const (
	ClassVulnerabilityFinding = 2002
	ClassDetectionFinding     = 2004
)

const (
	categoryFindings = 2
	activityCreate   = 1
	maxLineage       = 64 // bounds the parent_process chain
)

// Options are the fixed parts of every payload.
type Options struct {
	// ProductVersion is the Vigil version reported in metadata.product.
	ProductVersion string
	// OmitRawData leaves out raw_data, the alert's own JSON, to make
	// payloads smaller.
	OmitRawData bool
}

// Event is one OCSF event of either class. Fields a class does not use
// stay empty and are omitted.
type Event struct {
	ActivityID   int    `json:"activity_id"`
	ActivityName string `json:"activity_name"`
	CategoryUID  int    `json:"category_uid"`
	CategoryName string `json:"category_name"`
	ClassUID     int    `json:"class_uid"`
	ClassName    string `json:"class_name"`
	TypeUID      int    `json:"type_uid"`
	TypeName     string `json:"type_name"`
	Time         int64  `json:"time"` // ms since the epoch
	SeverityID   int    `json:"severity_id"`
	Severity     string `json:"severity"`
	StatusID     int    `json:"status_id"`
	Status       string `json:"status"`
	Message      string `json:"message,omitempty"`
	Count        int    `json:"count,omitempty"`
	IsAlert      bool   `json:"is_alert,omitempty"`

	Metadata    Metadata    `json:"metadata"`
	FindingInfo FindingInfo `json:"finding_info"`
	Device      *Device     `json:"device,omitempty"`

	// Detection Finding (with the security_control profile).
	Attacks       []Attack   `json:"attacks,omitempty"`
	ActionID      *int       `json:"action_id,omitempty"`
	Action        string     `json:"action,omitempty"`
	DispositionID *int       `json:"disposition_id,omitempty"`
	Disposition   string     `json:"disposition,omitempty"`
	Evidences     []Evidence `json:"evidences,omitempty"`

	// Vulnerability Finding.
	Vulnerabilities []Vulnerability `json:"vulnerabilities,omitempty"`

	RawData  string         `json:"raw_data,omitempty"`
	Unmapped map[string]any `json:"unmapped,omitempty"`
}

// Metadata is the OCSF metadata object.
type Metadata struct {
	UID      string   `json:"uid,omitempty"`
	Version  string   `json:"version"`
	Product  Product  `json:"product"`
	Profiles []string `json:"profiles,omitempty"`
}

// Product names the reporting product.
type Product struct {
	Name       string `json:"name"`
	VendorName string `json:"vendor_name"`
	Version    string `json:"version,omitempty"`
}

// FindingInfo is the OCSF finding_info object.
type FindingInfo struct {
	UID         string    `json:"uid"`
	Title       string    `json:"title,omitempty"`
	Desc        string    `json:"desc,omitempty"`
	Types       []string  `json:"types,omitempty"`
	Analytic    *Analytic `json:"analytic,omitempty"`
	Attacks     []Attack  `json:"attacks,omitempty"`
	CreatedTime int64     `json:"created_time,omitempty"`
	FirstSeen   int64     `json:"first_seen_time,omitempty"`
	LastSeen    int64     `json:"last_seen_time,omitempty"`
}

// Analytic is the rule behind a finding.
type Analytic struct {
	UID     string `json:"uid"`
	Name    string `json:"name,omitempty"`
	TypeID  int    `json:"type_id"`
	Type    string `json:"type"`
	Version string `json:"version,omitempty"`
}

// Attack is one ATT&CK tactic/technique entry.
type Attack struct {
	Tactic       *Ref   `json:"tactic,omitempty"`
	Technique    *Ref   `json:"technique,omitempty"`
	SubTechnique *Ref   `json:"sub_technique,omitempty"`
	Version      string `json:"version,omitempty"`
}

// Ref is a uid and its name.
type Ref struct {
	UID  string `json:"uid"`
	Name string `json:"name,omitempty"`
}

// Device is the host an event is about.
type Device struct {
	Hostname string `json:"hostname,omitempty"`
	Name     string `json:"name,omitempty"`
	TypeID   int    `json:"type_id"`
	Type     string `json:"type"`
}

// Process is the OCSF process object.
type Process struct {
	PID           int        `json:"pid,omitempty"`
	UID           string     `json:"uid,omitempty"` // Vigil's exec ID
	Name          string     `json:"name,omitempty"`
	CmdLine       string     `json:"cmd_line,omitempty"`
	File          *File      `json:"file,omitempty"`
	User          *User      `json:"user,omitempty"`
	ParentProcess *Process   `json:"parent_process,omitempty"`
	Lineage       []string   `json:"lineage,omitempty"`
	Container     *Container `json:"container,omitempty"`
}

// File is the OCSF file object.
type File struct {
	Name   string `json:"name"`
	Path   string `json:"path,omitempty"`
	TypeID int    `json:"type_id"`
	Type   string `json:"type,omitempty"`
}

// User is the OCSF user object.
type User struct {
	Name string `json:"name,omitempty"`
	UID  string `json:"uid,omitempty"`
}

// Container is the OCSF container object.
type Container struct {
	UID     string `json:"uid,omitempty"`
	Name    string `json:"name,omitempty"`
	Image   *Image `json:"image,omitempty"`
	Runtime string `json:"runtime,omitempty"`
}

// Image is a container image.
type Image struct {
	Name string `json:"name"`
}

// Endpoint is a network endpoint.
type Endpoint struct {
	IP   string `json:"ip,omitempty"`
	Port int    `json:"port,omitempty"`
}

// Evidence is one OCSF evidence artifacts object.
type Evidence struct {
	Process     *Process       `json:"process,omitempty"`
	File        *File          `json:"file,omitempty"`
	User        *User          `json:"user,omitempty"`
	SrcEndpoint *Endpoint      `json:"src_endpoint,omitempty"`
	DstEndpoint *Endpoint      `json:"dst_endpoint,omitempty"`
	Container   *Container     `json:"container,omitempty"`
	Data        map[string]any `json:"data,omitempty"`
}

// Vulnerability is the OCSF vulnerability details object.
type Vulnerability struct {
	Title              string        `json:"title,omitempty"`
	Desc               string        `json:"desc,omitempty"`
	Severity           string        `json:"severity,omitempty"`
	CVE                *CVE          `json:"cve,omitempty"`
	AffectedPackages   []AffectedPkg `json:"affected_packages,omitempty"`
	IsFixAvailable     bool          `json:"is_fix_available"`
	IsExploitAvailable bool          `json:"is_exploit_available,omitempty"`
	References         []string      `json:"references,omitempty"`
	RelatedVulns       []string      `json:"related_vulnerabilities,omitempty"`
	Remediation        *Remediation  `json:"remediation,omitempty"`
	VendorName         string        `json:"vendor_name,omitempty"`
	FirstSeen          int64         `json:"first_seen_time,omitempty"`
	LastSeen           int64         `json:"last_seen_time,omitempty"`
}

// CVE is the OCSF cve object. UID holds the advisory's CVE ID, or its OSV
// ID when it has no CVE alias.
type CVE struct {
	UID          string `json:"uid"`
	Title        string `json:"title,omitempty"`
	Desc         string `json:"desc,omitempty"`
	CreatedTime  int64  `json:"created_time,omitempty"`
	ModifiedTime int64  `json:"modified_time,omitempty"`
	CVSS         []CVSS `json:"cvss,omitempty"`
	EPSS         *EPSS  `json:"epss,omitempty"`
}

// CVSS is one CVSS score.
type CVSS struct {
	Version      string  `json:"version"`
	VectorString string  `json:"vector_string,omitempty"`
	BaseScore    float64 `json:"base_score"`
}

// EPSS is the OCSF EPSS object; OCSF types the score as a string.
type EPSS struct {
	Score       string  `json:"score"`
	Percentile  float64 `json:"percentile"`
	CreatedTime int64   `json:"created_time,omitempty"`
}

// AffectedPkg is the OCSF affected package object.
type AffectedPkg struct {
	Name           string `json:"name"`
	Version        string `json:"version"`
	PURL           string `json:"purl,omitempty"`
	PackageManager string `json:"package_manager,omitempty"`
	Type           string `json:"type,omitempty"`
	Path           string `json:"path,omitempty"`
	FixedInVersion string `json:"fixed_in_version,omitempty"`
}

// Remediation is the OCSF remediation object.
type Remediation struct {
	Desc string `json:"desc"`
}

// SeverityID maps a Vigil severity to OCSF's severity_id and caption.
func SeverityID(l severity.Level) (int, string) {
	switch l {
	case severity.Info:
		return 1, "Informational"
	case severity.Low:
		return 2, "Low"
	case severity.Medium:
		return 3, "Medium"
	case severity.High:
		return 4, "High"
	case severity.Critical:
		return 5, "Critical"
	}
	return 0, "Unknown"
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func product(o Options) Product {
	return Product{Name: "Vigil", VendorName: "Vigil project", Version: o.ProductVersion}
}

// FromAlert maps a runtime alert to a Detection Finding.
func FromAlert(a *alert.Alert, o Options) (*Event, error) {
	if a == nil {
		return nil, fmt.Errorf("map alert: nil alert")
	}
	if a.ID == "" {
		return nil, fmt.Errorf("map alert: empty id")
	}
	sevID, sev := SeverityID(a.Severity)
	t := ms(a.Time)
	e := &Event{
		ActivityID: activityCreate, ActivityName: "Create",
		CategoryUID: categoryFindings, CategoryName: "Findings",
		ClassUID: ClassDetectionFinding, ClassName: "Detection Finding",
		TypeUID: ClassDetectionFinding*100 + activityCreate, TypeName: "Detection Finding: Create",
		Time:       t,
		SeverityID: sevID, Severity: sev,
		StatusID: 1, Status: "New",
		Message: a.Rule.Title,
		Count:   a.Count,
		IsAlert: true,
		Metadata: Metadata{
			UID: a.ID, Version: SchemaVersion, Product: product(o),
			Profiles: []string{"host", "security_control"},
		},
		FindingInfo: FindingInfo{
			UID:   a.ID,
			Title: a.Rule.Title,
			Types: alertTypes(a),
			Analytic: &Analytic{
				UID: a.Rule.ID, Name: a.Rule.Title, TypeID: 1, Type: "Rule",
				Version: strconv.Itoa(a.Rule.Version),
			},
			CreatedTime: t,
			FirstSeen:   t,
			LastSeen:    t,
		},
	}
	if a.Host != "" {
		e.Device = &Device{Hostname: a.Host, Name: a.Host, TypeID: 1, Type: "Server"}
	}
	e.FindingInfo.Attacks = attacks(a.Attack.Tactics, a.Attack.Techniques)
	// The security_control profile carries attacks at the event level too;
	// OCSF asks producers to duplicate them into finding_info.
	e.Attacks = e.FindingInfo.Attacks
	if len(e.Attacks) == 0 {
		e.Attacks, e.FindingInfo.Attacks = nil, nil
	}
	actID, act, dispID, disp := disposition(a.Response)
	e.ActionID, e.Action, e.DispositionID, e.Disposition = &actID, act, &dispID, disp

	var cont *Container
	if c := a.Container; c != nil {
		cont = &Container{UID: c.ID, Name: c.Name, Runtime: c.Runtime}
		if c.Image != "" {
			cont.Image = &Image{Name: c.Image}
		}
	}
	// The acting process goes into the evidence rather than also into the
	// host profile's actor, so payloads carry the lineage once.
	proc := process(a.Process, cont)
	ev := evidence(a.Evidence)
	ev.Process = proc
	if proc == nil {
		ev.Container = cont
	}
	e.Evidences = []Evidence{ev}

	e.Unmapped = map[string]any{
		"response": map[string]any{"action": a.Response.Action, "result": a.Response.Result},
	}
	if !o.OmitRawData {
		raw, err := json.Marshal(a)
		if err != nil {
			return nil, fmt.Errorf("map alert %q: raw data: %w", a.ID, err)
		}
		e.RawData = string(raw)
	}
	return e, nil
}

// alertTypes names the kind of finding from the rule ID's second part
// (VGL-ACCOUNT-…, VGL-NET-…) — the rules' own grouping.
func alertTypes(a *alert.Alert) []string {
	types := []string{"Runtime Detection"}
	parts := strings.SplitN(a.Rule.ID, "-", 3)
	if len(parts) == 3 && parts[0] == "VGL" && parts[1] != "" {
		types = append(types, strings.ToLower(parts[1]))
	}
	return types
}

// disposition maps the response to the security_control profile's
// action_id/disposition_id. A failed or skipped response is only observed.
func disposition(r alert.Response) (actID int, act string, dispID int, disp string) {
	ok := r.Result == "ok"
	switch {
	case r.Action == "" || r.Action == "none" || r.Result == "alert_only" || !ok:
		return 3, "Observed", 15, "Detected"
	case r.Action == "quarantine":
		return 2, "Denied", 3, "Quarantined"
	case r.Action == "deny_exec" || r.Action == "block_connect" || r.Action == "block_ip":
		return 2, "Denied", 2, "Blocked"
	case r.Action == "kill" || r.Action == "kill_tree":
		return 2, "Denied", 7, "Custom Action"
	}
	return 99, "Other", 99, r.Action
}

func process(p *alert.Process, c *Container) *Process {
	if p == nil {
		return nil
	}
	out := &Process{
		PID: p.PID, UID: p.ExecID, CmdLine: p.Cmdline, Container: c,
		User: &User{Name: p.User, UID: strconv.FormatUint(uint64(p.UID), 10)},
	}
	if p.Exe != "" {
		out.Name = path.Base(p.Exe)
		out.File = &File{Name: path.Base(p.Exe), Path: p.Exe, TypeID: 1, Type: "Regular File"}
	}
	anc := p.Ancestors
	if len(anc) > maxLineage {
		anc = anc[:maxLineage]
	}
	cur := out
	for i := range anc {
		pp := ancestor(&anc[i])
		cur.ParentProcess = pp
		cur = pp
		out.Lineage = append(out.Lineage, lineageName(&anc[i]))
	}
	return out
}

func lineageName(a *event.Ancestor) string {
	switch {
	case a.Exe != "":
		return a.Exe
	case a.Name != "":
		return a.Name
	}
	return "pid " + strconv.Itoa(a.PID)
}

func ancestor(a *event.Ancestor) *Process {
	p := &Process{PID: a.PID, UID: a.ExecID, CmdLine: a.Cmdline, Name: a.Name,
		User: &User{Name: a.User, UID: strconv.FormatUint(uint64(a.UID), 10)}}
	if a.Exe != "" {
		if p.Name == "" {
			p.Name = path.Base(a.Exe)
		}
		p.File = &File{Name: path.Base(a.Exe), Path: a.Exe, TypeID: 1, Type: "Regular File"}
	}
	return p
}

// evidence keeps the rule's evidence map as data and lifts the keys rules
// name consistently (path, user, src_ip/src_port, dst_ip/dst_port) into
// OCSF objects, so a SIEM can search them without knowing our keys.
func evidence(m map[string]any) Evidence {
	ev := Evidence{Data: m}
	if p, ok := m["path"].(string); ok && p != "" {
		ev.File = &File{Name: path.Base(p), Path: p, TypeID: 0, Type: "Unknown"}
	}
	if u, ok := m["user"].(string); ok && u != "" {
		ev.User = &User{Name: u}
	}
	if ep := endpoint(m, "src_ip", "src_port"); ep != nil {
		ev.SrcEndpoint = ep
	}
	if ep := endpoint(m, "dst_ip", "dst_port"); ep != nil {
		ev.DstEndpoint = ep
	}
	return ev
}

func endpoint(m map[string]any, ipKey, portKey string) *Endpoint {
	ip, _ := m[ipKey].(string)
	if ip == "" {
		return nil
	}
	ep := &Endpoint{IP: ip}
	switch v := m[portKey].(type) {
	case float64:
		if v > 0 && v < 65536 && v == float64(int(v)) {
			ep.Port = int(v)
		}
	case int:
		if v > 0 && v < 65536 {
			ep.Port = v
		}
	case int64:
		if v > 0 && v < 65536 {
			ep.Port = int(v)
		}
	case string:
		if n, err := strconv.Atoi(v); err == nil && n > 0 && n < 65536 {
			ep.Port = n
		}
	}
	return ep
}

// FindingUID is the stable ID of a vulnerability finding: the same
// advisory on the same package at the same place on the same host always
// gets the same ID, so a SIEM can update rather than duplicate it.
func FindingUID(f *finding.Finding) string {
	p := f.Target.Package
	h := sha256.New()
	locs := append([]string(nil), p.Locations...)
	sort.Strings(locs)
	for _, s := range []string{f.Advisory.ID, f.Target.Host, f.Target.Path, p.Ecosystem, p.Name, p.Version, strings.Join(locs, "\x00")} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return "vuln-" + hex.EncodeToString(h.Sum(nil)[:16])
}

// FromFinding maps a vulnerability finding, seen at the given time, to a
// Vulnerability Finding.
func FromFinding(f *finding.Finding, seen time.Time, o Options) (*Event, error) {
	if f == nil {
		return nil, fmt.Errorf("map finding: nil finding")
	}
	if f.Advisory.ID == "" {
		return nil, fmt.Errorf("map finding: empty advisory id")
	}
	sevID, sev := SeverityID(f.Advisory.Severity)
	t := ms(seen)
	adv := f.Advisory
	pkg := f.Target.Package
	title := adv.Summary
	if title == "" {
		title = adv.ID
	}
	e := &Event{
		ActivityID: activityCreate, ActivityName: "Create",
		CategoryUID: categoryFindings, CategoryName: "Findings",
		ClassUID: ClassVulnerabilityFinding, ClassName: "Vulnerability Finding",
		TypeUID: ClassVulnerabilityFinding*100 + activityCreate, TypeName: "Vulnerability Finding: Create",
		Time:       t,
		SeverityID: sevID, Severity: sev,
		StatusID: 1, Status: "New",
		Message:  fmt.Sprintf("%s in %s %s", adv.ID, pkg.Name, pkg.Version),
		Metadata: Metadata{Version: SchemaVersion, Product: product(o), Profiles: []string{"host"}},
		FindingInfo: FindingInfo{
			UID: FindingUID(f), Title: title, Desc: adv.Details,
			Types:       []string{"Vulnerability"},
			CreatedTime: t, FirstSeen: t, LastSeen: t,
		},
	}
	e.Metadata.UID = e.FindingInfo.UID
	if f.Source.Plugin != "" {
		e.FindingInfo.Analytic = &Analytic{UID: f.Source.Plugin, Name: f.Source.Plugin, TypeID: 1, Type: "Rule", Version: strconv.Itoa(f.Source.Version)}
	}
	if f.Target.Host != "" {
		e.Device = &Device{Hostname: f.Target.Host, Name: f.Target.Host, TypeID: 1, Type: "Server"}
	}

	cve := &CVE{UID: adv.ID, Title: adv.Summary, Desc: adv.Details, CreatedTime: ms(adv.Published), ModifiedTime: ms(adv.Modified)}
	var related []string
	for _, al := range adv.Aliases {
		if strings.HasPrefix(al, "CVE-") && cve.UID == adv.ID && !strings.HasPrefix(adv.ID, "CVE-") {
			cve.UID = al
			related = append(related, adv.ID)
			continue
		}
		related = append(related, al)
	}
	if c := adv.CVSS; c.Vector != "" {
		cve.CVSS = []CVSS{{Version: c.Version, VectorString: c.Vector, BaseScore: c.Score}}
	}
	if f.EPSS.Scored() {
		cve.EPSS = &EPSS{Score: strconv.FormatFloat(f.EPSS.Score, 'f', -1, 64), Percentile: f.EPSS.Percentile, CreatedTime: ms(f.EPSS.Date)}
	}
	fixed := f.FixedVersion
	if fixed == "" {
		fixed = f.Remediation.FixedVersion
	}
	v := Vulnerability{
		Title: title, Desc: adv.Details, Severity: sev, CVE: cve,
		IsFixAvailable:     fixed != "",
		IsExploitAvailable: f.KEV.Listed,
		References:         adv.References,
		RelatedVulns:       related,
		VendorName:         "OSV",
		FirstSeen:          t, LastSeen: t,
	}
	locs := pkg.Locations
	if len(locs) == 0 {
		locs = []string{""}
	}
	for _, l := range locs {
		v.AffectedPackages = append(v.AffectedPackages, AffectedPkg{
			Name: pkg.Name, Version: pkg.Version, PURL: pkg.PURL, PackageManager: pkg.Ecosystem,
			Type: pkg.Type, Path: l, FixedInVersion: fixed,
		})
	}
	if desc := remediationText(f.Remediation); desc != "" {
		v.Remediation = &Remediation{Desc: desc}
	}
	e.Vulnerabilities = []Vulnerability{v}

	j := finding.ToJSON(*f)
	e.Unmapped = map[string]any{"priority": j.Priority, "kev": j.KEV, "remediation": j.Remediation}
	if !o.OmitRawData {
		raw, err := json.Marshal(j)
		if err != nil {
			return nil, fmt.Errorf("map finding %q: raw data: %w", adv.ID, err)
		}
		e.RawData = string(raw)
	}
	return e, nil
}

func remediationText(r finding.Remediation) string {
	var parts []string
	if r.Command != "" {
		parts = append(parts, "Run: "+r.Command)
	} else if r.FixedVersion != "" {
		parts = append(parts, "Upgrade to "+r.FixedVersion)
	}
	if r.Note != "" {
		parts = append(parts, r.Note)
	}
	return strings.Join(parts, ". ")
}

// Alert maps and marshals an alert.
func Alert(a *alert.Alert, o Options) ([]byte, error) {
	e, err := FromAlert(a, o)
	if err != nil {
		return nil, err
	}
	return json.Marshal(e)
}

// Finding maps and marshals a vulnerability finding seen at the given time.
func Finding(f *finding.Finding, seen time.Time, o Options) ([]byte, error) {
	e, err := FromFinding(f, seen, o)
	if err != nil {
		return nil, err
	}
	return json.Marshal(e)
}
