package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gocomfy/gocomfy/internal/store"
)

// finished is the SQL list of terminal states; the history's partial
// indexes have exactly this condition.
const finished = `('completed', 'failed', 'cancelled')`

// jobColumns are the columns scanJob reads.
const jobColumns = `id, number, number_is_float, status, user_id, workflow_id, client_id, worker,
	create_time, start_time, end_time, outputs_count, status_str, prompt, extra_data, sensitive,
	outputs_to_execute, outputs, meta, messages, execution_error, preview_output, webhook_url, node_timing`

const selectJobs = `SELECT ` + jobColumns + ` FROM jobs`

func scanJob(row pgx.Row) (*store.Job, error) {
	var j store.Job
	err := row.Scan(&j.ID, &j.Number, &j.NumberIsFloat, &j.Status, &j.UserID, &j.WorkflowID,
		&j.ClientID, &j.Worker, &j.CreateTime, &j.StartTime, &j.EndTime, &j.OutputsCount, &j.StatusStr,
		(*[]byte)(&j.Prompt), (*[]byte)(&j.ExtraData), (*[]byte)(&j.Sensitive), &j.OutputsToExecute,
		(*[]byte)(&j.Outputs), (*[]byte)(&j.Meta), (*[]byte)(&j.Messages),
		(*[]byte)(&j.ExecutionError), (*[]byte)(&j.PreviewOutput), &j.WebhookURL, (*[]byte)(&j.NodeTiming))
	if err != nil {
		return nil, err
	}
	return &j, nil
}

// queryJobs runs a query that selects jobColumns.
func queryJobs(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, query string, args ...any) ([]*store.Job, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (*store.Job, error) { return scanJob(row) })
}

