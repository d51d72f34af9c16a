package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/server/store"
)

// Migration is one versioned schema change.
type Migration struct {
	Version    int
	Name       string
	Statements []string
}

var migrationName = regexp.MustCompile(`^([0-9]{4})_([a-z0-9_]+)\.sql$`)

// ParseMigrationName reads "0001_init.sql" as version 1, name "init".
func ParseMigrationName(file string) (version int, name string, err error) {
	m := migrationName.FindStringSubmatch(file)
	if m == nil {
		return 0, "", fmt.Errorf("migration file %q: want NNNN_name.sql", file)
	}
	v, _ := strconv.Atoi(m[1])
	if v == 0 {
		return 0, "", fmt.Errorf("migration file %q: versions start at 0001", file)
	}
	return v, m[2], nil
}

// SplitStatements splits SQL text at semicolons outside quotes and
// comments. It knows '…' and "…" quoting (doubled quotes inside), --
// line comments and /* */ block comments; dollar quoting is not used by
// our migrations and is refused. Empty statements are dropped.
func SplitStatements(src string) ([]string, error) {
	var out []string
	var cur strings.Builder
	flush := func() {
		s := strings.TrimSpace(cur.String())
		if s != "" {
			out = append(out, s)
		}
		cur.Reset()
	}
	line := 1
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '\n':
			line++
			cur.WriteByte(c)
		case c == '-' && i+1 < len(src) && src[i+1] == '-':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			i-- // let the newline be counted
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("line %d: unterminated /* comment", line)
			}
			line += strings.Count(src[i:i+2+end+2], "\n")
			i += 2 + end + 1
			cur.WriteByte(' ')
		case c == '\'' || c == '"':
			j := i + 1
			for {
				k := strings.IndexByte(src[j:], c)
				if k < 0 {
					return nil, fmt.Errorf("line %d: unterminated %c quote", line, c)
				}
				j += k + 1
				if j < len(src) && src[j] == c { // doubled quote
					j++
					continue
				}
				break
			}
			line += strings.Count(src[i:j], "\n")
			cur.WriteString(src[i:j])
			i = j - 1
		case c == '$':
			return nil, fmt.Errorf("line %d: '$' (dollar quoting or parameters) is not allowed in migrations", line)
		case c == ';':
			flush()
		case c == 0:
			return nil, fmt.Errorf("line %d: NUL byte", line)
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return out, nil
}

// LoadMigrations reads NNNN_name.sql files from dir in fsys. Versions must
// run 1, 2, 3… without gaps.
func LoadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	ents, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []Migration
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		v, name, err := ParseMigrationName(e.Name())
		if err != nil {
			return nil, err
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration: %w", err)
		}
		stmts, err := SplitStatements(string(b))
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", e.Name(), err)
		}
		ms = append(ms, Migration{Version: v, Name: name, Statements: stmts})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migrations: want version %d, found %04d_%s", i+1, m.Version, m.Name)
		}
	}
	return ms, nil
}

// Migrate brings the schema up to the last migration, in one transaction.
// It is idempotent; a database with a version it does not know is refused
// with an error wrapping store.ErrSchemaTooNew.
func Migrate(ctx context.Context, db *sql.DB, d Dialect, ms []Migration) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_ns BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	if d.LockMigrations != "" {
		if _, err := tx.ExecContext(ctx, d.LockMigrations); err != nil {
			return fmt.Errorf("lock schema_migrations: %w", err)
		}
	}
	var cur int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&cur); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if cur > len(ms) {
		return fmt.Errorf("%w: database is at version %d, this vigil knows up to %d; upgrade vigil or use another database", store.ErrSchemaTooNew, cur, len(ms))
	}
	for _, m := range ms[cur:] {
		for i, s := range m.Statements {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("migration %04d_%s statement %d: %w", m.Version, m.Name, i+1, err)
			}
		}
		if _, err := tx.ExecContext(ctx, d.Rebind(`INSERT INTO schema_migrations (version, name, applied_ns) VALUES (?, ?, ?)`),
			m.Version, m.Name, time.Now().UnixNano()); err != nil {
			return fmt.Errorf("record migration %d: %w", m.Version, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// SchemaVersion reads the applied version.
func schemaVersion(ctx context.Context, db *sql.DB) (int, error) {
	var v int
	err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}
