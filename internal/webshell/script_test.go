package webshell

import (
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
