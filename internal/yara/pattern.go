package yara

import (
	"fmt"
	"math/bits"
	"regexp"
	"strconv"
	"strings"
)

// A pattern is the parsed form of a hex string or regular expression. It is translated
// to Go regexp syntax over "Latin-1 runes": the scanner feeds data to Go's regexp one
// byte per rune (see byteReader), so the class \x{ff} matches exactly the byte 0xff.
type pnode struct {
	op       pop
	set      *byteSet // pClass
	subs     []*pnode // pConcat, pAlt, pRepeat (one sub)
	min, max int      // pRepeat; max -1 means unbounded
	greedy   bool
	assert   string // pAssert: ^ $ \b \B
}

type pop int

const (
	pClass pop = iota
	pConcat
	pAlt
	pRepeat
	pAssert
)

type byteSet [4]uint64

func (s *byteSet) add(b byte)      { s[b>>6] |= 1 << (b & 63) }
func (s *byteSet) has(b byte) bool { return s[b>>6]&(1<<(b&63)) != 0 }
func (s *byteSet) addRange(lo, hi int) {
	for c := lo; c <= hi; c++ {
		s.add(byte(c))
	}
}
func (s *byteSet) invert() {
	for i := range s {
		s[i] = ^s[i]
	}
}
func (s *byteSet) count() int {
	return bits.OnesCount64(s[0]) + bits.OnesCount64(s[1]) + bits.OnesCount64(s[2]) + bits.OnesCount64(s[3])
}

func classOf(bs ...byte) *pnode {
	s := &byteSet{}
	for _, b := range bs {
		s.add(b)
	}
	return &pnode{op: pClass, set: s}
}

// goSyntax renders the pattern as Go regexp syntax over Latin-1 runes.
func (n *pnode) goSyntax(sb *strings.Builder) { n.render(sb, false) }

// render writes Go syntax; with utf8 set, classes holding every byte 0x80–0xff also
// match every non-ASCII rune, for matching raw []byte (see byteSafe).
func (n *pnode) render(sb *strings.Builder, utf8 bool) {
	switch n.op {
	case pClass:
		if utf8 && n.set[2] == ^uint64(0) && n.set[3] == ^uint64(0) {
			lo := *n.set
			lo[2], lo[3] = 0, 0
			sb.WriteString("(?:")
			if lo.count() > 0 {
				(&pnode{op: pClass, set: &lo}).render(sb, false)
				sb.WriteByte('|')
			}
			sb.WriteString(`[\x{80}-\x{10ffff}])`)
			return
		}
		if n.set.count() == 256 {
			sb.WriteString(`[\x00-\x{ff}]`)
			return
		}
		sb.WriteByte('[')
		for c := 0; c < 256; {
			if !n.set.has(byte(c)) {
				c++
				continue
			}
			e := c
			for e+1 < 256 && n.set.has(byte(e+1)) {
				e++
			}
			fmt.Fprintf(sb, `\x{%x}`, c)
			if e > c {
				fmt.Fprintf(sb, `-\x{%x}`, e)
			}
			c = e + 1
		}
		sb.WriteByte(']')
	case pConcat:
		sb.WriteString("(?:")
		for _, s := range n.subs {
			s.render(sb, utf8)
		}
		sb.WriteString(")")
	case pAlt:
		sb.WriteString("(?:")
		for i, s := range n.subs {
			if i > 0 {
				sb.WriteByte('|')
			}
			s.render(sb, utf8)
		}
		sb.WriteString(")")
	case pRepeat:
		sb.WriteString("(?:")
		n.subs[0].render(sb, utf8)
		sb.WriteString(")")
		switch {
		case n.max < 0:
			fmt.Fprintf(sb, "{%d,}", n.min)
		case n.min == n.max:
			fmt.Fprintf(sb, "{%d}", n.min)
		default:
			fmt.Fprintf(sb, "{%d,%d}", n.min, n.max)
		}
		if !n.greedy {
			sb.WriteByte('?')
		}
	case pAssert:
		switch n.assert {
		case "^":
			sb.WriteString(`\A`)
		case "$":
			sb.WriteString(`\z`)
		default:
			sb.WriteString(n.assert)
		}
	}
}

// widen makes every byte-consuming class be followed by a NUL byte (YARA's wide regex).
func (n *pnode) widen() *pnode {
	switch n.op {
	case pClass:
		return &pnode{op: pConcat, subs: []*pnode{n, classOf(0)}}
	case pAssert:
		return n
	}
	c := *n
	c.subs = make([]*pnode, len(n.subs))
	for i, s := range n.subs {
		c.subs[i] = s.widen()
	}
	return &c
}

