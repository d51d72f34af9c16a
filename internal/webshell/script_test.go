package webshell

import (
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// screncEncode is the inverse of screncBlock: it encodes plain VBScript
// with the Windows Script Encoder tables. Non-ASCII bytes are copied and
// not counted; with dbcs, a byte 0x81..0xfe starts a double-byte character
// (GBK) whose trail byte is copied with it, as the encoder does for pages
// in a DBCS code page.
func screncEncode(t *testing.T, plain string, dbcs bool) string {
	t.Helper()
	var b strings.Builder
	idx := -1
	for i := 0; i < len(plain); i++ {
		c := plain[i]
		if c >= 0x80 {
			b.WriteByte(c)
			if dbcs && c >= 0x81 && c <= 0xfe && i+1 < len(plain) {
				b.WriteByte(plain[i+1])
				i++
			}
			continue
		}
		idx++
		if esc, ok := map[byte]string{'\n': "@&", '\r': "@#", '<': "@!", '>': "@*", '@': "@$"}[c]; ok {
			b.WriteString(esc)
			continue
		}
		if c != 9 && c < 32 {
			b.WriteByte(c)
			continue
		}
		pick := int(screncPick[idx%64] - '0')
		e := 9
		for ; e < 128; e++ {
			if screncTable[(e-9)*3+pick] == c && e != '@' && e != '<' && e != '>' {
				break
			}
		}
		if e == 128 {
			t.Fatalf("byte %q has no encoding under table %d", c, pick)
		}
		b.WriteByte(byte(e))
	}
	return "#@~^AAAAAA==" + b.String() + "AAAAAA==^#~@"
}

// A page saved in GBK whose comments hold double-byte characters with ASCII
// trail bytes: the decoder must keep its table position in step with the
// encoder, which does not count those characters.
func TestScrencDoubleByte(t *testing.T) {
	// 0x81 0x40, 0xb0 0x5b and 0xb2 0x7e are GBK characters whose trail
	// bytes are "@", "[" and "~".
	plain := "' \x81\x40\xb0\x5b \xd6\xd0\xce\xc4\r\nDim x\r\nx = 1 ' \xb2\x7e\r\nIf x = 1 Then\r\nExecute Request(\"x\")\r\nEnd If\r\n"
	enc := screncEncode(t, plain, true)
	got, ok := decodeScrenc(enc)
	if !ok || got != plain {
		t.Fatalf("decodeScrenc = %q, %v; want %q", got, ok, plain)
	}
	r := Analyze([]byte("<%@ Language=VBScript.Encode %><%" + enc + "%>"))
	if !r.Webshell() || r.Rule != "VGL-WEBSHELL-ASP-INPUT-EVAL" {
		t.Errorf("encoded GBK page: %+v", r)
	}
	// A Windows-1254 (single-byte) body whose letters are followed by
	// ASCII: read byte by byte, like the encoder did.
	plain = "' G\xfcvenlik \xe7al\xfd\xfemas\xfd\r\nDim s\r\nIf Request(\"k\") <> \"\" Then\r\n' \xfe\xfcphe\r\nResponse.Write \"ok\"\r\nEnd If\r\n"
	if got, ok := decodeScrenc(screncEncode(t, plain, false)); !ok || got != plain {
		t.Errorf("Windows-1254 body: decodeScrenc = %q, %v; want %q", got, ok, plain)
	}
	// A UTF-8 body is read byte by byte: "é" and "中" are not pairs.
	plain = "' caf\xc3\xa9 \xe4\xb8\xad\r\nExecute Request(\"y\")\r\n"
	if got, ok := decodeScrenc(screncEncode(t, plain, false)); !ok || got != plain {
		t.Errorf("UTF-8 body: decodeScrenc = %q, %v; want %q", got, ok, plain)
	}
}

// Pages made of thousands of sinks stay within the analysis budget: every
// per-sink check is cached or budgeted. (No timing is asserted; a
// quadratic check shows up as a test timeout.)
func TestScriptManySinks(t *testing.T) {
	inputs := map[string]string{
		"saveas": "<%@ Page Language=\"C#\" %><% var f = Request.Files[0]; " +
			strings.Repeat("f.SaveAs(Request.Form[\"p\"] + f.FileName + Request.PhysicalPath);\n", 10000) + "%>",
		"drop_run": "<%\nSet s = CreateObject(\"WScript.Shell\")\n" +
			strings.Repeat("x.CreateTextFile \"c:\\a.vbs\"\n", 10000) + strings.Repeat("s.Run \"c:\\b.vbs\"\n", 10000) + "%>",
		"xslt":         "<%\nx = \"" + strings.Repeat("<msxsl:script language=\"\"JScript\"\">new ActiveXObject('WScript.Shell').Run(c)</msxsl:script>", 5000) + "\"\n%>",
		"jsp_comments": "<%! " + strings.Repeat("void f() { <%-- c --%> }\n", 20000) + "%>",
		"assign_chain": "<%@ Page Language=\"VB\" %><%\n" + strings.Repeat("x = x\n", 5000) +
			"Set f = Request.Files(0)\n" + strings.Repeat("f.SaveAs x\n", 5000) + "%>",
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			checkEvidence(t, Analyze([]byte(in)))
		})
	}
	// The page of uploads is still judged.
	if r := Analyze([]byte(inputs["saveas"])); !r.Webshell() {
		t.Errorf("page of uploads to request-chosen paths not detected: %+v", r)
	}
}

