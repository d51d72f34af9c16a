-- Named leases: server replicas sharing a store take one before work that
-- must run in one place at a time (task schedules, alert export). A lease
-- is held by holder until until_ns (UTC nanoseconds); after that another
-- replica may take it.
CREATE TABLE leases (
	name     TEXT PRIMARY KEY,
	holder   TEXT NOT NULL,
	until_ns INTEGER NOT NULL
);
