// Package pgtest gives tests a PostgreSQL database of their own: an empty
// schema on the server that GOCOMFY_TEST_POSTGRES_URL names
// (scripts/pg-test-cluster.sh starts one), or a whole throwaway cluster
// for a test that restarts it. Without a server the tests skip, except
// under CI=true, where nothing may be skipped silently.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// URLEnv names the variable that points the tests at a PostgreSQL server.
const URLEnv = "GOCOMFY_TEST_POSTGRES_URL"

// ServerURL returns the test server's URL, or skips the test (fails it
// under CI=true) when there is none.
func ServerURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(URLEnv)
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set (CI=true): run scripts/pg-test-cluster.sh", URLEnv)
		}
		t.Skipf("%s is not set; scripts/pg-test-cluster.sh starts a server", URLEnv)
	}
	return u
}

// Schema creates an empty schema on the test server, dropped when the test
// ends, and returns a connection string whose connections use it.
func Schema(t testing.TB) string {
	t.Helper()
	return schemaOn(t, ServerURL(t))
}

func schemaOn(t testing.TB, base string) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	name := "gocomfy_test_" + hex.EncodeToString(b)
	Exec(t, base, "CREATE SCHEMA "+name)
	t.Cleanup(func() { Exec(t, base, "DROP SCHEMA "+name+" CASCADE") })
	return WithSearchPath(t, base, name)
}

// Exec runs sql on a connection of its own to conn.
func Exec(t testing.TB, conn, sql string, args ...any) {
	t.Helper()
	c, err := pgx.Connect(context.Background(), conn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(context.Background(), sql, args...); err != nil {
		t.Fatal(err)
	}
}

// WithSearchPath adds search_path to a URL or key=value connection string;
// pgx sends it as a run-time parameter when it connects.
func WithSearchPath(t testing.TB, conn, schema string) string {
	t.Helper()
	if !strings.HasPrefix(conn, "postgres://") && !strings.HasPrefix(conn, "postgresql://") {
		return conn + " search_path=" + schema
	}
	u, err := url.Parse(conn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// A Cluster is a throwaway PostgreSQL server of a test's own, which the
// test may restart.
type Cluster struct {
	t      testing.TB
	script string
	dir    string
	URL    string // the postgres database, as a superuser
}

// NewCluster starts a cluster on a free loopback port with
// scripts/pg-test-cluster.sh (which installs Debian's postgresql when it
// is absent), stopped and removed when the test ends. It skips, or fails
// under CI=true, as ServerURL does: a machine that runs the PostgreSQL
// tests can start clusters.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	ServerURL(t)
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "../../../../scripts/pg-test-cluster.sh")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command("bash", script)
	cmd.Env = append(os.Environ(), "PGTEST_PORT="+strconv.Itoa(port))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("starting a cluster on port %d: %v", port, err)
	}
	c := &Cluster{t: t, script: script}
	for line := range strings.Lines(string(out)) {
		k, v, _ := strings.Cut(strings.TrimPrefix(strings.TrimSpace(line), "export "), "=")
		v = strings.Trim(v, "'")
		switch k {
		case URLEnv:
			c.URL = v
		case "GOCOMFY_TEST_POSTGRES_DATA":
			c.dir = v
		}
	}
	if c.URL == "" || c.dir == "" {
		t.Fatalf("pg-test-cluster.sh printed %q", out)
	}
	t.Cleanup(func() { c.run("stop") })
	return c
}

// Restart stops the cluster (fast: connections are cut, transactions
// rolled back) and starts it again, as pg_ctl restart does.
func (c *Cluster) Restart() {
	c.t.Helper()
	c.run("restart")
}

// Schema creates an empty schema on the cluster, as the package's Schema
// does on the test server.
func (c *Cluster) Schema() string {
	c.t.Helper()
	return schemaOn(c.t, c.URL)
}

func (c *Cluster) run(op string) {
	c.t.Helper()
	if out, err := exec.Command("bash", c.script, op, c.dir).CombinedOutput(); err != nil {
		c.t.Fatalf("pg-test-cluster.sh %s: %v\n%s", op, err, out)
	}
}

// fillSQL adds $1 finished jobs in one statement: create times a second
// apart (pairs tie), every fifth job failed or cancelled, a quarter each
// of users alice and bob, 100 workflows, durations up to 5 s; then ten
// pending jobs, created last.
const fillSQL = `
INSERT INTO jobs (id, seq, number, number_is_float, status, user_id, workflow_id, client_id, worker,
	create_time, start_time, end_time, outputs_count, status_str, prompt, outputs_to_execute, outputs)
SELECT lpad(to_hex(i), 8, '0') || '-fixture', i, i, false,
	(ARRAY['completed', 'completed', 'completed', 'failed', 'cancelled'])[i % 5 + 1],
	(ARRAY['', '', 'alice', 'bob'])[i % 4 + 1], 'wf-' || i % 100, 'client', 'w',
	1700000000000 + i / 2 * 1000, 1700000000000 + i / 2 * 1000 + 10,
	1700000000000 + i / 2 * 1000 + 10 + i % 5000, 1, 'success',
	convert_to('{"1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0}}}', 'UTF8'),
	ARRAY['9'],
	convert_to('{"9": {"images": [{"filename": "ComfyUI_00001_.png", "subfolder": "", "type": "output"}]}}', 'UTF8')
FROM generate_series(1, $1::bigint) AS i;
SELECT setval('jobs_seq', $1::bigint);
INSERT INTO jobs (id, number, number_is_float, status, user_id, workflow_id, client_id, worker,
	create_time, start_time, end_time, outputs_count, status_str)
SELECT 'pending-' || k, k, false, 'pending', '', '', '', '', 1800000000000, 0, 0, 0, ''
FROM generate_series(0, 9) AS k;`

// FillJobs adds n finished jobs and ten pending ones to the gocomfy schema
// at conn (migrated: a store was opened on it) with one INSERT ... SELECT
// generate_series, and refreshes the planner's statistics.
func FillJobs(t testing.TB, conn string, n int) {
	t.Helper()
	c, err := pgx.Connect(context.Background(), conn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	// The simple protocol takes several statements, with the parameter
	// sent inline.
	sql := strings.ReplaceAll(fillSQL, "$1", strconv.Itoa(n))
	if _, err := c.Exec(context.Background(), sql, pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(context.Background(), "VACUUM ANALYZE jobs"); err != nil {
		t.Fatal(err)
	}
}
