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
	"sync"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/gocomfy/gocomfy/internal/store"
)

// DB is a store.Store kept in one SQLite database file.
type DB struct {
	w *stmtCache // the only writer connection
	r *stmtCache // read-only pool

	numberMu    sync.Mutex // guards the prompt counter of NextNumber
	numberReady bool       // nextNumber was set by the first NextNumber
	nextNumber  float64
}

var _ store.Store = (*DB)(nil)

// pragmas are set on every connection. busy_timeout comes first so that the
// others wait for a lock instead of failing. WAL with synchronous=NORMAL
// loses no commit when the process is killed (a commit is in the WAL file)
// and needs no fsync per commit; only a power loss can take the last ones.
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
	return &DB{w: newStmtCache(w), r: newStmtCache(r)}, nil
}

// Close closes both connection pools.
func (db *DB) Close() error {
	return errors.Join(db.r.db.Close(), db.w.db.Close())
}

// stmtCache prepares each query text once per pool: preparing is a good
// part of the cost of a small statement (the triggers are compiled with
// it). The texts are a bounded set, the listing variants included.
//
// A statement can't be prepared on the pool from inside a transaction: the
// pool may have no other connection to give (the writer has only one). So a
// transaction prepares a missing statement for itself, and the cache
// prepares it on the pool once the transaction is over.
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}}
}

func (c *stmtCache) lookup(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[query]
}

// add prepares the queries that are not cached yet. It holds no lock while
// it waits for a connection. A failure only means no cache.
func (c *stmtCache) add(ctx context.Context, queries []string) {
	for _, q := range queries {
		if c.lookup(q) != nil {
			continue
		}
		st, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		c.mu.Lock()
		if c.m[q] == nil {
			c.m[q], st = st, nil
		}
		c.mu.Unlock()
		if st != nil { // another goroutine was first
			st.Close()
		}
	}
}

// txn is a transaction that runs the cached statements of its pool.
type txn struct {
	ctx    context.Context
	tx     *sql.Tx
	stmts  *stmtCache
	missed *[]string // queries to add to stmts after the transaction
}

func (t txn) stmt(query string) (*sql.Stmt, error) {
	if st := t.stmts.lookup(query); st != nil {
		return t.tx.StmtContext(t.ctx, st), nil
	}
	*t.missed = append(*t.missed, query)
	return t.tx.PrepareContext(t.ctx, query)
}

func (t txn) exec(query string, args ...any) (int, error) {
	st, err := t.stmt(query)
	if err != nil {
		return 0, err
	}
	res, err := st.ExecContext(t.ctx, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func (t txn) query(query string, args ...any) (*sql.Rows, error) {
	st, err := t.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(t.ctx, args...)
}

// scanRow runs a query that returns one row and scans it into dest;
// sql.ErrNoRows if there is none.
func (t txn) scanRow(query string, args []any, dest ...any) error {
	st, err := t.stmt(query)
	if err != nil {
		return err
	}
	return st.QueryRowContext(t.ctx, args...).Scan(dest...)
}

// write runs fn in a transaction on the writer connection and commits if
// fn succeeds.
func (db *DB) write(ctx context.Context, fn func(txn) error) error {
	return db.w.run(ctx, nil, fn)
}

// read runs fn in a read-only transaction, so that its queries see one
// snapshot of the database.
func (db *DB) read(ctx context.Context, fn func(txn) error) error {
	return db.r.run(ctx, &sql.TxOptions{ReadOnly: true}, fn)
}

// run runs fn in a transaction on the pool, then caches the statements fn
// had to prepare.
func (c *stmtCache) run(ctx context.Context, opts *sql.TxOptions, fn func(txn) error) error {
	var missed []string
	err := inTx(ctx, c.db, opts, func(tx *sql.Tx) error { return fn(txn{ctx, tx, c, &missed}) })
	c.add(ctx, missed)
	return err
}

// inTx runs fn in a transaction on db and commits if fn succeeds.
func inTx(ctx context.Context, db *sql.DB, opts *sql.TxOptions, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
