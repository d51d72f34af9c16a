package yara

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func addRuleSeeds(f *testing.F) {
	files, _ := filepath.Glob("testdata/diff/*.yar")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
}

// FuzzCompile checks that arbitrary rule text never panics the compiler, and that
// whatever compiles also scans without panicking.
func FuzzCompile(f *testing.F) {
	addRuleSeeds(f)
	f.Add(`rule r { strings: $a = { 41 ( 42 | [1-2] 43 ) } $b = /a{2,}?[^\x00-\x1f]\b/is condition: for any of them : ( @ > !a[1] ) }`)
	f.Add(`import "elf" rule r { condition: elf.sections[elf.number_of_sections - 1].name startswith ".t" }`)
	data := []byte("hello world \x7fELF\x02\x01\x01 aGVsbG8gd29ybGQ= h\x00e\x00l\x00l\x00o\x00")
	f.Fuzz(func(t *testing.T, src string) {
		r, _, err := Compile(CompileOptions{SkipUnsupported: true}, Source{Name: "fuzz.yar", Data: []byte(src)})
		if err != nil {
			if _, ok := err.(*CompileError); !ok { // internal errors (recovered panics) fail here
				t.Fatalf("error %v (%T) is not a *CompileError", err, err)
			}
			return
		}
		if _, err := r.Scan(data, ScanOptions{Timeout: 100 * time.Millisecond}); err != nil && err != ErrTimeout {
			t.Fatalf("scan: %v", err)
		}
	})
}

// FuzzScan runs every test rule file over arbitrary data (ELF-like seeds included), so
// the matchers and the elf/math/hash modules see malformed input.
func FuzzScan(f *testing.F) {
	files, _ := filepath.Glob("testdata/diff/*.yar")
	srcs := readSources(f, files)
	// Each rule file compiled twice: the automaton's pair scan (where its
	// atoms allow it) must find what the plain DFA finds.
	var rules, plain []*Rules
	for _, s := range append(srcs, shippedSources(f)...) {
		r, _, err := Compile(CompileOptions{}, s)
		if err != nil {
			f.Fatal(err)
		}
		noPairScan = true
		p, _, err := Compile(CompileOptions{}, s)
		noPairScan = false
		if err != nil {
			f.Fatal(err)
		}
		rules, plain = append(rules, r), append(plain, p)
	}
	if elfBin, err := os.ReadFile("/usr/bin/true"); err == nil {
		f.Add(elfBin[:min(len(elfBin), 4096)])
	}
	f.Add([]byte("\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x03\x00\x01\x00\x00\x00\x54\x80\x04\x08\x34\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x34\x00\x20\x00\x01\x00\x28\x00\x00\x00\x00\x00"))
	f.Add([]byte("hello world secretpayload This program cannot aGVsbG8="))
	f.Add([]byte{})
	f.Add([]byte("<?php @eval($_POST['x']); $s = 'stratum+tcp://pool:3333'; <% exec %> /bin/sh /dev/tcp/ <jsp:"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for i, r := range rules {
			ms, err := r.Scan(data, ScanOptions{Timeout: 500 * time.Millisecond})
			if err == ErrTimeout {
				continue
			}
			if err != nil {
				t.Fatalf("scan: %v", err)
			}
			want, err := plain[i].Scan(data, ScanOptions{Timeout: 500 * time.Millisecond})
			if err == nil && !reflect.DeepEqual(ms, want) {
				t.Fatalf("rule set %d: pair scan found\n%+v\nplain DFA found\n%+v", i, ms, want)
			}
		}
	})
}

// shippedSources are the product's own rule files.
func shippedSources(tb testing.TB) []Source {
	tb.Helper()
	files, _ := filepath.Glob("../../rules/yara/*.yar")
	if len(files) == 0 {
		tb.Fatal("no rule files under ../../rules/yara")
	}
	return readSources(tb, files)
}

// readSources reads rule files into Sources named by their paths.
func readSources(tb testing.TB, files []string) []Source {
	tb.Helper()
	var srcs []Source
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			tb.Fatal(err)
		}
		srcs = append(srcs, Source{Name: file, Data: b})
	}
	return srcs
}

// TestPairScan: the pair scan is in use for the shipped rules and finds
// what the plain DFA finds, in text built from the rules' own atoms (so
// that prefixes chain, overlap and break off) and in the web shell
// fixtures of internal/webshell.
func TestPairScan(t *testing.T) {
	srcs := shippedSources(t)
	r, _, err := Compile(CompileOptions{}, srcs...)
	if err != nil {
		t.Fatal(err)
	}
	noPairScan = true
	p, _, err := Compile(CompileOptions{}, srcs...)
	noPairScan = false
	if err != nil {
		t.Fatal(err)
	}
	if !r.ac.pairs || p.ac.pairs {
		t.Fatalf("pair scan in use: %v (shipped), %v (disabled)", r.ac.pairs, p.ac.pairs)
	}
	var frags []string
	for _, v := range r.vars {
		if v.atom != nil {
			frags = append(frags, string(v.atom), strings.ToUpper(string(v.atom[:len(v.atom)/2])), string(v.atom[1:]))
		}
	}
	frags = append(frags, " ", "\n", "e", "s", "<", "$", "a", "x")
	rnd := rand.New(rand.NewPCG(7, 9))
	inputs := [][]byte{nil, []byte("e"), []byte("$_")}
	for range 300 {
		var b strings.Builder
		for range rnd.IntN(400) {
			b.WriteString(frags[rnd.IntN(len(frags))])
		}
		inputs = append(inputs, []byte(b.String()))
	}
	shells, _ := filepath.Glob("../webshell/testdata/shells/*")
	for _, f := range shells {
		if b, err := os.ReadFile(f); err == nil {
			inputs = append(inputs, b)
		}
	}
	found, rules := 0, 0
	for i, in := range inputs {
		got, want := stringMatches(t, r, in), stringMatches(t, p, in)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("input %d %q:\npair scan %+v\nplain DFA %+v", i, in, got, want)
		}
		for _, ms := range got {
			found += len(ms)
		}
		ms, err := r.Scan(in, ScanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rules += len(ms)
	}
	if found == 0 || rules == 0 {
		t.Fatal("no string or no rule matched: the comparison is empty")
	}
	t.Logf("%d inputs: %d string matches, all equal; %d rule matches", len(inputs), found, rules)
}

// stringMatches runs the string search of a scan alone and returns what
// it found for each string.
func stringMatches(t *testing.T, r *Rules, data []byte) [][]smatch {
	t.Helper()
	c := &scanCtx{r: r, data: data, matches: make([][]smatch, len(r.strs)), results: make([]int8, len(r.rules)), maxM: DefaultMaxMatchesPerString}
	if err := c.findStrings(); err != nil {
		t.Fatal(err)
	}
	return c.matches
}
