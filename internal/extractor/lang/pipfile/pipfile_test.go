package pipfile

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
	for p, want := range map[string]bool{"Pipfile.lock": true, "srv/Pipfile.lock": true, "Pipfile": false, "pipfile.lock": false} {
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
	const loc = "testdata/Pipfile.lock"
	f, err := os.Open(loc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	inv, err := New().Extract(context.Background(), &extractor.ScanInput{Path: loc, Reader: f})
	want := []inventory.Package{
		python.Package("django", "3.2.4", loc),
		python.Package("pytz", "2021.1", loc),
		python.Package("sqlparse", "0.4.1", loc),
		python.Package("pytest", "6.2.5", loc),
	}
	if diff := cmp.Diff(want, inv.Packages); diff != "" {
		t.Errorf("Extract mismatch (-want +got):\n%s", diff)
	}
	wantProblems := []string{`testdata/Pipfile.lock: develop: "black": version ">=21.0" is not pinned with ==`}
	if diff := cmp.Diff(wantProblems, problemsOf(err)); diff != "" {
		t.Errorf("problems mismatch (-want +got):\n%s", diff)
	}
}

func TestParse(t *testing.T) {
	const loc = "Pipfile.lock"
	tests := []struct {
		name     string
		in       string
		want     []inventory.Package
		problems []string
		err      string
	}{
		{
			name:     "bad_entries_others_kept",
			in:       `{"default": {"a b": {"version": "==1"}, "c": {"version": 3}, "d": {"version": "==2.0"}, "e": []}}`,
			want:     []inventory.Package{python.Package("d", "2.0", loc)},
			problems: []string{`Pipfile.lock: default: malformed package name "a b"`, `Pipfile.lock: default: "c": json: cannot unmarshal number into Go struct field entry.version of type string`, `Pipfile.lock: default: "e": json: cannot unmarshal array into Go value of type pipfile.entry`},
		},
		{name: "not_json", in: "[", err: `parse "Pipfile.lock": unexpected EOF`},
		{name: "array", in: "[]", err: `parse "Pipfile.lock": json: cannot unmarshal array`},
		{name: "other_json", in: `{"name": "x"}`, err: `parse "Pipfile.lock": no _meta, default or develop section`},
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
	if b, err := os.ReadFile("testdata/Pipfile.lock"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"default": {"a": {"version": "==1"}, "b": {"git": "x"}}, "develop": {"a": {"version": "==1"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var problems plugin.Problems
		pkgs, err := Parse("Pipfile.lock", data, &problems)
		if err != nil {
			if pkgs != nil || problems.Len() != 0 {
				t.Fatal("results with an error")
			}
			return
		}
		// Each entry is at least `"":0` (4 bytes).
		if len(pkgs)+problems.Len() > len(data)/4+1 {
			t.Fatalf("%d packages and %d problems from %d bytes", len(pkgs), problems.Len(), len(data))
		}
		for _, p := range pkgs {
			if !python.ValidName(p.Name) || !python.ValidVersion(p.Version) {
				t.Fatalf("bad package %+v", p)
			}
		}
	})
}
