package yara

import (
	"bytes"
	"encoding/binary"
	"math"
	"regexp"
	"sort"
	"strings"
)

type vkind uint8

const (
	kUndef vkind = iota
	kInt
	kFloat
	kStr
	kBool
)

func (k vkind) String() string {
	return [...]string{"undefined", "integer", "float", "string", "boolean"}[k]
}

type value struct {
	k vkind
	i int64
	f float64
	s string
}

var undef = value{}

func vInt(i int64) value     { return value{k: kInt, i: i} }
func vFloat(f float64) value { return value{k: kFloat, f: f} }
func vStr(s string) value    { return value{k: kStr, s: s} }
func vBool(b bool) value {
	if b {
		return value{k: kBool, i: 1}
	}
	return value{k: kBool}
}

// truth converts a value to a boolean as YARA does: undefined is false, numbers are
// true when non-zero, strings when non-empty.
func (v value) truth() bool {
	switch v.k {
	case kInt, kBool:
		return v.i != 0
	case kFloat:
		return v.f != 0
	case kStr:
		return v.s != ""
	}
	return false
}

func (v value) num() float64 {
	if v.k == kFloat {
		return v.f
	}
	return float64(v.i)
}

type expr interface {
	eval(c *scanCtx) value
	typ() vkind // static type; kUndef when unknown
}

type constNode struct{ v value }

func (n constNode) eval(*scanCtx) value { return n.v }
func (n constNode) typ() vkind          { return n.v.k }

type filesizeNode struct{}

func (filesizeNode) eval(c *scanCtx) value { return vInt(int64(len(c.data))) }
func (filesizeNode) typ() vkind            { return kInt }

type intReadNode struct {
	size   int
	signed bool
	be     bool
	off    expr
}

func (n intReadNode) typ() vkind { return kInt }
func (n intReadNode) eval(c *scanCtx) value {
	o := n.off.eval(c)
	if o.k != kInt || o.i < 0 || o.i > int64(len(c.data))-int64(n.size) {
		return undef
	}
	b := c.data[o.i : o.i+int64(n.size)]
	var u uint64
	switch n.size {
	case 1:
		u = uint64(b[0])
	case 2:
		if n.be {
			u = uint64(binary.BigEndian.Uint16(b))
		} else {
			u = uint64(binary.LittleEndian.Uint16(b))
		}
	case 4:
		if n.be {
			u = uint64(binary.BigEndian.Uint32(b))
		} else {
			u = uint64(binary.LittleEndian.Uint32(b))
		}
	}
	if n.signed {
		switch n.size {
		case 1:
			return vInt(int64(int8(u)))
		case 2:
			return vInt(int64(int16(u)))
		case 4:
			return vInt(int64(int32(u)))
		}
	}
	return vInt(int64(u))
}

// strIdx resolves -1 to the string of the enclosing "for ... of" loop.
func (c *scanCtx) strIdx(s int) int {
	if s < 0 {
		return c.cur
	}
	return s
}

type strFound struct{ s int }

func (n strFound) typ() vkind            { return kBool }
func (n strFound) eval(c *scanCtx) value { return vBool(len(c.matches[c.strIdx(n.s)]) > 0) }

type strCount struct {
	s      int
	lo, hi expr
}

func (n strCount) typ() vkind { return kInt }
func (n strCount) eval(c *scanCtx) value {
	ms := c.matches[c.strIdx(n.s)]
	if n.lo == nil {
		return vInt(int64(len(ms)))
	}
	lo, hi := n.lo.eval(c), n.hi.eval(c)
	if lo.k != kInt || hi.k != kInt {
		return undef
	}
	return vInt(int64(countIn(ms, lo.i, hi.i)))
}

func countIn(ms []smatch, lo, hi int64) int {
	i := sort.Search(len(ms), func(i int) bool { return ms[i].off >= lo })
	j := sort.Search(len(ms), func(i int) bool { return ms[i].off > hi })
	if j < i {
		return 0
	}
	return j - i
}

