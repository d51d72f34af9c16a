package detect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/vigilsec/vigil/internal/event"
)

// RuleSet is the parsed content of one or more rule files: the spec, not
// yet compiled (see New).
type RuleSet struct {
	Files []*File
	// Lists are the named lists of all files, merged.
	Lists map[string][]string
	// IOC are the IOC sets ioc() can name; the loader leaves it empty, the
	// caller fills it (LoadIOC).
	IOC map[string][]string
	// listFirst remembers which file first defined each list.
	listFirst map[string]string
}

// File is one rule file.
type File struct {
	Name  string // the path as given to the loader
	Lists map[string][]string
	// ListLines is the line of each list's name.
	ListLines map[string]int
	Rules     []*Rule
	Tests     []*Test
}

// Rule is one rule as written. File and Line say where.
type Rule struct {
	ID          string            `yaml:"id"`
	Version     int               `yaml:"version"`
	Title       string            `yaml:"title"`
	Description string            `yaml:"description"`
	Severity    string            `yaml:"severity"`
	Attack      AttackSpec        `yaml:"attack"`
	Events      []string          `yaml:"events"`
	Condition   string            `yaml:"condition"`
	Allow       []string          `yaml:"allow"`
	Aggregate   *Aggregate        `yaml:"aggregate"`
	Suppress    string            `yaml:"suppress"`
	SuppressKey string            `yaml:"suppress_key"`
	Evidence    map[string]string `yaml:"evidence"`
	Response    ResponseSpec      `yaml:"response"`

	File string `yaml:"-"`
	Line int    `yaml:"-"`
	// keyLines maps a top-level key of the rule to its line.
	keyLines map[string]int
}

// AttackSpec holds the rule's ATT&CK IDs.
type AttackSpec struct {
	Tactics    []string `yaml:"tactics"`
	Techniques []string `yaml:"techniques"`
}

// Aggregate is a rule's windowed aggregation.
type Aggregate struct {
	Window    string `yaml:"window"`
	GroupBy   string `yaml:"group_by"`
	Distinct  string `yaml:"distinct"`
	Threshold int    `yaml:"threshold"`
	// Weight, when set, is a CEL int expression: how many occurrences the
	// event counts for (an authentication record saying "5 more failures"
	// counts 5). Zero or less adds nothing. Default 1.
	Weight string `yaml:"weight"`
	// FireOn, when set, is a CEL bool expression making the aggregate a
	// two-step sequence: matching events whose fire_on is false are
	// counted (with their weight) but never fire; an event whose fire_on
	// is true is not counted, and fires when its group has reached the
	// threshold within the window before it ("a success after N
	// failures from the same address").
	FireOn string `yaml:"fire_on"`
}

// ResponseSpec is the rule's response.
type ResponseSpec struct {
	Action string `yaml:"action"`
	Act    bool   `yaml:"act"`
}

// Test is one test case of a rule file.
type Test struct {
	Name   string
	Events []*event.Event
	Expect []Expect
	File   string
	Line   int
}

// Expect is one expected alert of a test.
type Expect struct {
	Rule     string         `yaml:"rule" json:"rule"`
	Evidence map[string]any `yaml:"evidence" json:"evidence,omitempty"`
}

// where is "file:line" for messages.
func (r *Rule) where(key string) string {
	if l, ok := r.keyLines[key]; ok {
		return fmt.Sprintf("%s:%d", r.File, l)
	}
	return fmt.Sprintf("%s:%d", r.File, r.Line)
}

type fileSpec struct {
	Lists map[string][]string `yaml:"lists"`
	Rules []Rule              `yaml:"rules"`
	Tests []testSpec          `yaml:"tests"`
}

type testSpec struct {
	Name   string      `yaml:"name"`
	Events []yaml.Node `yaml:"events"`
	Expect []Expect    `yaml:"expect"`
}

// testBaseTime is the time of a test's first event when it gives none;
// event i defaults to testBaseTime + i ms.
var testBaseTime = mustTime("2026-01-01T00:00:00Z")

// maxRuleFileSize bounds what the loader reads from one file.
const maxRuleFileSize = 8 << 20

