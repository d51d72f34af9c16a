// Package storetest is the conformance suite every store.Store passes.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/severity"
)

// Open makes a new, empty, migrated store; the suite closes it.
type Open func(t *testing.T) store.Store

// Run runs the conformance suite; each test gets its own store.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"hosts", testHosts},
		{"host_list_filters", testHostFilters},
		{"host_pagination", testHostPagination},
		{"enrol_tokens", testEnrolTokens},
		{"enrol_token_consume_once_concurrent", testEnrolConcurrent},
		{"inventory", testInventory},
		{"findings", testFindings},
		{"alerts_ingest_idempotent", testAlertIngest},
		{"alerts_ingest_concurrent_duplicates", testAlertIngestConcurrent},
		{"alerts_filters", testAlertFilters},
		{"alerts_pagination_stable", testAlertPagination},
		{"alerts_workflow", testAlertWorkflow},
		{"alert_counts_exact", testAlertCounts},
		{"events", testEvents},
		{"events_concurrent_duplicates", testEventsConcurrent},
		{"ingest_group_commit", testIngestGroup},
		{"touch_hosts", testTouchHosts},
		{"tasks", testTasks},
		{"users_sessions_tokens", testUsers},
		{"settings", testSettings},
		{"leases", testLeases},
		{"leases_concurrent", testLeasesConcurrent},
		{"audit", testAudit},
		{"verbatim_text", testVerbatim},
		{"invalid_input", testInvalid},
		{"schema_version", testSchemaVersion},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

var (
	ctx = context.Background()
	t0  = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
)

func at(d time.Duration) time.Time { return t0.Add(d) }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want one wrapping %v", err, want)
	}
}

func host(id string) store.Host {
	return store.Host{ID: id, Hostname: "host-" + id, OS: "Debian 12", AgentVersion: "1.0.0", SensorMode: "ebpf",
		CertSerial: "serial-" + id, CertSHA256: "fp-" + id, EnrolledAt: t0, LastSeen: t0}
}

func addHost(t *testing.T, s store.Store, h store.Host) {
	t.Helper()
	must(t, s.UpsertHost(ctx, h))
}

var hostOpts = cmpopts.EquateEmpty()

func testHosts(t *testing.T, s store.Store) {
	_, err := s.GetHost(ctx, "nope")
	wantErr(t, err, store.ErrNotFound)

	h := host("h1")
	h.Labels, h.Groups, h.Importance = []string{"env=prod", "db"}, []string{"web"}, 2
	addHost(t, s, h)
	got, err := s.GetHost(ctx, "h1")
	must(t, err)
	h.Labels = []string{"db", "env=prod"} // sorted
	if d := cmp.Diff(h, got, hostOpts); d != "" {
		t.Fatalf("get (-want +got):\n%s", d)
	}

	// A heartbeat updates agent fields but keeps console-owned ones,
	// the enrolment time and revocation.
	must(t, s.RevokeHost(ctx, "h1"))
	hb := host("h1")
	hb.Hostname, hb.AgentVersion, hb.LastSeen, hb.EnrolledAt = "renamed", "1.1.0", at(time.Hour), at(time.Hour)
	addHost(t, s, hb)
	got, err = s.GetHost(ctx, "h1")
	must(t, err)
	want := h
	want.Hostname, want.AgentVersion, want.LastSeen, want.Revoked = "renamed", "1.1.0", at(time.Hour), true
	if d := cmp.Diff(want, got, hostOpts); d != "" {
		t.Fatalf("after heartbeat (-want +got):\n%s", d)
	}

	must(t, s.SetHostAttrs(ctx, "h1", []string{"x"}, nil, 5))
	got, err = s.GetHost(ctx, "h1")
	must(t, err)
	want.Labels, want.Groups, want.Importance = []string{"x"}, nil, 5
	if d := cmp.Diff(want, got, hostOpts); d != "" {
		t.Fatalf("after set attrs (-want +got):\n%s", d)
	}
	wantErr(t, s.SetHostAttrs(ctx, "nope", nil, nil, 0), store.ErrNotFound)
	wantErr(t, s.RevokeHost(ctx, "nope"), store.ErrNotFound)
	addHost(t, s, host("h0"))
	ids, err := s.RevokedHosts(ctx)
	must(t, err)
	if d := cmp.Diff([]string{"h1"}, ids); d != "" {
		t.Fatalf("revoked hosts (-want +got):\n%s", d)
	}

	// h0 seen at t0, h1 revoked; add one seen later and one never seen.
	late, never := host("h2"), host("h3")
	late.LastSeen, never.LastSeen = at(2*time.Hour), time.Time{}
	addHost(t, s, late)
	addHost(t, s, never)
	for _, tc := range []struct {
		since time.Time
		want  store.HostCounts
	}{
		{at(-time.Hour), store.HostCounts{Active: 3, Seen: 2, NeverSeen: 1, Revoked: 1}},
		{at(time.Hour), store.HostCounts{Active: 3, Seen: 1, NeverSeen: 1, Revoked: 1}},
		{at(2 * time.Hour), store.HostCounts{Active: 3, Seen: 1, NeverSeen: 1, Revoked: 1}}, // at or after
		{at(3 * time.Hour), store.HostCounts{Active: 3, Seen: 0, NeverSeen: 1, Revoked: 1}},
	} {
		n, err := s.FleetCounts(ctx, tc.since)
		must(t, err)
		if n != tc.want {
			t.Errorf("FleetCounts(%v) = %+v, want %+v", tc.since, n, tc.want)
		}
	}
	_, err = s.FleetCounts(ctx, time.Time{})
	wantErr(t, err, store.ErrInvalid)
}

func testHostFilters(t *testing.T, s store.Store) {
	for i := range 10 {
		h := host(fmt.Sprintf("h%02d", i))
		h.Hostname = fmt.Sprintf("Web-%02d.example", i)
		if i%2 == 1 {
			h.Hostname = fmt.Sprintf("db_%02d.example", i)
			h.Labels = []string{"role=db"}
		}
		if i < 3 {
			h.Groups = []string{"prod"}
		}
		h.LastSeen = at(time.Duration(i) * time.Minute)
		addHost(t, s, h)
	}
	must(t, s.RevokeHost(ctx, "h09"))
	ids := func(hs []store.Host) []string {
		var out []string
		for _, h := range hs {
			out = append(out, h.ID)
		}
		sort.Strings(out)
		return out
	}
	yes := true
	for _, tc := range []struct {
		name string
		f    store.HostFilter
		want []string
	}{
		{"all", store.HostFilter{}, []string{"h00", "h01", "h02", "h03", "h04", "h05", "h06", "h07", "h08", "h09"}},
		{"seen_since", store.HostFilter{SeenSince: at(7 * time.Minute)}, []string{"h07", "h08", "h09"}},
		{"label", store.HostFilter{Label: "role=db"}, []string{"h01", "h03", "h05", "h07", "h09"}},
		{"group", store.HostFilter{Group: "prod"}, []string{"h00", "h01", "h02"}},
		{"name_case_insensitive", store.HostFilter{Name: "WEB-0"}, []string{"h00", "h02", "h04", "h06", "h08"}},
		{"name_underscore_is_literal", store.HostFilter{Name: "db_"}, []string{"h01", "h03", "h05", "h07", "h09"}},
		{"name_percent_is_literal", store.HostFilter{Name: "%"}, nil},
		{"revoked", store.HostFilter{Revoked: &yes}, []string{"h09"}},
		{"combined", store.HostFilter{Label: "role=db", Group: "prod"}, []string{"h01"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs, next, err := s.ListHosts(ctx, tc.f)
			must(t, err)
			if next != "" {
				t.Errorf("next = %q on a short list", next)
			}
			if d := cmp.Diff(tc.want, ids(hs), cmpopts.EquateEmpty()); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
			n, err := s.CountHosts(ctx, tc.f)
			must(t, err)
			if n != len(tc.want) {
				t.Errorf("count = %d, want %d", n, len(tc.want))
			}
		})
	}
}