type strOffset struct {
	s      int
	idx    expr
	length bool
}

func (n strOffset) typ() vkind { return kInt }
func (n strOffset) eval(c *scanCtx) value {
	ms := c.matches[c.strIdx(n.s)]
	i := int64(1)
	if n.idx != nil {
		v := n.idx.eval(c)
		if v.k != kInt {
			return undef
		}
		i = v.i
	}
	if i < 1 || i > int64(len(ms)) {
		return undef
	}
	if n.length {
		return vInt(int64(ms[i-1].n))
	}
	return vInt(ms[i-1].off)
}

type strAt struct {
	s  int
	at expr
}

func (n strAt) typ() vkind { return kBool }
func (n strAt) eval(c *scanCtx) value {
	v := n.at.eval(c)
	if v.k != kInt {
		return undef
	}
	return vBool(countIn(c.matches[c.strIdx(n.s)], v.i, v.i) > 0)
}

type strIn struct {
	s      int
	lo, hi expr
}

func (n strIn) typ() vkind { return kBool }
func (n strIn) eval(c *scanCtx) value {
	lo, hi := n.lo.eval(c), n.hi.eval(c)
	if lo.k != kInt || hi.k != kInt {
		return undef
	}
	return vBool(countIn(c.matches[c.strIdx(n.s)], lo.i, hi.i) > 0)
}

type notNode struct{ x expr }

func (n notNode) typ() vkind { return kBool }
func (n notNode) eval(c *scanCtx) value {
	v := n.x.eval(c)
	if v.k == kUndef {
		return undef
	}
	return vBool(!v.truth())
}

type definedNode struct{ x expr }

func (n definedNode) typ() vkind            { return kBool }
func (n definedNode) eval(c *scanCtx) value { return vBool(n.x.eval(c).k != kUndef) }

type andNode struct{ l, r expr }

func (n andNode) typ() vkind { return kBool }
func (n andNode) eval(c *scanCtx) value {
	if !n.l.eval(c).truth() {
		return vBool(false)
	}
	return vBool(n.r.eval(c).truth())
}

type orNode struct{ l, r expr }

func (n orNode) typ() vkind { return kBool }
func (n orNode) eval(c *scanCtx) value {
	if n.l.eval(c).truth() {
		return vBool(true)
	}
	return vBool(n.r.eval(c).truth())
}

type unaryNode struct {
	op string
	x  expr
}

func (n unaryNode) typ() vkind { return n.x.typ() }
func (n unaryNode) eval(c *scanCtx) value {
	v := n.x.eval(c)
	switch {
	case v.k == kUndef:
		return undef
	case n.op == "-" && v.k == kFloat:
		return vFloat(-v.f)
	case n.op == "-":
		return vInt(-v.i)
	default:
		return vInt(^v.i)
	}
}

type binNode struct {
	op   string
	l, r expr
	re   *regexp.Regexp // for matches
}

func (n binNode) typ() vkind {
	switch n.op {
	case "+", "-", "*", "\\":
		if n.l.typ() == kFloat || n.r.typ() == kFloat {
			return kFloat
		}
		return kInt
	case "%", "&", "|", "^", "<<", ">>":
		return kInt
	}
	return kBool
}

