package npmlock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/package-url/packageurl-go"

	"github.com/vigilsec/vigil/internal/extractor"
	"github.com/vigilsec/vigil/internal/extractor/lang/node"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
)

func TestFileRequired(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{path: "package-lock.json", want: true},
		{path: "srv/app/package-lock.json", want: true},
		{path: "srv/app/npm-shrinkwrap.json", want: true},
		{path: "srv/app/node_modules/.package-lock.json"},
		{path: "srv/app/node_modules/foo/package-lock.json"},
		{path: "node_modules/foo/npm-shrinkwrap.json"},
		{path: "srv/app/package.json"},
		{path: "srv/app/my-package-lock.json"},
		{path: "srv/app/package-lock.json.bak"},
	}
	for _, tc := range tests {
		t.Run(strings.ReplaceAll(tc.path, "/", "_"), func(t *testing.T) {
			if got := New().FileRequired(tc.path, nil); got != tc.want {
				t.Errorf("FileRequired(%q) = %v, want %v", tc.path, got, tc.want)
			}
		})
	}
}

func npm(name, version, loc string) inventory.Package { return node.NewPackage(name, version, loc) }

func extract(t *testing.T, path, content string) (*inventory.Inventory, error) {
	t.Helper()
	return New().Extract(context.Background(), &extractor.ScanInput{Path: path, Reader: strings.NewReader(content)})
}

