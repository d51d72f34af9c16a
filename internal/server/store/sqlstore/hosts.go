package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/severity"
)

// UpsertHost creates or updates a host.
func (s *Store) UpsertHost(ctx context.Context, h store.Host) error {
	var c check
	c.nonEmpty("host ID", h.ID)
	for _, f := range []struct{ n, v string }{{"hostname", h.Hostname}, {"os", h.OS}, {"agent version", h.AgentVersion},
		{"sensor mode", h.SensorMode}, {"cert serial", h.CertSerial}, {"cert fingerprint", h.CertSHA256}} {
		c.text(f.n, f.v)
	}
	c.texts("label", h.Labels)
	c.texts("group", h.Groups)
	enrolled, seen := c.time("enrolled at", h.EnrolledAt), c.time("last seen", h.LastSeen)
	if c.err != nil {
		return s.wrap("upsert host", c.err)
	}
	err := s.tx(ctx, func(t *tx) error {
		res, err := t.exec(ctx, `INSERT INTO hosts (id, hostname, os, agent_version, sensor_mode, importance,
			cert_serial, cert_sha256, revoked, enrolled_ns, last_seen_ns) VALUES (?,?,?,?,?,?,?,?,?,?,?)
			ON CONFLICT (id) DO NOTHING`,
			h.ID, h.Hostname, h.OS, h.AgentVersion, h.SensorMode, h.Importance, h.CertSerial, h.CertSHA256, h.Revoked, enrolled, seen)
		if err != nil {
			return err
		}
		if affected(res) == 1 {
			return setAttrs(ctx, t, h.ID, h.Labels, h.Groups)
		}
		_, err = t.exec(ctx, `UPDATE hosts SET hostname = ?, os = ?, agent_version = ?, sensor_mode = ?,
			cert_serial = ?, cert_sha256 = ?, last_seen_ns = ?,
			enrolled_ns = CASE WHEN enrolled_ns = 0 THEN ? ELSE enrolled_ns END WHERE id = ?`,
			h.Hostname, h.OS, h.AgentVersion, h.SensorMode, h.CertSerial, h.CertSHA256, seen, enrolled, h.ID)
		return err
	})
	return s.wrap("upsert host", err)
}

func setAttrs(ctx context.Context, t *tx, id string, labels, groups []string) error {
	if _, err := t.exec(ctx, `DELETE FROM host_labels WHERE host_id = ?`, id); err != nil {
		return err
	}
	if _, err := t.exec(ctx, `DELETE FROM host_groups WHERE host_id = ?`, id); err != nil {
		return err
	}
	for _, l := range uniq(labels) {
		if _, err := t.exec(ctx, `INSERT INTO host_labels (host_id, label) VALUES (?, ?)`, id, l); err != nil {
			return err
		}
	}
	for _, g := range uniq(groups) {
		if _, err := t.exec(ctx, `INSERT INTO host_groups (host_id, grp) VALUES (?, ?)`, id, g); err != nil {
			return err
		}
	}
	return nil
}

func uniq(vs []string) []string {
	vs = slices.Clone(vs)
	slices.Sort(vs)
	return slices.Compact(vs)
}

// SetHostAttrs replaces labels, groups and importance.
func (s *Store) SetHostAttrs(ctx context.Context, id string, labels, groups []string, importance int) error {
	var c check
	c.texts("label", labels)
	c.texts("group", groups)
	if c.err != nil {
		return s.wrap("set host attributes", c.err)
	}
	err := s.tx(ctx, func(t *tx) error {
		res, err := t.exec(ctx, `UPDATE hosts SET importance = ? WHERE id = ?`, importance, id)
		if err != nil {
			return err
		}
		if affected(res) == 0 {
			return fmt.Errorf("host %q: %w", id, store.ErrNotFound)
		}
		return setAttrs(ctx, t, id, labels, groups)
	})
	return s.wrap("set host attributes", err)
}

// RevokeHost marks the host's certificate revoked.
func (s *Store) RevokeHost(ctx context.Context, id string) error {
	res, err := s.exec(ctx, `UPDATE hosts SET revoked = ? WHERE id = ?`, true, id)
	if err == nil && affected(res) == 0 {
		err = fmt.Errorf("host %q: %w", id, store.ErrNotFound)
	}
	return s.wrap("revoke host", err)
}