func (n binNode) eval(c *scanCtx) value {
	a := n.l.eval(c)
	if n.op == "matches" {
		if a.k != kStr {
			return undef
		}
		return vBool(n.re.MatchReader(&byteReader{b: []byte(a.s)}))
	}
	b := n.r.eval(c)
	if a.k == kUndef || b.k == kUndef {
		return undef
	}
	if a.k == kStr || b.k == kStr {
		if a.k != kStr || b.k != kStr {
			return undef
		}
		switch n.op {
		case "==":
			return vBool(a.s == b.s)
		case "!=":
			return vBool(a.s != b.s)
		case "<":
			return vBool(a.s < b.s)
		case "<=":
			return vBool(a.s <= b.s)
		case ">":
			return vBool(a.s > b.s)
		case ">=":
			return vBool(a.s >= b.s)
		case "contains":
			return vBool(strings.Contains(a.s, b.s))
		case "icontains":
			return vBool(bytes.Contains(asciiLower(a.s), asciiLower(b.s)))
		case "startswith":
			return vBool(strings.HasPrefix(a.s, b.s))
		case "istartswith":
			return vBool(bytes.HasPrefix(asciiLower(a.s), asciiLower(b.s)))
		case "endswith":
			return vBool(strings.HasSuffix(a.s, b.s))
		case "iendswith":
			return vBool(bytes.HasSuffix(asciiLower(a.s), asciiLower(b.s)))
		case "iequals":
			return vBool(bytes.Equal(asciiLower(a.s), asciiLower(b.s)))
		}
		return undef
	}
	if a.k == kFloat || b.k == kFloat {
		x, y := a.num(), b.num()
		switch n.op {
		case "+":
			return vFloat(x + y)
		case "-":
			return vFloat(x - y)
		case "*":
			return vFloat(x * y)
		case "\\":
			if y == 0 {
				return undef
			}
			return vFloat(x / y)
		case "==":
			return vBool(x == y)
		case "!=":
			return vBool(x != y)
		case "<":
			return vBool(x < y)
		case "<=":
			return vBool(x <= y)
		case ">":
			return vBool(x > y)
		case ">=":
			return vBool(x >= y)
		}
		return undef
	}
	x, y := a.i, b.i
	switch n.op {
	case "+":
		return vInt(x + y)
	case "-":
		return vInt(x - y)
	case "*":
		return vInt(x * y)
	case "\\":
		if y == 0 || (x == math.MinInt64 && y == -1) {
			return undef
		}
		return vInt(x / y)
	case "%":
		if y == 0 || (x == math.MinInt64 && y == -1) {
			return undef
		}
		return vInt(x % y)
	case "&":
		return vInt(x & y)
	case "|":
		return vInt(x | y)
	case "^":
		return vInt(x ^ y)
	case "<<":
		if y < 0 {
			return undef
		}
		if y >= 64 {
			return vInt(0)
		}
		return vInt(x << uint(y))
	case ">>":
		if y < 0 {
			return undef
		}
		if y >= 64 {
			return vInt(0)
		}
		return vInt(x >> uint(y))
	case "==":
		return vBool(x == y)
	case "!=":
		return vBool(x != y)
	case "<":
		return vBool(x < y)
	case "<=":
		return vBool(x <= y)
	case ">":
		return vBool(x > y)
	case ">=":
		return vBool(x >= y)
	}
	return undef
}

func asciiLower(s string) []byte {
	b := []byte(s)
	for i, c := range b {
		b[i] = lower[c]
	}
	return b
}

type quantKind int

const (
	qAll quantKind = iota
	qAny
	qNone
	qNum
	qPct
)

type quant struct {
	kind quantKind
	n    expr
}

// satisfied reports whether cnt true items out of total satisfy the quantifier.
func (q quant) satisfied(c *scanCtx, cnt, total int) value {
	switch q.kind {
	case qAll:
		return vBool(cnt == total)
	case qAny:
		return vBool(cnt > 0)
	case qNone:
		return vBool(cnt == 0)
	}
	v := q.n.eval(c)
	if v.k != kInt {
		return undef
	}
	if q.kind == qPct {
		return vBool(float64(cnt) >= float64(v.i)*float64(total)/100)
	}
	return vBool(int64(cnt) >= v.i)
}

type ofNode struct {
	q      quant
	strs   []int // string set (-1 never appears here)
	rules  []int // or rule set
	lo, hi expr  // optional "in (lo..hi)"
}

