package webshell

import (
	"html"
	"strconv"
	"strings"
	"unsafe"
)

// This file analyses JSP/JSPX (Java), classic ASP (VBScript or JScript) and
// ASP.NET pages (C#, VB.NET or JScript.NET) with one engine: the server-side
// code regions are extracted, tokenized (C-like or VB syntax), request input
// is traced through assignments and method parameters, and sinks are judged
// by whether input reaches them.

type sTok struct {
	k   tkind // tIdent (l is lower-case), tStr, tNum, tOp
	s   string
	l   string
	pos int
}

type scriptAn struct {
	lang   string // "jsp", "asp", "aspx"
	prefix string // signal ID prefix, e.g. "JSP-"
	vb     bool
	code   string
	toks   []sTok
	match  []int
	taint  map[string]bool
	params map[string][]string // method name -> parameter names
	sc     *scorer
	st     *state
	has    map[string]bool // identifiers present, of those in hasWords
	words  []uint8         // per token, the scriptWords class of an identifier
	input  bool            // request input referenced anywhere
	// inputAt[k] caches isInput(k), which does not change during analysis.
	inputAt []bool
	ends    []int // see computeEnds
	// webForms is true for ASP.NET pages with server controls, whose
	// .Text/.Value are client input.
	webForms bool
	// selfDirAt and writesAt cache selfDir and writesInput: 0 unknown,
	// 1 yes, -1 no.
	selfDirAt, writesAt int
}

// analyzeScript analyses src as lang ("jsp", "asp" or "aspx").
// low is asciiLower(src). fronts, when not nil, shares the
// language-independent front end (tokens, brackets, statement ends, method
// parameters) between the analyses of one page as several languages; the
// caller releases it.
func analyzeScript(src, low, lang string, st *state, fronts *scriptFronts) *scorer {
	code, vb := extractCodeShared(src, low, lang, fronts)
	if strings.TrimSpace(code) == "" || fronts.pageHas(low, pageMSXSL) {
		// No <% %> regions (e.g. XSLT msxsl:script in a page): analyse it all.
		code = src
	}
	var own scriptFronts
	if fronts == nil {
		fronts = &own
		defer own.release()
	}
	f := fronts.get(code, vb)
	a := &scriptAn{lang: lang, prefix: strings.ToUpper(lang) + "-", vb: vb, code: code,
		taint: map[string]bool{}, sc: newScorer(lang), st: st,
		toks: f.toks, match: f.match, ends: f.ends, has: f.has, params: f.params, words: f.words}
	a.sc.decided = &st.decided
	a.webForms = fronts.pageHas(low, pageASPTag)
	a.inputAt = make([]bool, len(a.toks))
	for i := range a.toks {
		t := &a.toks[i]
		if t.k == tIdent && a.isInput(i) {
			a.input = true
			a.inputAt[i] = true
		}
	}
	if lang == "aspx" && a.has["webmethod"] {
		a.webMethodInput()
	}
	for range 3 {
		if !a.propagate() {
			break
		}
	}
	a.sinks()
	return a.sc
}

// scriptFront is the part of a script analysis that depends only on the
// extracted code and its grammar (VB or C-like), not on the language the
// page is judged as: detectLangs often names two or three candidate
// languages for one page, and each used to lex and index the same code
// again. Analyses only read it.
type scriptFront struct {
	code string
	vb   bool
	buf  *[]sTok // pooled token slice holding toks
	// matchBuf and endsBuf are the pooled slices behind match and ends.
	matchBuf, endsBuf *[]int
	// lowBuf is the pooled buffer of the lower-cased code the identifier
	// tokens' l fields (and so has and params) point into.
	lowBuf *[]byte
	toks   []sTok
	match  []int
	ends   []int
	has    map[string]bool     // identifiers present, of those in hasWords
	params map[string][]string // method name -> parameter names
	words  []uint8             // per token, the scriptWords class of an identifier
}

// scriptFronts holds the fronts built for one page.
type scriptFronts struct {
	list  []*scriptFront
	codes []extractedCode // see extractCodeShared
	// page is the page pageHas last answered for (its bytes), and known
	// and has the tests answered and their answers.
	page       *byte
	pageLen    int
	known, has uint8
}

// Page tests of pageHas: strings.Contains of the page with each needle.
const (
	pageMSXSL  uint8 = 1 << iota // "<msxsl:script"
	pageASPTag                   // "<asp:"
)

// pageHas reports strings.Contains(low, needle of test), remembering the
// answer for the page: each candidate language asks again. fs may be nil.
func (fs *scriptFronts) pageHas(low string, test uint8) bool {
	if fs == nil {
		return pageContains(low, test)
	}
	if fs.page != unsafe.StringData(low) || fs.pageLen != len(low) {
		fs.page, fs.pageLen, fs.known, fs.has = unsafe.StringData(low), len(low), 0, 0
	}
	if fs.known&test == 0 {
		fs.known |= test
		if pageContains(low, test) {
			fs.has |= test
		}
	}
	return fs.has&test != 0
}

func pageContains(low string, test uint8) bool {
	if test == pageMSXSL {
		return strings.Contains(low, "<msxsl:script")
	}
	return strings.Contains(low, "<asp:")
}

// get returns the front of code lexed with grammar vb, building it on
// first use. Building is what analyzeScript did before: lexScript,
// matchScript, computeEnds, the identifier set and collectMethods, none of
// which depends on the language or charges the analysis budget.
func (fs *scriptFronts) get(code string, vb bool) *scriptFront {
	for _, f := range fs.list {
		if f.vb == vb && f.code == code {
			return f
		}
	}
	f := &scriptFront{code: code, vb: vb, has: map[string]bool{}, params: map[string][]string{}}
	f.buf = scriptToks.Get().(*[]sTok)
	if want := tokenCapHint(len(code)/6 + 16); cap(*f.buf) < want {
		*f.buf = make([]sTok, 0, want)
	}
	low, lowBuf := asciiLowerPooled(code)
	f.lowBuf = lowBuf
	f.toks = lexScriptLower(code, low, vb, (*f.buf)[:0])
	f.matchBuf, f.endsBuf = getInts(), getInts()
	f.match = matchScript(f.toks, *f.matchBuf)
	b := &scriptAn{vb: vb, toks: f.toks, match: f.match, params: f.params, ends: *f.endsBuf}
	b.computeEnds()
	f.ends = b.ends
	f.words = make([]uint8, len(f.toks))
	for i := range f.toks {
		if t := &f.toks[i]; t.k == tIdent {
			c := scriptWords[t.l]
			f.words[i] = c
			if c&wordHas != 0 {
				f.has[t.l] = true
			}
		}
	}
	b.collectMethods()
	fs.list = append(fs.list, f)
	return f
}

// release recycles the token slices of the fronts; they must not be used
// afterwards.
func (fs *scriptFronts) release() {
	for _, f := range fs.list {
		// The tokens are not referenced after analysis: recycle the slice.
		clear(f.toks)
		if cap(f.toks) <= maxPooledTokens {
			*f.buf = f.toks[:0]
			scriptToks.Put(f.buf)
		}
		putInts(f.matchBuf, f.match)
		putInts(f.endsBuf, f.ends)
		// Nothing keeps the lower-cased code: identifier names reach
		// results only through concatenation or clip, which copy.
		releaseLower(f.lowBuf)
	}
	fs.list = nil
	fs.codes = nil
	fs.page, fs.pageLen, fs.known, fs.has = nil, 0, 0, 0
}

// hasWords are the lower-case identifiers the analysis asks the has set
// about (has["..."]; TestHasWords keeps the list complete): a front records
// only these, rather than every identifier of the page.
var hasWords = map[string]bool{
	"asc": true, "base64": true, "base64decoder": true, "binaryformatter": true, "binaryread": true,
	"chr": true, "cipher": true, "copyfile": true, "copyto": true, "createdecryptor": true,
	"createtextfile": true, "decodebuffer": true, "defineclass": true, "delete": true,
	"deletefile": true, "deletefolder": true, "directoryentry": true, "directoryinfo": true,
	"dofinal": true, "drivermanager": true, "elprocessor": true, "encode": true,
	"expressionfactory": true, "expressionparser": true, "fileinputstream": true,
	"fileoutputstream": true, "filereader": true, "files": true, "getdeclaredmethod": true,
	"getdecoder": true, "getdirectories": true, "getenginebyname": true, "getexpressionfactory": true,
	"getfiles": true, "getfolder": true, "getinputstream": true, "getinstance": true,
	"getmethod": true, "getobject": true, "getreader": true, "getruntime": true,
	"groovyclassloader": true, "groovyshell": true, "httppostedfile": true, "instr": true,
	"invoke": true, "jexlbuilder": true, "jexlengine": true, "jshell": true, "list": true,
	"listfiles": true, "loadclass": true, "losformatter": true, "mid": true, "move": true,
	"movefile": true, "netdatacontractserializer": true, "newinstance": true,
	"objectstateformatter": true, "oledbconnection": true, "openconnection": true, "openstream": true,
	"physicalpath": true, "postedfile": true, "processbuilder": true, "processstartinfo": true,
	"readobject": true, "renameto": true, "replace": true, "rijndaelmanaged": true, "saveas": true,
	"savetofile": true, "scriptengine": true, "scriptenginemanager": true, "shell": true,
	"soapformatter": true, "socket": true, "spelexpressionparser": true, "sqlconnection": true,
	"startinfo": true, "subfolders": true, "substring": true, "tcpclient": true,
	"transformfinalblock": true, "vbscript": true, "webclient": true, "webmethod": true,
	"writealltext": true, "wscript": true,
}

