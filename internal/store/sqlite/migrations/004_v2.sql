-- Comfy API v2 (store.V2Store).
--
-- A job's webhook target and per-node timing live with its payload, so that
-- they go with the job (Enqueue of the same id, DeleteHistory, TrimHistory).
ALTER TABLE job_payloads ADD COLUMN webhook_url TEXT NOT NULL DEFAULT '';
ALTER TABLE job_payloads ADD COLUMN node_timing BLOB;

-- Idempotency-Keys of POST /api/v2/jobs, by user. created is in ms since the
-- epoch; expired rows are deleted by the next reservation.
CREATE TABLE idempotency_keys (
    user_id TEXT    NOT NULL,
    key     TEXT    NOT NULL,
    body    TEXT    NOT NULL,
    job_id  TEXT    NOT NULL,
    done    INTEGER NOT NULL,
    created INTEGER NOT NULL,
    PRIMARY KEY (user_id, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_keys_created ON idempotency_keys (created);
