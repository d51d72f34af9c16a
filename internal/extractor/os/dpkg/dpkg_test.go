package dpkg

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/extractor"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
)

func TestFileRequired(t *testing.T) {
	dir := fstest.MapFS{"var/lib/dpkg/status.d/sub": &fstest.MapFile{Mode: fs.ModeDir}}
	dirInfo, err := fs.Stat(dir, "var/lib/dpkg/status.d/sub")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		info fs.FileInfo
		want bool
	}{
		{name: "status", path: "var/lib/dpkg/status", want: true},
		{name: "status_d_file", path: "var/lib/dpkg/status.d/libc6", want: true},
		{name: "status_d_md5sums", path: "var/lib/dpkg/status.d/libc6.md5sums"},
		{name: "status_d_hidden", path: "var/lib/dpkg/status.d/.keep"},
		{name: "status_d_nested", path: "var/lib/dpkg/status.d/a/b"},
		{name: "status_d_itself", path: "var/lib/dpkg/status.d/"},
		{name: "status_d_dir", path: "var/lib/dpkg/status.d/sub", info: dirInfo},
		{name: "status_old", path: "var/lib/dpkg/status-old"},
		{name: "available", path: "var/lib/dpkg/available"},
		{name: "leading_slash", path: "/var/lib/dpkg/status"},
		{name: "elsewhere", path: "srv/var/lib/dpkg/status"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := New().FileRequired(tc.path, tc.info); got != tc.want {
				t.Errorf("FileRequired(%q) = %v, want %v", tc.path, got, tc.want)
			}
		})
	}
}

func deb(name, version, srcName, srcVersion, arch, source, maintainer string) inventory.Package {
	return inventory.Package{
		Name: name, Version: version, SourceName: srcName, SourceVersion: srcVersion,
		Arch: arch, Type: "deb", Source: source, Maintainer: maintainer,
	}
}