// RevokedHosts lists the revoked hosts' IDs.
func (s *Store) RevokedHosts(ctx context.Context) ([]string, error) {
	return queryAll(ctx, s, "revoked hosts", scanString, `SELECT id FROM hosts WHERE revoked = ? ORDER BY id`, true)
}

// TouchHosts records heartbeats in one transaction.
func (s *Store) TouchHosts(ctx context.Context, seen []store.HostSeen) error {
	var c check
	type row struct {
		h  *store.HostSeen
		ns int64
	}
	rows := make([]row, 0, len(seen))
	for i := range seen {
		h := &seen[i]
		c.nonEmpty("host ID", h.ID)
		for _, f := range []struct{ n, v string }{{"hostname", h.Hostname}, {"os", h.OS},
			{"agent version", h.AgentVersion}, {"sensor mode", h.SensorMode}} {
			c.text(f.n, f.v)
		}
		ns := c.time("last seen", h.LastSeen)
		if c.err != nil {
			return s.wrap("touch hosts", fmt.Errorf("host %q: %w", h.ID, c.err))
		}
		rows = append(rows, row{h, ns})
	}
	// One order for every writer.
	slices.SortFunc(rows, func(x, y row) int { return strings.Compare(x.h.ID, y.h.ID) })
	err := s.tx(ctx, func(t *tx) error {
		st, err := t.PrepareContext(ctx, t.d.Rebind(`UPDATE hosts SET
			last_seen_ns = CASE WHEN last_seen_ns < ? THEN ? ELSE last_seen_ns END,
			agent_version = ?, sensor_mode = ?,
			hostname = CASE WHEN ? = '' THEN hostname ELSE ? END,
			os = CASE WHEN ? = '' THEN os ELSE ? END
			WHERE id = ?`))
		if err != nil {
			return err
		}
		defer st.Close()
		for _, r := range rows {
			h := r.h
			if _, err := st.ExecContext(ctx, r.ns, r.ns, h.AgentVersion, h.SensorMode, h.Hostname, h.Hostname, h.OS, h.OS, h.ID); err != nil {
				return err
			}
		}
		return nil
	})
	return s.wrap("touch hosts", err)
}

const hostCols = `id, hostname, os, agent_version, sensor_mode, importance, cert_serial, cert_sha256, revoked, enrolled_ns, last_seen_ns`

func scanHost(sc interface{ Scan(...any) error }) (store.Host, error) {
	var h store.Host
	var enrolled, seen int64
	err := sc.Scan(&h.ID, &h.Hostname, &h.OS, &h.AgentVersion, &h.SensorMode, &h.Importance, &h.CertSerial, &h.CertSHA256, &h.Revoked, &enrolled, &seen)
	h.EnrolledAt, h.LastSeen = fromNS(enrolled), fromNS(seen)
	return h, err
}

// GetHost returns one host.
func (s *Store) GetHost(ctx context.Context, id string) (store.Host, error) {
	h, err := scanHost(s.queryRow(ctx, `SELECT `+hostCols+` FROM hosts WHERE id = ?`, id))
	if err != nil {
		return h, s.wrap(fmt.Sprintf("get host %q", id), err)
	}
	hs := []store.Host{h}
	if err := s.loadAttrs(ctx, hs); err != nil {
		return h, s.wrap("get host", err)
	}
	return hs[0], nil
}

// loadAttrs fills labels and groups.
func (s *Store) loadAttrs(ctx context.Context, hs []store.Host) error {
	if len(hs) == 0 {
		return nil
	}
	idx := make(map[string]int, len(hs))
	args := make([]any, len(hs))
	for i, h := range hs {
		idx[h.ID] = i
		args[i] = h.ID
	}
	in := placeholders(len(hs))
	rows, err := s.query(ctx, `SELECT host_id, label, 0 FROM host_labels WHERE host_id IN (`+in+`)
		UNION ALL SELECT host_id, grp, 1 FROM host_groups WHERE host_id IN (`+in+`) ORDER BY 3, 1, 2`, append(args, args...)...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, v string
		var kind int
		if err := rows.Scan(&id, &v, &kind); err != nil {
			return err
		}
		h := &hs[idx[id]]
		if kind == 0 {
			h.Labels = append(h.Labels, v)
		} else {
			h.Groups = append(h.Groups, v)
		}
	}
	return rows.Err()
}

