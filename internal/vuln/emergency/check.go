// Package emergency evaluates emergency vulnerability checks: YAML files a
// security team writes for a fresh critical vulnerability before OSV has a
// record of it (`vigil scan host --check FILE`).
//
// A check names the vulnerability (id, title, aliases, severity,
// references), what is affected, optional conditions, and what to do:
//
//	id: VIGIL-EMERGENCY-2024-6387
//	title: OpenSSH regreSSHion (signal handler race in sshd)
//	aliases: [CVE-2024-6387]
//	severity: critical
//	published: 2024-07-01
//	references: [https://www.qualys.com/2024/07/01/cve-2024-6387/regresshion.txt]
//	affected:
//	  - ecosystem: Debian:12
//	    source: openssh
//	    ranges: [{introduced: "0", fixed: "1:9.2p1-2+deb12u3"}]
//	conditions:
//	  - process_listening: {exe_suffix: /sshd}
//	remediation: Upgrade openssh-server and restart sshd.
//
// Each entry of affected is one way to be affected, and any of them flags:
//
//   - A package rule (ecosystem plus package, or source for the source
//     package name) with OSV-style ranges and/or versions, evaluated by
//     internal/vuln/match under the ecosystem's version ordering. An
//     ecosystem with a release ("Debian:12") matches packages of that
//     release only; a base ecosystem ("Debian", "Maven") any release.
//     Every package in range gives one finding, with the fixed version and
//     the upgrade command.
//   - An archive rule (archive_contains: a path glob and an entry name):
//     every Java archive (jar, war, ear, and archives nested in them, to a
//     bounded depth) under the root whose glob matches and that holds the
//     entry gives one finding. This finds shaded or renamed jars that carry
//     no package metadata. When the rule names the package the entry
//     belongs to (ecosystem and package), an archive whose own metadata
//     gives that package's version is judged by the version instead: by the
//     package rules of the check, so that a fixed version is not flagged.
//
// Conditions must all hold for the check to report anything. They are
// process_listening, process_running (live host only), file_exists,
// file_contains, archive_contains, and the combinators any (one of a list)
// and not. A condition that cannot be evaluated (a process condition on an
// offline root) does not suppress findings: it is reported as not checked,
// so that a responder never misses a vulnerable package for want of data.
//
// Parsing is strict: unknown keys, missing fields, invalid versions and
// globs are errors naming the file and line.
package emergency

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vigilsec/vigil/internal/severity"
	"github.com/vigilsec/vigil/internal/vuln/cvss"
	"github.com/vigilsec/vigil/internal/vuln/match"
	"github.com/vigilsec/vigil/internal/vuln/osv"
)

// Name and Version identify the findings of emergency checks
// (finding.Source).
const (
	Name    = "vuln/emergency"
	Version = 1
)

// MaxCheckSize bounds one check file.
const MaxCheckSize = 1 << 20

// maxDepth bounds the nesting of any/not conditions.
const maxDepth = 8

// Check is one parsed emergency check.
type Check struct {
	ID          string
	Title       string
	Description string
	Aliases     []string
	Severity    severity.Level
	CVSS        cvss.Score // zero when the check gives no vector
	Published   time.Time
	References  []string
	Affected    []Rule
	Conditions  []Condition
	// Remediation is the check's advice, added to every finding's note.
	Remediation string
	// File is where the check was read from.
	File string
}

// Rule is one entry of affected: either a package rule (Package or Source
// set) or an archive rule (Archive set).
type Rule struct {
	// Ecosystem is an OSV ecosystem, with or without release.
	Ecosystem string
	// Package names the binary package (for Maven "group:artifact");
	// Source the source package (inventory.Package.SourceName). For an
	// archive rule Package names the package the entry belongs to.
	Package, Source string
	Ranges          []Range
	Versions        []string
	Archive         *ArchiveContains
	Line            int

	matcher *match.Matcher
}

