package webshell

import (
	"strconv"
	"strings"
)

// constEval evaluates [s,e) when it is a constant string expression:
// literals, known constant variables, '.' concatenation, and calls of pure
// string and decoding functions with constant arguments. dec reports that a
// decoder (base64, gzip, rot13, ...) was involved.
func (a *phpAn) constEval(sc *phpScope, s, e, depth int) (constVal, bool) {
	if s >= e || depth > maxConstDepth || !a.st.spend(1) {
		return constVal{}, false
	}
	var out strings.Builder
	// head is the first operand, kept uncopied until a second one is
	// appended: most constant expressions are a single literal or call,
	// often a whole decoded payload, and copying it on every evaluation
	// was a large share of the allocations.
	var head string
	dec := false
	for k := s; k < e; {
		v, next, ok := a.constTerm(sc, k, e, depth)
		if !ok {
			return constVal{}, false
		}
		if len(head)+out.Len()+len(v.s) > maxConstLen {
			return constVal{}, false
		}
		if k == s {
			head = v.s
		} else {
			if head != "" {
				out.Grow(len(head) + len(v.s))
				out.WriteString(head)
				head = ""
			}
			out.WriteString(v.s)
		}
		dec = dec || v.dec
		k = next
		if k < e && a.is(k, "^") {
			if head != "" {
				out.WriteString(head)
				head = ""
			}
			// 'abc' ^ "\x01\x02\x03": XOR of two constant strings.
			w, next2, ok := a.constTerm(sc, k+1, e, depth)
			if !ok {
				return constVal{}, false
			}
			if next2 == k+2 && a.toks[k-1].k == tNum && a.toks[k+1].k == tNum {
				// 211 ^ 181: integer XOR (chr(211 ^ 181) is "f").
				x, err1 := strconv.ParseInt(v.s, 0, 64)
				y, err2 := strconv.ParseInt(w.s, 0, 64)
				if err1 != nil || err2 != nil {
					return constVal{}, false
				}
				cur := out.String()
				out.Reset()
				out.WriteString(cur[:len(cur)-len(v.s)])
				out.WriteString(strconv.FormatInt(x^y, 10))
				dec = true
				k = next2
				if k < e {
					if !a.is(k, ".") {
						return constVal{}, false
					}
					k++
					if k == e {
						return constVal{}, false
					}
				}
				continue
			}
			cur := out.String()
			left := cur[len(cur)-len(v.s):]
			n := min(len(left), len(w.s))
			x := make([]byte, n)
			for i := range n {
				x[i] = left[i] ^ w.s[i]
			}
			out.Reset()
			out.WriteString(cur[:len(cur)-len(v.s)])
			out.Write(x)
			dec = true
			k = next2
		}
		if k < e {
			if !a.is(k, ".") {
				return constVal{}, false
			}
			k++
			if k == e {
				return constVal{}, false
			}
		}
	}
	if head != "" {
		return constVal{s: head, dec: dec}, true
	}
	return constVal{s: out.String(), dec: dec}, true
}

