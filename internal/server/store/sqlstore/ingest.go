package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/severity"
)

// Ingest is split in two: prep* checks and encodes a host's records
// outside any transaction, write* inserts them inside one. IngestAlerts
// and IngestEvents write one host's records per transaction; Ingest writes
// many hosts' (group commit), which is what lets one SQLite writer keep
// up with thousands of agents each sending a few records at a time.

// alertRow is an alert ready to insert.
type alertRow struct {
	a    *alert.Alert
	ns   int64
	data string
}

// eventRow is an event ready to insert.
type eventRow struct {
	e    *store.Event
	ns   int64
	data string
}

func prepAlerts(c *check, hostID string, as []alert.Alert) []alertRow {
	rows := make([]alertRow, 0, len(as))
	seen := make(map[string]bool, len(as))
	for i := range as {
		a := &as[i]
		c.nonEmpty("alert ID", a.ID)
		c.text("rule ID", a.Rule.ID)
		c.text("rule title", a.Rule.Title)
		c.texts("tactic", a.Attack.Tactics)
		ns := c.time("alert time", a.Time)
		if a.Severity < severity.Unspecified || a.Severity > severity.Critical {
			c.fail("alert %q: severity %d", a.ID, int(a.Severity))
		}
		if c.err != nil {
			return nil
		}
		if seen[a.ID] {
			continue
		}
		seen[a.ID] = true
		cp := *a
		cp.Host = hostID
		b, err := json.Marshal(cp)
		if err != nil {
			c.fail("alert %q: %v", a.ID, err)
			return nil
		}
		rows = append(rows, alertRow{a, ns, string(b)})
	}
	// One order for every writer: concurrent batches cannot deadlock.
	slices.SortFunc(rows, func(x, y alertRow) int { return strings.Compare(x.a.ID, y.a.ID) })
	return rows
}

func prepEvents(c *check, es []store.Event) []eventRow {
	rows := make([]eventRow, 0, len(es))
	for i := range es {
		e := &es[i]
		c.nonEmpty("event ID", e.ID)
		c.text("event kind", e.Kind)
		ns := c.time("event time", e.Time)
		data := c.json("event data", e.Data, false)
		if c.err != nil {
			c.err = fmt.Errorf("event %d: %w", i, c.err)
			return nil
		}
		rows = append(rows, eventRow{e, ns, data})
	}
	slices.SortFunc(rows, func(x, y eventRow) int { return strings.Compare(x.e.ID, y.e.ID) })
	return rows
}

// writeAlerts inserts prepared alerts and their tactics; it returns how
// many were new.
func writeAlerts(ctx context.Context, t *tx, hostID string, rows []alertRow) (int, error) {
	added := 0
	args := make([]any, 0, 9*alertChunk)
	for start := 0; start < len(rows); start += alertChunk {
		part := rows[start:min(start+alertChunk, len(rows))]
		byID := make(map[string]alertRow, len(part))
		args = args[:0]
		var q strings.Builder
		q.WriteString(`INSERT INTO alerts (id, host_id, time_ns, rule_id, rule_title, severity, status, updated_ns, data) VALUES `)
		for i, r := range part {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString(`(?,?,?,?,?,?,?,?,?)`)
			args = append(args, r.a.ID, hostID, r.ns, r.a.Rule.ID, r.a.Rule.Title, int(r.a.Severity), string(store.StatusOpen), r.ns, r.data)
			byID[r.a.ID] = r
		}
		q.WriteString(` ON CONFLICT (id) DO NOTHING RETURNING id`)
		res, err := t.query(ctx, q.String(), args...)
		if err != nil {
			return 0, err
		}
		var fresh []string
		for res.Next() {
			var id string
			if err := res.Scan(&id); err != nil {
				res.Close()
				return 0, err
			}
			fresh = append(fresh, id)
		}
		res.Close()
		if err := res.Err(); err != nil {
			return 0, err
		}
		added += len(fresh)
		deltas := map[countKey]int{}
		for _, id := range fresh {
			r := byID[id]
			deltas[countKey{store.StatusOpen, r.a.Severity, ""}]++
			for _, tc := range uniq(r.a.Attack.Tactics) {
				if tc != "" {
					deltas[countKey{store.StatusOpen, r.a.Severity, tc}]++
				}
			}
		}
		if err := addCounts(ctx, t, deltas); err != nil {
			return 0, err
		}
		if len(fresh) > 0 {
			slices.Sort(fresh)
			ids := make([]any, len(fresh))
			for i, id := range fresh {
				ids[i] = id
			}
			if _, err := t.exec(ctx, `INSERT INTO alert_outbox (alert_id) VALUES `+
				strings.TrimSuffix(strings.Repeat("(?),", len(ids)), ","), ids...); err != nil {
				return 0, err
			}
		}
		args = args[:0]
		for _, id := range fresh {
			for _, tc := range uniq(byID[id].a.Attack.Tactics) {
				args = append(args, id, byID[id].ns, tc)
			}
		}
		for len(args) > 0 {
			n := min(len(args), 3*alertChunk*4)
			_, err := t.exec(ctx, `INSERT INTO alert_tactics (alert_id, time_ns, tactic) VALUES `+
				strings.TrimSuffix(strings.Repeat("(?,?,?),", n/3), ",")+` ON CONFLICT DO NOTHING`, args[:n]...)
			if err != nil {
				return 0, err
			}
			args = args[n:]
		}
	}
	return added, nil
}

