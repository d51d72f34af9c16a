package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/vigilsec/vigil/internal/server/store"
)

// DecodeTargets reads a task's stored targets.
func DecodeTargets(data []byte) (store.Targets, error) {
	var t store.Targets
	if err := json.Unmarshal(data, &t); err != nil {
		return t, fmt.Errorf("decode task targets: %w", err)
	}
	return t, nil
}

// CreateTask stores a task and returns it with its ID.
func (s *Store) CreateTask(ctx context.Context, t store.Task) (store.Task, error) {
	var c check
	c.nonEmpty("task type", t.Type)
	params := c.json("params", t.Params, false)
	c.text("schedule", t.Schedule)
	c.text("created by", t.CreatedBy)
	for _, l := range [][]string{t.Targets.Hosts, t.Targets.Groups, t.Targets.Labels} {
		c.texts("target", l)
	}
	created := c.time("created at", t.CreatedAt)
	if c.err != nil {
		return t, s.wrap("create task", c.err)
	}
	targets, err := json.Marshal(t.Targets)
	if err != nil {
		return t, s.wrap("create task", err)
	}
	if t.Signature == nil {
		t.Signature = []byte{}
	}
	err = s.w.QueryRowContext(ctx, s.d.Rebind(`INSERT INTO tasks (type, params, targets, schedule, signature, created_by, created_ns)
		VALUES (?,?,?,?,?,?,?) RETURNING id`), t.Type, params, string(targets), t.Schedule, t.Signature, t.CreatedBy, created).Scan(&t.ID)
	return t, s.wrap("create task", err)
}

const taskCols = `id, type, params, targets, schedule, signature, created_by, created_ns`

func scanTask(sc interface{ Scan(...any) error }) (store.Task, error) {
	var t store.Task
	var params, targets string
	var created int64
	if err := sc.Scan(&t.ID, &t.Type, &params, &targets, &t.Schedule, &t.Signature, &t.CreatedBy, &created); err != nil {
		return t, err
	}
	if t.Signature == nil {
		t.Signature = []byte{} // SQLite gives nil for an empty blob
	}
	tg, err := DecodeTargets([]byte(targets))
	t.Params, t.Targets, t.CreatedAt = json.RawMessage(params), tg, fromNS(created)
	return t, err
}

// GetTask returns one task.
func (s *Store) GetTask(ctx context.Context, id int64) (store.Task, error) {
	t, err := scanTask(s.queryRow(ctx, `SELECT `+taskCols+` FROM tasks WHERE id = ?`, id))
	return t, s.wrap(fmt.Sprintf("get task %d", id), err)
}

// ListTasks lists tasks, newest first.
func (s *Store) ListTasks(ctx context.Context, limit, offset int) ([]store.Task, error) {
	return queryAll(ctx, s, "list tasks", scanTask,
		`SELECT `+taskCols+` FROM tasks ORDER BY id DESC LIMIT ? OFFSET ?`, limitOf(limit), max(offset, 0))
}

const runCols = `id, task_id, host_id, state, created_ns, dispatched_ns, finished_ns, output`

func scanRun(sc interface{ Scan(...any) error }) (store.TaskRun, error) {
	var r store.TaskRun
	var state, output string
	var c, d, f int64
	err := sc.Scan(&r.ID, &r.TaskID, &r.HostID, &state, &c, &d, &f, &output)
	r.State, r.CreatedAt, r.DispatchedAt, r.FinishedAt, r.Output = store.RunState(state), fromNS(c), fromNS(d), fromNS(f), rawJSON(output)
	return r, err
}

