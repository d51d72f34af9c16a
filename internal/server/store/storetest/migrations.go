package storetest

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/server/store/sqlstore"
	"github.com/vigilsec/vigil/internal/severity"
)

// OpenWith opens the same database every call, migrating it with ms.
type OpenWith func(ms []sqlstore.Migration) (*sqlstore.Store, error)

// Migrations checks versioned migration on an empty database, an
// idempotent restart, an upgrade, a failing migration rolling back whole,
// and the refusal of a schema newer than the binary knows.
func Migrations(t *testing.T, ms []sqlstore.Migration, open OpenWith) {
	step := func(ms []sqlstore.Migration, wantVersion int) *sqlstore.Store {
		t.Helper()
		s, err := open(ms)
		must(t, err)
		v, err := s.SchemaVersion(ctx)
		must(t, err)
		if v != wantVersion {
			t.Fatalf("schema version %d, want %d", v, wantVersion)
		}
		return s
	}
	n := len(ms)
	s := step(ms, n)
	addHost(t, s, host("h1"))
	must(t, s.Close())

	s = step(ms, n) // idempotent start
	must(t, s.Close())

	extra := append(ms[:n:n], sqlstore.Migration{Version: n + 1, Name: "extra", Statements: []string{
		`CREATE TABLE extra_test (k TEXT PRIMARY KEY)`, `INSERT INTO extra_test (k) VALUES ('x')`}})
	s = step(extra, n+1)
	if _, err := s.GetHost(ctx, "h1"); err != nil {
		t.Fatalf("data lost in upgrade: %v", err)
	}
	var k string
	must(t, s.DB().QueryRow(`SELECT k FROM extra_test`).Scan(&k))
	must(t, s.Close())

	bad := append(extra[:n+1:n+1], sqlstore.Migration{Version: n + 2, Name: "bad", Statements: []string{
		`CREATE TABLE half_done (k TEXT)`, `SELECT no_such_column FROM no_such_table`}})
	if _, err := open(bad); err == nil {
		t.Fatal("a failing migration opened the store")
	}
	s = step(extra, n+1)
	if _, err := s.DB().Exec(`INSERT INTO half_done (k) VALUES ('x')`); err == nil {
		t.Fatal("a failed migration left a table behind")
	}
	must(t, s.Close())

	_, err := open(ms)
	if !errors.Is(err, store.ErrSchemaTooNew) {
		t.Fatalf("older migrations on a newer schema: %v, want ErrSchemaTooNew", err)
	}
}

// CountsBackfill opens a fresh database at the schema before alert_counts,
// stores alerts the way that schema's binary did, upgrades it, and checks
// the kept counts equal the alerts.
func CountsBackfill(t *testing.T, ms []sqlstore.Migration, open OpenWith) {
	at := -1
	for i, m := range ms {
		if m.Name == "alert_counts" {
			at = i
		}
	}
	if at < 0 {
		t.Fatal("no alert_counts migration")
	}
	s, err := open(ms[:at])
	must(t, err)
	addHost(t, s, host("h1"))
	for i, a := range []struct {
		id, status string
		sev        int
		tactics    []string
	}{{"b1", "open", 4, []string{"TA0002", "TA0003"}}, {"b2", "open", 4, nil}, {"b3", "handled", 2, []string{"TA0002"}}, {"b4", "open", 2, []string{"TA0002"}}} {
		_, err := s.DB().Exec(s.Rebind(`INSERT INTO alerts (id, host_id, time_ns, rule_id, rule_title, severity, status, updated_ns, data)
			VALUES (?, 'h1', ?, 'r', 't', ?, ?, ?, '{}')`), a.id, int64(i+1), a.sev, a.status, int64(i+1))
		must(t, err)
		for _, tc := range a.tactics {
			_, err := s.DB().Exec(s.Rebind(`INSERT INTO alert_tactics (alert_id, time_ns, tactic) VALUES (?, ?, ?)`), a.id, int64(i+1), tc)
			must(t, err)
		}
	}
	must(t, s.Close())
	s, err = open(ms)
	must(t, err)
	defer s.Close()
	got, err := s.AlertStats(ctx, store.AlertFilter{Status: store.StatusOpen})
	must(t, err)
	want := store.AlertStats{BySeverity: map[severity.Level]int{4: 2, 2: 1}, ByStatus: map[store.AlertStatus]int{"open": 3},
		ByTactic: map[string]int{"TA0002": 2, "TA0003": 1}}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("open counts after the upgrade (-want +got):\n%s", d)
	}
	all, err := s.AlertStats(ctx, store.AlertFilter{})
	must(t, err)
	if all.ByStatus["handled"] != 1 || all.ByTactic["TA0002"] != 3 {
		t.Fatalf("all counts after the upgrade %+v", all)
	}
}