// constTerm evaluates one operand of a concatenation at k.
func (a *phpAn) constTerm(sc *phpScope, k, e, depth int) (constVal, int, bool) {
	if k >= e || k >= len(a.toks) {
		return constVal{}, 0, false
	}
	t := &a.toks[k]
	switch t.k {
	case tStr:
		if t.interp {
			return constVal{}, 0, false
		}
		return constVal{s: t.s}, k + 1, true
	case tNum:
		return constVal{s: t.s}, k + 1, true
	case tVar:
		end, method := a.varEnd(k)
		if method || end > e {
			return constVal{}, 0, false
		}
		v, p, ok := a.constVarBase(sc, k, end, depth)
		if !ok {
			return constVal{}, 0, false
		}
		if p == end {
			if a.is(end, "(") && a.match[end] > end && a.match[end] < e {
				// $f(...) where $f holds the name of a pure function.
				r, ok := a.constCall(sc, strings.ToLower(v.s), end, depth)
				return r, a.match[end] + 1, ok
			}
			return v, end, true
		}
		// $s[3] / $s{3}: one character of a constant string.
		if end == a.match[p]+1 && (a.is(p, "[") || a.is(p, "{")) {
			iv, ok := a.constEval(sc, p+1, end-1, depth+1)
			if !ok {
				return constVal{}, 0, false
			}
			n, err := strconv.Atoi(strings.TrimLeft(iv.s, "0"))
			if iv.s != "" && strings.Trim(iv.s, "0") == "" {
				n, err = 0, nil
			}
			if err != nil || n < 0 || n >= len(v.s) {
				return constVal{}, 0, false
			}
			return constVal{s: v.s[n : n+1], dec: true}, end, true
		}
		return constVal{}, 0, false
	case tOp:
		switch t.s {
		case "(":
			m := a.match[k]
			if m < 0 || m >= e {
				return constVal{}, 0, false
			}
			v, ok := a.constEval(sc, k+1, m, depth+1)
			return v, m + 1, ok
		case "@":
			return a.constTerm(sc, k+1, e, depth)
		}
	case tIdent:
		if !a.is(k+1, "(") {
			// PHP before 8 reads an undefined bare constant as its own
			// name: call_user_func(assert, ...) calls "assert". Only
			// dangerous function names are resolved this way.
			if _, bad := dangerousNames[t.l]; bad && !a.is(k-1, "->") && !a.is(k-1, "::") && !a.is(k+1, "::") && !a.isIdent(k-1, "function") {
				return constVal{s: t.l}, k + 1, true
			}
			// A constant define()d with a constant value.
			if v, ok := a.constValOf(t.s); ok && !a.is(k-1, "->") && !a.is(k-1, "::") && !a.is(k+1, "::") {
				return v, k + 1, true
			}
			return constVal{}, 0, false
		}
		m := a.match[k+1]
		if m < 0 || m >= e {
			return constVal{}, 0, false
		}
		v, ok := a.constCall(sc, t.l, k+1, depth)
		return v, m + 1, ok
	}
	return constVal{}, 0, false
}

