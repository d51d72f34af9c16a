package composerlock

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
		{path: "composer.lock", want: true},
		{path: "var/www/app/composer.lock", want: true},
		{path: "var/www/app/vendor/foo/bar/composer.lock"},
		{path: "var/www/app/composer.json"},
		{path: "var/www/app/my-composer.lock"},
	}
	for _, tc := range tests {
		t.Run(strings.ReplaceAll(tc.path, "/", "_"), func(t *testing.T) {
			if got := New().FileRequired(tc.path, nil); got != tc.want {
				t.Errorf("FileRequired(%q) = %v, want %v", tc.path, got, tc.want)
			}
		})
	}
}

func composer(name, version, purl, loc string) inventory.Package {
	return inventory.Package{
		Name: name, Version: version, Type: "composer", Ecosystem: "Packagist",
		PURL: purl, Locations: []string{loc},
	}
}

func extract(t *testing.T, path, content string) (*inventory.Inventory, error) {
	t.Helper()
	return New().Extract(context.Background(), &extractor.ScanInput{Path: path, Reader: strings.NewReader(content)})
}

func TestExtractFile(t *testing.T) {
	const loc = "var/www/app/composer.lock"
	b, err := os.ReadFile("testdata/composer.lock")
	if err != nil {
		t.Fatal(err)
	}
	inv, err := extract(t, loc, string(b))
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	want := []inventory.Package{
		composer("guzzlehttp/guzzle", "7.8.0", "pkg:composer/guzzlehttp/guzzle@7.8.0", loc),
		composer("guzzlehttp/promises", "2.0.1", "pkg:composer/guzzlehttp/promises@2.0.1", loc),
		composer("monolog/monolog", "3.4.0", "pkg:composer/monolog/monolog@3.4.0", loc),
		composer("phpunit/phpunit", "10.3.5", "pkg:composer/phpunit/phpunit@10.3.5", loc),
		composer("symfony/console", "v6.3.4", "pkg:composer/symfony/console@v6.3.4", loc),
	}
	if diff := cmp.Diff(want, inv.Packages); diff != "" {
		t.Errorf("Extract packages (-want +got):\n%s", diff)
	}
}

func TestExtractMalformed(t *testing.T) {
	const path = "composer.lock"
	ok := composer("a/ok", "1.0.0", "pkg:composer/a/ok@1.0.0", path)
	tests := []struct {
		name     string
		in       string
		want     []inventory.Package
		wantErr  string
		problems []string
	}{
		{name: "empty", in: "", wantErr: "parse composer.lock: line 1, column 1: unexpected end of JSON input"},
		{name: "syntax", in: "{\n  \"packages\": [\n    {\"name\": \"a/b\",}\n  ]\n}", wantErr: "parse composer.lock: line 3, column 20: invalid character '}'"},
		{name: "not_object", in: `[]`, wantErr: "parse composer.lock: lockfile is not a JSON object"},
		{name: "packages_not_array", in: "{\n\"packages\": {}}", wantErr: `parse composer.lock:2: "packages" is not an array`},
		{name: "packages_null", in: `{"packages": null, "packages-dev": []}`},
		{
			name: "bad_packages",
			in: `{
  "packages": [
    {"name": "a/ok", "version": "1.0.0"},
    "x",
    {"name": 1, "version": "1.0.0"},
    {"name": "noslash", "version": "1.0.0"},
    {"name": "a/b", "version": ""},
    {"name": "a/b", "version": "1 0"}
  ],
  "packages-dev": [
    {"name": "a/ok", "version": "1.0.0"}
  ]
}`,
			want: []inventory.Package{ok},
			problems: []string{
				`composer.lock:4: package entry is not an object`,
				`composer.lock:5: package field "name" has the wrong type (JSON number)`,
				`composer.lock:6: invalid package name "noslash"`,
				`composer.lock:7: package "a/b" has invalid version ""`,
				`composer.lock:8: package "a/b" has invalid version "1 0"`,
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
	if b, err := os.ReadFile("testdata/composer.lock"); err == nil {
		f.Add(string(b))
	}
	f.Add(`{"packages":[{"name":"a/b","version":"v1"},1,null],"packages-dev":null,"x":{"packages":[]}}`)
	f.Fuzz(func(t *testing.T, in string) {
		var problems plugin.Problems
		pkgs, err := Parse(context.Background(), strings.NewReader(in), "composer.lock", &problems)
		if err != nil {
			if !strings.Contains(err.Error(), "composer.lock") {
				t.Errorf("error %q does not name the file", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, p := range pkgs {
			if !validName(p.Name) || !validVersion(p.Version) {
				t.Errorf("invalid package reported: %+v", p)
			}
			if seen[p.PURL] {
				t.Errorf("package %s reported twice", p.PURL)
			}
			seen[p.PURL] = true
			u, err := packageurl.FromString(p.PURL)
			if err != nil || u.Namespace+"/"+u.Name != p.Name || u.Version != p.Version {
				t.Errorf("PURL %q of %q does not round-trip: %v", p.PURL, p.Name, err)
			}
		}
	})
}
