package detect

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// TestSampleRules runs the tests of testdata/rules, which use every part of
// the rule format.
func TestSampleRules(t *testing.T) {
	rs := loadSample(t)
	for _, p := range rs.Lint() {
		t.Errorf("lint: %s", p)
	}
	res, err := RunTests(rs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if !r.Passed {
			t.Errorf("%s:%d: %s: %v", r.File, r.Line, r.Name, r.Problems)
		}
	}
}

func loadSample(t testing.TB) *RuleSet {
	t.Helper()
	fsys := os.DirFS("testdata/rules")
	rs, err := LoadFS(fsys, "*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if rs.IOC, err = LoadIOC(fsys, "ioc"); err != nil {
		t.Fatal(err)
	}
	return rs
}

func addFiles(f *testing.F, pattern string) {
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds %s: %v", pattern, err)
	}
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// FuzzLoad feeds arbitrary bytes to the rule file loader, lint and the
// test runner: errors are fine, panics are not.
func FuzzLoad(f *testing.F) {
	addFiles(f, "testdata/rules/*.yaml")
	f.Add([]byte("rules:\n  - id: VGL-A-B\n    events: [exec]\n    condition: proc.args.exists(a, a.matches('['))\n"))
	f.Add([]byte("tests:\n  - events: [{kind: exec, proc: {args: [1, {a: b}]}}]\n"))
	f.Add([]byte("lists: {a: [x]}\nrules: [{id: VGL-A-B, events: [auth], condition: 'x', aggregate: {window: 1s, group_by: 'kind', threshold: 1}}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := LoadBytes("fuzz.yaml", data)
		if err != nil {
			return
		}
		_ = rs.Lint()
		res, err := RunTests(rs, Options{IOC: map[string][]string{"mining_pools": {"pool.example"}}})
		if err != nil {
			return
		}
		for _, r := range res {
			if _, err := json.Marshal(r); err != nil {
				t.Fatalf("result does not marshal: %v", err)
			}
		}
	})
}

// FuzzDecodeEvent decodes arbitrary JSON as an event, as test events and
// replay files are, and judges it with the sample rules: the typed CEL
// view of an event must hold for any event, and alerts must marshal.
func FuzzDecodeEvent(f *testing.F) {
	addFiles(f, "testdata/events/*.json")
	f.Add([]byte(`{"kind":"auth","auth":{"service":"sshd","outcome":"failure","src_ip":"::1"}}`))
	f.Add([]byte(`{"kind":"exec","proc":{"cmdline":"stratum+tcp://[2001:db8::1]:3333 pool.example.:1"}}`))
	e, err := New(loadSample(f), Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := DecodeEvent(data)
		if err != nil {
			return
		}
		if ev.Time.IsZero() {
			ev.Time = time.Unix(0, 0)
		}
		for _, a := range e.Process(ev) {
			if _, err := json.Marshal(a); err != nil {
				t.Fatalf("alert does not marshal: %v", err)
			}
		}
	})
}

// FuzzRegexPrefilter checks that a pattern with its literal prefilter
// matches exactly what the plain pattern matches.
func FuzzRegexPrefilter(f *testing.F) {
	for _, s := range [][2]string{
		{`\b(curl|wget|fetch)\b[^|]*\|\s*(ba|da)?sh\b`, "curl -s x | bash"},
		{`(?i)stratum2?\+(tcp|ssl)://`, "STRATUM+SSL://a"},
		{`(?i)(^|\s)(-a|--algo)(\s+|=)(cn/\S+|rx/0)`, " --ALGO=rx/0"},
		{`^-[a-zA-Z]*[ceE]$`, "-xe"},
		{`(?i)k`, "\u212a"},
		{`a{2,3}(b|c)?d+`, "aad"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, text string) {
		re, err := regexp.Compile(pattern)
		if err != nil {
			return
		}
		m, err := newMatcher(pattern)
		if err != nil {
			t.Fatalf("newMatcher(%q): %v", pattern, err)
		}
		if got, want := m.match(text), re.MatchString(text); got != want {
			t.Fatalf("%q on %q: prefiltered %v, regexp %v (literals %q, fold %v)", pattern, text, got, want, m.lits, m.fold)
		}
	})
}

// FuzzIOC parses arbitrary IOC files and matches arbitrary text.
func FuzzIOC(f *testing.F) {
	f.Add([]byte("pool.example\n1.2.3.4:3333\nhttp://185.1.2.3/x\n2001:db8::1\n"), "stratum+tcp://a.pool.example:3333 1.2.3.4:3333")
	f.Fuzz(func(t *testing.T, file []byte, text string) {
		entries, err := parseIOC("f.txt", file)
		if err != nil {
			return
		}
		s := newIOCSet(entries)
		got := s.match(text)
		// Every entry is found in a text that is just the entry.
		for _, e := range entries {
			if n, err := normalizeIOC(e); err == nil && !s.match(n) {
				t.Fatalf("entry %q (normalized %q) does not match itself", e, n)
			}
		}
		_ = got
	})
}
