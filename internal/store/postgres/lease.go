package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/gocomfy/gocomfy/internal/store"
)

// Heartbeat implements store.Store. It counts the worker's running jobs,
// those whose lease is already past until included.
func (db *DB) Heartbeat(ctx context.Context, worker string, until int64) (int, error) {
	return db.exec(ctx, `UPDATE jobs SET lease_until = greatest(lease_until, $2)
		WHERE status = 'in_progress' AND worker = $1`, worker, until)
}

// RequeueExpired implements store.Store. The row locks of one statement
// (or of the transaction that finishes them) make each job taken back once.
func (db *DB) RequeueExpired(ctx context.Context, now int64, r *store.Result) ([]string, error) {
	if r == nil {
		var ids []string
		err := retry(func() error {
			rows, err := db.pool.Query(ctx, `UPDATE jobs SET status = 'pending', worker = '',
				start_time = 0, lease_until = 0
				WHERE status = 'in_progress' AND lease_until < $1 RETURNING id`, now)
			if err != nil {
				return err
			}
			ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		})
		return ids, err
	}
	if !r.Status.Finished() {
		return nil, fmt.Errorf("postgres: requeue expired: status %q is not a final state", r.Status)
	}
	return db.finishRunning(ctx, `lease_until < $1`, []any{now}, *r)
}

// finishRunning finishes with r the running jobs that match cond (SQL
// with args), one by one in claim order, so that they join the history in
// that order, and returns their ids.
func (db *DB) finishRunning(ctx context.Context, cond string, args []any, r store.Result) ([]string, error) {
	var ids []string
	err := inTx(ctx, db.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id FROM jobs WHERE status = 'in_progress' AND `+cond+`
			ORDER BY seq FOR UPDATE`, args...)
		if err != nil {
			return err
		}
		if ids, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := tx.Exec(ctx, finishSQL, finishArgs(id, r)...); err != nil {
				return err
			}
		}
		return nil
	})
	return ids, err
}
