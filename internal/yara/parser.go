package yara

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"
)

var errUnsupported = errors.New("unsupported")

type metaKV struct {
	key string
	val any
}

type rule struct {
	name    string
	ns      string
	tags    []string
	meta    []metaKV
	global  bool
	private bool
	strs    []int // global string indices
	cond    expr
	src     string
	line    int
}

// sstring is one declared string of a rule.
type sstring struct {
	id      string
	rule    int
	private bool
	used    bool
	hex     bool // hex string (yara -s prints its data as hex bytes)
	// fixedOff >= 0 when the string is only used as "$a at <constant>": like libyara we
	// then record only the match at that offset.
	fixedOff int64
	notFixed bool
	vars     []*variant
}

// variant is one concrete byte form of a string (ascii/wide, one xor key, one base64
// offset); each has its own atom and verifier.
type variant struct {
	str      int
	lit      []byte // literal form (re0 == nil)
	nocase   bool
	fullword bool
	wide     bool
	re0      *regexp.Regexp // anchored at the candidate when it is offset 0
	reCtx    *regexp.Regexp // anchored, preceded by one context byte
	search   *regexp.Regexp // unanchored, for strings without atoms
	anchored bool           // pattern starts with ^
	window   int            // max bytes a pattern match may span (0: rest of data)
	atom     []byte         // lowercased; nil: no usable atom
	atomOff  int
	prefix   []*byteSet     // fixed-offset classes at the start, checked before the regexp
	fixed    bool           // the pattern is exactly prefix: no regexp needed
	first    *byteSet       // bytes a match can start with (slow path filter)
	reBytes  *regexp.Regexp // anchored, on raw []byte, when the pattern is byteSafe
	split    *splitPattern  // hex "P1 [lo-hi] P2" verified without a regexp
}

// splitPattern is a hex string made of two fixed parts around one lazy jump.
type splitPattern struct {
	p1, p2 []*byteSet
	lo, hi int // hi -1: unbounded
}

// splitHex recognises "P1 [lo-hi] P2" with fixed P1 and P2.
func splitHex(n *pnode) *splitPattern {
	if n.op != pConcat {
		return nil
	}
	jump := -1
	for i, s := range n.subs {
		if s.op == pRepeat && !s.greedy && s.min != s.max && s.subs[0].op == pClass && s.subs[0].set.count() == 256 {
			if jump >= 0 {
				return nil
			}
			jump = i
		} else if !s.fixedOnly() {
			return nil
		}
	}
	if jump <= 0 || jump == len(n.subs)-1 {
		return nil
	}
	sp := &splitPattern{lo: n.subs[jump].min, hi: n.subs[jump].max}
	if !(&pnode{op: pConcat, subs: n.subs[:jump]}).prefix(&sp.p1, 1<<16) ||
		!(&pnode{op: pConcat, subs: n.subs[jump+1:]}).prefix(&sp.p2, 1<<16) {
		return nil
	}
	return sp
}

type parser struct {
	lx        *lexer
	tok       token
	peeked    []token
	opts      CompileOptions
	r         *Rules
	warnings  []Warning
	imports   map[string]bool
	ruleNames map[string]int
	cur       *rule
	curStrs   map[string]int // id → global index, for the rule being parsed
	anonymous []int
	loopVars  []string
	inForOf   int
	unsup     string
	dropped   map[string]bool
	depth     int
	incDepth  int
}

func (p *parser) next() {
	if len(p.peeked) > 0 {
		p.tok = p.peeked[0]
		p.peeked = p.peeked[1:]
		return
	}
	p.tok = p.lx.next()
}

func (p *parser) peek() token {
	if len(p.peeked) == 0 {
		p.peeked = append(p.peeked, p.lx.next())
	}
	return p.peeked[0]
}

