package yara

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
)

func mustCompile(t *testing.T, src string) *Rules {
	t.Helper()
	r, _, err := Compile(CompileOptions{}, Source{Name: "test.yar", Data: []byte(src)})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return r
}

func matchedRules(t *testing.T, r *Rules, data string) []string {
	t.Helper()
	ms, err := r.Scan([]byte(data), ScanOptions{})
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	var names []string
	for _, m := range ms {
		names = append(names, m.Rule)
	}
	return names
}

func TestFeatures(t *testing.T) {
	wide := func(s string) string { return string(widen([]byte(s))) }
	xor := func(s string, k byte) string { return string(xorBytes(s, k)) }
	tests := []struct {
		name string
		rule string // condition or full rule when it starts with "rule"/"import"
		data string
		want bool
	}{
		{"text_plain", `rule r { strings: $a = "abc" condition: $a }`, "xxabcxx", true},
		{"text_absent", `rule r { strings: $a = "abc" condition: $a }`, "xxabxcx", false},
		{"text_escapes", `rule r { strings: $a = "a\tb\"c\\d\x41\n" condition: $a }`, "a\tb\"c\\dA\n", true},
		{"nocase", `rule r { strings: $a = "AbC" nocase condition: $a }`, "xaBcx", true},
		{"nocase_not_latin1", `rule r { strings: $a = "\xe9" nocase condition: $a }`, "\xc9", false},
		{"case_sensitive", `rule r { strings: $a = "AbC" condition: $a }`, "xaBcx", false},
		{"wide", `rule r { strings: $a = "ab" wide condition: $a }`, wide("ab"), true},
		{"wide_only_not_ascii", `rule r { strings: $a = "ab" wide condition: $a }`, "ab", false},
		{"wide_ascii", `rule r { strings: $a = "ab" wide ascii condition: #a == 2 }`, "ab " + wide("ab"), true},
		{"fullword_hit", `rule r { strings: $a = "cat" fullword condition: $a }`, "a cat.", true},
		{"fullword_miss", `rule r { strings: $a = "cat" fullword condition: $a }`, "concatenate cats", false},
		{"xor_key", `rule r { strings: $a = "payload" xor condition: $a }`, xor("payload", 0x5a), true},
		{"xor_range_miss", `rule r { strings: $a = "payload" xor(1-3) condition: $a }`, xor("payload", 0x5a), false},
		{"xor_range_hit", `rule r { strings: $a = "payload" xor(0x50-0x60) condition: $a }`, xor("payload", 0x5a), true},
		{"base64", `rule r { strings: $a = "hello world" base64 condition: $a }`, "x aGVsbG8gd29ybGQ= y", true},
		{"base64_offset1", `rule r { strings: $a = "hello world" base64 condition: $a }`, "eGhlbGxvIHdvcmxk", true},
		{"base64wide", `rule r { strings: $a = "hello world" base64wide condition: $a }`, wide("aGVsbG8gd29ybGQ="), true},
		{"hex_plain", `rule r { strings: $a = { 41 42 43 } condition: $a }`, "zABCz", true},
		{"hex_wildcard", `rule r { strings: $a = { 41 ?? 43 } condition: $a }`, "zA\xffCz", true},
		{"hex_nibble_low", `rule r { strings: $a = { 41 ?2 } condition: $a }`, "A\xf2", true},
		{"hex_nibble_high", `rule r { strings: $a = { 41 F? } condition: $a }`, "A\xe2", false},
		{"hex_jump", `rule r { strings: $a = { 41 [2-3] 44 } condition: $a }`, "Axx D AxxxD", true},
		{"hex_jump_too_far", `rule r { strings: $a = { 41 [2-3] 44 } condition: $a }`, "AxxxxD", false},
		{"hex_jump_unbounded", `rule r { strings: $a = { 41 [-] 44 } condition: !a == 8 }`, "A123456D D", true},
		{"hex_alternative", `rule r { strings: $a = { 41 ( 42 | 43 ?? ) 44 } condition: #a == 2 }`, "ABD ACxD AxD", true},
		{"regex_basic", `rule r { strings: $a = /ab+c/ condition: !a == 5 }`, "abbbc", true},
		{"regex_i", `rule r { strings: $a = /ab+c/i condition: $a }`, "ABBC", true},
		{"regex_dot_newline", `rule r { strings: $a = /a.b/ condition: $a }`, "a\nb", false},
		{"regex_dot_s", `rule r { strings: $a = /a.b/s condition: $a }`, "a\nb", true},
		{"regex_binary_byte", `rule r { strings: $a = /\xe9[\x80-\xff]/ condition: $a }`, "\xe9\xa0", true},
		{"regex_no_utf8_folding", `rule r { strings: $a = /\xe9/i condition: $a }`, "\xc9", false},
		{"regex_word_boundary", `rule r { strings: $a = /\bcat\b/ condition: #a == 1 }`, "cat concat", true},
		{"regex_all_offsets", `rule r { strings: $a = /a+/ condition: #a == 3 and !a[1] == 3 and !a[3] == 1 }`, "aaa", true},
		{"regex_wide", `rule r { strings: $a = /ab[0-9]/ wide condition: $a }`, wide("ab7"), true},
		{"regex_scan_limit_4096", `rule r { strings: $a = /ba+/ condition: !a[1] == 4096 }`, "b" + strings.Repeat("a", 5000), true},
		{"hex_jump_retry", `rule r { strings: $a = { 41 [1-] 42 43 } condition: #a == 1 and !a[1] == 6 }`, "AxBxBC", true},
		{"hex_jump_bounded_miss", `rule r { strings: $a = { 41 [1-2] 42 43 } condition: $a }`, "AxBxBC", false},
		{"hex_jump_lazy", `rule r { strings: $a = { 61 [1-4] 62 } condition: !a[1] == 3 }`, "axbxb", true},
		{"regex_anchor", `rule r { strings: $a = /^ab/ condition: #a == 1 }`, "abab", true},
		{"count_at_offset", `rule r { strings: $a = "b" condition: #a == 2 and @a[2] == 3 and $a at 1 and $a in (2..3) }`, "ab b", true},
		{"count_in_range", `rule r { strings: $a = "b" condition: #a in (2..10) == 1 }`, "ab b", true},
		{"of_them", `rule r { strings: $a = "x" $b = "y" $c = "z" condition: 2 of them }`, "xz", true},
		{"of_pct", `rule r { strings: $a = "x" $b = "y" $c = "z" $d = "w" condition: 75% of them }`, "xz", false},
		{"of_wildcard", `rule r { strings: $s1 = "x" $s2 = "y" $t = "z" condition: all of ($s*) and not $t }`, "xy", true},
		{"none_of", `rule r { strings: $a = "x" $b = "y" condition: none of them }`, "abc", true},
		{"of_in_range", `rule r { strings: $a = "x" $b = "y" condition: any of them in (0..1) }`, "..xy", false},
		{"for_of", `rule r { strings: $a = "x" $b = "y" condition: for all of them : ( # == 1 and @ > 0 ) }`, ".xy", true},
		{"for_in_range", `rule r { strings: $a = "x" condition: for all i in (1..#a) : ( @a[i] % 2 == 0 ) }`, "x.x.x", true},
		{"for_in_list", `rule r { condition: for any v in (1, 5, 9) : ( v * 2 == 10 ) }`, "", true},
		{"for_nested", `rule r { condition: for 2 i in (1..3) : ( for any j in (1..3) : ( i * j == 6 ) ) }`, "", true},
		{"arith_bitwise", `rule r { condition: (7 & 3) | 8 == 11 and 1 << 3 == 8 and -8 >> 1 == -4 and ~5 == -6 and 7 \ 2 == 3 and 7 % 4 == 3 }`, "", true},
		{"int_funcs", `rule r { condition: uint16(0) == 0x4241 and uint16be(0) == 0x4142 and int8(2) == -1 and uint32(0) == 0x43ff4241 and not defined uint32(1) }`, "AB\xffC", true},
		{"int_out_of_range", `rule r { condition: uint32(2) == 0 }`, "AB\xff", false},
		{"filesize_units", `rule r { condition: filesize == 2 and 1KB == 1024 and 1MB == 1048576 }`, "ab", true},
		{"string_ops", `rule r { condition: "Hello" icontains "ELL" and "abc" startswith "ab" and "ABC" iendswith "bc" and "x" iequals "X" and "abc" matches /b/ }`, "", true},
		{"rule_reference", "rule a { condition: filesize > 1 }\nrule r { condition: a }", "ab", true},
		{"rule_set", "rule a1 { condition: true }\nrule a2 { condition: false }\nrule r { condition: 1 of (a*) and not all of (a*) }", "", true},
		{"global_rule_blocks", "global rule g { condition: filesize > 100 }\nrule r { condition: true }", "ab", false},
		{"math", `import "math" rule r { condition: math.entropy("abab") == 1.0 and math.mean(0, 2) == 65.5 and math.max(1, 2) == 2 }`, "AB", true},
		{"hash", `import "hash" rule r { condition: hash.sha256(0, filesize) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" and hash.crc32("abc") == 0x352441c2 }`, "abc", true},
		{"elf_not_elf", `import "elf" rule r { condition: not defined elf.type }`, "abc", true},
		{"defined", `rule r { strings: $a = "x" condition: not defined @a[1] }`, "abc", true},
		{"undefined_is_false", `rule r { condition: uint8(100) == 0 or uint8(100) != 0 }`, "abc", false},
		{"comments", "rule r { /* block\n comment */ condition: // line\n true }", "", true},
		{"meta_and_tags", `rule r : t1 t2 { meta: s = "x" i = -4 b = true condition: true }`, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mustCompile(t, tc.rule)
			got := false
			for _, name := range matchedRules(t, r, tc.data) {
				got = got || name == "r"
			}
			if got != tc.want {
				t.Errorf("rule %s on %q: matched=%v, want %v", tc.rule, tc.data, got, tc.want)
			}
		})
	}
}

