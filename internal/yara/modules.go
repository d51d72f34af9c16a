package yara

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"hash/crc32"
	"math"
	"strings"
)

// knownModules are the modules this engine implements. Rules using any other module
// (pe, dotnet, magic, cuckoo, …) fail to compile, or are skipped with SkipUnsupported.
var knownModules = map[string]bool{"math": true, "hash": true, "elf": true}

type seg struct {
	name string
	idx  expr
	args []expr
	call bool
}

func (p *parser) moduleExpr() expr {
	mod := p.tok.s
	p.next()
	var segs []seg
	for {
		switch {
		case p.is("."):
			p.next()
			segs = append(segs, seg{name: p.ident()})
		case p.is("[") && len(segs) > 0:
			p.next()
			segs[len(segs)-1].idx = p.boolExpr()
			p.expect("]")
		case p.is("(") && len(segs) > 0:
			p.next()
			s := &segs[len(segs)-1]
			s.call = true
			for !p.is(")") {
				s.args = append(s.args, p.boolExpr())
				if !p.is(",") {
					break
				}
				p.next()
			}
			p.expect(")")
		default:
			if len(segs) == 0 {
				p.errf("module %s used without a field", mod)
			}
			if !knownModules[mod] {
				p.unsup = "module " + mod + " is not supported"
				return constNode{undef}
			}
			var e expr
			var msg string
			switch mod {
			case "math":
				e, msg = mathResolve(segs)
			case "hash":
				e, msg = hashResolve(segs)
			case "elf":
				e, msg = elfResolve(segs)
			}
			if msg != "" {
				p.errf("%s.%s: %s", mod, segs[0].name, msg)
			}
			return e
		}
	}
}

func (p *parser) moduleIterable() (iterable, int) {
	mod := p.tok.s
	p.moduleExpr()
	if p.unsup == "" {
		p.unsup = "iterating over " + mod + " module arrays is not supported"
	}
	return listIter{}, -1
}

func argKinds(args []expr) string {
	var sb strings.Builder
	for _, a := range args {
		switch a.typ() {
		case kInt, kBool:
			sb.WriteByte('i')
		case kFloat:
			sb.WriteByte('f')
		case kStr:
			sb.WriteByte('s')
		default:
			sb.WriteByte('?')
		}
	}
	return sb.String()
}

// sigMatch reports whether the argument kinds fit sig ('?' fits anything, 'f' accepts 'i').
func sigMatch(kinds, sig string) bool {
	if len(kinds) != len(sig) {
		return false
	}
	for i := range kinds {
		if kinds[i] != '?' && kinds[i] != sig[i] && !(sig[i] == 'f' && kinds[i] == 'i') {
			return false
		}
	}
	return true
}

// rangeData returns data[off:off+n] clipped to the data, or false when off is outside it.
func rangeData(c *scanCtx, off, n value) ([]byte, bool) {
	if off.k != kInt || n.k != kInt || off.i < 0 || n.i < 0 || off.i >= int64(len(c.data)) {
		return nil, false
	}
	end := int64(len(c.data))
	if n.i < end-off.i {
		end = off.i + n.i
	}
	return c.data[off.i:end], true
}

// dataFn adapts a function over bytes to the (offset, length) and (string) overloads.
func dataFn(segs []seg, t vkind, extra string, fn func(b []byte, extra []value) value) (expr, string) {
	s := segs[0]
	k := argKinds(s.args)
	switch {
	case sigMatch(k, "ii"+extra):
		return funcNode{t: t, args: s.args, fn: func(c *scanCtx, a []value) value {
			b, ok := rangeData(c, a[0], a[1])
			if !ok {
				return undef
			}
			return fn(b, a[2:])
		}}, ""
	case sigMatch(k, "s"+extra):
		return funcNode{t: t, args: s.args, fn: func(c *scanCtx, a []value) value {
			return fn([]byte(a[0].s), a[1:])
		}}, ""
	}
	return nil, "wrong arguments (" + k + ")"
}