// LoadFS loads the rule files of fsys matching the glob patterns (default
// "*.yaml"), in name order.
func LoadFS(fsys fs.FS, patterns ...string) (*RuleSet, error) {
	if len(patterns) == 0 {
		patterns = []string{"*.yaml"}
	}
	var names []string
	seen := map[string]bool{}
	for _, p := range patterns {
		m, err := fs.Glob(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("rule files %q: %w", p, err)
		}
		for _, n := range m {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	rs := newRuleSet()
	for _, n := range names {
		data, err := readLimited(fsys, n)
		if err != nil {
			return nil, err
		}
		if err := rs.add(n, data); err != nil {
			return nil, err
		}
	}
	return rs, nil
}

// LoadPaths loads rule files; a directory stands for its *.yaml files.
func LoadPaths(paths ...string) (*RuleSet, error) {
	rs := newRuleSet()
	for _, p := range paths {
		files := []string{p}
		if fi, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("rule file: %w", err)
		} else if fi.IsDir() {
			m, err := filepath.Glob(filepath.Join(p, "*.yaml"))
			if err != nil {
				return nil, fmt.Errorf("rule dir %q: %w", p, err)
			}
			sort.Strings(m)
			files = m
		}
		for _, f := range files {
			data, err := readLimited(os.DirFS(filepath.Dir(f)), filepath.Base(f))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			if err := rs.add(f, data); err != nil {
				return nil, err
			}
		}
	}
	return rs, nil
}

// LoadBytes parses one rule file's content; name is used in messages.
func LoadBytes(name string, data []byte) (*RuleSet, error) {
	rs := newRuleSet()
	if err := rs.add(name, data); err != nil {
		return nil, err
	}
	return rs, nil
}

func newRuleSet() *RuleSet {
	rs := &RuleSet{}
	rs.init()
	return rs
}

func readLimited(fsys fs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("rule file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxRuleFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("rule file %s: %w", name, err)
	}
	if len(data) > maxRuleFileSize {
		return nil, fmt.Errorf("rule file %s: larger than %d bytes", name, maxRuleFileSize)
	}
	return data, nil
}

// add parses one file into rs. Syntax, unknown keys and wrong value types
// are errors here; everything else is a Problem found by Lint.
func (rs *RuleSet) add(name string, data []byte) error {
	rs.init()
	// The node tree gives lines; the strict decode, unknown keys.
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return yamlError(name, err, nil)
	}
	ruleNodes, testNodes := sequenceItems(&root, "rules"), sequenceItems(&root, "tests")
	var spec fileSpec
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&spec); err != nil && !errors.Is(err, io.EOF) {
		return yamlError(name, err, ruleNodes)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: more than one YAML document", name)
	}

	f := &File{Name: name, Lists: spec.Lists, ListLines: map[string]int{}}
	if m := mappingValue(&root, "lists"); m != nil {
		for i := 0; i+1 < len(m.Content); i += 2 {
			f.ListLines[m.Content[i].Value] = m.Content[i].Line
		}
	}
	for i := range spec.Rules {
		r := &spec.Rules[i]
		r.File = name
		if i < len(ruleNodes) {
			r.Line = ruleNodes[i].Line
			r.keyLines = keyLines(ruleNodes[i])
		}
		f.Rules = append(f.Rules, r)
	}
	for i, ts := range spec.Tests {
		t := &Test{Name: ts.Name, Expect: ts.Expect, File: name}
		if i < len(testNodes) {
			t.Line = testNodes[i].Line
		}
		for j := range ts.Events {
			ev, err := decodeTestEvent(&ts.Events[j])
			if err != nil {
				return fmt.Errorf("%s:%d: test %q event %d: %w", name, ts.Events[j].Line, ts.Name, j+1, err)
			}
			if ev.Time.IsZero() {
				ev.Time = testBaseTime.Add(timeMillis(j))
			}
			if ev.Source == "" {
				ev.Source = "test"
			}
			t.Events = append(t.Events, ev)
		}
		f.Tests = append(f.Tests, t)
	}
	for n, l := range spec.Lists {
		if _, ok := rs.Lists[n]; !ok {
			rs.Lists[n] = l
			rs.listFirst[n] = name
		}
	}
	rs.Files = append(rs.Files, f)
	return nil
}

