package webshell

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"encoding/base64"
	"errors"
	"io"
	"math/bits"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// containsEach is the plain reference for needleSet.find.
func containsEach(s string, needles []string) uint64 {
	var m uint64
	for i, n := range needles {
		if strings.Contains(s, n) {
			m |= 1 << i
		}
	}
	return m
}

func TestNeedleSetMatchesContains(t *testing.T) {
	texts := []string{
		"", "s", "se", "set", "set x = 1", "<%@ page import=\"java.io.*\" %>",
		"jsp:jsp:jsp:", "RESPONSE.WRITE(", "response.write(x) end if dim a",
		"xxjsp", "chr(chr(", "language=\"c#\"language=c#",
	}
	for _, dir := range []string{"testdata/shells", "testdata/benign"} {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			texts = append(texts, asciiLower(string(b)))
		}
	}
	hits := 0
	for _, s := range texts {
		got, want := langNeedles.find(s), containsEach(s, langNeedles.needles)
		if got != want {
			t.Errorf("find(%.40q) = %#x, want %#x", s, got, want)
		}
		hits += bits.OnesCount64(got)
	}
	if hits == 0 {
		t.Fatal("no needle found in any fixture: the test checks nothing")
	}
}

func TestNeedleGroups(t *testing.T) {
	// The three vote groups partition the needles.
	if javaNeedles&dotnetNeedles != 0 || javaNeedles&vbNeedles != 0 || dotnetNeedles&vbNeedles != 0 {
		t.Fatal("vote groups overlap")
	}
	if n := bits.OnesCount64(javaNeedles | dotnetNeedles | vbNeedles); n != len(langNeedles.needles) {
		t.Fatalf("vote groups cover %d needles, have %d", n, len(langNeedles.needles))
	}
	for _, c := range []struct {
		group uint64
		word  string
	}{{javaNeedles, "request.getparameter"}, {dotnetNeedles, "process.start"}, {vbNeedles, "wscript.shell"}} {
		if got := langNeedles.find(c.word); got&c.group == 0 {
			t.Errorf("%q not counted in its group", c.word)
		}
	}
}

func TestDangerousKey(t *testing.T) {
	for _, s := range []string{"system", "SyStEm", "\u212Aill", "exec", "", "x"} {
		if got, want := dangerousKey(s), strings.ToLower(s); got != want {
			t.Errorf("dangerousKey(%q) = %q, want %q", s, got, want)
		}
	}
	// Longer than any key can lower-case to: no key, and no copy made.
	long := strings.Repeat("\u212A", maxDangerousName+1)
	if _, ok := dangerousNames[strings.ToLower(long)]; ok {
		t.Fatal("reference lookup unexpectedly matched")
	}
	if got := dangerousKey(long); got != "" {
		t.Errorf("dangerousKey(long) = %q, want \"\"", got)
	}
	// Every key, in upper case, is still found.
	for k := range dangerousNames {
		if _, ok := dangerousNames[dangerousKey(strings.ToUpper(k))]; !ok {
			t.Errorf("dangerousKey(%q) misses the key", strings.ToUpper(k))
		}
	}
}

func TestASCIILower(t *testing.T) {
	for _, s := range []string{"", "abc", "ABC", "aBc\xffÉ", "<?PHP EVAL($_POST['X']);", "@AZ[`az{\x80\xc1\xdaZZZZZZZZZZZZZZZZ\xff"} {
		b := []byte(s)
		for i, c := range b {
			if c >= 'A' && c <= 'Z' {
				b[i] = c + 'a' - 'A'
			}
		}
		want := string(b)
		if got := asciiLower(s); got != want {
			t.Errorf("asciiLower(%q) = %q, want %q", s, got, want)
		}
	}
}

