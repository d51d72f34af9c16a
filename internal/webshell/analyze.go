package webshell

import (
	"bytes"
	"fmt"
	"math/bits"
	"strings"
)

// AnalyzeWith judges content with explicit options. It neither modifies nor
// retains data; the caller must not modify data during the call.
func AnalyzeWith(data []byte, opt Options) Result {
	var notes []string
	if max := opt.maxBytes(); len(data) > max {
		notes = append(notes, fmt.Sprintf("analysis capped to the first %d of %d bytes", max, len(data)))
		data = data[:max]
	}
	if dec, ok := decodeUTF16BOM(data); ok {
		notes = append(notes, "decoded UTF-16 (byte-order mark) before analysis")
		data = dec
	}
	if isBinary(data) {
		return Result{Evidence: append(notes, "binary content, not analysed")}
	}
	src := bytesString(data) // not retained: see bytesString
	if hasScrencMarker(src) {
		if dec, ok := decodeScrenc(src); ok {
			notes = append(notes, "decoded Windows Script Encoder blocks before analysis")
			src = dec
		}
	}
	if !mayHoldServerCode(src) {
		return taglessResult(src, notes, opt) // no page: at most a PHP fragment
	}
	low, lowBuf := asciiLowerPooled(src)
	defer releaseLower(lowBuf) // after best.result(), which copies what it keeps
	if hasUTF7CodePage(low) {
		// The ASP engine reads the whole page as UTF-7.
		if dec, ok := decodeUTF7(src); ok {
			notes = append(notes, "decoded UTF-7 (CodePage 65000) before analysis")
			src, low = dec, asciiLower(dec)
		}
	}
	langs := detectLangs(low)
	if len(langs) == 0 {
		return taglessResult(src, notes, opt)
	}
	var best *scorer
	var bestState *state
	var fronts scriptFronts
	defer fronts.release()
	for _, l := range langs {
		st := &state{budget: budgetPerToken*len(src) + budgetFloor, cache: opt.Cache}
		var sc *scorer
		if l == "php" {
			sc = analyzePHP(src, false, st)
		} else {
			sc = analyzeScript(src, low, l, st, &fronts)
		}
		if best == nil || sc.score() > best.score() {
			best, bestState = sc, st
		}
		if best.score() >= decisive {
			// The page is a shell read as its likeliest language; another
			// reading could only add to a verdict already beyond doubt.
			break
		}
	}
	return finish(best, bestState, notes)
}

// finish puts the notes about the input first, and one about an
// incomplete analysis last.
func finish(sc *scorer, st *state, notes []string) Result {
	sc.notes = append(notes, sc.notes...)
	if st.capped {
		sc.notes = append(sc.notes, "analysis budget or decode cap reached; result may be incomplete")
	}
	return sc.result()
}

// taglessResult judges content in which no server-side page was found. A
// file of bare PHP statements (no "<?php" tag) that reads request input is
// analysed as PHP: such fragments are shells staged for a loader elsewhere
// that runs them with eval(file_get_contents(...)), and storing them
// without a tag (often under an image or text name) is how they evade
// scanners that look for one. Lang stays "" unless the analysis finds
// something.
func taglessResult(src string, notes []string, opt Options) Result {
	if !taglessPHP(src) {
		return Result{Evidence: notes}
	}
	st := &state{budget: budgetPerToken*len(src) + budgetFloor, cache: opt.Cache}
	sc := analyzePHP(src, true, st)
	if len(sc.sigs) == 0 {
		return Result{Evidence: notes}
	}
	notes = append(notes, "PHP statements without an opening tag: a fragment that runs when another file evaluates it")
	return finish(sc, st, notes)
}

