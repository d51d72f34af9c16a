package osv

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// MaxRecordSize bounds one OSV record. The largest real records (Ubuntu
// and Debian ones with long version lists) are a few hundred kilobytes.
const MaxRecordSize = 16 << 20

// maxYAMLNodes bounds the nodes visited while converting one YAML record,
// counting each expansion of an alias, so "billion laughs" documents fail.
const maxYAMLNodes = 1 << 18

// DecodeJSON decodes and validates one OSV record in JSON.
func DecodeJSON(data []byte) (*Vulnerability, error) {
	if len(data) > MaxRecordSize {
		return nil, fmt.Errorf("record larger than %d bytes", MaxRecordSize)
	}
	v := new(Vulnerability)
	if err := json.Unmarshal(data, v); err != nil {
		return nil, err
	}
	if err := v.validate(); err != nil {
		return nil, err
	}
	return v, nil
}

// DecodeYAML decodes and validates one OSV record in YAML, as
// pypa/advisory-database writes them. Scalars are read as the strings
// they are written as (an unquoted "introduced: 0" or "fixed: 1.10" is
// the version "0" or "1.10", not a number), except inside
// database_specific and ecosystem_specific, whose values keep their
// YAML types. Timestamps become RFC 3339 times.
func DecodeYAML(data []byte) (*Vulnerability, error) {
	if len(data) > MaxRecordSize {
		return nil, fmt.Errorf("record larger than %d bytes", MaxRecordSize)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	budget := yamlBudget{nodes: maxYAMLNodes}
	tree, err := yamlToJSON(&doc, false, &budget)
	if err != nil {
		return nil, err
	}
	if _, ok := tree.(map[string]any); !ok {
		return nil, errors.New("record is not a YAML mapping")
	}
	js, err := json.Marshal(tree)
	if err != nil {
		return nil, err
	}
	return DecodeJSON(js)
}

// maxYAMLDepth bounds nesting (OSV records nest five levels deep), which
// also stops self-referencing aliases early.
const maxYAMLDepth = 32

type yamlBudget struct{ nodes, depth int }

// yamlToJSON converts a YAML node into a tree encoding/json can marshal.
// typed says whether scalars keep their YAML types (bool, number, null)
// or are taken as the strings written.
func yamlToJSON(n *yaml.Node, typed bool, budget *yamlBudget) (any, error) {
	if budget.nodes--; budget.nodes < 0 {
		return nil, errors.New("yaml: too many nodes (alias expansion?)")
	}
	if budget.depth++; budget.depth > maxYAMLDepth {
		return nil, fmt.Errorf("yaml line %d: nested more than %d levels", n.Line, maxYAMLDepth)
	}
	defer func() { budget.depth-- }()
	switch n.Kind {
	case 0:
		return nil, errors.New("empty yaml document")
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, errors.New("empty yaml document")
		}
		return yamlToJSON(n.Content[0], typed, budget)
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, errors.New("yaml: unresolved alias")
		}
		return yamlToJSON(n.Alias, typed, budget)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := yamlToJSON(c, typed, budget)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("yaml line %d: mapping key is not a scalar", k.Line)
			}
			if k.ShortTag() == "!!merge" {
				return nil, fmt.Errorf("yaml line %d: merge keys are not supported", k.Line)
			}
			if _, dup := out[k.Value]; dup {
				return nil, fmt.Errorf("yaml line %d: duplicate key %q", k.Line, k.Value)
			}
			v, err := yamlToJSON(n.Content[i+1], typed || k.Value == "database_specific" || k.Value == "ecosystem_specific", budget)
			if err != nil {
				return nil, err
			}
			out[k.Value] = v
		}
		return out, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			if typed || n.Value == "" || n.Value == "~" || n.Value == "null" || n.Value == "Null" || n.Value == "NULL" {
				return nil, nil
			}
			return n.Value, nil
		case "!!timestamp":
			var t time.Time
			if err := n.Decode(&t); err != nil {
				return nil, fmt.Errorf("yaml line %d: %w", n.Line, err)
			}
			return t.Format(time.RFC3339Nano), nil
		case "!!bool", "!!int", "!!float":
			if !typed {
				return n.Value, nil
			}
			var v any
			if err := n.Decode(&v); err != nil {
				return nil, fmt.Errorf("yaml line %d: %w", n.Line, err)
			}
			if f, ok := v.(float64); ok && (f != f || f > 1e308 || f < -1e308) {
				return n.Value, nil // NaN and infinities have no JSON form
			}
			return v, nil
		}
		return n.Value, nil
	}
	return nil, fmt.Errorf("yaml line %d: unexpected node kind %d", n.Line, n.Kind)
}

// validate checks what the index relies on.
func (v *Vulnerability) validate() error {
	if v.ID == "" {
		return errors.New("record has no id")
	}
	if len(v.ID) > 256 || strings.ContainsFunc(v.ID, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) {
		return fmt.Errorf("id %q: not a valid OSV ID", truncate(v.ID))
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
