// Package sqlstore is the SQL core shared by the SQLite and PostgreSQL
// stores: one set of queries written with ? placeholders, rebound for
// PostgreSQL, over database/sql. The dialect packages open the database,
// tune it and hand their embedded migrations to Migrate.
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigilsec/vigil/internal/server/store"
)

// Dialect holds what differs between databases.
type Dialect struct {
	Name string
	// Dollar placeholders ($1, $2, …) instead of ?.
	Dollar bool
	// ILike is the case-insensitive LIKE operator.
	ILike string
	// LockMigrations is run first in the migration transaction.
	LockMigrations string
	// IsForeignKey reports a foreign-key violation.
	IsForeignKey func(error) bool
}

// Rebind turns ? placeholders into the dialect's. Our queries hold no ?
// inside literals.
func (d Dialect) Rebind(q string) string {
	if !d.Dollar {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// Store implements store.Store over database/sql.
type Store struct {
	w, r    *sql.DB // writer and reader; the same for PostgreSQL
	d       Dialect
	closers []func() error
}

var _ store.Store = (*Store)(nil)

// New wraps open, migrated databases. w takes every write; r the reads.
// closers run on Close after both databases are closed.
func New(w, r *sql.DB, d Dialect, closers ...func() error) *Store {
	return &Store{w: w, r: r, d: d, closers: closers}
}

// Close closes the databases.
func (s *Store) Close() error {
	err := s.w.Close()
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	for _, c := range s.closers {
		err = errors.Join(err, c())
	}
	return err
}

// SchemaVersion returns the applied migration version.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) { return schemaVersion(ctx, s.r) }

// Rebind turns ? placeholders into the store's dialect's, for tests and
// tools that write SQL of their own.
func (s *Store) Rebind(q string) string { return s.d.Rebind(q) }

// DB returns the writer database, for tests and tools.
func (s *Store) DB() *sql.DB { return s.w }

func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return s.w.ExecContext(ctx, s.d.Rebind(q), args...)
}

// queryAll runs q and scans every row with scan; errors are wrapped with op.
func queryAll[T any](ctx context.Context, s *Store, op string, scan func(interface{ Scan(...any) error }) (T, error), q string, args ...any) ([]T, error) {
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, s.wrap(op, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, s.wrap(op, err)
		}
		out = append(out, v)
	}
	return out, s.wrap(op, rows.Err())
}

func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return s.r.QueryContext(ctx, s.d.Rebind(q), args...)
}

func (s *Store) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return s.r.QueryRowContext(ctx, s.d.Rebind(q), args...)
}

// tx runs fn in a write transaction.
func (s *Store) tx(ctx context.Context, fn func(t *tx) error) error {
	sqltx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(&tx{sqltx, s.d}); err != nil {
		sqltx.Rollback()
		return err
	}
	return sqltx.Commit()
}

type tx struct {
	*sql.Tx
	d Dialect
}

func (t *tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.ExecContext(ctx, t.d.Rebind(q), args...)
}

func (t *tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.QueryContext(ctx, t.d.Rebind(q), args...)
}

func (t *tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return t.QueryRowContext(ctx, t.d.Rebind(q), args...)
}

// wrap names the operation and maps driver errors to store errors.
func (s *Store) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrInvalid) {
		return fmt.Errorf("%s: %w", op, err)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	if s.d.IsForeignKey != nil && s.d.IsForeignKey(err) {
		return fmt.Errorf("%s: %w: a referenced object does not exist (%v)", op, store.ErrNotFound, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func affected(res sql.Result) int {
	n, err := res.RowsAffected()
	if err != nil {
		return 0
	}
	return int(n)
}

// check validates input, keeping the first problem.
type check struct{ err error }

func (c *check) fail(format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf("%w: "+format, append([]any{store.ErrInvalid}, args...)...)
	}
}

// text accepts valid UTF-8 without NUL.
func (c *check) text(field, v string) string {
	if !utf8.ValidString(v) {
		c.fail("%s is not valid UTF-8", field)
	} else if strings.IndexByte(v, 0) >= 0 {
		c.fail("%s holds a NUL byte", field)
	}
	return v
}

// nonEmpty is text that must be set.
func (c *check) nonEmpty(field, v string) string {
	if v == "" {
		c.fail("%s is empty", field)
	}
	return c.text(field, v)
}

func (c *check) texts(field string, vs []string) {
	for _, v := range vs {
		c.nonEmpty(field, v)
	}
}

// json accepts valid JSON text; empty is stored as "" when optional.
func (c *check) json(field string, v json.RawMessage, optional bool) string {
	if len(v) == 0 && optional {
		return ""
	}
	if !json.Valid(v) || !utf8.Valid(v) {
		c.fail("%s is not valid JSON", field)
	}
	return string(v)
}

// Times are Unix nanoseconds, 0 meaning unset; time.Time.UnixNano is
// defined for 1678–2262.
var (
	minTime = time.Unix(0, -1<<63+1)
	maxTime = time.Unix(0, 1<<63-1)
)

func (c *check) time(field string, t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	if t.Before(minTime) || t.After(maxTime) {
		c.fail("%s %s is out of range (1678–2262)", field, t.Format(time.RFC3339))
		return 0
	}
	if n := t.UnixNano(); n != 0 {
		return n
	}
	return 1 // the epoch itself; 0 means unset
}

func fromNS(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func rawJSON(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

// likePattern makes a substring pattern for LIKE … ESCAPE '\'.
func likePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}

const (
	defaultLimit = 100
	maxLimit     = 1000
)

func limitOf(n int) int {
	switch {
	case n <= 0:
		return defaultLimit
	case n > maxLimit:
		return maxLimit
	}
	return n
}

// Cursor is a keyset pagination position: the sort key of the last row
// (N or T) and its ID. It travels to clients as base64url JSON.
type Cursor struct {
	Kind string `json:"k"`
	N    int64  `json:"n,omitempty"`
	T    string `json:"t,omitempty"`
	ID   string `json:"i"`
}

// Encode makes the opaque cursor string.
func (c Cursor) Encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor reads a cursor made by Encode for the given kind.
func DecodeCursor(s, kind string) (Cursor, error) {
	var c Cursor
	if len(s) > 4096 {
		return c, fmt.Errorf("%w: cursor too long", store.ErrInvalid)
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return c, fmt.Errorf("%w: cursor: %v", store.ErrInvalid, err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%w: cursor: %v", store.ErrInvalid, err)
	}
	if c.Kind != kind {
		return c, fmt.Errorf("%w: cursor is for %q, not %q", store.ErrInvalid, c.Kind, kind)
	}
	var ck check
	ck.text("cursor", c.T)
	ck.text("cursor", c.ID)
	return c, ck.err
}

// where builds a WHERE clause.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}