func TestExtractFiles(t *testing.T) {
	const v3 = "app/package-lock.json"
	wantV23 := []inventory.Package{
		npm("@babel/code-frame", "7.22.13", v3),
		npm("debug", "2.6.9", v3),
		npm("express", "4.18.2", v3),
		npm("fsevents", "2.3.3", v3),
		npm("ms", "2.0.0", v3),
		npm("ms", "2.1.3", v3),
		npm("string-width", "4.2.3", v3),
		npm("typescript", "5.2.2", v3),
	}
	tests := []struct {
		name string
		file string
		want []inventory.Package
	}{
		{name: "v3", file: "testdata/v3/package-lock.json", want: wantV23},
		// v2 carries both sections; only "packages" is read, so the
		// workspace member (file:packages/ui in "dependencies") is not
		// reported.
		{name: "v2", file: "testdata/v2/package-lock.json", want: wantV23},
		{name: "v1", file: "testdata/v1/package-lock.json", want: []inventory.Package{
			npm("@types/node", "14.18.63", v3),
			npm("accepts", "1.3.8", v3),
			npm("debug", "2.6.9", v3),
			npm("mime-db", "1.52.0", v3),
			npm("mime-types", "2.1.35", v3),
			npm("ms", "2.0.0", v3),
			npm("ms", "2.1.3", v3),
			npm("negotiator", "0.6.3", v3),
			npm("string-width", "4.2.3", v3),
			npm("uglify-js", "github:mishoo/UglifyJS#2f8a8b5c2b3e4e5b6d1d2a1f0e3c4b5a6d7e8f90", v3),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			inv, err := extract(t, v3, string(b))
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if diff := cmp.Diff(tc.want, inv.Packages); diff != "" {
				t.Errorf("Extract packages (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExtractPURL(t *testing.T) {
	inv, err := extract(t, "package-lock.json", `{"lockfileVersion":3,"packages":{"node_modules/@babel/core":{"version":"7.23.2"}}}`)
	if err != nil {
		t.Fatal(err)
	}
	want := []inventory.Package{{
		Name: "@babel/core", Version: "7.23.2", Type: "npm", Ecosystem: "npm",
		PURL: "pkg:npm/%40babel/core@7.23.2", Locations: []string{"package-lock.json"},
	}}
	if diff := cmp.Diff(want, inv.Packages); diff != "" {
		t.Errorf("Extract (-want +got):\n%s", diff)
	}
}

func TestExtractMalformed(t *testing.T) {
	const path = "srv/package-lock.json"
	tests := []struct {
		name     string
		in       string
		want     []inventory.Package
		wantErr  string // substring of the fatal error, when nothing is usable
		problems []string
	}{
		{name: "empty", in: "", wantErr: path + ":1: unexpected end of file"},
		{name: "not_object", in: "[1,2]", wantErr: path + ":1: lockfile is not a JSON object"},
		{name: "packages_not_object", in: `{"packages": []}`, wantErr: path + `:1: "packages" is not a JSON object`},
		{name: "syntax_error_line", in: "{\n  \"lockfileVersion\": 3,\n  \"packages\": {\n    \"\": {} ,,\n", wantErr: path + ":4: invalid character ','"},
		{
			name:     "truncated_after_entries",
			in:       "{\"packages\": {\n\"node_modules/a\": {\"version\": \"1.0.0\"},\n\"node_modules/b\": {\"vers",
			want:     []inventory.Package{npm("a", "1.0.0", path)},
			problems: []string{path + ":3: unexpected end of file"},
		},
		{
			name: "bad_entries",
			in: `{"lockfileVersion": 3, "packages": {
  "node_modules/ok": {"version": "1.0.0"},
  "node_modules/num": {"version": 1},
  "node_modules/str": "x",
  "node_modules/nov": {},
  "node_modules/bad name": {"version": "1.0.0"},
  "node_modules/sp": {"version": "1.0 0"}
}}`,
			want: []inventory.Package{npm("ok", "1.0.0", path)},
			problems: []string{
				path + `:3: package "node_modules/num": field "version" has the wrong type (JSON number)`,
				path + `:4: package "node_modules/str": entry is not an object`,
				path + `:5: package "nov" has no version`,
				path + `:6: invalid package name "bad name"`,
				path + `:7: package "sp" has invalid version "1.0 0"`,
			},
		},
		{
			name: "v1_bad_entries",
			in: `{"lockfileVersion": 1, "dependencies": {
  "a": {"version": {"x": 1}, "dependencies": {"b": {"version": "2.0.0"}}},
  "c": {"version": "npm:nope"},
  "d": {"version": "1.0.0"}
}}`,
			want: []inventory.Package{npm("b", "2.0.0", path), npm("d", "1.0.0", path)},
			problems: []string{
				path + `:2: dependency "a": "version" is not a string`,
				path + `:3: dependency "c": malformed alias "npm:nope"`,
			},
		},
		{name: "trailing_data", in: `{"packages": {}} {}`, wantErr: path + ":1: data after the lockfile object"},
		{name: "too_deep", in: `{"dependencies":` + strings.Repeat(`{"a":{"dependencies":`, maxDepth+1), wantErr: "nested more than 1000 deep"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv, err := extract(t, path, tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Extract error = %v, want it to contain %q", err, tc.wantErr)
				}
				var pe *plugin.PartialError
				if errors.As(err, &pe) {
					t.Fatalf("Extract error is partial, want fatal: %v", err)
				}
				return
			}
			var got []string
			var pe *plugin.PartialError
			if errors.As(err, &pe) {
				got = pe.Problems
			} else if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if diff := cmp.Diff(tc.problems, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, inv.Packages); diff != "" {
				t.Errorf("packages (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExtractCanceled(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"packages":{`)
	for i := range 2 * ctxEvery {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"node_modules/p` + strings.Repeat("x", i%7) + `":{"version":"1.0.0"}`)
	}
	b.WriteString("}}")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := New().Extract(ctx, &extractor.ScanInput{Path: "package-lock.json", Reader: strings.NewReader(b.String())})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Extract error = %v, want context.Canceled", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/v1/package-lock.json", "testdata/v2/package-lock.json", "testdata/v3/package-lock.json"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(string(b))
		}
	}
	f.Add(`{"packages":{"node_modules/a":{"name":"b","version":"1"},"":{},"x":{"link":true}},"dependencies":{}}`)
	f.Add(`{"dependencies":{"a":{"version":"npm:@s/b@1","dependencies":{"c":{"version":"2"}}}}}`)
	f.Fuzz(func(t *testing.T, in string) {
		var problems plugin.Problems
		pkgs, err := Parse(context.Background(), strings.NewReader(in), "package-lock.json", &problems)
		if err != nil && !strings.HasPrefix(err.Error(), "package-lock.json:") {
			t.Errorf("error %q does not name the file", err)
		}
		if err == nil && problems.Len() == 0 && !json.Valid([]byte(in)) {
			t.Errorf("invalid JSON accepted without error")
		}
		seen := map[string]bool{}
		for _, p := range pkgs {
			if !node.ValidName(p.Name) || !node.ValidVersion(p.Version) {
				t.Errorf("invalid package reported: %+v", p)
			}
			if seen[p.PURL] {
				t.Errorf("package %s reported twice", p.PURL)
			}
			seen[p.PURL] = true
			u, perr := packageurl.FromString(p.PURL)
			if perr != nil || u.Version != p.Version || u.Type != "npm" {
				t.Errorf("PURL %q of %+v does not round-trip: %v", p.PURL, p, perr)
			}
		}
	})
}

// genLockfile writes a version 3 lockfile with n packages, each with the
// fields npm writes, about 600 bytes per entry.
func genLockfile(n int) string {
	var b strings.Builder
	b.WriteString("{\n  \"name\": \"big\",\n  \"lockfileVersion\": 3,\n  \"packages\": {\n    \"\": {\"name\": \"big\"}")
	for i := range n {
		fmt.Fprintf(&b, ",\n    \"node_modules/pkg-%d\": {\n      \"version\": \"1.%d.0\",\n      \"resolved\": \"https://registry.npmjs.org/pkg-%d/-/pkg-%d-1.%d.0.tgz\",\n      \"integrity\": \"sha512-%s\",\n      \"dependencies\": {\"a\": \"^1.0.0\", \"b\": \"^2.0.0\"},\n      \"engines\": {\"node\": \">=14\"}\n    }", i, i%50, i, i, i%50, strings.Repeat("x", 400))
	}
	b.WriteString("\n  }\n}\n")
	return b.String()
}

func BenchmarkParse(b *testing.B) {
	in := genLockfile(80_000) // about 50 MB, the size of the largest real lockfiles
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		var problems plugin.Problems
		pkgs, err := Parse(context.Background(), strings.NewReader(in), "package-lock.json", &problems)
		if err != nil || len(pkgs) != 80_000 {
			b.Fatalf("Parse: %d packages, %v", len(pkgs), err)
		}
	}
}
