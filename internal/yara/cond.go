package yara

import (
	"path"
	"strings"
)

// Condition grammar, lowest precedence first:
// or < and < not/defined < == != contains… matches < < <= > >= < | < ^ < & < << >> <
// + - < * \ % < unary - ~.

func (p *parser) enter() {
	p.depth++
	if p.depth > 200 {
		p.errf("condition nested too deep")
	}
}

func (p *parser) leave() { p.depth-- }

func (p *parser) boolExpr() expr {
	p.enter()
	defer p.leave()
	l := p.andExpr()
	for p.is("or") {
		p.next()
		l = orNode{l, p.andExpr()}
	}
	return l
}

func (p *parser) andExpr() expr {
	l := p.notExpr()
	for p.is("and") {
		p.next()
		l = andNode{l, p.notExpr()}
	}
	return l
}

func (p *parser) notExpr() expr {
	p.enter()
	defer p.leave()
	if p.is("not") {
		p.next()
		return notNode{p.notExpr()}
	}
	if p.is("defined") {
		p.next()
		return definedNode{p.notExpr()}
	}
	e := p.eqExpr()
	if p.is("of") {
		return p.ofExpr(p.numQuant(e, qNum))
	}
	if p.is("%") && p.peek().s == "of" {
		p.next()
		return p.ofExpr(p.numQuant(e, qPct))
	}
	return e
}

func (p *parser) numQuant(e expr, k quantKind) quant {
	if t := e.typ(); t != kInt && t != kUndef {
		p.errf("quantifier must be an integer, not %s", t)
	}
	return quant{kind: k, n: e}
}

var eqOps = map[string]bool{"==": true, "!=": true, "contains": true, "icontains": true,
	"startswith": true, "istartswith": true, "endswith": true, "iendswith": true, "iequals": true}

func (p *parser) eqExpr() expr {
	l := p.relExpr()
	for {
		switch {
		case (p.tok.kind == tOp || p.tok.kind == tIdent) && eqOps[p.tok.s]:
			op := p.tok.s
			p.next()
			r := p.relExpr()
			p.checkCompare(op, l, r)
			l = binNode{op: op, l: l, r: r}
		case p.is("matches"):
			if len(p.peeked) > 0 {
				p.errf("internal: lookahead before regular expression")
			}
			body, flags, line, _ := p.lx.regexLiteral()
			n, err := parseRegex(body, strings.Contains(flags, "i"), strings.Contains(flags, "s"))
			if err != nil {
				p.errAtLine(line, "%v", err)
			}
			_, _, search, err := compilePattern(n)
			if err != nil {
				p.errAtLine(line, "%v", err)
			}
			if t := l.typ(); t != kStr && t != kUndef {
				p.errf("matches needs a string operand, not %s", t)
			}
			p.next()
			l = binNode{op: "matches", l: l, re: search}
		default:
			return l
		}
	}
}

func isStrOp(op string) bool { return op != "==" && op != "!=" && !strings.ContainsAny(op, "<>") }

func (p *parser) checkCompare(op string, l, r expr) {
	lt, rt := l.typ(), r.typ()
	if lt == kUndef || rt == kUndef {
		return
	}
	if isStrOp(op) {
		if lt != kStr || rt != kStr {
			p.errf("operator %s needs string operands", op)
		}
		return
	}
	if (lt == kStr) != (rt == kStr) {
		p.errf("type mismatch: %s %s %s", lt, op, rt)
	}
}

func (p *parser) checkNumeric(op string, es ...expr) {
	for _, e := range es {
		if t := e.typ(); t == kStr {
			p.errf("operator %s needs numeric operands, not %s", op, t)
		}
	}
}

func (p *parser) relExpr() expr {
	l := p.binLevel(0)
	for p.tok.kind == tOp && (p.tok.s == "<" || p.tok.s == "<=" || p.tok.s == ">" || p.tok.s == ">=") {
		op := p.tok.s
		p.next()
		r := p.binLevel(0)
		p.checkCompare(op, l, r)
		l = binNode{op: op, l: l, r: r}
	}
	return l
}