// eventChunk rows per INSERT: 5 parameters each, well under SQLite's and
// PostgreSQL's limits.
const eventChunk = 500

// hostEvent is a prepared event with its host and batch.
type hostEvent struct {
	host  string
	batch int
	row   eventRow
}

// writeEvents inserts many hosts' prepared events in multi-row INSERTs
// and counts the new ones per batch in added.
func writeEvents(ctx context.Context, t *tx, evs []hostEvent, added []store.BatchAdded) error {
	// One order for every writer; the first of a repeated (host, ID) is
	// the one that counts.
	slices.SortStableFunc(evs, func(x, y hostEvent) int {
		if c := strings.Compare(x.host, y.host); c != 0 {
			return c
		}
		return strings.Compare(x.row.e.ID, y.row.e.ID)
	})
	type key struct{ host, id string }
	batchOf := make(map[key]int, len(evs))
	uniq := evs[:0:0]
	for _, e := range evs {
		k := key{e.host, e.row.e.ID}
		if _, dup := batchOf[k]; dup {
			continue
		}
		batchOf[k] = e.batch
		uniq = append(uniq, e)
	}
	single := len(added) == 1
	args := make([]any, 0, 5*eventChunk)
	for start := 0; start < len(uniq); start += eventChunk {
		part := uniq[start:min(start+eventChunk, len(uniq))]
		args = args[:0]
		var q strings.Builder
		q.WriteString(`INSERT INTO events (host_id, id, time_ns, kind, data) VALUES `)
		for i, e := range part {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString(`(?,?,?,?,?)`)
			args = append(args, e.host, e.row.e.ID, e.row.ns, e.row.e.Kind, e.row.data)
		}
		if single {
			// One batch: the count is all that is needed.
			q.WriteString(` ON CONFLICT (host_id, id) DO NOTHING`)
			res, err := t.exec(ctx, q.String(), args...)
			if err != nil {
				return err
			}
			added[part[0].batch].Events += affected(res)
			continue
		}
		q.WriteString(` ON CONFLICT (host_id, id) DO NOTHING RETURNING host_id, id`)
		rows, err := t.query(ctx, q.String(), args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var k key
			if err := rows.Scan(&k.host, &k.id); err != nil {
				rows.Close()
				return err
			}
			added[batchOf[k]].Events++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// hostsExist fails with ErrNotFound naming the first host of ids that
// does not exist.
func (s *Store) hostsExist(ctx context.Context, t *tx, ids []string) error {
	slices.Sort(ids)
	ids = slices.Compact(ids)
	for start := 0; start < len(ids); start += eventChunk {
		part := ids[start:min(start+eventChunk, len(ids))]
		args := make([]any, len(part))
		for i, id := range part {
			args[i] = id
		}
		rows, err := t.query(ctx, `SELECT id FROM hosts WHERE id IN (`+placeholders(len(part))+`)`, args...)
		if err != nil {
			return err
		}
		found := make(map[string]bool, len(part))
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			found[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range part {
			if !found[id] {
				return fmt.Errorf("host %q: look up host: %w", id, store.ErrNotFound)
			}
		}
	}
	return nil
}

// IngestAlerts stores alerts, idempotent by ID.
func (s *Store) IngestAlerts(ctx context.Context, hostID string, as []alert.Alert) (int, error) {
	added, err := s.Ingest(ctx, []store.Batch{{HostID: hostID, Alerts: as}})
	if err != nil {
		return 0, fmt.Errorf("ingest alerts: %w", err)
	}
	return added[0].Alerts, nil
}

// IngestEvents stores events, idempotent by (host, ID).
func (s *Store) IngestEvents(ctx context.Context, hostID string, es []store.Event) (int, error) {
	added, err := s.Ingest(ctx, []store.Batch{{HostID: hostID, Events: es}})
	if err != nil {
		return 0, fmt.Errorf("ingest events: %w", err)
	}
	return added[0].Events, nil
}

// Ingest stores several hosts' alerts and events in one transaction.
func (s *Store) Ingest(ctx context.Context, bs []store.Batch) ([]store.BatchAdded, error) {
	type prepared struct {
		host   string
		alerts []alertRow
		events []eventRow
	}
	ps := make([]prepared, len(bs))
	for i, b := range bs {
		var c check
		c.nonEmpty("host ID", b.HostID)
		ps[i] = prepared{host: b.HostID, alerts: prepAlerts(&c, b.HostID, b.Alerts)}
		if c.err == nil {
			ps[i].events = prepEvents(&c, b.Events)
		}
		if c.err != nil {
			return nil, s.wrap("ingest", fmt.Errorf("host %q: %w", b.HostID, c.err))
		}
	}
	added := make([]store.BatchAdded, len(bs))
	hosts := make([]string, len(ps))
	var evs []hostEvent
	for i, p := range ps {
		hosts[i] = p.host
		for _, r := range p.events {
			evs = append(evs, hostEvent{host: p.host, batch: i, row: r})
		}
	}
	err := s.tx(ctx, func(t *tx) error {
		clear(added)
		if err := s.hostsExist(ctx, t, hosts); err != nil {
			return err
		}
		for i, p := range ps {
			if len(p.alerts) == 0 {
				continue
			}
			na, err := writeAlerts(ctx, t, p.host, p.alerts)
			if err != nil {
				return err
			}
			added[i].Alerts = na
		}
		return writeEvents(ctx, t, slices.Clone(evs), added)
	})
	if err != nil {
		return nil, s.wrap("ingest", err)
	}
	return added, nil
}

// countKey is one row of alert_counts.
type countKey struct {
	status   store.AlertStatus
	severity severity.Level
	tactic   string // "" for the row counting every alert
}

// addCounts applies deltas to alert_counts, in one order for every
// writer.
func addCounts(ctx context.Context, t *tx, deltas map[countKey]int) error {
	keys := make([]countKey, 0, len(deltas))
	for k, d := range deltas {
		if d != 0 {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b countKey) int {
		if c := strings.Compare(string(a.status), string(b.status)); c != 0 {
			return c
		}
		if a.severity != b.severity {
			return int(a.severity) - int(b.severity)
		}
		return strings.Compare(a.tactic, b.tactic)
	})
	for _, k := range keys {
		if _, err := t.exec(ctx, `INSERT INTO alert_counts (status, severity, tactic, n) VALUES (?,?,?,?)
			ON CONFLICT (status, severity, tactic) DO UPDATE SET n = alert_counts.n + excluded.n`,
			string(k.status), int(k.severity), k.tactic, deltas[k]); err != nil {
			return fmt.Errorf("alert counts: %w", err)
		}
	}
	return nil
}
