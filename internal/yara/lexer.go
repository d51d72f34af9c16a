package yara

import (
	"fmt"
	"strconv"
	"strings"
)

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tStrID    // $a, $, $a*
	tStrCount // #a
	tStrOff   // @a
	tStrLen   // !a
	tInt
	tFloat
	tText // "..."
	tOp   // punctuation and operators
)

type token struct {
	kind tokKind
	s    string // identifier, operator or decoded text
	i    int64
	f    float64
	line int
	col  int
	pos  int
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of file"
	case tText:
		return strconv.Quote(t.s)
	case tInt:
		return strconv.FormatInt(t.i, 10)
	}
	return fmt.Sprintf("%q", t.s)
}

// CompileError is a rule syntax or semantic error with its location.
type CompileError struct {
	Source string
	Line   int
	Col    int
	Rule   string
	Msg    string
}

func (e *CompileError) Error() string {
	if e.Rule != "" {
		return fmt.Sprintf("%s:%d:%d: rule %q: %s", e.Source, e.Line, e.Col, e.Rule, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.Source, e.Line, e.Col, e.Msg)
}

// bailout carries a CompileError through the recursive-descent parser; it is recovered
// in Compile and never escapes the package (the go/parser idiom).
type bailout struct{ err error }

type lexer struct {
	src  string
	data []byte
	pos  int
	line int
	col0 int // offset of the current line start
}

func newLexer(name string, data []byte) *lexer {
	return &lexer{src: name, data: data, line: 1}
}

func (lx *lexer) errAt(line, col int, format string, args ...any) {
	panic(bailout{&CompileError{Source: lx.src, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}})
}

func (lx *lexer) errHere(format string, args ...any) {
	lx.errAt(lx.line, lx.pos-lx.col0+1, format, args...)
}

func (lx *lexer) peekc(k int) byte {
	if lx.pos+k < len(lx.data) {
		return lx.data[lx.pos+k]
	}
	return 0
}

func (lx *lexer) advance() byte {
	c := lx.data[lx.pos]
	lx.pos++
	if c == '\n' {
		lx.line++
		lx.col0 = lx.pos
	}
	return c
}

// skipSpace skips blanks and comments.
func (lx *lexer) skipSpace() {
	for lx.pos < len(lx.data) {
		c := lx.data[lx.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v':
			lx.advance()
		case c == '/' && lx.peekc(1) == '/':
			for lx.pos < len(lx.data) && lx.data[lx.pos] != '\n' {
				lx.advance()
			}
		case c == '/' && lx.peekc(1) == '*':
			line, col := lx.line, lx.pos-lx.col0+1
			lx.advance()
			lx.advance()
			for {
				if lx.pos >= len(lx.data) {
					lx.errAt(line, col, "unterminated comment")
				}
				if lx.data[lx.pos] == '*' && lx.peekc(1) == '/' {
					lx.advance()
					lx.advance()
					break
				}
				lx.advance()
			}
		default:
			return
		}
	}
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentChar(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

var ops3 = []string{"..", "<<", ">>", "<=", ">=", "==", "!="}

func (lx *lexer) next() token {
	lx.skipSpace()
	t := token{line: lx.line, col: lx.pos - lx.col0 + 1, pos: lx.pos}
	if lx.pos >= len(lx.data) {
		t.kind = tEOF
		return t
	}
	c := lx.data[lx.pos]
	switch {
	case isIdentStart(c):
		start := lx.pos
		for lx.pos < len(lx.data) && isIdentChar(lx.data[lx.pos]) {
			lx.advance()
		}
		t.kind, t.s = tIdent, string(lx.data[start:lx.pos])
		if len(t.s) > 128 {
			lx.errAt(t.line, t.col, "identifier too long")
		}
		return t
	case c == '$' || c == '#' || c == '@' || (c == '!' && lx.peekc(1) != '='):
		lx.advance()
		start := lx.pos
		for lx.pos < len(lx.data) && isIdentChar(lx.data[lx.pos]) {
			lx.advance()
		}
		name := string(lx.data[start:lx.pos])
		if c == '$' && lx.pos < len(lx.data) && lx.data[lx.pos] == '*' {
			lx.advance()
			name += "*"
		}
		t.s = "$" + name
		t.kind = map[byte]tokKind{'$': tStrID, '#': tStrCount, '@': tStrOff, '!': tStrLen}[c]
		return t
	case c >= '0' && c <= '9':
		return lx.number(t)
	case c == '"':
		t.kind = tText
		t.s = string(lx.textString())
		return t
	}
	for _, op := range ops3 {
		if strings.HasPrefix(string(lx.data[lx.pos:min(lx.pos+2, len(lx.data))]), op) {
			lx.pos += 2
			t.kind, t.s = tOp, op
			return t
		}
	}
	if strings.IndexByte("(){}[]:=,.+-*\\%&|^~<>", c) >= 0 {
		lx.advance()
		t.kind, t.s = tOp, string(c)
		return t
	}
	lx.errHere("unexpected character %q", c)
	return t
}

func (lx *lexer) number(t token) token {
	start := lx.pos
	for lx.pos < len(lx.data) && (isIdentChar(lx.data[lx.pos]) || (lx.data[lx.pos] == '.' && lx.peekc(1) != '.')) {
		lx.advance()
	}
	lit := string(lx.data[start:lx.pos])
	mult := int64(1)
	switch {
	case strings.HasSuffix(lit, "KB"):
		mult, lit = 1024, strings.TrimSuffix(lit, "KB")
	case strings.HasSuffix(lit, "MB"):
		mult, lit = 1024*1024, strings.TrimSuffix(lit, "MB")
	}
	if strings.Contains(lit, ".") {
		f, err := strconv.ParseFloat(lit, 64)
		if err != nil || mult != 1 {
			lx.errAt(t.line, t.col, "invalid number %q", lit)
		}
		t.kind, t.f = tFloat, f
		return t
	}
	var v uint64
	var err error
	switch {
	case strings.HasPrefix(lit, "0x"):
		v, err = strconv.ParseUint(lit[2:], 16, 64)
	case strings.HasPrefix(lit, "0o"):
		v, err = strconv.ParseUint(lit[2:], 8, 64)
	default:
		v, err = strconv.ParseUint(lit, 10, 64)
	}
	if err != nil || v > 1<<63-1 || int64(v) > (1<<63-1)/mult {
		lx.errAt(t.line, t.col, "invalid or too large number %q", string(lx.data[start:lx.pos]))
	}
	t.kind, t.i = tInt, int64(v)*mult
	return t
}

// textString reads a double-quoted string with YARA escapes; lx.pos is at the quote.
func (lx *lexer) textString() []byte {
	line, col := lx.line, lx.pos-lx.col0+1
	lx.advance()
	var out []byte
	for {
		if lx.pos >= len(lx.data) || lx.data[lx.pos] == '\n' {
			lx.errAt(line, col, "unterminated string")
		}
		c := lx.advance()
		if c == '"' {
			return out
		}
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if lx.pos >= len(lx.data) {
			lx.errAt(line, col, "unterminated string")
		}
		e := lx.advance()
		switch e {
		case 'n':
			out = append(out, '\n')
		case 't':
			out = append(out, '\t')
		case 'r':
			out = append(out, '\r')
		case '"', '\\':
			out = append(out, e)
		case 'x':
			h := string(lx.data[lx.pos:min(lx.pos+2, len(lx.data))])
			v, err := strconv.ParseUint(h, 16, 8)
			if err != nil || len(h) != 2 {
				lx.errHere("invalid \\x escape in string")
			}
			lx.pos += 2
			out = append(out, byte(v))
		default:
			lx.errHere("invalid escape sequence \\%c in string", e)
		}
	}
}

// rawDelimited reads the body of a regex /.../ (lx.pos at the opening slash) and its flags.
func (lx *lexer) regexLiteral() (body []byte, flags string, line, col int) {
	lx.skipSpace()
	line, col = lx.line, lx.pos-lx.col0+1
	if lx.pos >= len(lx.data) || lx.data[lx.pos] != '/' {
		lx.errHere("expected regular expression")
	}
	lx.advance()
	for {
		if lx.pos >= len(lx.data) || lx.data[lx.pos] == '\n' {
			lx.errAt(line, col, "unterminated regular expression")
		}
		c := lx.advance()
		if c == '/' {
			break
		}
		if c == '\\' && lx.pos < len(lx.data) && lx.data[lx.pos] == '/' {
			lx.advance()
			body = append(body, '/')
			continue
		}
		body = append(body, c)
		if c == '\\' && lx.pos < len(lx.data) && lx.data[lx.pos] != '\n' {
			body = append(body, lx.advance())
		}
	}
	for lx.pos < len(lx.data) && (lx.data[lx.pos] == 'i' || lx.data[lx.pos] == 's') {
		flags += string(lx.advance())
	}
	return body, flags, line, col
}

// hexLiteral reads the body of a hex string {...} (lx.pos at the brace).
func (lx *lexer) hexLiteral() (body []byte, line, col int) {
	line, col = lx.line, lx.pos-lx.col0+1
	lx.advance()
	for {
		if lx.pos >= len(lx.data) {
			lx.errAt(line, col, "unterminated hex string")
		}
		c := lx.advance()
		if c == '}' {
			return body, line, col
		}
		if c == '/' && lx.peekc(0) == '/' {
			for lx.pos < len(lx.data) && lx.data[lx.pos] != '\n' {
				lx.advance()
			}
			continue
		}
		if c == '/' && lx.peekc(0) == '*' {
			lx.advance()
			for lx.pos < len(lx.data) && !(lx.data[lx.pos] == '*' && lx.peekc(1) == '/') {
				lx.advance()
			}
			if lx.pos < len(lx.data) {
				lx.advance()
				lx.advance()
			}
			continue
		}
		body = append(body, c)
	}
}
