package webshell

import (
	"strconv"
	"strings"
	"testing"
)

// Fourth pass on PHP (issue #5). The shells are listed in
// TestAnalyzeShells; these are their benign counterparts, held to a low
// score, not only below the threshold.
func TestPHPPass4Benign(t *testing.T) {
	for _, f := range []string{"perl_short_tag_regex.pl", "php_fixed_feed_cache.php", "php_socket_client.php", "php_included_template.php", "php_spellcheck_pipe.php", "php_define_fixed_db.php", "php_installer_config.php", "php_closure_use.php"} {
		t.Run(f, func(t *testing.T) {
			r := Analyze(readFixture(t, "benign/"+f))
			if r.Webshell() || r.Score > 0.3 {
				t.Errorf("score %.2f rule %s\n%s", r.Score, r.Rule, strings.Join(r.Evidence, "\n"))
			}
		})
	}
	// The Perl file's "<?" is in a regular expression: nothing is PHP.
	if r := Analyze(readFixture(t, "benign/perl_short_tag_regex.pl")); r.Lang != "" || len(r.Evidence) == 0 {
		t.Errorf("Perl file judged as %q (%v)", r.Lang, r.Evidence)
	}
}

func TestPHPDominates(t *testing.T) {
	perl := "<?\nsub a { my $x = 1; }\nsub b { my $y; }\nif ($x) { } elsif ($y) { }\n"
	tests := []struct {
		src  string
		want bool
	}{
		{perl, false},
		// A full open tag settles it, whatever the code holds.
		{"<?php\n" + perl, true},
		{"<?= 1 ?>" + perl, true},
		// Short-tag PHP without Perl keywords.
		{"<? if ($a) { unlink($b); } ?>", true},
		// A few Perl-looking words are not enough.
		{"<? $my = 1; my_func(); function sub($x) {} ?>", true},
	}
	for _, tt := range tests {
		a := &phpAn{src: tt.src}
		a.toks = lexPHP(tt.src, false, nil)
		a.match = matchBrackets(a.toks)
		if got := a.phpDominates(); got != tt.want {
			t.Errorf("phpDominates(%q) = %v, want %v", tt.src, got, tt.want)
		}
	}
}

func TestConstEvalPass4(t *testing.T) {
	tests := []struct{ src, want string }{
		// pack('c*', ...) with hex and decimal numbers.
		{`<?php $x = pack('c*', 0x70, 0x61, 99, 107);`, "pack"},
		// Elements of constant arrays, and $GLOBALS['k'] as the global $k.
		{`<?php $a = array('k' => 'sys', 'tem'); $x = $a['k'] . $a[0];`, "system"},
		{`<?php $GLOBALS['t'] = 'abc'; $x = $GLOBALS['t'][2] . $t[0];`, "ca"},
		{`<?php $GLOBALS = array('p' => 'as'); $x = $GLOBALS['p'] . 'sert';`, "assert"},
		{`<?php $a['k'] = 'ev'; $a['j'] = 'al'; $x = $a['k'] . $a['j'];`, "eval"},
	}
	for _, tt := range tests {
		st := &state{budget: budgetFloor}
		a := &phpAn{src: tt.src, sc: newScorer("php"), funcs: map[string]*phpFunc{}, props: map[string]uint64{}, st: st}
		a.toks = lexPHP(tt.src, false, nil)
		a.match = matchBrackets(a.toks)
		a.caps.sockVars = map[string]bool{}
		a.caps.weakFiles = map[string]bool{}
		a.assigned = map[string]bool{}
		sc := newScope(nil)
		a.run(sc, 0, len(a.toks), true)
		if got := sc.val["x"]; got.s != tt.want {
			t.Errorf("%s: $x = %q, want %q", tt.src, got.s, tt.want)
		}
	}
}

func TestConstWordsAndEnds(t *testing.T) {
	src := `<?php foreach (explode(" ", "c  d e") as $v) {} foreach (array('p', 'q') as $w) {} $r = "/" . $m . "/i" . "e";`
	a := &phpAn{src: src, sc: newScorer("php"), st: &state{budget: budgetFloor}}
	a.toks = lexPHP(src, false, nil)
	a.match = matchBrackets(a.toks)
	a.caps.sockVars = map[string]bool{}
	a.caps.weakFiles = map[string]bool{}
	a.assigned = map[string]bool{}
	sc := newScope(nil)
	a.run(sc, 0, len(a.toks), true)
	if got := strings.Join(sc.words["v"], ","); got != "c,d,e" {
		t.Errorf("words of $v = %q", got)
	}
	if got := strings.Join(sc.words["w"], ","); got != "p,q" {
		t.Errorf("words of $w = %q", got)
	}
	// The pattern's fixed ends around the variable body.
	for k, tk := range a.toks {
		if tk.k == tVar && tk.s == "r" {
			e := a.exprEnd(k+2, len(a.toks))
			pre, suf, ok := a.constEnds(sc, k+2, e)
			if !ok || pre != "/" || suf != "/ie" || !pregHasE(pre+"x"+suf) {
				t.Errorf("constEnds = %q, %q, %v", pre, suf, ok)
			}
		}
	}
}

// TestManyDistinctNames feeds many distinct variable-variable reads,
// globals-table assignments and callback calls: each name is resolved
// from per-file indexes, not by rescanning the file.
func TestManyDistinctNames(t *testing.T) {
	var b strings.Builder
	b.WriteString("<?php\nfunction cb($v, $k) { $f = $k . $v; $f($_POST['x']); }\n")
	for i := range 20000 {
		b.WriteString("$m" + itoa(i) + " .= 'x'; $y = $$m" + itoa(i) + "; $GLOBALS['g" + itoa(i) + "'] = pack('c*', 1, 2);\n")
		b.WriteString("array_walk($a" + itoa(i) + ", 'cb');\n")
	}
	r := Analyze([]byte(b.String()))
	if r.Lang != "php" || r.Webshell() {
		t.Errorf("got %+v", r)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
