package webshell

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDecodeUTF7(t *testing.T) {
	tests := []struct {
		in, want string
		changed  bool
	}{
		{"+AGUAdgBhAGw-(x)", "eval(x)", true},
		{"a +- b", "a + b", false},
		{"1+AGE.", "1a.", true},     // run ended by a non-base64 byte, kept
		{"+ZeVnLIqe-", "日本語", true}, // non-ASCII
		{"plain text", "plain text", false},
		{"x+A-y", "x+A-y", false},           // too short to hold a UTF-16 unit: kept
		{"trailing +", "trailing +", false}, // a lone plus at the end
	}
	for _, tc := range tests {
		got, changed := decodeUTF7(tc.in)
		if got != tc.want || changed != tc.changed {
			t.Errorf("decodeUTF7(%q) = %q, %v; want %q, %v", tc.in, got, changed, tc.want, tc.changed)
		}
	}
}

func TestHasUTF7CodePage(t *testing.T) {
	for in, want := range map[string]bool{
		"<%@codepage=65000%>":                           true,
		"<%@ language=vbscript codepage = \"65000\" %>": true,
		"<%@ codepage=65001 %>":                         false,
		"<% response.codepage=65000 %>":                 false,
		"<%@ codepage=65000":                            false,
	} {
		if got := hasUTF7CodePage(in); got != want {
			t.Errorf("hasUTF7CodePage(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestDecodeUTF16BOM(t *testing.T) {
	le := []byte{0xff, 0xfe, '<', 0, '%', 0, 0x3d, 0xd8, 0x00, 0xde, 'x'} // odd trailing byte dropped
	got, ok := decodeUTF16BOM(le)
	if !ok || string(got) != "<%\U0001F600" {
		t.Errorf("little-endian: %q, %v", got, ok)
	}
	be := []byte{0xfe, 0xff, 0, '<', 0, '?', 0xd8, 0x00}
	got, ok = decodeUTF16BOM(be)
	if !ok || string(got) != "<?\uFFFD" {
		t.Errorf("big-endian with unpaired surrogate: %q, %v", got, ok)
	}
	if _, ok := decodeUTF16BOM([]byte("<?php")); ok {
		t.Error("decoded text without a byte-order mark")
	}
	if r := Analyze([]byte{0xff, 0xfe, 0, 0, 1}); r.Lang != "" || r.Webshell() {
		t.Errorf("NUL-laden UTF-16 judged: %+v", r)
	}
}

func TestASPJScript(t *testing.T) {
	for in, want := range map[string]bool{
		`<%@ language="jscript" %><% Response.Write(1) %>`:                      true,
		`<script language=JScript runat=server>function f(){}</script>`:         true,
		`<% x = Request("a") %><script language="JavaScript">alert(1)</script>`: false,
		`<% x = 1 %>`: false,
	} {
		if got := aspJScript(asciiLower(in)); got != want {
			t.Errorf("aspJScript(%q) = %v, want %v", in, got, want)
		}
	}
}

func FuzzDecodeCharsets(f *testing.F) {
	f.Add([]byte("+AGUAdgBhAGw-(x) +- +ZeVnLIqe- +A-"))
	f.Add([]byte{0xff, 0xfe, '<', 0, '%', 0, 0x3d, 0xd8})
	f.Fuzz(func(t *testing.T, data []byte) {
		out, changed := decodeUTF7(string(data))
		if !changed && out != string(data) && !strings.Contains(string(data), "+-") {
			t.Errorf("unchanged decode altered the input: %q -> %q", data, out)
		}
		if len(out) > maxDecoded+4*len(data) {
			t.Errorf("output of %d bytes from %d", len(out), len(data))
		}
		if dec, ok := decodeUTF16BOM(data); ok && !utf8.Valid(dec) {
			t.Errorf("UTF-16 decode produced invalid UTF-8: %q", dec)
		}
	})
}