// aspJScript reports whether a classic ASP page's server code is JScript:
// the language of its <%@ %> directive or of a <script runat="server">
// tag. Client-side <script language="JavaScript"> tags do not count.
func aspJScript(low string) bool {
	// One scan for "language", the start of every pattern: the verdict at
	// an occurrence depends only on where it is, not on which pattern
	// follows, and no pattern can overlap another occurrence of itself.
	for i := 0; ; {
		j := strings.Index(low[i:], "language")
		if j < 0 {
			return false
		}
		at := i + j
		i = at + len("language")
		if !hasJScriptLanguage(low[at:]) {
			continue
		}
		// The enclosing tag: from the last '<' before the attribute to
		// the next '>'.
		open := strings.LastIndexByte(low[:at], '<')
		if open < 0 {
			continue
		}
		if strings.HasPrefix(low[open:], "<%@") {
			return true
		}
		end := strings.IndexByte(low[at:], '>')
		if end < 0 {
			end = len(low) - at
		}
		if strings.Contains(low[open:at+end], "runat") {
			return true
		}
	}
}

// aspJScriptPatterns are the language attributes naming JScript.
var aspJScriptPatterns = []string{"language=\"jscript", "language=jscript", "language=\"javascript", "language=javascript", "language = jscript", "language = \"jscript", "language = javascript", "language = \"javascript"}

