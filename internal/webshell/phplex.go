package webshell

import (
	"strconv"
	"strings"
	"sync"
)

type tkind uint8

const (
	tEOF   tkind = iota
	tVar         // $name (s = name without '$'); "$" alone for $$x / ${...}
	tIdent       // identifier or keyword (s = original, l = lower-case)
	tStr         // string literal (s = decoded value, vars = interpolated variables)
	tNum         // number
	tOp          // punctuation / operator
	tExec        // `backtick` command (s = raw body, vars = interpolated variables)
)

// tok is one token of a script. pos is the byte offset in the source
// (sources stay below 2 GiB, see MaxSourceBytes). The struct is kept
// small (48 bytes): scripts have one token per few bytes of source, and
// filling the token slice was a large part of lexing.
type tok struct {
	s string
	l string
	// vars holds the interpolated variables of a string or backtick
	// command (nil when there are none); see varList.
	vars *[]string
	pos  int32
	k    tkind
	// interp is true for double-quoted/heredoc strings that interpolate
	// variables or expressions, so their value is not constant.
	interp bool
	// cls caches the call classes of an identifier (see phpAn.callClass);
	// 0 until first asked. It fits in the struct's padding.
	cls callClass
}

// varList returns the variables interpolated into a string or backtick
// command token.
func (t *tok) varList() []string {
	if t.vars == nil {
		return nil
	}
	return *t.vars
}

// varsRef stores vars for a token: nil when empty.
func varsRef(vars []string) *[]string {
	if len(vars) == 0 {
		return nil
	}
	return &vars
}

// maxTokens bounds the token slice of one script.
const maxTokens = 2_000_000

// maxPooledTokens is the largest token slice kept for reuse between
// analyses; bigger ones (rare, huge files) are left to the collector.
const maxPooledTokens = 1 << 17

// Token slices are recycled: allocating and clearing a fresh slice per file
// (and per decoded layer) was the largest single cost of analysis. PHP
// slices are pooled per decode depth (phpToksAt): with one pool, the small
// slice a decoded layer had just returned was handed to the next file
// while the file-sized one waited behind it, so big files grew a slice
// again and again.
var (
	phpToks    [maxDecodeDepth + 1]sync.Pool
	scriptToks = sync.Pool{New: func() any { return new([]sTok) }}
)

// phpToksAt returns the token pool for analyses at decode depth d.
func phpToksAt(d int) *sync.Pool { return &phpToks[min(max(d, 0), maxDecodeDepth)] }

// getPHPToks returns a pooled token slice holder for decode depth d.
func getPHPToks(d int) *[]tok {
	if b, ok := phpToksAt(d).Get().(*[]tok); ok {
		return b
	}
	return new([]tok)
}

// lexPHP tokenizes the PHP code of src. Inline HTML outside <?php ... ?> is
// skipped; "?>" becomes a ";" token. code is true when src starts in PHP
// mode (decoded payloads without an open tag). It runs in time linear in
// len(src). Tokens are appended to out.
func lexPHP(src string, code bool, out []tok) []tok {
	i, n := 0, len(src)
	inPHP := code
	// Open tags inside another language's strings or comments stay text.
	judge := tagJudge{s: src, close: "?>"}
	emit := func(t tok) {
		if len(out) < maxTokens {
			out = append(out, t)
		}
	}
	for i < n && len(out) < maxTokens {
		if !inPHP {
			j := strings.Index(src[i:], "<?")
			if j < 0 {
				break
			}
			i += j + 2
			if judge.at(i-2) == ctxForeign {
				continue
			}
			switch {
			case hasPrefixFold(src[i:], "php"):
				i += 3
			case strings.HasPrefix(src[i:], "="):
				i++
				emit(tok{k: tIdent, s: "echo", l: "echo", pos: int32(i)})
			case hasPrefixFold(src[i:], "xml"):
				continue
			}
			inPHP = true
			continue
		}
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '?' && i+1 < n && src[i+1] == '>':
			emit(tok{k: tOp, s: ";", pos: int32(i)})
			i += 2
			inPHP = false
		case c == '#' && !(i+1 < n && src[i+1] == '['), c == '/' && i+1 < n && src[i+1] == '/':
			for i < n && src[i] != '\n' {
				if src[i] == '?' && i+1 < n && src[i+1] == '>' {
					break
				}
				i++
			}
		case c == '/' && i+1 < n && src[i+1] == '*':
			j := strings.Index(src[i+2:], "*/")
			if j < 0 {
				i = n
			} else {
				i += j + 4
			}
		case c == '$':
			j := i + 1
			for j < n && isIdentByte(src[j]) {
				j++
			}
			emit(tok{k: tVar, s: src[i+1 : j], pos: int32(i)})
			i = j
		case isIdentStart(c) || c == '\\':
			j := i + 1
			for j < n && (isIdentByte(src[j]) || src[j] == '\\') {
				j++
			}
			w := src[i:j]
			if k := strings.LastIndexByte(w, '\\'); k >= 0 && k < len(w)-1 {
				w = w[k+1:] // \eval(...) and namespaced names call the base name
			}
			emit(tok{k: tIdent, s: w, l: strings.ToLower(w), pos: int32(i)})
			i = j
		case c >= '0' && c <= '9':
			j := i + 1
			for j < n && (isIdentByte(src[j]) || src[j] == '.') {
				j++
			}
			emit(tok{k: tNum, s: src[i:j], pos: int32(i)})
			i = j
		case c == '\'':
			v, j := lexSingle(src, i+1)
			emit(tok{k: tStr, s: v, pos: int32(i)})
			i = j
		case c == '"':
			v, vars, interp, j := lexDouble(src, i+1, '"')
			emit(tok{k: tStr, s: v, vars: varsRef(vars), interp: interp, pos: int32(i)})
			i = j
		case c == '`':
			v, vars, _, j := lexDouble(src, i+1, '`')
			emit(tok{k: tExec, s: v, vars: varsRef(vars), pos: int32(i)})
			i = j
		case c == '<' && strings.HasPrefix(src[i:], "<<<"):
			t, j := lexHeredoc(src, i)
			emit(t)
			i = j
		default:
			op := src[i : i+1] // string(c) without a conversion call
			if i+1 < n {
				two := src[i : i+2]
				switch two {
				case "==", "!=", "<=", ">=", ".=", "->", "::", "=>", "+=", "-=", "&&", "||", "++", "--", "??":
					op = two
				}
			}
			emit(tok{k: tOp, s: op, pos: int32(i)})
			i += len(op)
		}
	}
	return out
}

