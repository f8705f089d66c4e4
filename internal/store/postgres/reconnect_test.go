package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gocomfy/gocomfy/internal/store"
)

func TestUnreachable(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{io.ErrUnexpectedEOF, true},
		{fmt.Errorf("dial: %w", errors.New("connection refused")), true},
		{&pgconn.PgError{Code: "57P01"}, true}, // admin_shutdown
		{&pgconn.PgError{Code: "57P03"}, true}, // cannot_connect_now
		{&pgconn.PgError{Code: "08006"}, true}, // connection_failure
		{&pgconn.PgError{Code: "23505"}, false},
		{&pgconn.PgError{Code: "57014"}, false}, // query_canceled
		{context.Canceled, false},
		{fmt.Errorf("finish: %w", context.DeadlineExceeded), false},
	} {
		if got := unreachable(c.err); got != c.want {
			t.Errorf("unreachable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// TestFinishAfterConnectionLoss kills the store's connections between
// Claim and Finish, as a database restart does: the result is recorded
// on a new connection, not lost.
func TestFinishAfterConnectionLoss(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	b := make([]byte, 6)
	rand.Read(b)
	app := "gocomfy_kill_" + hex.EncodeToString(b)
	db := open(t, freshSchema(t)+"&application_name="+app)
	defer db.Close()
	if err := db.Enqueue(ctx, &store.Job{ID: "j", Number: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Claim(ctx, "w", 5); err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, serverURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	var killed int
	if err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1`, app).Scan(&killed); err != nil || killed == 0 {
		t.Fatalf("terminated %d connections: %v", killed, err)
	}
	r := store.Result{Status: store.Completed, EndTime: 9, StatusStr: "success"}
	if err := db.Finish(ctx, "w", "j", r); err != nil {
		t.Fatalf("Finish after the connections were killed: %v", err)
	}
	if j, err := db.Get(ctx, "j"); err != nil || j.Status != store.Completed {
		t.Errorf("job after Finish: %+v, %v", j, err)
	}
	// A late Finish (another call, not an attempt of this one) finds
	// the job no longer running.
	if err := db.Finish(ctx, "w", "j", r); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second Finish: %v, want ErrNotFound", err)
	}
}
