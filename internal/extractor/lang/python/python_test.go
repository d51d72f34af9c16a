package python

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/extractor"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/testutil"
)

func TestFileRequired(t *testing.T) {
	fsys := fstest.MapFS{"a/x.egg-info": {Mode: fs.ModeDir}}
	dirInfo, _ := fs.Stat(fsys, "a/x.egg-info")
	tests := []struct {
		name string
		path string
		info fs.FileInfo
		want bool
	}{
		{name: "dist_info", path: "usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA", want: true},
		{name: "egg_info_dir", path: "usr/lib/python3.9/site-packages/x-1.0-py3.9.egg-info/PKG-INFO", want: true},
		{name: "egg_info_file", path: "usr/lib/python3/dist-packages/six-1.16.0.egg-info", want: true},
		{name: "egg", path: "site-packages/x-1.0-py3.9.egg/EGG-INFO/PKG-INFO", want: true},
		{name: "egg_info_dir_itself", path: "a/x.egg-info", info: dirInfo},
		{name: "record", path: "site-packages/x-1.0.dist-info/RECORD"},
		{name: "metadata_elsewhere", path: "site-packages/x/METADATA"},
		{name: "sdist_pkg_info", path: "src/x-1.0/PKG-INFO"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := New().FileRequired(tc.path, tc.info); got != tc.want {
				t.Errorf("FileRequired(%q) = %v, want %v", tc.path, got, tc.want)
			}
		})
	}
}

// extractTree runs the extractor on every file of fsys it wants, as a
// scan does, and returns the packages and the errors by path.
func extractTree(t *testing.T, fsys fs.FS, root string) ([]inventory.Package, map[string]string) {
	t.Helper()
	var pkgs []inventory.Package
	errs := map[string]string{}
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil || !New().FileRequired(p, info) {
			return err
		}
		f, err := fsys.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		inv, err := New().Extract(context.Background(), &extractor.ScanInput{FS: fsys, Path: p, Info: info, Reader: f})
		if err != nil {
			errs[p] = err.Error()
			return nil
		}
		pkgs = append(pkgs, inv.Packages...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs, errs
}

func py(name, version, purlName, loc string) inventory.Package {
	return inventory.Package{Name: name, Version: version, Type: "pypi", Ecosystem: "PyPI",
		PURL: "pkg:pypi/" + purlName + "@" + version, Locations: []string{loc}}
}

func TestExtractLayouts(t *testing.T) {
	dir := testutil.TxtarToDir(t, "testdata/layouts.txtar")
	got, errs := extractTree(t, os.DirFS(dir), ".")
	want := []inventory.Package{
		py("Django", "3.2.4", "django", "opt/app/venv/lib/python3.11/site-packages/Django-3.2.4.dist-info/METADATA"),
		py("zope.interface", "5.4.0", "zope-interface", "opt/app/venv/lib/python3.11/site-packages/zope.interface-5.4.0.dist-info/METADATA"),
		py("PyYAML", "6.0", "pyyaml", "usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA"),
		py("crcmod", "1.7", "crcmod", "usr/lib/python3/dist-packages/crcmod-1.7.egg-info/PKG-INFO"),
		py("six", "1.16.0", "six", "usr/lib/python3/dist-packages/six-1.16.0.egg-info"),
		py("certifi", "2023.7.22", "certifi", "usr/lib/python3.11/site-packages/certifi-2023.7.22.dist-info/METADATA"),
		py("urllib3", "1.26.5", "urllib3", "usr/lib/python3.9/site-packages/urllib3-1.26.5-py3.9.egg-info/PKG-INFO"),
		py("PyYAML", "5.4.1", "pyyaml", "usr/lib64/python3.9/site-packages/PyYAML-5.4.1-py3.9.egg-info/PKG-INFO"),
		py("requests", "2.25.1", "requests", "usr/local/lib/python3.11/dist-packages/requests-2.25.1.dist-info/METADATA"),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("packages mismatch (-want +got):\n%s", diff)
	}
	wantErrs := map[string]string{
		"opt/app/venv/lib/python3.11/site-packages/broken-1.0.dist-info/METADATA": `parse "opt/app/venv/lib/python3.11/site-packages/broken-1.0.dist-info/METADATA": package "broken" has no Version field`,
	}
	if diff := cmp.Diff(wantErrs, errs); diff != "" {
		t.Errorf("errors mismatch (-want +got):\n%s", diff)
	}
}

func TestParseMetadata(t *testing.T) {
	tests := []struct {
		name, in, wantName, wantVersion, err string
	}{
		{name: "crlf", in: "Metadata-Version: 2.1\r\nName: Flask\r\nVersion: 2.0.1\r\n\r\n", wantName: "Flask", wantVersion: "2.0.1"},
		{name: "first_wins", in: "Name: a\nVersion: 1\nName: b\nVersion: 2\n", wantName: "a", wantVersion: "1"},
		{name: "lowercase_keys", in: "name: a\nversion: 1!2.0.post1+local\n", wantName: "a", wantVersion: "1!2.0.post1+local"},
		{name: "no_name", in: "Version: 1\n", err: "no Name field"},
		{name: "body_not_read", in: "Name: a\n\nVersion: 1\n", err: `package "a" has no Version field`},
		{name: "bad_name", in: "Name: a b\nVersion: 1\n", err: `malformed package name "a b"`},
		{name: "bad_version", in: "Name: a\nVersion: 1 ; rm -rf\n", err: `package "a" has malformed version "1 ; rm -rf"`},
		{name: "empty", in: "", err: "no Name field"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, v, err := ParseMetadata(strings.NewReader(tc.in))
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if n != tc.wantName || v != tc.wantVersion || gotErr != tc.err {
				t.Errorf("ParseMetadata = %q, %q, %q; want %q, %q, %q", n, v, gotErr, tc.wantName, tc.wantVersion, tc.err)
			}
		})
	}
}

