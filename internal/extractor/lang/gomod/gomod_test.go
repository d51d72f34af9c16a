package gomod

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/extractor"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
)

func TestFileRequired(t *testing.T) {
	fsys := fstest.MapFS{"go.mod": {}, "x/go.mod": {Mode: fs.ModeDir}}
	tests := []struct {
		name string
		path string
		want bool
	}{
		{name: "root", path: "go.mod", want: true},
		{name: "nested", path: "src/app/go.mod", want: true},
		{name: "go_sum", path: "src/app/go.sum"},
		{name: "suffix", path: "src/app/xgo.mod"},
		{name: "directory", path: "x/go.mod"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			info, _ := fs.Stat(fsys, tc.path)
			if got := New().FileRequired(tc.path, info); got != tc.want {
				t.Errorf("FileRequired(%q) = %v, want %v", tc.path, got, tc.want)
			}
		})
	}
}

func gopkg(path, version, loc string) inventory.Package {
	ns, name := path[:max(strings.LastIndexByte(path, '/'), 0)], path[strings.LastIndexByte(path, '/')+1:]
	purl := "pkg:golang/" + name + "@" + version
	if ns != "" {
		purl = "pkg:golang/" + ns + "/" + name + "@" + version
	}
	return inventory.Package{Name: path, Version: version, Type: "golang", Ecosystem: "Go",
		PURL: purl, Locations: []string{loc}}
}

func TestParse(t *testing.T) {
	const loc = "src/go.mod"
	tests := []struct {
		name     string
		in       string
		want     []inventory.Package
		problems []string
		err      bool
	}{
		{
			name: "single_line_require_no_toolchain",
			in:   "module example.com/a\n\ngo 1.21\n\nrequire golang.org/x/text v0.3.7\n",
			want: []inventory.Package{gopkg("golang.org/x/text", "0.3.7", loc)},
		},
		{
			name: "versioned_replace_only_matches_its_version",
			in: "module m\n\nrequire (\n\tgolang.org/x/net v0.7.0\n\tgolang.org/x/sys v0.1.0\n)\n" +
				"replace golang.org/x/net v0.6.0 => golang.org/x/net v0.8.0\n" +
				"replace golang.org/x/sys => golang.org/x/sys v0.2.0\n",
			want: []inventory.Package{gopkg("golang.org/x/net", "0.7.0", loc), gopkg("golang.org/x/sys", "0.2.0", loc)},
		},
		{
			name: "replace_to_fork",
			in:   "module m\nrequire github.com/a/b v1.0.0\nreplace github.com/a/b => github.com/fork/b v1.0.1-fix\n",
			want: []inventory.Package{gopkg("github.com/fork/b", "1.0.1-fix", loc)},
		},
		{
			name: "toolchain_is_not_the_build_go",
			in:   "module m\ngo 1.22\ntoolchain go1.22rc2\n",
			want: nil,
		},
		{
			name:     "bad_toolchain",
			in:       "module m\ntoolchain gox\nrequire a.com/b v1.0.0\n",
			want:     []inventory.Package{gopkg("a.com/b", "1.0.0", loc)},
			problems: []string{"src/go.mod:2: invalid toolchain version 'gox': must match format go1.23.0 or default"},
		},
		{
			name:     "bad_require_line_others_kept",
			in:       "module m\nrequire (\n\tgolang.org/x/net v0.7.0\n\tgolang.org/x/sys notaversion\n\tgolang.org/x/text v0.3.7\n)\n",
			want:     []inventory.Package{gopkg("golang.org/x/net", "0.7.0", loc), gopkg("golang.org/x/text", "0.3.7", loc)},
			problems: []string{`src/go.mod:4:2: require golang.org/x/sys: version "notaversion" invalid: must be of the form v1.2.3`},
		},
		{
			name: "duplicate_require",
			in:   "module m\nrequire a.com/b v1.0.0\nrequire a.com/b v1.0.0\n",
			want: []inventory.Package{gopkg("a.com/b", "1.0.0", loc)},
		},
		{
			name: "unclosed_block",
			in:   "module m\nrequire (\n\ta.com/b v1.0.0\n",
			err:  true,
		},
		{
			name: "empty",
			in:   "",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var problems plugin.Problems
			got, err := Parse(loc, []byte(tc.in), &problems)
			if (err != nil) != tc.err {
				t.Fatalf("Parse error = %v, want error %v", err, tc.err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Parse mismatch (-want +got):\n%s", diff)
			}
			var gotProblems []string
			if pe, ok := problems.Err().(*plugin.PartialError); ok {
				gotProblems = pe.Problems
			}
			if diff := cmp.Diff(tc.problems, gotProblems); diff != "" {
				t.Errorf("problems mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExtract(t *testing.T) {
	const loc = "testdata/go.mod"
	fsys := os.DirFS(".")
	f, err := fsys.Open(loc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, _ := f.Stat()
	inv, err := New().Extract(context.Background(), &extractor.ScanInput{FS: fsys, Path: loc, Info: info, Reader: f})
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	want := []inventory.Package{
		gopkg("github.com/gin-gonic/gin", "1.9.0", loc),
		gopkg("github.com/golang-jwt/jwt/v4", "4.4.1", loc),
		gopkg("golang.org/x/net", "0.23.0", loc),
		gopkg("gopkg.in/yaml.v3", "3.0.0-20210107192922-496545a6307b", loc),
		// github.com/bytedance/sonic is replaced by a local directory.
		gopkg("github.com/BurntSushi/toml", "1.2.1", loc),
		gopkg("golang.org/x/crypto", "0.14.0", loc),
		gopkg("golang.org/x/text", "0.13.0", loc),
		// No stdlib: the toolchain line is a minimum, not the build's Go.
	}
	if diff := cmp.Diff(want, inv.Packages); diff != "" {
		t.Errorf("Extract mismatch (-want +got):\n%s", diff)
	}
}

func TestExtractTooLarge(t *testing.T) {
	r := bytes.NewReader(make([]byte, MaxSize+1))
	if _, err := New().Extract(context.Background(), &extractor.ScanInput{Path: "go.mod", Reader: r}); err == nil {
		t.Error("Extract of an oversized go.mod succeeded")
	}
}

func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("testdata/go.mod"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("module m\nrequire (\n\ta.com/b v1.0.0\n\tc.com/d bad\n)\nreplace a.com/b => ./x\ntoolchain go1.21.0\n"))
	f.Add([]byte("module m\nrequire a v1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var problems plugin.Problems
		pkgs, err := Parse("go.mod", data, &problems)
		if err != nil {
			if pkgs != nil {
				t.Fatal("Parse returned packages and an error")
			}
			return
		}
		requires := bytes.Count(data, []byte("\n")) + 2 // at most one module per line, plus stdlib
		if len(pkgs) > requires {
			t.Fatalf("%d packages from %d lines", len(pkgs), requires)
		}
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" || strings.HasPrefix(p.Version, "v") || !strings.HasPrefix(p.PURL, "pkg:golang/") {
				t.Fatalf("bad package %+v", p)
			}
		}
	})
}
