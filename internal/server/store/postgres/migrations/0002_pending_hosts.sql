-- The link looks up which hosts have pending task runs every few seconds
-- (one query for the fleet, not one per host).
CREATE INDEX task_runs_state_host ON task_runs (state, host_id);
