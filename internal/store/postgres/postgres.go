// Package postgres is the store.Store of a scaled-out gocomfy: one
// PostgreSQL database shared by several instances, through
// github.com/jackc/pgx/v5.
//
// Every method is one statement or one short transaction, so instances
// never hold locks across calls. Claim takes the first pending job with
// FOR UPDATE SKIP LOCKED: concurrent claimers, in one process or many, get
// different jobs without waiting for each other. The schema is created and
// upgraded at Open by the numbered migrations embedded from migrations/,
// under an advisory lock, so instances may start at the same time.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gocomfy/gocomfy/internal/store"
)

// DB is a store.Store kept in a PostgreSQL database.
type DB struct {
	pool *pgxpool.Pool

	listenMu sync.Mutex // held by Wait
	listen   *listener  // nil until the first Wait, and after an error
	closed   bool
}

var _ store.Store = (*DB)(nil)

// Open connects to the database at url (a postgres:// URL or a key=value
// connection string, as libpq takes; a search_path parameter selects the
// schema) and brings its schema up to date.
func Open(ctx context.Context, url string) (*DB, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	return &DB{pool: pool}, nil
}

// Close closes the connection pool and the connection of Wait.
func (db *DB) Close() error {
	db.closeListener()
	db.pool.Close()
	return nil
}

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrations returns the embedded migrations in order: element i is the SQL
// of version i+1 (file migrations/NNN_name.sql with NNN = i+1).
func migrations() ([]string, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries { // ReadDir sorts by name, so by NNN
		num, _, ok := strings.Cut(e.Name(), "_")
		if v, err := strconv.Atoi(num); !ok || err != nil || v != len(out)+1 {
			return nil, fmt.Errorf("migration %s: want number %03d", e.Name(), len(out)+1)
		}
		b, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, string(b))
	}
	return out, nil
}

// migrate brings the schema to the newest version in one transaction, and
// refuses a schema written by a newer binary. The advisory lock, keyed by
// the schema, makes instances that start together wait for the first one
// instead of running the same migration twice; PostgreSQL's DDL is
// transactional, so a failed migration leaves nothing behind.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	return inTx(ctx, pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('gocomfy migrate ' || current_schema(), 0))`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)`); err != nil {
			return err
		}
		var have int
		err := tx.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&have)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if have > len(ms) {
			return fmt.Errorf("database schema version %d is newer than this program's %d", have, len(ms))
		}
		if have == len(ms) {
			return nil
		}
		for v := have + 1; v <= len(ms); v++ {
			// No arguments: pgx sends the file with the simple protocol,
			// which runs several statements.
			if _, err := tx.Exec(ctx, ms[v-1]); err != nil {
				return fmt.Errorf("migration %d: %w", v, err)
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM schema_version`); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO schema_version (version) VALUES ($1)`, len(ms))
		return err
	})
}

// maxAttempts bounds the runs of a statement or transaction that
// PostgreSQL aborted to resolve a conflict with another one.
const maxAttempts = 5

// retry runs fn again when PostgreSQL chose it as a deadlock victim or
// failed it for serialization: both can happen when instances change the
// same jobs at once, and the next run then succeeds.
func retry(fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		var pgErr *pgconn.PgError
		if attempt == maxAttempts || !errors.As(err, &pgErr) || (pgErr.Code != "40P01" && pgErr.Code != "40001") {
			return err
		}
	}
}

// How long, and how often, a write that must not be lost is tried again
// while the database can't be reached: a restart takes seconds, and the
// lease of the job it finishes (store.Lease) outlasts reconnectFor.
const (
	reconnectFor   = 30 * time.Second
	reconnectPause = 500 * time.Millisecond
)

// unreachable reports whether err means that the database could not be
// reached, or went away during the statement: the connection broke (no
// answer from the server), or the server is shutting down or starting
// (classes 08 and 57P).
func unreachable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P")
	}
	return true
}

// inTx runs fn in a transaction, commits if fn succeeds, and retries as
// retry does.
func inTx(ctx context.Context, pool *pgxpool.Pool, opts pgx.TxOptions, fn func(pgx.Tx) error) error {
	return retry(func() error { return pgx.BeginTxFunc(ctx, pool, opts, fn) })
}

// exec runs one statement in a transaction of its own and returns the
// number of rows it changed.
func (db *DB) exec(ctx context.Context, query string, args ...any) (int, error) {
	var tag pgconn.CommandTag
	err := retry(func() (err error) {
		tag, err = db.pool.Exec(ctx, query, args...)
		return err
	})
	return int(tag.RowsAffected()), err
}