func (s *Store) hostWhere(f store.HostFilter) (*where, error) {
	var c check
	c.text("label", f.Label)
	c.text("group", f.Group)
	c.text("name", f.Name)
	since := c.time("seen since", f.SeenSince)
	if c.err != nil {
		return nil, c.err
	}
	w := &where{}
	if since != 0 {
		w.add(`h.last_seen_ns >= ?`, since)
	}
	if f.Label != "" {
		w.add(`EXISTS (SELECT 1 FROM host_labels l WHERE l.host_id = h.id AND l.label = ?)`, f.Label)
	}
	if f.Group != "" {
		w.add(`EXISTS (SELECT 1 FROM host_groups g WHERE g.host_id = h.id AND g.grp = ?)`, f.Group)
	}
	if f.Name != "" {
		w.add(`h.hostname `+s.d.ILike+` ? ESCAPE '\'`, likePattern(f.Name))
	}
	if f.Revoked != nil {
		w.add(`h.revoked = ?`, *f.Revoked)
	}
	return w, nil
}

// FleetCounts counts the fleet in one scan of the hosts table.
func (s *Store) FleetCounts(ctx context.Context, seenSince time.Time) (store.HostCounts, error) {
	var c check
	since := c.time("seen since", seenSince)
	if seenSince.IsZero() {
		c.fail("seen since is zero")
	}
	if c.err != nil {
		return store.HostCounts{}, s.wrap("fleet counts", c.err)
	}
	var n store.HostCounts
	var all int
	err := s.queryRow(ctx, `SELECT COUNT(*),
		COALESCE(SUM(CASE WHEN revoked = ? THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN revoked = ? AND last_seen_ns >= ? THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN revoked = ? AND last_seen_ns = 0 THEN 1 ELSE 0 END), 0)
		FROM hosts`, true, false, since, false).Scan(&all, &n.Revoked, &n.Seen, &n.NeverSeen)
	n.Active = all - n.Revoked
	return n, s.wrap("fleet counts", err)
}

// ListHosts lists one page of hosts.
func (s *Store) ListHosts(ctx context.Context, f store.HostFilter) ([]store.Host, string, error) {
	w, err := s.hostWhere(f)
	if err != nil {
		return nil, "", s.wrap("list hosts", err)
	}
	kind, order := "hosts.name", `h.hostname, h.id`
	if f.Sort == store.SortLastSeen {
		kind, order = "hosts.seen", `h.last_seen_ns DESC, h.id DESC`
	}
	if f.Cursor != "" {
		cur, err := DecodeCursor(f.Cursor, kind)
		if err != nil {
			return nil, "", s.wrap("list hosts", err)
		}
		if f.Sort == store.SortLastSeen {
			w.add(`(h.last_seen_ns, h.id) < (?, ?)`, cur.N, cur.ID)
		} else {
			w.add(`(h.hostname, h.id) > (?, ?)`, cur.T, cur.ID)
		}
	}
	limit := limitOf(f.Limit)
	q := `SELECT ` + prefixed("h.", hostCols) + ` FROM hosts h` + w.String() + ` ORDER BY ` + order + ` LIMIT ?`
	args := append(w.args, limit+1)
	if f.Cursor == "" && f.Offset > 0 {
		q += ` OFFSET ?`
		args = append(args, f.Offset)
	}
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, "", s.wrap("list hosts", err)
	}
	defer rows.Close()
	var hs []store.Host
	for rows.Next() {
		h, err := scanHost(rows)
		if err != nil {
			return nil, "", s.wrap("list hosts", err)
		}
		hs = append(hs, h)
	}
	if err := rows.Err(); err != nil {
		return nil, "", s.wrap("list hosts", err)
	}
	next := ""
	if len(hs) > limit {
		hs = hs[:limit]
		last := hs[limit-1]
		c := Cursor{Kind: kind, T: last.Hostname, ID: last.ID}
		if f.Sort == store.SortLastSeen {
			c = Cursor{Kind: kind, N: nsOrZero(last.LastSeen), ID: last.ID}
		}
		next = c.Encode()
	}
	if err := s.loadAttrs(ctx, hs); err != nil {
		return nil, "", s.wrap("list hosts", err)
	}
	return hs, next, nil
}

func nsOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func prefixed(p, cols string) string {
	parts := strings.Split(cols, ", ")
	for i := range parts {
		parts[i] = p + parts[i]
	}
	return strings.Join(parts, ", ")
}

// CountHosts counts matching hosts.
func (s *Store) CountHosts(ctx context.Context, f store.HostFilter) (int, error) {
	w, err := s.hostWhere(f)
	if err != nil {
		return 0, s.wrap("count hosts", err)
	}
	var n int
	err = s.queryRow(ctx, `SELECT COUNT(*) FROM hosts h`+w.String(), w.args...).Scan(&n)
	return n, s.wrap("count hosts", err)
}

// CreateEnrolToken stores a new enrolment token.
func (s *Store) CreateEnrolToken(ctx context.Context, t store.EnrolToken) error {
	var c check
	c.nonEmpty("token hash", t.Hash)
	c.text("name", t.Name)
	c.text("created by", t.CreatedBy)
	created, expires := c.time("created at", t.CreatedAt), c.time("expires at", t.ExpiresAt)
	if expires == 0 {
		c.fail("token has no expiry")
	}
	if c.err != nil {
		return s.wrap("create enrolment token", c.err)
	}
	res, err := s.exec(ctx, `INSERT INTO enrol_tokens (hash, name, created_by, created_ns, expires_ns) VALUES (?,?,?,?,?)
		ON CONFLICT (hash) DO NOTHING`, t.Hash, t.Name, t.CreatedBy, created, expires)
	if err == nil && affected(res) == 0 {
		err = store.ErrConflict
	}
	return s.wrap("create enrolment token", err)
}

const tokenCols = `hash, name, created_by, created_ns, expires_ns, used_ns, used_by`

func scanToken(sc interface{ Scan(...any) error }) (store.EnrolToken, error) {
	var t store.EnrolToken
	var c, e, u int64
	err := sc.Scan(&t.Hash, &t.Name, &t.CreatedBy, &c, &e, &u, &t.UsedBy)
	t.CreatedAt, t.ExpiresAt, t.UsedAt = fromNS(c), fromNS(e), fromNS(u)
	return t, err
}

// ConsumeEnrolToken uses a token once.
func (s *Store) ConsumeEnrolToken(ctx context.Context, hash string, now time.Time, hostID string) (store.EnrolToken, error) {
	var c check
	c.text("token hash", hash)
	c.nonEmpty("host ID", hostID)
	n := c.time("now", now)
	if c.err != nil {
		return store.EnrolToken{}, s.wrap("consume enrolment token", c.err)
	}
	row := s.w.QueryRowContext(ctx, s.d.Rebind(`UPDATE enrol_tokens SET used_ns = ?, used_by = ?
		WHERE hash = ? AND used_ns = 0 AND expires_ns > ? RETURNING `+tokenCols), n, hostID, hash, n)
	t, err := scanToken(row)
	if errors.Is(err, sql.ErrNoRows) {
		err = fmt.Errorf("enrolment token unknown, used or expired: %w", store.ErrNotFound)
	}
	return t, s.wrap("consume enrolment token", err)
}

// ListEnrolTokens lists tokens, newest first.
func (s *Store) ListEnrolTokens(ctx context.Context) ([]store.EnrolToken, error) {
	return queryAll(ctx, s, "list enrolment tokens", scanToken, `SELECT `+tokenCols+` FROM enrol_tokens ORDER BY created_ns DESC, hash`)
}

// DeleteEnrolToken removes a token.
func (s *Store) DeleteEnrolToken(ctx context.Context, hash string) error {
	res, err := s.exec(ctx, `DELETE FROM enrol_tokens WHERE hash = ?`, hash)
	if err == nil && affected(res) == 0 {
		err = store.ErrNotFound
	}
	return s.wrap("delete enrolment token", err)
}

