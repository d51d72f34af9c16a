package poetry

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/extractor"
	"github.com/vigilsec/vigil/internal/extractor/lang/python"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
)

func TestFileRequired(t *testing.T) {
	for p, want := range map[string]bool{"poetry.lock": true, "srv/app/poetry.lock": true, "pyproject.toml": false, "poetry.lock.orig": false} {
		if got := New().FileRequired(p, nil); got != want {
			t.Errorf("FileRequired(%q) = %v, want %v", p, got, want)
		}
	}
}

func problemsOf(err error) []string {
	var pe *plugin.PartialError
	if errors.As(err, &pe) {
		return pe.Problems
	}
	return nil
}

func TestExtract(t *testing.T) {
	const loc = "testdata/poetry.lock"
	f, err := os.Open(loc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	inv, err := New().Extract(context.Background(), &extractor.ScanInput{Path: loc, Reader: f})
	if err != nil {
		t.Fatal(err)
	}
	want := []inventory.Package{
		python.Package("certifi", "2021.10.8", loc),
		python.Package("Jinja2", "2.11.3", loc),
		python.Package("pytest", "6.2.5", loc),
		// mylib comes from git: left out.
		python.Package("internal-tool", "1.2.0", loc),
	}
	if diff := cmp.Diff(want, inv.Packages); diff != "" {
		t.Errorf("Extract mismatch (-want +got):\n%s", diff)
	}
	if got := inv.Packages[1].PURL; got != "pkg:pypi/jinja2@2.11.3" {
		t.Errorf("purl = %q, want the PEP 503 name", got)
	}
}

func TestParse(t *testing.T) {
	const loc = "poetry.lock"
	tests := []struct {
		name     string
		in       string
		want     []inventory.Package
		problems []string
		err      string
	}{
		{
			name:     "bad_records_others_kept",
			in:       "[[package]]\nname = \"a b\"\nversion = \"1\"\n[[package]]\nname = \"c\"\n[[package]]\nname = \"d\"\nversion = \"2.0\"\n",
			want:     []inventory.Package{python.Package("d", "2.0", loc)},
			problems: []string{`poetry.lock: package 1: malformed name "a b"`, `poetry.lock: package "c": malformed version ""`},
		},
		{
			name: "duplicate_normalised",
			in:   "[[package]]\nname = \"Foo_Bar\"\nversion = \"1\"\n[[package]]\nname = \"foo-bar\"\nversion = \"1\"\n",
			want: []inventory.Package{python.Package("Foo_Bar", "1", loc)},
		},
		{name: "empty", in: ""},
		{name: "not_toml", in: "[[package]\nname=", err: `parse "poetry.lock": toml: line 2`},
		{name: "wrong_shape", in: "package = 3\n", err: `parse "poetry.lock": toml: line 1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var problems plugin.Problems
			got, err := Parse(loc, []byte(tc.in), &problems)
			if tc.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
					t.Fatalf("Parse error = %v, want prefix %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Parse mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.problems, problemsOf(problems.Err())); diff != "" {
				t.Errorf("problems mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("testdata/poetry.lock"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("[[package]]\nname = \"a\"\nversion = \"1\"\n[package.source]\ntype = \"git\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var problems plugin.Problems
		pkgs, err := Parse("poetry.lock", data, &problems)
		if err != nil {
			if pkgs != nil || problems.Len() != 0 {
				t.Fatal("results with an error")
			}
			return
		}
		// Each record is a table of at least two bytes ("{}").
		if n := len(data)/2 + 1; len(pkgs)+problems.Len() > n {
			t.Fatalf("%d packages and %d problems from %d bytes", len(pkgs), problems.Len(), len(data))
		}
		for _, p := range pkgs {
			if !python.ValidName(p.Name) || !python.ValidVersion(p.Version) {
				t.Fatalf("bad package %+v", p)
			}
		}
	})
}
