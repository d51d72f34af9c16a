package webshell

import (
	"encoding/base64"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Source encodings the server engines honour before they parse a page, so
// the analyser must too: a UTF-16 byte-order mark (JSP compilers and
// ASP.NET read such pages as UTF-16) and classic ASP's
// <%@ CodePage=65000 %> directive, which makes the engine read the page as
// UTF-7 ("+AGUAdgBhAGw-" is "eval").

// decodeUTF16BOM returns data as UTF-8 when it starts with a UTF-16
// byte-order mark. Unpaired surrogates become U+FFFD; a trailing odd byte
// is dropped.
func decodeUTF16BOM(data []byte) ([]byte, bool) {
	if len(data) < 2 {
		return nil, false
	}
	var big bool
	switch {
	case data[0] == 0xff && data[1] == 0xfe:
	case data[0] == 0xfe && data[1] == 0xff:
		big = true
	default:
		return nil, false
	}
	body := data[2:]
	units := make([]uint16, len(body)/2)
	for i := range units {
		if big {
			units[i] = uint16(body[2*i])<<8 | uint16(body[2*i+1])
		} else {
			units[i] = uint16(body[2*i+1])<<8 | uint16(body[2*i])
		}
	}
	out := make([]byte, 0, len(units))
	for _, r := range utf16.Decode(units) {
		out = utf8.AppendRune(out, r)
	}
	return out, true
}

// hasUTF7CodePage reports whether low (lower-cased source) holds a classic
// ASP directive selecting code page 65000 (UTF-7).
func hasUTF7CodePage(low string) bool {
	for i := 0; ; {
		j := strings.Index(low[i:], "<%@")
		if j < 0 {
			return false
		}
		i += j + 3
		end := strings.Index(low[i:], "%>")
		if end < 0 {
			return false
		}
		d := low[i : i+end]
		i += end
		k := strings.Index(d, "codepage")
		if k < 0 {
			continue
		}
		v := strings.TrimLeft(d[k+len("codepage"):], " \t\r\n=\"'")
		if strings.HasPrefix(v, "65000") {
			return true
		}
	}
}

// utf7B64 is the modified base64 alphabet of UTF-7 (RFC 2152).
var utf7B64 = base64.RawStdEncoding

func isUTF7B64(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/'
}

// decodeUTF7 decodes the shifted ("+...-") sequences of s per RFC 2152 and
// reports whether any was decoded. Text outside them is kept as is; a
// sequence that does not decode is kept verbatim. Output is capped at
// maxDecoded (the rest is dropped).
func decodeUTF7(s string) (string, bool) {
	var b strings.Builder
	changed := false
	for i := 0; i < len(s) && b.Len() < maxDecoded; {
		c := s[i]
		if c != '+' {
			b.WriteByte(c)
			i++
			continue
		}
		j := i + 1
		for j < len(s) && isUTF7B64(s[j]) {
			j++
		}
		run := s[i+1 : j]
		next := j
		if next < len(s) && s[next] == '-' {
			next++
		}
		if run == "" {
			// "+-" is a literal plus.
			b.WriteByte('+')
			i = next
			continue
		}
		raw, err := utf7B64.DecodeString(run[:len(run)-trailing(len(run))])
		if err != nil || len(raw) < 2 {
			b.WriteString(s[i:j])
			i = j
			continue
		}
		units := make([]uint16, len(raw)/2)
		for k := range units {
			units[k] = uint16(raw[2*k])<<8 | uint16(raw[2*k+1])
		}
		for _, r := range utf16.Decode(units) {
			b.WriteRune(r)
		}
		changed = true
		i = next
	}
	return b.String(), changed
}

// trailing returns how many base64 characters at the end of a run of n
// cannot form a whole byte (a run of 4k+1 characters has one such).
func trailing(n int) int {
	if n%4 == 1 {
		return 1
	}
	return 0
}
