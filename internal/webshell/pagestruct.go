package webshell

import "strings"

// This file decides whether a server-side open tag ("<?php", "<%") found in
// a file is page structure that a PHP, ASP or JSP engine would run, or only
// text that mentions the syntax: a Python format string '<%s instance>', a
// Vim pattern '<?php\s*', a comment quoting "<?php ?>".

// maxQuoteScan bounds how far tagContext looks along a line in each
// direction, keeping detection linear on minified files with long lines.
const maxQuoteScan = 4096

// tagCtx says where an open tag sits in the text around it.
type tagCtx int

const (
	// ctxTop: page structure, outside any quoted string, or quoted as an
	// HTML attribute value (href="<?= $u ?>", value="<%= x %>").
	ctxTop tagCtx = iota
	// ctxQuoted: inside a quoted string that the tag's own region closes
	// within (var u = "<?php echo $u ?>";). Page structure in a page that
	// has top-level tags; a code snippet in another language's string
	// otherwise.
	ctxQuoted
	// ctxForeign: text inside another language's string or comment:
	// '<%s instance>' in Python, '\(<?php\)' in Vim script, a "#" comment.
	ctxForeign
)

// tagContext classifies the open tag at s[i:], whose region ends at close.
// A quoted string opened earlier on the tag's line ('...' or "...", with
// backslash escapes) makes the tag foreign when its quote comes back before
// close appears (within maxQuoteScan bytes), or when it is never closed on a
// line where the tag closes (prose or a Vim comment). A line that opens
// with a "#" comment (not a "#!" interpreter line) holds no page structure.
func tagContext(s string, i int, close string) tagCtx {
	ls := strings.LastIndexByte(s[max(0, i-maxQuoteScan):i], '\n') + 1 + max(0, i-maxQuoteScan)
	line := strings.TrimLeft(s[ls:i], " \t")
	if strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "#!") {
		return ctxForeign
	}
	if k := strings.LastIndex(s[ls:i], close); k >= 0 {
		// Quotes in an earlier server block on the line do not count.
		ls += k + len(close)
	}
	var q byte
	qpos := 0
	for j := ls; j < i; j++ {
		switch c := s[j]; {
		case q != 0 && c == '\\':
			j++
		case q == 0 && c == '\'' && isApostrophe(s[ls:j]):
			// Don't, it's: prose, not a string.
		case q == 0 && (c == '\'' || c == '"'):
			q, qpos = c, j
		case c == q:
			q = 0
		}
	}
	if q == 0 || inAttribute(s[ls:qpos]) {
		// An attribute value holds server code with its own quotes:
		// href="<%= Request("u") %>".
		return ctxTop
	}
	end := min(len(s), i+maxQuoteScan)
	sameLine := true
	for j := i + 2; j < end; j++ {
		switch c := s[j]; {
		case c == '\\':
			j++
		case c == '\n':
			sameLine = false
		case c == q:
			return ctxForeign
		case strings.HasPrefix(s[j:], close):
			// The tag closes first. A quote never closed on the line
			// opened prose or a comment (Vim's "), not a value.
			if sameLine {
				rest := s[j+len(close) : min(len(s), j+len(close)+maxQuoteScan)]
				if nl := strings.IndexByte(rest, '\n'); nl >= 0 {
					rest = rest[:nl]
				}
				if strings.IndexByte(rest, q) < 0 {
					return ctxForeign
				}
			}
			return ctxQuoted
		}
	}
	return ctxForeign
}

// inAttribute reports whether a quote following pre opens an HTML attribute
// value: pre ends with "=" inside an open "<name ..." tag.
func inAttribute(pre string) bool {
	pre = strings.TrimRight(pre, " \t")
	if !strings.HasSuffix(pre, "=") {
		return false
	}
	lt := strings.LastIndexByte(pre, '<')
	return lt >= 0 && lt+1 < len(pre) && isLetter(pre[lt+1]) && !strings.Contains(pre[lt:], ">")
}