func testHostPagination(t *testing.T, s store.Store) {
	var want []string
	for i := range 57 {
		h := host(fmt.Sprintf("h%03d", i))
		h.Hostname = fmt.Sprintf("n%d", i%7) // duplicates: ties break on ID
		h.LastSeen = at(time.Duration(i%5) * time.Second)
		addHost(t, s, h)
		want = append(want, h.ID)
	}
	for _, sortBy := range []store.HostSort{store.SortHostname, store.SortLastSeen} {
		all, _, err := s.ListHosts(ctx, store.HostFilter{Sort: sortBy, Page: store.Page{Limit: 1000}})
		must(t, err)
		var paged, offset []store.Host
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 20 {
				t.Fatal("pagination does not end")
			}
			hs, next, err := s.ListHosts(ctx, store.HostFilter{Sort: sortBy, Page: store.Page{Limit: 10, Cursor: cursor}})
			must(t, err)
			paged = append(paged, hs...)
			if next == "" {
				break
			}
			cursor = next
		}
		for off := 0; off < 57; off += 10 {
			hs, _, err := s.ListHosts(ctx, store.HostFilter{Sort: sortBy, Page: store.Page{Limit: 10, Offset: off}})
			must(t, err)
			offset = append(offset, hs...)
		}
		if d := cmp.Diff(all, paged); d != "" {
			t.Errorf("sort %d: keyset pages differ from one list (-want +got):\n%s", sortBy, d)
		}
		if d := cmp.Diff(all, offset); d != "" {
			t.Errorf("sort %d: offset pages differ from one list (-want +got):\n%s", sortBy, d)
		}
		for i := 1; i < len(all); i++ {
			a, b := all[i-1], all[i]
			ok := a.Hostname < b.Hostname || a.Hostname == b.Hostname && a.ID < b.ID
			if sortBy == store.SortLastSeen {
				ok = a.LastSeen.After(b.LastSeen) || a.LastSeen.Equal(b.LastSeen) && a.ID > b.ID
			}
			if !ok {
				t.Fatalf("sort %d: %s before %s", sortBy, a.ID, b.ID)
			}
		}
		var got []string
		for _, h := range paged {
			got = append(got, h.ID)
		}
		sort.Strings(got)
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("sort %d: pages do not hold every host once (-want +got):\n%s", sortBy, d)
		}
	}
	_, _, err := s.ListHosts(ctx, store.HostFilter{Page: store.Page{Cursor: "not a cursor!"}})
	wantErr(t, err, store.ErrInvalid)
	_, next, err := s.ListHosts(ctx, store.HostFilter{Page: store.Page{Limit: 5}})
	must(t, err)
	_, _, err = s.ListHosts(ctx, store.HostFilter{Sort: store.SortLastSeen, Page: store.Page{Cursor: next}})
	wantErr(t, err, store.ErrInvalid) // a cursor of another sort
}

func testEnrolTokens(t *testing.T, s store.Store) {
	tok := store.EnrolToken{Hash: "h1", Name: "rack 4", CreatedBy: "alice", CreatedAt: t0, ExpiresAt: at(time.Hour)}
	must(t, s.CreateEnrolToken(ctx, tok))
	wantErr(t, s.CreateEnrolToken(ctx, tok), store.ErrConflict)
	expired := store.EnrolToken{Hash: "h2", CreatedAt: t0, ExpiresAt: at(time.Minute)}
	must(t, s.CreateEnrolToken(ctx, expired))

	_, err := s.ConsumeEnrolToken(ctx, "h2", at(time.Minute), "host-a")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.ConsumeEnrolToken(ctx, "unknown", t0, "host-a")
	wantErr(t, err, store.ErrNotFound)
	got, err := s.ConsumeEnrolToken(ctx, "h1", at(time.Second), "host-a")
	must(t, err)
	want := tok
	want.UsedAt, want.UsedBy = at(time.Second), "host-a"
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("consume (-want +got):\n%s", d)
	}
	_, err = s.ConsumeEnrolToken(ctx, "h1", at(2*time.Second), "host-b")
	wantErr(t, err, store.ErrNotFound)

	list, err := s.ListEnrolTokens(ctx)
	must(t, err)
	if len(list) != 2 {
		t.Fatalf("list = %d tokens, want 2", len(list))
	}
	must(t, s.DeleteEnrolToken(ctx, "h2"))
	wantErr(t, s.DeleteEnrolToken(ctx, "h2"), store.ErrNotFound)
}

