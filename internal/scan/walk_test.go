package scan

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/vigilsec/vigil/internal/extractor"
	"github.com/vigilsec/vigil/internal/extractor/os/apk"
	"github.com/vigilsec/vigil/internal/extractor/os/dpkg"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// libtxt reads "name version" from lib.txt files.
type libtxt struct{}

func (libtxt) Name() string                       { return "test/libtxt" }
func (libtxt) Version() int                       { return 1 }
func (libtxt) Requirements() *plugin.Capabilities { return &plugin.Capabilities{} }
func (libtxt) FileRequired(p string, _ fs.FileInfo) bool {
	return path.Base(p) == "lib.txt"
}
func (libtxt) Extract(_ context.Context, in *extractor.ScanInput) (*inventory.Inventory, error) {
	b, err := io.ReadAll(in.Reader)
	if err != nil {
		return nil, err
	}
	name, version, ok := strings.Cut(strings.TrimSpace(string(b)), " ")
	if !ok {
		return nil, errors.New("/" + in.Path + ": no version")
	}
	return &inventory.Inventory{Packages: []inventory.Package{{Name: name, Version: version, Type: "generic",
		Locations: []string{in.Path}}}}, nil
}

func TestWalk(t *testing.T) {
	dir := testutil.TxtarToDir(t, "testdata/tree.txtar")
	w := &Walker{Extractors: []extractor.Extractor{dpkg.New(), apk.New(), libtxt{}}, SkipDirs: []string{"/proc/"}}
	res, err := w.Walk(context.Background(), os.DirFS(dir), dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range res.Packages {
		got = append(got, p.Type+" "+p.Name+" "+p.Version+" "+strings.Join(p.Locations, ","))
	}
	want := []string{
		"deb bash 5.2.15-2+b2 ",
		"deb libssl3 3.0.15-1~deb12u1 ",
		"generic widget 1.0 app/a/lib.txt,app/b/lib.txt",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}
	if st := res.Status["test/libtxt"]; st.State != plugin.StatePartial || !strings.Contains(st.Error, "/app/c/lib.txt: no version") {
		t.Errorf("libtxt status = %+v, want partial naming the file", st)
	}
	if st := res.Status["os/dpkg"]; st.State != plugin.StateSucceeded {
		t.Errorf("dpkg status = %+v", st)
	}
	if _, ok := res.Status["os/apk"]; ok {
		t.Errorf("apk ran although its database is under a skipped dir")
	}
	if res.Files != 5 { // os-release, status, three lib.txt; proc/ skipped
		t.Errorf("visited %d files, want 5", res.Files)
	}

	SetOSEcosystem(res.Packages, inventory.OSRelease{ID: "debian", VersionID: "12"})
	if res.Packages[0].Ecosystem != "Debian:12" || res.Packages[2].Ecosystem != "" {
		t.Errorf("ecosystems = %q, %q", res.Packages[0].Ecosystem, res.Packages[2].Ecosystem)
	}
}

func TestWalkExtractorFailingEverywhereFails(t *testing.T) {
	dir := testutil.TxtarToDir(t, "testdata/tree.txtar")
	os.WriteFile(dir+"/app/a/lib.txt", []byte("x"), 0o644)
	os.WriteFile(dir+"/app/b/lib.txt", []byte("y"), 0o644)
	res, err := (&Walker{Extractors: []extractor.Extractor{libtxt{}}}).Walk(context.Background(), os.DirFS(dir), dir)
	if err != nil {
		t.Fatal(err)
	}
	if st := res.Status["test/libtxt"]; st.State != plugin.StateFailed {
		t.Errorf("status = %+v, want failed", st)
	}
}

func TestWalkCanceled(t *testing.T) {
	dir := testutil.TxtarToDir(t, "testdata/tree.txtar")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (&Walker{}).Walk(ctx, os.DirFS(dir), dir); !errors.Is(err, context.Canceled) {
		t.Errorf("Walk = %v, want context.Canceled", err)
	}
}

func TestOSEcosystem(t *testing.T) {
	tests := []struct {
		osr  inventory.OSRelease
		want string
	}{
		{inventory.OSRelease{ID: "debian", VersionID: "12"}, "Debian:12"},
		{inventory.OSRelease{ID: "ubuntu", VersionID: "22.04", Version: "22.04.4 LTS (Jammy Jellyfish)"}, "Ubuntu:22.04:LTS"},
		{inventory.OSRelease{ID: "ubuntu", VersionID: "23.10", Version: "23.10 (Mantic Minotaur)"}, "Ubuntu:23.10"},
		{inventory.OSRelease{ID: "alpine", VersionID: "3.19.1"}, "Alpine:v3.19"},
		{inventory.OSRelease{ID: "rocky", VersionID: "9.3"}, "Rocky Linux:9"},
		{inventory.OSRelease{ID: "almalinux", VersionID: "8.9"}, "AlmaLinux:8"},
		{inventory.OSRelease{ID: "gentoo"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := OSEcosystem(tt.osr); got != tt.want {
				t.Errorf("OSEcosystem(%+v) = %q, want %q", tt.osr, got, tt.want)
			}
		})
	}
}