func FuzzFastPaths(f *testing.F) {
	f.Add([]byte("<%@ page language=\"java\" %> set x = createobject(\"wscript.shell\")"))
	f.Add([]byte("jsjsp:p"))
	f.Add([]byte("c3lzdGVtCg=="))
	f.Add([]byte("x#@~^AAA /dev/tcp/"))
	f.Add([]byte("<form RunAt \t= 'server'>"))
	f.Add([]byte("<JSP:root>"))
	f.Add([]byte("php://input nc -e /bin/sh x.EXE /dev/tcp"))
	f.Add([]byte("<script language = \"JScript\" runat=server>"))
	f.Add([]byte("<?php f(a[1], {b}) ] ) x(y[) }"))
	f.Add([]byte("<%@ Page Language=\"VB.NET\" %><asp:x>"))
	f.Add([]byte("a\\'b' \"x$y {$z} \\n\" `ls $d` \x00"))
	f.Add([]byte("c3lz\x00dGVt!Cg==\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := string(data)
		if got, want := langNeedles.find(s), containsEach(s, langNeedles.needles); got != want {
			t.Fatalf("find = %#x, want %#x", got, want)
		}
		if got, want := asciiLower(s), strings.ToLower(s); isASCII(s) && got != want {
			t.Fatalf("asciiLower = %q, want %q", got, want)
		}
		if got, h := asciiLowerPooled(s); got != asciiLower(s) {
			t.Fatalf("asciiLowerPooled = %q, want %q", got, asciiLower(s))
		} else {
			releaseLower(h)
		}
		checkFastPaths(t, s)
		checkBrackets(t, s)
		checkLexStrings(t, s)
		checkPrefilter(t, s)
		checkContainsFold(t, s)
		checkScriptFronts(t, s)
		checkBase64Blob(t, s)
	})
}

// checkBase64Blob compares isBase64Blob with a byte-by-byte count of the
// bytes outside the alphabet, on s and on s padded with alphabet bytes
// (so that a few stray bytes fall within the 1% allowed).
func checkBase64Blob(t *testing.T, s string) {
	t.Helper()
	for _, in := range []string{s, strings.Repeat("QUJD", len(s)*25) + s} {
		bad := 0
		for i := 0; i < len(in); i++ {
			if !strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n", rune(in[i])) || in[i] >= 0x80 {
				bad++
			}
		}
		want := len(in) >= 4 && bad <= (len(in)+99)/100-1
		if got := isBase64Blob(in, 4); got != want {
			t.Fatalf("isBase64Blob(%.60q) = %v, want %v (%d bad of %d)", in, got, want, bad, len(in))
		}
	}
}

// checkContainsFold compares containsFold with strings.Contains on the
// lower-cased copy, for fixed needles and needles cut from s itself.
func checkContainsFold(t *testing.T, s string) {
	t.Helper()
	needles := []string{"<msxsl:script", "a", "~", "/dev/tcp/", "<%", "ab"}
	if len(s) > 2 {
		needles = append(needles, asciiLower(s[1:len(s)/2+1]), asciiLower(s[len(s)/2:]))
	}
	for _, n := range needles {
		if n == "" || asciiLower(n) != n {
			continue
		}
		if got, want := containsFold(s, n), strings.Contains(asciiLower(s), n); got != want {
			t.Errorf("containsFold(%.60q, %q) = %v, want %v", s, n, got, want)
		}
	}
}

func TestContainsFold(t *testing.T) {
	for _, c := range []struct {
		s, n string
		want bool
	}{
		{"", "a", false}, {"A", "a", true}, {"xx<MSXSL:Script", "<msxsl:script", true},
		{"<msxsl:scrip", "<msxsl:script", false}, {"aAaB", "ab", true}, {"aaa", "ab", false},
		{"\xc9A", "\xe9a", false}, {"~~~", "~~", true}, {"x~", "~~", false},
	} {
		if got := containsFold(c.s, c.n); got != c.want {
			t.Errorf("containsFold(%q, %q) = %v, want %v", c.s, c.n, got, c.want)
		}
		checkContainsFold(t, c.s)
	}
}