func (p *parser) errf(format string, args ...any) {
	e := &CompileError{Source: p.lx.src, Line: p.tok.line, Col: p.tok.col, Msg: fmt.Sprintf(format, args...)}
	if p.cur != nil {
		e.Rule = p.cur.name
	}
	panic(bailout{e})
}

func (p *parser) is(s string) bool {
	return (p.tok.kind == tOp || p.tok.kind == tIdent) && p.tok.s == s
}

func (p *parser) expect(s string) {
	if !p.is(s) {
		p.errf("expected %q, found %s", s, p.tok)
	}
	p.next()
}

func (p *parser) ident() string {
	if p.tok.kind != tIdent {
		p.errf("expected identifier, found %s", p.tok)
	}
	s := p.tok.s
	p.next()
	return s
}

var keywords = map[string]bool{
	"all": true, "and": true, "any": true, "ascii": true, "at": true, "base64": true,
	"base64wide": true, "condition": true, "contains": true, "defined": true,
	"endswith": true, "entrypoint": true, "false": true, "filesize": true, "for": true,
	"fullword": true, "global": true, "import": true, "icontains": true, "iendswith": true,
	"iequals": true, "in": true, "include": true, "int16": true, "int16be": true,
	"int32": true, "int32be": true, "int8": true, "int8be": true, "istartswith": true,
	"matches": true, "meta": true, "nocase": true, "none": true, "not": true, "of": true,
	"or": true, "private": true, "rule": true, "startswith": true, "strings": true,
	"them": true, "true": true, "uint16": true, "uint16be": true, "uint32": true,
	"uint32be": true, "uint8": true, "uint8be": true, "wide": true, "xor": true,
}

// parseFile parses one source into p.r.
func (p *parser) parseFile() {
	p.next()
	for p.tok.kind != tEOF {
		switch {
		case p.is("import"):
			p.next()
			if p.tok.kind != tText {
				p.errf("expected module name string after import")
			}
			name := p.tok.s
			if !knownModules[name] {
				if !p.opts.SkipUnsupported {
					p.errf("module %s is not supported", name)
				}
				p.warnf(p.tok.line, "", "module %s is not supported; rules using it are skipped", name)
			}
			p.imports[name] = true
			p.next()
		case p.is("include"):
			p.next()
			if p.tok.kind != tText {
				p.errf("expected file name string after include")
			}
			p.include(p.tok.s)
			p.next()
		default:
			p.parseRule()
		}
	}
}

func (p *parser) include(name string) {
	if p.opts.IncludeFS == nil {
		p.errf("include %q: includes are disabled", name)
	}
	if p.incDepth >= 16 {
		p.errf("include %q: includes nested too deep", name)
	}
	full := name
	if !path.IsAbs(name) {
		full = path.Join(path.Dir(p.lx.src), name)
	}
	full = strings.TrimPrefix(path.Clean(full), "/")
	data, err := fs.ReadFile(p.opts.IncludeFS, full)
	if err != nil {
		p.errf("include %q: %v", name, err)
	}
	sub := *p
	sub.lx = newLexer(full, data)
	sub.peeked = nil
	sub.incDepth++
	sub.parseFile()
	p.warnings = sub.warnings
	p.r = sub.r
}

