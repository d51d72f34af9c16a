package accounts

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/vigilsec/vigil/internal/textio"
)

// Sudoers is what the accounts collector needs from one sudoers(5) file:
// the user specifications, the User_Alias definitions and the include
// directives, each with its line.
type Sudoers struct {
	Rules       []SudoRule
	UserAliases []SudoAlias
	Includes    []SudoInclude
}

// SudoRule is one user specification ("alice ALL=(ALL) ALL").
type SudoRule struct {
	// Line is the first physical line of the (possibly continued) rule.
	Line int
	// Text is the rule as written, continuation lines joined by a space.
	Text  string
	Users []ListItem
	// Grants is true when the rule allows at least one command, that is
	// its command list is not only negated ("!ALL") entries.
	Grants bool
}

// ListItem is one member of a sudoers list: a user, "%group", "%#gid",
// "#uid", "+netgroup", an alias name or ALL, possibly negated with '!'.
type ListItem struct {
	Negated bool
	Value   string
}

// SudoAlias is one User_Alias definition.
type SudoAlias struct {
	Line    int
	Name    string
	Members []ListItem
}

// SudoInclude is an #include/@include (Dir false) or
// #includedir/@includedir (Dir true) directive.
type SudoInclude struct {
	Line int
	Path string
	Dir  bool
}

// ParseSudoers reads one sudoers file. Lines ending in '\' continue on
// the next line. Defaults lines and Host/Runas/Cmnd aliases are checked
// for shape only. A malformed line gives a LineError naming its first
// line; the rest is still returned. err is a read error.
func ParseSudoers(r io.Reader) (s *Sudoers, lineErrs []*textio.LineError, err error) {
	s = &Sudoers{}
	lineErrs, err = eachLogicalLine(r, s.parseLine)
	return s, lineErrs, err
}

// eachLogicalLine reads r as sudo and doas read their files: a line
// ending in an unescaped '\' continues on the next, joined by a space.
// fn gets each logical line, the number of its first line, and its text
// (the trimmed physical lines joined by single spaces); an error from fn
// is a LineError at that first line. A physical or logical line longer
// than maxLine is a LineError and is not passed to fn. err is a read
// error.
func eachLogicalLine(r io.Reader, fn func(start int, logical, text string) error) (lineErrs []*textio.LineError, err error) {
	lr := newLineReader(r)
	var logical strings.Builder
	var text []string
	start := 0
	flush := func() {
		if logical.Len() > maxLine {
			lineErrs = append(lineErrs, &textio.LineError{Line: start, Err: errLineTooLong})
		} else if err := fn(start, logical.String(), strings.Join(text, " ")); err != nil {
			lineErrs = append(lineErrs, &textio.LineError{Line: start, Err: err})
		}
		logical.Reset()
		text = text[:0]
	}
	for lr.Next() {
		if lr.Long() {
			lineErrs = append(lineErrs, lr.Errorf("%w", errLineTooLong))
			logical.Reset()
			text = text[:0]
			continue
		}
		if logical.Len() == 0 && len(text) == 0 {
			start = lr.Num()
		}
		l := strings.TrimRight(string(lr.Bytes()), " \t\r")
		cont := continued(l)
		if cont {
			l = l[:len(l)-1]
		}
		logical.WriteString(l)
		if t := strings.TrimSpace(l); t != "" {
			text = append(text, t)
		}
		if cont {
			logical.WriteByte(' ')
			continue
		}
		flush()
	}
	if logical.Len() > 0 {
		// A continuation at the end of the file: parse what there is.
		flush()
	}
	return lineErrs, lr.Err()
}

