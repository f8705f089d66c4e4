// Package sqlite is the default store.Store: one SQLite file through the pure
// Go driver modernc.org/sqlite, in WAL mode.
//
// Writes go through a single connection, so they queue in database/sql
// instead of failing with SQLITE_BUSY; reads use a separate pool and, thanks
// to WAL, never wait for the writer. The schema is created and upgraded by the
// numbered migrations embedded from migrations/.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"runtime"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/gocomfy/gocomfy/internal/store"
)

// DB is a store.Store kept in one SQLite database file.
type DB struct {
	w *sql.DB // the only writer connection
	r *sql.DB // read-only pool
}

var _ store.Store = (*DB)(nil)

// pragmas are set on every connection. busy_timeout comes first so that the
// others wait for a lock instead of failing; WAL with synchronous=NORMAL
// survives a killed process (a commit is in the WAL file) at ~25 µs a commit.
const pragmas = "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)"

// Open opens (creating if needed) the database file at path and brings its
// schema up to date. In-memory databases are not supported: the reader pool
// must see the writer's data.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" || path == ":memory:" {
		return nil, fmt.Errorf("sqlite: open %q: a database file path is required", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	// A file: URI, so that '?' or '#' in the path are escaped, not parsed.
	uri := (&url.URL{Scheme: "file", Path: abs}).String() + "?" + pragmas

	// BEGIN IMMEDIATE takes the write lock up front: a transaction that reads
	// and then writes can't fail half-way on a lock upgrade.
	w, err := sql.Open("sqlite", uri+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}

	r, err := sql.Open("sqlite", uri+"&_query_only=1")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	readers := max(4, runtime.NumCPU())
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	return &DB{w: w, r: r}, nil
}

// Close closes both connection pools.
func (db *DB) Close() error {
	return errors.Join(db.r.Close(), db.w.Close())
}

// write runs fn in a transaction on the writer connection.
func (db *DB) write(ctx context.Context, fn func(*sql.Tx) error) error {
	return inTx(ctx, db.w, fn)
}

// read runs fn in a read-only transaction, so that its queries see one
// snapshot of the database.
func (db *DB) read(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(tx)
}

// inTx runs fn in a transaction on db and commits if fn succeeds.
func inTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
