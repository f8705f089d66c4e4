package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gocomfy/gocomfy/internal/store"
	"github.com/gocomfy/gocomfy/internal/store/storetest"
)

func open(t testing.TB, path string) *DB {
	t.Helper()
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "gocomfy.db"))
	})
}

func TestOpenRejectsMemory(t *testing.T) {
	for _, path := range []string{"", ":memory:"} {
		if db, err := Open(t.Context(), path); err == nil {
			db.Close()
			t.Errorf("Open(%q): no error", path)
		}
	}
}

// TestReopen checks durability: what was committed is there after the
// database is closed and opened again, and the migrations don't run twice.
func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "dir with ?#% chars", "gocomfy.db")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	db := open(t, path)
	for i, id := range []string{"done", "running", "pending"} { // in run order
		if err := db.Enqueue(ctx, &store.Job{ID: id, Number: float64(i) + .5, NumberIsFloat: true, Prompt: []byte(`{"a": 1}`)}); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 { // "done", then "running"
		if _, err := db.Claim(ctx, "w", 7); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Finish(ctx, "done", store.Result{Status: store.Completed, EndTime: 9, StatusStr: "success"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = open(t, path)
	defer db.Close()
	for id, want := range map[string]store.Status{"done": store.Completed, "running": store.InProgress, "pending": store.Pending} {
		j, err := db.Get(ctx, id)
		if err != nil {
			t.Fatalf("Get(%q) after reopening: %v", id, err)
		}
		if j.Status != want || string(j.Prompt) != `{"a": 1}` || j.Number != float64(int(j.Number))+.5 || !j.NumberIsFloat {
			t.Errorf("Get(%q) after reopening = %+v", id, j)
		}
	}
	if p, r, err := db.QueueLen(ctx); p != 1 || r != 1 || err != nil {
		t.Errorf("QueueLen after reopening = %d, %d, %v; want 1, 1", p, r, err)
	}
	var version int
	if err := db.r.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&version); err != nil || version != len(mustMigrations(t)) {
		t.Errorf("schema_version = %d, %v; want %d", version, err, len(mustMigrations(t)))
	}
}

func mustMigrations(t testing.TB) []string {
	t.Helper()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gocomfy.db")
	db := open(t, path)
	if _, err := db.w.Exec(`UPDATE schema_version SET version = version + 1`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err := Open(t.Context(), path); err == nil {
		db.Close()
		t.Fatal("Open of a database from a newer program: no error")
	}
}

// plan returns the EXPLAIN QUERY PLAN lines of query.
func plan(t *testing.T, db *DB, query string, args ...any) string {
	t.Helper()
	rows, err := db.w.Query(`EXPLAIN QUERY PLAN `+query, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, query)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}