// checkScriptFronts checks that analysing a page as each of its candidate
// languages with one shared scriptFronts (what AnalyzeWith does) gives the
// results of separate analyses, each lexing the page afresh.
func checkScriptFronts(t *testing.T, s string) {
	t.Helper()
	low := asciiLower(s)
	var fronts scriptFronts
	defer fronts.release()
	for _, l := range detectLangs(low) {
		if l == "php" {
			continue
		}
		budget := budgetPerToken*len(s) + budgetFloor
		st1, st2 := &state{budget: budget}, &state{budget: budget}
		shared := analyzeScript(s, low, l, st1, &fronts).result()
		alone := analyzeScript(s, low, l, st2, nil).result()
		if !reflect.DeepEqual(shared, alone) || st1.capped != st2.capped || st1.budget != st2.budget {
			t.Errorf("%s analysis of %.60q with shared fronts = %+v, alone %+v", l, s, shared, alone)
		}
	}
}

func TestScriptFrontsShared(t *testing.T) {
	// A JSP page that also reads as ASP.NET (both C-like): one front.
	page := `<%@ page import="java.io.*" %><% String c = request.getParameter("c"); Process p = Runtime.getRuntime().exec(c); System.out.println(Request.Form["x"]); %>`
	langs := detectLangs(asciiLower(page))
	if len(langs) < 2 {
		t.Fatalf("detectLangs = %v, want two or more languages", langs)
	}
	checkScriptFronts(t, page)
	var fronts scriptFronts
	defer fronts.release()
	low := asciiLower(page)
	for _, l := range []string{"jsp", "aspx"} {
		analyzeScript(page, low, l, &state{budget: budgetFloor}, &fronts)
	}
	if len(fronts.list) != 1 {
		t.Errorf("jsp and aspx analyses built %d fronts, want 1", len(fronts.list))
	}
	for _, dir := range []string{"testdata/shells", "testdata/benign"} {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			checkScriptFronts(t, string(b))
		}
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// decodeBase64Ref is decodeBase64 without the fast path for clean input.
func decodeBase64Ref(s string) (string, bool) {
	buf := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if m := base64Clean[s[i]]; m != 0 {
			buf = append(buf, m)
		}
	}
	if len(buf)%4 == 1 {
		buf = buf[:len(buf)-1]
	}
	if len(buf) == 0 {
		return "", false
	}
	out, err := base64.RawStdEncoding.DecodeString(string(buf))
	if err != nil {
		return "", false
	}
	return string(out), true
}

func TestFastPathsMatchReference(t *testing.T) {
	cases := []string{
		"", "=", "==", "a", "ab", "abc", "abcd", "abcde", "c3lzdGVt", "c3lzdGVt==", "c3lzdGVtCg==", "c3lz=dGVt",
		"c3lz-dGVt_", "c3lzd GVt", "ZXZhbCgkX1BPU1RbJ3gnXSk7", "#@~^AAAAAA==", "x#@~^", "#@~", "~^", "#@~^",
		"/bin/sh -i", "nc -e /bin/sh", "x.EXE", "x.Exe", "/dev/tc", "/dev/tcp/1.2.3.4/80",
	}
	for _, s := range cases {
		checkFastPaths(t, s)
	}
}