// Range is an interval of affected versions: from Introduced ("0" for
// every version) up to Fixed (excluded) or LastAffected (included), or
// without end.
type Range struct {
	Introduced   string `yaml:"introduced"`
	Fixed        string `yaml:"fixed"`
	LastAffected string `yaml:"last_affected"`
}

// Condition is one condition of a check: exactly one field is set.
type Condition struct {
	ProcessListening *Process
	ProcessRunning   *Process
	FileExists       *FileExists
	FileContains     *FileContains
	ArchiveContains  *ArchiveContains
	Not              *Condition
	Any              []Condition
	Line             int
}

// Process selects processes by executable path suffix ("/sshd") and/or
// name (comm, "sshd"). For process_listening, Exposed requires a socket
// reachable from outside the host.
type Process struct {
	ExeSuffix string `yaml:"exe_suffix"`
	Name      string `yaml:"name"`
	Exposed   bool   `yaml:"exposed"`
}

// FileExists holds when a file matching Path (an absolute path inside the
// root, which may be a glob) exists.
type FileExists struct {
	Path string `yaml:"path"`
}

// FileContains holds when a file matching Path has a line matching Regex
// (RE2 syntax). Only the first MaxFileRead bytes are read.
type FileContains struct {
	Path  string `yaml:"path"`
	Regex string `yaml:"regex"`

	re *regexp.Regexp
}

// ArchiveContains holds when a Java archive matching PathGlob (or an
// archive nested in one) has an entry named Entry.
type ArchiveContains struct {
	PathGlob string `yaml:"path_glob"`
	Entry    string `yaml:"entry"`

	glob *glob
}

// The raw types are the YAML schema; decoding them with KnownFields makes
// unknown keys errors.
type rawCheck struct {
	ID          string         `yaml:"id"`
	Title       string         `yaml:"title"`
	Description string         `yaml:"description"`
	Aliases     []string       `yaml:"aliases"`
	Severity    string         `yaml:"severity"`
	CVSS        string         `yaml:"cvss"`
	Published   string         `yaml:"published"`
	References  []string       `yaml:"references"`
	Affected    []rawRule      `yaml:"affected"`
	Conditions  []rawCondition `yaml:"conditions"`
	Remediation string         `yaml:"remediation"`
}

type rawRule struct {
	Ecosystem       string           `yaml:"ecosystem"`
	Package         string           `yaml:"package"`
	Source          string           `yaml:"source"`
	Ranges          []Range          `yaml:"ranges"`
	Versions        []string         `yaml:"versions"`
	ArchiveContains *ArchiveContains `yaml:"archive_contains"`
}

type rawCondition struct {
	ProcessListening *Process         `yaml:"process_listening"`
	ProcessRunning   *Process         `yaml:"process_running"`
	FileExists       *FileExists      `yaml:"file_exists"`
	FileContains     *FileContains    `yaml:"file_contains"`
	ArchiveContains  *ArchiveContains `yaml:"archive_contains"`
	Not              *rawCondition    `yaml:"not"`
	Any              []rawCondition   `yaml:"any"`
}

// Load reads and parses check files. It stops at the first invalid file;
// errors name the file and line.
func Load(paths ...string) ([]*Check, error) {
	var out []*Check
	ids := map[string]string{}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("read check: %w", err)
		}
		data, err := io.ReadAll(io.LimitReader(f, MaxCheckSize+1))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read check %q: %w", p, err)
		}
		if len(data) > MaxCheckSize {
			return nil, fmt.Errorf("%s: larger than %d bytes", p, MaxCheckSize)
		}
		c, err := Parse(p, data)
		if err != nil {
			return nil, err
		}
		if prev, ok := ids[c.ID]; ok {
			return nil, fmt.Errorf("%s: check id %q already defined in %s", p, c.ID, prev)
		}
		ids[c.ID] = p
		out = append(out, c)
	}
	return out, nil
}

