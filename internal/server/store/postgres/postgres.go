// Package postgres is the server store on PostgreSQL (pgx/v5 pool), for
// several server replicas sharing one database.
//
// The DSN is a libpq connection string or URL, as pgx reads it:
// "postgres://vigil:secret@db.example:5432/vigil?sslmode=verify-full" or
// "host=/run/postgresql dbname=vigil". Pool settings ride in the DSN too
// (pool_max_conns=16).
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/vigilsec/vigil/internal/server/store/sqlstore"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations returns the embedded PostgreSQL migrations.
func Migrations() ([]sqlstore.Migration, error) {
	return sqlstore.LoadMigrations(migrationFS, "migrations")
}

// Dialect is PostgreSQL's.
var Dialect = sqlstore.Dialect{
	Name:           "postgres",
	Dollar:         true,
	ILike:          "ILIKE",
	LockMigrations: `LOCK TABLE schema_migrations IN ACCESS EXCLUSIVE MODE`,
	IsForeignKey: func(err error) bool {
		var e *pgconn.PgError
		return errors.As(err, &e) && e.Code == "23503"
	},
}

// Open connects to dsn and migrates the schema.
func Open(ctx context.Context, dsn string) (*sqlstore.Store, error) {
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	return OpenWith(ctx, dsn, ms)
}

// OpenWith connects with the given migrations (tests migrate in steps).
func OpenWith(ctx context.Context, dsn string, ms []sqlstore.Migration) (*sqlstore.Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres DSN: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to postgres %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	db := stdlib.OpenDBFromPool(pool)
	if err := sqlstore.Migrate(ctx, db, Dialect, ms); err != nil {
		db.Close()
		pool.Close()
		return nil, err
	}
	return sqlstore.New(db, db, Dialect, func() error { pool.Close(); return nil }), nil
}