// blob binds raw JSON; empty is stored as NULL so that it reads back nil.
func blob(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// enqueueSQL inserts a pending job or, for a known id, replaces the old job
// whatever its state: the row becomes a new pending job with a new seq and
// no history fields, and the statement triggers move it between counters.
const enqueueSQL = `INSERT INTO jobs (id, number, number_is_float, status, user_id, workflow_id,
	client_id, worker, create_time, start_time, end_time, outputs_count, status_str,
	prompt, extra_data, sensitive, outputs_to_execute)
	VALUES ($1, $2, $3, 'pending', $4, $5, $6, '', $7, 0, 0, 0, '', $8, $9, $10, $11)
	ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, number = excluded.number,
	number_is_float = excluded.number_is_float, status = 'pending', user_id = excluded.user_id,
	workflow_id = excluded.workflow_id, client_id = excluded.client_id, worker = '',
	create_time = excluded.create_time, start_time = 0, end_time = 0, lease_until = 0, outputs_count = 0,
	status_str = '', prompt = excluded.prompt, extra_data = excluded.extra_data,
	sensitive = excluded.sensitive, outputs_to_execute = excluded.outputs_to_execute,
	outputs = NULL, meta = NULL, messages = NULL, execution_error = NULL, preview_output = NULL,
	webhook_url = '', node_timing = NULL`

// Enqueue implements store.Store. Any Status other than "" or Pending is an
// error, as are an empty ID and a NaN Number.
func (db *DB) Enqueue(ctx context.Context, j *store.Job) error {
	switch {
	case j.ID == "":
		return errors.New("postgres: enqueue: empty job id")
	case math.IsNaN(j.Number):
		return fmt.Errorf("postgres: enqueue %q: number is NaN", j.ID)
	case j.Status != "" && j.Status != store.Pending:
		return fmt.Errorf("postgres: enqueue %q: status %q is not pending", j.ID, j.Status)
	}
	_, err := db.exec(ctx, enqueueSQL, j.ID, j.Number, j.NumberIsFloat, j.UserID, j.WorkflowID,
		j.ClientID, j.CreateTime, blob(j.Prompt), blob(j.ExtraData), blob(j.Sensitive), j.OutputsToExecute)
	return err
}

// NextNumber implements store.Store with the sequence of
// migrations/006_queue.sql.
func (db *DB) NextNumber(ctx context.Context) (float64, error) {
	var n int64
	err := db.pool.QueryRow(ctx, `SELECT nextval('queue_numbers')`).Scan(&n)
	return float64(n), err
}

// claimSQL starts the first job of the queue, leased to its worker for
// Lease ms from its start. SKIP LOCKED passes over the jobs other claimers
// are taking, and the row lock, taken on the newest version of the row
// with status = 'pending' checked again, is what makes each job start once.
// The worker reads its clock before the claim, so a job enqueued in between
// would seem to start before it was created: its start is its creation.
const claimSQL = `UPDATE jobs SET status = 'in_progress', worker = $1,
	start_time = GREATEST($2::bigint, create_time),
	lease_until = $2::bigint + $3::bigint, seq = nextval('jobs_seq')
	WHERE id = (SELECT id FROM jobs WHERE status = 'pending' ORDER BY number, id
		LIMIT 1 FOR UPDATE SKIP LOCKED)
	RETURNING ` + jobColumns

// Claim implements store.Store.
func (db *DB) Claim(ctx context.Context, worker string, startTime int64) (*store.Job, error) {
	var job *store.Job
	err := retry(func() (err error) {
		job, err = scanJob(db.pool.QueryRow(ctx, claimSQL, worker, startTime, store.Lease))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNoJob
	}
	return job, err
}

// finishSQL records the result of a running job; $1 is its id. Finish
// adds a condition on the worker; finishRunning has locked its rows.
const finishSQL = `UPDATE jobs SET status = $2, end_time = $3, outputs_count = $4, status_str = $5,
	outputs = $6, meta = $7, messages = $8, execution_error = $9, preview_output = $10,
	lease_until = 0, seq = nextval('jobs_seq')
	WHERE id = $1 AND status = 'in_progress'`

func finishArgs(id string, r store.Result) []any {
	return []any{id, r.Status, r.EndTime, r.OutputsCount, r.StatusStr,
		blob(r.Outputs), blob(r.Meta), blob(r.Messages), blob(r.ExecutionError), blob(r.PreviewOutput)}
}

// Finish implements store.Store. r.Status must be a terminal state.
//
// A result lost would make the job run again once its lease ran out, so
// while the database can't be reached (it restarts), Finish tries again
// for up to reconnectFor, within the lease, unless ctx ends. An attempt
// may have committed before its answer was lost: a later attempt then
// finds the job finished with r, which counts as success.
func (db *DB) Finish(ctx context.Context, worker, id string, r store.Result) error {
	if !r.Status.Finished() {
		return fmt.Errorf("postgres: finish %q: status %q is not a final state", id, r.Status)
	}
	args := append(finishArgs(id, r), worker)
	giveUp := time.Now().Add(reconnectFor)
	for attempt := 1; ; attempt++ {
		n, err := db.exec(ctx, finishSQL+` AND worker = $11`, args...)
		switch {
		case err == nil && n > 0:
			return nil
		case err == nil && attempt == 1:
			return store.ErrNotFound
		case err == nil:
			var done bool
			err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM jobs
				WHERE id = $1 AND worker = $2 AND status = $3 AND end_time = $4)`,
				id, worker, r.Status, r.EndTime).Scan(&done)
			if err == nil && !done {
				err = store.ErrNotFound
			}
			return err
		case !unreachable(err) || time.Now().After(giveUp):
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(reconnectPause):
		}
	}
}

// RequeueRunning implements store.Store: worker's running jobs are
// finished one by one in claim order, so they join the history in that
// order.
func (db *DB) RequeueRunning(ctx context.Context, worker string, r store.Result) (int, error) {
	if !r.Status.Finished() {
		return 0, fmt.Errorf("postgres: requeue running: status %q is not a final state", r.Status)
	}
	ids, err := db.finishRunning(ctx, `worker = $1`, []any{worker}, r)
	return len(ids), err
}

// Queue implements store.Store. One statement, so the two lists are of one
// snapshot.
func (db *DB) Queue(ctx context.Context) (running, pending []*store.Job, err error) {
	jobs, err := queryJobs(ctx, db.pool, selectJobs+` WHERE status IN ('in_progress', 'pending')
		ORDER BY status = 'pending', CASE WHEN status = 'in_progress' THEN seq END, number, id`)
	if err != nil {
		return nil, nil, err
	}
	split := len(jobs)
	for i, j := range jobs {
		if j.Status == store.Pending {
			split = i
			break
		}
	}
	return jobs[:split:split], jobs[split:], nil
}

// QueueLen implements store.Store.
func (db *DB) QueueLen(ctx context.Context) (pending, running int, err error) {
	err = db.pool.QueryRow(ctx, `SELECT coalesce(sum(n) FILTER (WHERE status = 'pending'), 0),
		coalesce(sum(n) FILTER (WHERE status = 'in_progress'), 0) FROM job_counts`).Scan(&pending, &running)
	return pending, running, err
}

// DeletePending implements store.Store; the removed ids are in the order
// given, each once.
func (db *DB) DeletePending(ctx context.Context, ids []string) ([]string, error) {
	var deleted []string
	err := retry(func() error {
		rows, err := db.pool.Query(ctx, `DELETE FROM jobs WHERE id = ANY($1) AND status = 'pending' RETURNING id`, ids)
		if err != nil {
			return err
		}
		deleted, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, id := range ids {
		if slices.Contains(deleted, id) && !slices.Contains(removed, id) {
			removed = append(removed, id)
		}
	}
	return removed, nil
}

// ClearPending implements store.Store.
func (db *DB) ClearPending(ctx context.Context) (int, error) {
	return db.exec(ctx, `DELETE FROM jobs WHERE status = 'pending'`)
}

// Get implements store.Store.
func (db *DB) Get(ctx context.Context, id string) (*store.Job, error) {
	j, err := scanJob(db.pool.QueryRow(ctx, selectJobs+` WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	return j, err
}

// History implements store.Store.
func (db *DB) History(ctx context.Context, q store.HistoryQuery) ([]*store.Job, error) {
	query := selectJobs + ` WHERE status IN ` + finished
	var args []any
	if q.UserID != nil {
		query += ` AND user_id = $1`
		args = append(args, *q.UserID)
	}
	n := strconv.Itoa(len(args) + 1)
	if q.Offset < 0 && q.MaxItems >= 0 { // the newest MaxItems
		jobs, err := queryJobs(ctx, db.pool, query+` ORDER BY seq DESC LIMIT $`+n, append(args, q.MaxItems)...)
		slices.Reverse(jobs)
		return jobs, err
	}
	var limit *int // NULL: no limit
	if q.MaxItems >= 0 {
		limit = &q.MaxItems
	}
	return queryJobs(ctx, db.pool, query+` ORDER BY seq LIMIT $`+n+` OFFSET $`+strconv.Itoa(len(args)+2),
		append(args, limit, max(q.Offset, 0))...)
}

// DeleteHistory implements store.Store.
func (db *DB) DeleteHistory(ctx context.Context, ids []string) error {
	_, err := db.exec(ctx, `DELETE FROM jobs WHERE id = ANY($1) AND status IN `+finished, ids)
	return err
}

// ClearHistory implements store.Store.
func (db *DB) ClearHistory(ctx context.Context) error {
	_, err := db.exec(ctx, `DELETE FROM jobs WHERE status IN `+finished)
	return err
}

// TrimHistory implements store.Store; keep < 0 counts as 0. The newest
// job to delete is found by walking keep entries down the history index.
func (db *DB) TrimHistory(ctx context.Context, keep int) (int, error) {
	return db.exec(ctx, `DELETE FROM jobs WHERE status IN `+finished+` AND seq <=
		(SELECT seq FROM jobs WHERE status IN `+finished+` ORDER BY seq DESC LIMIT 1 OFFSET $1)`, max(keep, 0))
}

// allStatuses is the listing order of the job states.
var allStatuses = []store.Status{store.InProgress, store.Pending, store.Completed, store.Failed, store.Cancelled}

// listingTies orders the jobs whose sort keys are equal as ComfyUI's
// listing has them: running (in claim order), then pending (in run order),
// then finished (oldest first).
const listingTies = `CASE status WHEN 'in_progress' THEN 0 WHEN 'pending' THEN 1 ELSE 2 END,
	CASE WHEN status = 'pending' THEN number END, CASE WHEN status = 'pending' THEN id END, seq`

// Jobs implements store.Store. The page and the total are read in one
// snapshot.
func (db *DB) Jobs(ctx context.Context, q store.JobQuery) ([]*store.Job, int, error) {
	l, err := newListing(q)
	if err != nil {
		return nil, 0, err
	}
	var jobs []*store.Job
	var total int
	err = inTx(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		if jobs, err = queryJobs(ctx, tx, l.page, l.pageArgs...); err != nil {
			return err
		}
		return tx.QueryRow(ctx, l.total, l.totalArgs...).Scan(&total)
	})
	if err != nil {
		return nil, 0, err
	}
	return jobs, total, nil
}

// listing is the SQL of a job listing: its page and its total.
type listing struct {
	page, total         string
	pageArgs, totalArgs []any
}

// newListing builds the listing of q. The page's sort key leads an index
// for every filter (see migrations/001_jobs.sql), so PostgreSQL reads the
// page in order and sorts only the ties. The total comes from the
// counters, unless a workflow is asked for, which they don't know about.
func newListing(q store.JobQuery) (*listing, error) {
	var statuses []string
	for _, s := range q.Statuses {
		if !s.Valid() {
			return nil, fmt.Errorf("postgres: jobs: invalid status %q", s)
		}
		if !slices.Contains(statuses, string(s)) {
			statuses = append(statuses, string(s))
		}
	}
	if len(statuses) == len(allStatuses) {
		statuses = nil // no filter: the plain index on the key serves the page
	}
	var key string
	switch q.SortBy {
	case "", store.SortCreatedAt:
		key = "create_time"
	case store.SortExecutionDuration:
		key = "duration"
	default:
		return nil, fmt.Errorf("postgres: jobs: invalid sort key %q", q.SortBy)
	}
	if !q.Ascending {
		key += " DESC"
	}

	var l listing
	var where []string
	cond := func(sql string, arg any) {
		l.totalArgs = append(l.totalArgs, arg)
		where = append(where, fmt.Sprintf(sql, len(l.totalArgs)))
	}
	if statuses != nil {
		cond("status = ANY($%d)", statuses)
	}
	if q.UserID != nil {
		cond("user_id = $%d", *q.UserID)
	}
	l.total = `SELECT coalesce(sum(n), 0) FROM job_counts`
	if q.WorkflowID != "" {
		cond("workflow_id = $%d", q.WorkflowID)
		l.total = `SELECT count(*) FROM jobs`
	}
	filter := ""
	if len(where) > 0 {
		filter = " WHERE " + strings.Join(where, " AND ")
	}
	l.total += filter
	var limit *int // NULL: no limit
	if q.Limit > 0 {
		limit = &q.Limit
	}
	n := len(l.totalArgs)
	l.page = fmt.Sprintf("%s%s ORDER BY %s, %s LIMIT $%d OFFSET $%d", selectJobs, filter, key, listingTies, n+1, n+2)
	l.pageArgs = append(slices.Clip(l.totalArgs), limit, max(q.Offset, 0))
	return &l, nil
}
