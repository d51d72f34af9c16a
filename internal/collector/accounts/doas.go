package accounts

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/vigilsec/vigil/internal/textio"
)

// DoasRule is one rule of doas.conf(5):
// "permit|deny [options] identity [as target] [cmd command [args ...]]".
type DoasRule struct {
	Line   int
	Text   string
	Permit bool
	// Identity is a user name or uid, or ":group" / ":gid".
	Identity string
	// Restricted is true when the rule names a target user or a command,
	// so it does not cover everything the identity may run.
	Restricted bool
}

// ParseDoas reads one doas.conf. Like sudoers, a line ending in '\'
// continues on the next; '#' starts a comment outside quotes.
func ParseDoas(r io.Reader) (rules []DoasRule, lineErrs []*textio.LineError, err error) {
	lineErrs, err = eachLogicalLine(r, func(start int, logical, text string) error {
		rule, ok, err := parseDoasLine(logical)
		if ok && err == nil {
			rule.Line, rule.Text = start, text
			rules = append(rules, rule)
		}
		return err
	})
	return rules, lineErrs, err
}

// doasWords splits a doas.conf line into words: quotes group, '\'
// escapes, '#' outside quotes ends the line, and '{' '}' stand alone.
func doasWords(s string) ([]string, error) {
	var words []string
	var b strings.Builder
	inWord, quoted := false, false
	end := func() {
		if inWord {
			words = append(words, b.String())
			b.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
			inWord = true
		case c == '"':
			quoted = !quoted
			inWord = true
		case quoted:
			b.WriteByte(c)
		case c == '#':
			end()
			return words, nil
		case isSpace(c):
			end()
		case c == '{' || c == '}':
			end()
			words = append(words, string(c))
		default:
			b.WriteByte(c)
			inWord = true
		}
	}
	if quoted {
		return nil, errors.New("unterminated quoted string")
	}
	end()
	return words, nil
}

// parseDoasLine parses one logical line; ok is false for blank and
// comment lines.
func parseDoasLine(s string) (r DoasRule, ok bool, err error) {
	w, err := doasWords(s)
	if err != nil || len(w) == 0 {
		return r, false, err
	}
	switch w[0] {
	case "permit":
		r.Permit = true
	case "deny":
	default:
		return r, false, fmt.Errorf("unknown action %q, want permit or deny", w[0])
	}
	i := 1
options:
	for ; i < len(w); i++ {
		switch w[i] {
		case "nopass", "nolog", "persist", "keepenv":
		case "setenv":
			if i+1 >= len(w) || w[i+1] != "{" {
				return r, false, errors.New("setenv without '{'")
			}
			j := i + 2
			for j < len(w) && w[j] != "}" {
				j++
			}
			if j == len(w) {
				return r, false, errors.New("setenv without '}'")
			}
			i = j
		default:
			break options
		}
	}
	if i >= len(w) {
		return r, false, errors.New("missing identity")
	}
	r.Identity = w[i]
	if r.Identity == "" || r.Identity == ":" || r.Identity == "{" || r.Identity == "}" {
		return r, false, fmt.Errorf("invalid identity %q", r.Identity)
	}
	i++
	if i < len(w) && w[i] == "as" {
		if i+1 >= len(w) {
			return r, false, errors.New("'as' without a target")
		}
		r.Restricted = true
		i += 2
	}
	if i < len(w) && w[i] == "cmd" {
		if i+1 >= len(w) {
			return r, false, errors.New("'cmd' without a command")
		}
		r.Restricted = true
		i += 2
		if i < len(w) && w[i] == "args" {
			i = len(w)
		}
	}
	if i < len(w) {
		return r, false, fmt.Errorf("unexpected %q", w[i])
	}
	return r, true, nil
}

// matches reports whether the rule's identity is u.
func (r *DoasRule) matches(u *sudoUser) bool {
	if g, ok := strings.CutPrefix(r.Identity, ":"); ok {
		if u.groups[g] {
			return true
		}
		gid, err := strconv.Atoi(g)
		return err == nil && u.gids[gid]
	}
	if r.Identity == u.name {
		return true
	}
	uid, err := strconv.Atoi(r.Identity)
	return err == nil && uid == u.uid
}

// doasPolicy holds the rules of doas.conf files, in order, with sources.
type doasPolicy struct {
	rules   []DoasRule
	sources []string
}

// forUser returns the rules naming u and whether u may run commands as
// another user: some permit rule matches and no later unrestricted deny
// rule (doas: the last matching rule wins) takes it back.
func (pol *doasPolicy) forUser(u *sudoUser) (rules []string, grants bool) {
	for i := range pol.rules {
		r := &pol.rules[i]
		if !r.matches(u) {
			continue
		}
		rules = append(rules, pol.sources[i])
		switch {
		case r.Permit:
			grants = true
		case !r.Restricted:
			grants = false
		}
	}
	return rules, grants
}