// AddTaskRuns creates pending runs.
func (s *Store) AddTaskRuns(ctx context.Context, taskID int64, hostIDs []string, at time.Time) ([]store.TaskRun, error) {
	var c check
	c.texts("host ID", hostIDs)
	ns := c.time("time", at)
	if c.err != nil {
		return nil, s.wrap("add task runs", c.err)
	}
	var out []store.TaskRun
	err := s.tx(ctx, func(t *tx) error {
		out = out[:0]
		for _, h := range hostIDs {
			r, err := scanRun(t.queryRow(ctx, `INSERT INTO task_runs (task_id, host_id, state, created_ns) VALUES (?,?,?,?)
				RETURNING `+runCols, taskID, h, string(store.RunPending), ns))
			if err != nil {
				return fmt.Errorf("task %d host %q: %w", taskID, h, err)
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, s.wrap("add task runs", err)
	}
	return out, nil
}

func (s *Store) listRuns(ctx context.Context, op, q string, args ...any) ([]store.TaskRun, error) {
	return queryAll(ctx, s, op, scanRun, `SELECT `+runCols+` FROM task_runs WHERE `+q, args...)
}

// ListTaskRuns lists a task's runs.
func (s *Store) ListTaskRuns(ctx context.Context, taskID int64) ([]store.TaskRun, error) {
	return s.listRuns(ctx, "list task runs", `task_id = ? ORDER BY id`, taskID)
}

// PendingRuns returns a host's oldest pending runs.
func (s *Store) PendingRuns(ctx context.Context, hostID string, limit int) ([]store.TaskRun, error) {
	return s.listRuns(ctx, "pending runs", `host_id = ? AND state = ? ORDER BY id LIMIT ?`, hostID, string(store.RunPending), limitOf(limit))
}

// DispatchedRuns returns runs dispatched before a time and still without
// a result, by ID after afterID.
func (s *Store) DispatchedRuns(ctx context.Context, before time.Time, afterID int64, limit int) ([]store.TaskRun, error) {
	var c check
	ns := c.time("before", before)
	if c.err != nil {
		return nil, s.wrap("dispatched runs", c.err)
	}
	return s.listRuns(ctx, "dispatched runs", `state = ? AND dispatched_ns < ? AND id > ? ORDER BY id LIMIT ?`,
		string(store.RunDispatched), ns, afterID, limitOf(limit))
}

func scanString(sc interface{ Scan(...any) error }) (string, error) {
	var v string
	err := sc.Scan(&v)
	return v, err
}

// PendingHosts lists the hosts that have pending runs.
func (s *Store) PendingHosts(ctx context.Context) ([]string, error) {
	return queryAll(ctx, s, "pending hosts", scanString, `SELECT DISTINCT host_id FROM task_runs WHERE state = ? ORDER BY host_id`, string(store.RunPending))
}

// SetRunState moves a run along pending → dispatched → succeeded/failed.
func (s *Store) SetRunState(ctx context.Context, runID int64, to store.RunState, at time.Time, output json.RawMessage) error {
	var c check
	ns := c.time("time", at)
	out := c.json("output", output, true)
	var from []any
	var set string
	switch to {
	case store.RunDispatched:
		from, set = []any{string(store.RunPending)}, `dispatched_ns = ?`
	case store.RunSucceeded:
		from, set = []any{string(store.RunDispatched)}, `finished_ns = ?`
	case store.RunFailed:
		from, set = []any{string(store.RunPending), string(store.RunDispatched)}, `finished_ns = ?`
	default:
		c.fail("cannot move a run to %q", to)
	}
	if c.err != nil {
		return s.wrap("set run state", c.err)
	}
	args := append([]any{string(to), ns, out, runID}, from...)
	res, err := s.exec(ctx, `UPDATE task_runs SET state = ?, `+set+`, output = ? WHERE id = ? AND state IN (`+placeholders(len(from))+`)`, args...)
	if err == nil && affected(res) == 0 {
		var state string
		if err = s.queryRow(ctx, `SELECT state FROM task_runs WHERE id = ?`, runID).Scan(&state); err == nil {
			err = fmt.Errorf("run %d is %s, cannot become %s: %w", runID, state, to, store.ErrConflict)
		}
	}
	return s.wrap("set run state", err)
}

// ReviseRun replaces a failed run's outcome if its output is still was.
func (s *Store) ReviseRun(ctx context.Context, runID int64, was json.RawMessage, to store.RunState, at time.Time, output json.RawMessage) error {
	var c check
	ns := c.time("time", at)
	prev := c.json("previous output", was, true)
	out := c.json("output", output, true)
	if to != store.RunSucceeded && to != store.RunFailed {
		c.fail("cannot revise a run to %q", to)
	}
	if c.err != nil {
		return s.wrap("revise run", c.err)
	}
	res, err := s.exec(ctx, `UPDATE task_runs SET state = ?, finished_ns = ?, output = ? WHERE id = ? AND state = ? AND output = ?`,
		string(to), ns, out, runID, string(store.RunFailed), prev)
	if err == nil && affected(res) == 0 {
		var state string
		if err = s.queryRow(ctx, `SELECT state FROM task_runs WHERE id = ?`, runID).Scan(&state); err == nil {
			err = fmt.Errorf("run %d is %s with other output than expected: %w", runID, state, store.ErrConflict)
		}
	}
	return s.wrap("revise run", err)
}

// CreateUser adds a console user.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	var c check
	c.nonEmpty("username", u.Username)
	c.text("password hash", u.PasswordHash)
	if !u.Role.Valid() {
		c.fail("unknown role %q", u.Role)
	}
	created := c.time("created at", u.CreatedAt)
	if c.err != nil {
		return s.wrap("create user", c.err)
	}
	res, err := s.exec(ctx, `INSERT INTO users (username, password_hash, role, disabled, created_ns) VALUES (?,?,?,?,?)
		ON CONFLICT (username) DO NOTHING`, u.Username, u.PasswordHash, string(u.Role), u.Disabled, created)
	if err == nil && affected(res) == 0 {
		err = fmt.Errorf("user %q exists: %w", u.Username, store.ErrConflict)
	}
	return s.wrap("create user", err)
}

const userCols = `username, password_hash, role, disabled, created_ns`

func scanUser(sc interface{ Scan(...any) error }) (store.User, error) {
	var u store.User
	var role string
	var created int64
	err := sc.Scan(&u.Username, &u.PasswordHash, &role, &u.Disabled, &created)
	u.Role, u.CreatedAt = store.Role(role), fromNS(created)
	return u, err
}

// GetUser returns one user.
func (s *Store) GetUser(ctx context.Context, username string) (store.User, error) {
	u, err := scanUser(s.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE username = ?`, username))
	return u, s.wrap("get user", err)
}

// ListUsers lists users by name.
func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	return queryAll(ctx, s, "list users", scanUser, `SELECT `+userCols+` FROM users ORDER BY username`)
}

// UpdateUser replaces password hash, role and disabled flag.
func (s *Store) UpdateUser(ctx context.Context, u store.User) error {
	var c check
	c.text("password hash", u.PasswordHash)
	if !u.Role.Valid() {
		c.fail("unknown role %q", u.Role)
	}
	if c.err != nil {
		return s.wrap("update user", c.err)
	}
	res, err := s.exec(ctx, `UPDATE users SET password_hash = ?, role = ?, disabled = ? WHERE username = ?`,
		u.PasswordHash, string(u.Role), u.Disabled, u.Username)
	if err == nil && affected(res) == 0 {
		err = store.ErrNotFound
	}
	return s.wrap("update user", err)
}

// DeleteUser removes a user with their sessions and API tokens.
func (s *Store) DeleteUser(ctx context.Context, username string) error {
	res, err := s.exec(ctx, `DELETE FROM users WHERE username = ?`, username)
	if err == nil && affected(res) == 0 {
		err = store.ErrNotFound
	}
	return s.wrap("delete user", err)
}

// CreateSession stores a session.
func (s *Store) CreateSession(ctx context.Context, se store.Session) error {
	var c check
	c.nonEmpty("token hash", se.TokenHash)
	c.nonEmpty("username", se.Username)
	c.text("CSRF secret", se.CSRFSecret)
	created, expires := c.time("created at", se.CreatedAt), c.time("expires at", se.ExpiresAt)
	if c.err != nil {
		return s.wrap("create session", c.err)
	}
	res, err := s.exec(ctx, `INSERT INTO sessions (token_hash, username, csrf_secret, created_ns, expires_ns) VALUES (?,?,?,?,?)
		ON CONFLICT (token_hash) DO NOTHING`, se.TokenHash, se.Username, se.CSRFSecret, created, expires)
	if err == nil && affected(res) == 0 {
		err = store.ErrConflict
	}
	return s.wrap("create session", err)
}

// GetSession returns a live session.
func (s *Store) GetSession(ctx context.Context, tokenHash string, now time.Time) (store.Session, error) {
	var c check
	n := c.time("now", now)
	var se store.Session
	if c.err != nil {
		return se, s.wrap("get session", c.err)
	}
	var cr, ex int64
	err := s.queryRow(ctx, `SELECT token_hash, username, csrf_secret, created_ns, expires_ns FROM sessions
		WHERE token_hash = ? AND expires_ns > ?`, tokenHash, n).Scan(&se.TokenHash, &se.Username, &se.CSRFSecret, &cr, &ex)
	se.CreatedAt, se.ExpiresAt = fromNS(cr), fromNS(ex)
	return se, s.wrap("get session", err)
}

// DeleteSession removes a session.
func (s *Store) DeleteSession(ctx context.Context, tokenHash string) error {
	res, err := s.exec(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash)
	if err == nil && affected(res) == 0 {
		err = store.ErrNotFound
	}
	return s.wrap("delete session", err)
}

// DeleteExpiredSessions removes expired sessions.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	var c check
	n := c.time("now", now)
	if c.err != nil {
		return 0, s.wrap("delete expired sessions", c.err)
	}
	res, err := s.exec(ctx, `DELETE FROM sessions WHERE expires_ns <= ?`, n)
	if err != nil {
		return 0, s.wrap("delete expired sessions", err)
	}
	return affected(res), nil
}

// CreateAPIToken stores an API token.
func (s *Store) CreateAPIToken(ctx context.Context, t store.APIToken) error {
	var c check
	c.nonEmpty("token hash", t.Hash)
	c.nonEmpty("username", t.Username)
	c.text("name", t.Name)
	created := c.time("created at", t.CreatedAt)
	if c.err != nil {
		return s.wrap("create API token", c.err)
	}
	res, err := s.exec(ctx, `INSERT INTO api_tokens (hash, username, name, created_ns) VALUES (?,?,?,?)
		ON CONFLICT (hash) DO NOTHING`, t.Hash, t.Username, t.Name, created)
	if err == nil && affected(res) == 0 {
		err = store.ErrConflict
	}
	return s.wrap("create API token", err)
}

const apiTokenCols = `hash, username, name, created_ns, last_used_ns`

func scanAPIToken(sc interface{ Scan(...any) error }) (store.APIToken, error) {
	var t store.APIToken
	var c, u int64
	err := sc.Scan(&t.Hash, &t.Username, &t.Name, &c, &u)
	t.CreatedAt, t.LastUsed = fromNS(c), fromNS(u)
	return t, err
}

// GetAPIToken returns one API token.
func (s *Store) GetAPIToken(ctx context.Context, hash string) (store.APIToken, error) {
	t, err := scanAPIToken(s.queryRow(ctx, `SELECT `+apiTokenCols+` FROM api_tokens WHERE hash = ?`, hash))
	return t, s.wrap("get API token", err)
}

// TouchAPIToken records a use.
func (s *Store) TouchAPIToken(ctx context.Context, hash string, at time.Time) error {
	var c check
	n := c.time("time", at)
	if c.err != nil {
		return s.wrap("touch API token", c.err)
	}
	res, err := s.exec(ctx, `UPDATE api_tokens SET last_used_ns = ? WHERE hash = ?`, n, hash)
	if err == nil && affected(res) == 0 {
		err = store.ErrNotFound
	}
	return s.wrap("touch API token", err)
}

// ListAPITokens lists a user's tokens ("" for all).
func (s *Store) ListAPITokens(ctx context.Context, username string) ([]store.APIToken, error) {
	q, args := `SELECT `+apiTokenCols+` FROM api_tokens ORDER BY username, created_ns, hash`, []any(nil)
	if username != "" {
		q, args = `SELECT `+apiTokenCols+` FROM api_tokens WHERE username = ? ORDER BY created_ns, hash`, []any{username}
	}
	return queryAll(ctx, s, "list API tokens", scanAPIToken, q, args...)
}

// DeleteAPIToken removes an API token.
func (s *Store) DeleteAPIToken(ctx context.Context, hash string) error {
	res, err := s.exec(ctx, `DELETE FROM api_tokens WHERE hash = ?`, hash)
	if err == nil && affected(res) == 0 {
		err = store.ErrNotFound
	}
	return s.wrap("delete API token", err)
}

// GetSetting returns a setting's JSON value.
func (s *Store) GetSetting(ctx context.Context, key string) (json.RawMessage, error) {
	var v string
	err := s.queryRow(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if err != nil {
		return nil, s.wrap(fmt.Sprintf("get setting %q", key), err)
	}
	return json.RawMessage(v), nil
}

// PutSetting sets a setting.
func (s *Store) PutSetting(ctx context.Context, key string, value json.RawMessage) error {
	var c check
	c.nonEmpty("key", key)
	v := c.json("value", value, false)
	if c.err != nil {
		return s.wrap("put setting", c.err)
	}
	_, err := s.exec(ctx, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, v)
	return s.wrap("put setting", err)
}

// ListSettings returns every setting.
func (s *Store) ListSettings(ctx context.Context) (map[string]json.RawMessage, error) {
	rows, err := s.query(ctx, `SELECT key, value FROM settings`)
	if err != nil {
		return nil, s.wrap("list settings", err)
	}
	defer rows.Close()
	out := map[string]json.RawMessage{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, s.wrap("list settings", err)
		}
		out[k] = json.RawMessage(v)
	}
	return out, s.wrap("list settings", rows.Err())
}

// AppendAudit appends an audit entry and returns its ID.
func (s *Store) AppendAudit(ctx context.Context, e store.AuditEntry) (int64, error) {
	var c check
	at := c.time("time", e.Time)
	c.nonEmpty("actor", e.Actor)
	c.nonEmpty("action", e.Action)
	c.text("object", e.Object)
	details := c.json("details", e.Details, true)
	if at == 0 {
		c.fail("audit entry has no time")
	}
	if c.err != nil {
		return 0, s.wrap("append audit", c.err)
	}
	var id int64
	err := s.w.QueryRowContext(ctx, s.d.Rebind(`INSERT INTO audit (time_ns, actor, action, object, details) VALUES (?,?,?,?,?) RETURNING id`),
		at, e.Actor, e.Action, e.Object, details).Scan(&id)
	return id, s.wrap("append audit", err)
}

// ListAudit lists audit entries, newest first.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, string, error) {
	var c check
	c.text("actor", f.Actor)
	c.text("action", f.Action)
	c.text("object", f.Object)
	since, until := c.time("since", f.Since), c.time("until", f.Until)
	if c.err != nil {
		return nil, "", s.wrap("list audit", c.err)
	}
	w := &where{}
	if f.Actor != "" {
		w.add(`actor = ?`, f.Actor)
	}
	if f.Action != "" {
		w.add(`action = ?`, f.Action)
	}
	if f.Object != "" {
		w.add(`object = ?`, f.Object)
	}
	if since != 0 {
		w.add(`time_ns >= ?`, since)
	}
	if until != 0 {
		w.add(`time_ns < ?`, until)
	}
	if f.Cursor != "" {
		cur, err := DecodeCursor(f.Cursor, "audit")
		if err != nil {
			return nil, "", s.wrap("list audit", err)
		}
		w.add(`id < ?`, cur.N)
	}
	limit := limitOf(f.Limit)
	q := `SELECT id, time_ns, actor, action, object, details FROM audit` + w.String() + ` ORDER BY id DESC LIMIT ?`
	args := append(w.args, limit+1)
	if f.Cursor == "" && f.Offset > 0 {
		q += ` OFFSET ?`
		args = append(args, f.Offset)
	}
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, "", s.wrap("list audit", err)
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var e store.AuditEntry
		var ns int64
		var details string
		if err := rows.Scan(&e.ID, &ns, &e.Actor, &e.Action, &e.Object, &details); err != nil {
			return nil, "", s.wrap("list audit", err)
		}
		e.Time, e.Details = fromNS(ns), rawJSON(details)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", s.wrap("list audit", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = Cursor{Kind: "audit", N: out[limit-1].ID, ID: "-"}.Encode()
	}
	return out, next, nil
}

// AcquireLease takes or renews a lease in one statement: the upsert's
// update applies only when the row is holder's or has expired, so of two
// replicas racing for a free lease exactly one changes the row.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	var c check
	c.nonEmpty("lease name", name)
	c.nonEmpty("lease holder", holder)
	if ttl <= 0 {
		c.fail("lease ttl %v is not positive", ttl)
	}
	if now.IsZero() {
		c.fail("lease time is zero")
	}
	ns := c.time("now", now)
	until := c.time("lease end", now.Add(ttl))
	if c.err != nil {
		return false, s.wrap("acquire lease", c.err)
	}
	res, err := s.exec(ctx, `INSERT INTO leases (name, holder, until_ns) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until_ns = excluded.until_ns
		WHERE leases.holder = excluded.holder OR leases.until_ns <= ?`, name, holder, until, ns)
	if err != nil {
		return false, s.wrap("acquire lease", err)
	}
	return affected(res) == 1, nil
}

// ReleaseLease deletes the lease if holder has it.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	_, err := s.exec(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder)
	return s.wrap("release lease", err)
}
