package gobinary

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/extractor"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/testutil"
)

func TestFileRequired(t *testing.T) {
	fsys := fstest.MapFS{
		"exec":      {Mode: 0o755, Data: make([]byte, minSize)},
		"user_exec": {Mode: 0o700, Data: make([]byte, minSize)},
		"noexec":    {Mode: 0o644, Data: make([]byte, minSize)},
		"small":     {Mode: 0o755, Data: make([]byte, 100)},
		"dir":       {Mode: fs.ModeDir | 0o755},
		"link":      {Mode: fs.ModeSymlink | 0o777, Data: make([]byte, minSize)},
	}
	tests := []struct {
		name string
		file string
		want bool
	}{
		{name: "executable", file: "exec", want: true},
		{name: "owner_executable", file: "user_exec", want: true},
		{name: "not_executable", file: "noexec"},
		{name: "too_small", file: "small"},
		{name: "directory", file: "dir"},
		{name: "symlink", file: "link"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			info, err := fs.Lstat(fsys, tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if got := New().FileRequired(tc.file, info); got != tc.want {
				t.Errorf("FileRequired(%q) = %v, want %v", tc.file, got, tc.want)
			}
		})
	}
	if New().FileRequired("x", nil) {
		t.Error("FileRequired with nil info = true")
	}
}

func TestGoVersion(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" means no version
	}{
		{in: "go1.21.3", want: "1.21.3"},
		{in: "go1.19.8", want: "1.19.8"},
		{in: "go1.20", want: "1.20.0"},
		{in: "go1.22rc1", want: "1.22.0-rc.1"},
		{in: "go1.9beta2", want: "1.9.0-beta.2"},
		{in: "go1.21.3 X:boringcrypto", want: "1.21.3"},
		{in: "devel go1.22-abcdef Tue Jan 1 00:00:00 2023 +0000"},
		{in: "go1"},
		{in: "go1.2.3.4"},
		{in: "go1.x"},
		{in: "1.21.3"},
		{in: "go1.21rc"},
		{in: ""},
	}
	for _, tc := range tests {
		t.Run(strings.NewReplacer(" ", "_", ":", "_").Replace(tc.in), func(t *testing.T) {
			got, ok := GoVersion(tc.in)
			if ok != (tc.want != "") || got != tc.want {
				t.Errorf("GoVersion(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
			}
		})
	}
}

func gopkg(path, version, purl, loc string) inventory.Package {
	return inventory.Package{Name: path, Version: version, Type: "golang", Ecosystem: "Go",
		PURL: purl, Locations: []string{loc}}
}