var yamlLineRe = regexp.MustCompile(`^(?:yaml: )?line (\d+): `)

// yamlError rewrites yaml's "line N: msg" messages as "file:N: msg", one
// per line, with the ID of the rule the line is in, and names the rule
// types as the file format does.
func yamlError(name string, err error, rules []*yaml.Node) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	r := strings.NewReplacer("detect.Rule", "rule", "detect.fileSpec", "rule file", "detect.testSpec", "test",
		"detect.Aggregate", "aggregate", "detect.ResponseSpec", "response", "detect.AttackSpec", "attack",
		"detect.Expect", "expect")
	for i, m := range msgs {
		m = r.Replace(m)
		if loc := yamlLineRe.FindStringSubmatch(m); loc != nil {
			line, _ := strconv.Atoi(loc[1])
			msgs[i] = fmt.Sprintf("%s:%s: %s%s", name, loc[1], ruleAt(rules, line), m[len(loc[0]):])
		} else {
			msgs[i] = fmt.Sprintf("%s: %s", name, strings.TrimPrefix(m, "yaml: "))
		}
	}
	return errors.New(strings.Join(msgs, "\n"))
}

// ruleAt names the rule whose node holds line, as "ID: ", or "".
func ruleAt(rules []*yaml.Node, line int) string {
	for i, n := range rules {
		if line < n.Line || i+1 < len(rules) && line >= rules[i+1].Line {
			continue
		}
		if n.Kind == yaml.MappingNode {
			for j := 0; j+1 < len(n.Content); j += 2 {
				if n.Content[j].Value == "id" && n.Content[j+1].Value != "" {
					return n.Content[j+1].Value + ": "
				}
			}
		}
	}
	return ""
}

// sequenceItems returns the items of the top-level sequence under key.
func sequenceItems(root *yaml.Node, key string) []*yaml.Node {
	if n := topLevel(root, key); n != nil && n.Kind == yaml.SequenceNode {
		return n.Content
	}
	return nil
}

// mappingValue returns the top-level mapping under key.
func mappingValue(root *yaml.Node, key string) *yaml.Node {
	if n := topLevel(root, key); n != nil && n.Kind == yaml.MappingNode {
		return n
	}
	return nil
}

func topLevel(root *yaml.Node, key string) *yaml.Node {
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return nil
	}
	m := root.Content[0]
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func keyLines(n *yaml.Node) map[string]int {
	out := map[string]int{}
	if n.Kind != yaml.MappingNode {
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		out[n.Content[i].Value] = n.Content[i].Line
		if n.Content[i+1].Kind == yaml.MappingNode { // aggregate.window, response.action, …
			for j := 0; j+1 < len(n.Content[i+1].Content); j += 2 {
				out[n.Content[i].Value+"."+n.Content[i+1].Content[j].Value] = n.Content[i+1].Content[j].Line
			}
		}
	}
	return out
}

// decodeTestEvent reads one test event. Test events use the JSON names of
// event.Event, so the YAML is turned into JSON and decoded strictly.
func decodeTestEvent(n *yaml.Node) (*event.Event, error) {
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, err
	}
	data, err := json.Marshal(jsonable(v))
	if err != nil {
		return nil, fmt.Errorf("not an event: %w", err)
	}
	return DecodeEvent(data)
}

// DecodeEvent decodes one event in its JSON form strictly: unknown fields
// and unknown kinds are errors.
func DecodeEvent(data []byte) (*event.Event, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var ev event.Event
	if err := dec.Decode(&ev); err != nil {
		return nil, fmt.Errorf("event: %w", err)
	}
	if dec.More() {
		return nil, errors.New("event: trailing data")
	}
	if !ev.Kind.Valid() {
		return nil, fmt.Errorf("event: unknown kind %q", ev.Kind)
	}
	return &ev, nil
}

// jsonable turns what yaml decodes into (map[any]any, time.Time in some
// places) into what encoding/json can encode.
func jsonable(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = jsonable(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = jsonable(e)
		}
		return x
	}
	return v
}
