package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/severity"
)

// DecodeAlert reads an alert's stored JSON.
func DecodeAlert(data []byte) (alert.Alert, error) {
	var a alert.Alert
	if err := json.Unmarshal(data, &a); err != nil {
		return a, fmt.Errorf("decode stored alert: %w", err)
	}
	return a, nil
}

// alertChunk rows per INSERT: 9 parameters each.
const alertChunk = 200

const alertCols = `a.host_id, a.status, a.assignee, a.version, a.updated_ns, a.data`

func scanAlert(sc interface{ Scan(...any) error }) (store.AlertRecord, error) {
	var r store.AlertRecord
	var host, status, data string
	var updated int64
	if err := sc.Scan(&host, &status, &r.Assignee, &r.Version, &updated, &data); err != nil {
		return r, err
	}
	a, err := DecodeAlert([]byte(data))
	if err != nil {
		return r, err
	}
	a.Host = host
	r.Alert, r.Status, r.UpdatedAt = a, store.AlertStatus(status), fromNS(updated)
	return r, nil
}

// GetAlert returns an alert with its comments.
func (s *Store) GetAlert(ctx context.Context, id string) (store.AlertRecord, error) {
	r, err := scanAlert(s.queryRow(ctx, `SELECT `+alertCols+` FROM alerts a WHERE a.id = ?`, id))
	if err != nil {
		return r, s.wrap(fmt.Sprintf("get alert %q", id), err)
	}
	rows, err := s.query(ctx, `SELECT time_ns, author, body FROM alert_comments WHERE alert_id = ? ORDER BY id`, id)
	if err != nil {
		return r, s.wrap("get alert comments", err)
	}
	defer rows.Close()
	for rows.Next() {
		var cm store.Comment
		var ns int64
		if err := rows.Scan(&ns, &cm.Author, &cm.Text); err != nil {
			return r, s.wrap("get alert comments", err)
		}
		cm.Time = fromNS(ns)
		r.Comments = append(r.Comments, cm)
	}
	return r, s.wrap("get alert comments", rows.Err())
}

// alertFrom is the FROM clause of an alert query and the columns it is
// ordered by: a tactic filter walks alert_tactics' (tactic, time, id)
// index, everything else the alerts table's.
func alertFrom(f store.AlertFilter) (from, timeCol, idCol string) {
	if f.Tactic != "" {
		return ` FROM alert_tactics t JOIN alerts a ON a.id = t.alert_id`, "t.time_ns", "t.alert_id"
	}
	return ` FROM alerts a`, "a.time_ns", "a.id"
}

func (s *Store) alertWhere(f store.AlertFilter) (*where, error) {
	var c check
	c.text("host", f.HostID)
	c.text("rule", f.RuleID)
	c.text("tactic", f.Tactic)
	c.text("text", f.Text)
	since, until := c.time("since", f.Since), c.time("until", f.Until)
	if f.Status != "" && !f.Status.Valid() {
		c.fail("unknown alert status %q", f.Status)
	}
	if c.err != nil {
		return nil, c.err
	}
	w := &where{}
	if f.HostID != "" {
		w.add(`a.host_id = ?`, f.HostID)
	}
	if f.Severity > severity.Unspecified {
		w.add(`a.severity >= ?`, int(f.Severity))
	}
	if f.Status != "" {
		w.add(`a.status = ?`, string(f.Status))
	}
	if f.RuleID != "" {
		w.add(`a.rule_id = ?`, f.RuleID)
	}
	_, timeCol, _ := alertFrom(f)
	if f.Tactic != "" {
		w.add(`t.tactic = ?`, f.Tactic)
	}
	if since != 0 {
		w.add(timeCol+` >= ?`, since)
	}
	if until != 0 {
		w.add(timeCol+` < ?`, until)
	}
	if f.Text != "" {
		w.add(`a.rule_title `+s.d.ILike+` ? ESCAPE '\'`, likePattern(f.Text))
	}
	return w, nil
}