func checkFastPaths(t *testing.T, s string) {
	t.Helper()
	got, gotOK := decodeBase64(s)
	want, wantOK := decodeBase64Ref(s)
	if got != want || gotOK != wantOK {
		t.Errorf("decodeBase64(%q) = %q, %v; want %q, %v", s, got, gotOK, want, wantOK)
	}
	if got, want := hasScrencMarker(s), strings.Contains(s, "#@~^"); got != want {
		t.Errorf("hasScrencMarker(%q) = %v, want %v", s, got, want)
	}
	if low := asciiLower(s); aspxVB(low) != (strings.Contains(low, "language=\"vb\"") || strings.Contains(low, "language=vb ") || strings.Contains(low, "language=\"vb.net\"")) {
		t.Errorf("aspxVB(%q) = %v", low, aspxVB(low))
	}
	if low := asciiLower(s); aspJScript(low) != aspJScriptRef(low) {
		t.Errorf("aspJScript(%q) = %v, want %v", low, aspJScript(low), aspJScriptRef(low))
	}
	ref := []byte(s)
	for i, c := range ref {
		ref[i] = lowerTable[c]
	}
	if got := asciiLower(s); got != string(ref) {
		t.Errorf("asciiLower(%q) = %q, want %q", s, got, ref)
	}
	if got, want := hasPHPInput(s), strings.Contains(s, "php://input"); got != want {
		t.Errorf("hasPHPInput(%q) = %v, want %v", s, got, want)
	}
	wantShell := strings.Contains(s, "/bin/") || strings.Contains(s, "/dev/tcp") || strings.Contains(s, "nc -e") || strings.Contains(s, ".exe") || strings.Contains(s, ".EXE")
	if got := mayBeShellPayload(s); got != wantShell {
		t.Errorf("mayBeShellPayload(%q) = %v, want %v", s, got, wantShell)
	}
}

// checkPrefilter checks the promise of mayHoldServerCode: when it says no,
// the full language detection finds nothing either.
func checkPrefilter(t *testing.T, s string) {
	t.Helper()
	if mayHoldServerCode(s) {
		return
	}
	low := asciiLower(s)
	if langs := detectLangs(low); len(langs) > 0 || hasUTF7CodePage(low) {
		t.Errorf("mayHoldServerCode(%.60q) = false, but detectLangs = %v, utf7 = %v", s, langs, hasUTF7CodePage(low))
	}
}

func TestPrefilter(t *testing.T) {
	for _, s := range []string{
		"<?php eval($_POST['x']);", "<? system($x) ?>", "<% eval request(\"x\") %>", "<%@ CodePage=65000 %>",
		"<script RUNAT = \"server\">", "<form runat\t=server>", "<JSP:scriptlet>", "<jsp:root xmlns:jsp=\"x\">",
		"jsp:root", "a\nRunat=server",
	} {
		if !mayHoldServerCode(s) {
			t.Errorf("mayHoldServerCode(%q) = false, want true", s)
		}
	}
	for _, s := range []string{"", "plain text", "a < b ? c : d", "x = 1; runat x", "Jsp : no", "<html><body>hi</body></html>"} {
		if mayHoldServerCode(s) {
			t.Errorf("mayHoldServerCode(%q) = true, want false", s)
		}
	}
	skipped := 0
	for _, dir := range []string{"testdata/shells", "testdata/benign"} {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if !mayHoldServerCode(string(b)) {
				skipped++
			}
			checkPrefilter(t, string(b))
		}
	}
	t.Logf("%d fixtures without server-code markers", skipped)
}

// readCappedRef is readCapped as it was before the size hint.
func readCappedRef(r io.Reader) (string, error) {
	var b bytes.Buffer
	n, err := io.Copy(&b, io.LimitReader(r, maxDecoded+1))
	if n > maxDecoded {
		return "", errTooBig
	}
	if err != nil && b.Len() == 0 {
		return "", err
	}
	return b.String(), nil
}

