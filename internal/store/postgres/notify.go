package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/gocomfy/gocomfy/internal/store"
)

var _ store.Notifier = (*DB)(nil)

// notifyChannel is the channel of migrations/003_notify.sql.
const notifyChannel = "gocomfy_jobs"

// listener is the connection Wait listens on, outside the pool: a pooled
// connection would be handed to other queries between waits.
type listener struct {
	conn   *pgx.Conn
	schema string // the payload of this store's notifications
}

// Wait implements store.Notifier with LISTEN: it returns when a job became
// pending in this store's schema, on any instance. Notifications that
// arrive between two calls wait in the connection, so none is lost while
// the caller works; after an error the next call listens on a new
// connection, and may have missed some (callers poll as well). Wait is for
// one caller at a time, and Close waits for it to return.
func (db *DB) Wait(ctx context.Context) error {
	db.listenMu.Lock()
	defer db.listenMu.Unlock()
	if db.closed {
		return errors.New("postgres: wait: store closed")
	}
	if db.listen == nil {
		l, err := db.newListener(ctx, notifyChannel)
		if err != nil {
			return err
		}
		db.listen = l
	}
	for {
		n, err := db.listen.conn.WaitForNotification(ctx)
		if err != nil {
			// A cancelled wait leaves the connection unusable.
			db.listen.conn.Close(context.Background())
			db.listen = nil
			return err
		}
		if n.Payload == db.listen.schema {
			return nil
		}
	}
}

// newListener opens a connection outside the pool that listens on channel.
func (db *DB) newListener(ctx context.Context, channel string) (*listener, error) {
	conn, err := pgx.ConnectConfig(ctx, db.pool.Config().ConnConfig)
	if err != nil {
		return nil, err
	}
	l := &listener{conn: conn}
	if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&l.schema); err != nil {
		conn.Close(context.Background())
		return nil, err
	}
	if _, err := conn.Exec(ctx, `LISTEN `+channel); err != nil {
		conn.Close(context.Background())
		return nil, err
	}
	return l, nil
}

// closeListener closes the connection of Wait, once no Wait runs.
func (db *DB) closeListener() {
	db.listenMu.Lock()
	defer db.listenMu.Unlock()
	db.closed = true
	if db.listen != nil {
		db.listen.conn.Close(context.Background())
		db.listen = nil
	}
}
