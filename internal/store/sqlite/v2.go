package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/gocomfy/gocomfy/internal/store"
)

// reserveKeySQL records a key unless a live record holds it: the update
// arm only replaces an expired record or the abandoned one.
const reserveKeySQL = `INSERT INTO idempotency_keys (user_id, key, body, job_id, done, created)
	VALUES (?1, ?2, ?3, ?4, 0, ?5)
	ON CONFLICT (user_id, key) DO UPDATE SET body = excluded.body, job_id = excluded.job_id,
		done = 0, created = excluded.created
	WHERE idempotency_keys.created <= excluded.created - ?6
		OR (?7 <> '' AND NOT idempotency_keys.done AND idempotency_keys.job_id = ?7)
	RETURNING job_id`

// ReserveIdempotencyKey implements store.V2Store.
func (db *DB) ReserveIdempotencyKey(ctx context.Context, k store.IdempotencyKey, abandoned string) (*store.IdempotencyKey, error) {
	var live *store.IdempotencyKey
	err := db.write(ctx, func(t txn) error {
		if _, err := t.exec(`DELETE FROM idempotency_keys WHERE created <= ?`, k.Created-store.IdempotencyTTL); err != nil {
			return err
		}
		var id string
		err := t.scanRow(reserveKeySQL, []any{k.UserID, k.Key, k.Body, k.JobID, k.Created, store.IdempotencyTTL, abandoned}, &id)
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		live = &store.IdempotencyKey{UserID: k.UserID, Key: k.Key}
		return t.scanRow(`SELECT body, job_id, done, created FROM idempotency_keys WHERE user_id = ? AND key = ?`,
			[]any{k.UserID, k.Key}, &live.Body, &live.JobID, &live.Done, &live.Created)
	})
	return live, err
}

// FinishIdempotencyKey implements store.V2Store.
func (db *DB) FinishIdempotencyKey(ctx context.Context, userID, key, jobID string) error {
	_, err := db.exec(ctx, `UPDATE idempotency_keys SET done = 1 WHERE user_id = ? AND key = ? AND job_id = ?`,
		userID, key, jobID)
	return err
}

// ReleaseIdempotencyKey implements store.V2Store.
func (db *DB) ReleaseIdempotencyKey(ctx context.Context, userID, key, jobID string) error {
	_, err := db.exec(ctx, `DELETE FROM idempotency_keys WHERE user_id = ? AND key = ? AND job_id = ? AND NOT done`,
		userID, key, jobID)
	return err
}

// SetWebhookURL implements store.V2Store.
func (db *DB) SetWebhookURL(ctx context.Context, id, url string) error {
	return db.setPayload(ctx, `UPDATE job_payloads SET webhook_url = ? WHERE id = ?`, url, id)
}

// SetNodeTiming implements store.V2Store.
func (db *DB) SetNodeTiming(ctx context.Context, id string, timing json.RawMessage) error {
	return db.setPayload(ctx, `UPDATE job_payloads SET node_timing = ? WHERE id = ?`, blob(timing), id)
}

// setPayload runs an update of one job's payload; ErrNotFound if it
// changed nothing.
func (db *DB) setPayload(ctx context.Context, query string, args ...any) error {
	n, err := db.exec(ctx, query, args...)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return err
}