func testEnrolConcurrent(t *testing.T, s store.Store) {
	const tokens, workers = 5, 8
	for i := range tokens {
		must(t, s.CreateEnrolToken(ctx, store.EnrolToken{Hash: fmt.Sprint("t", i), CreatedAt: t0, ExpiresAt: at(time.Hour)}))
	}
	var ok, notFound atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, tokens*workers)
	for i := range tokens {
		for w := range workers {
			wg.Go(func() {
				_, err := s.ConsumeEnrolToken(ctx, fmt.Sprint("t", i), at(time.Second), fmt.Sprint("host", w))
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, store.ErrNotFound):
					notFound.Add(1)
				default:
					errs <- err
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if ok.Load() != tokens || notFound.Load() != tokens*(workers-1) {
		t.Fatalf("consumed %d, refused %d; want %d and %d", ok.Load(), notFound.Load(), tokens, tokens*(workers-1))
	}
}

func testInventory(t *testing.T, s store.Store) {
	addHost(t, s, host("h1"))
	_, _, err := s.PutInventory(ctx, "nope", t0, json.RawMessage(`{}`))
	wantErr(t, err, store.ErrNotFound)
	_, err = s.LatestInventory(ctx, "h1")
	wantErr(t, err, store.ErrNotFound)

	a, b := json.RawMessage(`{"packages": [{"name": "openssl", "version": "3.0.11"}]}`), json.RawMessage(`{"packages":[]}`)
	s1, stored, err := s.PutInventory(ctx, "h1", t0, a)
	must(t, err)
	if !stored || s1.ID == 0 || len(s1.SHA256) != 64 {
		t.Fatalf("first put: %+v stored=%v", s1, stored)
	}
	s2, stored, err := s.PutInventory(ctx, "h1", at(time.Hour), a)
	must(t, err)
	if stored || s2.ID != s1.ID || !s2.Time.Equal(t0) {
		t.Fatalf("identical put stored=%v snapshot %+v, want the first one", stored, s2)
	}
	s3, stored, err := s.PutInventory(ctx, "h1", at(2*time.Hour), b)
	must(t, err)
	if !stored || s3.ID == s1.ID {
		t.Fatalf("changed put: stored=%v %+v", stored, s3)
	}
	// Identical to an older snapshot but not to the latest: stored.
	s4, stored, err := s.PutInventory(ctx, "h1", at(3*time.Hour), a)
	must(t, err)
	if !stored {
		t.Fatal("a change back was not stored")
	}
	latest, err := s.LatestInventory(ctx, "h1")
	must(t, err)
	if d := cmp.Diff(s4, latest); d != "" {
		t.Fatalf("latest (-want +got):\n%s", d)
	}
	if string(latest.Data) != string(a) {
		t.Fatalf("data = %s, want it verbatim: %s", latest.Data, a)
	}
	hist, err := s.InventoryHistory(ctx, "h1", 0)
	must(t, err)
	var gotIDs []int64
	for _, h := range hist {
		if h.Data != nil {
			t.Error("history carries data")
		}
		gotIDs = append(gotIDs, h.ID)
	}
	if d := cmp.Diff([]int64{s4.ID, s3.ID, s1.ID}, gotIDs); d != "" {
		t.Fatalf("history (-want +got):\n%s", d)
	}
	g, err := s.GetInventory(ctx, s3.ID)
	must(t, err)
	if d := cmp.Diff(s3, g); d != "" {
		t.Fatalf("get (-want +got):\n%s", d)
	}
	_, err = s.GetInventory(ctx, 999999)
	wantErr(t, err, store.ErrNotFound)
}

func testFindings(t *testing.T, s store.Store) {
	for _, id := range []string{"h1", "h2", "h3"} {
		h := host(id)
		if id != "h3" {
			h.Groups = []string{"prod"}
		}
		addHost(t, s, h)
	}
	f := func(host, vuln, pkg string, sev severity.Level, prio int) store.VulnFinding {
		return store.VulnFinding{HostID: host, VulnID: vuln, Package: pkg, Version: "1.0", FixedVersion: "1.1",
			Severity: sev, Priority: prio, Summary: vuln + " in " + pkg}
	}
	h1 := []store.VulnFinding{f("h1", "CVE-1", "openssl", severity.Critical, 90), f("h1", "CVE-2", "zlib", severity.Low, 10)}
	h1[0].Data = json.RawMessage(`{"epss": 0.9}`)
	must(t, s.ReplaceFindings(ctx, "h1", h1))
	must(t, s.ReplaceFindings(ctx, "h2", []store.VulnFinding{f("h2", "CVE-1", "openssl", severity.Critical, 70), f("h2", "CVE-1", "libssl3", severity.Critical, 70)}))
	must(t, s.ReplaceFindings(ctx, "h3", []store.VulnFinding{f("h3", "CVE-1", "openssl", severity.Critical, 95), f("h3", "CVE-3", "bash", severity.Medium, 40)}))
	wantErr(t, s.ReplaceFindings(ctx, "nope", nil), store.ErrNotFound)

	got, err := s.ListHostFindings(ctx, "h1")
	must(t, err)
	if d := cmp.Diff(h1, got, cmpopts.EquateEmpty()); d != "" {
		t.Fatalf("host findings (-want +got):\n%s", d)
	}
	// A failed replace leaves the old set.
	bad := []store.VulnFinding{f("h1", "CVE-9", "x", severity.Low, 1), f("h1", "", "x", severity.Low, 1)}
	wantErr(t, s.ReplaceFindings(ctx, "h1", bad), store.ErrInvalid)
	dup := []store.VulnFinding{f("h1", "CVE-9", "x", severity.Low, 1), f("h1", "CVE-9", "x", severity.Low, 1)}
	if err := s.ReplaceFindings(ctx, "h1", dup); err == nil {
		t.Fatal("duplicate findings accepted")
	}
	got, err = s.ListHostFindings(ctx, "h1")
	must(t, err)
	if d := cmp.Diff(h1, got, cmpopts.EquateEmpty()); d != "" {
		t.Fatalf("after failed replace (-want +got):\n%s", d)
	}

	for _, tc := range []struct {
		name string
		f    store.VulnFilter
		want []store.VulnSummary
	}{
		{"all", store.VulnFilter{}, []store.VulnSummary{
			{VulnID: "CVE-1", Severity: severity.Critical, Priority: 95, Hosts: 3, Packages: 2, Summary: "CVE-1 in openssl"},
			{VulnID: "CVE-3", Severity: severity.Medium, Priority: 40, Hosts: 1, Packages: 1, Summary: "CVE-3 in bash"},
			{VulnID: "CVE-2", Severity: severity.Low, Priority: 10, Hosts: 1, Packages: 1, Summary: "CVE-2 in zlib"},
		}},
		{"min_severity", store.VulnFilter{MinSeverity: severity.Medium, Limit: 1, Offset: 1}, []store.VulnSummary{
			{VulnID: "CVE-3", Severity: severity.Medium, Priority: 40, Hosts: 1, Packages: 1, Summary: "CVE-3 in bash"},
		}},
		{"group", store.VulnFilter{Group: "prod", Text: "OPENSSL"}, []store.VulnSummary{
			{VulnID: "CVE-1", Severity: severity.Critical, Priority: 90, Hosts: 2, Packages: 1, Summary: "CVE-1 in openssl"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListVulns(ctx, tc.f)
			must(t, err)
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
	must(t, s.ReplaceFindings(ctx, "h1", nil))
	got, err = s.ListHostFindings(ctx, "h1")
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("after clearing: %d findings", len(got))
	}
}

func mkAlert(id string, d time.Duration, sev severity.Level, rule, title string, tactics ...string) alert.Alert {
	return alert.Alert{ID: id, Time: at(d), Host: "agent-said", Rule: alert.Rule{ID: rule, Version: 1, Title: title},
		Severity: sev, Attack: alert.Attack{Tactics: tactics, Techniques: []string{"T1059"}},
		Process:  &alert.Process{PID: 42, ExecID: "e1", Exe: "/bin/sh", Cmdline: "sh -c id", User: "root"},
		Evidence: map[string]any{"path": "/tmp/x"}, Response: alert.Response{Action: "none", Result: "ok"}, Count: 1}
}

func testAlertIngest(t *testing.T, s store.Store) {
	addHost(t, s, host("h1"))
	batch := []alert.Alert{
		mkAlert("a1", 0, severity.High, "r1", "Reverse shell", "TA0002"),
		mkAlert("a2", time.Second, severity.Low, "r2", "Cron change", "TA0003", "TA0005"),
		mkAlert("a1", 0, severity.High, "r1", "Reverse shell", "TA0002"), // repeated in the batch
	}
	n, err := s.IngestAlerts(ctx, "h1", batch)
	must(t, err)
	if n != 2 {
		t.Fatalf("first ingest added %d, want 2", n)
	}
	n, err = s.IngestAlerts(ctx, "h1", batch)
	must(t, err)
	if n != 0 {
		t.Fatalf("second ingest added %d, want 0", n)
	}
	c, err := s.CountAlerts(ctx, store.AlertFilter{})
	must(t, err)
	if c != 2 {
		t.Fatalf("count = %d, want 2", c)
	}
	got, err := s.GetAlert(ctx, "a2")
	must(t, err)
	want := batch[1]
	want.Host = "h1" // the enrolled host, not what the agent wrote
	if d := cmp.Diff(want, got.Alert); d != "" {
		t.Fatalf("alert (-want +got):\n%s", d)
	}
	if got.Status != store.StatusOpen || got.Version != 1 {
		t.Fatalf("new alert status %q version %d", got.Status, got.Version)
	}
	st, err := s.AlertStats(ctx, store.AlertFilter{})
	must(t, err)
	wantStats := store.AlertStats{
		BySeverity: map[severity.Level]int{severity.High: 1, severity.Low: 1},
		ByStatus:   map[store.AlertStatus]int{store.StatusOpen: 2},
		ByTactic:   map[string]int{"TA0002": 1, "TA0003": 1, "TA0005": 1},
	}
	if d := cmp.Diff(wantStats, st); d != "" {
		t.Fatalf("stats (-want +got):\n%s", d)
	}
	_, err = s.IngestAlerts(ctx, "nope", batch[:1])
	wantErr(t, err, store.ErrNotFound)
	_, err = s.GetAlert(ctx, "nope")
	wantErr(t, err, store.ErrNotFound)
}

func testAlertIngestConcurrent(t *testing.T, s store.Store) {
	addHost(t, s, host("h1"))
	var batch []alert.Alert
	for i := range 450 { // more than one INSERT's worth
		batch = append(batch, mkAlert(fmt.Sprintf("a%03d", i), time.Duration(i)*time.Millisecond, severity.Medium, "r", "t", "TA0001"))
	}
	var total atomic.Int64
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			b := slices.Clone(batch)
			if w%2 == 1 {
				slices.Reverse(b)
			}
			n, err := s.IngestAlerts(ctx, "h1", b)
			if err != nil {
				t.Error(err)
			}
			total.Add(int64(n))
		})
	}
	wg.Wait()
	c, err := s.CountAlerts(ctx, store.AlertFilter{Tactic: "TA0001"})
	must(t, err)
	if total.Load() != 450 || c != 450 {
		t.Fatalf("added %d, stored %d; want 450 and 450", total.Load(), c)
	}
}

func alertIDs(rs []store.AlertRecord) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Alert.ID)
	}
	return out
}

func testAlertFilters(t *testing.T, s store.Store) {
	addHost(t, s, host("h1"))
	addHost(t, s, host("h2"))
	_, err := s.IngestAlerts(ctx, "h1", []alert.Alert{
		mkAlert("a1", 1*time.Second, severity.Critical, "r.shell", "Reverse shell from web server", "TA0002", "TA0011"),
		mkAlert("a2", 2*time.Second, severity.Low, "r.cron", "Crontab changed", "TA0003"),
		mkAlert("a3", 3*time.Second, severity.Medium, "r.shell", "Reverse shell 100% sure", "TA0002"),
	})
	must(t, err)
	_, err = s.IngestAlerts(ctx, "h2", []alert.Alert{
		mkAlert("a4", 4*time.Second, severity.High, "r.miner", "Crypto miner_x", "TA0040"),
	})
	must(t, err)
	_, err = s.UpdateAlert(ctx, store.AlertUpdate{ID: "a2", Version: 1, Status: store.StatusHandled, At: t0, Actor: "alice"})
	must(t, err)
	for _, tc := range []struct {
		name string
		f    store.AlertFilter
		want []string
	}{
		{"all_newest_first", store.AlertFilter{}, []string{"a4", "a3", "a2", "a1"}},
		{"host", store.AlertFilter{HostID: "h2"}, []string{"a4"}},
		{"min_severity", store.AlertFilter{Severity: severity.High}, []string{"a4", "a1"}},
		{"status", store.AlertFilter{Status: store.StatusOpen}, []string{"a4", "a3", "a1"}},
		{"rule", store.AlertFilter{RuleID: "r.shell"}, []string{"a3", "a1"}},
		{"tactic", store.AlertFilter{Tactic: "TA0002"}, []string{"a3", "a1"}},
		{"time_range", store.AlertFilter{Since: at(2 * time.Second), Until: at(4 * time.Second)}, []string{"a3", "a2"}},
		{"text_case_insensitive", store.AlertFilter{Text: "reverse SHELL"}, []string{"a3", "a1"}},
		{"text_percent_literal", store.AlertFilter{Text: "100%"}, []string{"a3"}},
		{"text_underscore_literal", store.AlertFilter{Text: "r_x"}, []string{"a4"}},
		{"text_no_match", store.AlertFilter{Text: "_%"}, nil},
		{"combined", store.AlertFilter{HostID: "h1", Tactic: "TA0002", Severity: severity.Critical}, []string{"a1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs, _, err := s.ListAlerts(ctx, tc.f)
			must(t, err)
			if d := cmp.Diff(tc.want, alertIDs(rs), cmpopts.EquateEmpty()); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
			n, err := s.CountAlerts(ctx, tc.f)
			must(t, err)
			if n != len(tc.want) {
				t.Errorf("count = %d, want %d", n, len(tc.want))
			}
		})
	}
	capped, err := s.CountAlerts(ctx, store.AlertFilter{Page: store.Page{Limit: 2}})
	must(t, err)
	if capped != 2 {
		t.Fatalf("count capped at 2 = %d", capped)
	}
	st, err := s.AlertStats(ctx, store.AlertFilter{HostID: "h1"})
	must(t, err)
	want := store.AlertStats{
		BySeverity: map[severity.Level]int{severity.Critical: 1, severity.Medium: 1, severity.Low: 1},
		ByStatus:   map[store.AlertStatus]int{store.StatusOpen: 2, store.StatusHandled: 1},
		ByTactic:   map[string]int{"TA0002": 2, "TA0011": 1, "TA0003": 1},
	}
	if d := cmp.Diff(want, st); d != "" {
		t.Fatalf("stats (-want +got):\n%s", d)
	}
	_, _, err = s.ListAlerts(ctx, store.AlertFilter{Status: "bogus"})
	wantErr(t, err, store.ErrInvalid)
}