func (p *parser) warnf(line int, rule, format string, args ...any) {
	p.warnings = append(p.warnings, Warning{Source: p.lx.src, Line: line, Rule: rule, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) parseRule() {
	r := &rule{ns: "default", src: p.lx.src}
	for p.is("private") || p.is("global") {
		if p.tok.s == "private" {
			r.private = true
		} else {
			r.global = true
		}
		p.next()
	}
	if !p.is("rule") {
		p.errf("expected rule, found %s", p.tok)
	}
	r.line = p.tok.line
	p.next()
	if p.tok.kind != tIdent || keywords[p.tok.s] {
		p.errf("expected rule name, found %s", p.tok)
	}
	r.name = p.tok.s
	if _, dup := p.ruleNames[r.name]; dup || p.dropped[r.name] {
		p.errf("duplicated rule identifier %q", r.name)
	}
	p.next()
	p.cur, p.curStrs, p.anonymous, p.unsup = r, map[string]int{}, nil, ""
	defer func() { p.cur = nil }()
	firstStr := len(p.r.strs)
	firstVar := len(p.r.vars)
	if p.is(":") {
		p.next()
		seen := map[string]bool{}
		for p.tok.kind == tIdent && !p.is("{") {
			if seen[p.tok.s] {
				p.errf("duplicated tag %q", p.tok.s)
			}
			seen[p.tok.s] = true
			r.tags = append(r.tags, p.tok.s)
			p.next()
		}
	}
	p.expect("{")
	if p.is("meta") {
		p.next()
		p.expect(":")
		for p.tok.kind == tIdent && !p.is("strings") && !p.is("condition") {
			key := p.ident()
			p.expect("=")
			var v any
			switch {
			case p.tok.kind == tText:
				v = p.tok.s
			case p.tok.kind == tInt:
				v = p.tok.i
			case p.is("-") && p.peek().kind == tInt:
				p.next()
				v = -p.tok.i
			case p.is("true"), p.is("false"):
				v = p.tok.s == "true"
			default:
				p.errf("invalid meta value %s", p.tok)
			}
			p.next()
			r.meta = append(r.meta, metaKV{key, v})
		}
	}
	if p.is("strings") {
		p.next()
		p.expect(":")
		if p.tok.kind != tStrID {
			p.errf("expected string declaration, found %s", p.tok)
		}
		for p.tok.kind == tStrID {
			p.parseString(r, len(p.r.rules))
		}
	}
	if !p.is("condition") {
		p.errf("expected condition, found %s", p.tok)
	}
	p.next()
	p.expect(":")
	r.cond = p.boolExpr()
	if !p.is("}") {
		p.errf("unexpected %s in condition", p.tok)
	}
	for _, gi := range r.strs {
		s := p.r.strs[gi]
		if !s.used && !strings.HasPrefix(s.id, "$_") {
			p.errf("unreferenced string %q", s.id)
		}
	}
	p.lx.skipSpace()
	if p.unsup != "" {
		if !p.opts.SkipUnsupported {
			p.errf("%s", p.unsup)
		}
		p.warnf(r.line, r.name, "rule skipped: %s", p.unsup)
		p.r.strs = p.r.strs[:firstStr]
		p.r.vars = p.r.vars[:firstVar]
		p.dropped[r.name] = true
		p.next()
		return
	}
	p.ruleNames[r.name] = len(p.r.rules)
	p.r.rules = append(p.r.rules, r)
	p.next()
}

func (p *parser) parseString(r *rule, ruleIdx int) {
	id := p.tok.s
	line := p.tok.line
	if strings.HasSuffix(id, "*") {
		p.errf("invalid string identifier %q", id)
	}
	if id != "$" {
		if _, dup := p.curStrs[id]; dup {
			p.errf("duplicated string identifier %q", id)
		}
	}
	// The value is read raw, so the '=' must be the current token with nothing peeked.
	p.next()
	if !p.is("=") || len(p.peeked) > 0 {
		p.errf("expected = after %s", id)
	}
	p.lx.skipSpace()
	var kind byte
	var text, hexBody, reBody []byte
	var reFlags string
	if p.lx.pos < len(p.lx.data) {
		kind = p.lx.data[p.lx.pos]
	}
	switch kind {
	case '"':
		text = p.lx.textString()
	case '{':
		hexBody, _, _ = p.lx.hexLiteral()
	case '/':
		reBody, reFlags, _, _ = p.lx.regexLiteral()
	default:
		p.next()
		p.errf("expected string, hex string or regular expression after =")
	}
	p.next()
	m := p.modifiers(kind)
	s := &sstring{id: id, rule: ruleIdx, private: m.private, hex: kind == '{', fixedOff: -1}
	gi := len(p.r.strs)
	var err error
	switch kind {
	case '"':
		if len(text) == 0 {
			p.errAtLine(line, "empty string %s", id)
		}
		err = p.textVariants(s, gi, text, m)
	case '{':
		var n *pnode
		if n, err = parseHex(hexBody); err == nil {
			err = p.patternVariants(s, gi, n, modSet{}, true)
		}
	case '/':
		var n *pnode
		if n, err = parseRegex(reBody, m.nocase || strings.Contains(reFlags, "i"), strings.Contains(reFlags, "s")); err == nil {
			err = p.patternVariants(s, gi, n, m, false)
		}
	}
	if err != nil {
		p.errAtLine(line, "string %s: %v", id, err)
	}
	for _, v := range s.vars {
		if v.atom == nil || len(v.atom) < 2 {
			p.warnf(line, r.name, "string %q may slow down scanning", id)
			break
		}
	}
	if id == "$" {
		p.anonymous = append(p.anonymous, gi)
	} else {
		p.curStrs[id] = gi
	}
	p.r.strs = append(p.r.strs, s)
	r.strs = append(r.strs, gi)
	for _, v := range s.vars {
		p.r.vars = append(p.r.vars, v)
	}
}

func (p *parser) errAtLine(line int, format string, args ...any) {
	e := &CompileError{Source: p.lx.src, Line: line, Col: 1, Msg: fmt.Sprintf(format, args...)}
	if p.cur != nil {
		e.Rule = p.cur.name
	}
	panic(bailout{e})
}

type modSet struct {
	nocase, wide, ascii, fullword, private, xor, b64, b64wide bool
	xorLo, xorHi                                              int
	alphabet                                                  string
}

func (p *parser) modifiers(kind byte) modSet {
	var m modSet
	seen := map[string]bool{}
	allowed := map[byte]string{
		'"': "nocase wide ascii fullword private xor base64 base64wide",
		'/': "nocase wide ascii fullword private",
		'{': "private",
	}[kind]
	for p.tok.kind == tIdent {
		name := p.tok.s
		if !strings.Contains(" "+allowed+" ", " "+name+" ") {
			if keywords[name] && name != "condition" && name != "strings" && name != "meta" {
				p.errf("modifier %s is not allowed here", name)
			}
			break
		}
		if seen[name] {
			p.errf("duplicated modifier %s", name)
		}
		seen[name] = true
		p.next()
		switch name {
		case "nocase":
			m.nocase = true
		case "wide":
			m.wide = true
		case "ascii":
			m.ascii = true
		case "fullword":
			m.fullword = true
		case "private":
			m.private = true
		case "xor":
			m.xor, m.xorLo, m.xorHi = true, 0, 255
			if p.is("(") {
				p.next()
				if p.tok.kind != tInt || p.tok.i > 255 {
					p.errf("invalid xor range")
				}
				m.xorLo = int(p.tok.i)
				m.xorHi = m.xorLo
				p.next()
				if p.is("-") {
					p.next()
					if p.tok.kind != tInt || p.tok.i > 255 || int(p.tok.i) < m.xorLo {
						p.errf("invalid xor range")
					}
					m.xorHi = int(p.tok.i)
					p.next()
				}
				p.expect(")")
			}
		case "base64", "base64wide":
			if name == "base64" {
				m.b64 = true
			} else {
				m.b64wide = true
			}
			if p.is("(") {
				p.next()
				if p.tok.kind != tText || len(p.tok.s) != 64 {
					p.errf("base64 alphabet must be 64 bytes long")
				}
				if m.alphabet != "" && m.alphabet != p.tok.s {
					p.errf("can not specify multiple alphabets")
				}
				m.alphabet = p.tok.s
				p.next()
				p.expect(")")
			}
		}
	}
	if (m.b64 || m.b64wide) && (m.nocase || m.xor || m.fullword) {
		p.errf("base64 modifiers can not be combined with nocase, xor or fullword")
	}
	if m.xor && m.nocase {
		p.errf("xor and nocase can not be combined")
	}
	return m
}

func widen(b []byte) []byte {
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, c, 0)
	}
	return out
}