// prefix appends the classes of the fixed-length prefix of n (positions with a known
// offset from the match start) and reports whether n was consumed entirely.
func (n *pnode) prefix(out *[]*byteSet, limit int) bool {
	if len(*out) >= limit {
		return false
	}
	switch n.op {
	case pClass:
		*out = append(*out, n.set)
		return true
	case pConcat:
		for _, s := range n.subs {
			if !s.prefix(out, limit) {
				return false
			}
		}
		return true
	case pRepeat:
		if n.max != n.min {
			return false
		}
		for i := 0; i < n.min; i++ {
			if !n.subs[0].prefix(out, limit) {
				return false
			}
		}
		return true
	case pAssert:
		return true
	}
	return false
}

// byteSafe reports whether Go's regexp on raw []byte (which decodes UTF-8) finds exactly
// the byte-level matches: every class is ASCII-only, or holds all of 0x80–0xff and sits
// directly under an unbounded repeat (so a multi-byte rune and its bytes are consumed
// alike); there are no \b, \B or non-leading ^ assertions.
func (n *pnode) byteSafe(top bool) bool {
	switch n.op {
	case pClass:
		return n.set[2] == 0 && n.set[3] == 0
	case pAssert:
		return n.assert == "$" || (n.assert == "^" && top)
	case pRepeat:
		if c := n.subs[0]; c.op == pClass && n.max < 0 && n.min <= 1 {
			return (c.set[2] == 0 && c.set[3] == 0) || (c.set[2] == ^uint64(0) && c.set[3] == ^uint64(0))
		}
		return n.subs[0].byteSafe(false)
	case pConcat:
		for i, s := range n.subs {
			if !s.byteSafe(top && i == 0) {
				return false
			}
		}
		return true
	case pAlt:
		for _, s := range n.subs {
			if !s.byteSafe(false) {
				return false
			}
		}
		return true
	}
	return false
}

// fixedOnly reports whether n is a plain sequence of byte classes (no alternation,
// variable repeat or assertion), so it can be verified without a regexp.
func (n *pnode) fixedOnly() bool {
	switch n.op {
	case pClass:
		return true
	case pConcat:
		for _, s := range n.subs {
			if !s.fixedOnly() {
				return false
			}
		}
		return true
	case pRepeat:
		return n.min == n.max && n.subs[0].fixedOnly()
	}
	return false
}

// first returns the bytes a match of n can start with, and whether n can match empty.
func (n *pnode) first() (*byteSet, bool) {
	switch n.op {
	case pClass:
		return n.set, false
	case pAssert:
		return &byteSet{}, true
	case pRepeat:
		f, nullable := n.subs[0].first()
		return f, nullable || n.min == 0
	case pAlt:
		out := &byteSet{}
		null := false
		for _, s := range n.subs {
			f, nl := s.first()
			for i := range out {
				out[i] |= f[i]
			}
			null = null || nl
		}
		return out, null
	case pConcat:
		out := &byteSet{}
		for _, s := range n.subs {
			f, nl := s.first()
			for i := range out {
				out[i] |= f[i]
			}
			if !nl {
				return out, false
			}
		}
		return out, true
	}
	return fullSet(), true
}

// hasAssert reports whether n contains the assertion a.
func (n *pnode) hasAssert(a string) bool {
	if n.op == pAssert {
		return n.assert == a
	}
	for _, s := range n.subs {
		if s.hasAssert(a) {
			return true
		}
	}
	return false
}

// hasLeadingAnchor reports whether every match must start at offset 0.
func (n *pnode) hasLeadingAnchor() bool {
	switch n.op {
	case pAssert:
		return n.assert == "^"
	case pConcat:
		return len(n.subs) > 0 && n.subs[0].hasLeadingAnchor()
	}
	return false
}

// ---- hex strings ----

type hexParser struct {
	s   []byte
	pos int
	err string
}

func parseHex(body []byte) (*pnode, error) {
	p := &hexParser{s: body}
	n := p.alt(0)
	if p.err == "" && p.skip() {
		p.err = fmt.Sprintf("unexpected %q in hex string", p.s[p.pos])
	}
	if p.err != "" {
		return nil, fmt.Errorf("%s", p.err)
	}
	if !hexHasBytes(n) {
		return nil, fmt.Errorf("hex string has no bytes")
	}
	if first, last := hexEnds(n); first || last {
		return nil, fmt.Errorf("hex string cannot start or end with a jump")
	}
	return n, nil
}