func testAlertPagination(t *testing.T, s store.Store) {
	addHost(t, s, host("h1"))
	var batch []alert.Alert
	for i := range 95 {
		// Several alerts share each time: ties break on ID.
		batch = append(batch, mkAlert(fmt.Sprintf("a%03d", i), time.Duration(i/4)*time.Second, severity.Medium, "r", "t"))
	}
	_, err := s.IngestAlerts(ctx, "h1", batch)
	must(t, err)
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 20 {
			t.Fatal("pagination does not end")
		}
		rs, next, err := s.ListAlerts(ctx, store.AlertFilter{Page: store.Page{Limit: 10, Cursor: cursor}})
		must(t, err)
		got = append(got, alertIDs(rs)...)
		if pages == 1 {
			// New alerts arriving between pages, newer than everything
			// listed, neither repeat nor shift the following pages.
			_, err := s.IngestAlerts(ctx, "h1", []alert.Alert{mkAlert("new1", time.Hour, severity.High, "r", "t"), mkAlert("new0", 0, severity.High, "r", "t")})
			must(t, err)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	var want []string
	for i := 94; i >= 0; i-- {
		want = append(want, fmt.Sprintf("a%03d", i))
	}
	// new0 shares time 0 with a000–a003 and sorts after them by ID (desc):
	// it lands on a page not yet read.
	want = append(want[:len(want)-4], "new0", "a003", "a002", "a001", "a000")
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("pages (-want +got):\n%s", d)
	}
	// Offset paging matches for a stable set.
	rs, _, err := s.ListAlerts(ctx, store.AlertFilter{Page: store.Page{Limit: 5, Offset: 10}})
	must(t, err)
	// new1, a094 … a086 come first.
	if d := cmp.Diff([]string{"a085", "a084", "a083", "a082", "a081"}, alertIDs(rs)); d != "" {
		t.Fatalf("offset page (-want +got):\n%s", d)
	}
}

// testAlertCounts: AlertStats without host, rule, tactic, time or text
// filters comes from kept counts; it must equal counting the alerts one by
// one, through ingest (with repeats), status changes, lost races and
// concurrent updates.
func testAlertCounts(t *testing.T, s store.Store) {
	addHost(t, s, host("h1"))
	addHost(t, s, host("h2"))
	tactics := [][]string{nil, {"TA0002"}, {"TA0002", "TA0003"}, {"TA0003", "TA0003"}}
	var as []alert.Alert
	for i := range 40 {
		as = append(as, mkAlert(fmt.Sprintf("c%02d", i), time.Duration(i)*time.Second, severity.Level(1+i%5), "r", "t", tactics[i%4]...))
	}
	_, err := s.IngestAlerts(ctx, "h1", as[:25])
	must(t, err)
	_, err = s.Ingest(ctx, []store.Batch{{HostID: "h2", Alerts: as[20:]}, {HostID: "h1", Alerts: as[:5]}}) // repeats
	must(t, err)
	statuses := []store.AlertStatus{store.StatusHandled, store.StatusIgnored, store.StatusFalsePositive, store.StatusOpen}
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() {
			id := fmt.Sprintf("c%02d", i)
			r, err := s.GetAlert(ctx, id)
			if err != nil {
				t.Error(err)
				return
			}
			// Two writers race for each version; one loses.
			for w := range 2 {
				_, err := s.UpdateAlert(ctx, store.AlertUpdate{ID: id, Version: r.Version, Status: statuses[(i+w)%4], At: at(time.Hour), Actor: "x"})
				if err != nil && !errors.Is(err, store.ErrConflict) {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	var all []store.AlertRecord
	for cur := ""; ; {
		page, next, err := s.ListAlerts(ctx, store.AlertFilter{Page: store.Page{Limit: 7, Cursor: cur}})
		must(t, err)
		all = append(all, page...)
		if next == "" {
			break
		}
		cur = next
	}
	if len(all) != 40 {
		t.Fatalf("%d alerts listed, want 40", len(all))
	}
	for _, f := range []store.AlertFilter{{}, {Status: store.StatusOpen}, {Status: store.StatusHandled, Severity: severity.High}, {Severity: severity.Medium}} {
		want := store.AlertStats{BySeverity: map[severity.Level]int{}, ByStatus: map[store.AlertStatus]int{}, ByTactic: map[string]int{}}
		for _, r := range all {
			if (f.Status != "" && r.Status != f.Status) || r.Alert.Severity < f.Severity {
				continue
			}
			want.BySeverity[r.Alert.Severity]++
			want.ByStatus[r.Status]++
			for _, tc := range uniqStrings(r.Alert.Attack.Tactics) {
				want.ByTactic[tc]++
			}
		}
		got, err := s.AlertStats(ctx, f)
		must(t, err)
		if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
			t.Errorf("stats for %+v (-counted +kept):\n%s", f, d)
		}
	}
}

func uniqStrings(vs []string) []string {
	vs = slices.Clone(vs)
	slices.Sort(vs)
	return slices.Compact(vs)
}

func testAlertWorkflow(t *testing.T, s store.Store) {
	addHost(t, s, host("h1"))
	_, err := s.IngestAlerts(ctx, "h1", []alert.Alert{mkAlert("a1", 0, severity.High, "r", "t")})
	must(t, err)
	v, err := s.UpdateAlert(ctx, store.AlertUpdate{ID: "a1", Version: 1, Status: store.StatusHandled, Assignee: "bob",
		Comment: &store.Comment{Time: at(time.Minute), Author: "alice", Text: "looked at it"}, At: at(time.Minute), Actor: "alice"})
	must(t, err)
	if v != 2 {
		t.Fatalf("version = %d, want 2", v)
	}
	// A stale version loses.
	_, err = s.UpdateAlert(ctx, store.AlertUpdate{ID: "a1", Version: 1, Status: store.StatusIgnored, At: at(time.Minute), Actor: "carol"})
	wantErr(t, err, store.ErrConflict)
	_, err = s.UpdateAlert(ctx, store.AlertUpdate{ID: "nope", Version: 1, Status: store.StatusIgnored, At: at(time.Minute), Actor: "carol"})
	wantErr(t, err, store.ErrNotFound)
	_, err = s.UpdateAlert(ctx, store.AlertUpdate{ID: "a1", Version: 2, Status: "closed", At: at(time.Minute), Actor: "carol"})
	wantErr(t, err, store.ErrInvalid)
	v, err = s.UpdateAlert(ctx, store.AlertUpdate{ID: "a1", Version: 2, Status: store.StatusFalsePositive, Assignee: "bob",
		Comment: &store.Comment{Time: at(2 * time.Minute), Author: "bob", Text: "benign admin script"}, At: at(2 * time.Minute), Actor: "bob"})
	must(t, err)
	r, err := s.GetAlert(ctx, "a1")
	must(t, err)
	if r.Status != store.StatusFalsePositive || r.Assignee != "bob" || r.Version != v || !r.UpdatedAt.Equal(at(2*time.Minute)) {
		t.Fatalf("record %+v", r)
	}
	wantC := []store.Comment{{Time: at(time.Minute), Author: "alice", Text: "looked at it"}, {Time: at(2 * time.Minute), Author: "bob", Text: "benign admin script"}}
	if d := cmp.Diff(wantC, r.Comments); d != "" {
		t.Fatalf("comments (-want +got):\n%s", d)
	}
	// Concurrent updates at one version: exactly one wins.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			_, err := s.UpdateAlert(ctx, store.AlertUpdate{ID: "a1", Version: v, Status: store.StatusOpen, Assignee: fmt.Sprint("u", i), At: at(time.Hour), Actor: "x"})
			if err == nil {
				wins.Add(1)
			} else if !errors.Is(err, store.ErrConflict) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d concurrent updates won, want 1", wins.Load())
	}
	es, _, err := s.ListAudit(ctx, store.AuditFilter{Object: "alert:a1"})
	must(t, err)
	if len(es) != 3 || es[0].Action != "alert.update" || es[2].Actor != "alice" {
		t.Fatalf("audit entries %+v, want 3 alert.update entries, oldest by alice", es)
	}
}

func ev(id string, d time.Duration) store.Event {
	return store.Event{ID: id, Time: at(d), Kind: "exec", Data: json.RawMessage(`{"proc":{"pid":1,"exe":"/bin/true"}}`)}
}

func testEvents(t *testing.T, s store.Store) {
	addHost(t, s, host("h1"))
	addHost(t, s, host("h2"))
	var batch []store.Event
	for i := range 1200 { // more than one INSERT's worth
		batch = append(batch, ev(fmt.Sprintf("e%04d", i), time.Duration(i)*time.Millisecond))
	}
	n, err := s.IngestEvents(ctx, "h1", batch)
	must(t, err)
	if n != 1200 {
		t.Fatalf("added %d, want 1200", n)
	}
	n, err = s.IngestEvents(ctx, "h1", append(batch[:10:10], ev("e9999", time.Hour), ev("e9999", time.Hour)))
	must(t, err)
	if n != 1 {
		t.Fatalf("re-ingest added %d, want 1", n)
	}
	// The same ID from another host is another event.
	n, err = s.IngestEvents(ctx, "h2", batch[:3])
	must(t, err)
	if n != 3 {
		t.Fatalf("other host added %d, want 3", n)
	}
	for host, want := range map[string]int{"h1": 1201, "h2": 3, "": 1204} {
		c, err := s.CountEvents(ctx, host)
		must(t, err)
		if c != want {
			t.Errorf("count %q = %d, want %d", host, c, want)
		}
	}
	es, err := s.ListEvents(ctx, store.EventFilter{HostID: "h1", Since: at(10 * time.Millisecond), Until: at(13 * time.Millisecond)})
	must(t, err)
	want := []store.Event{batch[10], batch[11], batch[12]}
	if d := cmp.Diff(want, es); d != "" {
		t.Fatalf("list (-want +got):\n%s", d)
	}
	_, err = s.IngestEvents(ctx, "nope", batch[:1])
	wantErr(t, err, store.ErrNotFound)
}

func testEventsConcurrent(t *testing.T, s store.Store) {
	addHost(t, s, host("h1"))
	var batch []store.Event
	for i := range 700 {
		batch = append(batch, ev(fmt.Sprintf("e%04d", i), time.Duration(i)))
	}
	var total atomic.Int64
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			b := slices.Clone(batch[w*50:])
			slices.Reverse(b)
			n, err := s.IngestEvents(ctx, "h1", b)
			if err != nil {
				t.Error(err)
			}
			total.Add(int64(n))
		})
	}
	wg.Wait()
	c, err := s.CountEvents(ctx, "h1")
	must(t, err)
	if total.Load() != 700 || c != 700 {
		t.Fatalf("added %d, stored %d; want 700 and 700", total.Load(), c)
	}
}