func (p *parser) textVariants(s *sstring, gi int, text []byte, m modSet) error {
	var forms [][]byte
	var wides []bool
	if m.b64 || m.b64wide {
		enc := base64.StdEncoding
		if m.alphabet != "" {
			e, err := newB64(m.alphabet)
			if err != nil {
				return err
			}
			enc = e
		}
		for _, b := range base64Forms(text, enc) {
			if m.b64 {
				forms, wides = append(forms, b), append(wides, false)
			}
			if m.b64wide {
				forms, wides = append(forms, widen(b)), append(wides, true)
			}
		}
	} else {
		if m.ascii || !m.wide {
			forms, wides = append(forms, text), append(wides, false)
		}
		if m.wide {
			forms, wides = append(forms, widen(text)), append(wides, true)
		}
	}
	for i, f := range forms {
		keys := []int{-1}
		if m.xor {
			keys = keys[:0]
			for k := m.xorLo; k <= m.xorHi; k++ {
				keys = append(keys, k)
			}
		}
		for _, k := range keys {
			lit := f
			if k >= 0 {
				lit = make([]byte, len(f))
				for j := range f {
					lit[j] = f[j] ^ byte(k)
				}
			}
			v := &variant{str: gi, lit: lit, nocase: m.nocase, fullword: m.fullword, wide: wides[i]}
			low := make([]byte, len(lit))
			for j, c := range lit {
				low[j] = lower[c]
			}
			v.atom, v.atomOff = chooseAtomBytes(low)
			s.vars = append(s.vars, v)
		}
	}
	return nil
}

