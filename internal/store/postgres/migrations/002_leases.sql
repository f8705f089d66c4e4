-- Leases: a running job belongs to its worker until lease_until (ms since
-- the epoch). Claim sets it, the worker's heartbeat extends it, and a job
-- whose lease ran out (its instance died) is put back in the queue or
-- failed by RequeueExpired. 0 when the job is not running.
ALTER TABLE jobs ADD COLUMN lease_until bigint NOT NULL DEFAULT 0;

CREATE INDEX jobs_lease ON jobs (lease_until) WHERE status = 'in_progress';