// maxTagChecks bounds how many open tags of one file are judged by
// tagContext. Past it, tags are taken as page structure (the behaviour
// before judging), which keeps analysis linear on files made of tags.
const maxTagChecks = 4096

// tagJudge judges the open tags of one text, counting the checks.
type tagJudge struct {
	s, close string
	n        int
}

// at classifies the open tag at s[i:] (see tagContext); past maxTagChecks
// calls it returns ctxTop.
func (j *tagJudge) at(i int) tagCtx {
	if j.n >= maxTagChecks {
		return ctxTop
	}
	j.n++
	return tagContext(j.s, i, j.close)
}

// blockStartsCode reports whether the body of a "<% ... %>" block can begin
// VBScript, JScript, Java or C# code, a directive or an output expression.
// Regular expressions and templates of other tools that mention the
// delimiters ("(<%)(.*?)(%>)", "<%([\s\S]+?)%>") start with punctuation no
// statement starts with.
func blockStartsCode(body string) bool {
	body = strings.TrimLeft(body, "@=!#:$-")
	body = strings.TrimLeft(body, " \t\r\n")
	if body == "" {
		return false
	}
	c := body[0]
	if c == '\\' {
		// A Java unicode escape (\u0052untime) starts JSP code.
		u := strings.TrimLeft(body[1:], "u")
		return len(u) < len(body)-1 && len(u) >= 4 && isHex(u[0]) && isHex(u[1]) && isHex(u[2]) && isHex(u[3])
	}
	return isLetter(c) || c == '_' || c == '\'' || c == '"' || c == '/' || c == '{' || c == '}' || c == '<' || c >= 0x80
}

// hasASPBlock reports whether low holds at least one top-level server block
// "<% ... %>": closed by "%>", its body can start code (blockStartsCode), and
// not inside a quoted string (other than an HTML attribute value) or a
// comment. Blocks quoted in strings count only in a page that has one.
func hasASPBlock(low string) bool {
	judge := tagJudge{s: low, close: "%>"}
	next := -1 // index of the next "%>" at or after the current body
	for i := 0; ; {
		j := strings.Index(low[i:], "<%")
		if j < 0 {
			return false
		}
		i += j
		if next < i+2 {
			k := strings.Index(low[i+2:], "%>")
			if k < 0 {
				return false // no block closes after here
			}
			next = i + 2 + k
		}
		body := low[i+2 : min(next, i+2+maxQuoteScan)]
		if blockStartsCode(body) && judge.at(i) == ctxTop {
			return true
		}
		i += 2
	}
}

// hasServerTag reports whether low holds a tag with runat="server" (an
// ASP.NET control or <script runat="server">): the attribute must sit inside
// a "<name ...>" tag, not in prose or another language's string.
func hasServerTag(low string) bool {
	for i := 0; ; {
		j := strings.Index(low[i:], "runat")
		if j < 0 {
			return false
		}
		i += j
		rest := strings.TrimLeft(low[i+5:], " \t")
		if !strings.HasPrefix(rest, "=") {
			i += 5
			continue
		}
		rest = strings.TrimLeft(rest[1:], " \t\"'")
		lt := strings.LastIndexByte(low[max(0, i-maxQuoteScan):i], '<')
		if strings.HasPrefix(rest, "server") && lt >= 0 {
			tag := low[max(0, i-maxQuoteScan)+lt : i]
			if len(tag) > 1 && isLetter(tag[1]) && !strings.Contains(tag, ">") {
				return true
			}
		}
		i += 5
	}
}

// isApostrophe reports whether a "'" following pre is an apostrophe inside
// a word (don't) rather than an opening quote: it follows a letter that is
// not a Python string prefix (r”, b”, f”, u”, rb”, ...).
func isApostrophe(pre string) bool {
	k := len(pre)
	for k > 0 && isLetter(pre[k-1]) {
		k--
	}
	w := strings.ToLower(pre[k:])
	if w == "" {
		return false
	}
	switch w {
	case "r", "b", "f", "u", "rb", "br", "fr", "rf":
		return false
	}
	return true
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
