package rpm

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	rpmdb "github.com/knqyf263/go-rpmdb/pkg"
	"go.uber.org/goleak"

	"github.com/vigilsec/vigil/internal/extractor"
	"github.com/vigilsec/vigil/internal/extractor/os/rpm/internal/rpmfmt"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/testutil"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestFileRequired(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{path: "var/lib/rpm/Packages", want: true},
		{path: "var/lib/rpm/Packages.db", want: true},
		{path: "var/lib/rpm/rpmdb.sqlite", want: true},
		{path: "usr/lib/sysimage/rpm/Packages", want: true},
		{path: "usr/lib/sysimage/rpm/Packages.db", want: true},
		{path: "usr/lib/sysimage/rpm/rpmdb.sqlite", want: true},
		{path: "var/lib/rpm/rpmdb.sqlite-wal"},
		{path: "var/lib/rpm/Name"},
		{path: "var/lib/rpm/Index.db"},
		{path: "var/lib/rpm"},
		{path: "/var/lib/rpm/Packages"},
		{path: "opt/var/lib/rpm/Packages"},
		{path: "Packages"},
	}
	for _, tc := range tests {
		if got := New().FileRequired(tc.path, nil); got != tc.want {
			t.Errorf("FileRequired(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}

// fixturePackages is what testdata/rpmdb.sqlite holds (see mkfixtures.sh),
// read from dbPath inside the root.
func fixturePackages(source string) []inventory.Package {
	return []inventory.Package{
		{Name: "vigil-epoch", Version: "2:3.4.1-5.el9", SourceName: "vigil-epoch", SourceVersion: "3.4.1-5.el9", Arch: "noarch", Type: "rpm", Source: source, Maintainer: "Vigil Packager <packager@example.com>"},
		{Name: "vigil-hello", Version: "1.0-1.fc40", SourceName: "vigil-hello", SourceVersion: "1.0-1.fc40", Arch: "noarch", Type: "rpm", Source: source, Maintainer: "Vigil Test Vendor"},
	}
}

// extract runs the extractor on the file at root/rel, in place when
// inPlace is set, else through its Reader only.
func extract(t *testing.T, root, rel string, inPlace bool) (*inventory.Inventory, error) {
	t.Helper()
	f, err := os.Open(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	in := &extractor.ScanInput{FS: os.DirFS(root), Path: rel, Reader: f}
	if inPlace {
		in.RootPath = root
	}
	inv, err := New().Extract(context.Background(), in)
	if inv != nil {
		slices.SortFunc(inv.Packages, func(a, b inventory.Package) int { return strings.Compare(a.Name, b.Name) })
	}
	return inv, err
}

func placeFixture(t *testing.T, from, rel string) string {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestExtractSQLite(t *testing.T) {
	for _, rel := range []string{"var/lib/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite"} {
		for _, inPlace := range []bool{true, false} {
			name := strings.ReplaceAll(rel, "/", "_") + map[bool]string{true: "_in_place", false: "_copied"}[inPlace]
			t.Run(name, func(t *testing.T) {
				tmp := t.TempDir()
				t.Setenv("TMPDIR", tmp)
				root := placeFixture(t, "testdata/rpmdb.sqlite", rel)
				inv, err := extract(t, root, rel, inPlace)
				if err != nil {
					t.Fatalf("Extract: %v", err)
				}
				if diff := cmp.Diff(fixturePackages("/"+rel), inv.Packages); diff != "" {
					t.Errorf("packages (-want +got):\n%s", diff)
				}
				if left, _ := os.ReadDir(tmp); len(left) != 0 {
					t.Errorf("temporary files left behind: %v", left)
				}
			})
		}
	}
}

// TestFixturesReproducible rebuilds the database with the real rpm tools
// and checks it reads the same as the committed fixture.
func TestFixturesReproducible(t *testing.T) {
	for _, cmd := range []string{"rpm", "rpmbuild", "rpmdb", "rpmkeys", "gpg", "sqlite3"} {
		testutil.RequireCommand(t, cmd)
	}
	out := t.TempDir()
	cmd := exec.Command("sh", "testdata/mkfixtures.sh", out)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mkfixtures.sh: %v\n%s", err, b)
	}
	// rpm itself sees the gpg-pubkey pseudo package that Extract skips.
	q, err := exec.Command("rpm", "-qa", "--dbpath", out, "--qf", "%{NAME}\n").Output()
	if err != nil {
		t.Fatalf("rpm -qa: %v", err)
	}
	names := strings.Fields(string(q))
	slices.Sort(names)
	if diff := cmp.Diff([]string{"gpg-pubkey", "vigil-epoch", "vigil-hello"}, names); diff != "" {
		t.Errorf("rpm -qa (-want +got):\n%s", diff)
	}
	root := placeFixture(t, filepath.Join(out, "rpmdb.sqlite"), "var/lib/rpm/rpmdb.sqlite")
	inv, err := extract(t, root, "var/lib/rpm/rpmdb.sqlite", true)
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	if diff := cmp.Diff(fixturePackages("/var/lib/rpm/rpmdb.sqlite"), inv.Packages); diff != "" {
		t.Errorf("fresh database (-want +got):\n%s", diff)
	}
}

// goRpmdbTestdata returns a database from go-rpmdb's own testdata: real
// databases of real distributions, including the ndb and bdb formats that
// Debian's rpm cannot write.
func goRpmdbTestdata(t *testing.T, rel string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/knqyf263/go-rpmdb").Output()
	dir := strings.TrimSpace(string(out))
	testutil.Require(t, "VIGIL_REQUIRE_TOOLS", err == nil && dir != "", "go-rpmdb module source not found")
	p := filepath.Join(dir, "pkg", "testdata", rel)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("go-rpmdb testdata: %v", err)
	}
	return p
}

// TestAgainstGoRpmdb reads real bdb (both byte orders), ndb and sqlite
// databases and compares with go-rpmdb's own decoding.
func TestAgainstGoRpmdb(t *testing.T) {
	tests := []struct {
		name, file, as string
		min            int
	}{
		{name: "bdb_centos5", file: "centos5-plain/Packages", as: "var/lib/rpm/Packages", min: 50},
		{name: "bdb_big_endian_ubi8_s390x", file: "ubi8-s390x/Packages", as: "var/lib/rpm/Packages", min: 50},
		{name: "ndb_sle15", file: "sle15-bci/Packages.db", as: "usr/lib/sysimage/rpm/Packages.db", min: 30},
		{name: "sqlite_fedora35", file: "fedora35/rpmdb.sqlite", as: "usr/lib/sysimage/rpm/rpmdb.sqlite", min: 50},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := goRpmdbTestdata(t, tc.file)
			db, err := rpmdb.Open(src)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := db.ListPackages()
			db.Close()
			if err != nil {
				t.Fatal(err)
			}
			var want []inventory.Package
			for _, p := range ref {
				if p.Name == "gpg-pubkey" {
					continue
				}
				v := p.Version + "-" + p.Release
				if p.EpochNum() != 0 {
					v = strconv.Itoa(p.EpochNum()) + ":" + v
				}
				sn, sv, ok := rpmfmt.ParseSourceRPM(p.SourceRpm)
				if !ok {
					sn, sv = p.Name, v
				}
				want = append(want, inventory.Package{Name: p.Name, Version: v, SourceName: sn, SourceVersion: sv,
					Arch: p.Arch, Type: "rpm", Source: "/" + tc.as, Maintainer: p.Vendor})
			}
			root := placeFixture(t, src, tc.as)
			inv, err := extract(t, root, tc.as, true)
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if len(inv.Packages) < tc.min {
				t.Fatalf("got %d packages, want at least %d", len(inv.Packages), tc.min)
			}
			// go-rpmdb has no Packager: compare vendors where set.
			for i := range inv.Packages {
				if j := slices.IndexFunc(want, func(w inventory.Package) bool {
					return w.Name == inv.Packages[i].Name && w.Arch == inv.Packages[i].Arch
				}); j >= 0 && want[j].Maintainer == "" {
					want[j].Maintainer = inv.Packages[i].Maintainer
				}
			}
			slices.SortFunc(want, func(a, b inventory.Package) int { return strings.Compare(a.Name+a.Arch, b.Name+b.Arch) })
			slices.SortFunc(inv.Packages, func(a, b inventory.Package) int { return strings.Compare(a.Name+a.Arch, b.Name+b.Arch) })
			if diff := cmp.Diff(want, inv.Packages); diff != "" {
				t.Errorf("packages (-go-rpmdb +ours):\n%s", diff)
			}
		})
	}
}

// Layout constants of the hand-made corrupt databases below (see
// internal/rpmfmt for the formats).
const (
	bdbHashMagic    = 0x00061561
	bdbMetaPage     = 8
	bdbHashPage     = 13
	bdbOverflowPage = 7
	bdbOffPageItem  = 3
	bdbPageHeader   = 26
	ndbHeaderMagic  = 'R' | 'p'<<8 | 'm'<<16 | 'P'<<24
	ndbSlotMagic    = 'S' | 'l'<<8 | 'o'<<16 | 't'<<24
)

func TestExtractCorrupt(t *testing.T) {
	sqlite, err := os.ReadFile("testdata/rpmdb.sqlite")
	if err != nil {
		t.Fatal(err)
	}
	// A bdb metadata page whose only hash page points into an overflow
	// chain that loops back to itself.
	loop := make([]byte, 3*512)
	binary.LittleEndian.PutUint32(loop[12:], bdbHashMagic)
	binary.LittleEndian.PutUint32(loop[20:], 512)
	loop[25] = bdbMetaPage
	binary.LittleEndian.PutUint32(loop[32:], 2)
	hp := loop[512:]
	hp[25] = bdbHashPage
	binary.LittleEndian.PutUint16(hp[20:], 2)
	binary.LittleEndian.PutUint16(hp[bdbPageHeader+2:], 100)
	hp[100] = bdbOffPageItem
	binary.LittleEndian.PutUint32(hp[104:], 2)
	binary.LittleEndian.PutUint32(hp[108:], 1200)
	op := loop[1024:]
	op[25] = bdbOverflowPage
	binary.LittleEndian.PutUint32(op[16:], 2) // next: itself

	// The same chain through a page that is not an overflow page: go-rpmdb
	// v0.1.1 re-reads that page forever.
	wrongType := bytes.Clone(loop)
	wrongType[1024+25] = bdbHashPage

	ndb := make([]byte, 4096)
	binary.LittleEndian.PutUint32(ndb, ndbHeaderMagic)
	binary.LittleEndian.PutUint32(ndb[12:], 1)
	for i := 32; i < 4096; i += 16 {
		binary.LittleEndian.PutUint32(ndb[i:], ndbSlotMagic)
	}
	binary.LittleEndian.PutUint32(ndb[32+4:], 1)   // package 1
	binary.LittleEndian.PutUint32(ndb[32+8:], 100) // blob at 1600: zeros

	tests := []struct {
		name, file string
		data       []byte
		wantErr    string
	}{
		{name: "empty", file: "Packages", data: nil, wantErr: "empty file"},
		{name: "garbage", file: "Packages", data: bytes.Repeat([]byte("not a database "), 100), wantErr: "unknown format"},
		{name: "sqlite_truncated", file: "rpmdb.sqlite", data: sqlite[:4096], wantErr: "malformed"},
		{name: "sqlite_header_only", file: "rpmdb.sqlite", data: append([]byte("SQLite format 3\x00"), make([]byte, 200)...), wantErr: "not a database"},
		{name: "sqlite_zeroed_middle", file: "rpmdb.sqlite", data: zeroRange(sqlite, 1024, 64<<10), wantErr: "malformed"},
		{name: "bdb_overflow_loop", file: "Packages", data: loop, wantErr: "holds more than"},
		{name: "bdb_chain_through_hash_page", file: "Packages", data: wrongType, wantErr: "in an overflow chain has type 13"},
		{name: "bdb_truncated", file: "Packages", data: loop[:1000], wantErr: "beyond the end"},
		{name: "ndb_bad_blob", file: "Packages.db", data: ndb, wantErr: "bad blob magic"},
		{name: "ndb_truncated", file: "Packages.db", data: ndb[:100], wantErr: "slot page count"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rel := "var/lib/rpm/" + tc.file
			root := t.TempDir()
			p := filepath.Join(root, rel)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			inv, err := extract(t, root, rel, true)
			if err == nil {
				t.Fatalf("Extract succeeded with %d packages, want an error", len(inv.Packages))
			}
			var pe *plugin.PartialError
			if errors.As(err, &pe) {
				t.Fatalf("Extract: partial error %v, want a plain error", err)
			}
			if !strings.Contains(err.Error(), `read rpm database "/`+rel+`"`) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Extract: err = %q, want it to name %q and contain %q", err, "/"+rel, tc.wantErr)
			}
		})
	}
}

func zeroRange(b []byte, from, to int) []byte {
	c := bytes.Clone(b)
	clear(c[from:min(to, len(c))])
	return c
}

func TestExtractCanceled(t *testing.T) {
	root := placeFixture(t, "testdata/rpmdb.sqlite", "var/lib/rpm/rpmdb.sqlite")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := New().Extract(ctx, &extractor.ScanInput{Path: "var/lib/rpm/rpmdb.sqlite", RootPath: root})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}
