package requirements

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/extractor"
	"github.com/vigilsec/vigil/internal/extractor/lang/python"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/testutil"
)

func TestFileRequired(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"requirements.txt", true},
		{"srv/app/requirements-dev.txt", true},
		{"dev-requirements.txt", true},
		{"requirements.in", false},
		{"notes.txt", false},
		{"requirements.txt.bak", false},
	}
	for _, tc := range tests {
		t.Run(strings.ReplaceAll(tc.path, "/", "_"), func(t *testing.T) {
			if got := New().FileRequired(tc.path, nil); got != tc.want {
				t.Errorf("FileRequired(%q) = %v, want %v", tc.path, got, tc.want)
			}
		})
	}
	fsys := fstest.MapFS{"requirements.txt": {Mode: fs.ModeDir}}
	info, _ := fs.Stat(fsys, "requirements.txt")
	if New().FileRequired("requirements.txt", info) {
		t.Error("FileRequired(directory) = true")
	}
}

func problemsOf(err error) []string {
	var pe *plugin.PartialError
	if errors.As(err, &pe) {
		return pe.Problems
	}
	return nil
}

func TestExtractProject(t *testing.T) {
	dir := testutil.TxtarToDir(t, "testdata/project.txtar")
	fsys := os.DirFS(dir)
	const main = "srv/app/requirements.txt"
	f, err := fsys.Open(main)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	inv, err := New().Extract(context.Background(), &extractor.ScanInput{FS: fsys, Path: main, Reader: f})
	const base, cons = "srv/app/requirements/base.txt", "srv/app/constraints.txt"
	want := []inventory.Package{
		python.Package("sqlparse", "0.4.1", base),
		python.Package("pytz", "2021.1", base),
		python.Package("cryptography", "3.3.2", cons),
		python.Package("asgiref", "3.4.1", main),
		python.Package("Django", "3.2.4", main),
		python.Package("requests", "2.25.1", main),
		python.Package("PyYAML", "5.3.1", main),
	}
	if diff := cmp.Diff(want, inv.Packages); diff != "" {
		t.Errorf("packages mismatch (-want +got):\n%s", diff)
	}
	wantProblems := []string{
		`srv/app/requirements.txt:18: "flask>=2.0": not pinned to one version: skipped`,
		`srv/app/requirements.txt:19: "gunicorn": no version specifier: skipped`,
		`srv/app/requirements.txt:20: "numpy==1.21.*": wildcard version: skipped`,
		`srv/app/requirements.txt:21: "urllib3>=1.26,<2": not pinned to one version: skipped`,
		`srv/app/requirements.txt:22: editable requirement "git+https://github.com/example/lib.git#egg=lib" has no version: skipped`,
		`srv/app/requirements.txt:23: "pip @ https://github.com/pypa/pip/archive/1.3.1.zip#sha1=da9234ee9982d4bbb3c7...": direct URL reference: skipped`,
		`srv/app/requirements.txt:24: "./vendor/mylib": not a package requirement (a path or URL?): skipped`,
		`srv/app/requirements.txt:25: include "../../../../../etc/passwd": outside the scan root`,
		`srv/app/requirements.txt:26: include "link.txt": "srv/app/link.txt" is a symbolic link: not followed`,
	}
	if diff := cmp.Diff(wantProblems, problemsOf(err)); diff != "" {
		t.Errorf("problems mismatch (-want +got):\n%s", diff)
	}
}