func TestMatchDetails(t *testing.T) {
	r := mustCompile(t, `rule r : t1 t2 { meta: author = "me" score = 7 ok = true
		strings: $a = "ab" $p = "cd" private $h = { 61 62 63 }
		condition: all of them }`)
	ms, err := r.Scan([]byte("abcd abc"), ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Match{{
		Rule: "r", Namespace: "default", Tags: []string{"t1", "t2"},
		Meta: map[string]any{"author": "me", "score": int64(7), "ok": true},
		Strings: []StringMatch{
			{ID: "$a", Offset: 0, Data: []byte("ab")},
			{ID: "$a", Offset: 5, Data: []byte("ab")},
			{ID: "$h", Offset: 0, Data: []byte("abc")},
			{ID: "$h", Offset: 5, Data: []byte("abc")},
		},
	}}
	if diff := cmp.Diff(want, ms); diff != "" {
		t.Errorf("matches (-want +got):\n%s", diff)
	}
}

func TestMatchDataTruncatedAndCapped(t *testing.T) {
	r := mustCompile(t, `rule r { strings: $a = /a{100}/ $b = "b" condition: $a or $b }`)
	ms, err := r.Scan([]byte(strings.Repeat("a", 100)+strings.Repeat("b", 50)), ScanOptions{MaxMatchesPerString: 10})
	if err != nil {
		t.Fatal(err)
	}
	var na, nb int
	for _, s := range ms[0].Strings {
		switch s.ID {
		case "$a":
			na++
			if len(s.Data) != MaxMatchData {
				t.Errorf("match data is %d bytes, want %d", len(s.Data), MaxMatchData)
			}
		case "$b":
			nb++
		}
	}
	if na != 1 || nb != 10 {
		t.Errorf("got %d $a and %d $b matches, want 1 and 10 (capped)", na, nb)
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"syntax", "rule r {\n condition: (true\n}", "test.yar:3:1: rule \"r\": expected \")\""},
		{"undefined_string", "rule r { condition: $a }", `undefined string identifier "$a"`},
		{"unreferenced_string", "rule r { strings: $a = \"x\" condition: true }", `unreferenced string "$a"`},
		{"duplicate_rule", "rule r { condition: true }\nrule r { condition: true }", `test.yar:2:6: duplicated rule identifier "r"`},
		{"duplicate_string", `rule r { strings: $a = "x" $a = "y" condition: $a }`, `duplicated string identifier "$a"`},
		{"unterminated_string", "rule r { strings: $a = \"abc\n condition: $a }", "test.yar:1:24: unterminated string"},
		{"bad_hex", `rule r { strings: $a = { 4G } condition: $a }`, `invalid hex digit`},
		{"hex_starts_with_jump", `rule r { strings: $a = { [2] 41 } condition: $a }`, `cannot start or end with a jump`},
		{"bad_regex", `rule r { strings: $a = /ab(c/ condition: $a }`, `missing )`},
		{"regex_repeat_limit", `rule r { strings: $a = /a{2000}/ condition: $a }`, `limit is 1000`},
		{"unknown_module", `import "pe" rule r { condition: pe.is_dll() }`, `module pe is not supported`},
		{"module_not_imported", `rule r { condition: math.entropy(0, 1) > 1 }`, `undefined identifier "math"`},
		{"bad_module_field", `import "elf" rule r { condition: elf.nope == 1 }`, `elf.nope: unknown field`},
		{"type_mismatch", `rule r { condition: "a" == 1 }`, `type mismatch`},
		{"string_op_on_int", `rule r { condition: 1 contains 2 }`, `needs string operands`},
		{"include_disabled", `include "other.yar"`, `includes are disabled`},
		{"bad_modifier", `rule r { strings: $a = { 41 } nocase condition: $a }`, `modifier nocase is not allowed here`},
		{"xor_nocase", `rule r { strings: $a = "x" xor nocase condition: $a }`, `xor and nocase`},
		{"base64_alphabet", `rule r { strings: $a = "x" base64("abc") condition: $a }`, `64 bytes`},
		{"dollar_outside_for", `rule r { strings: $a = "x" condition: $a and $ }`, `outside of a for`},
		{"deep_nesting", "rule r { condition: " + strings.Repeat("(", 500) + "true" + strings.Repeat(")", 500) + " }", `nested too deep`},
		{"tilde_hex", `rule r { strings: $a = { 41 ~42 } condition: $a }`, `~ operator is not supported`},
		{"empty_string", `rule r { strings: $a = "" condition: $a }`, `empty string`},
		{"number_too_large", `rule r { condition: 99999999999999999999 > 1 }`, `too large number`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Compile(CompileOptions{}, Source{Name: "test.yar", Data: []byte(tc.src)})
			if err == nil {
				t.Fatalf("compile succeeded, want error containing %q", tc.want)
			}
			var ce *CompileError
			if !errors.As(err, &ce) || ce.Line < 1 {
				t.Errorf("error %v is not a *CompileError with a line", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestSkipUnsupported(t *testing.T) {
	src := `import "pe"
import "math"
rule uses_pe { condition: pe.number_of_sections > 2 }
rule depends_on_pe { condition: uses_pe }
rule elf_iter { condition: true }
rule fine { strings: $a = "x" condition: $a and math.entropy(0, filesize) >= 0 }
rule uses_pe_strings { strings: $a = "y" condition: $a and pe.is_dll() }`
	r, warns, err := Compile(CompileOptions{SkipUnsupported: true}, Source{Name: "s.yar", Data: []byte(src)})
	if err != nil {
		t.Fatal(err)
	}
	if r.Len() != 2 {
		t.Errorf("Len = %d, want 2 (elf_iter and fine)", r.Len())
	}
	var msgs []string
	for _, w := range warns {
		msgs = append(msgs, w.String())
	}
	want := []string{
		"s.yar:1: module pe is not supported; rules using it are skipped",
		`s.yar:3: rule "uses_pe": rule skipped: module pe is not supported`,
		`s.yar:4: rule "depends_on_pe": rule skipped: uses skipped rule uses_pe`,
		`s.yar:7: rule "uses_pe_strings": rule skipped: module pe is not supported`,
	}
	var got []string
	for _, m := range msgs {
		if !strings.Contains(m, "slow down") {
			got = append(got, m)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"elf_iter", "fine"}, matchedRules(t, r, "xy")); diff != "" {
		t.Errorf("matches (-want +got):\n%s", diff)
	}
}

func TestIncludes(t *testing.T) {
	fsys := fstest.MapFS{
		"rules/main.yar":        {Data: []byte(`include "common/base.yar" rule top { condition: base }`)},
		"rules/common/base.yar": {Data: []byte(`rule base { strings: $a = "x" condition: $a }`)},
		"rules/bad.yar":         {Data: []byte(`include "missing.yar"`)},
	}
	main, _ := fsys.ReadFile("rules/main.yar")
	r, _, err := Compile(CompileOptions{IncludeFS: fsys}, Source{Name: "rules/main.yar", Data: main})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"base", "top"}, matchedRules(t, r, "x")); diff != "" {
		t.Errorf("matches (-want +got):\n%s", diff)
	}
	bad, _ := fsys.ReadFile("rules/bad.yar")
	_, _, err = Compile(CompileOptions{IncludeFS: fsys}, Source{Name: "rules/bad.yar", Data: bad})
	if err == nil || !strings.Contains(err.Error(), `rules/bad.yar:1:9: include "missing.yar"`) {
		t.Errorf("got error %v, want include failure with location", err)
	}
}

func TestMultipleSources(t *testing.T) {
	r, _, err := Compile(CompileOptions{},
		Source{Name: "a.yar", Data: []byte(`import "math" rule a { condition: math.max(1, 2) == 2 }`)},
		Source{Name: "b.yar", Data: []byte(`rule b { condition: a }`)})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "b"}, matchedRules(t, r, "")); diff != "" {
		t.Errorf("matches (-want +got):\n%s", diff)
	}
	// Imports are per source, as in yara.
	_, _, err = Compile(CompileOptions{},
		Source{Name: "a.yar", Data: []byte(`import "math" rule a { condition: true }`)},
		Source{Name: "b.yar", Data: []byte(`rule b { condition: math.max(1, 2) == 2 }`)})
	if err == nil || !strings.HasPrefix(err.Error(), "b.yar:1:") {
		t.Errorf("got %v, want an error in b.yar", err)
	}
}

func TestTimeout(t *testing.T) {
	r := mustCompile(t, `rule r { condition: for all i in (0..9223372036854775806) : ( i >= 0 ) }`)
	start := time.Now()
	_, err := r.Scan([]byte("abc"), ScanOptions{Timeout: 50 * time.Millisecond})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("got %v, want ErrTimeout", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("scan ran %v past its timeout", time.Since(start))
	}
}

func TestConcurrentScans(t *testing.T) {
	r := mustCompile(t, `import "elf" rule r { strings: $a = /ab+c/ $b = "xyz" nocase condition: $a and #b == 1 and not defined elf.type }`)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			data := []byte(fmt.Sprintf("%d abbc XyZ", i))
			ms, err := r.Scan(data, ScanOptions{})
			if err != nil || len(ms) != 1 {
				errs <- fmt.Errorf("scan %d: %v, %d matches", i, err, len(ms))
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestSlowStringWarning(t *testing.T) {
	_, warns, err := Compile(CompileOptions{}, Source{Name: "w.yar", Data: []byte(`rule r { strings: $a = /[a-z]+x/ condition: $a }`)})
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 1 || !strings.Contains(warns[0].Msg, "may slow down scanning") || warns[0].Line != 1 {
		t.Errorf("warnings = %v, want one slow string warning", warns)
	}
}
