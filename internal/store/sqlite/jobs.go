package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/gocomfy/gocomfy/internal/store"
)

// finished is the SQL list of terminal states.
const finished = `('completed', 'failed', 'cancelled')`

// jobColumns are the columns scanJob reads, jobs as j and job_payloads as p.
const jobColumns = `j.id, j.number, j.number_is_float, j.status, j.user_id, j.workflow_id,
	j.client_id, j.worker, j.create_time, j.start_time, j.end_time, j.outputs_count, j.status_str,
	p.prompt, p.extra_data, p.sensitive, p.outputs_to_execute, p.outputs, p.meta, p.messages,
	p.execution_error, p.preview_output, p.webhook_url, p.node_timing`

const selectJobs = `SELECT ` + jobColumns + ` FROM jobs j JOIN job_payloads p ON p.id = j.id`

// newSeq is the next place in the listing order (see migrations/001_jobs.sql).
const newSeq = `(SELECT max(seq) FROM jobs) + 1`

func scanJob(row interface{ Scan(...any) error }) (*store.Job, error) {
	var j store.Job
	var outputs []byte
	err := row.Scan(&j.ID, &j.Number, &j.NumberIsFloat, &j.Status, &j.UserID, &j.WorkflowID,
		&j.ClientID, &j.Worker, &j.CreateTime, &j.StartTime, &j.EndTime, &j.OutputsCount, &j.StatusStr,
		(*[]byte)(&j.Prompt), (*[]byte)(&j.ExtraData), (*[]byte)(&j.Sensitive), &outputs,
		(*[]byte)(&j.Outputs), (*[]byte)(&j.Meta), (*[]byte)(&j.Messages),
		(*[]byte)(&j.ExecutionError), (*[]byte)(&j.PreviewOutput), &j.WebhookURL, (*[]byte)(&j.NodeTiming))
	if err != nil {
		return nil, err
	}
	if outputs != nil {
		if err := json.Unmarshal(outputs, &j.OutputsToExecute); err != nil {
			return nil, fmt.Errorf("sqlite: job %q: outputs_to_execute: %w", j.ID, err)
		}
	}
	return &j, nil
}

func (t txn) jobs(query string, args ...any) ([]*store.Job, error) {
	rows, err := t.query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var jobs []*store.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, j)
	}
	return jobs, rows.Err()
}