// constCall evaluates a pure function of constant arguments.
func (a *phpAn) constCall(sc *phpScope, name string, open, depth int) (constVal, bool) {
	args := a.args(open)
	vals := make([]constVal, len(args))
	for i, r := range args {
		if i > 3 && (name != "pack" || i >= maxPackArgs) {
			return constVal{}, false
		}
		v, ok := a.constEval(sc, r[0], r[1], depth+1)
		if !ok {
			return constVal{}, false
		}
		vals[i] = v
	}
	if len(vals) == 0 {
		return constVal{}, false
	}
	x := vals[0]
	decoded := func(fn func(string) (string, bool), in string) (constVal, bool) {
		out, ok := a.st.decode(name, in, fn)
		if !ok {
			return constVal{}, false
		}
		return constVal{s: out, dec: true}, true
	}
	switch name {
	case "base64_decode":
		return decoded(decodeBase64, x.s)
	case "gzinflate":
		return decoded(decodeInflate, x.s)
	case "gzuncompress":
		return decoded(decodeZlib, x.s)
	case "gzdecode":
		return decoded(decodeGzip, x.s)
	case "str_rot13":
		return constVal{s: rot13(x.s), dec: true}, true
	case "strrev":
		return constVal{s: reverse(x.s), dec: x.dec}, true
	case "hex2bin":
		return decoded(decodeHex, x.s)
	case "pack":
		if len(vals) == 2 && strings.HasPrefix(x.s, "H") {
			return decoded(decodeHex, vals[1].s)
		}
		if x.s == "c*" || x.s == "C*" {
			// pack('c*', 0x70, 0x61, ...): one byte per number.
			b := make([]byte, 0, len(vals)-1)
			for _, v := range vals[1:] {
				n, err := strconv.ParseInt(strings.TrimSpace(v.s), 0, 64)
				if err != nil {
					return constVal{}, false
				}
				b = append(b, byte(n))
			}
			return constVal{s: string(b), dec: true}, true
		}
	case "urldecode":
		return decoded(func(s string) (string, bool) { return decodeURL(s, true) }, x.s)
	case "rawurldecode":
		return decoded(func(s string) (string, bool) { return decodeURL(s, false) }, x.s)
	case "chr":
		n, err := strconv.ParseInt(strings.TrimSpace(x.s), 0, 64)
		if err != nil {
			return constVal{}, false
		}
		return constVal{s: string([]byte{byte(n)}), dec: true}, true
	case "sprintf":
		// sprintf('%s_%s', 'call', 'user'): plain %s substitution only.
		if out, ok := sprintfS(x.s, vals[1:]); ok {
			return constVal{s: out, dec: true}, true
		}
	case "strtolower":
		return constVal{s: strings.ToLower(x.s), dec: x.dec}, true
	case "strtoupper":
		return constVal{s: strings.ToUpper(x.s), dec: x.dec}, true
	case "ucfirst", "ucwords", "lcfirst", "trim", "ltrim", "rtrim", "stripslashes":
		s := x.s
		switch name {
		case "ucfirst", "ucwords":
			if s != "" {
				s = strings.ToUpper(s[:1]) + s[1:]
			}
		case "lcfirst":
			if s != "" {
				s = strings.ToLower(s[:1]) + s[1:]
			}
		case "trim", "ltrim", "rtrim":
			cut := " \t\n\r\x00\x0B"
			if len(vals) == 2 {
				if strings.Contains(vals[1].s, "..") {
					return constVal{}, false // character ranges are not modelled
				}
				cut = vals[1].s
			}
			if name != "rtrim" {
				s = strings.TrimLeft(s, cut)
			}
			if name != "ltrim" {
				s = strings.TrimRight(s, cut)
			}
		case "stripslashes":
			s = strings.ReplaceAll(s, `\`, "")
		}
		return constVal{s: s, dec: x.dec}, true
	case "str_replace", "str_ireplace":
		if len(vals) == 3 && vals[0].s != "" {
			return constVal{s: strings.ReplaceAll(vals[2].s, vals[0].s, vals[1].s), dec: true}, true
		}
	case "strtr":
		if len(vals) == 3 && len(vals[1].s) == len(vals[2].s) {
			r := []byte(x.s)
			from, to := vals[1].s, vals[2].s
			for i, c := range r {
				if j := strings.IndexByte(from, c); j >= 0 {
					r[i] = to[j]
				}
			}
			return constVal{s: string(r), dec: true}, true
		}
	case "substr":
		if len(vals) >= 2 {
			st, err := strconv.Atoi(vals[1].s)
			if err != nil {
				return constVal{}, false
			}
			s := x.s
			if st < 0 {
				st = max(0, len(s)+st)
			}
			if st > len(s) {
				return constVal{s: "", dec: x.dec}, true
			}
			s = s[st:]
			if len(vals) == 3 {
				n, err := strconv.Atoi(vals[2].s)
				if err != nil {
					return constVal{}, false
				}
				if n < 0 {
					n = max(0, len(s)+n)
				}
				s = s[:min(n, len(s))]
			}
			return constVal{s: s, dec: x.dec}, true
		}
	case "substr_replace":
		if len(vals) >= 3 {
			st, err := strconv.Atoi(vals[2].s)
			if err != nil || st < 0 || st > len(x.s) {
				return constVal{}, false
			}
			end := len(x.s)
			if len(vals) == 4 {
				n, err := strconv.Atoi(vals[3].s)
				if err != nil || n < 0 {
					return constVal{}, false
				}
				end = min(st+n, len(x.s))
			}
			return constVal{s: x.s[:st] + vals[1].s + x.s[end:], dec: true}, true
		}
	}
	return constVal{}, false
}

// decodedLayer re-analyses decoded (or constant eval'd) text as PHP code and
// merges what it finds.
func (a *phpAn) decodedLayer(s string, pos int, evaled bool) {
	if !a.final || a.st.depth >= maxDecodeDepth || !looksLikeCode(s) {
		return
	}
	code := !strings.Contains(s, "<?")
	if !evaled && code {
		// A decoded string that is not eval'd here must at least look like
		// PHP to be worth a second look.
		// containsFold(s, n) is strings.Contains(strings.ToLower(s), n)
		// for these needles: the only non-ASCII characters lower-casing to
		// ASCII are U+212A (to 'k') and U+0130 (to 'i'), in none of them.
		if !strings.Contains(s, "$_") && !containsFold(s, "eval") && !containsFold(s, "exec") && !containsFold(s, "system") && !containsFold(s, "assert") {
			return
		}
	}
	nested, seen := a.st.layers[s]
	if !seen {
		nested = a.st.analyzeLayer(s, code)
		if a.st.layers == nil {
			a.st.layers = map[string]*scorer{}
		}
		a.st.layers[s] = nested
	}
	if len(nested.sigs) > 0 {
		a.sc.merge(nested, "in decoded layer: ")
		a.sc.add("PHP-DECODED-CODE", wDecodedLayer, "suspicious code hidden in an encoded layer", snippet(a.src, pos))
	}
}

// constEnds evaluates the fixed ends of a concatenation [s,e) whose middle
// is not constant: the first operand and the trailing constant operands.
// ok is false when the expression is not a concatenation or either end is
// not constant.
func (a *phpAn) constEnds(sc *phpScope, s, e int) (prefix, suffix string, ok bool) {
	var dots []int
	for k := s; k < e; k++ {
		if a.is(k, ".") {
			dots = append(dots, k)
		}
		if m := a.match[k]; m > k && a.toks[k].k == tOp && (a.toks[k].s == "(" || a.toks[k].s == "[" || a.toks[k].s == "{") {
			k = m
		}
	}
	if len(dots) < 2 {
		return "", "", false
	}
	p, ok := a.constEval(sc, s, dots[0], 0)
	if !ok || p.s == "" {
		return "", "", false
	}
	// The longest constant tail.
	for i := 1; i < len(dots); i++ {
		if v, ok := a.constEval(sc, dots[i]+1, e, 0); ok && v.s != "" {
			return p.s, v.s, true
		}
	}
	return "", "", false
}

// constVarBase resolves the variable reference starting at k (ending at
// end) to a constant: $x, $GLOBALS['x'] (the global $x) and $arr['key']
// of an array assigned constant elements. p is the token after the part
// consumed; a remaining [n] index is left to the caller.
func (a *phpAn) constVarBase(sc *phpScope, k, end, depth int) (v constVal, p int, ok bool) {
	name, p := a.toks[k].s, k+1
	if name == "GLOBALS" && a.is(p, "[") && a.match[p] > p && a.match[p] < end+1 {
		iv, ok := a.constEval(sc, p+1, a.match[p], depth+1)
		if !ok {
			return constVal{}, 0, false
		}
		if ev, ok := sc.arr["GLOBALS"][iv.s]; ok {
			// $GLOBALS = array('k' => ...) replaced the globals array.
			return ev, a.match[p] + 1, true
		}
		name, p = iv.s, a.match[p]+1
	}
	if m := sc.arr[name]; m != nil && a.is(p, "[") && a.match[p] > p && a.match[p] < end {
		iv, ok := a.constEval(sc, p+1, a.match[p], depth+1)
		if !ok {
			return constVal{}, 0, false
		}
		ev, ok := m[iv.s]
		return ev, a.match[p] + 1, ok
	}
	v, ok = sc.val[name]
	return v, p, ok
}

// maxArrayElems caps the constant elements remembered per array.
const maxArrayElems = 512

// constArray reads the array literal array(...) / [...] at [s,e) into its
// constant elements (non-constant ones are left out). ok is false when
// [s,e) is not an array literal.
func (a *phpAn) constArray(sc *phpScope, s, e int) (map[string]constVal, bool) {
	open := -1
	switch {
	case a.isIdent(s, "array") && a.is(s+1, "(") && a.match[s+1] == e-1:
		open = s + 1
	case a.is(s, "[") && a.match[s] == e-1:
		open = s
	default:
		return nil, false
	}
	args := a.args(open)
	// Sized for every element up front: obfuscators keep their strings in
	// arrays of thousands, which grew the map step by step in each round.
	m := make(map[string]constVal, min(len(args), maxArrayElems))
	next := 0
	for _, r := range args {
		if len(m) >= maxArrayElems {
			break
		}
		arrow := -1
		for p := r[0]; p < r[1]; p++ {
			if a.is(p, "=>") {
				arrow = p
				break
			}
			if q := a.match[p]; q > p {
				p = q
			}
		}
		key := strconv.Itoa(next)
		vs := r[0]
		if arrow >= 0 {
			kv, ok := a.constEval(sc, r[0], arrow, 0)
			if !ok {
				continue
			}
			key, vs = kv.s, arrow+1
			if n, err := strconv.Atoi(key); err == nil && n >= next {
				next = n + 1
			}
		} else {
			next++
		}
		if v, ok := a.constEval(sc, vs, r[1], 0); ok {
			m[key] = v
		}
	}
	return m, true
}

// maxPackArgs caps the arguments of a pack('c*', ...) call evaluated.
const maxPackArgs = 256

// globalsTarget resolves an assignment target $GLOBALS['x'] or
// ${"GLOBALS"}['x'] (end is the end of the reference at k) to "x".
func (a *phpAn) globalsTarget(sc *phpScope, k, end int) (string, bool) {
	p := k + 1
	switch {
	case a.toks[k].s == "GLOBALS":
	case a.toks[k].s == "" && a.is(k+1, "{") && a.match[k+1] > k:
		v, ok := a.constEval(sc, k+2, a.match[k+1], 0)
		if !ok || v.s != "GLOBALS" {
			return "", false
		}
		p = a.match[k+1] + 1
	default:
		return "", false
	}
	if !a.is(p, "[") || a.match[p]+1 != end {
		return "", false
	}
	iv, ok := a.constEval(sc, p+1, a.match[p], 0)
	if !ok || iv.s == "" {
		return "", false
	}
	return iv.s, true
}

// arrayElemAssign records $a['k'] = constant (and forgets the element on
// any other assignment to it).
func (a *phpAn) arrayElemAssign(sc *phpScope, k, end int, op string, v constVal, vok bool) {
	name := a.toks[k].s
	if name == "" || !a.is(k+1, "[") || a.match[k+1]+1 != end {
		return
	}
	iv, ok := a.constEval(sc, k+2, a.match[k+1], 0)
	if !ok {
		if a.is(k+2, "]") || sc.arr[name] == nil {
			return // $a[] = ...: appended, keys unknown
		}
		delete(sc.arr, name) // unknown key: any element may change
		return
	}
	if vok && op == "=" {
		if sc.arr == nil {
			sc.arr = map[string]map[string]constVal{}
		}
		m := sc.arr[name]
		if m == nil {
			m = map[string]constVal{}
			sc.arr[name] = m
		}
		if len(m) < maxArrayElems {
			m[iv.s] = v
		}
		return
	}
	delete(sc.arr[name], iv.s)
}

// sprintfS formats f when its only conversions are %s and %%.
func sprintfS(f string, args []constVal) (string, bool) {
	var b strings.Builder
	n := 0
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			b.WriteByte(f[i])
			continue
		}
		if i+1 >= len(f) {
			return "", false
		}
		i++
		switch f[i] {
		case '%':
			b.WriteByte('%')
		case 's':
			if n >= len(args) {
				return "", false
			}
			b.WriteString(args[n].s)
			n++
		default:
			return "", false
		}
	}
	return b.String(), true
}
