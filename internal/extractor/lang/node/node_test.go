package node

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/package-url/packageurl-go"

	"github.com/vigilsec/vigil/internal/extractor"
	"github.com/vigilsec/vigil/internal/extractor/lang/internal/langutil"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/testutil"
)

func TestFileRequired(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{path: "node_modules/express/package.json", want: true},
		{path: "srv/app/node_modules/express/package.json", want: true},
		{path: "srv/app/node_modules/@babel/core/package.json", want: true},
		{path: "srv/app/node_modules/a/node_modules/b/package.json", want: true},
		{path: "srv/node_modules/.pnpm/react@18.2.0/node_modules/react/package.json", want: true},
		{path: "srv/app/package.json"},
		{path: "srv/app/node_modules/package.json"},
		{path: "srv/app/node_modules/.bin/package.json"},
		{path: "srv/app/node_modules/.pnpm/package.json"},
		{path: "srv/app/node_modules/@babel/package.json"},
		{path: "srv/app/node_modules/express/lib/package.json"},
		{path: "srv/app/node_modules/@babel/core/lib/package.json"},
		{path: "srv/app/node_modules/express/test/fixtures/package.json"},
		{path: "srv/app/my_node_modules/express/package.json"},
		{path: "srv/app/node_modules/express/package.json.orig"},
	}
	for _, tc := range tests {
		t.Run(strings.ReplaceAll(tc.path, "/", "_"), func(t *testing.T) {
			if got := New().FileRequired(tc.path, nil); got != tc.want {
				t.Errorf("FileRequired(%q) = %v, want %v", tc.path, got, tc.want)
			}
		})
	}
}