// taglessPHP reports whether src, in which no PHP tag was found, looks
// like PHP statements that read request input: a superglobal holding
// request data, and mostly lines that end a statement or block (prose,
// markup and most other languages' code do not).
func taglessPHP(src string) bool {
	if !hasRequestSuperglobal(src) {
		return false
	}
	lines, code, semis := 0, 0, 0
	comment := false
	for rest := src; rest != ""; {
		var line string
		line, rest, _ = strings.Cut(rest, "\n")
		line = strings.TrimSpace(line)
		switch {
		case comment:
			comment = !strings.Contains(line, "*/")
			continue
		case line == "", strings.HasPrefix(line, "//"), strings.HasPrefix(line, "#"):
			continue
		case strings.HasPrefix(line, "/*"):
			comment = !strings.Contains(line, "*/")
			continue
		}
		lines++
		switch line[len(line)-1] {
		case ';':
			semis++
			code++
		case '{', '}':
			code++
		}
	}
	return semis > 0 && code*10 >= lines*6
}

// requestSuperglobals are the PHP superglobals that hold request data
// (names are case-sensitive in PHP).
var requestSuperglobals = []string{"GET", "POST", "REQUEST", "COOKIE", "FILES", "SERVER"}

// hasRequestSuperglobal reports whether src names $_GET, $_POST,
// $_REQUEST, $_COOKIE, $_FILES or $_SERVER.
func hasRequestSuperglobal(src string) bool {
	for i := 0; ; {
		j := strings.Index(src[i:], "$_")
		if j < 0 {
			return false
		}
		i += j + 2
		for _, g := range requestSuperglobals {
			if strings.HasPrefix(src[i:], g) && (i+len(g) == len(src) || !isIdentByte(src[i+len(g)])) {
				return true
			}
		}
	}
}

// decisive is the score past which an analysis stops: the rest of the
// page, and its other candidate languages, could only add to a verdict
// already beyond doubt. Evidence then lists the signals found so far.
const decisive = 0.99

// isBinary reports whether data looks like a binary file rather than a
// script: NUL bytes in the first KiB (UTF-16 text is not a script a PHP, JSP
// or ASP engine runs as such) or a known binary magic.
func isBinary(data []byte) bool {
	head := data[:min(len(data), 1024)]
	if bytes.IndexByte(head, 0) >= 0 {
		return true
	}
	for _, m := range [][]byte{[]byte("\x7fELF"), []byte("MZ"), []byte("PK\x03\x04"), []byte("\x89PNG"), []byte("\x1f\x8b")} {
		if bytes.HasPrefix(data, m) {
			return true
		}
	}
	return false
}

// detectLangs returns the server-side languages present in src, most
// likely first. Detection is by content only; low is the source with ASCII
// letters lower-cased. A new way to recognise a language must keep
// mayHoldServerCode (the prefilter) true for the pages it recognises.
func detectLangs(low string) []string {
	var out []string
	if hasPHPTag(low) {
		out = append(out, "php")
	}
	// Server blocks must be page structure: a closed "<% ... %>" outside
	// another language's strings and comments, or a runat="server" tag.
	block := hasASPBlock(low)
	asp := block || hasServerTag(low)
	jsp := block || strings.Contains(low, "<jsp:") || strings.Contains(low, "jsp:root")
	if !asp && !jsp {
		return out
	}
	found := langNeedles.find(low)
	javaScore := bits.OnesCount64(found & javaNeedles)
	dotnetScore := bits.OnesCount64(found & dotnetNeedles)
	vbScore := bits.OnesCount64(found & vbNeedles)
	type cand struct {
		l string
		n int
	}
	switch directiveLang(low) {
	case "jsp":
		javaScore += 10
	case "aspx":
		dotnetScore += 10
	case "asp":
		vbScore += 10
	}
	cands := []cand{{"jsp", javaScore}, {"aspx", dotnetScore}, {"asp", vbScore}}
	// Stable selection sort by score.
	for i := range cands {
		for j := i + 1; j < len(cands); j++ {
			if cands[j].n > cands[i].n {
				cands[i], cands[j] = cands[j], cands[i]
			}
		}
	}
	for _, c := range cands {
		if c.n > 0 {
			out = append(out, c.l)
		}
	}
	if len(out) == 0 && block {
		out = append(out, "asp")
	}
	return out
}