// testIngestGroup: many hosts' records in one transaction, all or nothing.
func testIngestGroup(t *testing.T, s store.Store) {
	addHost(t, s, host("h1"))
	addHost(t, s, host("h2"))
	a1 := mkAlert("g1", 0, severity.High, "r1", "one", "execution")
	a2 := mkAlert("g2", time.Second, severity.Low, "r2", "two")
	added, err := s.Ingest(ctx, []store.Batch{
		{HostID: "h1", Alerts: []alert.Alert{a1}, Events: []store.Event{ev("e1", 0), ev("e2", 1)}},
		{HostID: "h2", Events: []store.Event{ev("e1", 0)}},
		{HostID: "h1", Alerts: []alert.Alert{a1, a2}, Events: []store.Event{ev("e2", 1), ev("e3", 2)}}, // repeats
		{HostID: "h2"},
	})
	must(t, err)
	want := []store.BatchAdded{{Alerts: 1, Events: 2}, {Events: 1}, {Alerts: 1, Events: 1}, {}}
	if d := cmp.Diff(want, added); d != "" {
		t.Fatalf("added (-want +got):\n%s", d)
	}
	rec, err := s.GetAlert(ctx, "g2")
	must(t, err)
	if rec.Alert.Host != "h1" || rec.Status != store.StatusOpen {
		t.Fatalf("stored alert %+v", rec)
	}
	st, err := s.AlertStats(ctx, store.AlertFilter{})
	must(t, err)
	if st.ByTactic["execution"] != 1 {
		t.Fatalf("tactics %+v, want execution 1", st.ByTactic)
	}

	// One bad batch or unknown host stores nothing from any batch.
	bad := ev("e9", 9)
	bad.Data = json.RawMessage(`{`)
	for name, tc := range map[string]struct {
		bs   []store.Batch
		want error
	}{
		"invalid": {[]store.Batch{{HostID: "h1", Events: []store.Event{ev("e8", 8)}}, {HostID: "h2", Events: []store.Event{bad}}}, store.ErrInvalid},
		"unknown": {[]store.Batch{{HostID: "h1", Events: []store.Event{ev("e8", 8)}}, {HostID: "nope", Events: []store.Event{ev("e8", 8)}}}, store.ErrNotFound},
	} {
		_, err := s.Ingest(ctx, tc.bs)
		if !errors.Is(err, tc.want) {
			t.Fatalf("%s: err %v, want %v", name, err, tc.want)
		}
	}
	for host, want := range map[string]int{"h1": 3, "h2": 1} {
		c, err := s.CountEvents(ctx, host)
		must(t, err)
		if c != want {
			t.Errorf("events of %s: %d, want %d (a failed group stored something)", host, c, want)
		}
	}

	// Each new alert is in the outbox once, in the order stored, until
	// deleted; redelivery adds nothing.
	_, err = s.IngestAlerts(ctx, "h2", []alert.Alert{a1, mkAlert("g3", 0, severity.Medium, "r3", "three")})
	must(t, err)
	out, err := s.OutboxAlerts(ctx, 10)
	must(t, err)
	var ids []string
	for i, o := range out {
		ids = append(ids, o.Record.Alert.ID)
		if i > 0 && o.Seq <= out[i-1].Seq {
			t.Fatalf("outbox not in sequence order: %+v", out)
		}
	}
	if d := cmp.Diff([]string{"g1", "g2", "g3"}, ids); d != "" {
		t.Fatalf("outbox (-want +got):\n%s", d)
	}
	if out[2].Record.Alert.Host != "h2" || out[2].Record.Status != store.StatusOpen {
		t.Fatalf("outbox record %+v", out[2].Record)
	}
	must(t, s.DeleteOutbox(ctx, []int64{out[0].Seq, out[2].Seq}))
	out, err = s.OutboxAlerts(ctx, 10)
	must(t, err)
	if len(out) != 1 || out[0].Record.Alert.ID != "g2" {
		t.Fatalf("outbox after delete: %+v", out)
	}
}

// testTouchHosts: heartbeats written in bulk; last seen never goes back.
func testTouchHosts(t *testing.T, s store.Store) {
	addHost(t, s, host("h1"))
	addHost(t, s, host("h2"))
	must(t, s.TouchHosts(ctx, []store.HostSeen{
		{ID: "h2", LastSeen: at(time.Minute), AgentVersion: "2.0.0", SensorMode: "proc_connector"},
		{ID: "h1", LastSeen: at(time.Hour), AgentVersion: "1.1.0", SensorMode: "ebpf", Hostname: "renamed", OS: "Debian 13"},
		{ID: "gone", LastSeen: at(time.Hour)}, // skipped
	}))
	must(t, s.TouchHosts(ctx, []store.HostSeen{{ID: "h1", LastSeen: at(time.Minute), AgentVersion: "1.1.1", SensorMode: "ebpf"}}))
	h1, err := s.GetHost(ctx, "h1")
	must(t, err)
	h2, err := s.GetHost(ctx, "h2")
	must(t, err)
	if !h1.LastSeen.Equal(at(time.Hour)) || h1.Hostname != "renamed" || h1.OS != "Debian 13" || h1.AgentVersion != "1.1.1" {
		t.Fatalf("h1 %+v", h1)
	}
	if !h2.LastSeen.Equal(at(time.Minute)) || h2.Hostname != "host-h2" || h2.OS != "Debian 12" || h2.SensorMode != "proc_connector" {
		t.Fatalf("h2 %+v", h2)
	}
	wantErr(t, s.TouchHosts(ctx, []store.HostSeen{{ID: "h1", LastSeen: at(0), Hostname: "bad\x00"}}), store.ErrInvalid)
}