func TestReadCappedMatchesReference(t *testing.T) {
	errBoom := errors.New("boom")
	for _, size := range []int{0, 1, 511, 512, 513, 4096, maxDecoded - 1, maxDecoded, maxDecoded + 1, 2*maxDecoded + 7} {
		data := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
		readers := map[string]func() io.Reader{
			"plain":   func() io.Reader { return bytes.NewReader(data) },
			"onebyte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data)) },
			"dataerr": func() io.Reader { return iotest.DataErrReader(bytes.NewReader(data)) },
			"halferr": func() io.Reader {
				return io.MultiReader(io.LimitReader(bytes.NewReader(data), int64(size/2)), iotest.ErrReader(errBoom))
			},
			"erronly":  func() io.Reader { return iotest.ErrReader(errBoom) },
			"halfread": func() io.Reader { return iotest.HalfReader(bytes.NewReader(data)) },
		}
		for name, mk := range readers {
			if name == "onebyte" && size > 1<<16 {
				continue // slow and adds nothing
			}
			for _, hint := range []int{0, size, 1 << 30} {
				want, wantErr := readCappedRef(mk())
				got, gotErr := readCapped(mk(), hint)
				if got != want || !errors.Is(gotErr, wantErr) && (gotErr == nil) != (wantErr == nil) {
					t.Fatalf("size %d %s hint %d: got (%d bytes, %v), want (%d bytes, %v)", size, name, hint, len(got), gotErr, len(want), wantErr)
				}
			}
		}
	}
}

// TestReadCappedCorruptStreams checks that what a failing decompressor
// yields does not depend on read sizes (the old buffer grew from 512 bytes,
// the new one starts at the hint): truncated and corrupted streams give the
// same prefix either way.
func TestReadCappedCorruptStreams(t *testing.T) {
	src := []byte(strings.Repeat("<?php system($_GET['c']); /* padding padding */ ?>\n", 4000))
	var fb bytes.Buffer
	fw, _ := flate.NewWriter(&fb, flate.DefaultCompression)
	fw.Write(src)
	fw.Close()
	full := fb.Bytes()
	for _, cut := range []int{1, 10, 100, len(full) / 3, len(full) / 2, len(full) - 1} {
		for _, variant := range []string{"truncated", "corrupted"} {
			in := append([]byte(nil), full[:cut]...)
			if variant == "corrupted" {
				in = append([]byte(nil), full...)
				in[cut] ^= 0x5a
			}
			want, wantErr := readCappedRef(flate.NewReader(bytes.NewReader(in)))
			for _, hint := range []int{0, cut, 4 * len(in), maxDecoded} {
				got, gotErr := readCapped(flate.NewReader(bytes.NewReader(in)), hint)
				if got != want || (gotErr == nil) != (wantErr == nil) {
					t.Fatalf("%s at %d, hint %d: got (%d bytes, %v), want (%d bytes, %v)", variant, cut, hint, len(got), gotErr, len(want), wantErr)
				}
			}
		}
	}
}

func TestInflateRoundTrip(t *testing.T) {
	src := strings.Repeat("<?php echo 'hello'; ?>\n", 3000)
	var zb, fb bytes.Buffer
	zw := zlib.NewWriter(&zb)
	zw.Write([]byte(src))
	zw.Close()
	fw, _ := flate.NewWriter(&fb, flate.BestCompression)
	fw.Write([]byte(src))
	fw.Close()
	// Twice each, so the second call runs on a recycled decompressor.
	for range 2 {
		if got, ok := decodeZlib(zb.String()); !ok || got != src {
			t.Fatalf("decodeZlib: ok=%v, %d bytes", ok, len(got))
		}
		if got, ok := decodeInflate(fb.String()); !ok || got != src {
			t.Fatalf("decodeInflate: ok=%v, %d bytes", ok, len(got))
		}
		if _, ok := decodeZlib("not zlib"); ok {
			t.Fatal("decodeZlib accepted garbage")
		}
		if _, ok := decodeInflate("\xff\xff garbage"); ok {
			t.Fatal("decodeInflate accepted garbage")
		}
	}
}