func TestPackages(t *testing.T) {
	const loc = "usr/bin/app"
	tests := []struct {
		name     string
		goVer    string
		info     string // debug.BuildInfo text, as `go version -m` prints it
		want     []inventory.Package
		problems int
	}{
		{
			name:  "main_deps_replace",
			goVer: "go1.21.3",
			info: "path\tgithub.com/acme/tool/cmd/tool\n" +
				"mod\tgithub.com/acme/tool\tv1.4.0\th1:abc=\n" +
				"dep\tgolang.org/x/net\tv0.7.0\th1:def=\n" +
				"dep\tgithub.com/BurntSushi/toml\tv1.2.1\n" +
				"=>\tgithub.com/fork/toml\tv1.3.0\th1:ghi=\n" +
				"dep\texample.com/local\tv0.0.0\n=>\t../local\t\t\n",
			want: []inventory.Package{
				gopkg("github.com/acme/tool", "1.4.0", "pkg:golang/github.com/acme/tool@1.4.0", loc),
				gopkg("golang.org/x/net", "0.7.0", "pkg:golang/golang.org/x/net@0.7.0", loc),
				gopkg("github.com/fork/toml", "1.3.0", "pkg:golang/github.com/fork/toml@1.3.0", loc),
				gopkg("stdlib", "1.21.3", "pkg:golang/stdlib@1.21.3", loc),
			},
		},
		{
			name:  "devel_main_pseudo_version",
			goVer: "go1.22rc1",
			info: "path\texample.com/x\nmod\texample.com/x\t(devel)\t\n" +
				"dep\tgolang.org/x/sys\tv0.0.0-20220412211240-33da011f77ad\th1:x=\n",
			want: []inventory.Package{
				gopkg("golang.org/x/sys", "0.0.0-20220412211240-33da011f77ad",
					"pkg:golang/golang.org/x/sys@0.0.0-20220412211240-33da011f77ad", loc),
				gopkg("stdlib", "1.22.0-rc.1", "pkg:golang/stdlib@1.22.0-rc.1", loc),
			},
		},
		{
			name:  "gopath_build_stdlib_only",
			goVer: "go1.19.8",
			info:  "path\tgithub.com/containerd/containerd/cmd/containerd\n",
			want:  []inventory.Package{gopkg("stdlib", "1.19.8", "pkg:golang/stdlib@1.19.8", loc)},
		},
		{
			name:  "devel_toolchain",
			goVer: "devel go1.23-abc",
			info:  "path\texample.com/x\n",
		},
		{
			name:     "bad_toolchain_version",
			goVer:    "go1.x",
			info:     "path\texample.com/x\n",
			problems: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bi, err := debug.ParseBuildInfo(tc.info)
			if err != nil {
				t.Fatal(err)
			}
			bi.GoVersion = tc.goVer
			var problems plugin.Problems
			got := Packages(bi, loc, &problems)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Packages mismatch (-want +got):\n%s", diff)
			}
			if problems.Len() != tc.problems {
				t.Errorf("got %d problems (%v), want %d", problems.Len(), problems.Err(), tc.problems)
			}
		})
	}
}

// extractFile runs the extractor on a file of the real filesystem the way
// a walk over os.DirFS would.
func extractFile(t *testing.T, root, rel string) (*inventory.Inventory, error) {
	t.Helper()
	fsys := os.DirFS(root)
	info, err := fs.Stat(fsys, rel)
	if err != nil {
		t.Fatal(err)
	}
	f, err := fsys.Open(rel)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return New().Extract(context.Background(), &extractor.ScanInput{FS: fsys, Path: rel, Info: info, Reader: f})
}

// The go.sum lines are those of the module proxy for these versions, so
// that the build verifies without the checksum database.
const textSums = `golang.org/x/text v0.3.7 h1:olpwvP2KacW1ZWvsR7uQhoyTYvKAupfQrRGBFM352Gk=
golang.org/x/text v0.3.7/go.mod h1:u+2+/6zg+i71rQMx5EYifcz6MCKuco9NR6JIITiCfzQ=
golang.org/x/text v0.3.8 h1:nAL+RVCQ9uMn3vJZbV+MRnydTJFPf8qqY42YiA6MrqY=
golang.org/x/text v0.3.8/go.mod h1:E6s5w1FMmriuDzIBO73fBruAKo1PCIq6d2Q6DHfQ8WQ=
`

