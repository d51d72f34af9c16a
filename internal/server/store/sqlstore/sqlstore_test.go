package sqlstore

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/severity"
)

func TestSplitStatements(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
		err      string
	}{
		{"plain", "CREATE TABLE a (x INT);\nCREATE INDEX i ON a (x);", []string{"CREATE TABLE a (x INT)", "CREATE INDEX i ON a (x)"}, ""},
		{"no_final_semicolon", "SELECT 1", []string{"SELECT 1"}, ""},
		{"line_comment", "-- a; comment\nSELECT 1; -- trailing; too\n", []string{"SELECT 1"}, ""},
		{"block_comment", "SELECT /* ; */ 1;", []string{"SELECT   1"}, ""},
		{"quoted_semicolon", "INSERT INTO t VALUES ('a;b', 'it''s;');", []string{"INSERT INTO t VALUES ('a;b', 'it''s;')"}, ""},
		{"quoted_identifier", `CREATE TABLE "a;b" (x INT);`, []string{`CREATE TABLE "a;b" (x INT)`}, ""},
		{"comment_marker_in_quotes", "SELECT '--not a comment';", []string{"SELECT '--not a comment'"}, ""},
		{"empty_statements", ";;\n;", nil, ""},
		{"unterminated_quote", "SELECT 'abc;", nil, "line 1: unterminated ' quote"},
		{"unterminated_comment", "\nSELECT /* abc", nil, "line 2: unterminated /* comment"},
		{"dollar", "\n\nCREATE FUNCTION f() AS $$ x $$;", nil, "line 3: '$'"},
		{"nul", "SELECT 1\x00;", nil, "line 1: NUL byte"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SplitStatements(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Fatalf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestLoadMigrations(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []int
		err   string
	}{
		{"ordered", map[string]string{"m/0002_b.sql": "SELECT 2", "m/0001_a.sql": "SELECT 1"}, []int{1, 2}, ""},
		{"gap", map[string]string{"m/0001_a.sql": "SELECT 1", "m/0003_c.sql": "SELECT 3"}, nil, "want version 2"},
		{"zero", map[string]string{"m/0000_a.sql": "SELECT 1"}, nil, "versions start at 0001"},
		{"bad_name", map[string]string{"m/1_a.sql": "SELECT 1"}, nil, "want NNNN_name.sql"},
		{"bad_sql", map[string]string{"m/0001_a.sql": "SELECT 'x"}, nil, "migration 0001_a.sql: line 1"},
		{"missing_dir", map[string]string{}, nil, "read migrations"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for n, b := range tc.files {
				fsys[n] = &fstest.MapFile{Data: []byte(b)}
			}
			ms, err := LoadMigrations(fsys, "m")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, m := range ms {
				got = append(got, m.Version)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Fatalf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestRebind(t *testing.T) {
	d := Dialect{Dollar: true}
	if got := d.Rebind("a = ? AND (b, c) < (?, ?)"); got != "a = $1 AND (b, c) < ($2, $3)" {
		t.Fatalf("rebind: %q", got)
	}
	if got := (Dialect{}).Rebind("a = ?"); got != "a = ?" {
		t.Fatalf("rebind without dollar: %q", got)
	}
}

func TestCursor(t *testing.T) {
	c := Cursor{Kind: "hosts.name", T: "h'; DROP", ID: "x"}
	got, err := DecodeCursor(c.Encode(), "hosts.name")
	if err != nil {
		t.Fatal(err)
	}
	if got != c {
		t.Fatalf("round trip %+v, want %+v", got, c)
	}
	for _, bad := range []string{"%%%", "e30", c.Encode() + "x", strings.Repeat("A", 5000)} {
		if _, err := DecodeCursor(bad, "hosts.name"); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("cursor %.20q: %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := DecodeCursor(c.Encode(), "alerts"); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("cursor of another kind: %v", err)
	}
}

func TestCheckTime(t *testing.T) {
	var c check
	if n := c.time("t", time.Time{}); n != 0 || c.err != nil {
		t.Fatalf("zero time: %d %v", n, c.err)
	}
	if n := c.time("t", time.Unix(0, 0)); n != 1 || c.err != nil {
		t.Fatalf("epoch: %d %v", n, c.err)
	}
	c.time("t", time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC))
	if !errors.Is(c.err, store.ErrInvalid) {
		t.Fatalf("year 2300: %v", c.err)
	}
}

func FuzzSplitStatements(f *testing.F) {
	for _, s := range []string{"CREATE TABLE a (x INT); SELECT 'a;b';", "-- c\n/* d */ SELECT \"q\"\"q\";", "SELECT 'x", "/*", "$$"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		stmts, err := SplitStatements(src)
		if err != nil {
			return
		}
		for _, s := range stmts {
			if s == "" || strings.TrimSpace(s) != s {
				t.Fatalf("statement %q not trimmed or empty", s)
			}
		}
		// Splitting the joined statements again gives the same statements.
		again, err := SplitStatements(strings.Join(stmts, ";\n"))
		if err != nil {
			t.Fatalf("re-split: %v", err)
		}
		if d := cmp.Diff(stmts, again); d != "" {
			t.Fatalf("re-split differs (-first +second):\n%s", d)
		}
	})
}

func FuzzParseMigrationName(f *testing.F) {
	for _, s := range []string{"0001_init.sql", "0000_x.sql", "9999_a_b.sql", "1_x.sql", "0001_.sql"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		v, n, err := ParseMigrationName(name)
		if err != nil {
			return
		}
		if v < 1 || v > 9999 || n == "" {
			t.Fatalf("%q: version %d name %q", name, v, n)
		}
	})
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add(Cursor{Kind: "alerts", N: 5, ID: "a"}.Encode())
	f.Add(Cursor{Kind: "alerts", T: "\x00", ID: "\xff"}.Encode())
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := DecodeCursor(s, "alerts")
		if err != nil {
			if !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		back, err := DecodeCursor(c.Encode(), "alerts")
		if err != nil || back != c {
			t.Fatalf("re-encode: %+v %v, want %+v", back, err, c)
		}
	})
}

func FuzzDecodeAlert(f *testing.F) {
	a := alert.Alert{ID: "a1", Time: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), Rule: alert.Rule{ID: "r", Title: "t"},
		Severity: severity.High, Attack: alert.Attack{Tactics: []string{"TA0002"}}, Evidence: map[string]any{"k": "v"}}
	b, _ := json.Marshal(a)
	f.Add(b)
	f.Add([]byte(`{"severity":"bogus"}`))
	f.Add([]byte(`{"time":"yesterday"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := DecodeAlert(data)
		if err != nil {
			return
		}
		if _, err := json.Marshal(a); err != nil {
			t.Fatalf("decoded alert does not encode: %v", err)
		}
	})
}

func FuzzDecodeTargets(f *testing.F) {
	f.Add([]byte(`{"all":true}`))
	f.Add([]byte(`{"hosts":["a"],"groups":["b"],"labels":["c=d"]}`))
	f.Add([]byte(`{"hosts":"a"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tg, err := DecodeTargets(data)
		if err != nil {
			return
		}
		b, err := json.Marshal(tg)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeTargets(b)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if d := cmp.Diff(tg, back, cmpopts.EquateEmpty()); d != "" { // empty lists are omitted
			t.Fatalf("round trip (-first +second):\n%s", d)
		}
	})
}
