package detect

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"unknown_top_key", "rules: []\nmacros: {}\n", "x.yaml:2: field macros not found in type rule file"},
		{"unknown_rule_key", "rules:\n  - id: VGL-A-B\n    sevrity: low\n", "x.yaml:3: VGL-A-B: field sevrity not found in type rule"},
		{"unknown_aggregate_key", "rules:\n  - id: VGL-A-B\n    aggregate: {windw: 1m}\n", "x.yaml:3: VGL-A-B: field windw not found in type aggregate"},
		{"wrong_type", "rules:\n  - id: VGL-A-B\n    version: one\n", "x.yaml:3: VGL-A-B: cannot unmarshal !!str `one` into int"},
		{"syntax", "rules:\n  - id: [\n", "x.yaml:2: did not find expected node content"},
		{"two_documents", "rules: []\n---\nrules: []\n", "x.yaml: more than one YAML document"},
		{"event_unknown_field", "tests:\n  - name: t\n    events:\n      - kind: exec\n        proc: {exe: /x, colour: red}\n",
			`x.yaml:4: test "t" event 1: event: json: unknown field "colour"`},
		{"event_unknown_kind", "tests:\n  - name: t\n    events:\n      - kind: teleport\n", `x.yaml:4: test "t" event 1: event: unknown kind "teleport"`},
		{"event_wrong_type", "tests:\n  - name: t\n    events:\n      - kind: exec\n        proc: {pid: many}\n", `x.yaml:4: test "t" event 1: event: json: cannot unmarshal string`},
		{"event_uid_overflow", "tests:\n  - name: t\n    events:\n      - kind: exec\n        proc: {uid: -1}\n", `x.yaml:4: test "t" event 1: event: json: cannot unmarshal number -1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadBytes("x.yaml", []byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestLoadTestEvents(t *testing.T) {
	doc := `tests:
  - name: defaults
    events:
      - kind: exec
        proc: {pid: 1, exe: /bin/sh, args: [sh, -c, id]}
        parent: {pid: 0, exe: /usr/sbin/sshd}
      - kind: file
        time: 2026-03-04T05:06:07.5Z
        file: {op: create, path: /etc/cron.d/x}
    expect: []
`
	rs, err := LoadBytes("x.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	evs := rs.Files[0].Tests[0].Events
	if len(evs) != 2 || rs.Files[0].Tests[0].Line != 2 {
		t.Fatalf("events = %d, line %d", len(evs), rs.Files[0].Tests[0].Line)
	}
	if !evs[0].Time.Equal(testBaseTime) || evs[0].Source != "test" || evs[0].Parent.Exe != "/usr/sbin/sshd" ||
		cmp.Diff([]string{"sh", "-c", "id"}, evs[0].Process.Args) != "" {
		t.Errorf("event 1 = %+v", evs[0])
	}
	if got := evs[1].Time.Format("2006-01-02T15:04:05.000Z07:00"); got != "2026-03-04T05:06:07.500Z" || evs[1].File.Path != "/etc/cron.d/x" {
		t.Errorf("event 2 time = %s, file %+v", got, evs[1].File)
	}
}

func TestLoadFSAndPaths(t *testing.T) {
	a := "lists:\n  l: [a]\nrules:" + ruleYAML("VGL-EXEC-A", "exec", "proc.exe in lists.l", "")
	b := "lists:\n  l: [a]\nrules:" + ruleYAML("VGL-EXEC-B", "exec", "true", "")
	fsys := fstest.MapFS{"b.yaml": {Data: []byte(b)}, "a.yaml": {Data: []byte(a)}, "notes.txt": {Data: []byte("x")}}
	rs, err := LoadFS(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"VGL-EXEC-A", "VGL-EXEC-B"}, rs.RuleIDs()); diff != "" {
		t.Errorf("rule order (-want +got):\n%s", diff)
	}
	if r := rs.Files[0].Rules[0]; r.File != "a.yaml" || r.Line != 4 {
		t.Errorf("rule place = %s:%d", r.File, r.Line)
	}
	dir := t.TempDir()
	for n, f := range fsys {
		if err := os.WriteFile(filepath.Join(dir, n), f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rs2, err := LoadPaths(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs2.Files) != 2 || rs2.Files[0].Name != filepath.Join(dir, "a.yaml") {
		t.Errorf("files = %v", rs2.Files)
	}
	if _, err := LoadPaths(filepath.Join(dir, "none.yaml")); err == nil {
		t.Error("LoadPaths of a missing file succeeded")
	}
	if _, err := LoadFS(fsys, "["); err == nil {
		t.Error("bad pattern accepted")
	}
}

func TestRuleSetMergeDisable(t *testing.T) {
	base, err := LoadBytes("base.yaml", []byte("lists:\n  l: [a]\nrules:"+ruleYAML("VGL-EXEC-A", "exec", "true", "")+
		"tests:\n  - name: t\n    events: [{kind: exec, proc: {exe: /x}}]\n    expect: [{rule: VGL-EXEC-A}, {rule: VGL-EXEC-B}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	extra, err := LoadBytes("extra.yaml", []byte("lists:\n  m: [b]\nrules:"+ruleYAML("VGL-EXEC-B", "exec", "proc.exe in lists.m", "")))
	if err != nil {
		t.Fatal(err)
	}
	var rs RuleSet // the zero RuleSet is usable
	if err := rs.Merge(base); err != nil {
		t.Fatal(err)
	}
	if err := rs.Merge(extra); err != nil {
		t.Fatal(err)
	}
	rs.AddIOC(map[string][]string{"x": {"a.example"}})
	if diff := cmp.Diff([]string{"VGL-EXEC-A", "VGL-EXEC-B"}, rs.RuleIDs()); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
	if _, err := New(&rs, Options{}); err != nil {
		t.Errorf("New: %v", err)
	}
	conflict, _ := LoadBytes("c.yaml", []byte("lists:\n  l: [z]\n"))
	if err := rs.Merge(conflict); err == nil || !strings.Contains(err.Error(), `list "l" of c.yaml differs`) {
		t.Errorf("conflicting list: %v", err)
	}
	rs.Disable("VGL-EXEC-B")
	if diff := cmp.Diff([]string{"VGL-EXEC-A"}, rs.RuleIDs()); diff != "" {
		t.Errorf("after Disable (-want +got):\n%s", diff)
	}
	res, err := RunTests(&rs, Options{})
	if err != nil || len(res) != 1 || !res[0].Passed {
		t.Errorf("tests after Disable = %+v, %v", res, err)
	}
}

func TestLint(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string // problems, "line: message" with the rule
	}{
		{"clean", "rules:" + ruleYAML("VGL-EXEC-A", "exec", "true", "") +
			"tests:\n  - name: t\n    events: [{kind: exec}]\n    expect: [{rule: VGL-EXEC-A}]\n", nil},
		{"untested", "rules:" + ruleYAML("VGL-EXEC-A", "exec", "true", ""), []string{"2: VGL-EXEC-A: no test expects this rule to fire"}},
		{"duplicate_id", "rules:" + ruleYAML("VGL-EXEC-A", "exec", "true", "") + ruleYAML("VGL-EXEC-A", "exec", "true", "") +
			"tests:\n  - name: t\n    events: [{kind: exec}]\n    expect: [{rule: VGL-EXEC-A}]\n",
			[]string{"11: VGL-EXEC-A: id \"VGL-EXEC-A\" is also used at x.yaml:2"}},
		{"bad_fields", `rules:
  - id: VGL-X
    version: 1
    title: " "
    description: d
    severity: unspecified
    attack: {tactics: [], techniques: [T1059.4]}
    events: []
    condition: "true"
    response: {action: none, act: true}
tests:
  - name: ""
    events: []
    expect: [{rule: VGL-NOPE}]
`, []string{
			"2: VGL-X: no test expects this rule to fire",
			"4: VGL-X: title: missing",
			`6: VGL-X: severity "unspecified": want info, low, medium, high or critical`,
			"7: VGL-X: attack.tactics: want at least one ATT&CK tactic ID",
			`7: VGL-X: attack.techniques "T1059.4": want an ATT&CK technique ID like T1059 or T1059.004`,
			"8: VGL-X: events: want at least one event kind",
			"10: VGL-X: response.act is true but there is no action",
			"12: test without a name",
			`12: test "" has no events`,
			`12: test "" expects unknown rule "VGL-NOPE"`,
		}},
		{"bad_list_name", "lists:\n  Bad-Name: [a]\n", []string{`2: list "Bad-Name": want a lower-case name of letters, digits and _`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := LoadBytes("x.yaml", []byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range rs.Lint() {
				if p.File != "x.yaml" {
					t.Errorf("problem without the file: %+v", p)
				}
				got = append(got, strings.TrimPrefix(p.String(), "x.yaml:"))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunTestsReports(t *testing.T) {
	doc := "rules:" + ruleYAML("VGL-EXEC-A", "exec", "proc.exe == '/a'", "    evidence: {exe: proc.exe, n: 'size(proc.args)'}\n") + `tests:
  - name: passes
    events: [{kind: exec, proc: {exe: /a, args: [a, b]}}]
    expect: [{rule: VGL-EXEC-A, evidence: {exe: /a, n: 2, kind: exec}}]
  - name: evidence_differs
    events: [{kind: exec, proc: {exe: /a}}]
    expect: [{rule: VGL-EXEC-A, evidence: {exe: /b, missing: 1}}]
  - name: unexpected_alert
    events: [{kind: exec, proc: {exe: /a}}]
    expect: []
  - name: order
    events: [{kind: exec, proc: {exe: /a, exec_id: "1"}}, {kind: exec, proc: {exe: /a, exec_id: "2"}}]
    expect: [{rule: VGL-EXEC-A}]
`
	rs, err := LoadBytes("x.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	res, err := RunTests(rs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, r := range res {
		got[r.Name] = r.Problems
		if r.Passed != (len(r.Problems) == 0) {
			t.Errorf("%s: passed = %v with problems %v", r.Name, r.Passed, r.Problems)
		}
	}
	want := map[string][]string{
		"passes": nil,
		"evidence_differs": {`alert 1 (VGL-EXEC-A): evidence "exe" = "/a", want "/b"`,
			`alert 1 (VGL-EXEC-A): evidence "missing" missing, want 1`},
		"unexpected_alert": {"alerts: got [VGL-EXEC-A], want []"},
		"order":            {"alerts: got [VGL-EXEC-A, VGL-EXEC-A], want [VGL-EXEC-A]"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	// A set that does not compile is an error, not a failed test.
	bad, _ := LoadBytes("b.yaml", []byte("rules:"+ruleYAML("VGL-EXEC-A", "exec", "proc.nope", "")))
	if _, err := RunTests(bad, Options{}); err == nil {
		t.Error("RunTests of a broken rule set succeeded")
	}
}

func TestLoadIOC(t *testing.T) {
	fsys := fstest.MapFS{
		"ioc/pools.txt": {Data: []byte("# comment\n\npool.Example  # trailing\nhttp://185.1.2.3/path\n1.2.3.4:3333\n*.wild.example\n")},
		"ioc/other.txt": {Data: []byte("a.example\n")},
		"ioc/skip.md":   {Data: []byte("x")},
	}
	sets, err := LoadIOC(fsys, "ioc")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"pools": {"pool.Example", "http://185.1.2.3/path", "1.2.3.4:3333", "*.wild.example"}, "other": {"a.example"}}
	if diff := cmp.Diff(want, sets); diff != "" {
		t.Errorf("sets (-want +got):\n%s", diff)
	}
	s := newIOCSet(sets["pools"])
	for text, wantMatch := range map[string]bool{
		"pool.example": true, "x.pool.example": true, "xpool.example": false, "185.1.2.3": true,
		"stratum+tcp://1.2.3.4:3333": true, "1.2.3.4": false, "1.2.3.4:4444": false, "a.wild.example": true,
		"wild.example": true, "": false, "::1": false, "[2001:db8::1]": false,
	} {
		if got := s.match(text); got != wantMatch {
			t.Errorf("match(%q) = %v, want %v", text, got, wantMatch)
		}
	}
	six := newIOCSet([]string{"2001:db8::1"})
	if !six.match("2001:db8::1") || !six.match("[2001:db8::1]") || six.match("2001:db8::2") {
		t.Error("IPv6 entries do not match whole-text addresses")
	}
	if _, err := LoadIOC(fstest.MapFS{"ioc/bad.txt": {Data: []byte("ok.example\nhas space\n")}}, "ioc"); err == nil ||
		!strings.Contains(err.Error(), "ioc/bad.txt:2: IOC entry \"has space\"") {
		t.Errorf("bad entry: %v", err)
	}
	if sets, err := LoadIOC(fstest.MapFS{}, "ioc"); err != nil || len(sets) != 0 {
		t.Errorf("missing dir = %v, %v", sets, err)
	}
}

// TestRegexPrefilter checks that the prefilter never rejects a text the
// pattern matches, over the shipped rules' patterns and tricky ones.
func TestRegexPrefilter(t *testing.T) {
	patterns := []string{
		`\b(curl|wget|fetch)\b[^|]*\|\s*(sudo\s+)?(/usr/bin/)?(python[0-9.]*|perl)(\s|$)`,
		`(?i)stratum2?\+(tcp|ssl|tls)://`, `(?i)(^|\s)(-a|--algo)(\s+|=)(cryptonight\S*|cn/\S+|randomx)(\s|$)`,
		`^-[a-zA-Z]*[ceE]$`, `(>&|&>|<&|<>)`, `a?b?c?`, `x*`, `(ab|cd)+ef`, `[0-9]{2,}abc`, `(?i)k`, `ab|`, `^$`,
		`(?i)ſ`, `(a|b)(c|d)(e|f)(g|h)(i|j)`, `\.(bash|zsh|sh|ash)_history\b`,
	}
	texts := []string{"", "curl x | python3", "wget -q -O- http://x | perl", "STRATUM+TCP://pool", "Stratum2+ssl://",
		" -a randomx ", "--algo=cn/r", "-ce", "-xE", "a >& b", "abc", "cdcdef", "12abc", "K", "\u212a", "ſ", "S",
		"acegi", "bdfhj", "~/.bash_history", "x.zsh_history y"}
	for _, p := range patterns {
		m, err := newMatcher(p)
		if err != nil {
			t.Fatal(err)
		}
		re := regexp.MustCompile(p)
		for _, s := range texts {
			if got, want := m.match(s), re.MatchString(s); got != want {
				t.Errorf("%q on %q = %v, want %v (literals %q)", p, s, got, want, m.lits)
			}
		}
	}
	// Prefilters exist where they should.
	for p, want := range map[string][]string{
		`\b(curl|wget)\b.*\|\s*sh`: {"curl", "wget"},
		`(?i)stratum\+tcp://`:      {"stratum+tcp://"},
		`x*`:                       nil,
	} {
		m, _ := newMatcher(p)
		if diff := cmp.Diff(want, m.lits); diff != "" {
			t.Errorf("%q literals (-want +got):\n%s", p, diff)
		}
	}
}

func TestRuleIDShape(t *testing.T) {
	for id, ok := range map[string]bool{"VGL-EXEC-X": true, "ACME-CRON-WRITE": true, "A-B": true,
		"vgl-x": false, "VGL": false, "VGL--X": false, "VGL-X-": false, "VGL X": false} {
		if got := ruleIDRe.MatchString(id); got != ok {
			t.Errorf("rule id %q accepted = %v, want %v", id, got, ok)
		}
	}
}