var binLevels = [][]string{{"|"}, {"^"}, {"&"}, {"<<", ">>"}, {"+", "-"}, {"*", "\\", "%"}}

func (p *parser) binLevel(lv int) expr {
	if lv == len(binLevels) {
		return p.unary()
	}
	l := p.binLevel(lv + 1)
	for p.tok.kind == tOp && contains(binLevels[lv], p.tok.s) {
		if p.tok.s == "%" && p.peek().s == "of" {
			return l
		}
		op := p.tok.s
		p.next()
		r := p.binLevel(lv + 1)
		p.checkNumeric(op, l, r)
		if (op == "%" || lv < 4) && (l.typ() == kFloat || r.typ() == kFloat) {
			p.errf("operator %s needs integer operands", op)
		}
		l = binNode{op: op, l: l, r: r}
	}
	return l
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (p *parser) unary() expr {
	p.enter()
	defer p.leave()
	if p.tok.kind == tOp && (p.tok.s == "-" || p.tok.s == "~") {
		op := p.tok.s
		p.next()
		x := p.unary()
		p.checkNumeric(op, x)
		if c, ok := x.(constNode); ok && op == "-" {
			return constNode{unaryNode{op, c}.eval(nil)}
		}
		return unaryNode{op, x}
	}
	return p.primary()
}

var intFuncs = map[string]intReadNode{
	"int8": {size: 1, signed: true}, "int16": {size: 2, signed: true}, "int32": {size: 4, signed: true},
	"uint8": {size: 1}, "uint16": {size: 2}, "uint32": {size: 4},
	"int8be": {size: 1, signed: true, be: true}, "int16be": {size: 2, signed: true, be: true},
	"int32be": {size: 4, signed: true, be: true}, "uint8be": {size: 1, be: true},
	"uint16be": {size: 2, be: true}, "uint32be": {size: 4, be: true},
}

func (p *parser) primary() expr {
	t := p.tok
	switch t.kind {
	case tInt:
		p.next()
		return constNode{vInt(t.i)}
	case tFloat:
		p.next()
		return constNode{vFloat(t.f)}
	case tText:
		p.next()
		return constNode{vStr(t.s)}
	case tStrID:
		p.next()
		if p.is("at") {
			p.next()
			at := p.binLevel(0)
			p.checkInt(at)
			return strAt{p.strRefAt(t.s, at), at}
		}
		s := p.strRef(t.s)
		switch {
		case p.is("in"):
			p.next()
			lo, hi := p.rangeExpr()
			return strIn{s, lo, hi}
		}
		return strFound{s}
	case tStrCount:
		s := p.strRef(t.s)
		p.next()
		if p.is("in") {
			p.next()
			lo, hi := p.rangeExpr()
			return strCount{s, lo, hi}
		}
		return strCount{s: s}
	case tStrOff, tStrLen:
		s := p.strRef(t.s)
		p.next()
		var idx expr
		if p.is("[") {
			p.next()
			idx = p.boolExpr()
			p.checkInt(idx)
			p.expect("]")
		}
		return strOffset{s: s, idx: idx, length: t.kind == tStrLen}
	case tOp:
		if t.s == "(" {
			p.next()
			e := p.boolExpr()
			p.expect(")")
			return e
		}
		p.errf("unexpected %s in condition", t)
	case tIdent:
		switch t.s {
		case "true", "false":
			p.next()
			return constNode{vBool(t.s == "true")}
		case "filesize":
			p.next()
			return filesizeNode{}
		case "entrypoint":
			p.next()
			return constNode{undef}
		case "any", "all", "none":
			p.next()
			k := map[string]quantKind{"any": qAny, "all": qAll, "none": qNone}[t.s]
			if !p.is("of") {
				p.errf("expected of after %s", t.s)
			}
			return p.ofExpr(quant{kind: k})
		case "for":
			return p.forExpr()
		case "them":
			p.errf("them is only valid after of")
		}
		if n, ok := intFuncs[t.s]; ok {
			p.next()
			p.expect("(")
			n.off = p.boolExpr()
			p.checkInt(n.off)
			p.expect(")")
			return n
		}
		if keywords[t.s] {
			p.errf("unexpected keyword %s in condition", t.s)
		}
		for i := len(p.loopVars) - 1; i >= 0; i-- {
			if p.loopVars[i] == t.s {
				p.next()
				return varNode{i}
			}
		}
		if ri, ok := p.ruleNames[t.s]; ok {
			p.next()
			return ruleRef{ri}
		}
		if p.dropped[t.s] {
			p.next()
			p.unsup = "uses skipped rule " + t.s
			return constNode{vBool(false)}
		}
		if p.imports[t.s] {
			return p.moduleExpr()
		}
		p.errf("undefined identifier %q", t.s)
	}
	p.errf("unexpected %s in condition", t)
	return nil
}

func (p *parser) checkInt(e expr) {
	if t := e.typ(); t != kInt && t != kUndef {
		p.errf("expected an integer expression, not %s", t)
	}
}

func (p *parser) rangeExpr() (expr, expr) {
	p.expect("(")
	lo := p.boolExpr()
	p.expect("..")
	hi := p.boolExpr()
	p.expect(")")
	p.checkInt(lo)
	p.checkInt(hi)
	return lo, hi
}

// strRef resolves $a, #a, @a, !a (normalised to "$a"); "$" alone means the string of
// the enclosing for-of loop.
func (p *parser) strRef(id string) int {
	if id == "$" {
		if p.inForOf == 0 {
			p.errf("$ used outside of a for … of loop")
		}
		return -1
	}
	gi, ok := p.curStrs[id]
	if !ok {
		p.errf("undefined string identifier %q", id)
	}
	p.r.strs[gi].used = true
	p.r.strs[gi].notFixed = true
	return gi
}

// strRefAt is strRef for "$a at <expr>".
func (p *parser) strRefAt(id string, at expr) int {
	if id == "$" {
		return p.strRef(id)
	}
	gi, ok := p.curStrs[id]
	if !ok {
		p.errf("undefined string identifier %q", id)
	}
	s := p.r.strs[gi]
	s.used = true
	if v, ok := constValue(at); ok && v.k == kInt && !s.notFixed && (s.fixedOff < 0 || s.fixedOff == v.i) && v.i >= 0 {
		s.fixedOff = v.i
	} else {
		s.notFixed = true
	}
	return gi
}

// constValue folds expressions made only of constants.
func constValue(e expr) (value, bool) {
	switch n := e.(type) {
	case constNode:
		return n.v, true
	case unaryNode:
		if _, ok := constValue(n.x); ok {
			return n.eval(nil), true
		}
	case binNode:
		_, ok1 := constValue(n.l)
		_, ok2 := constValue(n.r)
		if ok1 && ok2 && n.op != "matches" {
			return n.eval(nil), true
		}
	}
	return undef, false
}

// stringSet parses "them" or "($a, $b*, …)"; it may instead return a rule set.
func (p *parser) stringSet() (strs, rules []int) {
	if p.is("them") {
		p.next()
		if p.cur != nil && len(p.cur.strs) == 0 {
			p.errf("them used in a rule without strings")
		}
		for _, gi := range p.cur.strs {
			p.r.strs[gi].used = true
			p.r.strs[gi].notFixed = true
		}
		return append([]int(nil), p.cur.strs...), nil
	}
	p.expect("(")
	for {
		switch {
		case p.tok.kind == tStrID:
			id := p.tok.s
			if strings.HasSuffix(id, "*") {
				prefix := strings.TrimSuffix(id, "*")
				n := 0
				for _, gi := range p.cur.strs {
					if strings.HasPrefix(p.r.strs[gi].id, prefix) && p.r.strs[gi].id != "$" {
						p.r.strs[gi].used = true
						p.r.strs[gi].notFixed = true
						strs = append(strs, gi)
						n++
					}
				}
				if n == 0 {
					p.errf("no strings match %s", id)
				}
			} else {
				strs = append(strs, p.strRef(id))
			}
		case p.tok.kind == tIdent && len(strs) == 0:
			name := p.tok.s
			wild := false
			if p.peek().s == "*" {
				p.next()
				wild = true
			}
			n := 0
			for ri, r := range p.r.rules {
				if (wild && strings.HasPrefix(r.name, name)) || (!wild && r.name == name) {
					rules = append(rules, ri)
					n++
				}
			}
			if n == 0 {
				if p.dropped[name] {
					p.unsup = "uses skipped rule " + name
					rules = append(rules, 0)
				} else {
					p.errf("undefined rule %q in rule set", name)
				}
			}
		default:
			p.errf("expected string identifier in set, found %s", p.tok)
		}
		p.next()
		if p.is(",") {
			p.next()
			continue
		}
		p.expect(")")
		return strs, rules
	}
}

func (p *parser) ofExpr(q quant) expr {
	p.expect("of")
	strs, rules := p.stringSet()
	n := ofNode{q: q, strs: strs, rules: rules}
	if rules != nil {
		if q.kind == qNum {
			if c, ok := q.n.(constNode); ok && c.v.i > int64(len(rules)) {
				p.errf("quantifier %d is larger than the set of %d rules", c.v.i, len(rules))
			}
		}
		return n
	}
	if p.is("in") {
		p.next()
		n.lo, n.hi = p.rangeExpr()
	}
	return n
}

func (p *parser) forExpr() expr {
	p.next()
	var q quant
	switch {
	case p.is("any"):
		q.kind = qAny
		p.next()
	case p.is("all"):
		q.kind = qAll
		p.next()
	case p.is("none"):
		q.kind = qNone
		p.next()
	default:
		e := p.binLevel(0)
		q = p.numQuant(e, qNum)
		if p.is("%") {
			p.next()
			q.kind = qPct
		}
	}
	if p.is("of") {
		p.next()
		strs, rules := p.stringSet()
		if rules != nil {
			p.errf("for … of needs a string set")
		}
		p.expect(":")
		p.expect("(")
		p.inForOf++
		body := p.boolExpr()
		p.inForOf--
		p.expect(")")
		return forOfNode{q: q, strs: strs, body: body}
	}
	var names []string
	for {
		name := p.ident()
		if keywords[name] {
			p.errf("keyword %s used as a loop variable", name)
		}
		names = append(names, name)
		if !p.is(",") {
			break
		}
		p.next()
	}
	p.expect("in")
	var it iterable
	if p.is("(") {
		p.next()
		first := p.boolExpr()
		if p.is("..") {
			p.next()
			hi := p.boolExpr()
			p.expect(")")
			p.checkInt(first)
			p.checkInt(hi)
			it = rangeIter{first, hi}
		} else {
			items := []expr{first}
			for p.is(",") {
				p.next()
				items = append(items, p.boolExpr())
			}
			p.expect(")")
			it = listIter{items}
		}
		if len(names) != 1 {
			p.errf("this iterator yields one value, %d variables given", len(names))
		}
	} else if p.tok.kind == tIdent && p.imports[p.tok.s] {
		var nvars int
		it, nvars = p.moduleIterable()
		if len(names) != nvars {
			p.errf("this iterator yields %d values, %d variables given", nvars, len(names))
		}
	} else {
		p.errf("expected range, list or module array after in")
	}
	p.expect(":")
	slot := len(p.loopVars)
	p.loopVars = append(p.loopVars, names...)
	p.expect("(")
	body := p.boolExpr()
	p.expect(")")
	p.loopVars = p.loopVars[:slot]
	return forInNode{q: q, slot: slot, nvars: len(names), iter: it, body: body}
}

var _ = path.Join
