-- Alerts waiting to be exported and checked against the allow-list: a row
-- is written in the transaction that stores a new alert and deleted once
-- the alert is handled, so a server restart replays what was not.
CREATE TABLE alert_outbox (
	seq      BIGSERIAL PRIMARY KEY,
	alert_id TEXT NOT NULL
);
