package rules_test

import (
	"io/fs"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/detect"
	"github.com/vigilsec/vigil/rules"
)

// load parses every shipped rule file and IOC list, as the agent does.
func load(t *testing.T) *detect.RuleSet {
	t.Helper()
	rs, err := detect.LoadFS(rules.FS, "*.yaml")
	if err != nil {
		t.Fatalf("load shipped rules: %v", err)
	}
	if rs.IOC, err = detect.LoadIOC(rules.FS, "ioc"); err != nil {
		t.Fatalf("load shipped IOC lists: %v", err)
	}
	return rs
}

// TestShippedRules lints every rule and runs every rule file's tests
// through one engine holding all shipped rules: an alert no test expects
// fails the test, so rules are checked against each other's benign cases.
func TestShippedRules(t *testing.T) {
	rs := load(t)
	for _, p := range rs.Lint() {
		t.Errorf("lint: %s", p)
	}
	res, err := detect.RunTests(rs, detect.Options{})
	if err != nil {
		t.Fatalf("run rule tests: %v", err)
	}
	if len(res) == 0 {
		t.Fatal("no rule tests ran")
	}
	for _, r := range res {
		if !r.Passed {
			t.Errorf("%s:%d: test %q:\n\t%s", r.File, r.Line, r.Name, strings.Join(r.Problems, "\n\t"))
		}
	}
	t.Logf("%d rules, %d rule tests", countRules(rs), len(res))
}

func countRules(rs *detect.RuleSet) int {
	n := 0
	for _, f := range rs.Files {
		n += len(f.Rules)
	}
	return n
}

var idRE = regexp.MustCompile(`^VGL-[A-Z0-9]+(-[A-Z0-9]+)+$`)

// TestRuleConventions checks what the engine's lint does not: our ID
// shape, that shipped rules only alert by default (act: false; operators
// switch actions on), and that each rule says what it keys on.
func TestRuleConventions(t *testing.T) {
	rs := load(t)
	for _, f := range rs.Files {
		for _, r := range f.Rules {
			if !idRE.MatchString(r.ID) {
				t.Errorf("%s:%d: rule id %q: want VGL-<AREA>-<NAME>, upper case", r.File, r.Line, r.ID)
			}
			if r.Version < 1 {
				t.Errorf("%s:%d: rule %s: version %d, want >= 1", r.File, r.Line, r.ID, r.Version)
			}
			if r.Response.Act {
				t.Errorf("%s:%d: rule %s: shipped rules must not act by default", r.File, r.Line, r.ID)
			}
			if !strings.Contains(strings.ToLower(r.Description), "key") {
				t.Errorf("%s:%d: rule %s: description must say what the rule keys on", r.File, r.Line, r.ID)
			}
		}
	}
}

var readmeIDRE = regexp.MustCompile(`\bVGL-[A-Z0-9-]*[A-Z0-9]\b`)

// TestCatalogue checks that README.md lists exactly the shipped rule IDs,
// so the catalogue cannot drift from the rules.
func TestCatalogue(t *testing.T) {
	rs := load(t)
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatalf("read catalogue: %v", err)
	}
	listed := map[string]bool{}
	for _, id := range readmeIDRE.FindAllString(string(b), -1) {
		listed[id] = true
	}
	shipped := map[string]bool{}
	for _, f := range rs.Files {
		for _, r := range f.Rules {
			shipped[r.ID] = true
			if !listed[r.ID] {
				t.Errorf("README.md does not list rule %s (%s)", r.ID, r.File)
			}
		}
	}
	for id := range listed {
		if !shipped[id] {
			t.Errorf("README.md lists %s, which no rule file defines", id)
		}
	}
}

// TestIOCLists checks that the IOC lists load, keep their attribution and
// hold the entries the mining rules rely on.
func TestIOCLists(t *testing.T) {
	sets, err := detect.LoadIOC(rules.FS, "ioc")
	if err != nil {
		t.Fatalf("load IOC lists: %v", err)
	}
	if n := len(sets["mining_pools"]); n < 1000 {
		t.Errorf("mining_pools has %d entries, want the maltrail list (> 1000)", n)
	}
	b, err := fs.ReadFile(rules.FS, "ioc/mining_pools.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Copyright (c) 2014-present Maltrail developers", "Permission is hereby granted"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("ioc/mining_pools.txt lost its license notice: no %q", want)
		}
	}
}

func rulesFS() fs.FS { return rules.FS }
