package vulns

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/server/store/sqlite"
	"github.com/vigilsec/vigil/internal/severity"
	"github.com/vigilsec/vigil/internal/vuln/assess/fakedb"
	"github.com/vigilsec/vigil/internal/vuln/kev"
	"github.com/vigilsec/vigil/internal/vuln/osv"
)

// A Debian record shaped like DSA-5514-1 (glibc, CVE-2023-4911), trimmed.
func glibcRecord(t *testing.T) osv.Vulnerability {
	return osv.Vulnerability{
		ID:        "DSA-5514-1",
		Aliases:   []string{"CVE-2023-4911"},
		Summary:   "glibc - security update",
		Published: time.Date(2023, 10, 3, 0, 0, 0, 0, time.UTC),
		Modified:  time.Date(2023, 10, 3, 0, 0, 0, 0, time.UTC),
		Severity:  []osv.Severity{{Type: "CVSS_V3", Score: "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"}},
		Affected: []osv.Affected{{
			Package: osv.Package{Ecosystem: "Debian:12", Name: "glibc"},
			Ranges:  []osv.Range{{Type: "ECOSYSTEM", Events: []osv.Event{{Introduced: "0"}, {Fixed: "2.36-9+deb12u3"}}}},
		}},
	}
}

func snapshot(t *testing.T, libcVersion string) json.RawMessage {
	t.Helper()
	s := inventory.Snapshot{SchemaVersion: inventory.SchemaVersion, CollectedAt: time.Now().UTC()}
	s.Host = &inventory.Host{Hostname: "web-1", OS: inventory.OSRelease{ID: "debian", VersionID: "12"}}
	// The agent's inventory leaves the ecosystem of OS packages empty: the
	// matcher sets it from the host's OS release.
	s.Packages = []inventory.Package{
		{Name: "libc6", Version: libcVersion, SourceName: "glibc", SourceVersion: libcVersion, Type: "deb"},
		{Name: "libc-bin", Version: libcVersion, SourceName: "glibc", SourceVersion: libcVersion, Type: "deb"},
		{Name: "bash", Version: "5.2.15-2+b2", Type: "deb"},
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAssessHost(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir()+"/vigil.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2024, 1, 10, 0, 0, 0, 0, time.UTC)
	for _, h := range []store.Host{{ID: "h1", Hostname: "web-1", LastSeen: now}, {ID: "h2", Hostname: "db-1", LastSeen: now}} {
		if err := st.UpsertHost(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SetHostAttrs(ctx, "h2", nil, nil, 2); err != nil { // critical asset
		t.Fatal(err)
	}
	for _, id := range []string{"h1", "h2"} {
		if _, _, err := st.PutInventory(ctx, id, now, snapshot(t, "2.36-9+deb12u1")); err != nil {
			t.Fatal(err)
		}
	}
	db := &fakedb.DB{Records: []osv.Vulnerability{glibcRecord(t)},
		KEVs: []kev.Entry{{CVE: "CVE-2023-4911", DateAdded: now.AddDate(0, -1, 0)}}}
	a := &Assessor{Store: st, DB: db, Now: func() time.Time { return now }}
	n, err := a.AssessAll(ctx)
	if err != nil || n != 2 {
		t.Fatalf("AssessAll = %d, %v; want 2 hosts", n, err)
	}
	f1, err := st.ListHostFindings(ctx, "h1")
	if err != nil {
		t.Fatal(err)
	}
	if len(f1) != 2 {
		t.Fatalf("h1 findings %+v; want libc6 and libc-bin", f1)
	}
	for _, f := range f1 {
		if f.VulnID != "DSA-5514-1" || f.FixedVersion != "2.36-9+deb12u3" || f.Severity != severity.High || f.Priority <= 0 {
			t.Errorf("finding %+v", f)
		}
		var data struct {
			Aliases []string `json:"aliases"`
		}
		if err := json.Unmarshal(f.Data, &data); err != nil || len(data.Aliases) == 0 || data.Aliases[0] != "CVE-2023-4911" {
			t.Errorf("finding data %s: %v", f.Data, err)
		}
	}
	f2, _ := st.ListHostFindings(ctx, "h2")
	if len(f2) != 2 || f2[0].Priority <= f1[0].Priority {
		t.Errorf("critical host's priority %v not above the normal host's %v", f2, f1)
	}
	vs, err := st.ListVulns(ctx, store.VulnFilter{})
	if err != nil || len(vs) != 1 || vs[0].Hosts != 2 {
		t.Fatalf("fleet view %+v, %v; want one vulnerability on 2 hosts", vs, err)
	}

	// The host upgrades; the next snapshot clears its findings.
	if _, _, err := st.PutInventory(ctx, "h1", now.Add(time.Hour), snapshot(t, "2.36-9+deb12u3")); err != nil {
		t.Fatal(err)
	}
	res, err := a.AssessHost(ctx, "h1")
	if err != nil || res.Findings != 0 || res.Packages != 3 {
		t.Fatalf("after the upgrade: %+v, %v", res, err)
	}
	if f1, _ = st.ListHostFindings(ctx, "h1"); len(f1) != 0 {
		t.Errorf("fixed host still has findings: %+v", f1)
	}

	// A host without an inventory has none; an unknown host is an error.
	if err := st.UpsertHost(ctx, store.Host{ID: "h3", Hostname: "new", LastSeen: now}); err != nil {
		t.Fatal(err)
	}
	if res, err := a.AssessHost(ctx, "h3"); err != nil || res.Findings != 0 {
		t.Errorf("host without inventory: %+v, %v", res, err)
	}
	if _, err := a.AssessHost(ctx, "nope"); err == nil {
		t.Error("unknown host assessed")
	}
	// A snapshot that is not an inventory is refused with the host named.
	if _, _, err := st.PutInventory(ctx, "h3", now, json.RawMessage(`{"packages": "many"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.AssessHost(ctx, "h3"); err == nil {
		t.Error("a malformed snapshot was assessed")
	}
}
