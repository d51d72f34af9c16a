package yarnlock

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
		{path: "yarn.lock", want: true},
		{path: "srv/app/yarn.lock", want: true},
		{path: "srv/app/node_modules/x/yarn.lock"},
		{path: "srv/app/my-yarn.lock"},
		{path: "srv/app/yarn.lock.orig"},
		{path: "srv/app/package-lock.json"},
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
	const loc = "srv/app/yarn.lock"
	npm := func(name, version string) inventory.Package { return node.NewPackage(name, version, loc) }
	tests := []struct {
		name string
		file string
		want []inventory.Package
	}{
		{name: "classic", file: "testdata/classic.yarn.lock", want: []inventory.Package{
			npm("@babel/code-frame", "7.22.13"),
			npm("@babel/highlight", "7.22.20"),
			npm("chalk", "2.4.2"),
			npm("js-tokens", "4.0.0"),
			npm("lodash", "4.17.20"),
			npm("lodash", "4.17.21"),
			npm("string-width", "4.2.3"),
			npm("uglify-js", "3.17.4"),
		}},
		{name: "berry", file: "testdata/berry.yarn.lock", want: []inventory.Package{
			npm("@babel/code-frame", "7.22.13"),
			npm("chalk", "2.4.2"),
			npm("resolve", "1.22.8"),
			npm("string-width", "4.2.3"),
			npm("uglify-js", "3.17.4"),
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
	const path = "yarn.lock"
	npm := func(name, version string) inventory.Package { return node.NewPackage(name, version, path) }
	tests := []struct {
		name     string
		in       string
		want     []inventory.Package
		wantErr  string
		problems []string
	}{
		{name: "empty", in: ""},
		{
			name: "classic_bad_entries",
			in: `# yarn lockfile v1

  version "1.0.0"

a@^1.0.0:
  version "1.0.0"

b@^1.0.0
  version "1.0.0"

c@^1.0.0:
  resolved "https://registry.yarnpkg.com/c/-/c-1.0.0.tgz"

"d@^1.0.0:
  version "1.0.0"

e@^1.0.0:
  version "1.0.0

nonsense:
  version "1.0.0"

f@^2.0.0:
  version "2.0.0"
`,
			want: []inventory.Package{npm("a", "1.0.0"), npm("f", "2.0.0")},
			problems: []string{
				`yarn.lock:3: indented line outside an entry`,
				`yarn.lock:8: entry header does not end with ":"`,
				`yarn.lock:11: package "c" has no version`,
				`yarn.lock:14: malformed descriptor "d@^1.0.0`,
				`yarn.lock:18: malformed version "1.0.0`,
				`yarn.lock:20: descriptor "nonsense" has no range`,
			},
		},
		{
			name:     "classic_long_line",
			in:       "a@^1.0.0:\n  version \"1.0.0\"\nb@^1.0.0:\n  version \"1.0.0\"\n  x " + strings.Repeat("x", maxLine+1) + "\n",
			want:     []inventory.Package{npm("a", "1.0.0")},
			problems: []string{"yarn.lock:5: bufio.Scanner: token too long"},
		},
		{name: "berry_syntax", in: "__metadata:\n  version: 8\n\"a@npm:1\":\n  version: [1\n", wantErr: "parse yarn.lock: yaml: line 3: did not find expected"},
		{name: "berry_not_mapping", in: "__metadata:x\n", wantErr: "parse yarn.lock: lockfile is not a YAML mapping"},
		{
			name: "berry_bad_entries",
			in: `__metadata:
  version: 8

"a@npm:^1.0.0":
  version: 1.0.0
  resolution: "a@npm:1.0.0"

"b@npm:^1.0.0":
  version: [1]
  resolution: "b@npm:1.0.0"

"c@npm:^1.0.0":
  version: 1.0.0

"d@npm:^1.0.0":
  version: 1.0.0
  resolution: "d"

"e@npm:^1.0.0":
  resolution: "e@npm:1.0.0"
`,
			want: []inventory.Package{npm("a", "1.0.0")},
			problems: []string{
				"yarn.lock:8: entry \"b@npm:^1.0.0\": yaml: unmarshal errors:\n  line 9: cannot unmarshal !!seq into string",
				`yarn.lock:12: entry "c@npm:^1.0.0" has no resolution`,
				`yarn.lock:15: entry "d@npm:^1.0.0": malformed resolution "d"`,
				`yarn.lock:19: package "e" has no version`,
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
	for _, p := range []string{"testdata/classic.yarn.lock", "testdata/berry.yarn.lock"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(string(b))
		}
	}
	f.Add("a@^1:\n  version \"1\"\n\"@s/b@npm:c@2\", x@y:\n  version 2\n")
	f.Add("__metadata:\n  version: 8\n\"a@npm:1\":\n  version: 1\n  resolution: \"a@npm:1\"\n")
	f.Fuzz(func(t *testing.T, in string) {
		var problems plugin.Problems
		pkgs, err := Parse(context.Background(), strings.NewReader(in), "yarn.lock", &problems)
		if err != nil && !strings.Contains(err.Error(), "yarn.lock") {
			t.Errorf("error %q does not name the file", err)
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
		}
		// Every classic entry header is either reported, deduplicated,
		// left out as local, or a problem: there cannot be more packages
		// than headers.
		if !isBerry([]byte(in)) {
			headers := 0
			for _, l := range strings.Split(in, "\n") {
				if l != "" && l[0] != ' ' && l[0] != '\t' && l[0] != '#' && strings.TrimSpace(l) != "" {
					headers++
				}
			}
			if len(pkgs) > headers {
				t.Errorf("%d packages from %d entries", len(pkgs), headers)
			}
		}
	})
}