// langNeedles are the words that vote for a server language in
// detectLangs: the first 13 for JSP (javaNeedles), the next 16 for ASP.NET
// (dotnetNeedles), the last 14 for classic ASP (vbNeedles). A language's
// score is how many of its words occur.
var langNeedles = newNeedleSet(
	"<%@ page", "<%@page", "import=\"java", "request.getparameter", "java.", "out.print", "<jsp:", "getruntime()", "processbuilder", "classloader", "string ", "pageencoding", "jsp:",
	"language=\"c#\"", "language=c#", "language=\"cs\"", "system.", "process.start", "request.form[", "request.querystring[", "request[", "runat=\"server\"", "<%@ import namespace", "<%@ assembly", "page language=\"jscript\"", "\"unsafe\"", "assembly.load", "response.write(", "language=\"vb\"",
	"server.createobject", "createobject(", "request(\"", "request.form(", "request.querystring(", "execute", "dim ", "language=vbscript", "language=\"vbscript\"", "response.write ", "end if", "wscript.shell", "set ", "chr(",
)

const (
	javaNeedles   = uint64(1)<<13 - 1
	dotnetNeedles = (uint64(1)<<16 - 1) << 13
	vbNeedles     = (uint64(1)<<14 - 1) << 29
)

// hasPHPTag reports whether low holds a PHP open tag ("<?php", "<?=", or a
// short tag: "<?" and white space or a variable, as in "<?$x=...") at top
// level: not inside a quoted string (other than an HTML attribute value) or
// a comment of another language.
func hasPHPTag(low string) bool {
	judge := tagJudge{s: low, close: "?>"}
	for i := 0; ; {
		j := strings.Index(low[i:], "<?")
		if j < 0 {
			return false
		}
		i += j + 2
		if judge.at(i-2) != ctxTop {
			// Quoted in a string or comment: only a page with a
			// top-level tag is PHP.
			continue
		}
		rest := low[i:]
		if strings.HasPrefix(rest, "php") || strings.HasPrefix(rest, "=") {
			return true
		}
		if len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\n' || rest[0] == '\r' || rest[0] == '\t' || rest[0] == '$') {
			return true
		}
	}
}

// directiveLang reads the language from the first <%@ ... %> directive that
// names one: JSP "page language=java", ASP.NET "Page/Control/WebHandler
// Language=C#|VB|JScript", classic ASP "Language=VBScript|JScript".
func directiveLang(low string) string {
	for i := 0; ; {
		j := strings.Index(low[i:], "<%@")
		if j < 0 {
			return ""
		}
		i += j + 3
		end := strings.Index(low[i:], "%>")
		if end < 0 {
			end = min(len(low)-i, 400)
		}
		d := strings.TrimSpace(low[i : i+end])
		k := strings.Index(d, "language")
		if k < 0 {
			if strings.HasPrefix(d, "webhandler") || strings.HasPrefix(d, "assembly") || strings.HasPrefix(d, "import namespace") {
				return "aspx"
			}
			continue
		}
		v := strings.TrimLeft(d[k+len("language"):], " \t=\"'")
		page := strings.HasPrefix(d, "page") || strings.HasPrefix(d, "control") || strings.HasPrefix(d, "webhandler") || strings.HasPrefix(d, "webservice")
		switch {
		case strings.HasPrefix(v, "java") && !strings.HasPrefix(v, "javascript"):
			return "jsp"
		case strings.HasPrefix(v, "c#"), strings.HasPrefix(v, "cs"), strings.HasPrefix(v, "vb") && page, strings.HasPrefix(v, "jscript") && page:
			return "aspx"
		case strings.HasPrefix(v, "vbscript"), strings.HasPrefix(v, "jscript"), strings.HasPrefix(v, "javascript"):
			return "asp"
		}
	}
}