// TestExtractTree walks a fixture tree as a directory scan does and
// extracts every file FileRequired selects.
func TestExtractTree(t *testing.T) {
	fsys := os.DirFS(testutil.TxtarToDir(t, "testdata/tree.txtar"))
	e := New()
	var got []inventory.Package
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !e.FileRequired(path, nil) {
			return err
		}
		f, err := fsys.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		inv, err := e.Extract(context.Background(), &extractor.ScanInput{FS: fsys, Path: path, Reader: f})
		if err != nil {
			t.Errorf("Extract(%q): %v", path, err)
			return nil
		}
		got = append(got, inv.Packages...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []inventory.Package{
		NewPackage("@babel/core", "7.23.2", "srv/app/node_modules/@babel/core/package.json"),
		NewPackage("debug", "2.6.9", "srv/app/node_modules/debug/package.json"),
		NewPackage("debug", "4.3.4", "srv/app/node_modules/express/node_modules/debug/package.json"),
		NewPackage("express", "4.18.2", "srv/app/node_modules/express/package.json"),
		// An alias directory holds the real package's manifest.
		NewPackage("string-width", "4.2.3", "srv/app/node_modules/string-width-cjs/package.json"),
		NewPackage("react", "18.2.0", "srv/web/node_modules/.pnpm/react@18.2.0/node_modules/react/package.json"),
		NewPackage("npm", "9.2.0", "usr/lib/node_modules/npm/package.json"),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}
}

func TestNewPackage(t *testing.T) {
	tests := []struct {
		name, pkg, version string
		want               inventory.Package
	}{
		{name: "plain", pkg: "express", version: "4.18.2", want: inventory.Package{
			Name: "express", Version: "4.18.2", Type: "npm", Ecosystem: "npm",
			PURL: "pkg:npm/express@4.18.2", Locations: []string{"l"},
		}},
		{name: "scoped", pkg: "@babel/core", version: "7.23.2", want: inventory.Package{
			Name: "@babel/core", Version: "7.23.2", Type: "npm", Ecosystem: "npm",
			PURL: "pkg:npm/%40babel/core@7.23.2", Locations: []string{"l"},
		}},
		{name: "prerelease_build", pkg: "esbuild", version: "0.19.0-beta.1+sha.5114f2a", want: inventory.Package{
			Name: "esbuild", Version: "0.19.0-beta.1+sha.5114f2a", Type: "npm", Ecosystem: "npm",
			PURL: "pkg:npm/esbuild@0.19.0-beta.1%2Bsha.5114f2a", Locations: []string{"l"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, NewPackage(tc.pkg, tc.version, "l")); diff != "" {
				t.Errorf("NewPackage (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidName(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"express", true}, {"@babel/core", true}, {"JSONStream", true}, {"lodash.merge", true},
		{"string_decoder", true}, {"", false}, {".bin", false}, {"_x", false}, {"@babel", false},
		{"@/core", false}, {"@babel/", false}, {"a/b", false}, {"@a/b/c", false}, {"a b", false},
		{"a@1", false}, {"..", false}, {"@babel/.x", false}, {strings.Repeat("a", 215), false},
	}
	for _, tc := range tests {
		if got := ValidName(tc.name); got != tc.want {
			t.Errorf("ValidName(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestParseMalformed(t *testing.T) {
	const path = "node_modules/x/package.json"
	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{name: "empty", in: "", wantErr: "parse node_modules/x/package.json: line 1, column 1: unexpected end of JSON input"},
		{name: "syntax", in: "{\n  \"name\": \"x\",\n  \"version\": 1.0.0\n}", wantErr: "parse node_modules/x/package.json: line 3, column 17: invalid character '.' after object key:value pair"},
		{name: "no_version", in: `{"name": "x"}`, wantErr: `parse node_modules/x/package.json: "version": missing`},
		{name: "no_name", in: `{"version": "1.0.0"}`, wantErr: `parse node_modules/x/package.json: "name": missing`},
		{name: "version_number", in: `{"name": "x", "version": 1}`, wantErr: `parse node_modules/x/package.json: "version": not a string`},
		{name: "not_object", in: `["x"]`, wantErr: "parse node_modules/x/package.json: line 1, column 1: json: cannot unmarshal array"},
		{name: "bad_name", in: `{"name": "../x", "version": "1.0.0"}`, wantErr: `parse node_modules/x/package.json: invalid package name "../x"`},
		{name: "bad_version", in: `{"name": "x", "version": "1.0.0\n"}`, wantErr: `parse node_modules/x/package.json: package "x" has invalid version "1.0.0\n"`},
		{name: "too_large", in: `{"name": "x", "d": "` + strings.Repeat("a", maxManifest) + `"}`, wantErr: "read node_modules/x/package.json: file too large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.in), path)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Parse error = %v, want it to contain %q", err, tc.wantErr)
			}
			if tc.name == "too_large" && !errors.Is(err, langutil.ErrTooLarge) {
				t.Errorf("Parse error = %v, want one wrapping ErrTooLarge", err)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add(`{"name": "@babel/core", "version": "7.23.2", "main": "./lib/index.js"}`)
	f.Add(`{"name": "express", "version": "4.18.2", "dependencies": {"debug": "2.6.9"}}`)
	f.Add("{\n\"name\": \"x\",\n\"version\": 1\n}")
	f.Fuzz(func(t *testing.T, in string) {
		p, err := Parse(strings.NewReader(in), "node_modules/x/package.json")
		if err != nil {
			if !strings.Contains(err.Error(), "node_modules/x/package.json") {
				t.Errorf("error %q does not name the file", err)
			}
			return
		}
		if !ValidName(p.Name) || !ValidVersion(p.Version) {
			t.Errorf("invalid package accepted: %+v", p)
		}
		u, err := packageurl.FromString(p.PURL)
		if err != nil || u.Version != p.Version {
			t.Errorf("PURL %q does not round-trip: %v", p.PURL, err)
		}
		name := u.Name
		if u.Namespace != "" {
			name = u.Namespace + "/" + u.Name
		}
		if name != p.Name {
			t.Errorf("PURL name %q, want %q", name, p.Name)
		}
	})
}