// blockBody leaves a server comment out of a JSP declaration and goes on to
// the block's real end.
func TestBlockBodyComment(t *testing.T) {
	src := "<%! int a; <%-- x --%> int b; %>tail<% c(); %>"
	body, next := blockBody(src, asciiLower(src), 0, true)
	if body != "! int a;  int b; " || src[next:] != "tail<% c(); %>" {
		t.Errorf("blockBody = %q, rest %q", body, src[next:])
	}
	body, next = blockBody(src, asciiLower(src), 0, false)
	if body != "! int a; <%-- x --" || src[next:] != " int b; %>tail<% c(); %>" {
		t.Errorf("blockBody without comments = %q, rest %q", body, src[next:])
	}
	if body, next := blockBody("<% open", "<% open", 0, true); body != " open" || next != 7 {
		t.Errorf("unclosed block = %q, %d", body, next)
	}
}

// TestHasWords checks that every lookup in a front's has set (a.has[...],
// or h[...] with h := a.has) is of a literal in hasWords: the set records
// only those identifiers, so a lookup of any other would always be false.
func TestHasWords(t *testing.T) {
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(node ast.Node) bool {
			ix, ok := node.(*ast.IndexExpr)
			if !ok {
				return true
			}
			switch x := ix.X.(type) {
			case *ast.Ident:
				if x.Name != "h" {
					return true
				}
			case *ast.SelectorExpr:
				if x.Sel.Name != "has" {
					return true
				}
			default:
				return true
			}
			if lit, ok := ix.Index.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				w, err := strconv.Unquote(lit.Value)
				if err != nil || !hasWords[w] {
					t.Errorf("%s: has lookup of %s, not in hasWords", fset.Position(ix.Pos()), lit.Value)
				}
				n++
				return true
			}
			if fset.Position(ix.Pos()).Filename == "script.go" && types.ExprString(ix) == "f.has[t.l]" {
				return true // where the set is filled
			}
			t.Errorf("%s: has lookup of %s, not a literal", fset.Position(ix.Pos()), types.ExprString(ix.Index))
			return true
		})
	}
	if n < len(hasWords) {
		t.Errorf("found %d has lookups, want at least one per word of hasWords (%d)", n, len(hasWords))
	}
}

// TestSinkWords checks what lets sinks pass over identifiers outside
// sinkWords: every case of its switch holds, in every alternative, a
// comparison of the token (t.l == "word", t.s == "Word") with a word of
// sinkWords, or a call of a classifier (javaEvaluator, dbConnClass,
// dirListCall, fileAccessCall) whose every case label is in sinkWords.
func TestSinkWords(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "script.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	funcs := map[string]*ast.FuncDecl{}
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok {
			funcs[fd.Name.Name] = fd
		}
	}
	word := func(e ast.Expr) (string, bool) {
		lit, ok := e.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return "", false
		}
		w, err := strconv.Unquote(lit.Value)
		return w, err == nil
	}
	// Classifiers: every case label must be a word.
	classifiers := map[string]bool{}
	for _, name := range []string{"javaEvaluator", "dbConnClass", "dirListCall", "fileAccessCall"} {
		fd := funcs[name]
		if fd == nil {
			t.Fatalf("no func %s", name)
		}
		ok := true
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			if cc, isCase := n.(*ast.CaseClause); isCase {
				for _, e := range cc.List {
					if w, isWord := word(e); !isWord || !sinkWords[w] {
						t.Errorf("%s: case %s is not in sinkWords", name, types.ExprString(e))
						ok = false
					}
				}
			}
			return true
		})
		classifiers[name] = ok
	}
	// needsWord reports whether e can only be true for a token in sinkWords.
	var needsWord func(e ast.Expr) bool
	needsWord = func(e ast.Expr) bool {
		switch e := e.(type) {
		case *ast.ParenExpr:
			return needsWord(e.X)
		case *ast.BinaryExpr:
			switch e.Op {
			case token.LAND:
				return needsWord(e.X) || needsWord(e.Y)
			case token.LOR:
				return needsWord(e.X) && needsWord(e.Y)
			case token.EQL:
				x := types.ExprString(e.X)
				w, ok := word(e.Y)
				return ok && (x == "t.l" && sinkWords[w] || x == "t.s" && sinkWords[strings.ToLower(w)])
			}
		case *ast.CallExpr:
			name := ""
			switch fn := e.Fun.(type) {
			case *ast.Ident:
				name = fn.Name
			case *ast.SelectorExpr:
				name = fn.Sel.Name
			}
			return classifiers[name]
		}
		return false
	}
	fd := funcs["sinks"]
	if fd == nil {
		t.Fatal("no func sinks")
	}
	cases := 0
	for _, st := range fd.Body.List {
		loop, ok := st.(*ast.ForStmt)
		if !ok {
			continue
		}
		last, ok := loop.Body.List[len(loop.Body.List)-1].(*ast.SwitchStmt)
		if !ok || last.Tag != nil {
			t.Fatal("sinks: the loop does not end in the expressionless switch")
		}
		for _, c := range last.Body.List {
			cc := c.(*ast.CaseClause)
			if cc.List == nil {
				t.Errorf("%s: sinks has a default case", fset.Position(cc.Pos()))
			}
			for _, e := range cc.List {
				cases++
				if !needsWord(e) {
					t.Errorf("%s: case %s may hold for a word outside sinkWords", fset.Position(e.Pos()), types.ExprString(e))
				}
			}
		}
	}
	if cases < 40 {
		t.Errorf("checked %d cases of sinks, want its whole switch", cases)
	}
}
