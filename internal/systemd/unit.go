// Package systemd reads systemd unit files from a root tree: the unit-file
// syntax (sections, assignments, continuation lines, drop-ins) and which
// units are enabled or masked there. It runs nothing and talks to no
// systemd; the scheduled_tasks and startup_items collectors share it.
package systemd

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/vigilsec/vigil/internal/textio"
)

// maxLine is systemd's LONG_LINE_MAX: a longer (logical) line makes
// systemd refuse the whole file, and so does Parse.
const maxLine = 1 << 20

// ErrLineTooLong is wrapped by Parse's error for a line over 1 MiB.
var ErrLineTooLong = textio.ErrTooLong

// Entry is one assignment of a unit file.
type Entry struct {
	Section string
	Key     string
	// Value is trimmed; "" is an empty assignment, which resets a list.
	Value string
	// Line is the line number where the assignment starts.
	Line int
}

// SyntaxError is a line systemd would log and ignore.
type SyntaxError struct {
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%d: %s", e.Line, e.Msg) }

// Parse reads unit-file syntax as systemd's config_parse does: "[Section]"
// headers, "Key=Value" assignments with whitespace trimmed around key and
// value, comment lines starting with '#' or ';' (also in the middle of a
// continued line), and a trailing unescaped backslash joining the next
// line with a space. Malformed lines are returned as syntax errors and
// skipped; err is set only when r fails or a line is too long.
func Parse(r io.Reader) (entries []Entry, bad []*SyntaxError, err error) {
	// maxLine bytes of a line, then its "\r\n".
	lr := textio.NewReader(r, maxLine+2)
	lr.FailLong = true
	var (
		section  string
		cont     []byte // pending continuation
		contLine int
	)
	for lr.Next() {
		raw, lineNo := lr.Bytes(), lr.Num()
		if lineNo == 1 {
			raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
		}
		l := bytes.TrimLeft(raw, " \t\n\r")
		if len(l) > 0 && (l[0] == '#' || l[0] == ';') {
			continue
		}
		var p []byte
		start := lineNo
		if cont != nil {
			if len(cont)+len(raw) > maxLine {
				return nil, nil, fmt.Errorf("line %d: %w", contLine, ErrLineTooLong)
			}
			cont = append(cont, raw...)
			p, start = cont, contLine
		} else {
			p = raw
		}
		if escapedAtEnd(p) {
			p[len(p)-1] = ' '
			if cont == nil {
				cont = append([]byte(nil), p...)
				contLine = lineNo
			}
			continue
		}
		cont = nil
		if e, se := parseLine(&section, p, start); se != nil {
			bad = append(bad, se)
		} else if e != nil {
			entries = append(entries, *e)
		}
	}
	if err := lr.Err(); err != nil {
		return nil, nil, fmt.Errorf("line %d: %w", lr.Num(), err)
	}
	if cont != nil { // a backslash on the last line: systemd parses what it has
		if e, se := parseLine(&section, cont, contLine); se != nil {
			bad = append(bad, se)
		} else if e != nil {
			entries = append(entries, *e)
		}
	}
	return entries, bad, nil
}

// escapedAtEnd reports whether p ends in a backslash that is not itself
// escaped (systemd walks the line toggling an escape flag).
func escapedAtEnd(p []byte) bool {
	escaped := false
	for _, c := range p {
		if escaped {
			escaped = false
		} else if c == '\\' {
			escaped = true
		}
	}
	return escaped
}

func parseLine(section *string, p []byte, line int) (*Entry, *SyntaxError) {
	l := strings.TrimSpace(string(p))
	if l == "" {
		return nil, nil
	}
	if l[0] == '[' {
		if len(l) < 2 || l[len(l)-1] != ']' {
			*section = ""
			return nil, &SyntaxError{Line: line, Msg: fmt.Sprintf("invalid section header %q", l)}
		}
		*section = l[1 : len(l)-1]
		if *section == "" {
			return nil, &SyntaxError{Line: line, Msg: "empty section name"}
		}
		return nil, nil
	}
	if *section == "" {
		return nil, &SyntaxError{Line: line, Msg: "assignment outside of section"}
	}
	k, v, ok := strings.Cut(l, "=")
	if !ok {
		return nil, &SyntaxError{Line: line, Msg: "missing '='"}
	}
	k = strings.TrimSpace(k)
	if k == "" {
		return nil, &SyntaxError{Line: line, Msg: "empty key"}
	}
	return &Entry{Section: *section, Key: k, Value: strings.TrimSpace(v), Line: line}, nil
}

// Unit is a parsed unit: its fragment file with drop-ins applied.
type Unit struct {
	// Name is the unit name ("getty@tty1.service").
	Name string
	// Path is the fragment file, absolute inside the root; "" when the
	// unit has only drop-ins.
	Path string
	// DropIns are the drop-in files applied, in order.
	DropIns []string
	values  map[string][]string
}

// Apply adds entries to u in order. An empty value resets the key, so
// "ExecStart=" in a drop-in clears the fragment's ExecStart lines.
func (u *Unit) Apply(entries []Entry) {
	if u.values == nil {
		u.values = make(map[string][]string)
	}
	for _, e := range entries {
		k := e.Section + "\x00" + e.Key
		if e.Value == "" {
			delete(u.values, k)
			continue
		}
		u.values[k] = append(u.values[k], e.Value)
	}
}

// Values returns every value assigned to key in section since the last
// reset, in order.
func (u *Unit) Values(section, key string) []string {
	return u.values[section+"\x00"+key]
}

// Value returns the last value of key in section, the one systemd uses
// for a single-valued setting, or "".
func (u *Unit) Value(section, key string) string {
	v := u.values[section+"\x00"+key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// Words splits every value of a list setting such as WantedBy= into its
// space-separated words.
func (u *Unit) Words(section, key string) []string {
	var out []string
	for _, v := range u.Values(section, key) {
		out = append(out, strings.Fields(v)...)
	}
	return out
}