func mathResolve(segs []seg) (expr, string) {
	s := segs[0]
	if len(segs) != 1 {
		return nil, "unknown field"
	}
	if s.name == "MEAN_BYTES" && !s.call {
		return constNode{vFloat(127.5)}, ""
	}
	if !s.call {
		return nil, "unknown field or missing call"
	}
	k := argKinds(s.args)
	switch s.name {
	case "entropy":
		return dataFn(segs, kFloat, "", func(b []byte, _ []value) value { return floatOrUndef(entropy(b), len(b)) })
	case "mean":
		return dataFn(segs, kFloat, "", func(b []byte, _ []value) value { return floatOrUndef(mean(b), len(b)) })
	case "deviation":
		return dataFn(segs, kFloat, "f", func(b []byte, x []value) value {
			m := x[0].num()
			sum := 0.0
			for _, c := range b {
				sum += math.Abs(float64(c) - m)
			}
			return floatOrUndef(sum/float64(len(b)), len(b))
		})
	case "serial_correlation":
		return dataFn(segs, kFloat, "", func(b []byte, _ []value) value { return floatOrUndef(serialCorrelation(b), len(b)) })
	case "monte_carlo_pi":
		return dataFn(segs, kFloat, "", func(b []byte, _ []value) value { return monteCarloPi(b) })
	case "in_range":
		if !sigMatch(k, "fff") {
			return nil, "wrong arguments"
		}
		return funcNode{t: kBool, args: s.args, fn: func(_ *scanCtx, a []value) value {
			return vBool(a[0].num() >= a[1].num() && a[0].num() <= a[2].num())
		}}, ""
	case "max", "min":
		if !sigMatch(k, "ii") {
			return nil, "wrong arguments"
		}
		isMax := s.name == "max"
		return funcNode{t: kInt, args: s.args, fn: func(_ *scanCtx, a []value) value {
			if (a[0].i > a[1].i) == isMax {
				return vInt(a[0].i)
			}
			return vInt(a[1].i)
		}}, ""
	case "to_number":
		if !sigMatch(k, "i") {
			return nil, "wrong arguments"
		}
		return funcNode{t: kInt, args: s.args, fn: func(_ *scanCtx, a []value) value { return vInt(b2i(a[0].truth())) }}, ""
	case "abs":
		if !sigMatch(k, "i") {
			return nil, "wrong arguments"
		}
		return funcNode{t: kInt, args: s.args, fn: func(_ *scanCtx, a []value) value {
			if a[0].i < 0 {
				return vInt(-a[0].i)
			}
			return vInt(a[0].i)
		}}, ""
	case "count", "percentage":
		pct := s.name == "percentage"
		t := kInt
		if pct {
			t = kFloat
		}
		f := func(c *scanCtx, a []value) value {
			if a[0].i < 0 || a[0].i > 255 {
				return undef
			}
			b := c.data
			if len(a) == 3 {
				var ok bool
				if b, ok = rangeData(c, a[1], a[2]); !ok {
					return undef
				}
			}
			n := int64(0)
			for _, x := range b {
				if int64(x) == a[0].i {
					n++
				}
			}
			if pct {
				if len(b) == 0 {
					return undef
				}
				return vFloat(float64(n) / float64(len(b)))
			}
			return vInt(n)
		}
		if sigMatch(k, "iii") || sigMatch(k, "i") {
			return funcNode{t: t, args: s.args, fn: f}, ""
		}
		return nil, "wrong arguments"
	case "mode":
		if !sigMatch(k, "ii") && k != "" {
			return nil, "wrong arguments"
		}
		return funcNode{t: kInt, args: s.args, fn: func(c *scanCtx, a []value) value {
			b := c.data
			if len(a) == 2 {
				var ok bool
				if b, ok = rangeData(c, a[0], a[1]); !ok {
					return undef
				}
			}
			if len(b) == 0 {
				return undef
			}
			var hist [256]int
			for _, x := range b {
				hist[x]++
			}
			m := 0
			for i := range hist {
				if hist[i] > hist[m] {
					m = i
				}
			}
			return vInt(int64(m))
		}}, ""
	}
	return nil, "unknown function"
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func floatOrUndef(f float64, n int) value {
	if n == 0 || math.IsNaN(f) {
		return undef
	}
	return vFloat(f)
}

func entropy(b []byte) float64 {
	var hist [256]int
	for _, x := range b {
		hist[x]++
	}
	e := 0.0
	for _, h := range hist {
		if h > 0 {
			x := float64(h) / float64(len(b))
			e -= x * math.Log2(x)
		}
	}
	return e
}

func mean(b []byte) float64 {
	sum := 0.0
	for _, x := range b {
		sum += float64(x)
	}
	return sum / float64(len(b))
}

func serialCorrelation(b []byte) float64 {
	var t1, t2, t3, last float64
	for _, x := range b {
		u := float64(x)
		t1 += last * u
		t2 += u
		t3 += u * u
		last = u
	}
	if len(b) > 0 {
		t1 += last * float64(b[0]) // wrap around, as libyara (and ent) do
	}
	n := float64(len(b))
	t2 *= t2
	d := n*t3 - t2
	if d == 0 {
		return -100000
	}
	return (n*t1 - t2) / d
}

func monteCarloPi(b []byte) value {
	const incirc = (256.0*256.0*256.0 - 1) * (256.0*256.0*256.0 - 1)
	in, cnt := 0, 0
	for i := 0; i+6 <= len(b); i += 6 {
		var x, y float64
		for j := 0; j < 3; j++ {
			x = x*256 + float64(b[i+j])
			y = y*256 + float64(b[i+3+j])
		}
		if x*x+y*y <= incirc {
			in++
		}
		cnt++
	}
	if cnt == 0 {
		return undef
	}
	pi := 4 * float64(in) / float64(cnt)
	return vFloat(math.Abs((pi - math.Pi) / math.Pi))
}

func hashResolve(segs []seg) (expr, string) {
	if len(segs) != 1 || !segs[0].call {
		return nil, "unknown field"
	}
	switch segs[0].name {
	case "md5":
		return dataFn(segs, kStr, "", func(b []byte, _ []value) value { h := md5.Sum(b); return vStr(hex.EncodeToString(h[:])) })
	case "sha1":
		return dataFn(segs, kStr, "", func(b []byte, _ []value) value { h := sha1.Sum(b); return vStr(hex.EncodeToString(h[:])) })
	case "sha256":
		return dataFn(segs, kStr, "", func(b []byte, _ []value) value { h := sha256.Sum256(b); return vStr(hex.EncodeToString(h[:])) })
	case "crc32":
		return dataFn(segs, kInt, "", func(b []byte, _ []value) value { return vInt(int64(crc32.ChecksumIEEE(b))) })
	case "checksum32":
		return dataFn(segs, kInt, "", func(b []byte, _ []value) value {
			var s uint32
			for _, x := range b {
				s += uint32(x)
			}
			return vInt(int64(s))
		})
	}
	return nil, "unknown function"
}