// continued reports whether l ends in an unescaped backslash.
func continued(l string) bool {
	n := 0
	for i := len(l) - 1; i >= 0 && l[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

func (s *Sudoers) parseLine(lineNo int, line, text string) error {
	t := strings.TrimSpace(line)
	if t == "" {
		return nil
	}
	if inc, ok, err := parseInclude(t); ok {
		if err != nil {
			return err
		}
		inc.Line = lineNo
		s.Includes = append(s.Includes, inc)
		return nil
	}
	t = strings.TrimSpace(stripComment(t))
	if t == "" {
		return nil
	}
	p := &sudoParser{s: t}
	kw := p.ident()
	switch {
	case kw == "Defaults" && (p.eof() || strings.ContainsRune(" \t:@>!", rune(p.peek()))):
		return nil
	case kw == "User_Alias" || kw == "Runas_Alias" || kw == "Host_Alias" || kw == "Cmnd_Alias" || kw == "Cmd_Alias":
		if !p.eof() && !isSpace(p.peek()) {
			break // a user name that happens to start like a keyword
		}
		aliases, err := p.aliases(kw)
		if err != nil {
			return err
		}
		if kw == "User_Alias" {
			for i := range aliases {
				aliases[i].Line = lineNo
			}
			s.UserAliases = append(s.UserAliases, aliases...)
		}
		return nil
	}
	p.i = 0
	rule, err := p.userSpec()
	if err != nil {
		return err
	}
	rule.Line, rule.Text = lineNo, text
	s.Rules = append(s.Rules, rule)
	return nil
}

// parseInclude recognises the include directives. ok is false for other
// lines (including comments that merely start with "#include").
func parseInclude(t string) (inc SudoInclude, ok bool, err error) {
	var rest string
	for _, d := range []struct {
		kw  string
		dir bool
	}{{"#includedir", true}, {"@includedir", true}, {"#include", false}, {"@include", false}} {
		r, found := strings.CutPrefix(t, d.kw)
		if found && (r == "" || isSpace(r[0])) {
			rest, inc.Dir, ok = strings.TrimSpace(r), d.dir, true
			break
		}
	}
	if !ok {
		return inc, false, nil
	}
	if strings.HasPrefix(rest, `"`) {
		end := strings.IndexByte(rest[1:], '"')
		if end < 0 {
			return inc, true, errors.New("unterminated quoted include path")
		}
		rest = rest[1 : end+1]
	} else if i := strings.IndexAny(rest, " \t"); i >= 0 {
		rest = rest[:i]
	}
	if rest == "" {
		return inc, true, errors.New("include directive without a path")
	}
	inc.Path = rest
	return inc, true, nil
}

// stripComment cuts a '#' comment, leaving "#123" uids and quoted or
// escaped '#' alone.
func stripComment(s string) string {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case c == '#' && !quoted:
			if i+1 < len(s) && (isDigit(s[i+1]) || s[i+1] == '-' && i+2 < len(s) && isDigit(s[i+2])) {
				continue
			}
			return s[:i]
		}
	}
	return s
}

type sudoParser struct {
	s string
	i int
}

func (p *sudoParser) eof() bool  { return p.i >= len(p.s) }
func (p *sudoParser) peek() byte { return p.s[p.i] }

func (p *sudoParser) skipSpace() {
	for !p.eof() && isSpace(p.peek()) {
		p.i++
	}
}

// ident reads [A-Za-z0-9_]* at the current position.
func (p *sudoParser) ident() string {
	j := p.i
	for j < len(p.s) && isIdent(p.s[j]) {
		j++
	}
	w := p.s[p.i:j]
	p.i = j
	return w
}