func (p *parser) patternVariants(s *sstring, gi int, n *pnode, m modSet, hex bool) error {
	type form struct {
		n    *pnode
		wide bool
	}
	var forms []form
	if m.ascii || !m.wide {
		forms = append(forms, form{n, false})
	}
	if m.wide {
		forms = append(forms, form{n.widen(), true})
	}
	for _, f := range forms {
		re0, reCtx, search, err := compilePattern(f.n)
		if err != nil {
			return err
		}
		v := &variant{str: gi, re0: re0, reCtx: reCtx, search: search, fullword: m.fullword, wide: f.wide, anchored: f.n.hasLeadingAnchor()}
		// libyara stops regexp matches after 4096 bytes (RE_SCAN_LIMIT); hex strings
		// span their longest possible match. A "$" needs the real end of data.
		if !hex {
			v.window = 4096
		} else if b := maxLen(f.n); b >= 0 && b < 1<<20 {
			v.window = b
		}
		if f.n.hasAssert("$") {
			v.window = 0
		}
		var sets []*byteSet
		if f.n.fixedOnly() {
			v.fixed = f.n.prefix(&sets, 1<<16)
		} else {
			f.n.prefix(&sets, 256)
		}
		v.prefix = sets
		v.atom, v.atomOff = chooseAtom(sets)
		if hex {
			v.split = splitHex(f.n)
		}
		if f.n.byteSafe(true) {
			if v.reBytes, err = compileBytes(f.n); err != nil {
				return err
			}
		}
		if first, nullable := f.n.first(); !nullable {
			v.first = first
		} else {
			v.first = fullSet()
		}
		s.vars = append(s.vars, v)
	}
	return nil
}

// maxLen is the longest match of n, or -1 when unbounded.
func maxLen(n *pnode) int {
	switch n.op {
	case pClass:
		return 1
	case pAssert:
		return 0
	case pRepeat:
		if n.max < 0 {
			return -1
		}
		l := maxLen(n.subs[0])
		if l < 0 {
			return -1
		}
		return l * n.max
	case pConcat:
		t := 0
		for _, s := range n.subs {
			l := maxLen(s)
			if l < 0 {
				return -1
			}
			t += l
		}
		return t
	case pAlt:
		t := 0
		for _, s := range n.subs {
			l := maxLen(s)
			if l < 0 {
				return -1
			}
			t = max(t, l)
		}
		return t
	}
	return -1
}