func hexHasBytes(n *pnode) bool {
	if n.op == pClass {
		return true
	}
	for _, s := range n.subs {
		if n.op != pRepeat && hexHasBytes(s) {
			return true
		}
	}
	return false
}

func hexEnds(n *pnode) (bool, bool) {
	if n.op != pConcat || len(n.subs) == 0 {
		return n.op == pRepeat, n.op == pRepeat
	}
	return n.subs[0].op == pRepeat, n.subs[len(n.subs)-1].op == pRepeat
}

func (p *hexParser) skip() bool {
	for p.pos < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.pos]) >= 0 {
		p.pos++
	}
	return p.pos < len(p.s)
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	case c == '?':
		return -1
	}
	return -2
}

func (p *hexParser) alt(depth int) *pnode {
	if depth > 8 {
		p.err = "hex string alternatives nested too deep"
		return nil
	}
	var alts []*pnode
	for {
		alts = append(alts, p.seq(depth))
		if p.err != "" {
			return nil
		}
		if p.skip() && p.s[p.pos] == '|' {
			p.pos++
			continue
		}
		break
	}
	if len(alts) == 1 {
		return alts[0]
	}
	return &pnode{op: pAlt, subs: alts}
}

func (p *hexParser) seq(depth int) *pnode {
	cat := &pnode{op: pConcat}
	for p.err == "" && p.skip() {
		c := p.s[p.pos]
		switch {
		case c == '|' || c == ')':
			if len(cat.subs) == 0 {
				p.err = "empty alternative in hex string"
			}
			return cat
		case c == '(':
			p.pos++
			sub := p.alt(depth + 1)
			if p.err != "" {
				return nil
			}
			if !p.skip() || p.s[p.pos] != ')' {
				p.err = "missing ) in hex string"
				return nil
			}
			p.pos++
			cat.subs = append(cat.subs, sub)
		case c == '[':
			end := strings.IndexByte(string(p.s[p.pos:]), ']')
			if end < 0 {
				p.err = "missing ] in hex string jump"
				return nil
			}
			spec := strings.ReplaceAll(string(p.s[p.pos+1:p.pos+end]), " ", "")
			p.pos += end + 1
			lo, hi, ok := parseJump(spec)
			if !ok {
				p.err = fmt.Sprintf("invalid jump [%s]", spec)
				return nil
			}
			if depth > 0 && (hi < 0 || hi > 200) {
				p.err = "unbounded or large jumps are not allowed inside alternatives"
				return nil
			}
			cat.subs = append(cat.subs, &pnode{op: pRepeat, subs: []*pnode{{op: pClass, set: fullSet()}}, min: lo, max: hi})
		default:
			if p.pos+1 >= len(p.s) {
				p.err = "odd number of hex digits"
				return nil
			}
			hi, lo := hexVal(c), hexVal(p.s[p.pos+1])
			if c == '~' {
				p.err = "the ~ operator is not supported (YARA 4.3)"
				return nil
			}
			if hi == -2 || lo == -2 {
				p.err = fmt.Sprintf("invalid hex digit in %q", string(p.s[p.pos:p.pos+2]))
				return nil
			}
			p.pos += 2
			set := &byteSet{}
			for b := 0; b < 256; b++ {
				if (hi < 0 || b>>4 == hi) && (lo < 0 || b&15 == lo) {
					set.add(byte(b))
				}
			}
			cat.subs = append(cat.subs, &pnode{op: pClass, set: set})
		}
	}
	if len(cat.subs) == 0 && p.err == "" {
		p.err = "empty hex string"
	}
	return cat
}

func fullSet() *byteSet { s := &byteSet{}; s.invert(); return s }

func parseJump(spec string) (int, int, bool) {
	if spec == "-" {
		return 0, -1, true
	}
	a, b, isRange := strings.Cut(spec, "-")
	lo, err := strconv.Atoi(a)
	if err != nil || lo < 0 {
		if !(isRange && a == "") {
			return 0, 0, false
		}
		lo = 0
	}
	if !isRange {
		return lo, lo, true
	}
	if b == "" {
		return lo, -1, true
	}
	hi, err := strconv.Atoi(b)
	if err != nil || hi < lo {
		return 0, 0, false
	}
	return lo, hi, true
}

// ---- regular expressions (YARA dialect) ----

type reParser struct {
	s      []byte
	pos    int
	nocase bool
	dotall bool
	err    string
}

