package yara

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"
)

// ErrTimeout is returned by Scan when ScanOptions.Timeout expires.
var ErrTimeout = errors.New("yara: scan timed out")

// Rules is a compiled rule set. It is safe for concurrent use by multiple goroutines.
type Rules struct {
	rules []*rule
	strs  []*sstring
	vars  []*variant
	ac    *automaton
	slow  []int // variants without an atom
}

// Len is the number of compiled rules (private and global rules included).
func (r *Rules) Len() int { return len(r.rules) }

func formatWarning(w Warning) string {
	if w.Rule != "" {
		return fmt.Sprintf("%s:%d: rule %q: %s", w.Source, w.Line, w.Rule, w.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", w.Source, w.Line, w.Msg)
}

// Compile parses and compiles the sources into one rule set in the "default" namespace.
// Errors are *CompileError values carrying file:line:col.
func Compile(opts CompileOptions, srcs ...Source) (rs *Rules, warns []Warning, err error) {
	r := &Rules{}
	p := &parser{opts: opts, r: r, ruleNames: map[string]int{}, dropped: map[string]bool{}}
	defer func() {
		if x := recover(); x != nil {
			rs, warns = nil, p.warnings
			if b, ok := x.(bailout); ok {
				err = b.err
			} else {
				// A bug, not bad input: report it rather than crash the agent.
				err = fmt.Errorf("yara: internal error compiling rules: %v", x)
			}
		}
	}()
	for _, s := range srcs {
		p.lx = newLexer(s.Name, s.Data)
		p.peeked = nil
		p.imports = map[string]bool{}
		p.parseFile()
	}
	r.ac = buildAutomaton(r.vars)
	for i, v := range r.vars {
		if v.atom == nil {
			r.slow = append(r.slow, i)
		}
	}
	return r, p.warnings, nil
}

// smatch is one recorded string match.
type smatch struct {
	off  int64
	n    int
	data []byte
}

type scanCtx struct {
	r        *Rules
	data     []byte
	matches  [][]smatch
	results  []int8 // 0 unknown, 1 true, 2 false, 3 evaluating
	vars     []value
	cur      int
	maxM     int
	deadline time.Time
	ticks    int
	timedOut bool
	elf      *elfInfo
	elfDone  bool
}

func (c *scanCtx) expired() bool {
	if c.timedOut {
		return true
	}
	if c.deadline.IsZero() {
		return false
	}
	c.ticks++
	if c.ticks&1023 == 0 && time.Now().After(c.deadline) {
		c.timedOut = true
	}
	return c.timedOut
}

// checkTime reports whether the deadline has passed, reading the clock every call.
func (c *scanCtx) checkTime() bool {
	if !c.deadline.IsZero() && time.Now().After(c.deadline) {
		c.timedOut = true
	}
	return c.timedOut
}

func (c *scanCtx) ruleResult(i int) bool {
	switch c.results[i] {
	case 1:
		return true
	case 2, 3:
		return false
	}
	c.results[i] = 3
	ok := c.r.rules[i].cond.eval(c).truth()
	if ok {
		c.results[i] = 1
	} else {
		c.results[i] = 2
	}
	return ok
}

// byteReader feeds bytes to Go's regexp as runes U+0000–U+00FF, so patterns match raw
// bytes and reported offsets are byte offsets.
type byteReader struct {
	b []byte
	i int
}

func (r *byteReader) ReadRune() (rune, int, error) {
	if r.i >= len(r.b) {
		return 0, 0, io.EOF
	}
	c := r.b[r.i]
	r.i++
	return rune(c), 1, nil
}

func isAlnum(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// verify returns the match length of v at start, or -1.
func (c *scanCtx) verify(v *variant, start int) int {
	data := c.data
	if start < 0 || start > len(data) {
		return -1
	}
	n := -1
	if v.re0 == nil {
		if start+len(v.lit) > len(data) {
			return -1
		}
		d := data[start : start+len(v.lit)]
		if v.nocase {
			for i, x := range d {
				if lower[x] != lower[v.lit[i]] {
					return -1
				}
			}
		} else if string(d) != string(v.lit) {
			return -1
		}
		n = len(v.lit)
	} else {
		if v.anchored && start != 0 {
			return -1
		}
		if start+len(v.prefix) > len(data) {
			return -1
		}
		for i, set := range v.prefix {
			if !set.has(data[start+i]) {
				return -1
			}
		}
	}
	if v.re0 != nil && v.fixed {
		n = len(v.prefix)
	} else if v.split != nil {
		if n = v.split.match(data, start); n < 0 {
			return -1
		}
	} else if v.re0 != nil {
		end := len(data)
		if v.window > 0 && start+v.window < end {
			end = start + v.window
		}
		if v.reBytes != nil {
			loc := v.reBytes.FindIndex(data[start:end])
			if loc == nil {
				return -1
			}
			n = loc[1]
		} else if start == 0 {
			loc := v.re0.FindReaderIndex(&byteReader{b: data[:end]})
			if loc == nil {
				return -1
			}
			n = loc[1]
		} else {
			loc := v.reCtx.FindReaderSubmatchIndex(&byteReader{b: data[start-1 : end]})
			if loc == nil {
				return -1
			}
			n = loc[3] - 1
		}
		if n == 0 {
			return -1
		}
	}
	if v.fullword {
		if v.wide {
			if start >= 2 && data[start-1] == 0 && isAlnum(data[start-2]) {
				return -1
			}
			if e := start + n; e+1 < len(data) && data[e+1] == 0 && isAlnum(data[e]) {
				return -1
			}
		} else {
			if start >= 1 && isAlnum(data[start-1]) {
				return -1
			}
			if e := start + n; e < len(data) && isAlnum(data[e]) {
				return -1
			}
		}
	}
	return n
}

// match returns the length of the lazy match of "P1 [lo-hi] P2" at start, or -1; the
// caller has checked P1 already.
func (sp *splitPattern) match(data []byte, start int) int {
	base := start + len(sp.p1)
	last := len(data) - len(sp.p2) // last possible start of P2
	if sp.hi >= 0 && base+sp.hi < last {
		last = base + sp.hi
	}
	var single byte
	one := sp.p2[0].count() == 1
	if one {
		for c := 0; c < 256; c++ {
			if sp.p2[0].has(byte(c)) {
				single = byte(c)
			}
		}
	}
	for q := base + sp.lo; q <= last; q++ {
		if one {
			i := bytes.IndexByte(data[q:last+1], single)
			if i < 0 {
				return -1
			}
			q += i
		}
		ok := true
		for i, set := range sp.p2 {
			if !set.has(data[q+i]) {
				ok = false
				break
			}
		}
		if ok {
			return q + len(sp.p2) - start
		}
	}
	return -1
}

func (c *scanCtx) record(v *variant, start, n int) {
	if s := c.r.strs[v.str]; !s.notFixed && s.fixedOff >= 0 && int64(start) != s.fixedOff {
		return
	}
	ms := c.matches[v.str]
	if len(ms) >= c.maxM {
		return
	}
	if len(ms) > 0 && ms[len(ms)-1].off == int64(start) {
		if n > ms[len(ms)-1].n {
			ms[len(ms)-1].n = n
			ms[len(ms)-1].data = c.data[start : start+min(n, MaxMatchData)]
		}
		return
	}
	c.matches[v.str] = append(ms, smatch{off: int64(start), n: n, data: c.data[start : start+min(n, MaxMatchData)]})
}

// Scan runs the rules over data and returns the matching public rules in declaration
// order. It returns ErrTimeout (and no matches) when opts.Timeout expires.
func (r *Rules) Scan(data []byte, opts ScanOptions) (ms []Match, err error) {
	defer func() {
		if x := recover(); x != nil {
			// A bug, not bad input: report it rather than crash the agent.
			ms, err = nil, fmt.Errorf("yara: internal error scanning: %v", x)
		}
	}()
	c := &scanCtx{r: r, data: data, matches: make([][]smatch, len(r.strs)), results: make([]int8, len(r.rules)), maxM: opts.MaxMatchesPerString}
	if c.maxM <= 0 {
		c.maxM = DefaultMaxMatchesPerString
	}
	if opts.Timeout > 0 {
		c.deadline = time.Now().Add(opts.Timeout)
	}
	if err := c.findStrings(); err != nil {
		return nil, err
	}
	for i := range c.matches {
		ms := c.matches[i]
		if !sort.SliceIsSorted(ms, func(a, b int) bool { return ms[a].off < ms[b].off }) {
			sort.SliceStable(ms, func(a, b int) bool { return ms[a].off < ms[b].off })
			out := ms[:0]
			for _, m := range ms {
				if len(out) > 0 && out[len(out)-1].off == m.off {
					if m.n > out[len(out)-1].n {
						out[len(out)-1] = m
					}
					continue
				}
				out = append(out, m)
			}
			c.matches[i] = out
		}
	}
	// Global rules first: one false global rule makes its whole namespace fail.
	failedNS := map[string]bool{}
	for i, rl := range r.rules {
		if rl.global && !c.ruleResult(i) {
			failedNS[rl.ns] = true
		}
	}
	var out []Match
	for i, rl := range r.rules {
		ok := c.ruleResult(i)
		if c.timedOut {
			return nil, ErrTimeout
		}
		if !ok || rl.private || failedNS[rl.ns] {
			continue
		}
		m := Match{Rule: rl.name, Namespace: rl.ns, Tags: rl.tags, Meta: map[string]any{}}
		for _, kv := range rl.meta {
			m.Meta[kv.key] = kv.val
		}
		for _, gi := range rl.strs {
			s := r.strs[gi]
			if s.private {
				continue
			}
			for _, sm := range c.matches[gi] {
				m.Strings = append(m.Strings, StringMatch{ID: s.id, Offset: sm.off, Data: append([]byte(nil), sm.data...)})
			}
		}
		out = append(out, m)
	}
	return out, nil
}

func (c *scanCtx) findStrings() error {
	r := c.r
	if r.ac != nil && len(c.data) > 0 {
		if err := r.ac.scan(c); err != nil {
			return err
		}
	}
	for _, vi := range r.slow {
		v := r.vars[vi]
		if v.anchored {
			if n := c.verify(v, 0); n > 0 {
				c.record(v, 0, n)
			}
			continue
		}
		// No atom: try every position whose byte can start a match.
		for p, b := range c.data {
			if !v.first.has(b) {
				continue
			}
			if p&0xff == 0 && c.expired() {
				return ErrTimeout
			}
			if n := c.verify(v, p); n > 0 {
				c.record(v, p, n)
				if len(c.matches[v.str]) >= c.maxM {
					break
				}
			}
		}
	}
	return nil
}

// automaton is a dense Aho-Corasick DFA over case-folded atoms.
//
// Most bytes of text are some atom's first byte, so a plain DFA is almost
// never in its root state and pays one dependent table load per byte.
// When every atom is at least two bytes long (pairs), the DFA is used in
// two modes instead. In the root mode a position i is only examined: if
// no atom begins with the case-folded pair data[i], data[i+1] (starts),
// no match can begin at i and the scan moves on. Otherwise it enters the
// depth-two state of that pair (through root, the original root row) and
// follows delta, in which every transition to a depth-one state has been
// redirected to the root: the scan then returns to the root mode at the
// byte just read, whose pair with the next byte is where the longest
// atom prefix (one byte long) could continue.
type automaton struct {
	delta []int32 // state*256 + byte
	outs  [][]int32
	atoms []int // variant index → atom length (for start computation)

	pairs  bool
	root   [256]int32
	starts [1 << 16 / 64]uint64 // bit data[i] | data[i+1]<<8, raw bytes
}

// live reports whether an atom may begin at data[i] (i+1 < len(data)).
func (a *automaton) live(data []byte, i int) bool {
	p := uint(data[i]) | uint(data[i+1])<<8
	return a.starts[p/64]&(1<<(p%64)) != 0
}

// noPairScan makes Compile build plain automata (tests compare both).
var noPairScan bool

// usePairs sets up the two-mode scan (see automaton); depth is each
// state's depth in the trie.
func (a *automaton) usePairs(vars []*variant, depth []int) {
	if noPairScan {
		return
	}
	for _, v := range vars {
		if v.atom != nil && len(v.atom) < 2 {
			return
		}
	}
	a.pairs = true
	for _, v := range vars {
		if v.atom == nil {
			continue
		}
		for c0 := range 256 {
			if lower[c0] != v.atom[0] {
				continue
			}
			for c1 := range 256 {
				if lower[c1] == v.atom[1] {
					p := uint(c0) | uint(c1)<<8
					a.starts[p/64] |= 1 << (p % 64)
				}
			}
		}
	}
	copy(a.root[:], a.delta[:256])
	for i, nx := range a.delta {
		if depth[nx] == 1 {
			a.delta[i] = 0
		}
	}
}

func buildAutomaton(vars []*variant) *automaton {
	total := 1
	for _, v := range vars {
		total += len(v.atom)
	}
	a := &automaton{delta: make([]int32, 256, 256*total), outs: make([][]int32, 1, total)}
	for i := range a.delta {
		a.delta[i] = -1
	}
	depth := make([]int, 1, total)
	any := false
	for vi, v := range vars {
		if v.atom == nil {
			continue
		}
		any = true
		s := int32(0)
		for _, b := range v.atom {
			nx := a.delta[int(s)*256+int(b)]
			if nx < 0 {
				nx = int32(len(a.outs))
				a.outs = append(a.outs, nil)
				depth = append(depth, depth[s]+1)
				a.delta = append(a.delta, make([]int32, 256)...)
				for i := int(nx) * 256; i < int(nx+1)*256; i++ {
					a.delta[i] = -1
				}
				a.delta[int(s)*256+int(b)] = nx
			}
			s = nx
		}
		a.outs[s] = append(a.outs[s], int32(vi))
	}
	if !any {
		return nil
	}
	// BFS to fill failure transitions and merge outputs.
	fail := make([]int32, len(a.outs))
	queue := []int32{}
	for b := 0; b < 256; b++ {
		if nx := a.delta[b]; nx < 0 {
			a.delta[b] = 0
		} else {
			fail[nx] = 0
			queue = append(queue, nx)
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		a.outs[s] = append(a.outs[s], a.outs[fail[s]]...)
		for b := 0; b < 256; b++ {
			i := int(s)*256 + b
			if nx := a.delta[i]; nx >= 0 {
				fail[nx] = a.delta[int(fail[s])*256+b]
				queue = append(queue, nx)
			} else {
				a.delta[i] = a.delta[int(fail[s])*256+b]
			}
		}
	}
	a.usePairs(vars, depth)
	return a
}

func (a *automaton) scan(c *scanCtx) error {
	if a.pairs {
		return a.scanPairs(c)
	}
	s := int32(0)
	delta, outs := a.delta, a.outs
	for base := 0; base < len(c.data); base += scanChunk {
		if c.checkTime() {
			return ErrTimeout
		}
		for i := base; i < min(base+scanChunk, len(c.data)); i++ {
			s = delta[int(s)<<8|int(lower[c.data[i]])]
			if outs[s] != nil {
				c.atomsEndingAt(outs[s], i)
			}
		}
	}
	return nil
}

// scanChunk is how many bytes are scanned between timeout checks.
const scanChunk = 1 << 20

// scanPairs is scan in the two modes of an automaton whose atoms are all
// at least two bytes long.
func (a *automaton) scanPairs(c *scanCtx) error {
	data := c.data
	s := int32(0)
	delta, outs := a.delta, a.outs
	for i := 0; i < len(data); {
		if c.checkTime() {
			return ErrTimeout
		}
		for end := min(i+scanChunk, len(data)); i < end; i++ {
			if s == 0 {
				for i+1 < len(data) && !a.live(data, i) {
					i++
				}
				if i+1 >= len(data) {
					return nil // one byte left: no atom fits
				}
				i++
				s = delta[int(a.root[lower[data[i-1]]])<<8|int(lower[data[i]])]
			} else if s = delta[int(s)<<8|int(lower[data[i]])]; s == 0 {
				i-- // the root mode starts at this byte
				continue
			}
			if outs[s] != nil {
				c.atomsEndingAt(outs[s], i)
			}
		}
	}
	return nil
}

// atomsEndingAt verifies the variants whose atoms end at data[i].
func (c *scanCtx) atomsEndingAt(vis []int32, i int) {
	vars := c.r.vars
	for _, vi := range vis {
		v := vars[vi]
		if len(c.matches[v.str]) >= c.maxM {
			continue
		}
		start := i + 1 - len(v.atom) - v.atomOff
		if n := c.verify(v, start); n > 0 {
			c.record(v, start, n)
		}
	}
}