// atomByte reports the lowercased byte matched by a set of one byte or one ASCII case pair.
func atomByte(s *byteSet) (byte, bool) {
	switch s.count() {
	case 1:
		for c := 0; c < 256; c++ {
			if s.has(byte(c)) {
				return lower[c], true
			}
		}
	case 2:
		for c := 'a'; c <= 'z'; c++ {
			if s.has(byte(c)) && s.has(byte(c-32)) {
				return byte(c), true
			}
		}
	}
	return 0, false
}

func byteQuality(c byte) int {
	switch c {
	case 0x00, 0xff, 0x20, 0xcc, 0x90:
		return 4
	}
	if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
		return 14
	}
	return 16
}

const atomLen = 4

// atomQuality scores a candidate atom: rare and distinct bytes score
// higher, and its first two bytes count again: the scan examines the data
// by byte pairs and enters the automaton where a pair begins an atom (see
// automaton), which in text is often when that pair is two letters.
func atomQuality(a []byte) int {
	q := 0
	for _, c := range a[:min(len(a), 2)] {
		q += byteQuality(c) - 14
	}
	for i, c := range a {
		q += byteQuality(c)
		dup := false
		for _, d := range a[:i] {
			dup = dup || d == c
		}
		if !dup {
			q += 4
		}
	}
	return q
}

// chooseAtomBytes picks the best window of up to atomLen bytes of a literal.
func chooseAtomBytes(b []byte) ([]byte, int) {
	if len(b) <= atomLen {
		return b, 0
	}
	best, bestQ := 0, -1
	for i := 0; i+atomLen <= len(b); i++ {
		if q := atomQuality(b[i : i+atomLen]); q > bestQ {
			best, bestQ = i, q
		}
	}
	return b[best : best+atomLen], best
}

// chooseAtom picks the best run of up to atomLen atomable positions.
func chooseAtom(sets []*byteSet) ([]byte, int) {
	var best []byte
	bestOff, bestQ := -1, -1
	for i := range sets {
		var a []byte
		for j := i; j < len(sets) && j < i+atomLen; j++ {
			c, ok := atomByte(sets[j])
			if !ok {
				break
			}
			a = append(a, c)
		}
		q := atomQuality(a)
		if len(a) > 0 && q > bestQ {
			best, bestOff, bestQ = a, i, q
		}
	}
	if best == nil {
		return nil, 0
	}
	return best, bestOff
}

var lower [256]byte

func init() {
	for i := range lower {
		lower[i] = byte(i)
		if i >= 'A' && i <= 'Z' {
			lower[i] = byte(i + 32)
		}
	}
}

func newB64(alphabet string) (enc *base64.Encoding, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("invalid base64 alphabet: %v", r)
		}
	}()
	return base64.NewEncoding(alphabet).WithPadding(base64.NoPadding), nil
}

// base64Forms returns the three encodings of s at input offsets 0, 1 and 2, keeping only
// the characters that do not depend on surrounding bytes (as YARA does).
func base64Forms(s []byte, enc *base64.Encoding) [][]byte {
	var out [][]byte
	for i := 0; i < 3; i++ {
		buf := append(make([]byte, i), s...)
		e := enc.WithPadding(base64.NoPadding).EncodeToString(buf)
		lo := (8*i + 5) / 6
		hi := (8 * len(buf)) / 6
		if hi > len(e) {
			hi = len(e)
		}
		if hi <= lo {
			continue
		}
		f := []byte(e[lo:hi])
		dup := false
		for _, o := range out {
			dup = dup || bytes.Equal(o, f)
		}
		if !dup {
			out = append(out, f)
		}
	}
	return out
}