// PutInventory stores a snapshot unless identical to the latest.
func (s *Store) PutInventory(ctx context.Context, hostID string, at time.Time, data json.RawMessage) (store.InventorySnapshot, bool, error) {
	var c check
	c.nonEmpty("host ID", hostID)
	ns := c.time("time", at)
	body := c.json("inventory", data, false)
	if c.err != nil {
		return store.InventorySnapshot{}, false, s.wrap("put inventory", c.err)
	}
	sum := sha256.Sum256(data)
	snap := store.InventorySnapshot{HostID: hostID, Time: fromNS(ns), SHA256: hex.EncodeToString(sum[:]), Data: data}
	stored := false
	err := s.tx(ctx, func(t *tx) error {
		// The host row serialises concurrent puts for one host.
		res, err := t.exec(ctx, `UPDATE hosts SET last_inventory_ns = ? WHERE id = ?`, ns, hostID)
		if err != nil {
			return err
		}
		if affected(res) == 0 {
			return fmt.Errorf("host %q: %w", hostID, store.ErrNotFound)
		}
		var id, lastNS int64
		var lastSum string
		err = t.queryRow(ctx, `SELECT id, time_ns, sha256 FROM inventory WHERE host_id = ? ORDER BY id DESC LIMIT 1`, hostID).Scan(&id, &lastNS, &lastSum)
		if err == nil && lastSum == snap.SHA256 {
			snap.ID, snap.Time = id, fromNS(lastNS)
			return nil
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		stored = true
		return t.queryRow(ctx, `INSERT INTO inventory (host_id, time_ns, sha256, data) VALUES (?,?,?,?) RETURNING id`,
			hostID, ns, snap.SHA256, body).Scan(&snap.ID)
	})
	if err != nil {
		return store.InventorySnapshot{}, false, s.wrap("put inventory", err)
	}
	return snap, stored, nil
}

func (s *Store) oneInventory(ctx context.Context, op, cond string, arg any) (store.InventorySnapshot, error) {
	var snap store.InventorySnapshot
	var ns int64
	var data string
	err := s.queryRow(ctx, `SELECT id, host_id, time_ns, sha256, data FROM inventory WHERE `+cond, arg).
		Scan(&snap.ID, &snap.HostID, &ns, &snap.SHA256, &data)
	snap.Time, snap.Data = fromNS(ns), json.RawMessage(data)
	return snap, s.wrap(op, err)
}

// LatestInventory returns the host's newest snapshot.
func (s *Store) LatestInventory(ctx context.Context, hostID string) (store.InventorySnapshot, error) {
	return s.oneInventory(ctx, "latest inventory", `host_id = ? ORDER BY id DESC LIMIT 1`, hostID)
}

// GetInventory returns one snapshot.
func (s *Store) GetInventory(ctx context.Context, id int64) (store.InventorySnapshot, error) {
	return s.oneInventory(ctx, "get inventory", `id = ?`, id)
}

// InventoryHistory lists snapshots newest first, without data.
func (s *Store) InventoryHistory(ctx context.Context, hostID string, limit int) ([]store.InventorySnapshot, error) {
	rows, err := s.query(ctx, `SELECT id, host_id, time_ns, sha256 FROM inventory WHERE host_id = ? ORDER BY id DESC LIMIT ?`, hostID, limitOf(limit))
	if err != nil {
		return nil, s.wrap("inventory history", err)
	}
	defer rows.Close()
	var out []store.InventorySnapshot
	for rows.Next() {
		var snap store.InventorySnapshot
		var ns int64
		if err := rows.Scan(&snap.ID, &snap.HostID, &ns, &snap.SHA256); err != nil {
			return nil, s.wrap("inventory history", err)
		}
		snap.Time = fromNS(ns)
		out = append(out, snap)
	}
	return out, s.wrap("inventory history", rows.Err())
}

// ReplaceFindings replaces a host's vulnerability findings.
func (s *Store) ReplaceFindings(ctx context.Context, hostID string, fs []store.VulnFinding) error {
	var c check
	c.nonEmpty("host ID", hostID)
	data := make([]string, len(fs))
	for i, f := range fs {
		c.nonEmpty("vulnerability ID", f.VulnID)
		c.text("package", f.Package)
		c.text("version", f.Version)
		c.text("fixed version", f.FixedVersion)
		c.text("summary", f.Summary)
		data[i] = c.json("finding data", f.Data, true)
		if f.Severity < severity.Unspecified || f.Severity > severity.Critical {
			c.fail("severity %d", int(f.Severity))
		}
	}
	if c.err != nil {
		return s.wrap("replace findings", c.err)
	}
	err := s.tx(ctx, func(t *tx) error {
		res, err := t.exec(ctx, `UPDATE hosts SET importance = importance WHERE id = ?`, hostID)
		if err != nil {
			return err
		}
		if affected(res) == 0 {
			return fmt.Errorf("host %q: %w", hostID, store.ErrNotFound)
		}
		if _, err := t.exec(ctx, `DELETE FROM vuln_findings WHERE host_id = ?`, hostID); err != nil {
			return err
		}
		stmt, err := t.PrepareContext(ctx, t.d.Rebind(`INSERT INTO vuln_findings (host_id, vuln_id, package, version, fixed_version,
			severity, priority, summary, data) VALUES (?,?,?,?,?,?,?,?,?)`))
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i, f := range fs {
			if _, err := stmt.ExecContext(ctx, hostID, f.VulnID, f.Package, f.Version, f.FixedVersion, int(f.Severity), f.Priority, f.Summary, data[i]); err != nil {
				return fmt.Errorf("finding %q in %q %q: %w", f.VulnID, f.Package, f.Version, err)
			}
		}
		return nil
	})
	return s.wrap("replace findings", err)
}

// ListHostFindings lists a host's findings, most urgent first.
func (s *Store) ListHostFindings(ctx context.Context, hostID string) ([]store.VulnFinding, error) {
	rows, err := s.query(ctx, `SELECT host_id, vuln_id, package, version, fixed_version, severity, priority, summary, data
		FROM vuln_findings WHERE host_id = ? ORDER BY priority DESC, severity DESC, vuln_id, package, version`, hostID)
	if err != nil {
		return nil, s.wrap("list findings", err)
	}
	defer rows.Close()
	var out []store.VulnFinding
	for rows.Next() {
		var f store.VulnFinding
		var sev int
		var data string
		if err := rows.Scan(&f.HostID, &f.VulnID, &f.Package, &f.Version, &f.FixedVersion, &sev, &f.Priority, &f.Summary, &data); err != nil {
			return nil, s.wrap("list findings", err)
		}
		f.Severity, f.Data = severity.Level(sev), rawJSON(data)
		out = append(out, f)
	}
	return out, s.wrap("list findings", rows.Err())
}

// ListVulns aggregates findings by vulnerability.
func (s *Store) ListVulns(ctx context.Context, f store.VulnFilter) ([]store.VulnSummary, error) {
	var c check
	c.text("text", f.Text)
	c.text("group", f.Group)
	if c.err != nil {
		return nil, s.wrap("list vulnerabilities", c.err)
	}
	w := &where{}
	if f.MinSeverity > severity.Unspecified {
		w.add(`f.severity >= ?`, int(f.MinSeverity))
	}
	if f.Text != "" {
		p := likePattern(f.Text)
		op := s.d.ILike
		w.add(`(f.vuln_id `+op+` ? ESCAPE '\' OR f.package `+op+` ? ESCAPE '\' OR f.summary `+op+` ? ESCAPE '\')`, p, p, p)
	}
	if f.Group != "" {
		w.add(`EXISTS (SELECT 1 FROM host_groups g WHERE g.host_id = f.host_id AND g.grp = ?)`, f.Group)
	}
	q := `SELECT f.vuln_id, MAX(f.severity), MAX(f.priority), COUNT(DISTINCT f.host_id), COUNT(DISTINCT f.package), MAX(f.summary)
		FROM vuln_findings f` + w.String() + ` GROUP BY f.vuln_id ORDER BY 3 DESC, 2 DESC, 4 DESC, 1 LIMIT ? OFFSET ?`
	rows, err := s.query(ctx, q, append(w.args, limitOf(f.Limit), max(f.Offset, 0))...)
	if err != nil {
		return nil, s.wrap("list vulnerabilities", err)
	}
	defer rows.Close()
	var out []store.VulnSummary
	for rows.Next() {
		var v store.VulnSummary
		var sev int
		if err := rows.Scan(&v.VulnID, &sev, &v.Priority, &v.Hosts, &v.Packages, &v.Summary); err != nil {
			return nil, s.wrap("list vulnerabilities", err)
		}
		v.Severity = severity.Level(sev)
		out = append(out, v)
	}
	return out, s.wrap("list vulnerabilities", rows.Err())
}
