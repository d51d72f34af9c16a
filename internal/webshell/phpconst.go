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
	dec := false
	for k := s; k < e; {
		v, next, ok := a.constTerm(sc, k, e, depth)
		if !ok {
			return constVal{}, false
		}
		if out.Len()+len(v.s) > maxConstLen {
			return constVal{}, false
		}
		out.WriteString(v.s)
		dec = dec || v.dec
		k = next
		if k < e && a.is(k, "^") {
			// 'abc' ^ "\x01\x02\x03": XOR of two constant strings.
			w, next2, ok := a.constTerm(sc, k+1, e, depth)
			if !ok {
				return constVal{}, false
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
	return constVal{s: out.String(), dec: dec}, true
}

// constTerm evaluates one operand of a concatenation at k.
func (a *phpAn) constTerm(sc *phpScope, k, e, depth int) (constVal, int, bool) {
	if k >= e || k >= len(a.toks) {
		return constVal{}, 0, false
	}
	t := a.toks[k]
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
		v, ok := sc.val[t.s]
		if !ok {
			return constVal{}, 0, false
		}
		if end == k+1 {
			if a.is(end, "(") && a.match[end] > end && a.match[end] < e {
				// $f(...) where $f holds the name of a pure function.
				r, ok := a.constCall(sc, strings.ToLower(v.s), end, depth)
				return r, a.match[end] + 1, ok
			}
			return v, end, true
		}
		// $s[3] / $s{3}: one character of a constant string.
		if end == a.match[k+1]+1 && (a.is(k+1, "[") || a.is(k+1, "{")) {
			iv, ok := a.constEval(sc, k+2, end-1, depth+1)
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
		if i > 3 {
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
		ls := strings.ToLower(s)
		if !strings.Contains(ls, "$_") && !strings.Contains(ls, "eval") && !strings.Contains(ls, "exec") && !strings.Contains(ls, "system") && !strings.Contains(ls, "assert") {
			return
		}
	}
	nested, seen := a.st.layers[s]
	if !seen {
		a.st.depth++
		nested = analyzePHP(s, code, a.st)
		a.st.depth--
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
