package postgres

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/gocomfy/gocomfy/internal/event"
	"github.com/gocomfy/gocomfy/internal/store"
)

var (
	_ store.Interrupter = (*DB)(nil)
	_ event.Transport   = (*DB)(nil)
)

// The channels of interrupt requests and of events. Their payloads are
// the schema, a newline and the message, as several stores may share one
// database (notifications are per database).
const (
	interruptChannel = "gocomfy_interrupts"
	eventChannel     = "gocomfy_events"
)

// maxNotified is the largest event sent in its notification: PostgreSQL
// takes payloads under 8000 bytes, and the schema name (at most 63 bytes)
// and a newline precede the event.
const maxNotified = 7900

// storedEvent marks a notification that carries the id of a row of the
// events table (a larger event) instead of the event.
const storedEvent = "@"

// PublishInterrupt implements store.Interrupter.
func (db *DB) PublishInterrupt(ctx context.Context, id string) error {
	_, err := db.pool.Exec(ctx, `SELECT pg_notify($1, current_schema() || E'\n' || $2)`, interruptChannel, id)
	return err
}

// ListenInterrupts implements store.Interrupter on a connection of its
// own, which it closes when it returns; it must return before Close.
func (db *DB) ListenInterrupts(ctx context.Context, fn func(id string)) error {
	return db.listenTo(ctx, interruptChannel, func(_ *pgx.Conn, id string) { fn(id) })
}

// PublishEvent implements event.Transport: the event is the payload of a
// notification, or, if it is binary or past maxNotified bytes, a row of
// the events table whose id is notified. The row expires after five
// minutes, or lossyExpiry for a lossy event; expired rows are deleted then.
func (db *DB) PublishEvent(ctx context.Context, payload []byte, lossy bool) error {
	if len(payload) <= maxNotified && notifiable(payload) {
		_, err := db.pool.Exec(ctx, `SELECT pg_notify($1, current_schema() || E'\n' || $2)`, eventChannel, string(payload))
		return err
	}
	expiry := eventExpiry
	if lossy {
		expiry = lossyExpiry
	}
	_, err := db.pool.Exec(ctx, `
		WITH old AS (DELETE FROM events WHERE expires < now()),
		ins AS (INSERT INTO events (payload, expires) VALUES ($2, now() + $4::interval) RETURNING id)
		SELECT pg_notify($1, current_schema() || E'\n' || $3 || id) FROM ins`,
		eventChannel, payload, storedEvent, expiry)
	return err
}

// How long a stored event is kept: long after every listener read it, or,
// for a lossy one, a little after.
const (
	eventExpiry = "5 minutes"
	lossyExpiry = "10 seconds"
)

// notifiable reports whether payload can be a notification's text: UTF-8
// without NUL (a preview's JPEG can't).
func notifiable(payload []byte) bool {
	return utf8.Valid(payload) && bytes.IndexByte(payload, 0) < 0
}

// ListenEvents implements event.Transport on a connection of its own,
// which it closes when it returns; it must return before Close.
func (db *DB) ListenEvents(ctx context.Context, fn func(payload []byte)) error {
	return db.listenTo(ctx, eventChannel, func(conn *pgx.Conn, msg string) {
		ref, stored := strings.CutPrefix(msg, storedEvent)
		if !stored {
			fn([]byte(msg))
			return
		}
		id, err := strconv.ParseInt(ref, 10, 64)
		if err != nil {
			return // not published by PublishEvent
		}
		var payload []byte
		// The row is gone only if this listener lagged minutes behind.
		if err := conn.QueryRow(ctx, `SELECT payload FROM events WHERE id = $1`, id).Scan(&payload); err == nil {
			fn(payload)
		}
	})
}

// listenTo calls fn with the messages of this schema notified on channel,
// in order, until ctx is done or the connection fails.
func (db *DB) listenTo(ctx context.Context, channel string, fn func(conn *pgx.Conn, msg string)) error {
	l, err := db.newListener(ctx, channel)
	if err != nil {
		return err
	}
	defer l.conn.Close(context.Background())
	prefix := l.schema + "\n"
	for {
		n, err := l.conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if msg, ok := strings.CutPrefix(n.Payload, prefix); ok {
			fn(l.conn, msg)
		}
	}
}