func testTasks(t *testing.T, s store.Store) {
	addHost(t, s, host("h1"))
	addHost(t, s, host("h2"))
	task := store.Task{Type: "vuln_scan", Params: json.RawMessage(`{"full": true}`), Targets: store.Targets{Groups: []string{"prod"}, Hosts: []string{"h1"}},
		Schedule: "0 3 * * *", Signature: []byte{0, 1, 2, 0xff}, CreatedBy: "alice", CreatedAt: t0}
	created, err := s.CreateTask(ctx, task)
	must(t, err)
	if created.ID == 0 {
		t.Fatal("no task ID")
	}
	task.ID = created.ID
	got, err := s.GetTask(ctx, task.ID)
	must(t, err)
	if d := cmp.Diff(task, got); d != "" {
		t.Fatalf("get (-want +got):\n%s", d)
	}
	second, err := s.CreateTask(ctx, store.Task{Type: "collect_inventory", Params: json.RawMessage(`{}`), Targets: store.Targets{All: true}, CreatedAt: t0})
	must(t, err)
	list, err := s.ListTasks(ctx, 0, 0)
	must(t, err)
	if len(list) != 2 || list[0].ID != second.ID || !list[0].Targets.All || list[0].Signature == nil {
		t.Fatalf("list %+v", list)
	}
	_, err = s.GetTask(ctx, 424242)
	wantErr(t, err, store.ErrNotFound)

	runs, err := s.AddTaskRuns(ctx, task.ID, []string{"h1", "h2"}, at(time.Second))
	must(t, err)
	if len(runs) != 2 || runs[0].State != store.RunPending || runs[1].HostID != "h2" {
		t.Fatalf("runs %+v", runs)
	}
	_, err = s.AddTaskRuns(ctx, task.ID, []string{"nope"}, t0)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.AddTaskRuns(ctx, 424242, []string{"h1"}, t0)
	wantErr(t, err, store.ErrNotFound)

	pend, err := s.PendingRuns(ctx, "h1", 10)
	must(t, err)
	if len(pend) != 1 || pend[0].ID != runs[0].ID {
		t.Fatalf("pending %+v", pend)
	}
	hosts, err := s.PendingHosts(ctx)
	must(t, err)
	if d := cmp.Diff([]string{"h1", "h2"}, hosts); d != "" {
		t.Fatalf("pending hosts (-want +got):\n%s", d)
	}
	id := runs[0].ID
	wantErr(t, s.SetRunState(ctx, id, store.RunSucceeded, at(2*time.Second), nil), store.ErrConflict) // not dispatched yet
	must(t, s.SetRunState(ctx, id, store.RunDispatched, at(2*time.Second), nil))
	for _, tc := range []struct {
		before time.Time
		want   int
	}{{at(2 * time.Second), 0}, {at(3 * time.Second), 1}} {
		ds, err := s.DispatchedRuns(ctx, tc.before, 0, 10)
		must(t, err)
		if len(ds) != tc.want || (tc.want == 1 && (ds[0].ID != id || !ds[0].DispatchedAt.Equal(at(2*time.Second)))) {
			t.Fatalf("dispatched before %v: %+v, want %d", tc.before, ds, tc.want)
		}
	}
	if ds, err := s.DispatchedRuns(ctx, at(time.Hour), id, 10); err != nil || len(ds) != 0 {
		t.Fatalf("dispatched after run %d: %+v, %v; want none", id, ds, err)
	}
	wantErr(t, s.SetRunState(ctx, id, store.RunDispatched, at(2*time.Second), nil), store.ErrConflict)
	must(t, s.SetRunState(ctx, id, store.RunSucceeded, at(3*time.Second), json.RawMessage(`{"found": 3}`)))
	wantErr(t, s.SetRunState(ctx, id, store.RunFailed, at(4*time.Second), nil), store.ErrConflict)
	must(t, s.SetRunState(ctx, runs[1].ID, store.RunFailed, at(4*time.Second), json.RawMessage(`{"error": "offline"}`)))
	wantErr(t, s.SetRunState(ctx, 424242, store.RunFailed, t0, nil), store.ErrNotFound)
	wantErr(t, s.SetRunState(ctx, id, store.RunPending, t0, nil), store.ErrInvalid)
	pend, err = s.PendingRuns(ctx, "h1", 10)
	must(t, err)
	if len(pend) != 0 {
		t.Fatalf("pending after dispatch %+v", pend)
	}
	hosts, err = s.PendingHosts(ctx)
	must(t, err)
	if len(hosts) != 0 {
		t.Fatalf("pending hosts after every run finished: %v", hosts)
	}
	all, err := s.ListTaskRuns(ctx, task.ID)
	must(t, err)
	want := []store.TaskRun{
		{ID: id, TaskID: task.ID, HostID: "h1", State: store.RunSucceeded, CreatedAt: at(time.Second), DispatchedAt: at(2 * time.Second), FinishedAt: at(3 * time.Second), Output: json.RawMessage(`{"found": 3}`)},
		{ID: runs[1].ID, TaskID: task.ID, HostID: "h2", State: store.RunFailed, CreatedAt: at(time.Second), FinishedAt: at(4 * time.Second), Output: json.RawMessage(`{"error": "offline"}`)},
	}
	if d := cmp.Diff(want, all); d != "" {
		t.Fatalf("runs (-want +got):\n%s", d)
	}

	// A result after the run was given up: revised only from the output
	// the caller saw, and only for a failed run.
	lost := json.RawMessage(`{"error": "offline"}`)
	wantErr(t, s.ReviseRun(ctx, runs[1].ID, json.RawMessage(`{"error": "other"}`), store.RunSucceeded, at(5*time.Second), nil), store.ErrConflict)
	wantErr(t, s.ReviseRun(ctx, id, json.RawMessage(`{"found": 3}`), store.RunFailed, at(5*time.Second), nil), store.ErrConflict) // succeeded, not failed
	wantErr(t, s.ReviseRun(ctx, runs[1].ID, lost, store.RunDispatched, at(5*time.Second), nil), store.ErrInvalid)
	wantErr(t, s.ReviseRun(ctx, 424242, lost, store.RunSucceeded, at(5*time.Second), nil), store.ErrNotFound)
	must(t, s.ReviseRun(ctx, runs[1].ID, lost, store.RunSucceeded, at(5*time.Second), json.RawMessage(`{"late": true}`)))
	wantErr(t, s.ReviseRun(ctx, runs[1].ID, lost, store.RunSucceeded, at(6*time.Second), nil), store.ErrConflict) // once
	all, err = s.ListTaskRuns(ctx, task.ID)
	must(t, err)
	want[1].State, want[1].FinishedAt, want[1].Output = store.RunSucceeded, at(5*time.Second), json.RawMessage(`{"late": true}`)
	if d := cmp.Diff(want, all); d != "" {
		t.Fatalf("runs after a late result (-want +got):\n%s", d)
	}
}

