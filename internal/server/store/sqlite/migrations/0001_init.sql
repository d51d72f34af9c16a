-- Vigil server schema, SQLite dialect. Times are Unix nanoseconds (UTC),
-- 0 meaning unset. JSON is kept as text, verbatim.

CREATE TABLE hosts (
	id                TEXT PRIMARY KEY,
	hostname          TEXT NOT NULL,
	os                TEXT NOT NULL,
	agent_version     TEXT NOT NULL,
	sensor_mode       TEXT NOT NULL,
	importance        INTEGER NOT NULL DEFAULT 0,
	cert_serial       TEXT NOT NULL,
	cert_sha256       TEXT NOT NULL,
	revoked           INTEGER NOT NULL DEFAULT 0,
	enrolled_ns       INTEGER NOT NULL,
	last_seen_ns      INTEGER NOT NULL,
	last_inventory_ns INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX hosts_hostname ON hosts (hostname, id);
CREATE INDEX hosts_last_seen ON hosts (last_seen_ns, id);

CREATE TABLE host_labels (
	host_id TEXT NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
	label   TEXT NOT NULL,
	PRIMARY KEY (host_id, label)
);
CREATE INDEX host_labels_label ON host_labels (label, host_id);

CREATE TABLE host_groups (
	host_id TEXT NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
	grp     TEXT NOT NULL,
	PRIMARY KEY (host_id, grp)
);
CREATE INDEX host_groups_grp ON host_groups (grp, host_id);

CREATE TABLE enrol_tokens (
	hash       TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	created_by TEXT NOT NULL,
	created_ns INTEGER NOT NULL,
	expires_ns INTEGER NOT NULL,
	used_ns    INTEGER NOT NULL DEFAULT 0,
	used_by    TEXT NOT NULL DEFAULT ''
);

CREATE TABLE inventory (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	host_id TEXT NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
	time_ns INTEGER NOT NULL,
	sha256  TEXT NOT NULL,
	data    TEXT NOT NULL
);
CREATE INDEX inventory_host ON inventory (host_id, id);

CREATE TABLE vuln_findings (
	host_id       TEXT NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
	vuln_id       TEXT NOT NULL,
	package       TEXT NOT NULL,
	version       TEXT NOT NULL,
	fixed_version TEXT NOT NULL,
	severity      INTEGER NOT NULL,
	priority      INTEGER NOT NULL,
	summary       TEXT NOT NULL,
	data          TEXT NOT NULL,
	PRIMARY KEY (host_id, vuln_id, package, version)
);
CREATE INDEX vuln_findings_vuln ON vuln_findings (vuln_id);

CREATE TABLE alerts (
	id         TEXT PRIMARY KEY,
	host_id    TEXT NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
	time_ns    INTEGER NOT NULL,
	rule_id    TEXT NOT NULL,
	rule_title TEXT NOT NULL,
	severity   INTEGER NOT NULL,
	status     TEXT NOT NULL,
	assignee   TEXT NOT NULL DEFAULT '',
	version    INTEGER NOT NULL DEFAULT 1,
	updated_ns INTEGER NOT NULL,
	data       TEXT NOT NULL
);
CREATE INDEX alerts_time ON alerts (time_ns, id);
CREATE INDEX alerts_host ON alerts (host_id, time_ns, id);
CREATE INDEX alerts_severity ON alerts (severity, time_ns, id);
CREATE INDEX alerts_status ON alerts (status, time_ns, id);
CREATE INDEX alerts_rule ON alerts (rule_id, time_ns, id);

CREATE TABLE alert_tactics (
	alert_id TEXT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
	time_ns  INTEGER NOT NULL,
	tactic   TEXT NOT NULL,
	PRIMARY KEY (alert_id, tactic)
);
-- Tactic filters walk this index in time order.
CREATE INDEX alert_tactics_tactic ON alert_tactics (tactic, time_ns, alert_id);

CREATE TABLE alert_comments (
	id       INTEGER PRIMARY KEY AUTOINCREMENT,
	alert_id TEXT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
	time_ns  INTEGER NOT NULL,
	author   TEXT NOT NULL,
	body     TEXT NOT NULL
);
CREATE INDEX alert_comments_alert ON alert_comments (alert_id, id);

CREATE TABLE events (
	host_id TEXT NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
	id      TEXT NOT NULL,
	time_ns INTEGER NOT NULL,
	kind    TEXT NOT NULL,
	data    TEXT NOT NULL,
	PRIMARY KEY (host_id, id)
) WITHOUT ROWID;
CREATE INDEX events_time ON events (host_id, time_ns);

CREATE TABLE tasks (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	type       TEXT NOT NULL,
	params     TEXT NOT NULL,
	targets    TEXT NOT NULL,
	schedule   TEXT NOT NULL,
	signature  BLOB NOT NULL,
	created_by TEXT NOT NULL,
	created_ns INTEGER NOT NULL
);

CREATE TABLE task_runs (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	task_id       INTEGER NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
	host_id       TEXT NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
	state         TEXT NOT NULL,
	created_ns    INTEGER NOT NULL,
	dispatched_ns INTEGER NOT NULL DEFAULT 0,
	finished_ns   INTEGER NOT NULL DEFAULT 0,
	output        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX task_runs_host ON task_runs (host_id, state, id);
CREATE INDEX task_runs_task ON task_runs (task_id, id);

CREATE TABLE users (
	username      TEXT PRIMARY KEY,
	password_hash TEXT NOT NULL,
	role          TEXT NOT NULL,
	disabled      INTEGER NOT NULL DEFAULT 0,
	created_ns    INTEGER NOT NULL
);

CREATE TABLE sessions (
	token_hash  TEXT PRIMARY KEY,
	username    TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
	csrf_secret TEXT NOT NULL,
	created_ns  INTEGER NOT NULL,
	expires_ns  INTEGER NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_ns);

CREATE TABLE api_tokens (
	hash         TEXT PRIMARY KEY,
	username     TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
	name         TEXT NOT NULL,
	created_ns   INTEGER NOT NULL,
	last_used_ns INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX api_tokens_user ON api_tokens (username);

CREATE TABLE settings (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

CREATE TABLE audit (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	time_ns INTEGER NOT NULL,
	actor   TEXT NOT NULL,
	action  TEXT NOT NULL,
	object  TEXT NOT NULL,
	details TEXT NOT NULL
);
CREATE INDEX audit_actor ON audit (actor, id);
CREATE INDEX audit_object ON audit (object, id);
CREATE INDEX audit_time ON audit (time_ns);
