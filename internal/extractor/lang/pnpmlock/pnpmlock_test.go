package pnpmlock

import (
	"context"
	"errors"
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
		{path: "pnpm-lock.yaml", want: true},
		{path: "srv/web/pnpm-lock.yaml", want: true},
		{path: "srv/web/node_modules/.pnpm/lock.yaml"},
		{path: "srv/web/node_modules/x/pnpm-lock.yaml"},
		{path: "srv/web/pnpm-lock.yml"},
		{path: "srv/web/pnpm-workspace.yaml"},
	}
	for _, tc := range tests {
		t.Run(strings.ReplaceAll(tc.path, "/", "_"), func(t *testing.T) {
			if got := New().FileRequired(tc.path, nil); got != tc.want {
				t.Errorf("FileRequired(%q) = %v, want %v", tc.path, got, tc.want)
			}
		})
	}
}

func extract(t *testing.T, path, content string) (*inventory.Inventory, error) {
	t.Helper()
	return New().Extract(context.Background(), &extractor.ScanInput{Path: path, Reader: strings.NewReader(content)})
}

func TestExtractFiles(t *testing.T) {
	const loc = "srv/web/pnpm-lock.yaml"
	npm := func(name, version string) inventory.Package { return node.NewPackage(name, version, loc) }
	tests := []struct {
		name string
		file string
		want []inventory.Package
	}{
		{name: "v5", file: "testdata/v5.pnpm-lock.yaml", want: []inventory.Package{
			npm("@babel/core", "7.20.0"),
			npm("js-tokens", "4.0.0"),
			npm("loose-envify", "1.4.0"),
			npm("react", "18.2.0"),
			npm("react-dom", "18.2.0"),
			npm("scheduler", "0.23.0"),
			npm("string_decoder", "1.3.0"),
			npm("uglify-js", "3.17.4"),
		}},
		{name: "v6", file: "testdata/v6.pnpm-lock.yaml", want: []inventory.Package{
			npm("@types/react", "18.2.31"),
			npm("csstype", "3.1.2"),
			npm("js-tokens", "4.0.0"),
			npm("loose-envify", "1.4.0"),
			npm("react", "18.2.0"),
			npm("react-dom", "18.2.0"),
			npm("scheduler", "0.23.0"),
		}},
		{name: "v9", file: "testdata/v9.pnpm-lock.yaml", want: []inventory.Package{
			npm("@tanstack/query-core", "5.8.3"),
			npm("@tanstack/react-query", "5.8.4"),
			npm("js-tokens", "4.0.0"),
			npm("loose-envify", "1.4.0"),
			npm("react", "18.2.0"),
			npm("uglify-js", "3.17.4"),
		}},
		{name: "scalibr_v6_scoped_peers", file: "testdata/scalibr-scoped-peer-dependencies-v6.yaml", want: []inventory.Package{
			npm("@scope/pkg", "1.0.0"),
			npm("lodash", "4.17.20"),
			npm("next", "13.3.2-canary.13"),
			npm("next", "13.4.0"),
		}},
		{name: "scalibr_v9_transitive_dev", file: "testdata/scalibr-transitive-dev.v9.yaml", want: []inventory.Package{
			npm("acorn", "8.11.3"),
			npm("acorn-jsx", "5.3.2"),
			npm("ansi-regex", "5.0.1"),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			inv, err := extract(t, loc, string(b))
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if diff := cmp.Diff(tc.want, inv.Packages); diff != "" {
				t.Errorf("Extract packages (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExtractMalformed(t *testing.T) {
	const path = "pnpm-lock.yaml"
	npm := func(name, version string) inventory.Package { return node.NewPackage(name, version, path) }
	tests := []struct {
		name     string
		in       string
		want     []inventory.Package
		wantErr  string
		problems []string
	}{
		{name: "empty", in: ""},
		{name: "syntax", in: "lockfileVersion: '9.0'\npackages:\n  a@1.0.0: {\n", wantErr: "parse pnpm-lock.yaml: yaml: line 3"},
		{name: "not_mapping", in: "- lockfileVersion\n", wantErr: "parse pnpm-lock.yaml: lockfile is not a YAML mapping"},
		{name: "no_version", in: "packages:\n  a@1.0.0: {}\n", wantErr: "parse pnpm-lock.yaml: no lockfileVersion"},
		{name: "bad_version", in: "lockfileVersion: x\n", wantErr: `parse pnpm-lock.yaml:1: malformed lockfileVersion "x"`},
		{name: "old_version", in: "lockfileVersion: 3.9\n", wantErr: "parse pnpm-lock.yaml: lockfileVersion 3 is not supported"},
		{name: "packages_not_mapping", in: "lockfileVersion: '9.0'\npackages:\n  - a\n", wantErr: `parse pnpm-lock.yaml:3: "packages" is not a mapping`},
		{name: "packages_null", in: "lockfileVersion: '9.0'\npackages:\n"},
		{
			name: "v9_bad_entries",
			in: `lockfileVersion: '9.0'
packages:
  ok@1.0.0: {}
  nover: {}
  bad name@1.0.0: {}
  sp@1 2: {}
  typed@1.0.0:
    name: [x]
  '@scope@1.0.0': {}
`,
			want: []inventory.Package{npm("ok", "1.0.0")},
			problems: []string{
				`pnpm-lock.yaml:4: malformed package key "nover"`,
				`pnpm-lock.yaml:5: invalid package name "bad name"`,
				`pnpm-lock.yaml:6: package "sp" has invalid version "1 2"`,
				"pnpm-lock.yaml:7: package \"typed@1.0.0\": yaml: unmarshal errors:\n  line 8: cannot unmarshal !!seq into string",
				`pnpm-lock.yaml:9: invalid package name "@scope"`,
			},
		},
		{
			name: "v5_bad_entries",
			in: `lockfileVersion: 5.3
packages:
  /ok/1.0.0_peer@2.0.0: {}
  /noslash: {}
  /@s/x/2.0.0: {}
`,
			want: []inventory.Package{npm("@s/x", "2.0.0"), npm("ok", "1.0.0")},
			problems: []string{
				`pnpm-lock.yaml:4: malformed package key "/noslash"`,
			},
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
	for _, p := range []string{"testdata/v5.pnpm-lock.yaml", "testdata/v6.pnpm-lock.yaml", "testdata/v9.pnpm-lock.yaml",
		"testdata/scalibr-scoped-peer-dependencies-v6.yaml", "testdata/scalibr-transitive-dev.v9.yaml"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(string(b))
		}
	}
	f.Add("lockfileVersion: 5.4\npackages:\n  /a/1_b@2:\n    dev: true\n")
	f.Add("lockfileVersion: '6.0'\npackages:\n  /@s/a@1(b@2):\n    name: c\n")
	f.Fuzz(func(t *testing.T, in string) {
		var problems plugin.Problems
		pkgs, err := Parse(context.Background(), strings.NewReader(in), "pnpm-lock.yaml", &problems)
		if err != nil {
			if !strings.Contains(err.Error(), "pnpm-lock.yaml") {
				t.Errorf("error %q does not name the file", err)
			}
			if len(pkgs) != 0 {
				t.Errorf("packages returned with a fatal error")
			}
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
			if u, err := packageurl.FromString(p.PURL); err != nil || u.Version != p.Version {
				t.Errorf("PURL %q does not round-trip: %v", p.PURL, err)
			}
			if strings.ContainsAny(p.Version, "(") {
				t.Errorf("peer suffix left in version %q", p.Version)
			}
		}
	})
}
