package packages

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/vigilsec/vigil/internal/collector"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/testutil"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const rpmFixture = "../../extractor/os/rpm/testdata/rpmdb.sqlite"

// tree builds a root from a txtar file plus copies of binary files.
func tree(t *testing.T, archive string, binaries map[string]string) string {
	t.Helper()
	root := testutil.TxtarToDir(t, archive)
	for to, from := range binaries {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(root, to)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func collect(t testing.TB, root string) (*inventory.Inventory, error) {
	t.Helper()
	return New().Collect(context.Background(), &collector.Input{Root: os.DirFS(root), RootPath: root})
}

func pkg(typ, name, version, srcName, srcVersion, arch, source, maintainer string) inventory.Package {
	return inventory.Package{Name: name, Version: version, SourceName: srcName, SourceVersion: srcVersion,
		Arch: arch, Type: typ, Source: source, Maintainer: maintainer}
}

func TestCollect(t *testing.T) {
	glibc := "GNU Libc Maintainers <debian-glibc@lists.debian.org>"
	tests := []struct {
		name     string
		archive  string
		binaries map[string]string
		want     []inventory.Package
	}{
		{
			name:    "debian_status_and_status_d",
			archive: "testdata/debian.txtar",
			want: []inventory.Package{
				pkg("deb", "base-files", "12.4+deb12u5", "base-files", "12.4+deb12u5", "amd64", "/var/lib/dpkg/status.d/base-files", "Santiago Vila <sanvila@debian.org>"),
				pkg("deb", "bash", "5.2.15-2+b8", "bash", "5.2.15-2", "amd64", "/var/lib/dpkg/status", "Matthias Klose <doko@debian.org>"),
				pkg("deb", "libc6", "2.36-9+deb12u14", "glibc", "2.36-9+deb12u14", "amd64", "/var/lib/dpkg/status", glibc),
				pkg("deb", "zlib1g", "1:1.2.13.dfsg-1", "zlib", "1:1.2.13.dfsg-1", "amd64", "/var/lib/dpkg/status", "Mark Brown <broonie@debian.org>"),
			},
		},
		{
			name:     "rocky_var_lib_rpm",
			archive:  "testdata/rocky.txtar",
			binaries: map[string]string{"var/lib/rpm/rpmdb.sqlite": rpmFixture},
			want: []inventory.Package{
				pkg("rpm", "vigil-epoch", "2:3.4.1-5.el9", "vigil-epoch", "3.4.1-5.el9", "noarch", "/var/lib/rpm/rpmdb.sqlite", "Vigil Packager <packager@example.com>"),
				pkg("rpm", "vigil-hello", "1.0-1.fc40", "vigil-hello", "1.0-1.fc40", "noarch", "/var/lib/rpm/rpmdb.sqlite", "Vigil Test Vendor"),
			},
		},
		{
			// var/lib/rpm is a symlink to usr/lib/sysimage/rpm: one
			// database, read once.
			name:     "fedora_sysimage_with_symlink",
			archive:  "testdata/fedora.txtar",
			binaries: map[string]string{"usr/lib/sysimage/rpm/rpmdb.sqlite": rpmFixture},
			want: []inventory.Package{
				pkg("rpm", "vigil-epoch", "2:3.4.1-5.el9", "vigil-epoch", "3.4.1-5.el9", "noarch", "/var/lib/rpm/rpmdb.sqlite", "Vigil Packager <packager@example.com>"),
				pkg("rpm", "vigil-hello", "1.0-1.fc40", "vigil-hello", "1.0-1.fc40", "noarch", "/var/lib/rpm/rpmdb.sqlite", "Vigil Test Vendor"),
			},
		},
		{
			name:    "alpine",
			archive: "testdata/alpine.txtar",
			want: []inventory.Package{
				pkg("apk", "busybox", "1.36.1-r15", "busybox", "1.36.1-r15", "x86_64", "/lib/apk/db/installed", "Sören Tempel <soeren+alpine@soeren-tempel.net>"),
				pkg("apk", "libcrypto3", "3.1.4-r5", "openssl", "3.1.4-r5", "x86_64", "/lib/apk/db/installed", "Ariadne Conill <ariadne@dereferenced.org>"),
				pkg("apk", "musl", "1.2.4_git20230717-r4", "musl", "1.2.4_git20230717-r4", "x86_64", "/lib/apk/db/installed", "Timo Teräs <timo.teras@iki.fi>"),
			},
		},
		{
			// Sorted by type first: apk, deb, rpm.
			name:     "all_three_merged",
			archive:  "testdata/alpine.txtar",
			binaries: map[string]string{"var/lib/dpkg/status.d/base-files": "../../extractor/os/dpkg/testdata/distroless/base-files", "usr/lib/sysimage/rpm/rpmdb.sqlite": rpmFixture},
			want: []inventory.Package{
				pkg("apk", "busybox", "1.36.1-r15", "busybox", "1.36.1-r15", "x86_64", "/lib/apk/db/installed", "Sören Tempel <soeren+alpine@soeren-tempel.net>"),
				pkg("apk", "libcrypto3", "3.1.4-r5", "openssl", "3.1.4-r5", "x86_64", "/lib/apk/db/installed", "Ariadne Conill <ariadne@dereferenced.org>"),
				pkg("apk", "musl", "1.2.4_git20230717-r4", "musl", "1.2.4_git20230717-r4", "x86_64", "/lib/apk/db/installed", "Timo Teräs <timo.teras@iki.fi>"),
				pkg("deb", "base-files", "12.4+deb12u5", "base-files", "12.4+deb12u5", "amd64", "/var/lib/dpkg/status.d/base-files", "Santiago Vila <sanvila@debian.org>"),
				pkg("rpm", "vigil-epoch", "2:3.4.1-5.el9", "vigil-epoch", "3.4.1-5.el9", "noarch", "/usr/lib/sysimage/rpm/rpmdb.sqlite", "Vigil Packager <packager@example.com>"),
				pkg("rpm", "vigil-hello", "1.0-1.fc40", "vigil-hello", "1.0-1.fc40", "noarch", "/usr/lib/sysimage/rpm/rpmdb.sqlite", "Vigil Test Vendor"),
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := tree(t, tc.archive, tc.binaries)
			inv, err := collect(t, root)
			if err != nil {
				t.Fatalf("Collect: %v", err)
			}
			if diff := cmp.Diff(tc.want, inv.Packages); diff != "" {
				t.Errorf("packages (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCollectNoDatabase(t *testing.T) {
	root := t.TempDir()
	// An empty rpm directory, as Debian's rpm package leaves, and a
	// status.d holding only an md5sums list are no databases.
	for _, d := range []string{"var/lib/rpm", "var/lib/dpkg/status.d"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "var/lib/dpkg/status.d/x.md5sums"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	inv, err := collect(t, root)
	if !errors.Is(err, plugin.ErrSkipped) {
		t.Fatalf("Collect = %+v, %v; want a skip", inv, err)
	}
	if want := "no dpkg, rpm or apk database under " + root; err.Error() != want {
		t.Errorf("skip reason %q, want %q", err, want)
	}
	if st := plugin.StatusFromErr(err); st.State != plugin.StateSkipped {
		t.Errorf("state %v, want skipped", st.State)
	}
}

func TestCollectProblems(t *testing.T) {
	t.Run("bad_paragraph_is_partial", func(t *testing.T) {
		root := tree(t, "testdata/debian.txtar", nil)
		p := filepath.Join(root, "var/lib/dpkg/status")
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b = append([]byte("Package: broken\nStatus: install ok installed\nSource: x (1\nVersion: 1\n\n"), b...)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		inv, err := collect(t, root)
		st := plugin.StatusFromErr(err)
		want := []string{`var/lib/dpkg/status:3: package "broken" has malformed Source "x (1"`}
		if st.State != plugin.StatePartial || !cmp.Equal(want, st.Problems) {
			t.Errorf("status %+v, want partial with %q", st, want)
		}
		if inv == nil || len(inv.Packages) != 4 {
			t.Errorf("got %+v, want the 4 good packages", inv)
		}
	})
	t.Run("corrupt_rpm_beside_good_dpkg_is_partial", func(t *testing.T) {
		root := tree(t, "testdata/debian.txtar", nil)
		if err := os.MkdirAll(filepath.Join(root, "var/lib/rpm"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "var/lib/rpm/Packages"), []byte("garbage"), 0o644); err != nil {
			t.Fatal(err)
		}
		inv, err := collect(t, root)
		st := plugin.StatusFromErr(err)
		if st.State != plugin.StatePartial || len(st.Problems) != 1 || !strings.Contains(st.Problems[0], `"/var/lib/rpm/Packages"`) {
			t.Errorf("status %+v, want partial naming /var/lib/rpm/Packages", st)
		}
		if inv == nil || len(inv.Packages) != 4 {
			t.Errorf("got %+v, want the 4 dpkg packages", inv)
		}
	})
	t.Run("only_database_corrupt_fails", func(t *testing.T) {
		root := t.TempDir()
		if err := os.MkdirAll(filepath.Join(root, "var/lib/rpm"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "var/lib/rpm/rpmdb.sqlite"), []byte("SQLite format 3\x00 but not really"), 0o644); err != nil {
			t.Fatal(err)
		}
		inv, err := collect(t, root)
		st := plugin.StatusFromErr(err)
		if st.State != plugin.StateFailed || inv != nil || !strings.Contains(st.Error, `"/var/lib/rpm/rpmdb.sqlite"`) {
			t.Errorf("got %+v, status %+v; want failed naming the database", inv, st)
		}
	})
}

func TestCollectCanceled(t *testing.T) {
	root := tree(t, "testdata/debian.txtar", nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := New().Collect(ctx, &collector.Input{Root: os.DirFS(root), RootPath: root})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// nva is what the live comparison looks at.
type nva struct{ name, version, arch string }

// TestCollectLive compares the collector on this machine's root with what
// dpkg-query lists as installed. dpkg-query -W lists every package dpkg
// knows except not-installed ones; the second letter of
// db:Status-Abbrev is the current state, and "i" (installed) is the only
// one counted, whatever the wanted state (ii, hi held, ri/pi selected for
// removal but still installed) or error flag.
func TestCollectLive(t *testing.T) {
	testutil.RequireCommand(t, "dpkg-query")
	out, err := exec.Command("dpkg-query", "-W", "-f", `${Package}\t${Version}\t${Architecture}\t${db:Status-Abbrev}\n`).Output()
	if err != nil {
		t.Fatalf("dpkg-query: %v", err)
	}
	var want []nva
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 4 || len(f[3]) < 2 {
			t.Fatalf("dpkg-query line %q", sc.Text())
		}
		if f[3][1] == 'i' {
			want = append(want, nva{f[0], f[1], f[2]})
		}
	}
	if len(want) == 0 {
		t.Fatal("dpkg-query lists no installed package")
	}

	inv, err := New().Collect(context.Background(), &collector.Input{Root: os.DirFS("/"), RootPath: "/", Live: true})
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	var got []nva
	for _, p := range inv.Packages {
		if p.Type == "deb" {
			got = append(got, nva{p.Name, p.Version, p.Arch})
		}
	}
	cmpNVA := func(a, b nva) int {
		return strings.Compare(a.name+"\t"+a.arch+"\t"+a.version, b.name+"\t"+b.arch+"\t"+b.version)
	}
	slices.SortFunc(want, cmpNVA)
	slices.SortFunc(got, cmpNVA)
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(nva{})); diff != "" {
		t.Errorf("packages (-dpkg-query +collector):\n%s", diff)
	}
}

func BenchmarkCollect(b *testing.B) {
	c := New()
	in := &collector.Input{Root: os.DirFS("/"), RootPath: "/", Live: true}
	b.ReportAllocs()
	for b.Loop() {
		inv, err := c.Collect(context.Background(), in)
		if err != nil && !errors.Is(err, plugin.ErrSkipped) {
			b.Fatalf("Collect: %v", err)
		}
		_ = inv
	}
}
