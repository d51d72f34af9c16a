// Package sqlite is the default server store: one SQLite file in the data
// directory (modernc.org/sqlite, no cgo). It runs in WAL mode with one
// writer connection, so writes queue in the process instead of failing
// with SQLITE_BUSY, and a pool of read-only connections that read beside
// the writer.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	msqlite "modernc.org/sqlite"

	"github.com/vigilsec/vigil/internal/server/store/sqlstore"
)

// FileName is the database file's name in the data directory.
const FileName = "vigil.db"

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations returns the embedded SQLite migrations.
func Migrations() ([]sqlstore.Migration, error) {
	return sqlstore.LoadMigrations(migrationFS, "migrations")
}

// Dialect is SQLite's.
var Dialect = sqlstore.Dialect{
	Name:  "sqlite",
	ILike: "LIKE", // case-insensitive for ASCII
	IsForeignKey: func(err error) bool {
		var e *msqlite.Error
		return errors.As(err, &e) && (e.Code() == 787 || strings.Contains(e.Error(), "FOREIGN KEY constraint failed"))
	},
}

// pragmas apply to every connection.
var pragmas = []string{
	"busy_timeout(10000)",
	"journal_mode(WAL)",
	"synchronous(NORMAL)", // durable at checkpoints; a crash loses at most the last commits, never corrupts
	"foreign_keys(1)",
	"temp_store(MEMORY)",
	"analysis_limit(1000)", // bounds PRAGMA optimize on big tables
	// cache_size stays at SQLite's default (2 MB): with modernc's
	// allocator, a larger page cache made ingest 2–3× slower (page
	// allocations become mmap/munmap calls); reads use mmap instead.
	"mmap_size(268435456)",
}

func dsn(path string, readOnly bool) string {
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// OpenDir opens (creating, migrating) the store in dataDir/vigil.db.
func OpenDir(ctx context.Context, dataDir string) (*sqlstore.Store, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return Open(ctx, filepath.Join(dataDir, FileName))
}

// Open opens (creating, migrating) the SQLite store at path.
func Open(ctx context.Context, path string) (*sqlstore.Store, error) {
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	return OpenWith(ctx, path, ms)
}

// OpenWith opens the store with the given migrations (tests use it to
// migrate in steps).
func OpenWith(ctx context.Context, path string, ms []sqlstore.Migration) (*sqlstore.Store, error) {
	w, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := sqlstore.Migrate(ctx, w, Dialect, ms); err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// Refresh the planner's statistics where they are stale (SQLite's
	// advice for long-lived connections); without them range filters on
	// alerts can pick a full index scan.
	if _, err := w.ExecContext(ctx, `PRAGMA optimize=0x10002`); err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: optimize: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	n := max(2, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	return sqlstore.New(w, r, Dialect, func() error {
		// Fold the WAL back into the main file so a copied vigil.db is whole.
		db, err := sql.Open("sqlite", dsn(path, false))
		if err != nil {
			return err
		}
		defer db.Close()
		if _, err := db.Exec(`PRAGMA optimize`); err != nil {
			return err
		}
		_, err = db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
		return err
	}), nil
}