// column runs a query and returns the first column of its rows; the other
// columns, if any, are skipped.
func column[T any](t txn, query string, args ...any) ([]T, error) {
	rows, err := t.query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []T
	dest := make([]any, len(cols))
	for i := range dest {
		dest[i] = new(any)
	}
	for rows.Next() {
		var v T
		dest[0] = &v
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func (t txn) job(id string) (*store.Job, error) {
	st, err := t.stmt(selectJobs + ` WHERE j.id = ?`)
	if err != nil {
		return nil, err
	}
	j, err := scanJob(st.QueryRowContext(t.ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	return j, err
}

// blob binds raw JSON; empty is stored as NULL so that it reads back nil.
func blob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// Enqueue implements store.Store. Any Status other than "" or Pending is an
// error, as are an empty ID and a NaN Number.
func (db *DB) Enqueue(ctx context.Context, j *store.Job) error {
	switch {
	case j.ID == "":
		return errors.New("sqlite: enqueue: empty job id")
	case math.IsNaN(j.Number):
		return fmt.Errorf("sqlite: enqueue %q: number is NaN", j.ID)
	case j.Status != "" && j.Status != store.Pending:
		return fmt.Errorf("sqlite: enqueue %q: status %q is not pending", j.ID, j.Status)
	}
	var outputs any // NULL for nil
	if j.OutputsToExecute != nil {
		b, err := json.Marshal(j.OutputsToExecute)
		if err != nil {
			return err
		}
		outputs = b
	}
	return db.write(ctx, func(t txn) error {
		// The triggers take an old job of this id out of the queue and the
		// counts, and the foreign key takes its payload with it.
		if _, err := t.exec(`DELETE FROM jobs WHERE id = ?`, j.ID); err != nil {
			return err
		}
		if _, err := t.exec(`INSERT INTO jobs (id, number, number_is_float, status,
			user_id, workflow_id, client_id, worker, create_time, start_time, end_time, outputs_count, status_str)
			VALUES (?, ?, ?, 'pending', ?, ?, ?, '', ?, 0, 0, 0, '')`,
			j.ID, j.Number, j.NumberIsFloat, j.UserID, j.WorkflowID, j.ClientID, j.CreateTime); err != nil {
			return err
		}
		_, err := t.exec(`INSERT INTO job_payloads (id, prompt, extra_data, sensitive, outputs_to_execute)
			VALUES (?, ?, ?, ?, ?)`, j.ID, blob(j.Prompt), blob(j.ExtraData), blob(j.Sensitive), outputs)
		return err
	})
}

// claimSQL starts the first job of the queue, leased to its worker; the
// queue_update trigger takes it out of the queue. A job enqueued after the
// worker read its clock starts at its creation, never before it.
const claimSQL = `UPDATE jobs SET status = 'in_progress', worker = ?1, start_time = max(?2, create_time),
	lease_until = ?2 + ?3, seq = ` + newSeq + `
	WHERE id = (SELECT id FROM queue ORDER BY number, id LIMIT 1) RETURNING id`

// Claim implements store.Store.
func (db *DB) Claim(ctx context.Context, worker string, startTime int64) (*store.Job, error) {
	var job *store.Job
	err := db.write(ctx, func(t txn) error {
		var id string
		err := t.scanRow(claimSQL, []any{worker, startTime, store.Lease}, &id)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNoJob
		}
		if err != nil {
			return err
		}
		job, err = t.job(id)
		return err
	})
	return job, err
}

// Finish implements store.Store. r.Status must be a terminal state.
func (db *DB) Finish(ctx context.Context, worker, id string, r store.Result) error {
	if !r.Status.Finished() {
		return fmt.Errorf("sqlite: finish %q: status %q is not a final state", id, r.Status)
	}
	return db.write(ctx, func(t txn) error { return t.finish(worker, id, r) })
}

func (t txn) finish(worker, id string, r store.Result) error {
	n, err := t.exec(`UPDATE jobs SET status = ?, end_time = ?, outputs_count = ?, status_str = ?,
		lease_until = 0, seq = `+newSeq+` WHERE id = ? AND status = 'in_progress' AND worker = ?`,
		r.Status, r.EndTime, r.OutputsCount, r.StatusStr, id, worker)
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	_, err = t.exec(`UPDATE job_payloads SET outputs = ?, meta = ?, messages = ?,
		execution_error = ?, preview_output = ? WHERE id = ?`,
		blob(r.Outputs), blob(r.Meta), blob(r.Messages), blob(r.ExecutionError), blob(r.PreviewOutput), id)
	return err
}

// RequeueRunning implements store.Store: worker's running jobs are
// finished in claim order, so they join the history in that order.
func (db *DB) RequeueRunning(ctx context.Context, worker string, r store.Result) (int, error) {
	if !r.Status.Finished() {
		return 0, fmt.Errorf("sqlite: requeue running: status %q is not a final state", r.Status)
	}
	var n int
	err := db.write(ctx, func(t txn) error {
		ids, err := column[string](t, `SELECT id FROM jobs WHERE status = 'in_progress' AND worker = ? ORDER BY seq`, worker)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := t.finish(worker, id, r); err != nil {
				return err
			}
		}
		n = len(ids)
		return nil
	})
	return n, err
}

// Heartbeat implements store.Store.
func (db *DB) Heartbeat(ctx context.Context, worker string, until int64) (int, error) {
	return db.exec(ctx, `UPDATE jobs SET lease_until = max(lease_until, ?)
		WHERE status = 'in_progress' AND worker = ?`, until, worker)
}

// RequeueExpired implements store.Store. A write transaction holds
// SQLite's one write lock, so each job is taken back once.
func (db *DB) RequeueExpired(ctx context.Context, now int64, r *store.Result) ([]string, error) {
	if r != nil && !r.Status.Finished() {
		return nil, fmt.Errorf("sqlite: requeue expired: status %q is not a final state", r.Status)
	}
	var ids []string
	err := db.write(ctx, func(t txn) error {
		// The same rows, in the same order: the transaction holds the
		// write lock.
		const expired = ` FROM jobs WHERE status = 'in_progress' AND lease_until < ? ORDER BY seq`
		var err error
		if ids, err = column[string](t, `SELECT id`+expired, now); err != nil || len(ids) == 0 {
			return err
		}
		if r == nil { // the queue_requeue trigger puts them back in the queue
			list, err := json.Marshal(ids)
			if err != nil {
				return err
			}
			_, err = t.exec(`UPDATE jobs SET status = 'pending', worker = '', start_time = 0, lease_until = 0
				WHERE id IN (SELECT value FROM json_each(?))`, list)
			return err
		}
		workers, err := column[string](t, `SELECT worker`+expired, now)
		if err != nil {
			return err
		}
		for i, id := range ids {
			if err := t.finish(workers[i], id, *r); err != nil {
				return err
			}
		}
		return nil
	})
	return ids, err
}

// NextNumber implements store.Store with a counter in memory, as
// ComfyUI's: one process owns a SQLite store. The first call starts it
// after the highest pending number (0 at least).
func (db *DB) NextNumber(ctx context.Context) (float64, error) {
	db.numberMu.Lock()
	defer db.numberMu.Unlock()
	if !db.numberReady {
		var highest sql.NullFloat64
		err := db.read(ctx, func(t txn) error {
			return t.scanRow(`SELECT max(number) FROM queue`, nil, &highest)
		})
		if err != nil {
			return 0, err
		}
		if highest.Valid && highest.Float64 >= 0 {
			db.nextNumber = math.Floor(highest.Float64) + 1
		}
		db.numberReady = true
	}
	n := db.nextNumber
	db.nextNumber++
	return n, nil
}

const queuePendingSQL = `SELECT ` + jobColumns + ` FROM queue q
	JOIN jobs j ON j.id = q.id JOIN job_payloads p ON p.id = q.id ORDER BY q.number, q.id`

// Queue implements store.Store.
func (db *DB) Queue(ctx context.Context) (running, pending []*store.Job, err error) {
	err = db.read(ctx, func(t txn) error {
		running, err = t.jobs(selectJobs + ` WHERE j.status = 'in_progress' ORDER BY j.seq`)
		if err != nil {
			return err
		}
		pending, err = t.jobs(queuePendingSQL)
		return err
	})
	return running, pending, err
}

// QueueLen implements store.Store.
func (db *DB) QueueLen(ctx context.Context) (pending, running int, err error) {
	err = db.read(ctx, func(t txn) error {
		return t.scanRow(`SELECT
			coalesce(sum(n) FILTER (WHERE status = 'pending'), 0),
			coalesce(sum(n) FILTER (WHERE status = 'in_progress'), 0)
			FROM job_counts WHERE status IN ('pending', 'in_progress')`, nil, &pending, &running)
	})
	return pending, running, err
}

const deletePendingSQL = `DELETE FROM jobs WHERE id = ? AND +status = 'pending'`

// DeletePending implements store.Store; the removed ids are in the order
// given, each once.
func (db *DB) DeletePending(ctx context.Context, ids []string) ([]string, error) {
	var removed []string
	err := db.write(ctx, func(t txn) error {
		for _, id := range ids {
			n, err := t.exec(deletePendingSQL, id)
			if err != nil {
				return err
			}
			if n > 0 {
				removed = append(removed, id)
			}
		}
		return nil
	})
	return removed, err
}

// ClearPending implements store.Store.
func (db *DB) ClearPending(ctx context.Context) (int, error) {
	return db.exec(ctx, `DELETE FROM jobs WHERE status = 'pending'`)
}

// exec runs one write statement in a transaction of its own and returns
// the number of rows it changed.
func (db *DB) exec(ctx context.Context, query string, args ...any) (int, error) {
	var n int
	err := db.write(ctx, func(t txn) (err error) {
		n, err = t.exec(query, args...)
		return err
	})
	return n, err
}

// Get implements store.Store.
func (db *DB) Get(ctx context.Context, id string) (*store.Job, error) {
	var job *store.Job
	err := db.read(ctx, func(t txn) (err error) {
		job, err = t.job(id)
		return err
	})
	return job, err
}

// History implements store.Store.
func (db *DB) History(ctx context.Context, q store.HistoryQuery) ([]*store.Job, error) {
	query, args, newest := historyQuery(q)
	var jobs []*store.Job
	err := db.read(ctx, func(t txn) (err error) {
		jobs, err = t.jobs(query, args...)
		return err
	})
	if newest {
		slices.Reverse(jobs)
	}
	return jobs, err
}

// historyQuery returns the query of a history window; newest means that it
// returns the window newest first. The status test has a unary + so that it
// can't be answered from a status index: the rows must come in seq order.
func historyQuery(q store.HistoryQuery) (query string, args []any, newest bool) {
	query = selectJobs + ` WHERE +j.status IN ` + finished
	if q.UserID != nil {
		query += ` AND j.user_id = ?`
		args = append(args, *q.UserID)
	}
	if q.Offset < 0 && q.MaxItems >= 0 {
		return query + ` ORDER BY j.seq DESC LIMIT ?`, append(args, q.MaxItems), true
	}
	return query + ` ORDER BY j.seq LIMIT ? OFFSET ?`, append(args, max(q.MaxItems, -1), max(q.Offset, 0)), false
}

// deleteHistorySQL has +status so that the rows are found by id, not by
// walking the status index.
const deleteHistorySQL = `DELETE FROM jobs
	WHERE id IN (SELECT value FROM json_each(?)) AND +status IN ` + finished

// DeleteHistory implements store.Store.
func (db *DB) DeleteHistory(ctx context.Context, ids []string) error {
	list, err := json.Marshal(ids)
	if err != nil {
		return err
	}
	_, err = db.exec(ctx, deleteHistorySQL, list)
	return err
}

// ClearHistory implements store.Store.
func (db *DB) ClearHistory(ctx context.Context) error {
	_, err := db.exec(ctx, `DELETE FROM jobs WHERE status IN `+finished)
	return err
}

// TrimHistory implements store.Store; keep < 0 counts as 0.
func (db *DB) TrimHistory(ctx context.Context, keep int) (int, error) {
	keep = max(keep, 0)
	var n int
	err := db.write(ctx, func(t txn) error {
		var have int
		if err := t.scanRow(`SELECT coalesce(sum(n), 0) FROM job_counts WHERE status IN `+finished, nil, &have); err != nil {
			return err
		}
		if have <= keep {
			return nil
		}
		var err error
		n, err = t.exec(`DELETE FROM jobs WHERE seq IN
			(SELECT seq FROM jobs WHERE +status IN `+finished+` ORDER BY seq LIMIT ?)`, have-keep)
		return err
	})
	return n, err
}

// Jobs implements store.Store.
func (db *DB) Jobs(ctx context.Context, q store.JobQuery) ([]*store.Job, int, error) {
	l, err := newListing(q)
	if err != nil {
		return nil, 0, err
	}
	var jobs []*store.Job
	var total int
	err = db.read(ctx, func(t txn) error {
		seqs, err := column[int64](t, l.page, l.pageArgs...)
		if err != nil {
			return err
		}
		if len(seqs) > 0 {
			list, err := json.Marshal(seqs)
			if err != nil {
				return err
			}
			if jobs, err = t.jobs(jobsBySeqSQL, list); err != nil {
				return err
			}
		}
		return t.scanRow(l.total, l.totalArgs, &total)
	})
	if err != nil {
		return nil, 0, err
	}
	return jobs, total, nil
}

// jobsBySeqSQL loads the jobs whose seqs are in a JSON array, in its order.
const jobsBySeqSQL = `SELECT ` + jobColumns + ` FROM json_each(?) e
	JOIN jobs j ON j.seq = e.value JOIN job_payloads p ON p.id = j.id ORDER BY e.key`

// listing is the SQL of a job listing: the seqs of the page, in order, and
// the total.
type listing struct {
	page, total         string
	pageArgs, totalArgs []any
}

// allStatuses is the listing order of the job states.
var allStatuses = []store.Status{store.InProgress, store.Pending, store.Completed, store.Failed, store.Cancelled}

// newListing builds the listing of q.
//
// The page is one UNION ALL with an arm per status, which SQLite merges in
// order, each arm walking an index on (status, key) and, for finished jobs,
// reading nothing but that index (a deep OFFSET skips index entries, not
// rows). Ties are broken by
// three columns that put running jobs (in claim order) before pending ones
// (in run order) before finished ones (in finish order), NULL sorting first:
//
//	running   NULL  NULL    seq
//	pending   NULL  number  id
//	finished  seq   NULL    NULL
//
// For the finished arms, which hold nearly every row, "key DESC, seq" is
// exactly the order of the (status, key DESC) index (the rowid ends every
// index and is unique), so the default listing needs no sort step; the small
// running and pending arms sort their ties.
//
// The total comes from the job_counts counters, unless a workflow is asked
// for, which they don't know about.
func newListing(q store.JobQuery) (*listing, error) {
	statuses := allStatuses
	if len(q.Statuses) > 0 {
		for _, s := range q.Statuses {
			if !s.Valid() {
				return nil, fmt.Errorf("sqlite: jobs: invalid status %q", s)
			}
		}
		statuses = slices.DeleteFunc(slices.Clone(allStatuses), func(s store.Status) bool {
			return !slices.Contains(q.Statuses, s)
		})
	}
	var key, index string
	switch q.SortBy {
	case "", store.SortCreatedAt:
		key, index = "create_time", "created"
	case store.SortExecutionDuration:
		key, index = "duration", "duration"
	default:
		return nil, fmt.Errorf("sqlite: jobs: invalid sort key %q", q.SortBy)
	}
	dir := "DESC"
	if q.Ascending {
		dir = "ASC"
	}

	// The index is pinned: left alone, the planner may take any index with
	// status in it and sort all of that status's jobs.
	index = "jobs_status_" + index
	var filter string
	var filterArgs []any
	if q.UserID != nil {
		index = strings.Replace(index, "jobs_", "jobs_user_", 1)
		filter += ` AND user_id = ?`
		filterArgs = append(filterArgs, *q.UserID)
	}
	if q.WorkflowID != "" {
		index = "jobs_workflow" // the narrowest filter
		filter += ` AND workflow_id = ?`
		filterArgs = append(filterArgs, q.WorkflowID)
	}

	var l listing
	arms := make([]string, len(statuses))
	for i, s := range statuses {
		ties := "seq, NULL, NULL"
		switch s {
		case store.InProgress:
			ties = "NULL, NULL, seq"
		case store.Pending:
			ties = "NULL, number, id"
		}
		arms[i] = `SELECT seq, ` + key + `, ` + ties + ` FROM jobs INDEXED BY ` + index + ` WHERE status = ?` + filter
		l.pageArgs = append(append(l.pageArgs, s), filterArgs...)
	}
	l.page = strings.Join(arms, "\nUNION ALL ") + `
		ORDER BY 2 ` + dir + `, 3, 4, 5 LIMIT ? OFFSET ?`
	limit := q.Limit
	if limit <= 0 {
		limit = -1
	}
	l.pageArgs = append(l.pageArgs, limit, max(q.Offset, 0))

	in := `status IN (?` + strings.Repeat(`, ?`, len(statuses)-1) + `)`
	l.total = `SELECT coalesce(sum(n), 0) FROM job_counts WHERE ` + in + filter
	if q.WorkflowID != "" {
		l.total = `SELECT count(*) FROM jobs INDEXED BY jobs_workflow WHERE ` + in + filter
	}
	for _, s := range statuses {
		l.totalArgs = append(l.totalArgs, s)
	}
	l.totalArgs = append(l.totalArgs, filterArgs...)
	return &l, nil
}