func TestParse(t *testing.T) {
	const loc = "requirements.txt"
	tests := []struct {
		name     string
		in       string
		files    fstest.MapFS
		want     []inventory.Package
		problems []string
	}{
		{
			name: "continuation_without_final_newline",
			in:   "six\\\n==1.16.0",
			want: []inventory.Package{python.Package("six", "1.16.0", loc)},
		},
		{
			name: "comment_line_ending_in_backslash",
			in:   "# see \\\nsix==1.16.0\n",
			want: []inventory.Package{python.Package("six", "1.16.0", loc)},
		},
		{
			name: "old_parenthesised_and_spaces",
			in:   "six (==1.16.0)\nattrs == 21.2.0\n",
			want: []inventory.Package{python.Package("six", "1.16.0", loc), python.Package("attrs", "21.2.0", loc)},
		},
		{
			name:     "missing_include",
			in:       "-r nope.txt\n",
			files:    fstest.MapFS{},
			problems: []string{`requirements.txt:1: include "nope.txt": lstat nope.txt: file does not exist`},
		},
		{
			name:  "include_cycle_read_once",
			in:    "-r a.txt\n",
			files: fstest.MapFS{"a.txt": {Data: []byte("-r requirements.txt\n-r a.txt\nsix==1\n")}},
			want:  []inventory.Package{python.Package("six", "1", "a.txt")},
		},
		{
			name:     "deep_includes",
			in:       "-r 1.txt\n",
			files:    chain(10),
			want:     deepWant(8),
			problems: []string{`8.txt:1: include "9.txt": nested deeper than 8 files`},
		},
		{
			name:     "bad_extras_and_version",
			in:       "a[b==1\nc==1;x\nd==1 2\n",
			want:     []inventory.Package{python.Package("c", "1", loc)},
			problems: []string{`requirements.txt:1: "a[b==1": unterminated extras: skipped`, `requirements.txt:3: "d==1 2": malformed version "1 2": skipped`},
		},
		{
			name: "duplicates_dropped",
			in:   "six==1.0\nSix==1.0\n",
			want: []inventory.Package{python.Package("six", "1.0", loc)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var problems plugin.Problems
			var fsys fs.FS
			if tc.files != nil {
				fsys = tc.files
			}
			got, err := Parse(context.Background(), fsys, loc, []byte(tc.in), &problems)
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

// chain returns files 1.txt ... n.txt, each pinning p<i> and including
// the next.
func chain(n int) fstest.MapFS {
	m := fstest.MapFS{}
	for i := 1; i <= n; i++ {
		s := string(rune('0' + i))
		if i >= 10 {
			s = "1" + string(rune('0'+i-10))
		}
		next := string(rune('0' + i + 1))
		if i+1 >= 10 {
			next = "1" + string(rune('0'+i+1-10))
		}
		m[s+".txt"] = &fstest.MapFile{Data: []byte("-r " + next + ".txt\np" + s + "==1\n")}
	}
	return m
}

// deepWant is what chain gives when includes stop after n files: the
// deepest file's package first, as each file includes before it pins.
func deepWant(n int) []inventory.Package {
	var pkgs []inventory.Package
	for i := n; i >= 1; i-- {
		s := string(rune('0' + i))
		pkgs = append(pkgs, python.Package("p"+s, "1", s+".txt"))
	}
	return pkgs
}

func TestExtractTooLarge(t *testing.T) {
	_, err := New().Extract(context.Background(), &extractor.ScanInput{Path: "requirements.txt",
		Reader: strings.NewReader(strings.Repeat("#", MaxSize+1))})
	if err == nil || !strings.Contains(err.Error(), `"requirements.txt"`) {
		t.Errorf("Extract error = %v, want one naming the file", err)
	}
}

func FuzzParse(f *testing.F) {
	if dir, err := os.ReadFile("testdata/project.txtar"); err == nil {
		f.Add(dir)
	}
	f.Add([]byte("a==1 \\\n --hash=sha256:00\nb[x]===2 ; sys_platform == 'linux'\n-r other.txt\n-e .\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var problems plugin.Problems
		fsys := fstest.MapFS{"other.txt": {Data: data}}
		pkgs, err := Parse(context.Background(), fsys, "requirements.txt", data, &problems)
		if err != nil {
			return // a line longer than MaxSize
		}
		// Each line gives at most one package or problem, in each of
		// the (at most two) files read.
		lines := strings.Count(string(data), "\n") + 1
		if len(pkgs)+problems.Len() > 2*lines {
			t.Fatalf("%d packages and %d problems from %d lines", len(pkgs), problems.Len(), lines)
		}
		for _, p := range pkgs {
			if !python.ValidName(p.Name) || !python.ValidVersion(p.Version) || !strings.Contains(string(data), p.Version) {
				t.Fatalf("bad package %+v", p)
			}
		}
	})
}