// buildModule builds a tiny main module that depends on golang.org/x/text
// at an old, vulnerable version (CVE-2021-38561, GO-2021-0113) and returns
// the directory holding the binary "bin/app".
func buildModule(t *testing.T, extraGoMod string) string {
	t.Helper()
	goTool := testutil.RequireCommand(t, "go")
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/vigiltest\n\ngo 1.21\n\nrequire golang.org/x/text v0.3.7\n" + extraGoMod,
		"go.sum": textSums,
		"main.go": "package main\n\nimport (\n\t\"fmt\"\n\n\t\"golang.org/x/text/language\"\n)\n\n" +
			"func main() { fmt.Println(language.English) }\n",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(goTool, "build", "-o", filepath.Join("bin", "app"), ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod -buildvcs=false", "GOTOOLCHAIN=local", "GOWORK=off", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

func TestExtractBuiltBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Go programs")
	}
	std, ok := GoVersion(runtime.Version())
	if !ok {
		t.Skipf("test toolchain %q has no release version", runtime.Version())
	}
	const loc = "bin/app"
	tests := []struct {
		name  string
		gomod string
		want  []inventory.Package
	}{
		{
			name: "plain",
			want: []inventory.Package{
				gopkg("golang.org/x/text", "0.3.7", "pkg:golang/golang.org/x/text@0.3.7", loc),
				gopkg("stdlib", std, "pkg:golang/stdlib@"+std, loc),
			},
		},
		{
			name:  "replaced",
			gomod: "replace golang.org/x/text => golang.org/x/text v0.3.8\n",
			want: []inventory.Package{
				gopkg("golang.org/x/text", "0.3.8", "pkg:golang/golang.org/x/text@0.3.8", loc),
				gopkg("stdlib", std, "pkg:golang/stdlib@"+std, loc),
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := buildModule(t, tc.gomod)
			info, err := os.Stat(filepath.Join(dir, loc))
			if err != nil {
				t.Fatal(err)
			}
			if !New().FileRequired(loc, info) {
				t.Fatalf("FileRequired(%q) = false for a Go binary", loc)
			}
			inv, err := extractFile(t, dir, loc)
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if diff := cmp.Diff(tc.want, inv.Packages); diff != "" {
				t.Errorf("Extract mismatch (-want +got):\n%s", diff)
			}
			// The same through a plain io.Reader (a root not on disk):
			// the file is spooled.
			data, err := os.ReadFile(filepath.Join(dir, loc))
			if err != nil {
				t.Fatal(err)
			}
			inv2, err := New().Extract(context.Background(), &extractor.ScanInput{
				Path: loc, Info: info, Reader: struct{ *bytes.Reader }{bytes.NewReader(data)}})
			if err != nil {
				t.Fatalf("Extract from a stream: %v", err)
			}
			if diff := cmp.Diff(tc.want, inv2.Packages); diff != "" {
				t.Errorf("Extract from a stream mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExtractNotGo(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{
		"script.sh": []byte("#!/bin/sh\necho hello\n"),
		"zeros":     make([]byte, 4096),
		"class":     {0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 0x34},
	}
	// A real non-Go ELF executable from the base system.
	if b, err := os.ReadFile("/usr/bin/true"); err == nil {
		files["true"] = b
	}
	for name, data := range files {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o755); err != nil {
				t.Fatal(err)
			}
			inv, err := extractFile(t, dir, name)
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if len(inv.Packages) != 0 {
				t.Errorf("Extract found packages in a non-Go file: %v", inv.Packages)
			}
		})
	}
}

// TestExtractSelf reads the test binary, a Go binary built offline with
// this module's dependencies.
func TestExtractSelf(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	inv, err := extractFile(t, filepath.Dir(self), filepath.Base(self))
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		t.Skip("test binary has no build info")
	}
	want := Packages(bi, filepath.Base(self), &plugin.Problems{})
	if diff := cmp.Diff(want, inv.Packages); diff != "" {
		t.Errorf("Extract(test binary) differs from its runtime build info (-want +got):\n%s", diff)
	}
	if !slices.ContainsFunc(inv.Packages, func(p inventory.Package) bool { return p.Name == "stdlib" }) {
		t.Errorf("stdlib missing from %v", inv.Packages)
	}
}

func TestExtractTruncated(t *testing.T) {
	// Cut short, a Go binary's build information (or the headers that
	// locate it) is gone: debug/buildinfo cannot tell it from a non-Go
	// file, so it yields nothing, without error or panic.
	self, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, n := range []int{64, 4096, len(data) / 2} {
		if err := os.WriteFile(filepath.Join(dir, "cut"), data[:n], 0o755); err != nil {
			t.Fatal(err)
		}
		inv, err := extractFile(t, dir, "cut")
		if err != nil || len(inv.Packages) != 0 {
			t.Errorf("Extract(cut at %d) = %v, %v; want nothing", n, inv, err)
		}
	}
}

func TestExtractTooLarge(t *testing.T) {
	info := fakeInfo{size: MaxSize + 1}
	_, err := New().Extract(context.Background(), &extractor.ScanInput{Path: "big", Info: info, Reader: strings.NewReader("")})
	if err == nil {
		t.Fatal("Extract of an oversized file succeeded")
	}
}

type fakeInfo struct{ size int64 }