func hasPrefixFold(s, p string) bool {
	return len(s) >= len(p) && strings.EqualFold(s[:len(p)], p)
}

func isIdentStart(c byte) bool { return identClass[c]&identStart != 0 }

func isIdentByte(c byte) bool { return identClass[c]&identByte != 0 }

// identClass classifies bytes for the lexers' identifier loops, one table
// load instead of a chain of range tests per byte.
var identClass = func() (t [256]uint8) {
	for i := range t {
		c := byte(i)
		start := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
		if start {
			t[i] |= identStart
		}
		if start || c >= '0' && c <= '9' {
			t[i] |= identByte
			if c < 0x80 {
				t[i] |= identASCII
			}
		}
		if c == '$' {
			t[i] |= scriptIdent
		}
	}
	for i := range t {
		if t[i]&identASCII != 0 {
			t[i] |= scriptIdent
		}
	}
	return t
}()

const (
	identStart  = 1 << iota // isIdentStart
	identByte               // isIdentByte
	identASCII              // isIdentByte and below 0x80
	scriptIdent             // identASCII or '$': continues a lexScript identifier
)

func lexSingle(src string, i int) (string, int) {
	// Fast path: no escape before the closing quote, the value is a slice
	// of the source.
	// (The first quote with no backslash before it is where
	// strings.IndexAny(src[i:], `'\`) finds a quote; two memchr passes
	// are faster than IndexAny's byte loop on long literals.)
	if j := strings.IndexByte(src[i:], '\''); j >= 0 && strings.IndexByte(src[i:i+j], '\\') < 0 {
		return src[i : i+j], i + j + 1
	}
	var b strings.Builder
	for i < len(src) {
		c := src[i]
		if c == '\'' {
			return b.String(), i + 1
		}
		if c == '\\' && i+1 < len(src) && (src[i+1] == '\'' || src[i+1] == '\\') {
			b.WriteByte(src[i+1])
			i += 2
			continue
		}
		b.WriteByte(c)
		i++
	}
	return b.String(), i
}

// lexDouble reads a double-quoted (or backtick) body up to the closing quote,
// decoding escapes and collecting interpolated variable names.
func lexDouble(src string, i int, q byte) (string, []string, bool, int) {
	// Fast path: nothing to decode or interpolate before the closing quote.
	var stop *[256]bool
	switch q {
	case '"':
		stop = &dqStop
	case '`':
		stop = &btStop
	case 0:
		stop = &hdStop
	default:
		t := stopSet(q)
		stop = &t
	}
	for j := i; j < len(src); j++ {
		if !stop[src[j]] {
			continue
		}
		if src[j] == q {
			return src[i:j], nil, false, j + 1
		}
		break
	}
	var b strings.Builder
	var vars []string
	interp := false
	for i < len(src) {
		c := src[i]
		if c == q {
			return b.String(), vars, interp, i + 1
		}
		if c == '\\' && i+1 < len(src) {
			i = unescape(&b, src, i)
			continue
		}
		if c == '$' && i+1 < len(src) && (isIdentStart(src[i+1]) || src[i+1] == '{') {
			j, name := interpVar(src, i)
			interp = true
			if name != "" {
				vars = append(vars, name)
			}
			b.WriteString(src[i:j])
			i = j
			continue
		}
		if c == '{' && i+1 < len(src) && src[i+1] == '$' {
			j, name := interpVar(src, i+1)
			interp = true
			if name != "" {
				vars = append(vars, name)
			}
			b.WriteString(src[i:j])
			i = j
			continue
		}
		// A run of plain bytes up to the next one that may be special.
		j := i + 1
		for j < len(src) && !stop[src[j]] {
			j++
		}
		b.WriteString(src[i:j])
		i = j
	}
	return b.String(), vars, interp, i
}