// parseRegex parses a YARA regular expression into a pattern.
func parseRegex(body []byte, nocase, dotall bool) (*pnode, error) {
	p := &reParser{s: body, nocase: nocase, dotall: dotall}
	n := p.alt(0)
	if p.err == "" && p.pos < len(p.s) {
		p.err = fmt.Sprintf("unexpected %q", p.s[p.pos])
	}
	if p.err != "" {
		return nil, fmt.Errorf("invalid regular expression /%s/: %s", body, p.err)
	}
	return n, nil
}

func (p *reParser) alt(depth int) *pnode {
	if depth > 100 {
		p.err = "nested too deep"
		return nil
	}
	var alts []*pnode
	for {
		alts = append(alts, p.seq(depth))
		if p.err != "" {
			return nil
		}
		if p.pos < len(p.s) && p.s[p.pos] == '|' {
			p.pos++
			continue
		}
		break
	}
	if len(alts) == 1 {
		return alts[0]
	}
	return &pnode{op: pAlt, subs: alts}
}

func (p *reParser) seq(depth int) *pnode {
	cat := &pnode{op: pConcat}
	for p.err == "" && p.pos < len(p.s) && p.s[p.pos] != '|' && p.s[p.pos] != ')' {
		atom := p.atom(depth)
		if p.err != "" {
			return nil
		}
		atom = p.quant(atom)
		cat.subs = append(cat.subs, atom)
	}
	return cat
}

func (p *reParser) quant(atom *pnode) *pnode {
	for p.pos < len(p.s) && p.err == "" {
		lo, hi := 0, 0
		switch p.s[p.pos] {
		case '*':
			lo, hi = 0, -1
			p.pos++
		case '+':
			lo, hi = 1, -1
			p.pos++
		case '?':
			lo, hi = 0, 1
			p.pos++
		case '{':
			end := strings.IndexByte(string(p.s[p.pos:]), '}')
			if end < 0 {
				return atom // literal '{' handled by caller next time
			}
			spec := string(p.s[p.pos+1 : p.pos+end])
			a, b, isRange := strings.Cut(spec, ",")
			var err1, err2 error
			if a == "" {
				lo = 0
			} else {
				lo, err1 = strconv.Atoi(a)
			}
			switch {
			case !isRange:
				hi = lo
			case b == "":
				hi = -1
			default:
				hi, err2 = strconv.Atoi(b)
			}
			if err1 != nil || err2 != nil || (a == "" && !isRange) {
				return atom
			}
			if lo > 1000 || hi > 1000 || (hi >= 0 && hi < lo) {
				p.err = fmt.Sprintf("invalid repeat {%s} (the limit is 1000)", spec)
				return nil
			}
			p.pos += end + 1
		default:
			return atom
		}
		if atom.op == pAssert {
			p.err = "repeat of an assertion"
			return nil
		}
		greedy := true
		if p.pos < len(p.s) && p.s[p.pos] == '?' {
			greedy = false
			p.pos++
		}
		atom = &pnode{op: pRepeat, subs: []*pnode{atom}, min: lo, max: hi, greedy: greedy}
	}
	return atom
}

func (p *reParser) lit(c byte) *pnode {
	s := &byteSet{}
	s.add(c)
	if p.nocase {
		foldSet(s)
	}
	return &pnode{op: pClass, set: s}
}

func foldSet(s *byteSet) {
	for c := 'a'; c <= 'z'; c++ {
		if s.has(byte(c)) || s.has(byte(c-32)) {
			s.add(byte(c))
			s.add(byte(c - 32))
		}
	}
}

func (p *reParser) atom(depth int) *pnode {
	c := p.s[p.pos]
	p.pos++
	switch c {
	case '(':
		if p.pos < len(p.s) && p.s[p.pos] == '?' {
			p.err = "group flags (?...) are not supported by YARA"
			return nil
		}
		n := p.alt(depth + 1)
		if p.err != "" {
			return nil
		}
		if p.pos >= len(p.s) || p.s[p.pos] != ')' {
			p.err = "missing )"
			return nil
		}
		p.pos++
		return n
	case '.':
		s := fullSet()
		if !p.dotall {
			s[0] &^= 1 << '\n'
		}
		return &pnode{op: pClass, set: s}
	case '^', '$':
		return &pnode{op: pAssert, assert: string(c)}
	case '[':
		return p.class()
	case '*', '+', '?':
		p.err = fmt.Sprintf("missing argument to repetition operator %q", c)
		return nil
	case '\\':
		if p.pos >= len(p.s) {
			p.err = "trailing backslash"
			return nil
		}
		e := p.s[p.pos]
		p.pos++
		switch e {
		case 'b':
			return &pnode{op: pAssert, assert: `\b`}
		case 'B':
			return &pnode{op: pAssert, assert: `\B`}
		}
		s := &byteSet{}
		p.escape(e, s)
		if p.err != "" {
			return nil
		}
		if p.nocase {
			foldSet(s)
		}
		return &pnode{op: pClass, set: s}
	}
	return p.lit(c)
}

