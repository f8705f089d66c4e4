-- Comfy API v2 (store.V2Store).
--
-- A job's webhook target and per-node timing are columns of the job, so
-- that they go with it; Enqueue of a known id resets them.
ALTER TABLE jobs ADD COLUMN webhook_url text NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN node_timing bytea;

-- Idempotency-Keys of POST /api/v2/jobs, by user, shared by every instance.
-- created is in ms since the epoch; expired rows are deleted by the next
-- reservation.
CREATE TABLE idempotency_keys (
    user_id text    NOT NULL,
    key     text    NOT NULL,
    body    text    NOT NULL,
    job_id  text    NOT NULL,
    done    boolean NOT NULL,
    created bigint  NOT NULL,
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created);