// word reads a quoted string or a run of characters up to whitespace or
// one of stop, honouring backslash escapes, and returns it unescaped.
func (p *sudoParser) word(stop string) (string, error) {
	var b strings.Builder
	if !p.eof() && p.peek() == '"' {
		for p.i++; !p.eof(); p.i++ {
			c := p.peek()
			switch {
			case c == '\\' && p.i+1 < len(p.s):
				p.i++
				b.WriteByte(p.peek())
			case c == '"':
				p.i++
				return b.String(), nil
			default:
				b.WriteByte(c)
			}
		}
		return "", errors.New("unterminated quoted string")
	}
	for ; !p.eof(); p.i++ {
		c := p.peek()
		if isSpace(c) || strings.IndexByte(stop, c) >= 0 {
			break
		}
		if c == '\\' && p.i+1 < len(p.s) {
			p.i++
			c = p.peek()
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

// list reads a comma-separated list of possibly negated words.
func (p *sudoParser) list(what, stop string) ([]ListItem, error) {
	var items []ListItem
	for {
		p.skipSpace()
		var it ListItem
		for !p.eof() && p.peek() == '!' {
			it.Negated = !it.Negated
			p.i++
			p.skipSpace()
		}
		w, err := p.word(stop)
		if err != nil {
			return nil, err
		}
		if w == "" {
			if p.eof() {
				return nil, fmt.Errorf("missing %s", what)
			}
			return nil, fmt.Errorf("unexpected %q in %s", p.peek(), what)
		}
		it.Value = w
		items = append(items, it)
		p.skipSpace()
		if p.eof() || p.peek() != ',' {
			return items, nil
		}
		p.i++
	}
}

func (p *sudoParser) expect(c byte, after string) error {
	p.skipSpace()
	if p.eof() {
		return fmt.Errorf("missing %q after %s", c, after)
	}
	if p.peek() != c {
		return fmt.Errorf("unexpected %q after %s, want %q", p.peek(), after, c)
	}
	p.i++
	return nil
}

// aliases reads "NAME = list [: NAME = list ...]" after an alias keyword.
// Only User_Alias and Runas_Alias lists are parsed; Host and Cmnd alias
// lists (IPv6 addresses, digests) are checked up to the first '='.
func (p *sudoParser) aliases(kw string) ([]SudoAlias, error) {
	var out []SudoAlias
	for {
		p.skipSpace()
		name := p.ident()
		if !isAliasName(name) {
			if name == "" && !p.eof() {
				name = p.s[p.i:min(len(p.s), p.i+1)]
			}
			return nil, fmt.Errorf("%s: invalid alias name %q", kw, name)
		}
		if err := p.expect('=', kw+" "+name); err != nil {
			return nil, err
		}
		if kw != "User_Alias" && kw != "Runas_Alias" {
			p.skipSpace()
			if p.eof() {
				return nil, fmt.Errorf("%s %s: empty alias", kw, name)
			}
			return out, nil
		}
		members, err := p.list(kw+" "+name+" members", " \t,:=()")
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", kw, name, err)
		}
		out = append(out, SudoAlias{Name: name, Members: members})
		p.skipSpace()
		if p.eof() {
			return out, nil
		}
		if p.peek() != ':' {
			return nil, fmt.Errorf("%s %s: unexpected %q", kw, name, p.peek())
		}
		p.i++
	}
}

var (
	sudoTags = map[string]bool{
		"NOPASSWD": true, "PASSWD": true, "NOEXEC": true, "EXEC": true,
		"SETENV": true, "NOSETENV": true, "LOG_INPUT": true, "NOLOG_INPUT": true,
		"LOG_OUTPUT": true, "NOLOG_OUTPUT": true, "MAIL": true, "NOMAIL": true,
		"FOLLOW": true, "NOFOLLOW": true, "INTERCEPT": true, "NOINTERCEPT": true,
	}
	sudoOptions = map[string]bool{
		"ROLE": true, "TYPE": true, "CWD": true, "CHROOT": true, "NOTBEFORE": true,
		"NOTAFTER": true, "TIMEOUT": true, "APPARMOR_PROFILE": true, "PRIVS": true, "LIMITPRIVS": true,
	}
	sudoDigests = map[string]bool{"sha224": true, "sha256": true, "sha384": true, "sha512": true}
)

// userSpec reads "users hosts = cmnds [: hosts = cmnds ...]".
func (p *sudoParser) userSpec() (SudoRule, error) {
	var r SudoRule
	users, err := p.list("user list", " \t,=:()")
	if err != nil {
		return r, err
	}
	r.Users = users
	for {
		if _, err := p.list("host list", " \t,="); err != nil {
			return r, err
		}
		if err := p.expect('=', "host list"); err != nil {
			return r, err
		}
		for {
			grants, err := p.cmndSpec()
			if err != nil {
				return r, err
			}
			r.Grants = r.Grants || grants
			p.skipSpace()
			if p.eof() {
				return r, nil
			}
			c := p.peek()
			p.i++
			if c == ':' {
				break // another host list follows
			}
		}
	}
}

// cmndSpec reads "[(runas)] [OPTION=value]... [TAG:]... [digest] [!]command"
// and reports whether it allows the command (is not negated).
func (p *sudoParser) cmndSpec() (bool, error) {
	p.skipSpace()
	if !p.eof() && p.peek() == '(' {
		end := strings.IndexByte(p.s[p.i:], ')')
		if end < 0 {
			return false, errors.New("unterminated runas list")
		}
		p.i += end + 1
	}
	for {
		p.skipSpace()
		save := p.i
		id := p.ident()
		switch {
		case id != "" && !p.eof() && p.peek() == '=' && sudoOptions[id]:
			p.i++
			if _, err := p.word(""); err != nil {
				return false, err
			}
			continue
		case id != "" && !p.eof() && p.peek() == ':' && sudoTags[id]:
			p.i++
			continue
		case id != "" && !p.eof() && p.peek() == ':' && sudoDigests[id]:
			p.i++
			if _, err := p.word(","); err != nil {
				return false, err
			}
			if !p.eof() && p.peek() == ',' {
				p.i++ // "sha256:x,sha512:y /bin/cmd"
			}
			continue
		}
		p.i = save
		break
	}
	negated := false
	for !p.eof() && p.peek() == '!' {
		negated = !negated
		p.i++
		p.skipSpace()
	}
	start := p.i
	for ; !p.eof(); p.i++ {
		c := p.peek()
		if c == '\\' {
			p.i++
			continue
		}
		if c == ',' || c == ':' {
			break
		}
	}
	p.i = min(p.i, len(p.s))
	if strings.TrimSpace(p.s[start:p.i]) == "" {
		return false, errors.New("missing command")
	}
	return !negated, nil
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'
}
func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isIdent(c byte) bool {
	return c == '_' || isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// isAliasName reports whether s has the shape sudo gives alias names.
func isAliasName(s string) bool {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || isDigit(c) || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return s != "ALL"
}

// sudoMatch is sudo's three-valued match result.
type sudoMatch int

const (
	matchUnspec sudoMatch = iota
	matchAllow
	matchDeny
)

// sudoUser is what sudoers lists are matched against.
type sudoUser struct {
	name   string
	uid    int
	groups map[string]bool // names of the primary and supplementary groups
	gids   map[int]bool
}

// sudoPolicy is the merged content of sudoers and its includes.
type sudoPolicy struct {
	rules   []policyRule
	aliases map[string][]ListItem
}

type policyRule struct {
	source string // "file:line: text"
	users  []ListItem
	grants bool
}

// matchList evaluates a sudoers user list as sudo does: the last item
// that matches decides, a negated match denying.
func (pol *sudoPolicy) matchList(items []ListItem, u *sudoUser, depth int) sudoMatch {
	res := matchUnspec
	for _, it := range items {
		m := pol.matchItem(it.Value, u, depth)
		if m == matchUnspec {
			continue
		}
		if it.Negated {
			if m == matchAllow {
				m = matchDeny
			} else {
				m = matchAllow
			}
		}
		res = m
	}
	return res
}

func (pol *sudoPolicy) matchItem(v string, u *sudoUser, depth int) sudoMatch {
	allow := func(ok bool) sudoMatch {
		if ok {
			return matchAllow
		}
		return matchUnspec
	}
	switch {
	case v == "ALL":
		return matchAllow
	case strings.HasPrefix(v, "%"):
		g := strings.TrimPrefix(v[1:], ":")
		if id, ok := strings.CutPrefix(g, "#"); ok {
			gid, err := strconv.Atoi(id)
			return allow(err == nil && u.gids[gid])
		}
		return allow(u.groups[g])
	case strings.HasPrefix(v, "#"):
		uid, err := strconv.Atoi(v[1:])
		return allow(err == nil && uid == u.uid)
	case strings.HasPrefix(v, "+"):
		return matchUnspec // netgroups need NIS or LDAP
	case isAliasName(v):
		members, ok := pol.aliases[v]
		if !ok || depth > 64 {
			return matchUnspec
		}
		return pol.matchList(members, u, depth+1)
	}
	return allow(v == u.name)
}

// forUser returns the rules whose user list matches u, and whether any
// of them grants a command.
func (pol *sudoPolicy) forUser(u *sudoUser) (rules []string, grants bool) {
	for _, r := range pol.rules {
		if pol.matchList(r.users, u, 0) == matchAllow {
			rules = append(rules, r.source)
			grants = grants || r.grants
		}
	}
	return rules, grants
}
