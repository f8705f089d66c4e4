-- Jobs: the queue and the history (store.Job).
--
-- jobs is narrow so that listing a page stays fast with a million rows; the
-- big JSON payloads live in job_payloads. seq is the row's place in the
-- listing order: it is assigned anew when a job is claimed and again when it
-- finishes, so running jobs are in claim order and finished jobs in finish
-- order (ComfyUI's history dict) when sorted by seq. That lets an index on
-- (status, key) deliver "key, then list order" with no sort step: the rowid is
-- every index's last column.
CREATE TABLE jobs (
    seq             INTEGER PRIMARY KEY,
    id              TEXT    NOT NULL UNIQUE,
    number                  NOT NULL, -- a float64; no type affinity, so that -0.0 keeps its sign
    number_is_float INTEGER NOT NULL,
    status          TEXT    NOT NULL,
    user_id         TEXT    NOT NULL,
    workflow_id     TEXT    NOT NULL,
    client_id       TEXT    NOT NULL,
    worker          TEXT    NOT NULL,
    create_time     INTEGER NOT NULL,
    start_time      INTEGER NOT NULL,
    end_time        INTEGER NOT NULL,
    duration        INTEGER GENERATED ALWAYS AS
        (CASE WHEN start_time <> 0 AND end_time <> 0 THEN end_time - start_time ELSE 0 END) VIRTUAL,
    outputs_count   INTEGER NOT NULL,
    status_str      TEXT    NOT NULL
);

-- One index per /api/jobs filter shape; each arm of the listing query has an
-- equality on status (and user or workflow), then walks the key in order.
CREATE INDEX jobs_status_created ON jobs (status, create_time DESC);
CREATE INDEX jobs_status_duration ON jobs (status, duration DESC);
CREATE INDEX jobs_user_status_created ON jobs (user_id, status, create_time DESC);
CREATE INDEX jobs_user_status_duration ON jobs (user_id, status, duration DESC);
CREATE INDEX jobs_workflow ON jobs (workflow_id, status, create_time DESC);
-- A user's history in seq order (/history for one user).
CREATE INDEX jobs_user ON jobs (user_id);

-- Raw JSON exactly as served; NULL when absent.
CREATE TABLE job_payloads (
    id                 TEXT NOT NULL UNIQUE REFERENCES jobs (id) ON DELETE CASCADE,
    prompt             BLOB,
    extra_data         BLOB,
    sensitive          BLOB,
    outputs_to_execute BLOB,
    outputs            BLOB,
    meta               BLOB,
    messages           BLOB,
    execution_error    BLOB,
    preview_output     BLOB
);

-- The pending jobs in run order (ComfyUI's heap: number, then prompt_id). A
-- small table of its own, so Claim and /queue never depend on the planner
-- choosing a partial index over the million-row jobs table. The triggers
-- keep it equal to the jobs whose status is 'pending'.
CREATE TABLE queue (
    number REAL NOT NULL,
    id     TEXT NOT NULL,
    PRIMARY KEY (number, id)
) WITHOUT ROWID;

CREATE TRIGGER queue_insert AFTER INSERT ON jobs WHEN NEW.status = 'pending' BEGIN
    INSERT INTO queue (number, id) VALUES (NEW.number, NEW.id);
END;
CREATE TRIGGER queue_delete AFTER DELETE ON jobs WHEN OLD.status = 'pending' BEGIN
    DELETE FROM queue WHERE number = OLD.number AND id = OLD.id;
END;
CREATE TRIGGER queue_update AFTER UPDATE OF status ON jobs
WHEN OLD.status = 'pending' AND NEW.status <> 'pending' BEGIN
    DELETE FROM queue WHERE number = OLD.number AND id = OLD.id;
END;

-- Jobs per (user, status), kept in the same transaction as every change, so
-- that /api/jobs totals and QueueLen need no count(*) over the history.
CREATE TABLE job_counts (
    user_id TEXT    NOT NULL,
    status  TEXT    NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (user_id, status)
) WITHOUT ROWID;

CREATE TRIGGER job_counts_insert AFTER INSERT ON jobs BEGIN
    INSERT INTO job_counts (user_id, status, n) VALUES (NEW.user_id, NEW.status, 1)
        ON CONFLICT (user_id, status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER job_counts_delete AFTER DELETE ON jobs BEGIN
    UPDATE job_counts SET n = n - 1 WHERE user_id = OLD.user_id AND status = OLD.status;
END;
CREATE TRIGGER job_counts_update AFTER UPDATE OF status, user_id ON jobs
WHEN OLD.status <> NEW.status OR OLD.user_id <> NEW.user_id BEGIN
    UPDATE job_counts SET n = n - 1 WHERE user_id = OLD.user_id AND status = OLD.status;
    INSERT INTO job_counts (user_id, status, n) VALUES (NEW.user_id, NEW.status, 1)
        ON CONFLICT (user_id, status) DO UPDATE SET n = n + 1;
END;