func testUsers(t *testing.T, s store.Store) {
	u := store.User{Username: "alice", PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", Role: store.RoleAdmin, CreatedAt: t0}
	must(t, s.CreateUser(ctx, u))
	wantErr(t, s.CreateUser(ctx, u), store.ErrConflict)
	wantErr(t, s.CreateUser(ctx, store.User{Username: "x", Role: "root"}), store.ErrInvalid)
	must(t, s.CreateUser(ctx, store.User{Username: "bob", Role: store.RoleReadOnly, CreatedAt: t0}))
	got, err := s.GetUser(ctx, "alice")
	must(t, err)
	if d := cmp.Diff(u, got); d != "" {
		t.Fatalf("user (-want +got):\n%s", d)
	}
	u.Role, u.Disabled, u.PasswordHash = store.RoleAnalyst, true, "new"
	must(t, s.UpdateUser(ctx, u))
	got, err = s.GetUser(ctx, "alice")
	must(t, err)
	if d := cmp.Diff(u, got); d != "" {
		t.Fatalf("updated user (-want +got):\n%s", d)
	}
	wantErr(t, s.UpdateUser(ctx, store.User{Username: "nope", Role: store.RoleAdmin}), store.ErrNotFound)
	users, err := s.ListUsers(ctx)
	must(t, err)
	if len(users) != 2 || users[0].Username != "alice" {
		t.Fatalf("users %+v", users)
	}

	se := store.Session{TokenHash: "s1", Username: "alice", CSRFSecret: "csrf", CreatedAt: t0, ExpiresAt: at(time.Hour)}
	must(t, s.CreateSession(ctx, se))
	wantErr(t, s.CreateSession(ctx, se), store.ErrConflict)
	wantErr(t, s.CreateSession(ctx, store.Session{TokenHash: "s9", Username: "ghost", CreatedAt: t0, ExpiresAt: at(time.Hour)}), store.ErrNotFound)
	must(t, s.CreateSession(ctx, store.Session{TokenHash: "s2", Username: "bob", CreatedAt: t0, ExpiresAt: at(time.Minute)}))
	gs, err := s.GetSession(ctx, "s1", at(time.Minute))
	must(t, err)
	if d := cmp.Diff(se, gs); d != "" {
		t.Fatalf("session (-want +got):\n%s", d)
	}
	_, err = s.GetSession(ctx, "s2", at(time.Minute))
	wantErr(t, err, store.ErrNotFound) // expired
	n, err := s.DeleteExpiredSessions(ctx, at(time.Minute))
	must(t, err)
	if n != 1 {
		t.Fatalf("deleted %d expired sessions, want 1", n)
	}

	tok := store.APIToken{Hash: "t1", Username: "alice", Name: "ci", CreatedAt: t0}
	must(t, s.CreateAPIToken(ctx, tok))
	wantErr(t, s.CreateAPIToken(ctx, tok), store.ErrConflict)
	must(t, s.TouchAPIToken(ctx, "t1", at(time.Minute)))
	wantErr(t, s.TouchAPIToken(ctx, "nope", t0), store.ErrNotFound)
	gt, err := s.GetAPIToken(ctx, "t1")
	must(t, err)
	tok.LastUsed = at(time.Minute)
	if d := cmp.Diff(tok, gt); d != "" {
		t.Fatalf("token (-want +got):\n%s", d)
	}
	ts, err := s.ListAPITokens(ctx, "alice")
	must(t, err)
	if len(ts) != 1 {
		t.Fatalf("tokens %+v", ts)
	}

	// Deleting a user deletes their sessions and tokens.
	must(t, s.DeleteUser(ctx, "alice"))
	wantErr(t, s.DeleteUser(ctx, "alice"), store.ErrNotFound)
	_, err = s.GetSession(ctx, "s1", t0)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.GetAPIToken(ctx, "t1")
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, s.DeleteSession(ctx, "s1"), store.ErrNotFound)
	wantErr(t, s.DeleteAPIToken(ctx, "t1"), store.ErrNotFound)
}

func testSettings(t *testing.T, s store.Store) {
	_, err := s.GetSetting(ctx, "retention")
	wantErr(t, err, store.ErrNotFound)
	must(t, s.PutSetting(ctx, "retention", json.RawMessage(`{"days": 30}`)))
	must(t, s.PutSetting(ctx, "retention", json.RawMessage(`{"days":  90}`)))
	must(t, s.PutSetting(ctx, "smtp", json.RawMessage(`null`)))
	v, err := s.GetSetting(ctx, "retention")
	must(t, err)
	if string(v) != `{"days":  90}` {
		t.Fatalf("setting = %s", v)
	}
	all, err := s.ListSettings(ctx)
	must(t, err)
	if len(all) != 2 || string(all["smtp"]) != "null" {
		t.Fatalf("settings %v", all)
	}
	wantErr(t, s.PutSetting(ctx, "bad", json.RawMessage(`{`)), store.ErrInvalid)
}

func testLeases(t *testing.T, s store.Store) {
	const ttl = 30 * time.Second
	acquire := func(name, holder string, d time.Duration, want bool) {
		t.Helper()
		got, err := s.AcquireLease(ctx, name, holder, at(d), ttl)
		must(t, err)
		if got != want {
			t.Fatalf("%s acquires %q at +%v: %v, want %v", holder, name, d, got, want)
		}
	}
	acquire("export", "a", 0, true)
	acquire("export", "b", time.Second, false)
	acquire("schedule", "b", time.Second, true)   // leases are independent
	acquire("export", "a", 20*time.Second, true)  // renewal: now held until +50s
	acquire("export", "b", 45*time.Second, false) // would have expired without the renewal
	acquire("export", "b", 50*time.Second, true)  // expired: taken over
	acquire("export", "a", 51*time.Second, false)
	must(t, s.ReleaseLease(ctx, "export", "a")) // not a's: no effect
	acquire("export", "a", 52*time.Second, false)
	must(t, s.ReleaseLease(ctx, "export", "b"))
	acquire("export", "a", 53*time.Second, true) // released: free at once
	must(t, s.ReleaseLease(ctx, "nothing", "a"))

	_, err := s.AcquireLease(ctx, "", "a", at(0), ttl)
	wantErr(t, err, store.ErrInvalid)
	_, err = s.AcquireLease(ctx, "x", "", at(0), ttl)
	wantErr(t, err, store.ErrInvalid)
	_, err = s.AcquireLease(ctx, "x", "a", at(0), 0)
	wantErr(t, err, store.ErrInvalid)
	_, err = s.AcquireLease(ctx, "x", "a", time.Time{}, ttl)
	wantErr(t, err, store.ErrInvalid)
}

// testLeasesConcurrent: of many holders racing for a free lease, exactly
// one gets it.
func testLeasesConcurrent(t *testing.T, s store.Store) {
	const n = 8
	for round := range 5 {
		name := fmt.Sprintf("race-%d", round)
		var wg sync.WaitGroup
		var won atomic.Int32
		for i := range n {
			wg.Go(func() {
				ok, err := s.AcquireLease(ctx, name, fmt.Sprintf("h%d", i), at(0), time.Minute)
				if err != nil {
					t.Error(err)
				}
				if ok {
					won.Add(1)
				}
			})
		}
		wg.Wait()
		if w := won.Load(); w != 1 {
			t.Fatalf("round %d: %d holders got the lease, want 1", round, w)
		}
	}
}

