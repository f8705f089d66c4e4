package postgres

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/gocomfy/gocomfy/internal/store"
)

// reserveKeySQL records a key unless a live record holds it: the update
// arm only replaces an expired record or the abandoned one. A concurrent
// reservation of the same key waits for this one's row, then finds it
// live; the instances thus agree on one reservation.
const reserveKeySQL = `INSERT INTO idempotency_keys (user_id, key, body, job_id, done, created)
	VALUES ($1, $2, $3, $4, false, $5)
	ON CONFLICT (user_id, key) DO UPDATE SET body = excluded.body, job_id = excluded.job_id,
		done = false, created = excluded.created
	WHERE idempotency_keys.created <= excluded.created - $6::bigint
		OR ($7 <> '' AND NOT idempotency_keys.done AND idempotency_keys.job_id = $7)
	RETURNING job_id`

// ReserveIdempotencyKey implements store.V2Store.
func (db *DB) ReserveIdempotencyKey(ctx context.Context, k store.IdempotencyKey, abandoned string) (*store.IdempotencyKey, error) {
	var live *store.IdempotencyKey
	err := inTx(ctx, db.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		live = nil // a retried transaction starts afresh
		if _, err := tx.Exec(ctx, `DELETE FROM idempotency_keys WHERE created <= $1`, k.Created-store.IdempotencyTTL); err != nil {
			return err
		}
		var id string
		err := tx.QueryRow(ctx, reserveKeySQL, k.UserID, k.Key, k.Body, k.JobID, k.Created,
			store.IdempotencyTTL, abandoned).Scan(&id)
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		// Read committed: this sees the row that won the conflict.
		live = &store.IdempotencyKey{UserID: k.UserID, Key: k.Key}
		return tx.QueryRow(ctx, `SELECT body, job_id, done, created FROM idempotency_keys WHERE user_id = $1 AND key = $2`,
			k.UserID, k.Key).Scan(&live.Body, &live.JobID, &live.Done, &live.Created)
	})
	return live, err
}

// FinishIdempotencyKey implements store.V2Store.
func (db *DB) FinishIdempotencyKey(ctx context.Context, userID, key, jobID string) error {
	_, err := db.exec(ctx, `UPDATE idempotency_keys SET done = true WHERE user_id = $1 AND key = $2 AND job_id = $3`,
		userID, key, jobID)
	return err
}

// ReleaseIdempotencyKey implements store.V2Store.
func (db *DB) ReleaseIdempotencyKey(ctx context.Context, userID, key, jobID string) error {
	_, err := db.exec(ctx, `DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND job_id = $3 AND NOT done`,
		userID, key, jobID)
	return err
}

// SetWebhookURL implements store.V2Store.
func (db *DB) SetWebhookURL(ctx context.Context, id, url string) error {
	return db.setJob(ctx, `UPDATE jobs SET webhook_url = $2 WHERE id = $1`, id, url)
}

// SetNodeTiming implements store.V2Store.
func (db *DB) SetNodeTiming(ctx context.Context, id string, timing json.RawMessage) error {
	return db.setJob(ctx, `UPDATE jobs SET node_timing = $2 WHERE id = $1`, id, blob(timing))
}

// setJob runs an update of one job; ErrNotFound if it changed nothing.
func (db *DB) setJob(ctx context.Context, query string, args ...any) error {
	n, err := db.exec(ctx, query, args...)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return err
}
