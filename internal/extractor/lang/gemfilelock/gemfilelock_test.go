package gemfilelock

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
		{path: "Gemfile.lock", want: true},
		{path: "srv/app/Gemfile.lock", want: true},
		{path: "srv/app/gems.locked", want: true},
		{path: "srv/app/Gemfile"},
		{path: "srv/app/MyGemfile.lock"},
		{path: "srv/app/Gemfile.lock.bak"},
	}
	for _, tc := range tests {
		t.Run(strings.ReplaceAll(tc.path, "/", "_"), func(t *testing.T) {
			if got := New().FileRequired(tc.path, nil); got != tc.want {
				t.Errorf("FileRequired(%q) = %v, want %v", tc.path, got, tc.want)
			}
		})
	}
}

func gem(name, version, loc string) inventory.Package {
	return inventory.Package{
		Name: name, Version: version, Type: "gem", Ecosystem: "RubyGems",
		PURL: "pkg:gem/" + name + "@" + version, Locations: []string{loc},
	}
}

func extract(t *testing.T, path, content string) (*inventory.Inventory, error) {
	t.Helper()
	return New().Extract(context.Background(), &extractor.ScanInput{Path: path, Reader: strings.NewReader(content)})
}

func TestExtractFile(t *testing.T) {
	const loc = "srv/app/Gemfile.lock"
	b, err := os.ReadFile("testdata/Gemfile.lock")
	if err != nil {
		t.Fatal(err)
	}
	inv, err := extract(t, loc, string(b))
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	// billing (PATH) is left out; nokogiri's three platforms are one gem.
	want := []inventory.Package{
		gem("concurrent-ruby", "1.2.2", loc),
		gem("crass", "1.0.6", loc),
		gem("i18n", "1.14.1", loc),
		gem("loofah", "2.21.3", loc),
		gem("mini_portile2", "2.8.4", loc),
		gem("nokogiri", "1.15.4", loc),
		gem("racc", "1.7.1", loc),
		gem("rack", "2.2.8", loc),
		gem("rails-html-sanitizer", "1.6.0", loc),
		gem("rails-i18n", "7.0.8.rc1", loc),
	}
	if diff := cmp.Diff(want, inv.Packages); diff != "" {
		t.Errorf("Extract packages (-want +got):\n%s", diff)
	}
}

func TestExtractMalformed(t *testing.T) {
	const path = "Gemfile.lock"
	tests := []struct {
		name     string
		in       string
		want     []inventory.Package
		wantErr  string
		problems []string
	}{
		{name: "empty", in: ""},
		{name: "no_gem_section", in: "PLATFORMS\n  ruby\n\nBUNDLED WITH\n   2.4.19\n"},
		{
			name: "bad_specs",
			in: `GEM
  remote: https://rubygems.org/
  specs:
    ok (1.0.0)
    noversion
    unclosed (1.0.0
    bad/name (1.0.0)
    badver (latest)
    sp (1 0)
      dep (~> 1.0)
    ok (1.0.0-java)
`,
			want: []inventory.Package{gem("ok", "1.0.0", path)},
			problems: []string{
				`Gemfile.lock:5: spec "noversion" is not "name (version)"`,
				`Gemfile.lock:6: spec "unclosed (1.0.0" is not "name (version)"`,
				`Gemfile.lock:7: invalid gem name "bad/name"`,
				`Gemfile.lock:8: gem "badver" has invalid version "latest"`,
				`Gemfile.lock:9: gem "sp" has invalid version "1 0"`,
			},
		},
		{
			name:     "long_line",
			in:       "GEM\n  specs:\n    a (1.0)\n    b (" + strings.Repeat("1", maxLine) + ")\n",
			want:     []inventory.Package{gem("a", "1.0", path)},
			problems: []string{"Gemfile.lock:4: bufio.Scanner: token too long"},
		},
		{
			name:    "long_first_line",
			in:      strings.Repeat("G", maxLine+1),
			wantErr: "Gemfile.lock:1: bufio.Scanner: token too long",
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
	if b, err := os.ReadFile("testdata/Gemfile.lock"); err == nil {
		f.Add(string(b))
	}
	f.Add("GEM\n  specs:\n    a (1.0-x86_64-linux)\n      b (>= 1)\n    c\nPATH\n  specs:\n    d (1)\n")
	f.Fuzz(func(t *testing.T, in string) {
		var problems plugin.Problems
		pkgs, err := Parse(context.Background(), strings.NewReader(in), "Gemfile.lock", &problems)
		if err != nil && !strings.HasPrefix(err.Error(), "Gemfile.lock:") {
			t.Errorf("error %q does not name the file", err)
		}
		// Each reported gem comes from its own spec line; each problem
		// from one too.
		specLines := 0
		for _, l := range strings.Split(in, "\n") {
			if strings.HasPrefix(l, "    ") && !strings.HasPrefix(l, "     ") {
				specLines++
			}
		}
		if len(pkgs)+problems.Len() > specLines {
			t.Errorf("%d gems and %d problems from %d spec lines", len(pkgs), problems.Len(), specLines)
		}
		seen := map[string]bool{}
		for _, p := range pkgs {
			if !validName(p.Name) || !validVersion(p.Version) {
				t.Errorf("invalid gem reported: %+v", p)
			}
			if seen[p.PURL] {
				t.Errorf("gem %s reported twice", p.PURL)
			}
			seen[p.PURL] = true
			if u, err := packageurl.FromString(p.PURL); err != nil || u.Name != p.Name || u.Version != p.Version {
				t.Errorf("PURL %q does not round-trip: %v", p.PURL, err)
			}
			if !strings.Contains(in, p.Name+" ("+p.Version) {
				t.Errorf("gem %s %s is not in the input", p.Name, p.Version)
			}
		}
	})
}