// ParseError is an error in a check file at a line (0 when unknown).
type ParseError struct {
	File string
	Line int
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// Parse parses one check; file names it in errors. Every error is a
// *ParseError, or an errors.Join of them for several unknown keys.
func Parse(file string, data []byte) (*Check, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var raw rawCheck
	if err := dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &ParseError{File: file, Msg: "empty check"}
		}
		return nil, yamlError(file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := extra.Line
		return nil, &ParseError{File: file, Line: line, Msg: "more than one YAML document: one check per file"}
	}
	// A second decode into nodes gives the lines of values for the
	// errors found after decoding.
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(file, err)
	}
	p := &parser{file: file, doc: &doc}
	return p.check(&raw)
}

func yamlError(file string, err error) error {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	var errs []error
	for _, m := range msgs {
		if sm := yamlLine.FindStringSubmatch(m); sm != nil {
			n, _ := strconv.Atoi(sm[1])
			errs = append(errs, &ParseError{File: file, Line: n, Msg: sm[2]})
			continue
		}
		errs = append(errs, &ParseError{File: file, Msg: strings.TrimPrefix(m, "yaml: ")})
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

type parser struct {
	file string
	doc  *yaml.Node
}

// line returns the line of the node at path (mapping keys and sequence
// indexes) from the document root, or of its nearest existing ancestor.
func (p *parser) line(path ...any) int {
	n := p.doc
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, step := range path {
		var next *yaml.Node
		switch s := step.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == s {
						next = n.Content[i+1]
						line = n.Content[i].Line
						break
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && s < len(n.Content) {
				next = n.Content[s]
				line = next.Line
			}
		}
		if next == nil {
			return line
		}
		n = next
	}
	return line
}

func (p *parser) errf(path []any, format string, args ...any) error {
	return &ParseError{File: p.file, Line: p.line(path...), Msg: fmt.Sprintf(format, args...)}
}

var idPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._-]{0,127}$`)

func (p *parser) check(raw *rawCheck) (*Check, error) {
	c := &Check{
		ID: raw.ID, Title: raw.Title, Description: strings.TrimSpace(raw.Description),
		Aliases: raw.Aliases, References: raw.References,
		Remediation: strings.TrimSpace(raw.Remediation), File: p.file,
	}
	switch {
	case raw.ID == "":
		return nil, p.errf(nil, "missing id")
	case !idPattern.MatchString(raw.ID):
		return nil, p.errf([]any{"id"}, "id %q: want letters, digits, '.', '_' or '-', starting with a letter", raw.ID)
	case strings.TrimSpace(raw.Title) == "":
		return nil, p.errf(nil, "missing title")
	case raw.Severity == "":
		return nil, p.errf(nil, "missing severity (low, medium, high or critical)")
	}
	sev, err := severity.Parse(raw.Severity)
	if err != nil || sev == severity.Unspecified {
		return nil, p.errf([]any{"severity"}, "severity %q: want low, medium, high or critical", raw.Severity)
	}
	c.Severity = sev
	if raw.CVSS != "" {
		s, err := cvss.Parse(raw.CVSS)
		if err != nil {
			return nil, p.errf([]any{"cvss"}, "cvss: %v", err)
		}
		c.CVSS = s
	}
	if raw.Published != "" {
		t, err := time.Parse(time.DateOnly, raw.Published)
		if err != nil {
			if t, err = time.Parse(time.RFC3339, raw.Published); err != nil {
				return nil, p.errf([]any{"published"}, "published %q: want a date (2024-07-01) or RFC 3339 time", raw.Published)
			}
		}
		c.Published = t.UTC()
	}
	for i, a := range raw.Aliases {
		if strings.TrimSpace(a) == "" {
			return nil, p.errf([]any{"aliases", i}, "empty alias")
		}
	}
	if len(raw.Affected) == 0 && len(raw.Conditions) == 0 {
		return nil, p.errf(nil, "a check needs affected rules, conditions or both")
	}
	for i := range raw.Affected {
		r, err := p.rule(&raw.Affected[i], []any{"affected", i})
		if err != nil {
			return nil, err
		}
		c.Affected = append(c.Affected, r)
	}
	for i := range raw.Conditions {
		cond, err := p.condition(&raw.Conditions[i], []any{"conditions", i}, 0)
		if err != nil {
			return nil, err
		}
		c.Conditions = append(c.Conditions, cond)
	}
	return c, nil
}

func at(path []any, more ...any) []any {
	return append(append([]any(nil), path...), more...)
}

func (p *parser) rule(raw *rawRule, path []any) (Rule, error) {
	r := Rule{Ecosystem: raw.Ecosystem, Package: raw.Package, Source: raw.Source,
		Ranges: raw.Ranges, Versions: raw.Versions, Line: p.line(path...)}
	if raw.ArchiveContains != nil {
		if raw.Source != "" || len(raw.Ranges) > 0 || len(raw.Versions) > 0 {
			return r, p.errf(path, "an archive_contains rule takes no source, ranges or versions (a package it names is judged by the check's package rules)")
		}
		if (raw.Ecosystem == "") != (raw.Package == "") {
			return r, p.errf(path, "an archive_contains rule names its package with both ecosystem and package, or neither")
		}
		if raw.Ecosystem != "" && !match.Supported(raw.Ecosystem) {
			return r, p.errf(at(path, "ecosystem"), "ecosystem %q: no version ordering known", raw.Ecosystem)
		}
		a, err := p.archive(raw.ArchiveContains, at(path, "archive_contains"))
		if err != nil {
			return r, err
		}
		r.Archive = a
		return r, nil
	}
	switch {
	case raw.Ecosystem == "":
		return r, p.errf(path, "missing ecosystem (e.g. \"Debian:12\", \"Maven\")")
	case !match.Supported(raw.Ecosystem):
		return r, p.errf(at(path, "ecosystem"), "ecosystem %q: no version ordering known", raw.Ecosystem)
	case raw.Package == "" && raw.Source == "":
		return r, p.errf(path, "missing package or source (or archive_contains)")
	case raw.Package != "" && raw.Source != "":
		return r, p.errf(path, "package and source are exclusive: a rule matches binary or source package names")
	case len(raw.Ranges) == 0 && len(raw.Versions) == 0:
		return r, p.errf(path, "missing ranges or versions")
	}
	a := osv.Affected{
		Package:  osv.Package{Ecosystem: raw.Ecosystem, Name: raw.Package + raw.Source},
		Versions: raw.Versions,
	}
	for i, rg := range raw.Ranges {
		rp := at(path, "ranges", i)
		if rg.Introduced == "" {
			return r, p.errf(rp, "range without introduced (use \"0\" for every version)")
		}
		if rg.Fixed != "" && rg.LastAffected != "" {
			return r, p.errf(rp, "fixed and last_affected are exclusive")
		}
		events := []osv.Event{{Introduced: rg.Introduced}}
		if rg.Fixed != "" {
			events = append(events, osv.Event{Fixed: rg.Fixed})
		}
		if rg.LastAffected != "" {
			events = append(events, osv.Event{LastAffected: rg.LastAffected})
		}
		single := a
		single.Versions = nil
		single.Ranges = []osv.Range{{Type: match.RangeEcosystem, Events: events}}
		if _, err := match.Compile(single); err != nil {
			// The entry compiled holds this range alone.
			msg := strings.Replace(err.Error(), ": range 0 ", fmt.Sprintf(": range %d ", i), 1)
			return r, p.errf(rp, "%s", msg)
		}
		if rg.Fixed != "" && rg.Introduced != "0" {
			if c, err := match.Compare(raw.Ecosystem, rg.Introduced, rg.Fixed); err == nil && c >= 0 {
				return r, p.errf(rp, "fixed %q is not above introduced %q", rg.Fixed, rg.Introduced)
			}
		}
		a.Ranges = append(a.Ranges, single.Ranges[0])
	}
	for i, v := range raw.Versions {
		if _, err := match.Parse(raw.Ecosystem, v); err != nil {
			return r, p.errf(at(path, "versions", i), "%v", err)
		}
	}
	m, err := match.Compile(a)
	if err != nil {
		return r, p.errf(path, "%v", err)
	}
	r.matcher = m
	return r, nil
}

func (p *parser) archive(a *ArchiveContains, path []any) (*ArchiveContains, error) {
	if a.PathGlob == "" {
		return nil, p.errf(path, "archive_contains: missing path_glob")
	}
	if a.Entry == "" {
		return nil, p.errf(path, "archive_contains: missing entry")
	}
	if strings.HasPrefix(a.Entry, "/") || strings.HasSuffix(a.Entry, "/") {
		return nil, p.errf(at(path, "entry"), "entry %q: want a file name inside the archive, without leading or trailing '/'", a.Entry)
	}
	g, err := compileGlob(a.PathGlob)
	if err != nil {
		return nil, p.errf(at(path, "path_glob"), "path_glob: %v", err)
	}
	out := *a
	out.glob = g
	return &out, nil
}

func (p *parser) condition(raw *rawCondition, path []any, depth int) (Condition, error) {
	c := Condition{Line: p.line(path...)}
	if depth > maxDepth {
		return c, p.errf(path, "conditions nested deeper than %d", maxDepth)
	}
	n := 0
	for _, set := range []bool{raw.ProcessListening != nil, raw.ProcessRunning != nil, raw.FileExists != nil,
		raw.FileContains != nil, raw.ArchiveContains != nil, raw.Not != nil, raw.Any != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return c, p.errf(path, "a condition has exactly one of process_listening, process_running, file_exists, file_contains, archive_contains, not, any; got %d", n)
	}
	switch {
	case raw.ProcessListening != nil:
		if err := p.process(raw.ProcessListening, at(path, "process_listening"), true); err != nil {
			return c, err
		}
		c.ProcessListening = raw.ProcessListening
	case raw.ProcessRunning != nil:
		if err := p.process(raw.ProcessRunning, at(path, "process_running"), false); err != nil {
			return c, err
		}
		c.ProcessRunning = raw.ProcessRunning
	case raw.FileExists != nil:
		if err := p.filePath(raw.FileExists.Path, at(path, "file_exists")); err != nil {
			return c, err
		}
		c.FileExists = raw.FileExists
	case raw.FileContains != nil:
		fc := *raw.FileContains
		if err := p.filePath(fc.Path, at(path, "file_contains")); err != nil {
			return c, err
		}
		if fc.Regex == "" {
			return c, p.errf(at(path, "file_contains"), "file_contains: missing regex")
		}
		re, err := regexp.Compile(fc.Regex)
		if err != nil {
			return c, p.errf(at(path, "file_contains", "regex"), "regex: %v", err)
		}
		fc.re = re
		c.FileContains = &fc
	case raw.ArchiveContains != nil:
		a, err := p.archive(raw.ArchiveContains, at(path, "archive_contains"))
		if err != nil {
			return c, err
		}
		c.ArchiveContains = a
	case raw.Not != nil:
		sub, err := p.condition(raw.Not, at(path, "not"), depth+1)
		if err != nil {
			return c, err
		}
		c.Not = &sub
	case raw.Any != nil:
		if len(raw.Any) == 0 {
			return c, p.errf(at(path, "any"), "any: empty list")
		}
		for i := range raw.Any {
			sub, err := p.condition(&raw.Any[i], at(path, "any", i), depth+1)
			if err != nil {
				return c, err
			}
			c.Any = append(c.Any, sub)
		}
	}
	return c, nil
}

func (p *parser) process(pr *Process, path []any, listening bool) error {
	if pr.ExeSuffix == "" && pr.Name == "" {
		return p.errf(path, "want exe_suffix, name or both")
	}
	if pr.Exposed && !listening {
		return p.errf(at(path, "exposed"), "exposed applies to process_listening only")
	}
	return nil
}

func (p *parser) filePath(fp string, path []any) error {
	if fp == "" {
		return p.errf(path, "missing path")
	}
	if !strings.HasPrefix(fp, "/") {
		return p.errf(at(path, "path"), "path %q: want an absolute path inside the scanned root", fp)
	}
	if _, err := compileGlob(fp); err != nil {
		return p.errf(at(path, "path"), "path: %v", err)
	}
	return nil
}
