package storetest

import (
	"errors"
	"testing"

	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/server/store/sqlstore"
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