func TestNormalizeName(t *testing.T) {
	for in, want := range map[string]string{
		"PyYAML": "pyyaml", "zope.interface": "zope-interface", "Foo__Bar--baz..Qux": "foo-bar-baz-qux",
		"ruamel.yaml.clib": "ruamel-yaml-clib", "a": "a",
	} {
		if got := NormalizeName(in); got != want {
			t.Errorf("NormalizeName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLiveHost compares what the extractor finds in this machine's
// dist-packages with what Python's own importlib.metadata reports.
func TestLiveHost(t *testing.T) {
	const dir = "/usr/lib/python3/dist-packages"
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		t.Skipf("%s does not exist", dir)
	}
	python := testutil.RequireCommand(t, "python3")
	out, err := exec.Command(python, "-c", `import importlib.metadata as m
for d in m.distributions(path=["`+dir+`"]):
    if d.metadata["Name"] and d.version:
        print(d.metadata["Name"], d.version)`).Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	want := strings.Split(strings.TrimSpace(string(out)), "\n")
	got, errs := extractTree(t, os.DirFS("/"), strings.TrimPrefix(dir, "/"))
	var gotLines []string
	for _, p := range got {
		gotLines = append(gotLines, p.Name+" "+p.Version)
	}
	slices.Sort(want)
	slices.Sort(gotLines)
	if diff := cmp.Diff(want, gotLines); diff != "" {
		t.Errorf("packages differ from importlib.metadata (-want +got):\n%s", diff)
	}
	if len(errs) != 0 {
		t.Errorf("errors: %v", errs)
	}
}

func FuzzParseMetadata(f *testing.F) {
	f.Add([]byte("Metadata-Version: 2.1\nName: PyYAML\nVersion: 6.0\nSummary: YAML\n\nbody\n"))
	f.Add([]byte("Name: a\r\n Version: 2\r\nVersion: 1\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, v, err := ParseMetadata(strings.NewReader(string(data)))
		if err != nil {
			if n != "" || v != "" {
				t.Fatalf("%q, %q with error %v", n, v, err)
			}
			return
		}
		if !ValidName(n) || !ValidVersion(v) || !strings.Contains(string(data), n) || !strings.Contains(string(data), v) {
			t.Fatalf("bad result %q, %q", n, v)
		}
		if norm := NormalizeName(n); norm == "" || strings.ContainsAny(norm, "_.") || strings.ToLower(norm) != norm {
			t.Fatalf("NormalizeName(%q) = %q", n, norm)
		}
	})
}
