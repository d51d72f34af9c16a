package postgres

import (
	"context"
	"os"
	"testing"

	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/server/store/pgtest"
	"github.com/vigilsec/vigil/internal/server/store/sqlstore"
	"github.com/vigilsec/vigil/internal/server/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, pgtest.Options{})) }

func newDatabase(t *testing.T) string {
	t.Helper()
	c := pgtest.Require(t)
	dsn, drop, err := c.NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	return dsn
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(context.Background(), newDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestMigrations(t *testing.T) {
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	dsn := newDatabase(t)
	storetest.Migrations(t, ms, func(ms []sqlstore.Migration) (*sqlstore.Store, error) {
		return OpenWith(context.Background(), dsn, ms)
	})
	bdsn := newDatabase(t)
	storetest.CountsBackfill(t, ms, func(ms []sqlstore.Migration) (*sqlstore.Store, error) {
		return OpenWith(context.Background(), bdsn, ms)
	})
}

func TestBadDSN(t *testing.T) {
	if _, err := Open(context.Background(), "postgres://x@127.0.0.1:1/nope?connect_timeout=2"); err == nil {
		t.Fatal("opened a store on a closed port")
	}
	if _, err := Open(context.Background(), "::not a dsn"); err == nil {
		t.Fatal("opened a store with a malformed DSN")
	}
}

func benchStore(b *testing.B) store.Store {
	c := pgtest.Require(b)
	dsn, drop, err := c.NewDatabase(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	s, err := Open(context.Background(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		s.Close()
		drop()
	})
	return s
}

// The cluster pgtest.Main starts runs with fsync off; bench/store measures
// with fsync on.
func BenchmarkIngestEvents(b *testing.B) { storetest.BenchIngestEvents(b, benchStore(b)) }

func BenchmarkIngestAlerts(b *testing.B) { storetest.BenchIngestAlerts(b, benchStore(b)) }
