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
	p.execution_error, p.preview_output`

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
		(*[]byte)(&j.ExecutionError), (*[]byte)(&j.PreviewOutput))
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

func queryJobs(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]*store.Job, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
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

func getJob(ctx context.Context, tx *sql.Tx, id string) (*store.Job, error) {
	j, err := scanJob(tx.QueryRowContext(ctx, selectJobs+` WHERE j.id = ?`, id))
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

// jsonArray binds a list as a JSON array, nil as NULL.
func jsonArray[T any](list []T) (any, error) {
	if list == nil {
		return nil, nil
	}
	return json.Marshal(list)
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
	outputs, err := jsonArray(j.OutputsToExecute)
	if err != nil {
		return err
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		// The triggers take the old job out of the queue and the counts, and
		// the foreign key takes its payload with it.
		if _, err := tx.ExecContext(ctx, `DELETE FROM jobs WHERE id = ?`, j.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO jobs (id, number, number_is_float, status,
			user_id, workflow_id, client_id, worker, create_time, start_time, end_time, outputs_count, status_str)
			VALUES (?, ?, ?, 'pending', ?, ?, ?, '', ?, 0, 0, 0, '')`,
			j.ID, j.Number, j.NumberIsFloat, j.UserID, j.WorkflowID, j.ClientID, j.CreateTime); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO job_payloads (id, prompt, extra_data, sensitive, outputs_to_execute)
			VALUES (?, ?, ?, ?, ?)`, j.ID, blob(j.Prompt), blob(j.ExtraData), blob(j.Sensitive), outputs)
		return err
	})
}

// claimSQL starts the first job of the queue; the queue_update trigger takes
// it out of the queue.
const claimSQL = `UPDATE jobs SET status = 'in_progress', worker = ?, start_time = ?, seq = ` + newSeq + `
	WHERE id = (SELECT id FROM queue ORDER BY number, id LIMIT 1) RETURNING id`

// Claim implements store.Store.
func (db *DB) Claim(ctx context.Context, worker string, startTime int64) (*store.Job, error) {
	var job *store.Job
	err := db.write(ctx, func(tx *sql.Tx) error {
		var id string
		err := tx.QueryRowContext(ctx, claimSQL, worker, startTime).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNoJob
		}
		if err != nil {
			return err
		}
		job, err = getJob(ctx, tx, id)
		return err
	})
	return job, err
}

// Finish implements store.Store. r.Status must be a terminal state.
func (db *DB) Finish(ctx context.Context, id string, r store.Result) error {
	if !r.Status.Finished() {
		return fmt.Errorf("sqlite: finish %q: status %q is not a final state", id, r.Status)
	}
	return db.write(ctx, func(tx *sql.Tx) error { return finish(ctx, tx, id, r) })
}

func finish(ctx context.Context, tx *sql.Tx, id string, r store.Result) error {
	res, err := tx.ExecContext(ctx, `UPDATE jobs SET status = ?, end_time = ?, outputs_count = ?,
		status_str = ?, seq = `+newSeq+` WHERE id = ? AND status = 'in_progress'`,
		r.Status, r.EndTime, r.OutputsCount, r.StatusStr, id)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return store.ErrNotFound
	}
	_, err = tx.ExecContext(ctx, `UPDATE job_payloads SET outputs = ?, meta = ?, messages = ?,
		execution_error = ?, preview_output = ? WHERE id = ?`,
		blob(r.Outputs), blob(r.Meta), blob(r.Messages), blob(r.ExecutionError), blob(r.PreviewOutput), id)
	return err
}

// RequeueRunning implements store.Store: the running jobs are finished in
// claim order, so they join the history in that order.
func (db *DB) RequeueRunning(ctx context.Context, r store.Result) (int, error) {
	if !r.Status.Finished() {
		return 0, fmt.Errorf("sqlite: requeue running: status %q is not a final state", r.Status)
	}
	var n int
	err := db.write(ctx, func(tx *sql.Tx) error {
		ids, err := queryStrings(ctx, tx, `SELECT id FROM jobs WHERE status = 'in_progress' ORDER BY seq`)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := finish(ctx, tx, id, r); err != nil {
				return err
			}
		}
		n = len(ids)
		return nil
	})
	return n, err
}

func queryStrings(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// Queue implements store.Store.
func (db *DB) Queue(ctx context.Context) (running, pending []*store.Job, err error) {
	err = db.read(ctx, func(tx *sql.Tx) error {
		running, err = queryJobs(ctx, tx, selectJobs+` WHERE j.status = 'in_progress' ORDER BY j.seq`)
		if err != nil {
			return err
		}
		pending, err = queryJobs(ctx, tx, `SELECT `+jobColumns+` FROM queue q
			JOIN jobs j ON j.id = q.id JOIN job_payloads p ON p.id = q.id ORDER BY q.number, q.id`)
		return err
	})
	return running, pending, err
}

// QueueLen implements store.Store.
func (db *DB) QueueLen(ctx context.Context) (pending, running int, err error) {
	err = db.r.QueryRowContext(ctx, `SELECT
		coalesce(sum(n) FILTER (WHERE status = 'pending'), 0),
		coalesce(sum(n) FILTER (WHERE status = 'in_progress'), 0)
		FROM job_counts WHERE status IN ('pending', 'in_progress')`).Scan(&pending, &running)
	return pending, running, err
}

// DeletePending implements store.Store; the removed ids are in the order
// given, each once.
func (db *DB) DeletePending(ctx context.Context, ids []string) ([]string, error) {
	var removed []string
	err := db.write(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			res, err := tx.ExecContext(ctx, `DELETE FROM jobs WHERE id = ? AND status = 'pending'`, id)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n > 0 {
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

// exec runs one write statement and returns the number of rows it changed.
func (db *DB) exec(ctx context.Context, query string, args ...any) (int, error) {
	res, err := db.w.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// Get implements store.Store.
func (db *DB) Get(ctx context.Context, id string) (*store.Job, error) {
	var job *store.Job
	err := db.read(ctx, func(tx *sql.Tx) (err error) {
		job, err = getJob(ctx, tx, id)
		return err
	})
	return job, err
}

// History implements store.Store. The status test has a unary + so that it
// can't be answered from a status index: the rows must come in seq order.
func (db *DB) History(ctx context.Context, q store.HistoryQuery) ([]*store.Job, error) {
	query := selectJobs + ` WHERE +j.status IN ` + finished
	var args []any
	if q.UserID != nil {
		query += ` AND j.user_id = ?`
		args = append(args, *q.UserID)
	}
	newest := q.Offset < 0 && q.MaxItems >= 0
	if newest {
		query += ` ORDER BY j.seq DESC LIMIT ?`
		args = append(args, q.MaxItems)
	} else {
		query += ` ORDER BY j.seq LIMIT ? OFFSET ?`
		args = append(args, max(q.MaxItems, -1), max(q.Offset, 0))
	}
	var jobs []*store.Job
	err := db.read(ctx, func(tx *sql.Tx) (err error) {
		jobs, err = queryJobs(ctx, tx, query, args...)
		return err
	})
	if newest {
		slices.Reverse(jobs)
	}
	return jobs, err
}

// DeleteHistory implements store.Store.
func (db *DB) DeleteHistory(ctx context.Context, ids []string) error {
	list, err := json.Marshal(ids)
	if err != nil {
		return err
	}
	_, err = db.exec(ctx, `DELETE FROM jobs
		WHERE id IN (SELECT value FROM json_each(?)) AND status IN `+finished, list)
	return err
}

// ClearHistory implements store.Store.
func (db *DB) ClearHistory(ctx context.Context) error {
	_, err := db.exec(ctx, `DELETE FROM jobs WHERE status IN `+finished)
	return err
}

// TrimHistory implements store.Store; keep < 0 counts as 0.
func (db *DB) TrimHistory(ctx context.Context, keep int) (int, error) {
	var n int
	err := db.write(ctx, func(tx *sql.Tx) error {
		var have int
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(sum(n), 0) FROM job_counts
			WHERE status IN `+finished).Scan(&have); err != nil {
			return err
		}
		if have <= max(keep, 0) {
			n = 0
			return nil
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM jobs WHERE seq IN
			(SELECT seq FROM jobs WHERE +status IN `+finished+` ORDER BY seq LIMIT ?)`, have-max(keep, 0))
		if err != nil {
			return err
		}
		n64, err := res.RowsAffected()
		n = int(n64)
		return err
	})
	return n, err
}

// allStatuses is the listing order of the job states.
var allStatuses = []store.Status{store.InProgress, store.Pending, store.Completed, store.Failed, store.Cancelled}

// Jobs implements store.Store.
//
// The listing is one UNION ALL with an arm per status, which SQLite merges
// in order, each arm walking an index on (status, key). The ties are broken
// by three columns that put running jobs (in claim order) before pending ones
// (in run order) before finished ones (in finish order), NULL sorting first:
//
//	running   NULL  NULL    seq
//	pending   NULL  number  id
//	finished  seq   NULL    NULL
//
// For the finished arms, which hold nearly every row, "key, seq" is exactly
// the index order (the rowid ends every index and is unique), so those arms
// need no sort step at all; the small running and pending arms sort their
// ties.
func (db *DB) Jobs(ctx context.Context, q store.JobQuery) ([]*store.Job, int, error) {
	statuses := allStatuses
	if len(q.Statuses) > 0 {
		for _, s := range q.Statuses {
			if !s.Valid() {
				return nil, 0, fmt.Errorf("sqlite: jobs: invalid status %q", s)
			}
		}
		statuses = slices.DeleteFunc(slices.Clone(allStatuses), func(s store.Status) bool {
			return !slices.Contains(q.Statuses, s)
		})
	}
	var key string
	switch q.SortBy {
	case "", store.SortCreatedAt:
		key = "create_time"
	case store.SortExecutionDuration:
		key = "duration"
	default:
		return nil, 0, fmt.Errorf("sqlite: jobs: invalid sort key %q", q.SortBy)
	}
	dir := "DESC"
	if q.Ascending {
		dir = "ASC"
	}

	filter, filterArgs := "", []any(nil)
	if q.UserID != nil {
		filter += ` AND user_id = ?`
		filterArgs = append(filterArgs, *q.UserID)
	}
	if q.WorkflowID != "" {
		filter += ` AND workflow_id = ?`
		filterArgs = append(filterArgs, q.WorkflowID)
	}
	arms := make([]string, len(statuses))
	var args []any
	for i, s := range statuses {
		ties := "seq, NULL, NULL"
		switch s {
		case store.InProgress:
			ties = "NULL, NULL, seq"
		case store.Pending:
			ties = "NULL, number, id"
		}
		arms[i] = `SELECT id, ` + key + `, ` + ties + ` FROM jobs WHERE status = ?` + filter
		args = append(append(args, s), filterArgs...)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = -1
	}
	page := strings.Join(arms, " UNION ALL ") + ` ORDER BY 2 ` + dir + `, 3, 4, 5 LIMIT ? OFFSET ?`
	args = append(args, limit, max(q.Offset, 0))

	total, totalArgs := countQuery(statuses, q)
	var jobs []*store.Job
	var n int
	err := db.read(ctx, func(tx *sql.Tx) error {
		ids, err := pageIDs(ctx, tx, page, args...)
		if err != nil {
			return err
		}
		if jobs, err = jobsByID(ctx, tx, ids); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, total, totalArgs...).Scan(&n)
	})
	if err != nil {
		return nil, 0, err
	}
	return jobs, n, nil
}

// pageIDs returns the first column of the listing query; the others are
// only its sort keys.
func pageIDs(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		var key, tie1, tie2, tie3 any
		if err := rows.Scan(&id, &key, &tie1, &tie2, &tie3); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// countQuery returns the query for the total of a listing: from the
// counters unless a workflow is asked for, which they don't know about.
func countQuery(statuses []store.Status, q store.JobQuery) (string, []any) {
	args := make([]any, 0, len(statuses)+2)
	for _, s := range statuses {
		args = append(args, s)
	}
	in := `status IN (?` + strings.Repeat(`, ?`, len(statuses)-1) + `)`
	query := `SELECT coalesce(sum(n), 0) FROM job_counts WHERE ` + in
	if q.WorkflowID != "" {
		query = `SELECT count(*) FROM jobs WHERE ` + in + ` AND workflow_id = ?`
		args = append(args, q.WorkflowID)
	}
	if q.UserID != nil {
		query += ` AND user_id = ?`
		args = append(args, *q.UserID)
	}
	return query, args
}

// jobsByID loads the jobs with the given ids, in that order.
func jobsByID(ctx context.Context, tx *sql.Tx, ids []string) ([]*store.Job, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	found, err := queryJobs(ctx, tx, selectJobs+` WHERE j.id IN (SELECT value FROM json_each(?))`, list)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*store.Job, len(found))
	for _, j := range found {
		byID[j.ID] = j
	}
	jobs := make([]*store.Job, 0, len(ids))
	for _, id := range ids {
		if j := byID[id]; j != nil {
			jobs = append(jobs, j)
		}
	}
	return jobs, nil
}
