package cargolock

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/package-url/packageurl-go"

	"github.com/vigilsec/vigil/internal/extractor"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
)

func TestFileRequired(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{path: "Cargo.lock", want: true},
		{path: "src/tool/Cargo.lock", want: true},
		{path: "src/tool/Cargo.toml"},
		{path: "src/tool/cargo.lock"},
		{path: "src/tool/MyCargo.lock"},
	}
	for _, tc := range tests {
		t.Run(strings.ReplaceAll(tc.path, "/", "_"), func(t *testing.T) {
			if got := New().FileRequired(tc.path, nil); got != tc.want {
				t.Errorf("FileRequired(%q) = %v, want %v", tc.path, got, tc.want)
			}
		})
	}
}

func crate(name, version, loc string) inventory.Package {
	return inventory.Package{
		Name: name, Version: version, Type: "cargo", Ecosystem: "crates.io",
		PURL: "pkg:cargo/" + name + "@" + version, Locations: []string{loc},
	}
}

func extract(t *testing.T, path, content string) (*inventory.Inventory, error) {
	t.Helper()
	return New().Extract(context.Background(), &extractor.ScanInput{Path: path, Reader: strings.NewReader(content)})
}

func TestExtractFile(t *testing.T) {
	const loc = "src/tool/Cargo.lock"
	b, err := os.ReadFile("testdata/Cargo.lock")
	if err != nil {
		t.Fatal(err)
	}
	inv, err := extract(t, loc, string(b))
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	// my-cli and my-core (no source: workspace members) are left out.
	want := []inventory.Package{
		crate("aho-corasick", "1.1.2", loc),
		crate("cfg-if", "1.0.0", loc),
		crate("memchr", "2.6.4", loc),
		crate("pin-project-lite", "0.2.13", loc),
		crate("regex", "1.10.2", loc),
		crate("regex-automata", "0.4.3", loc),
		crate("regex-syntax", "0.8.2", loc),
		crate("tokio", "1.34.0", loc),
	}
	if diff := cmp.Diff(want, inv.Packages); diff != "" {
		t.Errorf("Extract packages (-want +got):\n%s", diff)
	}
}

func TestExtractMalformed(t *testing.T) {
	const path = "Cargo.lock"
	const reg = `source = "registry+https://github.com/rust-lang/crates.io-index"`
	tests := []struct {
		name     string
		in       string
		want     []inventory.Package
		wantErr  string
		problems []string
	}{
		{name: "empty", in: ""},
		{name: "syntax", in: "version = 3\n\n[[package]]\nname = \"a\nversion = \"1.0.0\"\n", wantErr: "parse Cargo.lock:4: "},
		{name: "package_not_table", in: "package = 3\n", wantErr: "parse Cargo.lock: toml: "},
		{
			name: "bad_crates",
			in: `version = 3

[[package]]
name = "ok"
version = "1.0.0"
` + reg + `

[[package]]
version = "1.0.0"
` + reg + `

[[package]]
name = "num"
version = 1
` + reg + `

[[package]]
name = "bad name"
version = "1.0.0"
` + reg + `

[[package]]
name = "v"
version = "latest"
` + reg + `

[[package]]
name = "src"
version = "1.0.0"
source = ["x"]

[[package]]
name = "ok"
version = "1.0.0"
` + reg + `
`,
			want: []inventory.Package{crate("ok", "1.0.0", path)},
			problems: []string{
				`Cargo.lock:8: package has no "name"`,
				`Cargo.lock:12: crate "num": "version" is not a string`,
				`Cargo.lock:17: invalid crate name "bad name"`,
				`Cargo.lock:22: crate "v" has invalid version "latest"`,
				`Cargo.lock:27: crate "src": "source" is not a string`,
			},
		},
		{
			name:     "inline_array",
			in:       `package = [{name = "a", version = "1.0.0", source = "git+https://x"}, {name = "b"}]`,
			want:     []inventory.Package{crate("a", "1.0.0", path)},
			problems: []string{`Cargo.lock: package 2: crate "b": has no "version"`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv, err := extract(t, path, tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Extract error = %v, want it to contain %q", err, tc.wantErr)
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

func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("testdata/Cargo.lock"); err == nil {
		f.Add(string(b))
	}
	f.Add("version = 4\n[[package]]\nname = \"a\"\nversion = \"1.0.0\"\nsource = \"git+https://x#1\"\n[metadata]\nx = 1\n")
	f.Add(`package = [{name = "a", version = "1", source = "s"}]`)
	f.Fuzz(func(t *testing.T, in string) {
		var problems plugin.Problems
		pkgs, err := Parse(context.Background(), strings.NewReader(in), "Cargo.lock", &problems)
		if err != nil {
			if !strings.Contains(err.Error(), "Cargo.lock") {
				t.Errorf("error %q does not name the file", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, p := range pkgs {
			if !validName(p.Name) || !validVersion(p.Version) {
				t.Errorf("invalid crate reported: %+v", p)
			}
			if seen[p.PURL] {
				t.Errorf("crate %s reported twice", p.PURL)
			}
			seen[p.PURL] = true
			if u, err := packageurl.FromString(p.PURL); err != nil || u.Name != p.Name || u.Version != p.Version {
				t.Errorf("PURL %q does not round-trip: %v", p.PURL, err)
			}
		}
	})
}