// aspJScriptRef is aspJScript as first written: one scan per pattern.
func aspJScriptRef(low string) bool {
	for _, pat := range aspJScriptPatterns {
		for i := 0; ; {
			j := strings.Index(low[i:], pat)
			if j < 0 {
				break
			}
			at := i + j
			i = at + len(pat)
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
	return false
}

// checkBrackets compares the bracket pairing of PHP and script tokens with
// pairBracketsRef.
func checkBrackets(t *testing.T, s string) {
	t.Helper()
	pt := lexPHP(s, true, nil)
	want := pairBracketsRef(len(pt), func(i int) string {
		if pt[i].k != tOp {
			return ""
		}
		return pt[i].s
	})
	if got := matchBrackets(pt); !slices.Equal(got, want) {
		t.Errorf("matchBrackets(lexPHP(%q)) = %v, want %v", s, got, want)
	}
	for _, vb := range []bool{false, true} {
		st := lexScript(s, vb, nil)
		want := pairBracketsRef(len(st), func(i int) string {
			if st[i].k != tOp {
				return ""
			}
			return st[i].s
		})
		if got := matchScript(st, nil); !slices.Equal(got, want) {
			t.Errorf("matchScript(lexScript(%q, %v)) = %v, want %v", s, vb, got, want)
		}
	}
}

// pairBracketsRef is bracket pairing as first written: opAt gives each
// token's operator text ("" for other tokens).
func pairBracketsRef(n int, opAt func(i int) string) []int {
	m := make([]int, n)
	var stack []int
	for i := range m {
		m[i] = -1
		switch op := opAt(i); op {
		case "(", "[", "{":
			stack = append(stack, i)
		case ")", "]", "}":
			open := "{"
			switch op {
			case ")":
				open = "("
			case "]":
				open = "["
			}
			for len(stack) > 0 {
				j := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				if opAt(j) == open {
					m[i], m[j] = j, i
					break
				}
			}
		}
	}
	return m
}

// checkLexStrings compares the string literal lexers with their first
// versions, from each of the first bytes of s.
func checkLexStrings(t *testing.T, s string) {
	t.Helper()
	for i := 0; i < min(len(s), 8); i++ {
		v, j := lexSingle(s, i)
		wv, wj := lexSingleRef(s, i)
		if v != wv || j != wj {
			t.Errorf("lexSingle(%q, %d) = %q, %d; want %q, %d", s, i, v, j, wv, wj)
		}
		for _, q := range []byte{'"', '`', 0, '\''} {
			v, vars, interp, j := lexDouble(s, i, q)
			wv, wvars, winterp, wj := lexDoubleRef(s, i, q)
			if v != wv || !reflect.DeepEqual(vars, wvars) || interp != winterp || j != wj {
				t.Errorf("lexDouble(%q, %d, %q) = %q, %q, %v, %d; want %q, %q, %v, %d", s, i, q, v, vars, interp, j, wv, wvars, winterp, wj)
			}
		}
	}
}

func lexSingleRef(src string, i int) (string, int) {
	if j := strings.IndexAny(src[i:], "'\\"); j >= 0 && src[i+j] == '\'' {
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

func lexDoubleRef(src string, i int, q byte) (string, []string, bool, int) {
	for j := i; j < len(src); j++ {
		c := src[j]
		if c == q {
			return src[i:j], nil, false, j + 1
		}
		if c == '\\' || c == '$' || c == '{' {
			break
		}
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
		b.WriteByte(c)
		i++
	}
	return b.String(), vars, interp, i
}

func TestScrencMarkerManyTildes(t *testing.T) {
	for _, s := range []string{
		strings.Repeat("~", 100) + "#@~^", strings.Repeat("~x", 100) + "#@~", strings.Repeat("a~", 63) + "#@~^",
		strings.Repeat("a~", 64) + "#@~^", strings.Repeat("a~", 65) + "@~^", "#@" + strings.Repeat("~", 70) + "^",
		strings.Repeat("~", 63) + "#@~^",
	} {
		if got, want := hasScrencMarker(s), strings.Contains(s, "#@~^"); got != want {
			t.Errorf("hasScrencMarker(%q) = %v, want %v", s, got, want)
		}
	}
}
