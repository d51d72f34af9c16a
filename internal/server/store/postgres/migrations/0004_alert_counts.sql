-- Exact alert counts by status, severity and ATT&CK tactic, kept by the
-- transactions that store alerts and change their status, so that the
-- dashboard and /metrics count a million alerts without reading them.
-- tactic '' is the row counting every alert of (status, severity).
CREATE TABLE alert_counts (
	status   TEXT NOT NULL,
	severity INTEGER NOT NULL,
	tactic   TEXT NOT NULL,
	n        BIGINT NOT NULL,
	PRIMARY KEY (status, severity, tactic)
);
INSERT INTO alert_counts (status, severity, tactic, n)
	SELECT status, severity, '', COUNT(*) FROM alerts GROUP BY status, severity;
INSERT INTO alert_counts (status, severity, tactic, n)
	SELECT a.status, a.severity, t.tactic, COUNT(*) FROM alert_tactics t JOIN alerts a ON a.id = t.alert_id
	WHERE t.tactic <> '' GROUP BY a.status, a.severity, t.tactic;