func (i fakeInfo) Name() string       { return "big" }
func (i fakeInfo) Size() int64        { return i.size }
func (i fakeInfo) Mode() fs.FileMode  { return 0o755 }
func (i fakeInfo) ModTime() time.Time { return time.Time{} }
func (i fakeInfo) IsDir() bool        { return false }
func (i fakeInfo) Sys() any           { return nil }

// goVersionM runs `go version -m` on a binary, an independent reading of
// the same build information, and returns what Vigil should report.
func goVersionM(t *testing.T, goTool, file, loc string) []inventory.Package {
	t.Helper()
	out, err := exec.Command(goTool, "version", "-m", file).Output()
	if err != nil {
		t.Fatalf("go version -m %s: %v", file, err)
	}
	var want []inventory.Package
	var goVer string
	sc := bufio.NewScanner(bytes.NewReader(out))
	first := true
	for sc.Scan() {
		line := sc.Text()
		if first {
			_, goVer, _ = strings.Cut(line, ": ")
			first = false
			continue
		}
		f := strings.Split(strings.TrimSpace(line), "\t")
		switch {
		case len(f) >= 3 && (f[0] == "mod" || f[0] == "dep") && f[2] != "(devel)":
			want = append(want, gopkg(f[1], strings.TrimPrefix(f[2], "v"), "", loc))
		case len(f) >= 3 && f[0] == "=>":
			want[len(want)-1] = gopkg(f[1], strings.TrimPrefix(f[2], "v"), "", loc)
		}
	}
	if v, ok := GoVersion(goVer); ok {
		want = append(want, gopkg("stdlib", v, "", loc))
	}
	return want
}

func TestRealBinaries(t *testing.T) {
	goTool := testutil.RequireCommand(t, "go")
	for _, bin := range []string{"/usr/sbin/dockerd", "/usr/bin/containerd", "/usr/bin/runc", "/usr/bin/docker"} {
		t.Run(filepath.Base(bin), func(t *testing.T) {
			info, err := os.Stat(bin)
			if errors.Is(err, fs.ErrNotExist) {
				t.Skipf("%s is not installed", bin)
			}
			if err != nil {
				t.Fatal(err)
			}
			rel := strings.TrimPrefix(bin, "/")
			if !New().FileRequired(rel, info) {
				t.Fatalf("FileRequired(%q) = false", rel)
			}
			inv, err := extractFile(t, "/", rel)
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			want := goVersionM(t, goTool, bin, rel)
			got := slices.Clone(inv.Packages)
			for i := range got {
				if got[i].PURL == "" {
					t.Errorf("package %q has no purl", got[i].Name)
				}
				got[i].PURL = ""
			}
			if !slices.ContainsFunc(got, func(p inventory.Package) bool { return p.Name == "stdlib" }) {
				t.Errorf("no stdlib package in %s", bin)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Extract differs from go version -m (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzExtract(f *testing.F) {
	f.Add([]byte("\x7fELF\x02\x01\x01\x00"))
	f.Add([]byte("MZ\x90\x00"))
	f.Add([]byte{0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1})
	f.Add([]byte("#!/bin/sh\n"))
	// The first 64 KiB of a real Go binary: headers and, usually, the
	// build information blob.
	if self, err := os.Executable(); err == nil {
		if b, err := os.ReadFile(self); err == nil && len(b) > 64<<10 {
			f.Add(b[:64<<10])
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := New().Extract(context.Background(), &extractor.ScanInput{
			Path: "bin/x", Info: fakeInfo{size: int64(len(data))}, Reader: bytes.NewReader(data)})
		if err != nil {
			if inv != nil {
				t.Fatalf("Extract returned both %v and an inventory", err)
			}
			var pe *plugin.PartialError
			if !errors.As(err, &pe) && !strings.Contains(err.Error(), `"bin/x"`) {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		for _, p := range inv.Packages {
			if p.Name == "" || p.Version == "" || !strings.HasPrefix(p.PURL, "pkg:golang/") {
				t.Fatalf("incomplete package %+v", p)
			}
		}
	})
}