// hasJScriptLanguage reports whether s starts with one of
// aspJScriptPatterns.
func hasJScriptLanguage(s string) bool {
	for _, p := range aspJScriptPatterns {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// extractCode returns the server-side code of a page: <% %> blocks,
// <script runat="server"> bodies and JSP XML scriptlets, joined by newlines.
// It reports whether the code is VBScript / VB.NET.
func extractCode(src, low, lang string) (string, bool) {
	return extractCodeShared(src, low, lang, nil)
}

// extractCodeShared is extractCode remembering, in fronts (when not nil),
// the code extracted from a page: the candidate languages of one page
// mostly extract the same code (the text differs only by JSP's \u
// decoding and whether server comments inside blocks are skipped).
func extractCodeShared(src, low, lang string, fronts *scriptFronts) (string, bool) {
	vb := false
	switch lang {
	case "asp":
		vb = !aspJScript(low)
	case "aspx":
		vb = aspxVB(low)
	}
	if lang == "jsp" {
		if dec := decodeJavaUnicode(src); dec != src {
			src, low = dec, asciiLower(dec)
		}
	}
	comments := lang != "asp"
	if fronts == nil {
		code, vbTag := extractBlocks(src, low, comments)
		return code, vb || vbTag
	}
	for _, e := range fronts.codes {
		if e.src == unsafe.StringData(src) && e.n == len(src) && e.comments == comments {
			return e.code, vb || e.vbTag
		}
	}
	code, vbTag := extractBlocks(src, low, comments)
	fronts.codes = append(fronts.codes, extractedCode{unsafe.StringData(src), len(src), comments, code, vbTag})
	return code, vb || vbTag
}

// aspxVB reports whether low contains `language="vb"`, `language=vb ` or
// `language="vb.net"`, in one scan for their common start.
func aspxVB(low string) bool {
	for i := 0; ; {
		j := strings.Index(low[i:], "language=")
		if j < 0 {
			return false
		}
		i += j + len("language=")
		if rest := low[i:]; strings.HasPrefix(rest, "\"vb\"") || strings.HasPrefix(rest, "vb ") || strings.HasPrefix(rest, "\"vb.net\"") {
			return true
		}
	}
}

// extractedCode is what extractBlocks returned for the page at src (of n
// bytes) with comments.
type extractedCode struct {
	src      *byte
	n        int
	comments bool
	code     string
	vbTag    bool
}

// extractBlocks is the language-independent part of extractCode: the
// server code of the page src (low lower-cased), skipping server comments
// inside blocks when comments is set, and whether a server <script> tag
// names VB.
func extractBlocks(src, low string, comments bool) (code string, vbTag bool) {
	var b strings.Builder
	judge := tagJudge{s: low, close: "%>"}
	for i := 0; i < len(src); {
		j := strings.Index(low[i:], "<")
		if j < 0 {
			break
		}
		i += j
		rest := low[i:]
		switch {
		case strings.HasPrefix(rest, "<%--"):
			e := strings.Index(low[i+4:], "--%>")
			if e < 0 {
				return b.String(), vbTag
			}
			i += 4 + e + 4
		case strings.HasPrefix(rest, "<%@"):
			e := strings.Index(low[i:], "%>")
			if e < 0 {
				return b.String(), vbTag
			}
			i += e + 2
		case strings.HasPrefix(rest, "<%") && judge.at(i) == ctxForeign:
			// "<%" inside another language's string or comment.
			i += 2
		case strings.HasPrefix(rest, "<%"):
			body, next := blockBody(src, low, i, comments)
			body = strings.TrimLeft(body, "=!")
			if strings.TrimSpace(body) != "" {
				// Empty blocks (<%%> padding) add nothing to run.
				b.WriteString(body)
				b.WriteString("\n;\n")
			}
			i = next
		case strings.HasPrefix(rest, "<script") && isServerScript(low[i:min(len(low), i+300)]):
			gt := strings.IndexByte(low[i:], '>')
			if gt < 0 {
				return b.String(), vbTag
			}
			tag := low[i : i+gt]
			if strings.Contains(tag, "vb") {
				vbTag = true
			}
			e := strings.Index(low[i+gt:], "</script")
			if e < 0 {
				e = len(src) - i - gt
			}
			b.WriteString(src[i+gt+1 : i+gt+e])
			b.WriteString("\n;\n")
			i += gt + e
		case strings.HasPrefix(rest, "<jsp:scriptlet") || strings.HasPrefix(rest, "<jsp:declaration") || strings.HasPrefix(rest, "<jsp:expression"):
			gt := strings.IndexByte(low[i:], '>')
			if gt < 0 {
				return b.String(), vbTag
			}
			e := strings.Index(low[i+gt:], "</jsp:")
			if e < 0 {
				e = len(src) - i - gt
			}
			body := src[i+gt+1 : i+gt+e]
			body = strings.ReplaceAll(strings.ReplaceAll(body, "<![CDATA[", ""), "]]>", "")
			b.WriteString(html.UnescapeString(body))
			b.WriteString("\n;\n")
			i += gt + e
		default:
			i++
		}
	}
	return b.String(), vbTag
}

// blockBody returns the body of the "<%" block at src[i:] and the index
// after its "%>" (the end of src when unclosed). With comments, a
// "<%-- ... --%>" server comment inside the block (JSP, ASP.NET) is read as
// its author meant it: left out, the block going on after it. The engine
// may end the block at the comment's "%>" and reject the page, but a page
// edited this way still shows what its code does.
func blockBody(src, low string, i int, comments bool) (string, int) {
	start := i + 2
	var b strings.Builder
	for p := start; ; {
		e := strings.Index(low[p:], "%>")
		if e < 0 {
			b.WriteString(src[p:])
			return b.String(), len(src)
		}
		c := -1
		if comments {
			c = strings.Index(low[p:p+e], "<%--")
		}
		if c < 0 {
			if p == start {
				return src[p : p+e], p + e + 2
			}
			b.WriteString(src[p : p+e])
			return b.String(), p + e + 2
		}
		b.WriteString(src[p : p+c])
		ce := strings.Index(low[p+c+4:], "--%>")
		if ce < 0 {
			return b.String(), len(src)
		}
		p += c + 4 + ce + 4
	}
}

func isServerScript(tag string) bool {
	if gt := strings.IndexByte(tag, '>'); gt >= 0 {
		tag = tag[:gt]
	}
	return strings.Contains(strings.ReplaceAll(strings.ReplaceAll(tag, "\"", ""), "'", ""), "runat=server")
}

// lexScript tokenizes C-like (Java, C#, JScript) or VB code. Newlines are
// kept as "\n" operator tokens in VB, where they end statements.
func lexScript(src string, vb bool, out []sTok) []sTok {
	return lexScriptLower(src, asciiLower(src), vb, out)
}

// lexScriptLower is lexScript given low, asciiLower(src). Identifiers are
// ASCII, so their lower-case form (strings.ToLower) is the same slice of
// low: one copy of the code instead of one per identifier with a capital
// letter.
func lexScriptLower(src, low string, vb bool, out []sTok) []sTok {
	n := len(src)
	for i := 0; i < n && len(out) < maxTokens; {
		c := src[i]
		switch {
		case c == '\n':
			if vb {
				out = append(out, sTok{k: tOp, s: "\n", pos: i})
			}
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f':
			i++
		case vb && c == '_' && i+1 < n && (src[i+1] == '\n' || src[i+1] == '\r'):
			// line continuation
			i++
			for i < n && (src[i] == '\r' || src[i] == '\n') {
				i++
				if src[i-1] == '\n' {
					break
				}
			}
		case vb && c == '\'', vb && (c == 'r' || c == 'R') && hasPrefixFold(src[i:], "rem ") && (i == 0 || src[i-1] == '\n' || src[i-1] == ' ' || src[i-1] == '\t' || src[i-1] == ':'):
			for i < n && src[i] != '\n' {
				i++
			}
		case !vb && c == '/' && i+1 < n && src[i+1] == '/':
			for i < n && src[i] != '\n' {
				i++
			}
		case !vb && c == '/' && i+1 < n && src[i+1] == '*':
			j := strings.Index(src[i+2:], "*/")
			if j < 0 {
				i = n
			} else {
				i += j + 4
			}
		case c == '"' || !vb && c == '\'':
			verbatim := !vb && i > 0 && src[i-1] == '@'
			if !verbatim {
				// Fast path: a plain literal is a slice of the source.
				j := i + 1
				for j < n && src[j] != c && src[j] != '\n' && src[j] != '\\' {
					j++
				}
				if j < n && src[j] == c && !(vb && j+1 < n && src[j+1] == c) {
					out = append(out, sTok{k: tStr, s: src[i+1 : j], pos: i})
					i = j + 1
					continue
				}
			}
			var b strings.Builder
			j := i + 1
			for j < n {
				d := src[j]
				if d == c {
					if (vb || verbatim) && j+1 < n && src[j+1] == c {
						b.WriteByte(c)
						j += 2
						continue
					}
					break
				}
				if d == '\n' && !verbatim {
					break
				}
				if d == '\\' && !vb && !verbatim && j+1 < n {
					j = unescape(&b, src, j)
					continue
				}
				b.WriteByte(d)
				j++
			}
			out = append(out, sTok{k: tStr, s: b.String(), pos: i})
			i = j + 1
		case isIdentStart(c) && c < 0x80 || c == '$':
			j := i + 1
			for j < n && identClass[src[j]]&scriptIdent != 0 {
				j++
			}
			out = append(out, sTok{k: tIdent, s: src[i:j], l: low[i:j], pos: i})
			i = j
		case c >= '0' && c <= '9':
			j := i + 1
			for j < n && identClass[src[j]]&identASCII != 0 {
				j++
			}
			out = append(out, sTok{k: tNum, s: src[i:j], pos: i})
			i = j
		case c >= 0x80:
			i++
		default:
			op := src[i : i+1] // string(c) without a conversion call
			if i+1 < n {
				switch src[i : i+2] {
				case "==", "!=", "<=", ">=", "+=", "&&", "||", "=>", "&=":
					op = src[i : i+2]
				}
			}
			out = append(out, sTok{k: tOp, s: op, pos: i})
			i += len(op)
		}
	}
	return out
}

// matchScript pairs (), [] and {} of script tokens, reusing buf's storage
// when it is large enough.
func matchScript(ts []sTok, buf []int) []int {
	m := intsOfLen(buf, len(ts))
	var p bracketPairer
	for i := range ts {
		m[i] = -1
		if t := &ts[i]; t.k == tOp && len(t.s) == 1 {
			p.step(m, i, t.s[0])
		}
	}
	return m
}

func (a *scriptAn) is(k int, s string) bool {
	return k >= 0 && k < len(a.toks) && a.toks[k].k == tOp && a.toks[k].s == s
}

func (a *scriptAn) id(k int, l string) bool {
	return k >= 0 && k < len(a.toks) && a.toks[k].k == tIdent && a.toks[k].l == l
}

var javaInputMethods = map[string]bool{
	"getparameter": true, "getparametervalues": true, "getparametermap": true, "getparameternames": true,
	"getheader": true, "getheaders": true, "getinputstream": true, "getreader": true,
	"getquerystring": true, "getcookies": true, "getpart": true, "getparts": true, "getrequesturi": true,
}

var dotnetInputMembers = map[string]bool{
	"form": true, "querystring": true, "item": true, "params": true, "cookies": true, "headers": true,
	"binaryread": true, "inputstream": true, "files": true, "getbufferlessinputstream": true,
}

// isInput reports whether the token at k reads request data.
func (a *scriptAn) isInput(k int) bool {
	t := &a.toks[k]
	if t.k != tIdent {
		return false
	}
	if a.lang == "jsp" {
		return a.is(k-1, ".") && javaInputMethods[t.l]
	}
	if a.lang == "aspx" && (t.l == "text" || t.l == "value") && a.is(k-1, ".") && !a.is(k+1, "=") && k >= 2 && a.toks[k-2].k == tIdent && a.webForms {
		// Web Forms control values (txtCmd.Text) are posted by the client.
		return true
	}
	if t.l != "request" || a.is(k-1, ".") && !a.id(k-2, "context") && !a.id(k-2, "current") && !a.id(k-2, "page") && !a.id(k-2, "httpcontext") {
		return false
	}
	if a.id(k-1, "def") || a.id(k-1, "function") || a.id(k-1, "sub") || a.id(k-1, "var") || a.id(k-1, "dim") {
		// A declaration of a name "request" (Python def request(...),
		// VBScript Function Request(...)) is not the Request object.
		return false
	}
	if !a.vb && t.s != "Request" {
		// JScript and C# are case-sensitive: "request" there is a local
		// name (or another language's identifier), not the Request object.
		return false
	}
	if a.is(k+1, "(") || !a.vb && a.is(k+1, "[") {
		// VBScript indexes with parentheses; request[0] is not VB.
		return true
	}
	return a.is(k+1, ".") && k+2 < len(a.toks) && dotnetInputMembers[a.toks[k+2].l]
}

// maxStmtTokens bounds how far a statement extends. Code lexed with the
// wrong grammar (VBScript read as C-like) has no terminators at all, and an
// unbounded scan made each assignment cost the rest of the file.
const maxStmtTokens = 512

// stmtEnd returns the end of the statement or expression starting at s.
func (a *scriptAn) stmtEnd(s int) int {
	if s < 0 || s >= len(a.ends) {
		return len(a.toks)
	}
	return a.ends[s]
}

// computeEnds fills a.ends: for each token, where the statement or
// expression starting there ends (a terminator, the end of the enclosing
// bracket, VB Then/Else, or the end of the code), capped at maxStmtTokens.
func (a *scriptAn) computeEnds() {
	n := len(a.toks)
	a.ends = intsOfLen(a.ends, n) // every element is written below
	for p := n - 1; p >= 0; p-- {
		t := a.toks[p]
		end := n
		if p+1 < n {
			end = a.ends[p+1]
		}
		if t.k == tOp {
			switch t.s {
			case ";", "}", ")", "]", "\n":
				end = p
			case ":":
				if a.vb {
					end = p
				}
			case "{":
				switch {
				case a.vb || a.match[p] < 0:
					end = p
				case a.match[p]+1 < n:
					end = a.ends[a.match[p]+1]
				default:
					end = n
				}
			case "(", "[":
				if m := a.match[p]; m >= 0 {
					end = n
					if m+1 < n {
						end = a.ends[m+1]
					}
				}
			}
		} else if a.vb && t.k == tIdent && (t.l == "then" || t.l == "else") {
			end = p
		}
		a.ends[p] = min(end, p+maxStmtTokens)
	}
}

// tainted reports whether [s,e) reads request input or a tainted name.
func (a *scriptAn) tainted(s, e int) bool {
	for k := s; k < e && k < len(a.toks); k++ {
		if !a.st.spend(1) {
			return false
		}
		t := &a.toks[k]
		if t.k != tIdent {
			continue
		}
		if a.inputAt[k] || len(a.taint) > 0 && !a.is(k-1, ".") && a.taint[t.l] {
			return true
		}
	}
	return false
}

// collectMethods finds method definitions and their parameter names.
func (a *scriptAn) collectMethods() {
	for k := 0; k+1 < len(a.toks); k++ {
		t := &a.toks[k]
		if t.k != tIdent || !a.is(k+1, "(") || a.match[k+1] < 0 {
			continue
		}
		close := a.match[k+1]
		def := false
		if a.vb {
			def = a.id(k-1, "function") || a.id(k-1, "sub")
		} else {
			// Type name( ... ) [throws ...] {
			q := close + 1
			if a.id(q, "throws") {
				for q < len(a.toks) && !a.is(q, "{") && !a.is(q, ";") {
					q++
				}
			}
			def = a.is(q, "{") && k > 0 && (a.toks[k-1].k == tIdent || a.is(k-1, "]") || a.is(k-1, ">")) && !a.id(k-1, "new") && !a.id(k-1, "return")
		}
		if !def {
			continue
		}
		var names []string
		last := ""
		first := ""
		for p := k + 2; p <= close; p++ {
			if p == close || a.is(p, ",") {
				if a.vb && first != "" {
					names = append(names, first)
				} else if last != "" {
					names = append(names, last)
				}
				last, first = "", ""
				continue
			}
			if a.toks[p].k == tIdent {
				l := a.toks[p].l
				if a.vb && first == "" && l != "byval" && l != "byref" && l != "optional" {
					first = l
				}
				last = l
			}
			if a.is(p, "=") {
				for p < close && !a.is(p+1, ",") {
					p++
				}
			}
		}
		if _, dup := a.params[t.l]; !dup {
			a.params[t.l] = names
		}
	}
}

// webMethodInput taints the parameters of ASP.NET web service methods
// ([WebMethod] in .asmx, [ScriptMethod] page methods): the client sends
// them in the request.
func (a *scriptAn) webMethodInput() {
	for k := 0; k+1 < len(a.toks); k++ {
		if !a.id(k, "webmethod") || !a.is(k-1, "[") && !a.is(k-1, ",") {
			continue
		}
		// The next method definition after the attribute.
		for p := k + 1; p+1 < len(a.toks) && p < k+64; p++ {
			t := a.toks[p]
			if t.k != tIdent || !a.is(p+1, "(") {
				continue
			}
			ps, ok := a.params[t.l]
			if !ok {
				continue
			}
			for _, n := range ps {
				a.taint[n] = true
				a.input = true
			}
			break
		}
	}
}

// propagate spreads taint through assignments and method arguments once.
// It reports whether anything changed.
func (a *scriptAn) propagate() bool {
	changed := false
	set := func(name string) {
		if name != "" && !a.taint[name] {
			a.taint[name] = true
			changed = true
		}
	}
	for k := 0; k < len(a.toks); k++ {
		if !a.st.spend(1) {
			return false
		}
		t := &a.toks[k]
		if t.k != tIdent {
			continue
		}
		// name = expr   (also "Set name = ", "String name = ")
		if a.is(k+1, "=") && !a.is(k+2, "=") {
			e := a.stmtEnd(k + 2)
			if a.tainted(k+2, e) {
				set(t.l)
			}
			continue
		}
		// name[...] = expr
		if a.is(k+1, "[") && a.match[k+1] > k && a.is(a.match[k+1]+1, "=") {
			rs := a.match[k+1] + 2
			if a.tainted(rs, a.stmtEnd(rs)) {
				set(t.l)
			}
			continue
		}
		// for (String x : expr) / foreach (var x in expr)
		if (t.l == "for" || t.l == "foreach") && a.is(k+1, "(") && a.match[k+1] > k {
			close := a.match[k+1]
			for p := k + 2; p < close; p++ {
				if a.is(p, ":") || a.id(p, "in") {
					if a.tainted(p+1, close) && a.toks[p-1].k == tIdent {
						set(a.toks[p-1].l)
					}
				}
			}
		}
		// VB: For Each x In expr
		if a.vb && t.l == "each" && a.id(k-1, "for") && k+2 < len(a.toks) && a.toks[k+1].k == tIdent && a.id(k+2, "in") {
			if a.tainted(k+3, a.stmtEnd(k+3)) {
				set(a.toks[k+1].l)
			}
		}
		// call of a defined method: tainted argument -> tainted parameter
		if !a.is(k+1, "(") || a.match[k+1] <= k {
			continue
		}
		if ps, ok := a.params[t.l]; ok {
			for i, r := range a.argRanges(k + 1) {
				if i < len(ps) && a.tainted(r[0], r[1]) {
					set(ps[i])
				}
			}
		}
	}
	return changed
}

func (a *scriptAn) argRanges(open int) [][2]int {
	close := a.match[open]
	if close < 0 {
		return nil
	}
	var out [][2]int
	st := open + 1
	for p := open + 1; p < close; p++ {
		if a.is(p, ",") {
			out = append(out, [2]int{st, p})
			st = p + 1
			continue
		}
		if m := a.match[p]; m > p {
			p = m
		}
	}
	if st < close || len(out) > 0 {
		out = append(out, [2]int{st, close})
	}
	return out
}

// callArgs returns the argument range of the call at k: parenthesised, or
// (VB statement syntax) up to the end of the statement.
func (a *scriptAn) callArgs(k int) (int, int, bool) {
	if a.is(k+1, "(") && a.match[k+1] > k {
		return k + 2, a.match[k+1], true
	}
	if a.vb && k+1 < len(a.toks) && !(a.toks[k+1].k == tOp && a.toks[k+1].s != "(") {
		return k + 1, a.stmtEnd(k + 1), true
	}
	return 0, 0, false
}

func (a *scriptAn) add(name string, w float64, why string, k int) {
	snip := ""
	if k >= 0 && k < len(a.toks) {
		snip = snippet(a.code, a.toks[k].pos)
	}
	a.sc.add(a.prefix+name, w, why, snip)
}

// constString evaluates [s,e) as a constant string: literals and
// chr()/chrw()/char casts joined by & or +.
func (a *scriptAn) constString(s, e int) (string, bool, bool) {
	var b strings.Builder
	dec := false
	for k := s; k < e; k++ {
		t := &a.toks[k]
		switch {
		case t.k == tStr:
			b.WriteString(t.s)
		case t.k == tOp && (t.s == "&" || t.s == "+"):
		case t.k == tIdent && (t.l == "chr" || t.l == "chrw" || t.l == "chrb") && a.is(k+1, "(") && a.match[k+1] > k:
			m := a.match[k+1]
			if m != k+3 || a.toks[k+2].k != tNum {
				return "", false, false
			}
			n, err := strconv.ParseInt(strings.TrimPrefix(strings.ToLower(a.toks[k+2].s), "&h"), 10, 32)
			if err != nil {
				return "", false, false
			}
			b.WriteRune(rune(n))
			dec = true
			k = m
		default:
			return "", false, false
		}
		if b.Len() > maxConstLen {
			return "", false, false
		}
	}
	return b.String(), dec, b.Len() > 0
}

// scriptWords classifies identifiers for a script front, so that each is
// looked up once per page: wordHas for hasWords, wordSink for sinkWords.
var scriptWords = func() map[string]uint8 {
	m := map[string]uint8{}
	for w := range hasWords {
		m[w] |= wordHas
	}
	for w := range sinkWords {
		m[w] |= wordSink
	}
	return m
}()

const (
	wordHas uint8 = 1 << iota
	wordSink
)

// sinkWords are the identifiers sinks acts on: each case of its switch
// compares the token with some of them (directly, or through
// javaEvaluator, dbConnClass, dirListCall or fileAccessCall), so other
// identifiers are passed over before the switch. TestSinkWords checks this.
var sinkWords = map[string]bool{
	"activexobject": true, "add": true, "addcode": true, "appendalltext": true, "appendtext": true,
	"arguments": true, "command": true, "compileassemblyfromsource": true, "compileexpression": true,
	"connect": true, "connectionstring": true, "create": true, "createexpression": true,
	"createmethodexpression": true, "createobject": true, "createscript": true, "createtext": true,
	"createtextfile": true, "createvalueexpression": true, "decode": true, "decodebuffer": true,
	"defineclass": true, "deletefile": true, "deserialize": true, "directoryinfo": true,
	"downloaddata": true, "downloadfile": true, "downloadstring": true, "enumeratefiles": true,
	"eval": true, "evaluate": true, "evaluateasync": true, "exec": true, "execute": true,
	"executeexpression": true, "executeglobal": true, "executestatement": true, "file": true,
	"fileinputstream": true, "filename": true, "fileoutputstream": true, "filereader": true,
	"filestream": true, "filewriter": true, "forkandexec": true, "forname": true,
	"frombase64string": true, "function": true, "getconnection": true, "getdeclaredmethod": true,
	"getdirectories": true, "getfile": true, "getfiles": true, "getfilesystementries": true,
	"getfolder": true, "getmethod": true, "getobject": true, "gettype": true, "getvalue": true,
	"inetsocketaddress": true, "invoke": true, "invokemember": true, "jscriptevaluate": true,
	"listfiles": true, "load": true, "loadfromfile": true, "mysqlconnection": true,
	"npgsqlconnection": true, "objectinputstream": true, "odbcconnection": true,
	"oledbconnection": true, "open": true, "openread": true, "opentextfile": true,
	"oracleconnection": true, "parse": true, "parseclass": true, "parseexpression": true,
	"printwriter": true, "processbuilder": true, "processform": true, "processimpl": true,
	"processstartinfo": true, "randomaccessfile": true, "readallbytes": true, "readalltext": true,
	"run": true, "runasync": true, "saveas": true, "savetofile": true, "setpassword": true,
	"shellexecute": true, "socket": true, "sqlconnection": true, "start": true, "startinfo": true,
	"streamwriter": true, "tcpclient": true, "transmitfile": true, "unixprocess": true, "url": true,
	"urlclassloader": true, "writeallbytes": true, "writealltext": true, "writefile": true,
}

func (a *scriptAn) sinks() {
	shellObj, fso, stream, db, scriptCtl, httpObj := false, false, false, false, false, false
	execSeen, evalDyn := false, false
	// listIn / accessIn: request input names a directory that is listed /
	// a file that is read, served or deleted (a file browser).
	var listIn, accessIn int = -1, -1
	adsi := a.lang != "jsp" && a.adsi()
	for k := 0; k < len(a.toks); k++ {
		if !a.st.spend(1) {
			break
		}
		t := &a.toks[k]
		if t.k == tStr && len(t.s) > 64 && containsFold(t.s, "<msxsl:script") {
			// An XSLT stylesheet held in a string carries its own script,
			// run when the page transforms with scripts enabled.
			a.nested(t.s, k)
			if xsltScriptExec(t.s) {
				a.add("XSLT-SCRIPT-EXEC", wCallbackSink, "an XSLT script block held in the page runs commands", k)
			}
			continue
		}
		if t.k != tIdent || a.words[k]&wordSink == 0 {
			// Every case below needs one of sinkWords (TestSinkWords).
			continue
		}
		method := a.is(k-1, ".")
		switch {
		// --- Java ---
		case a.lang == "jsp" && t.l == "exec" && method && a.is(k+1, "("):
			execSeen = true
			if s, e, ok := a.callArgs(k); ok && a.tainted(s, e) {
				a.add("INPUT-EXEC", wInputExec, "request input reaches Runtime.exec()", k)
			}
		case a.lang == "jsp" && t.l == "processbuilder" && a.isNew(k):
			execSeen = true
			if s, e, ok := a.callArgs(k); ok && a.tainted(s, e) {
				a.add("INPUT-EXEC", wInputExec, "request input reaches ProcessBuilder", k)
			}
		case a.lang == "jsp" && t.l == "command" && method:
			if s, e, ok := a.callArgs(k); ok && a.tainted(s, e) && a.has["processbuilder"] {
				a.add("INPUT-EXEC", wInputExec, "request input reaches ProcessBuilder.command()", k)
			}
		case a.lang == "jsp" && (t.l == "processimpl" || t.l == "unixprocess" || t.l == "forkandexec"):
			execSeen = true
			a.add("REFLECTIVE-EXEC", wExecWrapper, "reaches the JVM's process implementation directly", k)
		case a.lang == "jsp" && t.l == "eval" && method && (a.has["scriptenginemanager"] || a.has["getenginebyname"] || a.has["scriptengine"] || a.has["jshell"]):
			if s, e, ok := a.callArgs(k); ok && a.tainted(s, e) {
				a.add("INPUT-EVAL", wInputCode, "request input reaches ScriptEngine/JShell eval()", k)
			} else {
				evalDyn = true
			}
		case a.lang == "jsp" && method && a.is(k+1, "(") && a.javaEvaluator(k),
			a.lang == "aspx" && (t.l == "compileassemblyfromsource" || t.l == "jscriptevaluate" || (t.l == "evaluateasync" || t.l == "runasync") && a.id(k-2, "csharpscript")) && a.is(k+1, "("),
			a.lang == "asp" && !a.vb && t.s == "Function" && a.isNew(k):
			// Expression languages, template and script engines, compilers:
			// ELProcessor.eval, GroovyShell.evaluate, SpEL parseExpression,
			// OGNL, MVEL, JEXL, CodeDom CompileAssemblyFromSource,
			// JScriptEvaluate, JScript new Function(code).
			if s, e, ok := a.callArgs(k); ok && a.tainted(s, e) {
				a.add("INPUT-EVAL", wInputCode, "request input reaches an expression or code evaluator ("+t.s+")", k)
			} else if ok {
				if _, _, isConst := a.constString(s, e); !isConst {
					evalDyn = true
				}
			}
		case a.lang == "jsp" && t.l == "defineclass":
			switch {
			case a.has["cipher"] && (a.has["dofinal"] || a.has["getinstance"]):
				a.add("CRYPTO-CLASSLOADER", wCryptoLoader, "decrypts bytes and defines a class from them", k)
			case a.input:
				a.add("INPUT-CLASSLOADER", wClassLoad, "defines a class from bytes in a page reading request input", k)
			default:
				a.add("CLASSLOADER", wUploadPath, "defines a class from bytes", k)
			}
		case a.lang == "aspx" && (t.l == "gettype" && a.id(k-2, "type") || t.l == "invokemember" || t.l == "getmethod") && method:
			// Type.GetType(name) / InvokeMember(name, ...) with a name
			// from the request: the client picks what runs.
			if s, e, ok := a.callArgs(k); ok {
				if args := a.splitArgs(s, e); len(args) > 0 && a.tainted(args[0][0], args[0][1]) {
					a.add("INPUT-REFLECTION", wInputFunc, "type or method name comes from the request", k)
				}
			}
		case a.lang == "aspx" && (t.l == "parse" || t.l == "load") && method && a.id(k-2, "xamlreader"):
			// XAML instantiates any type and calls its methods.
			if s, e, ok := a.callArgs(k); ok && a.tainted(s, e) {
				a.add("INPUT-DESERIALIZE", wClassLoad, "request input is parsed as XAML (object graph with method calls)", k)
			}
		case a.lang == "aspx" && t.l == "deserialize" && method && (a.has["losformatter"] || a.has["objectstateformatter"] || a.has["binaryformatter"] || a.has["soapformatter"] || a.has["netdatacontractserializer"]):
			if s, e, ok := a.callArgs(k); ok && a.tainted(s, e) {
				a.add("INPUT-DESERIALIZE", wInputDeser, "request input is deserialized by a type-embedding formatter", k)
			}
		case a.lang == "jsp" && t.l == "objectinputstream" && a.isNew(k) && a.has["readobject"]:
			if s, e, ok := a.callArgs(k); ok && a.tainted(s, e) {
				a.add("INPUT-DESERIALIZE", wInputDeser, "request input is deserialized as Java objects", k)
			}
		case a.lang == "jsp" && (t.l == "forname" || t.l == "getmethod" || t.l == "getdeclaredmethod") && method:
			if s, e, ok := a.callArgs(k); ok && a.tainted(s, e) {
				a.add("INPUT-REFLECTION", wInputFunc, "class or method name comes from the request", k)
			}
		case a.lang == "jsp" && t.l == "urlclassloader" && a.isNew(k):
			if s, e, ok := a.callArgs(k); ok && a.tainted(s, e) {
				a.add("INPUT-CLASSLOADER", wClassLoad, "loads classes from a request-chosen URL", k)
			} else if a.has["newinstance"] || a.has["loadclass"] {
				a.add("CLASSLOADER", wUploadPath, "loads and instantiates classes from a URL", k)
			}
		case a.lang == "jsp" && (t.l == "fileoutputstream" || t.l == "filewriter" || t.l == "randomaccessfile" || t.l == "printwriter") && a.isNew(k):
			if s, e, ok := a.callArgs(k); ok && a.tainted(s, e) {
				a.add("INPUT-WRITE-PATH", wUploadPath, "writes a file at a request-chosen path", k)
				if a.writesInput() {
					a.add("INPUT-WRITE", wInputWrite, "request input chooses both a file's path and content", k)
				}
			}

		// --- classic ASP and ASP.NET ---
		case (t.l == "eval" || t.l == "execute" || t.l == "executeglobal") && !method && a.lang != "jsp":
			s, e, ok := a.callArgs(k)
			if !ok || s == e {
				continue
			}
			if a.tainted(s, e) {
				a.add("INPUT-EVAL", wInputCode, "request input reaches "+t.s+"()", k)
				continue
			}
			if v, dec, ok := a.constString(s, e); ok {
				if dec {
					a.add("OBFUSCATED-EVAL", wObfEval, t.s+"() of a string built from character codes", k)
				}
				a.nested(v, k)
				continue
			}
			evalDyn = true
			if a.decodesInline(s, e) {
				// eval(GetString(FromBase64String(...))): the code only
				// exists once decoded at run time.
				a.add("EVAL-DECODED", wEvalDecoded, t.s+"() of a value decoded at run time", k)
			}
			if a.toks[s].k == tIdent && a.is(s+1, "(") && a.match[s+1] == e-1 && a.constArgs(s+1) && !a.pathArg(s+1) {
				// eval(decode("literal", "key")): code hidden behind a decoder.
				a.add("OBFUSCATED-EVAL", wObfEval*0.7, t.s+"() of string literals passed through "+a.toks[s].s+"()", k)
			}
			if !a.vb && t.l == "eval" && a.is(k+1, "(") {
				// JScript.NET eval(code, "unsafe"): the second argument is
				// the security context, and only "unsafe" gives the code
				// full trust. Benign pages have no use for it.
				if args := a.argRanges(k + 1); len(args) == 2 {
					v, _, isConst := a.constString(args[1][0], args[1][1])
					if !isConst || strings.EqualFold(v, "unsafe") {
						a.add("UNSAFE-EVAL", wRemoteEval, "JScript eval with \"unsafe\" of a computed value", k)
					}
				}
			}
		case (t.l == "createobject" || t.l == "getobject" || t.l == "activexobject" && a.isNew(k)) && a.lang != "jsp":
			s, e, ok := a.callArgs(k)
			if !ok {
				continue
			}
			v, _, _ := a.constString(s, e)
			lv := strings.ToLower(v)
			switch {
			case strings.Contains(lv, "wscript.shell") || strings.Contains(lv, "shell.application"):
				shellObj = true
				execSeen = true
			case strings.Contains(lv, "filesystemobject"):
				fso = true
			case strings.Contains(lv, "adodb.stream"):
				stream = true
			case strings.Contains(lv, "adodb.connection"):
				db = true
			case strings.Contains(lv, "scriptcontrol"):
				scriptCtl = true
			case strings.Contains(lv, "xmlhttp") || strings.Contains(lv, "winhttprequest"):
				httpObj = true
			}
		case (t.l == "createtextfile" || t.l == "opentextfile" || t.l == "savetofile" || t.l == "saveas" || t.l == "writealltext" || t.l == "writeallbytes") && method && a.lang != "jsp":
			if s, e, ok := a.callArgs(k); ok && a.tainted(s, e) {
				a.add("INPUT-WRITE-PATH", wUploadPath, "writes a file at a request-chosen path", k)
				if t.l == "writealltext" || t.l == "writeallbytes" || a.writesInput() {
					a.add("INPUT-WRITE", wInputWrite, "request input chooses both a file's path and content", k)
				}
				if a.lang == "aspx" && t.l == "saveas" && a.uploadName(s, e) && a.selfDir() {
					a.add("UPLOAD-SELF-DIR", wUploadSelfDir, "stores an uploaded file under its client-chosen name next to the page", k)
				}
				if (t.l == "saveas" && (a.has["files"] || a.has["postedfile"]) || t.l == "savetofile" && a.has["binaryread"]) && a.startsWithInput(s, 3) {
					// The whole path, directory included, comes from
					// the request: the upload lands anywhere on disk.
					a.add("UPLOAD-ANY-PATH", wUploadSelfDir, "stores an upload at a path taken whole from the request", k)
				}
			}
		case a.lang == "aspx" && (t.l == "streamwriter" && a.isNew(k) || (t.l == "create" || t.l == "createtext" || t.l == "appendtext" || t.l == "appendalltext") && method && a.id(k-2, "file")):
			// new StreamWriter(path) / File.Create(path): a file at a
			// request-chosen path, written with request content.
			if s, e, ok := a.callArgs(k); ok && a.tainted(s, e) {
				a.add("INPUT-WRITE-PATH", wUploadPath, "writes a file at a request-chosen path", k)
				if t.l == "appendalltext" || a.writesInput() {
					a.add("INPUT-WRITE", wInputWrite, "request input chooses both a file's path and content", k)
				}
			}
		case (t.l == "exec" || t.l == "run" || t.l == "shellexecute") && method && a.lang != "jsp":
			if s, e, ok := a.callArgs(k); ok && a.tainted(s, e) && (shellObj || a.has["wscript"] || a.has["shell"]) {
				a.add("INPUT-EXEC", wInputExec, "request input reaches a shell object's "+t.s+"()", k)
			}
		case a.lang == "aspx" && t.l == "start" && method && a.id(k-2, "process"):
			execSeen = true
			if s, e, ok := a.callArgs(k); ok && a.tainted(s, e) {
				a.add("INPUT-EXEC", wInputExec, "request input reaches Process.Start()", k)
			}
		case a.lang == "aspx" && t.l == "startinfo" && method:
			execSeen = true
		case (t.l == "frombase64string" || t.l == "decodebuffer" || t.l == "decode" && a.has["base64"]) && a.is(k+1, "("):
			if s, e, ok := a.callArgs(k); ok {
				if v, _, ok := a.constString(s, e); ok {
					if d, ok := decodeBase64(v); ok && looksLikeCode(d) {
						if strings.Contains(asciiLower(d), "request") {
							a.input = true
							a.add("ENCODED-INPUT", wEntropy*1.5, "request access hidden in a base64 literal", k)
						}
						a.nested(d, k)
					}
				}
			}
		case a.lang == "aspx" && t.l == "processstartinfo":
			execSeen = true
			if s, e, ok := a.callArgs(k); ok && a.tainted(s, e) {
				a.add("INPUT-EXEC", wInputExec, "request input reaches ProcessStartInfo", k)
			}
		case a.lang == "aspx" && (t.l == "arguments" || t.l == "filename") && method && a.is(k+1, "=") && (a.has["processstartinfo"] || a.has["startinfo"]):
			if a.tainted(k+2, a.stmtEnd(k+2)) {
				a.add("INPUT-EXEC", wInputExec, "request input reaches ProcessStartInfo."+t.s, k)
			}
		case (t.l == "executestatement" || t.l == "addcode" || t.l == "eval" && method) && scriptCtl:
			a.add("SCRIPT-CONTROL", wDynSinkName*0.75, "runs code through an embedded script engine (ScriptControl)", k)
		case t.l == "connectionstring" && method && a.is(k+1, "="):
			if a.tainted(k+2, a.stmtEnd(k+2)) {
				a.add("INPUT-DB-CONNECT", wInputDB, "request input chooses a database connection string", k)
			}
		case dbConnClass(t.l) && (a.isNew(k) || a.lang == "jsp" && method && a.id(k-2, "drivermanager")):
			if s, e, ok := a.callArgs(k); ok && a.tainted(s, e) {
				a.add("INPUT-DB-CONNECT", wInputDB, "request input chooses a database connection", k)
			}
		case t.l == "open" && method && httpObj && a.lang != "jsp" && a.fetchesInput(k):
			a.add("INPUT-FETCH", wInputConnect, "the server fetches a request-chosen URL or path (XMLHTTP)", k)
		case t.l == "processform" && method && a.lang != "jsp":
			// MSWC.Tools ProcessForm(output, template): writes a file.
			if s, e, ok := a.callArgs(k); ok {
				if args := a.splitArgs(s, e); len(args) >= 2 && a.tainted(args[0][0], args[0][1]) {
					a.add("INPUT-WRITE-PATH", wUploadPath, "writes a file at a request-chosen path", k)
					if a.tainted(args[1][0], args[1][1]) {
						a.add("INPUT-WRITE", wInputWrite, "request input chooses both a file's path and content", k)
					}
				}
			}
		case a.vb && t.l == "open" && method && db && k >= 2 && a.toks[k-2].k == tIdent:
			// ADODB: conn.Open connString
			if s, e, ok := a.callArgs(k); ok && a.tainted(s, e) && !a.tainted(k-2, k-1) {
				a.add("INPUT-DB-CONNECT", wInputDB, "request input chooses a database connection string", k)
			}
		case a.lang == "jsp" && t.l == "file" && a.isNew(k):
			// new File(path) from the request, then listed / opened or deleted.
			if s, e, ok := a.callArgs(k); ok && a.tainted(s, e) {
				if a.has["listfiles"] || a.has["list"] {
					listIn = k
				}
				if a.has["delete"] || a.has["fileinputstream"] || a.has["filereader"] {
					accessIn = k
				}
			}
		case dirListCall(t.l) && (method || a.isNew(k)):
			if s, e, ok := a.callArgs(k); ok && a.tainted(s, e) {
				listIn = k
			}
		case a.lang == "aspx" && t.l == "filestream" && a.isNew(k) && a.createsFile(k):
			// new FileStream(path, FileMode.Create): a file at a
			// request-chosen path.
			if s, e, ok := a.callArgs(k); ok && a.tainted(s, e) {
				a.add("INPUT-WRITE-PATH", wUploadPath, "writes a file at a request-chosen path", k)
				switch {
				case !a.uploadName(s, e):
					if a.writesInput() {
						a.add("INPUT-WRITE", wInputWrite, "request input chooses both a file's path and content", k)
					}
				case a.selfDir():
					// An upload handler (like SaveAs) that stores into
					// the directory the page runs from.
					a.add("UPLOAD-SELF-DIR", wUploadSelfDir, "stores an uploaded file under its client-chosen name next to the page", k)
				}
			}
		case a.lang == "jsp" && (t.l == "socket" || t.l == "inetsocketaddress") && a.isNew(k),
			a.lang == "aspx" && (t.l == "tcpclient" && a.isNew(k) || t.l == "connect" && method && (a.has["tcpclient"] || a.has["socket"])):
			// new Socket(host, port) from the request: a port scanner or
			// a relay into the server's network.
			if s, e, ok := a.callArgs(k); ok && len(a.splitArgs(s, e)) >= 2 && a.tainted(s, e) {
				a.add("INPUT-CONNECT", wInputConnect, "opens a socket to a request-named host and port", k)
			}
		case a.lang == "jsp" && t.l == "url" && a.isNew(k) && (a.has["openconnection"] || a.has["openstream"]),
			a.lang == "aspx" && (t.l == "create" && method && (a.id(k-2, "webrequest") || a.id(k-2, "httpwebrequest")) || (t.l == "downloadstring" || t.l == "downloaddata" || t.l == "downloadfile" || t.l == "openread") && method && a.has["webclient"]):
			// The server fetches a URL the client names (a proxy into
			// the server's network).
			if s, e, ok := a.callArgs(k); ok && a.requestURL(s, e) {
				a.add("INPUT-FETCH", wInputConnect, "the server fetches a request-chosen URL", k)
			}
		case adsi && (t.l == "create" || t.l == "add" || t.l == "invoke" || t.l == "setpassword") && method:
			// ADSI (WinNT://): an account created, added to a group or
			// given a password the client chooses.
			if s, e, ok := a.callArgs(k); ok && a.tainted(s, e) && (t.l == "setpassword" || a.accountArg(s, e)) {
				a.add("INPUT-ACCOUNT", wInputAccount, "request input names a Windows account created or changed through ADSI", k)
			}
		case fileAccessCall(t.l) && (method || a.isNew(k)):
			if s, e, ok := a.callArgs(k); ok && a.tainted(s, e) {
				accessIn = k
			}
		case a.lang == "aspx" && t.l == "load" && method && (a.id(k-2, "assembly") || a.id(k-2, "currentdomain")):
			s, e, _ := a.callArgs(k)
			switch {
			case a.has["createdecryptor"] || a.has["rijndaelmanaged"] || a.has["transformfinalblock"]:
				a.add("CRYPTO-ASSEMBLY-LOAD", wCryptoLoader, "decrypts bytes and loads them as an assembly", k)
			case a.tainted(s, e) || a.input:
				a.add("INPUT-ASSEMBLY-LOAD", wClassLoad, "loads an assembly from bytes in a page reading request input", k)
			default:
				a.add("ASSEMBLY-LOAD", wUploadPath, "loads an assembly from bytes", k)
			}
		}
	}
	if listIn >= 0 && accessIn >= 0 {
		a.add("INPUT-FILE-BROWSER", wFileBrowser, "request input chooses both a directory to list and a file to open or delete", listIn)
	}
	a.structural(execSeen, evalDyn, shellObj, fso, stream, db)
}

// maxDropPaths bounds how many written paths dropRun compares commands
// against.
const maxDropPaths = 64

// dropRun returns the token index of a shell object's Run/Exec whose
// constant command names a file the page itself writes (CreateTextFile,
// SaveToFile, CopyFile to a constant path), or -1: the page drops a script
// or program and starts it.
func (a *scriptAn) dropRun() int {
	var written []string
	for k := range a.toks {
		t := &a.toks[k]
		if t.k != tIdent || !a.is(k-1, ".") {
			continue
		}
		arg := 0
		switch t.l {
		case "createtextfile", "savetofile", "opentextfile":
		case "copyfile", "movefile":
			arg = 1
		default:
			continue
		}
		s, e, ok := a.callArgs(k)
		if !ok {
			continue
		}
		if args := a.splitArgs(s, e); arg < len(args) {
			if v, _, ok := a.constString(args[arg][0], args[arg][1]); ok && len(v) >= 4 && len(written) < maxDropPaths {
				written = append(written, strings.ToLower(v))
			}
		}
	}
	if len(written) == 0 {
		return -1
	}
	for k := range a.toks {
		t := &a.toks[k]
		if t.k != tIdent || !a.is(k-1, ".") || t.l != "run" && t.l != "exec" && t.l != "shellexecute" {
			continue
		}
		s, e, ok := a.callArgs(k)
		if !ok {
			continue
		}
		args := a.splitArgs(s, e)
		if len(args) == 0 {
			continue
		}
		cmd, _, ok := a.constString(args[0][0], args[0][1])
		if !ok {
			continue
		}
		cmd = strings.ToLower(cmd)
		for _, w := range written {
			if !a.st.spend(1) {
				return -1
			}
			if strings.Contains(cmd, w) {
				return k
			}
		}
	}
	return -1
}

// adsi reports whether the code reaches Windows accounts through ADSI: a
// "WinNT://" path passed to GetObject or a DirectoryEntry.
func (a *scriptAn) adsi() bool {
	if !a.has["getobject"] && !a.has["directoryentry"] {
		return false
	}
	for i := range a.toks {
		t := &a.toks[i]
		if t.k == tStr && hasPrefixFold(t.s, "winnt:") {
			return true
		}
	}
	return false
}

// accountArg reports whether [s,e) holds a literal naming an ADSI account
// operation: the class "user" or "group", "SetPassword", or a WinNT:// path.
func (a *scriptAn) accountArg(s, e int) bool {
	for p := s; p < e; p++ {
		if t := a.toks[p]; t.k == tStr {
			switch strings.ToLower(t.s) {
			case "user", "group", "setpassword":
				return true
			}
			if hasPrefixFold(t.s, "winnt:") {
				return true
			}
		}
	}
	return false
}

// javaEvaluator reports whether the method call at k evaluates an
// expression or script given as a string: an expression language (EL,
// SpEL, OGNL, MVEL, JEXL) or a script or template engine (Groovy,
// Velocity).
func (a *scriptAn) javaEvaluator(k int) bool {
	h := a.has
	switch a.toks[k].l {
	case "eval":
		return h["elprocessor"] || a.id(k-2, "mvel")
	case "evaluate":
		return h["groovyshell"] || a.id(k-2, "velocity")
	case "parseclass":
		return h["groovyclassloader"]
	case "parseexpression":
		return h["spelexpressionparser"] || h["expressionparser"] || a.id(k-2, "ognl")
	case "getvalue":
		return a.id(k-2, "ognl")
	case "executeexpression", "compileexpression":
		return a.id(k-2, "mvel")
	case "createvalueexpression", "createmethodexpression":
		return h["expressionfactory"] || h["getexpressionfactory"]
	case "createexpression", "createscript":
		return h["jexlengine"] || h["jexlbuilder"]
	}
	return false
}

// requestURL reports whether the first argument in [s,e) is a URL taken
// from the request with no fixed scheme-and-host prefix.
func (a *scriptAn) requestURL(s, e int) bool {
	args := a.splitArgs(s, e)
	if len(args) == 0 || !a.tainted(args[0][0], args[0][1]) {
		return false
	}
	if first := a.toks[args[0][0]]; first.k == tStr {
		lit := strings.ToLower(first.s)
		if lit != "" && lit != "http://" && lit != "https://" {
			return false // a fixed prefix: the page chooses the server
		}
	}
	return true
}

// createsFile reports whether the FileStream constructor at k opens its
// file for writing: a FileMode that creates, truncates or appends.
func (a *scriptAn) createsFile(k int) bool {
	s, e, ok := a.callArgs(k)
	if !ok {
		return false
	}
	for p := s; p < e; p++ {
		if a.id(p, "filemode") && a.is(p+1, ".") && p+2 < e {
			switch a.toks[p+2].l {
			case "create", "createnew", "append", "openorcreate", "truncate":
				return true
			}
		}
	}
	return false
}

// startsWithInput reports whether the expression at s begins with request
// input: directly, or through a variable whose assigned value does (up to
// depth assignments deep). A path built on a fixed base (MapPath("~/up/") +
// name, a literal directory) does not.
func (a *scriptAn) startsWithInput(s, depth int) bool {
	if s >= len(a.toks) || a.toks[s].k != tIdent || depth <= 0 {
		return false
	}
	if a.inputAt[s] {
		return true
	}
	name := a.toks[s].l
	if !a.taint[name] || a.is(s+1, "(") || a.is(s+1, ".") {
		return false
	}
	for k := range a.toks {
		t := &a.toks[k]
		if !a.st.spend(1) {
			return false
		}
		if t.k == tIdent && t.l == name && a.is(k+1, "=") && !a.is(k+2, "=") && !a.is(k-1, ".") && a.startsWithInput(k+2, depth-1) {
			return true
		}
	}
	return false
}

// uploadName reports whether the path in [s,e) holds the name the client
// gave an uploaded file (PostedFile.FileName, Request.Files[0].FileName).
func (a *scriptAn) uploadName(s, e int) bool {
	if !a.has["files"] && !a.has["postedfile"] && !a.has["httppostedfile"] {
		return false
	}
	for p := s; p < e; p++ {
		if a.id(p, "filename") && a.is(p-1, ".") {
			return true
		}
	}
	return false
}

// selfDir reports whether the page refers to its own directory
// (Request.PhysicalPath, MapPath(".")), where the server runs any page the
// client uploads.
func (a *scriptAn) selfDir() bool {
	if a.selfDirAt == 0 {
		a.selfDirAt = -1
		if a.findSelfDir() {
			a.selfDirAt = 1
		}
	}
	return a.selfDirAt > 0
}

func (a *scriptAn) findSelfDir() bool {
	if a.has["physicalpath"] {
		return true
	}
	for k := range a.toks {
		t := &a.toks[k]
		if t.k == tIdent && t.l == "mappath" && a.is(k+1, "(") && a.match[k+1] == k+3 && a.toks[k+2].k == tStr {
			switch a.toks[k+2].s {
			case ".", "./", ".\\", "":
				return true
			}
		}
	}
	return false
}

// xsltScriptExec reports whether an XSLT stylesheet holds an msxsl:script
// block that creates a Windows shell object and runs a command through it,
// or starts a process. Stylesheets transform documents; a script block
// that runs commands hides command execution behind the transform.
func xsltScriptExec(xsl string) bool {
	low := asciiLower(xsl)
	for i := 0; ; {
		j := strings.Index(low[i:], "<msxsl:script")
		if j < 0 {
			return false
		}
		i += j
		gt := strings.IndexByte(low[i:], '>')
		if gt < 0 {
			return false
		}
		tag := low[i : i+gt]
		end := strings.Index(low[i+gt:], "</msxsl:script")
		if end < 0 {
			end = len(low) - i - gt
		}
		body := xsl[i+gt+1 : i+gt+end]
		i += gt + end
		body = strings.ReplaceAll(strings.ReplaceAll(body, "<![CDATA[", ""), "]]>", "")
		body = html.UnescapeString(body)
		vb := strings.Contains(tag, "vb")
		toks := lexScript(body, vb, nil)
		shell, run := false, false
		for k, t := range toks {
			if t.k != tIdent {
				continue
			}
			switch t.l {
			case "activexobject", "createobject", "getobject":
				if k+2 < len(toks) && toks[k+2].k == tStr {
					ls := asciiLower(toks[k+2].s)
					shell = shell || strings.Contains(ls, "wscript.shell") || strings.Contains(ls, "shell.application")
				}
			case "exec", "run", "shellexecute":
				run = run || k > 0 && toks[k-1].k == tOp && toks[k-1].s == "."
			case "processstartinfo":
				return true
			case "start":
				if k > 1 && toks[k-1].s == "." && toks[k-2].l == "process" {
					return true
				}
			}
		}
		if shell && run {
			return true
		}
	}
}

// decodesInline reports whether [s,e) calls a base64 or decompression
// decoder (the argument of an eval being decoded in place).
func (a *scriptAn) decodesInline(s, e int) bool {
	for k := s; k < e; k++ {
		if t := a.toks[k]; t.k == tIdent && a.is(k+1, "(") && (t.l == "frombase64string" || t.l == "decodebuffer" || t.l == "gzipstream" || t.l == "deflatestream") {
			return true
		}
	}
	return false
}

// splitArgs splits [s,e) at top-level commas.
func (a *scriptAn) splitArgs(s, e int) [][2]int {
	var out [][2]int
	st := s
	for p := s; p < e; p++ {
		if a.is(p, ",") {
			out = append(out, [2]int{st, p})
			st = p + 1
			continue
		}
		if m := a.match[p]; m > p {
			p = m
		}
	}
	if st < e {
		out = append(out, [2]int{st, e})
	}
	return out
}

// fetchesInput reports whether the Open(method, url, ...) call at k takes
// its URL from the request with no fixed scheme-and-host prefix: the
// server then fetches any URL or local path the client names.
func (a *scriptAn) fetchesInput(k int) bool {
	s, e, ok := a.callArgs(k)
	if !ok {
		return false
	}
	args := a.splitArgs(s, e)
	if len(args) < 2 || !a.tainted(args[1][0], args[1][1]) {
		return false
	}
	if first := a.toks[args[1][0]]; first.k == tStr {
		lit := strings.ToLower(first.s)
		if lit != "" && lit != "http://" && lit != "https://" {
			return false // a fixed prefix: the page chooses the server
		}
	}
	return true
}

// pathArg reports whether a constant argument of the call whose "(" is at
// open names a file or URL: Execute(ReadFile("/lib/x.inc")) is a dynamic
// include, not a decoder.
func (a *scriptAn) pathArg(open int) bool {
	for _, r := range a.argRanges(open) {
		v, _, ok := a.constString(r[0], r[1])
		if !ok || len(v) > 260 || strings.ContainsAny(v, " \t") {
			continue
		}
		lv := strings.ToLower(v)
		if strings.HasPrefix(lv, "/") || strings.HasPrefix(lv, "./") || strings.HasPrefix(lv, "../") || strings.HasPrefix(lv, "~/") || strings.Contains(lv, ":\\") || strings.Contains(lv, "://") {
			return true
		}
		for _, ext := range []string{".asp", ".inc", ".txt", ".vbs", ".js", ".htm", ".html", ".asa", ".config", ".xml"} {
			if strings.HasSuffix(lv, ext) {
				return true
			}
		}
	}
	return false
}

// constArgs reports whether every argument of the call whose "(" is at open
// is a constant string.
func (a *scriptAn) constArgs(open int) bool {
	args := a.argRanges(open)
	for _, r := range args {
		if _, _, ok := a.constString(r[0], r[1]); !ok {
			return false
		}
	}
	return len(args) > 0
}

// dbConnClass reports database connection classes and factory methods
// whose argument is a connection string or URL.
func dbConnClass(l string) bool {
	switch l {
	case "sqlconnection", "oledbconnection", "odbcconnection", "mysqlconnection",
		"oracleconnection", "npgsqlconnection", "getconnection":
		return true
	}
	return false
}

// dirListCall reports calls that list a directory named by their argument.
// (A switch, not a map: it is asked for every identifier of a page, once
// per candidate language.)
func dirListCall(l string) bool {
	switch l {
	case "directoryinfo", "getfiles", "getdirectories", "getfilesystementries",
		"enumeratefiles", "getfolder", "listfiles":
		return true
	}
	return false
}

// fileAccessCall reports calls that read, serve or delete a file named by
// their argument.
func fileAccessCall(l string) bool {
	switch l {
	case "writefile", "transmitfile", "readalltext", "readallbytes", "openread",
		"fileinputstream", "filereader", "deletefile", "loadfromfile", "getfile",
		"opentextfile", "filestream":
		return true
	}
	return false
}

// writesInput reports whether request input is passed to a write/print call.
// The answer does not change once taint is propagated, so it is computed
// once per page (a page of many write calls stayed linear).
func (a *scriptAn) writesInput() bool {
	if a.writesAt == 0 {
		a.writesAt = -1
		if a.findWritesInput() {
			a.writesAt = 1
		}
	}
	return a.writesAt > 0
}

func (a *scriptAn) findWritesInput() bool {
	for k := range a.toks {
		t := &a.toks[k]
		if t.k == tIdent && (t.l == "write" || t.l == "writeline" || t.l == "print" || t.l == "println") && a.is(k-1, ".") {
			if s, e, ok := a.callArgs(k); ok && a.tainted(s, e) && !a.id(k-2, "out") && !a.id(k-2, "response") {
				return true
			}
		}
	}
	return false
}

// javaStrings returns string literals plus text hidden in byte array
// literals (new byte[]{106, 97, ...}).
func (a *scriptAn) javaStrings() []string {
	var out []string
	for k := range a.toks {
		t := &a.toks[k]
		switch {
		case t.k == tIdent && (t.l == "forname" || t.l == "getmethod" || t.l == "getdeclaredmethod" || t.l == "loadclass") && a.is(k+1, "(") && a.match[k+1] > k:
			// Class.forName("java.lang." + "Run" + "time"): a name split
			// into pieces.
			if args := a.argRanges(k + 1); len(args) > 0 && args[0][1]-args[0][0] > 1 {
				if v, _, ok := a.constString(args[0][0], args[0][1]); ok {
					out = append(out, v)
				}
			}
		case t.k == tStr:
			out = append(out, t.s)
			if a.is(k-1, "(") && (a.id(k-2, "decodebuffer") || a.id(k-2, "decode")) && len(t.s) <= 4096 {
				// decoder.decodeBuffer("amF2YS5sYW5nLlJ1bnRpbWU="): a
				// class or method name hidden in base64.
				if d, ok := decodeBase64(t.s); ok && printable(d) {
					out = append(out, d)
				}
			}
		case t.k == tOp && t.s == "{" && a.match[k] > k && a.is(k-1, "]") && a.id(k-3, "byte"):
			var b []byte
			for p := k + 1; p < a.match[k]; p++ {
				if a.toks[p].k == tNum {
					if n, err := strconv.Atoi(a.toks[p].s); err == nil {
						b = append(b, byte(n))
					}
				}
			}
			out = append(out, string(b))
		}
	}
	return out
}

func (a *scriptAn) structural(execSeen, evalDyn, shellObj, fso, stream, db bool) {
	h := a.has
	if a.lang == "jsp" {
		runtimeRef, shellStr, execName, defineName := h["getruntime"], false, false, false
		for _, s := range a.javaStrings() {
			ls := asciiLower(s)
			defineName = defineName || ls == "defineclass"
			runtimeRef = runtimeRef || strings.Contains(ls, "java.lang.runtime") || strings.Contains(ls, "java.lang.processbuilder") || strings.Contains(ls, "processimpl")
			shellStr = shellStr || strings.Contains(ls, "cmd.exe") || strings.Contains(ls, "/bin/sh") || strings.Contains(ls, "/bin/bash")
			execName = execName || ls == "exec" || ls == "start" || ls == "getruntime"
		}
		if runtimeRef && (execName || h["invoke"] || h["getmethod"]) {
			if !execSeen {
				a.add("REFLECTIVE-EXEC", wExecWrapper, "runs commands through reflection on Runtime/ProcessBuilder", -1)
			}
			execSeen = true
		}
		if shellStr && runtimeRef {
			execSeen = true
		}
		if defineName && (h["getdeclaredmethod"] || h["getmethod"]) && h["invoke"] && !h["defineclass"] {
			// ClassLoader.defineClass reached through reflection.
			switch {
			case h["cipher"] && (h["dofinal"] || h["getinstance"]):
				a.add("CRYPTO-CLASSLOADER", wCryptoLoader, "decrypts bytes and defines a class from them (through reflection)", -1)
			case a.input:
				a.add("INPUT-CLASSLOADER", wClassLoad, "defines a class through reflection in a page reading request input", -1)
			default:
				a.add("CLASSLOADER", wUploadPath, "defines a class through reflection", -1)
			}
		}
	}
	if execSeen && a.input {
		a.add("EXEC-INPUT", wExecCoOccur, "runs commands in a page driven by request input", -1)
	}
	if evalDyn && a.input {
		a.add("EVAL-INPUT", wRemoteEval, "evaluates computed code in a page driven by request input", -1)
	}
	fileMan := false
	dbUse := db
	switch a.lang {
	case "jsp":
		fileMan = h["listfiles"] && (h["delete"] || h["renameto"] || h["fileoutputstream"])
		dbUse = dbUse || h["drivermanager"]
		if (h["base64decoder"] || h["getdecoder"] || h["decodebuffer"]) && (h["getinputstream"] || h["getreader"]) {
			a.add("BODY-DECODE", wEntropy, "decodes base64 from the raw request body", -1)
		}
	case "asp":
		fileMan = fso && (h["getfolder"] || h["subfolders"] || h["files"]) && (h["deletefile"] || h["createtextfile"] || h["copyfile"] || h["movefile"] || h["deletefolder"])
		if stream && h["savetofile"] && h["binaryread"] {
			a.add("UPLOAD", wUploadPath, "saves the raw request body to a file", -1)
		}
	case "aspx":
		fileMan = (h["getfiles"] || h["getdirectories"] || h["directoryinfo"]) && (h["delete"] || h["writealltext"] || h["saveas"] || h["move"] || h["copyto"])
		dbUse = dbUse || h["sqlconnection"] || h["oledbconnection"]
	}
	if fileMan && a.input {
		a.add("FILE-MANAGER", wFileManager, "request-driven file manager", -1)
		if execSeen && (dbUse || stream || h["saveas"]) {
			a.add("TOOLKIT", wToolkit, "command execution, file manager and database/upload in one file", -1)
		}
	}
	if a.lang == "asp" && (strings.Contains(a.code, "#@~^") || h["vbscript"] && h["encode"]) {
		a.add("ENCODED-SCRIPT", wUploadPath, "script encoded with the Windows Script Encoder", -1)
	}
	if evalDyn && a.lang == "asp" && (h["mid"] || h["substring"]) && (h["instr"] || h["asc"] || h["chr"] || h["replace"]) && a.encodedLiteral() {
		// Execute of a string computed from a large encoded literal by a
		// character-by-character decoder function in the same page.
		a.add("DECODER-EVAL", wObfEval*0.7, "evaluates code decoded at run time from a large encoded literal", -1)
	}
	if shellObj && a.lang == "asp" {
		if k := a.dropRun(); k >= 0 {
			a.add("DROP-EXEC", wDropExec, "writes a file and runs it through a shell object", k)
		}
	}
	if shellObj && a.lang == "asp" && !a.input {
		a.add("SHELL-OBJECT", wExecCap, "creates a Windows shell object", -1)
	}
}

// nested re-analyses a decoded eval payload.
func (a *scriptAn) nested(code string, k int) {
	if a.st.depth >= maxDecodeDepth || !looksLikeCode(code) {
		return
	}
	a.st.decoded += len(code)
	if a.st.decoded > maxDecodedTotal {
		a.st.capped = true
		return
	}
	a.st.depth++
	wrapped := "<%\n" + code + "\n%>"
	n := analyzeScript(wrapped, asciiLower(wrapped), a.lang, a.st, nil)
	a.st.depth--
	if len(n.sigs) > 0 {
		a.sc.merge(n, "in decoded layer: ")
		a.add("DECODED-CODE", wDecodedLayer, "suspicious code hidden in an encoded layer", k)
	}
}

// isNew reports whether the identifier at k is the class of a "new"
// expression, possibly package-qualified (new java.io.File(...)).
func (a *scriptAn) isNew(k int) bool {
	for p := k - 1; p >= 1 && k-p < 16; p -= 2 {
		if a.id(p, "new") {
			return true
		}
		if !a.is(p, ".") || a.toks[p-1].k != tIdent {
			return false
		}
		if a.id(p-1, "new") {
			return false
		}
	}
	return a.id(k-1, "new")
}

// printable reports whether s is non-empty printable ASCII.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return s != ""
}

// encodedLiteral reports whether the code holds a string literal of at
// least 1 KiB that reads as an encoded blob rather than text or markup:
// under 8% spaces and no line of HTML tags.
func (a *scriptAn) encodedLiteral() bool {
	for i := range a.toks {
		t := &a.toks[i]
		if t.k != tStr || len(t.s) < 1024 {
			continue
		}
		if strings.Count(t.s, " ")*100 < 8*len(t.s) && strings.Count(asciiLower(t.s), "</") < 4 {
			return true
		}
	}
	return false
}
