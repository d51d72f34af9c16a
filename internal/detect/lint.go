package detect

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"

	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/severity"
)

// Problem is one thing wrong with a rule file.
type Problem struct {
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Rule    string `json:"rule,omitempty"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": ")
	}
	if p.Rule != "" {
		b.WriteString(p.Rule)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

var (
	ruleIDRe    = regexp.MustCompile(`^[A-Z][A-Z0-9]*-[A-Z0-9]+(-[A-Z0-9]+)*$`) // shipped rules use VGL-<AREA>-<NAME>
	tacticRe    = regexp.MustCompile(`^TA\d{4}$`)
	techniqueRe = regexp.MustCompile(`^T\d{4}(\.\d{3})?$`)
	listNameRe  = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
)

// Actions are the response actions a rule may name.
var Actions = []string{"none", "kill", "kill_tree", "deny_exec", "block_connect", "block_ip", "quarantine"}

// Lint reports every problem of rs: what New would reject (bad fields,
// duplicate IDs, CEL that does not compile or type-check) and rules that
// no test expects to fire. Problems are sorted by file and line.
func (rs *RuleSet) Lint() []Problem {
	_, probs := compile(rs, Options{})
	probs = append(probs, rs.testCoverage()...)
	sortProblems(probs)
	return probs
}

func sortProblems(probs []Problem) {
	sort.SliceStable(probs, func(i, j int) bool {
		if probs[i].File != probs[j].File {
			return probs[i].File < probs[j].File
		}
		return probs[i].Line < probs[j].Line
	})
}

// validate checks what the CEL compiler does not: fields, formats and
// uniqueness.
func (rs *RuleSet) validate() []Problem {
	var probs []Problem
	seen := map[string]string{}
	lists := map[string][]string{}
	listFile := map[string]string{}
	for _, f := range rs.Files {
		names := make([]string, 0, len(f.Lists))
		for n := range f.Lists {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if !listNameRe.MatchString(n) {
				probs = append(probs, Problem{File: f.Name, Line: f.ListLines[n], Message: fmt.Sprintf("list %q: want a lower-case name of letters, digits and _", n)})
			}
			if prev, ok := lists[n]; ok && !reflect.DeepEqual(prev, f.Lists[n]) {
				probs = append(probs, Problem{File: f.Name, Line: f.ListLines[n], Message: fmt.Sprintf("list %q differs from the list of that name in %s", n, listFile[n])})
				continue
			}
			lists[n], listFile[n] = f.Lists[n], f.Name
		}
		for _, r := range f.Rules {
			prob := func(key, format string, args ...any) {
				probs = append(probs, Problem{File: r.File, Line: lineOf(r, key), Rule: r.ID, Message: fmt.Sprintf(format, args...)})
			}
			switch {
			case r.ID == "":
				prob("id", "id: missing")
			case !ruleIDRe.MatchString(r.ID):
				prob("id", "id %q: want PREFIX-NAME in upper case letters, digits and - (e.g. ACME-CRON-WRITE)", r.ID)
			}
			if prev, ok := seen[r.ID]; ok && r.ID != "" {
				prob("id", "id %q is also used at %s", r.ID, prev)
			} else {
				seen[r.ID] = r.where("id")
			}
			if r.Version < 1 {
				prob("version", "version %d: want 1 or more", r.Version)
			}
			if strings.TrimSpace(r.Title) == "" {
				prob("title", "title: missing")
			}
			if strings.TrimSpace(r.Description) == "" {
				prob("description", "description: missing (say what the rule detects and what it keys on)")
			}
			if lvl, err := severity.Parse(r.Severity); err != nil || lvl == severity.Unspecified {
				prob("severity", "severity %q: want info, low, medium, high or critical", r.Severity)
			}
			if len(r.Attack.Tactics) == 0 {
				prob("attack", "attack.tactics: want at least one ATT&CK tactic ID")
			}
			for _, t := range r.Attack.Tactics {
				if !tacticRe.MatchString(t) {
					prob("attack.tactics", "attack.tactics %q: want an ATT&CK tactic ID like TA0002", t)
				}
			}
			for _, t := range r.Attack.Techniques {
				if !techniqueRe.MatchString(t) {
					prob("attack.techniques", "attack.techniques %q: want an ATT&CK technique ID like T1059 or T1059.004", t)
				}
			}
			if len(r.Events) == 0 {
				prob("events", "events: want at least one event kind")
			}
			for _, k := range r.Events {
				if !event.Kind(k).Valid() {
					prob("events", "events: unknown kind %q (want one of %s)", k, kindNames())
				}
			}
			if r.Response.Action != "" && !contains(Actions, r.Response.Action) {
				prob("response.action", "response.action %q: want one of %s", r.Response.Action, strings.Join(Actions, ", "))
			}
			if r.Response.Act && (r.Response.Action == "" || r.Response.Action == "none") {
				prob("response.act", "response.act is true but there is no action")
			}
		}
	}
	return probs
}

// testCoverage reports rules that no test of the set expects to fire, and
// tests that expect unknown rules.
func (rs *RuleSet) testCoverage() []Problem {
	expected := map[string]bool{}
	known := map[string]bool{}
	for _, f := range rs.Files {
		for _, r := range f.Rules {
			known[r.ID] = true
		}
	}
	var probs []Problem
	for _, f := range rs.Files {
		for _, t := range f.Tests {
			if strings.TrimSpace(t.Name) == "" {
				probs = append(probs, Problem{File: f.Name, Line: t.Line, Message: "test without a name"})
			}
			if len(t.Events) == 0 {
				probs = append(probs, Problem{File: f.Name, Line: t.Line, Message: fmt.Sprintf("test %q has no events", t.Name)})
			}
			for _, x := range t.Expect {
				expected[x.Rule] = true
				if !known[x.Rule] {
					probs = append(probs, Problem{File: f.Name, Line: t.Line, Message: fmt.Sprintf("test %q expects unknown rule %q", t.Name, x.Rule)})
				}
			}
		}
	}
	for _, f := range rs.Files {
		for _, r := range f.Rules {
			if r.ID != "" && !expected[r.ID] {
				probs = append(probs, Problem{File: r.File, Line: r.Line, Rule: r.ID, Message: "no test expects this rule to fire"})
			}
		}
	}
	return probs
}

func kindNames() string {
	s := make([]string, len(event.Kinds))
	for i, k := range event.Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// checkIOCNames rejects ioc() calls that name, as a literal, a set that is
// not loaded.
func checkIOCNames(a *cel.Ast, iocs map[string]*iocSet) error {
	var err error
	nav := ast.NavigateAST(a.NativeRep())
	ast.MatchDescendants(nav, func(e ast.NavigableExpr) bool {
		if err != nil || e.Kind() != ast.CallKind || e.AsCall().FunctionName() != "ioc" {
			return false
		}
		args := e.AsCall().Args()
		if len(args) == 2 && args[0].Kind() == ast.LiteralKind {
			if s, ok := args[0].AsLiteral().(types.String); ok {
				if _, found := iocs[string(s)]; !found {
					err = fmt.Errorf("ioc: unknown IOC set %q (have: %s)", s, iocNames(iocs))
				}
			}
		}
		return false
	})
	return err
}

func iocNames(iocs map[string]*iocSet) string {
	if len(iocs) == 0 {
		return "none"
	}
	n := make([]string, 0, len(iocs))
	for k := range iocs {
		n = append(n, k)
	}
	sort.Strings(n)
	return strings.Join(n, ", ")
}
