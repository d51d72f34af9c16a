package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/respond/audit"
	"github.com/vigilsec/vigil/internal/respond/netblock"
	"github.com/vigilsec/vigil/internal/respond/quarantine"
	"github.com/vigilsec/vigil/internal/task"
	"github.com/vigilsec/vigil/internal/testutil"
	"github.com/vigilsec/vigil/internal/vuln/assess"
	"github.com/vigilsec/vigil/internal/vuln/assess/fakedb"
	"github.com/vigilsec/vigil/internal/vuln/fix"
	"github.com/vigilsec/vigil/internal/vuln/osv"
)

func TestQuarantineRestore(t *testing.T) {
	vault := t.TempDir()
	q, err := quarantine.Open(vault)
	if err != nil {
		t.Fatal(err)
	}
	alog, err := audit.Open(vault)
	if err != nil {
		t.Fatal(err)
	}
	defer alog.Close()
	f := newFixture(t, Deps{Quarantine: q, Audit: alog})
	path := filepath.Join(t.TempDir(), "shell.php")
	content := []byte("<?php system($_GET['c']); ?>\n")
	if err := os.WriteFile(path, content, 0o640); err != nil {
		t.Fatal(err)
	}

	var m quarantine.Meta
	if _, err := f.run("quarantine_file", fmt.Sprintf(`{"path": %q, "alert_id": "alert-1"}`, path), &m); err != nil {
		t.Fatalf("quarantine: %v", err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("file still at %s after quarantine (%v)", path, err)
	}
	if m.OriginalPath != path || m.AlertID != "alert-1" || m.RuleID != "task:1" || m.Size != int64(len(content)) {
		t.Errorf("meta %+v", m)
	}
	if _, err := q.Get(m.ID); err != nil {
		t.Errorf("vault has no entry %s: %v", m.ID, err)
	}
	// Quarantining it again fails: nothing is there.
	if _, err := f.run("quarantine_file", fmt.Sprintf(`{"path": %q}`, path), nil); err == nil {
		t.Error("quarantine of a missing file succeeded")
	}
	// A file now at the path blocks the restore unless forced.
	if err := os.WriteFile(path, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := f.run("restore_file", fmt.Sprintf(`{"id": %q}`, m.ID), nil); !errors.Is(err, quarantine.ErrExists) {
		t.Errorf("restore over a file: error %v, want ErrExists", err)
	}
	os.Remove(path)
	var back quarantine.Meta
	if _, err := f.run("restore_file", fmt.Sprintf(`{"id": %q}`, m.ID), &back); err != nil {
		t.Fatalf("restore: %v", err)
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("restored content %q, %v", got, err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
		t.Errorf("restored mode %v, want 0640", st.Mode().Perm())
	}
	if _, err := f.run("restore_file", fmt.Sprintf(`{"id": %q}`, m.ID), nil); err == nil {
		t.Error("second restore succeeded")
	}
	recs, err := audit.ReadFile(vault)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, r := range recs {
		actions = append(actions, r.Action+":"+r.Result)
	}
	want := []string{"quarantine:ok", "quarantine:failed", "restore:failed", "restore:ok", "restore:failed"}
	if diff := cmp.Diff(want, actions); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
	// Without a vault, the tasks fail cleanly.
	bare := newFixture(t, Deps{})
	if _, err := bare.run("quarantine_file", `{"path": "/tmp/x"}`, nil); err == nil || !strings.Contains(err.Error(), "no quarantine vault") {
		t.Errorf("quarantine without a vault: %v", err)
	}
}

// TestBlockIP blocks in an nftables table of the test's own, in the host
// namespace, an address of TEST-NET-1 that no test traffic uses.
func TestBlockIP(t *testing.T) {
	testutil.RequireRoot(t)
	table := fmt.Sprintf("vigil-task-test-%d", os.Getpid())
	n, err := netblock.OpenNFTTable(-1, table)
	if err != nil {
		testutil.Require(t, "VIGIL_REQUIRE_ROOT", false, "nftables: "+err.Error())
	}
	defer func() {
		if err := n.Close(); err != nil {
			t.Error(err)
		}
	}()
	f := newFixture(t, Deps{Blocker: n, NeverBlock: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}})
	listed := func() []string {
		t.Helper()
		es, err := n.List()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range es {
			out = append(out, fmt.Sprintf("%s expires=%v", e.IP, !e.Expires.IsZero()))
		}
		slices.Sort(out)
		return out
	}
	var res BlockResult
	if _, err := f.run("block_ip", `{"ip": "192.0.2.77", "duration_seconds": 3600}`, &res); err != nil {
		t.Fatalf("block: %v", err)
	}
	if res.IP != "192.0.2.77" || res.Mode != "nftables" || res.Expires.IsZero() {
		t.Errorf("result %+v", res)
	}
	if _, err := f.run("block_ip", `{"ip": "::ffff:192.0.2.78"}`, nil); err != nil {
		t.Fatalf("block: %v", err)
	}
	if diff := cmp.Diff([]string{"192.0.2.77 expires=true", "192.0.2.78 expires=false"}, listed()); diff != "" {
		t.Errorf("set (-want +got):\n%s", diff)
	}
	if _, err := f.run("block_ip", `{"ip": "198.51.100.4"}`, nil); err == nil || !strings.Contains(err.Error(), "never-block") {
		t.Errorf("block in a never-block network: %v", err)
	}
	if _, err := f.run("unblock_ip", `{"ip": "192.0.2.77"}`, nil); err != nil {
		t.Fatalf("unblock: %v", err)
	}
	if diff := cmp.Diff([]string{"192.0.2.78 expires=false"}, listed()); diff != "" {
		t.Errorf("set after unblock (-want +got):\n%s", diff)
	}
	if _, err := f.run("unblock_ip", `{"ip": "192.0.2.78"}`, nil); err != nil {
		t.Fatalf("unblock: %v", err)
	}
	if got := listed(); len(got) != 0 {
		t.Errorf("set after unblocking all: %v", got)
	}
	bare := newFixture(t, Deps{})
	if _, err := bare.run("block_ip", `{"ip": "192.0.2.77"}`, nil); err == nil || !strings.Contains(err.Error(), "not available") {
		t.Errorf("block without a blocker: %v", err)
	}
}

// eicar is the EICAR anti-virus test file, assembled at run time so the
// source holds no signature.
func eicar() []byte {
	return []byte(`X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR` + `-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`)
}

func TestMalwareScan(t *testing.T) {
	vault := t.TempDir()
	q, err := quarantine.Open(vault)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, Deps{Quarantine: q, MalwareRate: 0})
	dir := t.TempDir()
	bad := filepath.Join(dir, "sub", "eicar.com")
	os.MkdirAll(filepath.Dir(bad), 0o755)
	if err := os.WriteFile(bad, eicar(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "readme.txt"), []byte("an ordinary file\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	var res MalwareScanResult
	if _, err := f.run("malware_scan", fmt.Sprintf(`{"paths": [%q]}`, dir), &res); err != nil {
		t.Fatalf("scan: %v", err)
	}
	if res.Scanned != 2 || res.Total != 1 || len(res.Findings) != 1 || res.Findings[0].Path != bad || res.Findings[0].QuarantineID != "" {
		t.Fatalf("result %+v", res)
	}
	if _, err := os.Stat(bad); err != nil {
		t.Errorf("scan without quarantine moved the file: %v", err)
	}

	res = MalwareScanResult{}
	if _, err := f.run("malware_scan", fmt.Sprintf(`{"paths": [%q], "quarantine": true}`, dir), &res); err != nil {
		t.Fatalf("scan with quarantine: %v", err)
	}
	if len(res.Findings) != 1 || res.Findings[0].QuarantineID == "" {
		t.Fatalf("result %+v", res)
	}
	if _, err := os.Stat(bad); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the finding's file is still there: %v", err)
	}
	if m, err := q.Get(res.Findings[0].QuarantineID); err != nil || m.OriginalPath != bad {
		t.Errorf("vault entry %+v, %v", m, err)
	}
	// A missing path is a scan error, not a task failure.
	res = MalwareScanResult{}
	if _, err := f.run("malware_scan", `{"paths": ["/nonexistent/vigil-task-test"]}`, &res); err != nil {
		t.Fatalf("scan of a missing path: %v", err)
	}
	if res.ErrorCount != 1 || len(res.Errors) != 1 {
		t.Errorf("result %+v, want one error", res)
	}
}

func TestCollect(t *testing.T) {
	var got *inventory.Snapshot
	sink := func(_ context.Context, s *inventory.Snapshot) error { got = s; return nil }
	f := newFixture(t, Deps{InventorySink: sink})
	var res CollectResult
	if _, err := f.run("collect", `{"collectors": ["host", "accounts"]}`, &res); err != nil {
		t.Fatalf("collect: %v", err)
	}
	if got == nil || got.Inventory.Host == nil || got.Inventory.Accounts == nil {
		t.Fatalf("sink got %+v", got)
	}
	hn, _ := os.Hostname()
	if got.Inventory.Host.Hostname != hn {
		t.Errorf("hostname %q, want %q", got.Inventory.Host.Hostname, hn)
	}
	if !res.Submitted || res.Snapshot != nil || res.Counts["host"] != 1 || res.Counts["accounts"] == 0 {
		t.Errorf("result %+v", res)
	}
	if len(res.Status) != 2 || res.Status["host"].State == plugin.StateFailed {
		t.Errorf("status %+v", res.Status)
	}
	// Without a sink the snapshot is in the output.
	bare := newFixture(t, Deps{})
	res = CollectResult{}
	if _, err := bare.run("collect", `{"collectors": ["host"]}`, &res); err != nil {
		t.Fatalf("collect: %v", err)
	}
	if res.Submitted || res.Snapshot == nil || res.Snapshot.Inventory.Host == nil || res.Snapshot.Inventory.Host.Hostname != hn {
		t.Errorf("result %+v", res)
	}
	// A failing sink fails the run.
	failing := newFixture(t, Deps{InventorySink: func(context.Context, *inventory.Snapshot) error { return errors.New("spool full") }})
	if _, err := failing.run("collect", `{"collectors": ["host"]}`, nil); err == nil || !strings.Contains(err.Error(), "spool full") {
		t.Errorf("collect with a failing sink: %v", err)
	}
}

// fixtureDB opens the test OSV record as the vulnerability database.
func fixtureDB(t *testing.T) func() (assess.DB, io.Closer, error) {
	b, err := os.ReadFile("testdata/DEBIAN-CVE-2023-4911.json")
	if err != nil {
		t.Fatal(err)
	}
	var rec osv.Vulnerability
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	return func() (assess.DB, io.Closer, error) {
		return &fakedb.DB{Records: []osv.Vulnerability{rec}}, io.NopCloser(nil), nil
	}
}

func TestVulnScan(t *testing.T) {
	root := testutil.TxtarToDir(t, "testdata/rootfs.txtar")
	f := newFixture(t, Deps{HostRoot: root, OpenVulnDB: fixtureDB(t)})
	var res VulnScanResult
	if _, err := f.run("vuln_scan", `{}`, &res); err != nil {
		t.Fatalf("vuln_scan: %v", err)
	}
	var keys []string
	for _, fd := range res.Findings {
		keys = append(keys, fd.Key)
		if fd.Fixed != "2.36-9+deb12u3" || fd.Version != "2.36-9+deb12u1" || fd.Ecosystem != "Debian:12" {
			t.Errorf("finding %+v", fd)
		}
	}
	slices.Sort(keys)
	want := []string{"DEBIAN-CVE-2023-4911/Debian:12/libc-bin", "DEBIAN-CVE-2023-4911/Debian:12/libc6"}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("finding keys (-want +got):\n%s", diff)
	}
	if res.Packages != 3 || res.Total != 2 || res.OS != "Debian GNU/Linux 12 (bookworm)" {
		t.Errorf("result %+v", res)
	}
	// The record has no CVSS: its findings are "unspecified"; a filter
	// keeps them or drops them.
	if diff := cmp.Diff(map[string]int{"unspecified": 2}, res.BySeverity); diff != "" {
		t.Errorf("by severity (-want +got):\n%s", diff)
	}
	for sev, want := range map[string]int{"critical": 0, "unspecified": 2} {
		res = VulnScanResult{}
		if _, err := f.run("vuln_scan", fmt.Sprintf(`{"severities": [%q]}`, sev), &res); err != nil {
			t.Fatal(err)
		}
		if res.Total != want || len(res.Findings) != want {
			t.Errorf("%s-only: %d findings (%d listed), want %d", sev, res.Total, len(res.Findings), want)
		}
	}
	// No database: a clear error.
	nodb := newFixture(t, Deps{HostRoot: root})
	if _, err := nodb.run("vuln_scan", `{}`, nil); err == nil || !strings.Contains(err.Error(), "vulnerability database") {
		t.Errorf("vuln_scan without a database: %v", err)
	}
}

// fakeApt plays dpkg-query, apt-cache madison and apt-get install against
// an in-memory set of installed versions: the fix package's test seam
// (fix.Options.Run). The real commands are exercised by internal/vuln/fix.
type fakeApt struct {
	installed map[string]string // binary package → version
	available map[string][]string
	installs  [][]string
}

func (a *fakeApt) run(_ context.Context, argv []string, stdout, _ io.Writer) error {
	switch argv[0] {
	case "dpkg-query":
		for _, p := range slices.Sorted(mapsKeys(a.installed)) {
			name, arch, _ := strings.Cut(p, ":")
			if arch == "" {
				arch = "amd64"
			}
			fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\tglibc\t%s\tii \n", p, name, arch, a.installed[p], a.installed[p])
		}
		return nil
	case "apt-cache":
		pkg := argv[len(argv)-1]
		for _, v := range a.available[pkg] {
			fmt.Fprintf(stdout, "%s | %s | http://deb.debian.org/debian bookworm/main amd64 Packages\n", pkg, v)
		}
		return nil
	case "apt-get":
		a.installs = append(a.installs, argv)
		i := slices.Index(argv, "--")
		for _, pv := range argv[i+1:] {
			p, v, _ := strings.Cut(pv, "=")
			if !slices.Contains(a.available[p], v) {
				return fmt.Errorf("E: Version '%s' for '%s' was not found", v, p)
			}
			a.installed[p] = v
		}
		return nil
	}
	return fmt.Errorf("unexpected command %q", argv)
}

func mapsKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestFixAndRollback(t *testing.T) {
	root := testutil.TxtarToDir(t, "testdata/rootfs.txtar")
	apt := &fakeApt{
		installed: map[string]string{"libc6:amd64": "2.36-9+deb12u1", "libc-bin": "2.36-9+deb12u1"},
		available: map[string][]string{
			"libc6:amd64": {"2.36-9+deb12u4", "2.36-9+deb12u1"},
			"libc-bin":    {"2.36-9+deb12u4", "2.36-9+deb12u1"},
		},
	}
	f := newFixture(t, Deps{HostRoot: root, OpenVulnDB: fixtureDB(t), Fix: fix.Options{Run: apt.run}})

	// A finding the host does not have: refused before anything runs.
	if _, err := f.run("fix_packages", `{"findings": ["DSA-0000-1/Debian:12/openssl"]}`, nil); err == nil || !strings.Contains(err.Error(), "DSA-0000-1") {
		t.Errorf("fix of an unknown finding: %v", err)
	}
	if len(apt.installs) != 0 {
		t.Fatalf("ran %q", apt.installs)
	}

	var res FixResult
	if _, err := f.run("fix_packages", `{"findings": ["DEBIAN-CVE-2023-4911/Debian:12/libc6"]}`, &res); err != nil {
		t.Fatalf("fix: %v", err)
	}
	wantPkgs := []fix.Change{
		{Package: "libc-bin", Source: "glibc", Installed: "2.36-9+deb12u1", Target: "2.36-9+deb12u4", Fixed: "2.36-9+deb12u3"},
		{Package: "libc6:amd64", Source: "glibc", Installed: "2.36-9+deb12u1", Target: "2.36-9+deb12u4", Fixed: "2.36-9+deb12u3"},
	}
	if diff := cmp.Diff(wantPkgs, res.Packages); diff != "" {
		t.Errorf("rollback record packages (-want +got):\n%s", diff)
	}
	if res.Outcome.Status != fix.StatusSucceeded || len(res.Outcome.Changed) != 2 || res.Outcome.Changed[0].Before != "2.36-9+deb12u1" {
		t.Errorf("outcome %+v", res.Outcome)
	}
	if res.Rollback == nil || res.Rollback.Type != task.RollbackPackages || res.Rollback.Params.Record != res.Record {
		t.Fatalf("rollback task %+v for record %q", res.Rollback, res.Record)
	}
	if _, err := os.Stat(filepath.Join(f.dataDir, "fix", res.Record+".json")); err != nil {
		t.Errorf("record file: %v", err)
	}
	if apt.installed["libc6:amd64"] != "2.36-9+deb12u4" {
		t.Fatalf("installed after fix: %v", apt.installed)
	}

	// The output's rollback task, as the console would submit it.
	params, _ := json.Marshal(res.Rollback.Params)
	var rb RollbackResult
	if _, err := f.run(string(res.Rollback.Type), string(params), &rb); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	if diff := cmp.Diff(map[string]string{"libc6:amd64": "2.36-9+deb12u1", "libc-bin": "2.36-9+deb12u1"}, apt.installed); diff != "" {
		t.Errorf("installed after rollback (-want +got):\n%s", diff)
	}
	if rb.Outcome == nil || rb.Outcome.Status != fix.StatusSucceeded || rb.Record != res.Record {
		t.Errorf("rollback result %+v", rb)
	}
	// Rolling back again has nothing to do.
	rb = RollbackResult{}
	if _, err := f.run("rollback_packages", string(params), &rb); err != nil || rb.Outcome != nil {
		t.Errorf("second rollback: %+v, %v", rb, err)
	}
	if _, err := f.run("rollback_packages", `{"record": "20200101T000000Z-00000000"}`, nil); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("rollback of a missing record: %v", err)
	}
}