func testAudit(t *testing.T, s store.Store) {
	var ids []int64
	for i := range 25 {
		actor := "alice"
		if i%5 == 0 {
			actor = "bob"
		}
		id, err := s.AppendAudit(ctx, store.AuditEntry{Time: at(time.Duration(i) * time.Second), Actor: actor, Action: "host.revoke",
			Object: fmt.Sprint("host:h", i), Details: json.RawMessage(`{"reason":"lost laptop"}`)})
		must(t, err)
		ids = append(ids, id)
	}
	if !slices.IsSorted(ids) {
		t.Fatalf("IDs not increasing: %v", ids)
	}
	var got []int64
	cursor := ""
	for {
		es, next, err := s.ListAudit(ctx, store.AuditFilter{Actor: "alice", Page: store.Page{Limit: 7, Cursor: cursor}})
		must(t, err)
		for _, e := range es {
			got = append(got, e.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	var want []int64
	for i := 24; i >= 0; i-- {
		if i%5 != 0 {
			want = append(want, ids[i])
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("alice's entries (-want +got):\n%s", d)
	}
	es, _, err := s.ListAudit(ctx, store.AuditFilter{Since: at(3 * time.Second), Until: at(5 * time.Second)})
	must(t, err)
	wantE := []store.AuditEntry{
		{ID: ids[4], Time: at(4 * time.Second), Actor: "alice", Action: "host.revoke", Object: "host:h4", Details: json.RawMessage(`{"reason":"lost laptop"}`)},
		{ID: ids[3], Time: at(3 * time.Second), Actor: "alice", Action: "host.revoke", Object: "host:h3", Details: json.RawMessage(`{"reason":"lost laptop"}`)},
	}
	if d := cmp.Diff(wantE, es); d != "" {
		t.Fatalf("time range (-want +got):\n%s", d)
	}
	_, err = s.AppendAudit(ctx, store.AuditEntry{Actor: "x", Action: "y"})
	wantErr(t, err, store.ErrInvalid) // no time
}

// Nasty is text every field must store and give back verbatim.
var Nasty = []string{
	`'; DROP TABLE hosts; --`,
	`" OR 1=1 --`,
	`Robert'); DELETE FROM alerts WHERE ('1'='1`,
	`<script>alert(document.cookie)</script>`,
	`?$1 %s %d %_ \ \\ \' `,
	"ünïcødé 中文 العربية 🛡️ \u200b\u202e",
	"tab\tnew\nline\rcr",
	`{"json": "looking"}`,
	strings.Repeat("x", 5000),
}

func testVerbatim(t *testing.T, s store.Store) {
	for i, txt := range Nasty {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			id := fmt.Sprint("host-", i, txt)
			h := store.Host{ID: id, Hostname: txt, OS: txt, AgentVersion: txt, SensorMode: txt, Labels: []string{txt}, Groups: []string{txt},
				CertSerial: txt, CertSHA256: txt, EnrolledAt: t0, LastSeen: t0}
			addHost(t, s, h)
			got, err := s.GetHost(ctx, id)
			must(t, err)
			if d := cmp.Diff(h, got); d != "" {
				t.Fatalf("host (-want +got):\n%s", d)
			}
			hs, _, err := s.ListHosts(ctx, store.HostFilter{Label: txt, Group: txt, Name: txt})
			must(t, err)
			if len(hs) != 1 || hs[0].ID != id {
				t.Fatalf("host filters by the text found %d hosts", len(hs))
			}

			a := mkAlert(fmt.Sprint("alert-", i, txt), 0, severity.High, txt, txt, txt)
			a.Evidence = map[string]any{txt: txt}
			a.Process.Cmdline = txt
			_, err = s.IngestAlerts(ctx, id, []alert.Alert{a})
			must(t, err)
			a.Host = id
			rs, _, err := s.ListAlerts(ctx, store.AlertFilter{HostID: id, RuleID: txt, Tactic: txt, Text: txt})
			must(t, err)
			if len(rs) != 1 {
				t.Fatalf("alert filters by the text found %d alerts", len(rs))
			}
			if d := cmp.Diff(a, rs[0].Alert); d != "" {
				t.Fatalf("alert (-want +got):\n%s", d)
			}
			_, err = s.UpdateAlert(ctx, store.AlertUpdate{ID: a.ID, Version: 1, Status: store.StatusHandled, Assignee: txt,
				Comment: &store.Comment{Time: t0, Author: txt, Text: txt}, At: t0, Actor: txt})
			must(t, err)
			r, err := s.GetAlert(ctx, a.ID)
			must(t, err)
			if r.Assignee != txt || len(r.Comments) != 1 || r.Comments[0].Text != txt || r.Comments[0].Author != txt {
				t.Fatalf("workflow text changed: %+v", r)
			}

			e := store.Event{ID: txt, Time: t0, Kind: txt, Data: mustJSON(t, map[string]string{txt: txt})}
			_, err = s.IngestEvents(ctx, id, []store.Event{e})
			must(t, err)
			es, err := s.ListEvents(ctx, store.EventFilter{HostID: id})
			must(t, err)
			if d := cmp.Diff([]store.Event{e}, es); d != "" {
				t.Fatalf("event (-want +got):\n%s", d)
			}

			f := store.VulnFinding{HostID: id, VulnID: txt, Package: txt, Version: txt, FixedVersion: txt, Summary: txt, Data: mustJSON(t, txt)}
			must(t, s.ReplaceFindings(ctx, id, []store.VulnFinding{f}))
			fs, err := s.ListHostFindings(ctx, id)
			must(t, err)
			if d := cmp.Diff([]store.VulnFinding{f}, fs); d != "" {
				t.Fatalf("finding (-want +got):\n%s", d)
			}

			user := fmt.Sprint("user-", i, txt)
			u := store.User{Username: user, PasswordHash: txt, Role: store.RoleAnalyst, CreatedAt: t0}
			must(t, s.CreateUser(ctx, u))
			gu, err := s.GetUser(ctx, user)
			must(t, err)
			if d := cmp.Diff(u, gu); d != "" {
				t.Fatalf("user (-want +got):\n%s", d)
			}
			se := store.Session{TokenHash: user, Username: user, CSRFSecret: txt, CreatedAt: t0, ExpiresAt: at(time.Hour)}
			must(t, s.CreateSession(ctx, se))
			gs, err := s.GetSession(ctx, user, t0)
			must(t, err)
			if d := cmp.Diff(se, gs); d != "" {
				t.Fatalf("session (-want +got):\n%s", d)
			}
			tok := store.APIToken{Hash: user, Username: user, Name: txt, CreatedAt: t0}
			must(t, s.CreateAPIToken(ctx, tok))
			gt, err := s.GetAPIToken(ctx, user)
			must(t, err)
			if d := cmp.Diff(tok, gt); d != "" {
				t.Fatalf("API token (-want +got):\n%s", d)
			}
			must(t, s.CreateEnrolToken(ctx, store.EnrolToken{Hash: user, Name: txt, CreatedBy: txt, CreatedAt: t0, ExpiresAt: at(time.Hour)}))
			et, err := s.ConsumeEnrolToken(ctx, user, t0, txt)
			must(t, err)
			if et.Name != txt || et.CreatedBy != txt || et.UsedBy != txt {
				t.Fatalf("enrolment token %+v", et)
			}

			key := fmt.Sprint("key-", i, txt)
			val := mustJSON(t, txt)
			must(t, s.PutSetting(ctx, key, val))
			gv, err := s.GetSetting(ctx, key)
			must(t, err)
			if string(gv) != string(val) {
				t.Fatalf("setting %s, want %s", gv, val)
			}

			task, err := s.CreateTask(ctx, store.Task{Type: txt, Params: val, Targets: store.Targets{Labels: []string{txt}}, Schedule: txt,
				Signature: []byte(txt), CreatedBy: txt, CreatedAt: t0})
			must(t, err)
			gtask, err := s.GetTask(ctx, task.ID)
			must(t, err)
			if d := cmp.Diff(task, gtask); d != "" {
				t.Fatalf("task (-want +got):\n%s", d)
			}

			ae := store.AuditEntry{Time: t0, Actor: txt, Action: txt, Object: txt, Details: val}
			ae.ID, err = s.AppendAudit(ctx, ae)
			must(t, err)
			aes, _, err := s.ListAudit(ctx, store.AuditFilter{Actor: txt, Action: txt, Object: txt})
			must(t, err)
			if d := cmp.Diff([]store.AuditEntry{ae}, aes); d != "" {
				t.Fatalf("audit (-want +got):\n%s", d)
			}

			snap, _, err := s.PutInventory(ctx, id, t0, val)
			must(t, err)
			gsnap, err := s.GetInventory(ctx, snap.ID)
			must(t, err)
			if string(gsnap.Data) != string(val) {
				t.Fatalf("inventory %s, want %s", gsnap.Data, val)
			}
		})
	}
	// Every table is still there and whole.
	n, err := s.CountHosts(ctx, store.HostFilter{})
	must(t, err)
	if n != len(Nasty) {
		t.Fatalf("%d hosts, want %d", n, len(Nasty))
	}
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	b, err := json.Marshal(v)
	must(t, err)
	return b
}

// testInvalid checks that text the databases cannot hold faithfully is
// refused with ErrInvalid and nothing is stored.
func testInvalid(t *testing.T, s store.Store) {
	addHost(t, s, host("h1"))
	for _, bad := range []string{"nul\x00byte", "bad utf-8 \xff\xfe"} {
		t.Run(fmt.Sprintf("%q", bad), func(t *testing.T) {
			h := host("h2")
			h.Hostname = bad
			wantErr(t, s.UpsertHost(ctx, h), store.ErrInvalid)
			_, err := s.GetHost(ctx, "h2")
			wantErr(t, err, store.ErrNotFound)
			_, err = s.IngestAlerts(ctx, "h1", []alert.Alert{mkAlert("ok", 0, severity.Low, "r", "t"), mkAlert("x", 0, severity.Low, "r", bad)})
			wantErr(t, err, store.ErrInvalid)
			_, err = s.GetAlert(ctx, "ok")
			wantErr(t, err, store.ErrNotFound) // the whole batch is refused
			_, err = s.IngestEvents(ctx, "h1", []store.Event{{ID: bad, Time: t0, Data: json.RawMessage(`{}`)}})
			wantErr(t, err, store.ErrInvalid)
			wantErr(t, s.CreateUser(ctx, store.User{Username: bad, Role: store.RoleAdmin}), store.ErrInvalid)
			wantErr(t, s.PutSetting(ctx, "k", json.RawMessage(`"`+bad+`"`)), store.ErrInvalid)
			_, err = s.AppendAudit(ctx, store.AuditEntry{Time: t0, Actor: bad, Action: "a"})
			wantErr(t, err, store.ErrInvalid)
			_, _, err = s.ListAlerts(ctx, store.AlertFilter{Text: bad})
			wantErr(t, err, store.ErrInvalid)
		})
	}
	_, _, err := s.PutInventory(ctx, "h1", t0, json.RawMessage(`{"a":`))
	wantErr(t, err, store.ErrInvalid)
	_, err = s.IngestEvents(ctx, "h1", []store.Event{{ID: "e", Time: t0, Data: json.RawMessage(`nope`)}})
	wantErr(t, err, store.ErrInvalid)
	_, err = s.IngestAlerts(ctx, "h1", []alert.Alert{mkAlert("", 0, severity.Low, "r", "t")})
	wantErr(t, err, store.ErrInvalid)
	_, err = s.IngestEvents(ctx, "h1", []store.Event{{ID: "e", Time: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), Data: json.RawMessage(`{}`)}})
	wantErr(t, err, store.ErrInvalid)
	c, err := s.CountEvents(ctx, "")
	must(t, err)
	if c != 0 {
		t.Fatalf("%d events stored from refused batches", c)
	}
}

func testSchemaVersion(t *testing.T, s store.Store) {
	v, err := s.SchemaVersion(ctx)
	must(t, err)
	if v < 1 {
		t.Fatalf("schema version %d", v)
	}
}
