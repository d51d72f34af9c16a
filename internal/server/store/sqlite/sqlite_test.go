package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/server/store/sqlstore"
	"github.com/vigilsec/vigil/internal/server/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := OpenDir(context.Background(), t.TempDir())
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
	path := filepath.Join(t.TempDir(), FileName)
	storetest.Migrations(t, ms, func(ms []sqlstore.Migration) (*sqlstore.Store, error) {
		return OpenWith(context.Background(), path, ms)
	})
	dir := t.TempDir()
	storetest.CountsBackfill(t, ms, func(ms []sqlstore.Migration) (*sqlstore.Store, error) {
		return OpenWith(context.Background(), filepath.Join(dir, FileName), ms)
	})
}

func TestFileSetup(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, err := OpenDir(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	var mode string
	if err := s.DB().QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	var fk int
	if err := s.DB().QueryRow(`PRAGMA foreign_keys`).Scan(&fk); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" || fk != 1 {
		t.Errorf("journal_mode %q foreign_keys %d, want wal and 1", mode, fk)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("database mode %v, want 0600", fi.Mode().Perm())
	}
	if fi, err := os.Stat(filepath.Join(dir, FileName+"-wal")); err == nil && fi.Size() != 0 {
		t.Errorf("WAL not checkpointed on close: %d bytes", fi.Size())
	}
}

func benchStore(b *testing.B) *sqlstore.Store {
	s, err := OpenDir(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func BenchmarkIngestEvents(b *testing.B) { storetest.BenchIngestEvents(b, benchStore(b)) }

func BenchmarkIngestAlerts(b *testing.B) { storetest.BenchIngestAlerts(b, benchStore(b)) }