// ListAlerts lists one page of alerts, newest first.
func (s *Store) ListAlerts(ctx context.Context, f store.AlertFilter) ([]store.AlertRecord, string, error) {
	w, err := s.alertWhere(f)
	if err != nil {
		return nil, "", s.wrap("list alerts", err)
	}
	from, timeCol, idCol := alertFrom(f)
	if f.Cursor != "" {
		cur, err := DecodeCursor(f.Cursor, "alerts")
		if err != nil {
			return nil, "", s.wrap("list alerts", err)
		}
		w.add(`(`+timeCol+`, `+idCol+`) < (?, ?)`, cur.N, cur.ID)
	}
	limit := limitOf(f.Limit)
	q := `SELECT a.time_ns, a.id, ` + alertCols + from + w.String() + ` ORDER BY ` + timeCol + ` DESC, ` + idCol + ` DESC LIMIT ?`
	args := append(w.args, limit+1)
	if f.Cursor == "" && f.Offset > 0 {
		q += ` OFFSET ?`
		args = append(args, f.Offset)
	}
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, "", s.wrap("list alerts", err)
	}
	defer rows.Close()
	var out []store.AlertRecord
	var lastNS int64
	var lastID string
	for rows.Next() {
		var ns int64
		var id string
		r, err := scanAlert(scanPrefix{rows, []any{&ns, &id}})
		if err != nil {
			return nil, "", s.wrap("list alerts", err)
		}
		if len(out) < limit {
			lastNS, lastID = ns, id
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, "", s.wrap("list alerts", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = Cursor{Kind: "alerts", N: lastNS, ID: lastID}.Encode()
	}
	return out, next, nil
}

// scanPrefix scans leading columns into pre before the rest.
type scanPrefix struct {
	sc  interface{ Scan(...any) error }
	pre []any
}

func (p scanPrefix) Scan(dest ...any) error { return p.sc.Scan(append(p.pre, dest...)...) }

// CountAlerts counts matching alerts.
func (s *Store) CountAlerts(ctx context.Context, f store.AlertFilter) (int, error) {
	w, err := s.alertWhere(f)
	if err != nil {
		return 0, s.wrap("count alerts", err)
	}
	var n int
	from, _, _ := alertFrom(f)
	if f.Limit > 0 {
		// A capped count stops early: cheap on a million alerts.
		err = s.queryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1`+from+w.String()+` LIMIT ?) c`, append(w.args, f.Limit)...).Scan(&n)
		return n, s.wrap("count alerts", err)
	}
	err = s.queryRow(ctx, `SELECT COUNT(*)`+from+w.String(), w.args...).Scan(&n)
	return n, s.wrap("count alerts", err)
}

// UpdateAlert applies a workflow change with optimistic concurrency and
// writes an audit entry in the same transaction.
func (s *Store) UpdateAlert(ctx context.Context, u store.AlertUpdate) (int, error) {
	var c check
	c.nonEmpty("alert ID", u.ID)
	c.text("assignee", u.Assignee)
	c.nonEmpty("actor", u.Actor)
	at := c.time("time", u.At)
	if at == 0 {
		c.fail("update has no time")
	}
	if !u.Status.Valid() {
		c.fail("unknown alert status %q", u.Status)
	}
	var cns int64
	if u.Comment != nil {
		c.text("comment author", u.Comment.Author)
		c.nonEmpty("comment", u.Comment.Text)
		cns = c.time("comment time", u.Comment.Time)
	}
	if c.err != nil {
		return 0, s.wrap("update alert", c.err)
	}
	details, _ := json.Marshal(map[string]any{"status": u.Status, "assignee": u.Assignee, "version": u.Version + 1, "comment": u.Comment != nil})
	err := s.tx(ctx, func(t *tx) error {
		var prev string
		var sev int
		switch err := t.queryRow(ctx, `SELECT status, severity FROM alerts WHERE id = ? AND version = ?`, u.ID, u.Version).Scan(&prev, &sev); {
		case errors.Is(err, sql.ErrNoRows):
			prev = "" // no such version: the UPDATE finds nothing either
		case err != nil:
			return err
		}
		res, err := t.exec(ctx, `UPDATE alerts SET status = ?, assignee = ?, version = version + 1, updated_ns = ?
			WHERE id = ? AND version = ?`, string(u.Status), u.Assignee, at, u.ID, u.Version)
		if err != nil {
			return err
		}
		if affected(res) == 1 && prev != string(u.Status) {
			if err := moveCounts(ctx, t, u.ID, store.AlertStatus(prev), u.Status, severity.Level(sev)); err != nil {
				return err
			}
		}
		if affected(res) == 0 {
			var v int
			if err := t.queryRow(ctx, `SELECT version FROM alerts WHERE id = ?`, u.ID).Scan(&v); err != nil {
				return fmt.Errorf("alert %q: %w", u.ID, s.wrap("look up", err))
			}
			return fmt.Errorf("alert %q is at version %d, not %d: %w", u.ID, v, u.Version, store.ErrConflict)
		}
		if u.Comment != nil {
			if _, err := t.exec(ctx, `INSERT INTO alert_comments (alert_id, time_ns, author, body) VALUES (?,?,?,?)`,
				u.ID, cns, u.Comment.Author, u.Comment.Text); err != nil {
				return err
			}
		}
		_, err = t.exec(ctx, `INSERT INTO audit (time_ns, actor, action, object, details) VALUES (?,?,?,?,?)`,
			at, u.Actor, "alert.update", "alert:"+u.ID, string(details))
		return err
	})
	if err != nil {
		return 0, s.wrap("update alert", err)
	}
	return u.Version + 1, nil
}

// moveCounts moves one alert's counts from one status to another.
func moveCounts(ctx context.Context, t *tx, id string, from, to store.AlertStatus, sev severity.Level) error {
	rows, err := t.query(ctx, `SELECT tactic FROM alert_tactics WHERE alert_id = ?`, id)
	if err != nil {
		return err
	}
	tactics := []string{""}
	for rows.Next() {
		var tc string
		if err := rows.Scan(&tc); err != nil {
			rows.Close()
			return err
		}
		if tc != "" {
			tactics = append(tactics, tc)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	deltas := map[countKey]int{}
	for _, tc := range tactics {
		deltas[countKey{from, sev, tc}]--
		deltas[countKey{to, sev, tc}]++
	}
	return addCounts(ctx, t, deltas)
}

// countsServe reports whether alert_counts can answer f: no filter but
// status and severity.
func countsServe(f store.AlertFilter) bool {
	return f.HostID == "" && f.RuleID == "" && f.Tactic == "" && f.Since.IsZero() && f.Until.IsZero() && f.Text == ""
}

// statsFromCounts answers AlertStats from alert_counts.
func (s *Store) statsFromCounts(ctx context.Context, f store.AlertFilter) (store.AlertStats, error) {
	st := store.AlertStats{BySeverity: map[severity.Level]int{}, ByStatus: map[store.AlertStatus]int{}, ByTactic: map[string]int{}}
	q, args := `SELECT status, severity, tactic, n FROM alert_counts WHERE n > 0 AND severity >= ?`, []any{int(f.Severity)}
	if f.Status != "" {
		q += ` AND status = ?`
		args = append(args, string(f.Status))
	}
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return st, s.wrap("alert stats", err)
	}
	defer rows.Close()
	for rows.Next() {
		var status, tactic string
		var sev, n int
		if err := rows.Scan(&status, &sev, &tactic, &n); err != nil {
			return st, s.wrap("alert stats", err)
		}
		if tactic == "" {
			st.BySeverity[severity.Level(sev)] += n
			st.ByStatus[store.AlertStatus(status)] += n
		} else {
			st.ByTactic[tactic] += n
		}
	}
	return st, s.wrap("alert stats", rows.Err())
}

// AlertStats counts matching alerts by severity, status and tactic.
func (s *Store) AlertStats(ctx context.Context, f store.AlertFilter) (store.AlertStats, error) {
	if countsServe(f) {
		if _, err := s.alertWhere(f); err != nil { // the same checks
			return store.AlertStats{}, s.wrap("alert stats", err)
		}
		return s.statsFromCounts(ctx, f)
	}
	st := store.AlertStats{BySeverity: map[severity.Level]int{}, ByStatus: map[store.AlertStatus]int{}, ByTactic: map[string]int{}}
	w, err := s.alertWhere(f)
	if err != nil {
		return st, s.wrap("alert stats", err)
	}
	from, _, _ := alertFrom(f)
	q := `SELECT 0, CAST(a.severity AS TEXT), COUNT(*)` + from + w.String() + ` GROUP BY a.severity
		UNION ALL SELECT 1, a.status, COUNT(*)` + from + w.String() + ` GROUP BY a.status
		UNION ALL SELECT 2, tt.tactic, COUNT(*) FROM alert_tactics tt WHERE tt.alert_id IN (SELECT a.id` + from + w.String() + `) GROUP BY tt.tactic`
	args := append(append(slices.Clone(w.args), w.args...), w.args...)
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return st, s.wrap("alert stats", err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind, n int
		var key string
		if err := rows.Scan(&kind, &key, &n); err != nil {
			return st, s.wrap("alert stats", err)
		}
		switch kind {
		case 0:
			var sev int
			fmt.Sscan(key, &sev)
			st.BySeverity[severity.Level(sev)] = n
		case 1:
			st.ByStatus[store.AlertStatus(key)] = n
		case 2:
			st.ByTactic[key] = n
		}
	}
	return st, s.wrap("alert stats", rows.Err())
}

// CountEvents counts a host's events ("" for all hosts).
func (s *Store) CountEvents(ctx context.Context, hostID string) (int, error) {
	var n int
	var err error
	if hostID == "" {
		err = s.queryRow(ctx, `SELECT COUNT(*) FROM events`).Scan(&n)
	} else {
		err = s.queryRow(ctx, `SELECT COUNT(*) FROM events WHERE host_id = ?`, hostID).Scan(&n)
	}
	return n, s.wrap("count events", err)
}

// ListEvents lists a host's events in a time range, oldest first.
func (s *Store) ListEvents(ctx context.Context, f store.EventFilter) ([]store.Event, error) {
	var c check
	c.nonEmpty("host ID", f.HostID)
	since, until := c.time("since", f.Since), c.time("until", f.Until)
	if c.err != nil {
		return nil, s.wrap("list events", c.err)
	}
	w := &where{}
	w.add(`host_id = ?`, f.HostID)
	if since != 0 {
		w.add(`time_ns >= ?`, since)
	}
	if until != 0 {
		w.add(`time_ns < ?`, until)
	}
	rows, err := s.query(ctx, `SELECT id, time_ns, kind, data FROM events`+w.String()+` ORDER BY time_ns, id LIMIT ?`, append(w.args, limitOf(f.Limit))...)
	if err != nil {
		return nil, s.wrap("list events", err)
	}
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		var e store.Event
		var ns int64
		var data string
		if err := rows.Scan(&e.ID, &ns, &e.Kind, &data); err != nil {
			return nil, s.wrap("list events", err)
		}
		e.Time, e.Data = fromNS(ns), json.RawMessage(data)
		out = append(out, e)
	}
	return out, s.wrap("list events", rows.Err())
}

// OutboxAlerts returns the oldest alerts in the outbox. Entries whose
// alert no longer exists are left out.
func (s *Store) OutboxAlerts(ctx context.Context, limit int) ([]store.OutboxAlert, error) {
	return queryAll(ctx, s, "outbox alerts", func(sc interface{ Scan(...any) error }) (store.OutboxAlert, error) {
		var o store.OutboxAlert
		r, err := scanAlert(prefixScanner{sc, []any{&o.Seq}})
		o.Record = r
		return o, err
	}, `SELECT o.seq, `+alertCols+` FROM alert_outbox o JOIN alerts a ON a.id = o.alert_id ORDER BY o.seq LIMIT ?`, limitOf(limit))
}

// prefixScanner scans leading columns into pre, the rest into Scan's dest.
type prefixScanner struct {
	sc  interface{ Scan(...any) error }
	pre []any
}

func (p prefixScanner) Scan(dest ...any) error { return p.sc.Scan(append(p.pre, dest...)...) }

// DeleteOutbox removes handled outbox entries.
func (s *Store) DeleteOutbox(ctx context.Context, seqs []int64) error {
	for len(seqs) > 0 {
		n := min(len(seqs), 500)
		args := make([]any, n)
		for i, v := range seqs[:n] {
			args[i] = v
		}
		if _, err := s.exec(ctx, `DELETE FROM alert_outbox WHERE seq IN (`+placeholders(n)+`)`, args...); err != nil {
			return s.wrap("delete outbox", err)
		}
		seqs = seqs[n:]
	}
	return nil
}