func TestParse(t *testing.T) {
	const st = "/var/lib/dpkg/status"
	tests := []struct {
		name     string
		path     string // default var/lib/dpkg/status
		in       string
		want     []inventory.Package
		problems []string
		stats    Stats
	}{
		{
			name: "source_absent",
			in: "Package: tzdata\nStatus: install ok installed\nMaintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>\n" +
				"Architecture: all\nVersion: 2025b-0+deb12u2\n",
			want: []inventory.Package{deb("tzdata", "2025b-0+deb12u2", "tzdata", "2025b-0+deb12u2", "all", st,
				"GNU Libc Maintainers <debian-glibc@lists.debian.org>")},
			stats: Stats{Paragraphs: 1, Installed: 1},
		},
		{
			name:  "source_with_version_and_epoch",
			in:    "Package: bash\nStatus: install ok installed\nArchitecture: amd64\nSource: bash (5.2.15-2)\nVersion: 5.2.15-2+b8\n\nPackage: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nSource: zlib\nVersion: 1:1.2.13.dfsg-1\n",
			want:  []inventory.Package{deb("bash", "5.2.15-2+b8", "bash", "5.2.15-2", "amd64", st, ""), deb("zlib1g", "1:1.2.13.dfsg-1", "zlib", "1:1.2.13.dfsg-1", "amd64", st, "")},
			stats: Stats{Paragraphs: 2, Installed: 2},
		},
		{
			name: "installed_means_third_status_word",
			in: "Package: a\nStatus: hold ok installed\nVersion: 1\n\n" +
				"Package: b\nStatus: deinstall ok installed\nVersion: 1\n\n" +
				"Package: c\nStatus: purge ok installed\nVersion: 1\n\n" +
				"Package: d\nStatus: install reinstreq installed\nVersion: 1\n\n" +
				"Package: e\nStatus: deinstall ok config-files\nVersion: 1\n\n" +
				"Package: f\nStatus: install reinstreq half-installed\nVersion: 1\n\n" +
				"Package: g\nStatus: install ok unpacked\nVersion: 1\n\n" +
				"Package: h\nStatus: install ok half-configured\nVersion: 1\n\n" +
				"Package: i\nStatus: install ok triggers-pending\nVersion: 1\n\n" +
				"Package: j\nStatus: purge ok not-installed\n",
			want: []inventory.Package{
				deb("a", "1", "a", "1", "", st, ""), deb("b", "1", "b", "1", "", st, ""),
				deb("c", "1", "c", "1", "", st, ""), deb("d", "1", "d", "1", "", st, ""),
			},
			stats: Stats{Paragraphs: 10, Installed: 4, NotInstalled: 6},
		},
		{
			name: "malformed_paragraphs_are_problems",
			in: "Status: install ok installed\nVersion: 1\n\n" + // line 1: no Package
				"Package: good\nStatus: install ok installed\nVersion: 1\n\n" + // line 4
				"Package: badsrc\nStatus: install ok installed\nSource: foo (1.0\nVersion: 1\n\n" + // line 8, Source on 10
				"Package: nostatus\nVersion: 1\n\n" + // line 13
				"Package: badstatus\nStatus: installed\nVersion: 1\n\n" + // line 16
				"Package: noversion\nStatus: install ok installed\n\n" + // line 20
				" orphan continuation\nPackage: x\nStatus: install ok installed\nVersion: 1\n\n" + // line 23
				"Package: y\nno colon here\nStatus: install ok installed\nVersion: 1\n\n" + // line 28, bad line 29
				"Package: last\nStatus: install ok installed\nVersion: 2", // line 33, no final newline
			want: []inventory.Package{deb("good", "1", "good", "1", "", st, ""), deb("last", "2", "last", "2", "", st, "")},
			problems: []string{
				"var/lib/dpkg/status:1: paragraph has no Package field",
				`var/lib/dpkg/status:10: package "badsrc" has malformed Source "foo (1.0"`,
				`var/lib/dpkg/status:13: package "nostatus" has no Status field`,
				`var/lib/dpkg/status:16: package "badstatus" has malformed Status "installed"`,
				`var/lib/dpkg/status:20: installed package "noversion" has no Version field`,
				"var/lib/dpkg/status:23: continuation line without a field",
				`var/lib/dpkg/status:29: line is not a "Field: value" pair`,
			},
			stats: Stats{Paragraphs: 9, Installed: 2, Malformed: 7},
		},
		{
			name:  "not_installed_bad_source_is_still_not_installed",
			in:    "Package: old\nStatus: deinstall ok config-files\nSource: (\nVersion: 1\n",
			stats: Stats{Paragraphs: 1, NotInstalled: 1},
		},
		{
			name:  "status_d_without_status",
			path:  "var/lib/dpkg/status.d/libssl3",
			in:    "Package: libssl3\nVersion: 3.0.11-1~deb12u2\nArchitecture: amd64\nSource: openssl\n",
			want:  []inventory.Package{deb("libssl3", "3.0.11-1~deb12u2", "openssl", "3.0.11-1~deb12u2", "amd64", "/var/lib/dpkg/status.d/libssl3", "")},
			stats: Stats{Paragraphs: 1, Installed: 1},
		},
		{
			name:  "crlf_and_blank_runs",
			in:    "\r\n\r\nPackage: a\r\nStatus: install ok installed\r\nVersion: 1.0\r\nDescription: x\r\n more\r\n \t\r\n\r\nPackage: b\r\nStatus: install ok installed\r\nVersion: 2.0\r\n\r\n\r\n",
			want:  []inventory.Package{deb("a", "1.0", "a", "1.0", "", st, ""), deb("b", "2.0", "b", "2.0", "", st, "")},
			stats: Stats{Paragraphs: 2, Installed: 2},
		},
		{
			name:  "empty",
			in:    "",
			stats: Stats{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = StatusPath
			}
			var got []inventory.Package
			var problems plugin.Problems
			stats, err := Parse(context.Background(), strings.NewReader(tc.in), path, func(p inventory.Package) {
				got = append(got, p)
			}, &problems)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("packages (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.problems, problemList(problems.Err())); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.stats, stats); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseSource(t *testing.T) {
	tests := []struct {
		in            string
		name, version string
		ok            bool
	}{
		{in: "glibc", name: "glibc", ok: true},
		{in: "bash (5.2.15-2)", name: "bash", version: "5.2.15-2", ok: true},
		{in: "vim (2:9.0.1378-2)", name: "vim", version: "2:9.0.1378-2", ok: true},
		{in: "gcc-12 ( 12.2.0-14 )", name: "gcc-12", version: "12.2.0-14", ok: true},
		{in: ""},
		{in: "(1.0)"},
		{in: "foo (1.0"},
		{in: "foo 1.0)"},
		{in: "foo ()"},
		{in: "foo (1.0) extra"},
		{in: "foo (1 0)"},
	}
	for _, tc := range tests {
		name, version, ok := parseSource(tc.in)
		if name != tc.name || version != tc.version || ok != tc.ok {
			t.Errorf("parseSource(%q) = %q, %q, %v; want %q, %q, %v", tc.in, name, version, ok, tc.name, tc.version, tc.ok)
		}
	}
}

func problemList(err error) []string {
	var pe *plugin.PartialError
	if errors.As(err, &pe) {
		return pe.Problems
	}
	if err != nil {
		return []string{"not a partial error: " + err.Error()}
	}
	return nil
}

func extractFile(t *testing.T, root, path string) (*inventory.Inventory, error) {
	t.Helper()
	f, err := os.Open(filepath.Join(root, path))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return New().Extract(context.Background(), &extractor.ScanInput{
		FS: os.DirFS(root), Path: path, Info: info, Reader: f, RootPath: root,
	})
}

// TestExtractStatus reads a status file made of real Debian 12 paragraphs,
// including a second architecture and packages in every removal state.
func TestExtractStatus(t *testing.T) {
	root := t.TempDir()
	copyFile(t, "testdata/status", filepath.Join(root, StatusPath))
	inv, err := extractFile(t, root, StatusPath)
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	const st = "/var/lib/dpkg/status"
	glibc := "GNU Libc Maintainers <debian-glibc@lists.debian.org>"
	want := []inventory.Package{
		deb("bash", "5.2.15-2+b8", "bash", "5.2.15-2", "amd64", st, "Matthias Klose <doko@debian.org>"),
		deb("apache2-bin", "2.4.62-1~deb12u2+b1", "apache2", "2.4.62-1~deb12u2", "amd64", st, "Debian Apache Maintainers <debian-apache@lists.debian.org>"),
		deb("libc6", "2.36-9+deb12u14", "glibc", "2.36-9+deb12u14", "amd64", st, glibc),
		deb("libc6", "2.36-9+deb12u14", "glibc", "2.36-9+deb12u14", "i386", st, glibc),
		deb("tzdata", "2025b-0+deb12u2", "tzdata", "2025b-0+deb12u2", "all", st, glibc),
		deb("vim-tiny", "2:9.0.1378-2+deb12u2", "vim", "2:9.0.1378-2+deb12u2", "amd64", st, "Debian Vim Maintainers <team+vim@tracker.debian.org>"),
		deb("zlib1g", "1:1.2.13.dfsg-1", "zlib", "1:1.2.13.dfsg-1", "amd64", st, "Mark Brown <broonie@debian.org>"),
	}
	if diff := cmp.Diff(want, inv.Packages); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}
}

// TestExtractDistroless reads the status.d layout of distroless images,
// whose paragraphs have no Status field.
func TestExtractDistroless(t *testing.T) {
	root := t.TempDir()
	for _, name := range []string{"base-files", "libssl3", "libssl3.md5sums"} {
		copyFile(t, "testdata/distroless/"+name, filepath.Join(root, StatusDir, name))
	}
	var got []inventory.Package
	e := New()
	err := fs.WalkDir(os.DirFS(root), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil || !e.FileRequired(path, info) {
			return err
		}
		inv, err := extractFile(t, root, path)
		if err != nil {
			t.Errorf("Extract(%q): %v", path, err)
		}
		got = append(got, inv.Packages...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []inventory.Package{
		deb("base-files", "12.4+deb12u5", "base-files", "12.4+deb12u5", "amd64", "/var/lib/dpkg/status.d/base-files", "Santiago Vila <sanvila@debian.org>"),
		deb("libssl3", "3.0.11-1~deb12u2", "openssl", "3.0.11-1~deb12u2", "amd64", "/var/lib/dpkg/status.d/libssl3", "Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>"),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}
}

func TestExtractLongLine(t *testing.T) {
	in := "Package: a\nStatus: install ok installed\nVersion: 1\n\nPackage: b\nDescription: " +
		strings.Repeat("x", maxLine+1) + "\n"
	inv, err := New().Extract(context.Background(), &extractor.ScanInput{Path: StatusPath, Reader: strings.NewReader(in)})
	want := []string{"var/lib/dpkg/status:6: bufio.Scanner: token too long"}
	if diff := cmp.Diff(want, problemList(err)); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if inv == nil || len(inv.Packages) != 1 || inv.Packages[0].Name != "a" {
		t.Errorf("packages = %+v, want just a", inv)
	}
}

func TestExtractCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	in := strings.Repeat("Package: a\nStatus: install ok installed\nVersion: 1\n\n", 2*ctxEvery)
	_, err := New().Extract(ctx, &extractor.ScanInput{Path: StatusPath, Reader: strings.NewReader(in)})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Extract with canceled context: err = %v, want context.Canceled", err)
	}
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// countParagraphs counts paragraphs the simple way: runs of lines that are
// not blank.
func countParagraphs(in string) int {
	n, inPara := 0, false
	for _, l := range strings.Split(in, "\n") {
		if strings.TrimSpace(l) == "" {
			inPara = false
			continue
		}
		if !inPara {
			n++
		}
		inPara = true
	}
	return n
}

func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("testdata/status"); err == nil {
		f.Add(string(b), false)
	}
	if b, err := os.ReadFile("testdata/distroless/libssl3"); err == nil {
		f.Add(string(b), true)
	}
	f.Add("Package: a\nStatus: install ok installed\nSource: b (1)\nVersion: 1\n\n \nPackage: c\n", false)
	f.Add("Package: a\r\nVersion: 1\r\n x\r\n\r\n:\n\t\n", true)
	f.Fuzz(func(t *testing.T, in string, statusD bool) {
		path := StatusPath
		if statusD {
			path = StatusDir + "/pkg"
		}
		var got []inventory.Package
		var problems plugin.Problems
		stats, err := Parse(context.Background(), strings.NewReader(in), path, func(p inventory.Package) {
			got = append(got, p)
		}, &problems)
		if err != nil {
			if !errors.Is(err, bufio.ErrTooLong) {
				t.Fatalf("Parse: unexpected error %v", err)
			}
			return
		}
		if n := countParagraphs(in); stats.Paragraphs != n {
			t.Errorf("Paragraphs = %d, want %d", stats.Paragraphs, n)
		}
		if sum := stats.Installed + stats.NotInstalled + stats.Malformed; sum != stats.Paragraphs {
			t.Errorf("stats %+v do not add up", stats)
		}
		if len(got) != stats.Installed {
			t.Errorf("emitted %d packages, stats say %d installed", len(got), stats.Installed)
		}
		if want := min(stats.Malformed, 100); min(problems.Len(), 100) != want {
			t.Errorf("%d problems for %d malformed paragraphs", problems.Len(), stats.Malformed)
		}
		for _, p := range got {
			if p.Name == "" || p.Version == "" || p.SourceName == "" || p.SourceVersion == "" || p.Type != "deb" ||
				strings.ContainsAny(p.Name+p.Version+p.SourceName, "\n") {
				t.Errorf("bad package %+v", p)
			}
			if !bytes.Contains([]byte(in), []byte(p.Name)) {
				t.Errorf("package name %q not in input", p.Name)
			}
		}
	})
}

// BenchmarkDpkgStatus parses this machine's dpkg status file.
func BenchmarkDpkgStatus(b *testing.B) {
	data, err := os.ReadFile("/" + StatusPath)
	if err != nil {
		b.Skipf("no dpkg status on this machine: %v", err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	e := New()
	for b.Loop() {
		inv, err := e.Extract(context.Background(), &extractor.ScanInput{Path: StatusPath, Reader: bytes.NewReader(data)})
		if err != nil || len(inv.Packages) == 0 {
			b.Fatalf("Extract: %d packages, %v", len(inv.Packages), err)
		}
	}
}
