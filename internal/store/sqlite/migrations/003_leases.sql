-- Leases (store.Lease): a running job belongs to its worker until
-- lease_until (ms since the epoch). Claim sets it, Heartbeat extends it,
-- and RequeueExpired takes back a job whose lease ran out. 0 when the job
-- is not running.
ALTER TABLE jobs ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;

-- A job RequeueExpired puts back in the queue rejoins it at its old place.
CREATE TRIGGER queue_requeue AFTER UPDATE OF status ON jobs
WHEN OLD.status <> 'pending' AND NEW.status = 'pending' BEGIN
    INSERT INTO queue (number, id) VALUES (NEW.number, NEW.id);
END;