// escape adds the bytes of escape \e (already consumed) to s.
func (p *reParser) escape(e byte, s *byteSet) {
	switch e {
	case 'w', 'W':
		w := &byteSet{}
		w.addRange('a', 'z')
		w.addRange('A', 'Z')
		w.addRange('0', '9')
		w.add('_')
		if e == 'W' {
			w.invert()
		}
		for i := range s {
			s[i] |= w[i]
		}
	case 's', 'S':
		w := &byteSet{}
		for _, b := range []byte(" \t\n\v\f\r") {
			w.add(b)
		}
		if e == 'S' {
			w.invert()
		}
		for i := range s {
			s[i] |= w[i]
		}
	case 'd', 'D':
		w := &byteSet{}
		w.addRange('0', '9')
		if e == 'D' {
			w.invert()
		}
		for i := range s {
			s[i] |= w[i]
		}
	case 'n':
		s.add('\n')
	case 't':
		s.add('\t')
	case 'r':
		s.add('\r')
	case 'f':
		s.add('\f')
	case 'a':
		s.add('\a')
	case 'v':
		s.add('\v')
	case 'x':
		if p.pos+2 > len(p.s) || hexVal(p.s[p.pos]) < 0 || hexVal(p.s[p.pos+1]) < 0 {
			p.err = "invalid \\x escape"
			return
		}
		s.add(byte(hexVal(p.s[p.pos])<<4 | hexVal(p.s[p.pos+1])))
		p.pos += 2
	default:
		if isIdentChar(e) {
			p.err = fmt.Sprintf("unknown escape \\%c", e)
			return
		}
		s.add(e)
	}
}

func (p *reParser) class() *pnode {
	s := &byteSet{}
	neg := false
	if p.pos < len(p.s) && p.s[p.pos] == '^' {
		neg = true
		p.pos++
	}
	first := true
	for {
		if p.pos >= len(p.s) {
			p.err = "missing ]"
			return nil
		}
		c := p.s[p.pos]
		p.pos++
		if c == ']' && !first {
			break
		}
		first = false
		lo := int(c)
		if c == '\\' {
			if p.pos >= len(p.s) {
				p.err = "missing ]"
				return nil
			}
			e := p.s[p.pos]
			p.pos++
			one := &byteSet{}
			p.escape(e, one)
			if p.err != "" {
				return nil
			}
			if one.count() != 1 {
				for i := range s {
					s[i] |= one[i]
				}
				continue
			}
			for b := 0; b < 256; b++ {
				if one.has(byte(b)) {
					lo = b
				}
			}
		}
		hi := lo
		if p.pos+1 < len(p.s) && p.s[p.pos] == '-' && p.s[p.pos+1] != ']' {
			p.pos++
			h := p.s[p.pos]
			p.pos++
			hi = int(h)
			if h == '\\' {
				if p.pos >= len(p.s) {
					p.err = "missing ]"
					return nil
				}
				e := p.s[p.pos]
				p.pos++
				one := &byteSet{}
				p.escape(e, one)
				if p.err != "" || one.count() != 1 {
					p.err = "invalid class range"
					return nil
				}
				for b := 0; b < 256; b++ {
					if one.has(byte(b)) {
						hi = b
					}
				}
			}
			if hi < lo {
				p.err = "invalid class range"
				return nil
			}
		}
		s.addRange(lo, hi)
	}
	if p.nocase {
		foldSet(s)
	}
	if neg {
		s.invert()
	}
	return &pnode{op: pClass, set: s}
}

// compilePattern builds the two anchored Go regexps used for verification: one for a
// candidate at offset 0 and one preceded by a context byte for \b and ^ (offset > 0).
func compilePattern(n *pnode) (at0, ctx, search *regexp.Regexp, err error) {
	var sb strings.Builder
	n.goSyntax(&sb)
	body := sb.String()
	if at0, err = regexp.Compile(`\A` + body); err != nil {
		return
	}
	if ctx, err = regexp.Compile(`\A[\x00-\x{ff}](` + body + `)`); err != nil {
		return
	}
	search, err = regexp.Compile(body)
	return
}

// compileBytes builds the anchored regexp for byteSafe patterns, run on raw []byte.
func compileBytes(n *pnode) (*regexp.Regexp, error) {
	var sb strings.Builder
	n.render(&sb, true)
	return regexp.Compile(`\A` + sb.String())
}
