-- Jobs: the queue and the history (store.Job), in one table.
--
-- seq is the row's place in the listing order. It is drawn anew from
-- jobs_seq when a job is enqueued, claimed and finished, so running jobs are
-- in claim order and finished jobs in finish order (ComfyUI's history dict)
-- when sorted by seq. Pending jobs run in (number, id) order; id sorts by
-- code point as Python's str comparison does, hence COLLATE "C".
CREATE SEQUENCE jobs_seq;

CREATE TABLE jobs (
    id                 text COLLATE "C" PRIMARY KEY,
    seq                bigint           NOT NULL DEFAULT nextval('jobs_seq'),
    number             double precision NOT NULL,
    number_is_float    boolean          NOT NULL,
    status             text             NOT NULL,
    user_id            text             NOT NULL,
    workflow_id        text             NOT NULL,
    client_id          text             NOT NULL,
    worker             text             NOT NULL,
    create_time        bigint           NOT NULL,
    start_time         bigint           NOT NULL,
    end_time           bigint           NOT NULL,
    duration           bigint GENERATED ALWAYS AS
        (CASE WHEN start_time <> 0 AND end_time <> 0 THEN end_time - start_time ELSE 0 END) STORED,
    outputs_count      integer          NOT NULL,
    status_str         text             NOT NULL,
    -- Raw JSON exactly as served (bytea, not jsonb, which would reorder
    -- keys and respell numbers); NULL when absent.
    prompt             bytea,
    extra_data         bytea,
    sensitive          bytea,
    outputs_to_execute text[],
    outputs            bytea,
    meta               bytea,
    messages           bytea,
    execution_error    bytea,
    preview_output     bytea
);

-- The queue: Claim takes the first row of this index with FOR UPDATE SKIP
-- LOCKED, so several instances claim different jobs without waiting.
CREATE INDEX jobs_pending ON jobs (number, id) WHERE status = 'pending';

-- The history in finish order, whole and per user (/history, TrimHistory).
CREATE INDEX jobs_history ON jobs (seq)
    WHERE status IN ('completed', 'failed', 'cancelled');
CREATE INDEX jobs_user_history ON jobs (user_id, seq)
    WHERE status IN ('completed', 'failed', 'cancelled');

-- /api/jobs. An unfiltered page walks the plain index of its sort key and
-- sorts only the ties: with (status, key) alone PostgreSQL 15 bitmap-scans
-- every status and sorts them all (first page of 1M jobs, created_at: 41 ms
-- instead of 0.5 ms; execution_duration: 540 ms). The others serve a
-- status, user or workflow filter.
CREATE INDEX jobs_created ON jobs (create_time DESC);
CREATE INDEX jobs_duration ON jobs (duration DESC);
CREATE INDEX jobs_status_created ON jobs (status, create_time DESC);
CREATE INDEX jobs_status_duration ON jobs (status, duration DESC);
CREATE INDEX jobs_user_status_created ON jobs (user_id, status, create_time DESC);
CREATE INDEX jobs_user_status_duration ON jobs (user_id, status, duration DESC);
CREATE INDEX jobs_workflow ON jobs (workflow_id, status, create_time DESC);

-- Jobs per (user, status), kept by statement triggers in the transaction
-- of every change, so /api/jobs totals and QueueLen need no count(*) over
-- the history. The deltas are applied in (user_id, status) order, so two
-- transactions lock the counter rows in the same order and can't deadlock
-- on them.
CREATE TABLE job_counts (
    user_id text   NOT NULL,
    status  text   NOT NULL,
    n       bigint NOT NULL,
    PRIMARY KEY (user_id, status)
);

CREATE FUNCTION job_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Each branch names only the transition tables its trigger defines.
    IF TG_OP = 'INSERT' THEN
        INSERT INTO job_counts AS c (user_id, status, n)
            SELECT user_id, status, count(*) FROM new_rows GROUP BY 1, 2 ORDER BY 1, 2
            ON CONFLICT (user_id, status) DO UPDATE SET n = c.n + excluded.n;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO job_counts AS c (user_id, status, n)
            SELECT user_id, status, -count(*) FROM old_rows GROUP BY 1, 2 ORDER BY 1, 2
            ON CONFLICT (user_id, status) DO UPDATE SET n = c.n + excluded.n;
    ELSE
        INSERT INTO job_counts AS c (user_id, status, n)
            SELECT user_id, status, sum(d) FROM (
                SELECT user_id, status, 1 AS d FROM new_rows
                UNION ALL
                SELECT user_id, status, -1 FROM old_rows) AS changes
            GROUP BY 1, 2 HAVING sum(d) <> 0 ORDER BY 1, 2
            ON CONFLICT (user_id, status) DO UPDATE SET n = c.n + excluded.n;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER job_counts_insert AFTER INSERT ON jobs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION job_counts_apply();
CREATE TRIGGER job_counts_delete AFTER DELETE ON jobs
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION job_counts_apply();
CREATE TRIGGER job_counts_update AFTER UPDATE ON jobs
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION job_counts_apply();
