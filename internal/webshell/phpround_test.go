package webshell

import (
	"io/fs"
	"path/filepath"
	"reflect"
	"testing"
)

// TestRoundSkip checks that skipping a settled summary round changes no
// result: every fixture is analysed with and without the skip.
func TestRoundSkip(t *testing.T) {
	defer func() { noRoundSkip = false }()
	n := 0
	err := filepath.WalkDir("testdata", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || filepath.Base(filepath.Dir(p)) == "fuzz" {
			return err
		}
		b := readFixture(t, p[len("testdata/"):])
		noRoundSkip = false
		fast := Analyze(b)
		noRoundSkip = true
		slow := Analyze(b)
		if !reflect.DeepEqual(fast, slow) {
			t.Errorf("%s: with round skip %+v, without %+v", p, fast, slow)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 50 {
		t.Fatalf("only %d fixtures", n)
	}
}

// TestRoundSkipTaken checks that the round confirming settled summaries is
// skipped, and only that one.
func TestRoundSkipTaken(t *testing.T) {
	defer func() { noRoundSkip = false }()
	tests := []struct {
		src                   string
		rounds, skipped, slow int // slow: rounds without the skip
	}{
		// run() only reads its own parameter: its summary is final after
		// the first round.
		{`<?php function run($c) { system($c); } run($_GET['c']);`, 1, 1, 2},
		// outer() calls inner() before inner() is summarised in the first
		// round: the second round is needed, the third is not.
		{`<?php function outer($c) { inner($c); } function inner($x) { system($x); } outer($_GET['c']);`, 2, 1, 3},
		// No function summary changes at all: one round, nothing to skip.
		{`<?php function f($x) { return 1; } echo f(2);`, 1, 0, 1},
	}
	for _, tt := range tests {
		for _, skip := range []bool{true, false} {
			noRoundSkip = !skip
			st := &state{budget: budgetPerToken*len(tt.src) + budgetFloor}
			analyzePHP(tt.src, false, st)
			want := [2]int{tt.rounds, tt.skipped}
			if !skip {
				want = [2]int{tt.slow, 0}
			}
			if got := [2]int{st.rounds, st.roundsSkipped}; got != want {
				t.Errorf("%s (skip %v): rounds, skipped = %v, want %v", tt.src, skip, got, want)
			}
		}
	}
}