func (n ofNode) typ() vkind { return kBool }
func (n ofNode) eval(c *scanCtx) value {
	cnt := 0
	if n.rules != nil {
		for _, ri := range n.rules {
			if c.ruleResult(ri) {
				cnt++
			}
		}
		return n.q.satisfied(c, cnt, len(n.rules))
	}
	var lo, hi value
	if n.lo != nil {
		lo, hi = n.lo.eval(c), n.hi.eval(c)
		if lo.k != kInt || hi.k != kInt {
			return undef
		}
	}
	for _, s := range n.strs {
		if n.lo != nil {
			if countIn(c.matches[s], lo.i, hi.i) > 0 {
				cnt++
			}
		} else if len(c.matches[s]) > 0 {
			cnt++
		}
	}
	return n.q.satisfied(c, cnt, len(n.strs))
}

type forOfNode struct {
	q    quant
	strs []int
	body expr
}

func (n forOfNode) typ() vkind { return kBool }
func (n forOfNode) eval(c *scanCtx) value {
	saved := c.cur
	defer func() { c.cur = saved }()
	cnt := 0
	for _, s := range n.strs {
		c.cur = s
		if n.body.eval(c).truth() {
			cnt++
		}
	}
	return n.q.satisfied(c, cnt, len(n.strs))
}

type varNode struct{ slot int }

func (n varNode) typ() vkind            { return kUndef }
func (n varNode) eval(c *scanCtx) value { return c.vars[n.slot] }

// iterable yields the items of "for ... in <iterable>".
type iterable interface {
	each(c *scanCtx, fn func(vals []value) bool) (total int, ok bool)
}

type rangeIter struct{ lo, hi expr }

func (it rangeIter) each(c *scanCtx, fn func([]value) bool) (int, bool) {
	lo, hi := it.lo.eval(c), it.hi.eval(c)
	if lo.k != kInt || hi.k != kInt || hi.i < lo.i {
		return 0, false
	}
	n := 0
	for i := lo.i; i <= hi.i; i++ {
		n++
		if !fn([]value{vInt(i)}) || i == math.MaxInt64 {
			break
		}
	}
	return int(hi.i - lo.i + 1), true
}

type listIter struct{ items []expr }

func (it listIter) each(c *scanCtx, fn func([]value) bool) (int, bool) {
	for _, e := range it.items {
		if !fn([]value{e.eval(c)}) {
			break
		}
	}
	return len(it.items), true
}

type forInNode struct {
	q     quant
	slot  int
	nvars int
	iter  iterable
	body  expr
}

func (n forInNode) typ() vkind { return kBool }
func (n forInNode) eval(c *scanCtx) value {
	for len(c.vars) < n.slot+n.nvars {
		c.vars = append(c.vars, undef)
	}
	cnt, seen := 0, 0
	total, ok := n.iter.each(c, func(vals []value) bool {
		if c.expired() {
			return false
		}
		copy(c.vars[n.slot:], vals)
		seen++
		if n.body.eval(c).truth() {
			cnt++
			if n.q.kind == qAny {
				return false
			}
		} else if n.q.kind == qAll {
			return false
		}
		return true
	})
	if !ok {
		return undef
	}
	if n.q.kind == qAll && seen < total {
		return vBool(false)
	}
	return n.q.satisfied(c, cnt, total)
}

type ruleRef struct{ idx int }

func (n ruleRef) typ() vkind            { return kBool }
func (n ruleRef) eval(c *scanCtx) value { return vBool(c.ruleResult(n.idx)) }

// funcNode is a module field or function; fn receives the evaluated arguments.
type funcNode struct {
	t    vkind
	args []expr
	fn   func(c *scanCtx, args []value) value
}

func (n funcNode) typ() vkind { return n.t }
func (n funcNode) eval(c *scanCtx) value {
	vals := make([]value, len(n.args))
	for i, a := range n.args {
		vals[i] = a.eval(c)
		if vals[i].k == kUndef {
			return undef
		}
	}
	return n.fn(c, vals)
}