// dqStop, btStop and hdStop mark the bytes lexDouble stops at in a "..."
// string, a `...` command and a heredoc body (closed by NUL): the closing
// quote, '\\', '$' and '{'.
var dqStop, btStop, hdStop = stopSet('"'), stopSet('`'), stopSet(0)

func stopSet(q byte) (t [256]bool) {
	for _, c := range []byte{q, '\\', '$', '{'} {
		t[c] = true
	}
	return t
}

// interpVar reads "$name" (with an optional [index] or ->prop) or "${expr}"
// at src[i]=='$' and returns the end and the variable name.
func interpVar(src string, i int) (int, string) {
	j := i + 1
	if j < len(src) && src[j] == '{' {
		k := strings.IndexByte(src[j:], '}')
		if k < 0 {
			return len(src), ""
		}
		inner := strings.Trim(src[j+1:j+k], "'\" ")
		return j + k + 1, inner
	}
	for j < len(src) && isIdentByte(src[j]) {
		j++
	}
	name := src[i+1 : j]
	if j < len(src) && src[j] == '[' {
		if k := strings.IndexByte(src[j:], ']'); k >= 0 && k < 64 {
			idx := strings.Trim(src[j+1:j+k], "'\"")
			if name == "_SERVER" {
				name = "_SERVER[" + idx + "]"
			}
			j += k + 1
		}
	}
	return j, name
}

// unescape decodes one PHP double-quote escape at src[i]=='\\' into b.
func unescape(b *strings.Builder, src string, i int) int {
	c := src[i+1]
	switch c {
	case 'n':
		b.WriteByte('\n')
	case 't':
		b.WriteByte('\t')
	case 'r':
		b.WriteByte('\r')
	case 'v':
		b.WriteByte('\v')
	case 'f':
		b.WriteByte('\f')
	case 'e':
		b.WriteByte(0x1b)
	case '0', '1', '2', '3', '4', '5', '6', '7':
		j := i + 1
		for j < len(src) && j < i+4 && src[j] >= '0' && src[j] <= '7' {
			j++
		}
		v, _ := strconv.ParseUint(src[i+1:j], 8, 16)
		b.WriteByte(byte(v))
		return j
	case 'x':
		j := i + 2
		for j < len(src) && j < i+4 && isHex(src[j]) {
			j++
		}
		if j == i+2 {
			b.WriteString(`\x`)
			return i + 2
		}
		v, _ := strconv.ParseUint(src[i+2:j], 16, 8)
		b.WriteByte(byte(v))
		return j
	case 'u':
		if i+2 < len(src) && src[i+2] == '{' {
			if k := strings.IndexByte(src[i+2:], '}'); k > 0 && k < 10 {
				if v, err := strconv.ParseUint(src[i+3:i+2+k], 16, 32); err == nil {
					b.WriteRune(rune(v))
					return i + 3 + k
				}
			}
		}
		b.WriteString(`\u`)
	case '\\', '$', '"', '`':
		b.WriteByte(c)
	default:
		b.WriteByte('\\')
		b.WriteByte(c)
	}
	return i + 2
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// lexHeredoc reads <<<ID / <<<"ID" (heredoc) or <<<'ID' (nowdoc).
func lexHeredoc(src string, i int) (tok, int) {
	start := i
	j := i + 3
	for j < len(src) && (src[j] == ' ' || src[j] == '\t') {
		j++
	}
	nowdoc := false
	quote := byte(0)
	if j < len(src) && (src[j] == '\'' || src[j] == '"') {
		quote = src[j]
		nowdoc = quote == '\''
		j++
	}
	k := j
	for k < len(src) && isIdentByte(src[k]) {
		k++
	}
	id := src[j:k]
	if id == "" {
		return tok{k: tOp, s: "<", pos: int32(start)}, i + 1
	}
	if quote != 0 && k < len(src) && src[k] == quote {
		k++
	}
	nl := strings.IndexByte(src[k:], '\n')
	if nl < 0 {
		return tok{k: tStr, pos: int32(start)}, len(src)
	}
	bodyStart := k + nl + 1
	// The terminator is the identifier at the start of a line (after optional
	// indentation) not followed by an identifier byte.
	end, after := len(src), len(src)
	for p := bodyStart; p < len(src); {
		q := p
		for q < len(src) && (src[q] == ' ' || src[q] == '\t') {
			q++
		}
		if strings.HasPrefix(src[q:], id) && (q+len(id) == len(src) || !isIdentByte(src[q+len(id)])) {
			end, after = p, q+len(id)
			break
		}
		e := strings.IndexByte(src[p:], '\n')
		if e < 0 {
			break
		}
		p += e + 1
	}
	body := src[bodyStart:end]
	body = strings.TrimSuffix(strings.TrimSuffix(body, "\n"), "\r")
	if nowdoc {
		return tok{k: tStr, s: body, pos: int32(start)}, after
	}
	v, vars, interp, _ := lexDouble(body+"\x00", 0, 0)
	return tok{k: tStr, s: v, vars: varsRef(vars), interp: interp, pos: int32(start)}, after
}
