package detect

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"
)

// TestResult is the outcome of one test of a rule file.
type TestResult struct {
	File   string   `json:"file"`
	Line   int      `json:"line"`
	Name   string   `json:"name"`
	Passed bool     `json:"passed"`
	Got    []Expect `json:"got"`
	Want   []Expect `json:"want"`
	// Problems say what differs, one line each.
	Problems []string `json:"problems,omitempty"`
}

// RunTests runs every test of rs: each test's events go, in order, through
// an engine with all rules of rs in a fresh state, and the alerts must be
// exactly the expected ones, in order, with the expected evidence as a
// subset of theirs. An engine that cannot be built is an error.
func RunTests(rs *RuleSet, opts Options) ([]TestResult, error) {
	opts.Now = nil // windows follow the test events' times
	opts.OnFold = nil
	e, err := New(rs, opts)
	if err != nil {
		return nil, err
	}
	var out []TestResult
	for _, f := range rs.Files {
		for _, t := range f.Tests {
			e.Reset()
			res := TestResult{File: t.File, Line: t.Line, Name: t.Name, Got: []Expect{}, Want: t.Expect}
			if res.Want == nil {
				res.Want = []Expect{}
			}
			for _, ev := range t.Events {
				for _, a := range e.Process(ev) {
					res.Got = append(res.Got, Expect{Rule: a.Rule.ID, Evidence: a.Evidence})
				}
			}
			if st := e.Stats(); st.LastError != "" {
				res.Problems = append(res.Problems, "evaluation error: "+st.LastError)
			}
			res.Problems = append(res.Problems, compareAlerts(res.Want, res.Got)...)
			res.Passed = len(res.Problems) == 0
			out = append(out, res)
		}
	}
	return out, nil
}

func compareAlerts(want, got []Expect) []string {
	var probs []string
	if !sameRules(want, got) {
		probs = append(probs, fmt.Sprintf("alerts: got [%s], want [%s]", ruleList(got), ruleList(want)))
		return probs
	}
	for i := range want {
		for _, k := range sortedKeys(want[i].Evidence) {
			g, ok := got[i].Evidence[k]
			if !ok {
				probs = append(probs, fmt.Sprintf("alert %d (%s): evidence %q missing, want %s", i+1, want[i].Rule, k, jsonString(want[i].Evidence[k])))
				continue
			}
			if !sameJSON(want[i].Evidence[k], g) {
				probs = append(probs, fmt.Sprintf("alert %d (%s): evidence %q = %s, want %s", i+1, want[i].Rule, k, jsonString(g), jsonString(want[i].Evidence[k])))
			}
		}
	}
	return probs
}

func sameRules(want, got []Expect) bool {
	if len(want) != len(got) {
		return false
	}
	for i := range want {
		if want[i].Rule != got[i].Rule {
			return false
		}
	}
	return true
}

func ruleList(es []Expect) string {
	ids := make([]string, len(es))
	for i, e := range es {
		ids[i] = e.Rule
	}
	return strings.Join(ids, ", ")
}

func sortedKeys(m map[string]any) []string {
	k := make([]string, 0, len(m))
	for n := range m {
		k = append(k, n)
	}
	sort.Strings(k)
	return k
}

// sameJSON compares two values by their JSON form, so 3 (YAML int) equals
// int64(3) and uint32(3) from the engine.
func sameJSON(a, b any) bool {
	var x, y any
	if json.Unmarshal([]byte(jsonString(a)), &x) != nil || json.Unmarshal([]byte(jsonString(b)), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func jsonString(v any) string {
	b, err := json.Marshal(jsonable(v))
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(b)
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func timeMillis(i int) time.Duration { return time.Duration(i) * time.Millisecond }
