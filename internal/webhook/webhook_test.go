package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// receiver is a loopback webhook endpoint answering a scripted series of
// status codes (then 200) and recording what it got.
type receiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	statuses []int
	got      []delivery
}

type delivery struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{statuses: statuses}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, delivery{req.Header.Clone(), body})
		status := http.StatusOK
		if len(r.statuses) > 0 {
			status, r.statuses = r.statuses[0], r.statuses[1:]
		}
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

// testClock is a fixed clock and a sleeper that records the waits instead
// of waiting.
type testClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

func newTestDispatcher(t *testing.T, opt Options) (*Dispatcher, *testClock) {
	t.Helper()
	clock := &testClock{now: exampleTime}
	opt.Secret, _ = ParseSecret(exampleSecret)
	opt.Now, opt.Sleep = clock.Now, clock.Sleep
	opt.Jitter = func(d time.Duration) time.Duration { return d }
	opt.Logger = slog.New(slog.DiscardHandler)
	d, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Shutdown(context.Background()) })
	return d, clock
}

// render is the JobFunc of the tests.
func render(_ context.Context, id string) (string, []byte, error) {
	return "succeeded", []byte(`{"id":"` + id + `","status":"succeeded"}`), nil
}

func wait(t *testing.T, d *Dispatcher) {
	t.Helper()
	if err := d.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestDeliverSignedWithRetries(t *testing.T) {
	rcv := newReceiver(t, 500, 503)
	d, clock := newTestDispatcher(t, Options{AllowPrivate: true})
	url := rcv.srv.URL + "/hook?token=abc"
	if err := d.Check(context.Background(), url); err != nil {
		t.Fatal(err)
	}
	d.Subscribe("job-1", url)
	d.Finished("job-1", render)
	wait(t, d)

	got := rcv.deliveries()
	if len(got) != 3 {
		t.Fatalf("%d deliveries, want 3", len(got))
	}
	secret, _ := ParseSecret(exampleSecret)
	for i, g := range got {
		if g.header.Get(HeaderID) != got[0].header.Get(HeaderID) || !strings.HasPrefix(g.header.Get(HeaderID), "msg_") {
			t.Errorf("attempt %d: webhook-id %q, want the first one's", i+1, g.header.Get(HeaderID))
		}
		if err := secret.Verify(g.header, g.body, clock.Now(), time.Minute); err != nil {
			t.Errorf("attempt %d: %v", i+1, err)
		}
		if g.header.Get("Content-Type") != "application/json" {
			t.Errorf("Content-Type %q", g.header.Get("Content-Type"))
		}
	}
	// The timestamp is the attempt's: the clock moved by the backoff.
	if got[0].header.Get(HeaderTimestamp) != "1614265330" || got[2].header.Get(HeaderTimestamp) != "1614265333" {
		t.Errorf("timestamps %s, %s", got[0].header.Get(HeaderTimestamp), got[2].header.Get(HeaderTimestamp))
	}
	var env struct {
		Type      string          `json:"type"`
		Timestamp string          `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(got[0].body, &env); err != nil {
		t.Fatal(err)
	}
	if env.Type != "job.succeeded" || env.Timestamp != "2021-02-25T15:02:10Z" || string(env.Data) != `{"id":"job-1","status":"succeeded"}` {
		t.Errorf("envelope %s", got[0].body)
	}
	if want := []time.Duration{time.Second, 2 * time.Second}; !slices.Equal(clock.sleeps, want) {
		t.Errorf("backoff %v, want %v", clock.sleeps, want)
	}
	log := d.Deliveries("job-1")
	var outcomes []string
	for _, a := range log {
		outcomes = append(outcomes, a.Outcome)
		if a.Target != "job" || strings.Contains(a.URL, "token") {
			t.Errorf("log entry %+v", a)
		}
	}
	if strings.Join(outcomes, ",") != "retrying,retrying,delivered" || log[0].StatusCode != 500 || log[2].StatusCode != 200 {
		t.Errorf("log %+v", log)
	}
}

func TestGiveUpAfterAttempts(t *testing.T) {
	rcv := newReceiver(t, 500, 500, 500, 500, 500, 500)
	d, clock := newTestDispatcher(t, Options{AllowPrivate: true, URL: rcv.srv.URL})
	d.Finished("job-2", render)
	wait(t, d)
	if n := len(rcv.deliveries()); n != 5 {
		t.Errorf("%d attempts, want 5", n)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}
	if !slices.Equal(clock.sleeps, want) {
		t.Errorf("backoff %v, want %v", clock.sleeps, want)
	}
	log := d.Deliveries("job-2")
	if len(log) != 5 || log[4].Outcome != "failed" || log[4].Target != "server" || log[4].Error == "" {
		t.Errorf("log %+v", log)
	}
}

func TestJitterWithinBounds(t *testing.T) {
	d, err := New(Options{Secret: Secret(make([]byte, 32))})
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if j := d.opt.Jitter(time.Second); j < time.Second/2 || j > time.Second {
			t.Fatalf("jitter %v", j)
		}
	}
	if d.backoff(1) != time.Second || d.backoff(4) != 8*time.Second || d.backoff(100) != maxDelay {
		t.Errorf("backoff %v %v %v", d.backoff(1), d.backoff(4), d.backoff(100))
	}
}

func TestOneMessagePerTarget(t *testing.T) {
	jobRcv, serverRcv := newReceiver(t), newReceiver(t)
	d, _ := newTestDispatcher(t, Options{AllowPrivate: true, URL: serverRcv.srv.URL})
	d.Subscribe("a", jobRcv.srv.URL)
	d.Finished("a", render)
	d.Finished("a", render) // a second report of the same end
	d.Subscribe("b", serverRcv.srv.URL)
	d.Finished("b", render) // the job's URL is the server's: one message
	wait(t, d)
	if n, m := len(jobRcv.deliveries()), len(serverRcv.deliveries()); n != 1 || m != 2 {
		t.Errorf("job receiver got %d, server receiver %d; want 1 and 2", n, m)
	}
	if d.Deliveries("none") != nil {
		t.Error("a job without targets has a log")
	}
}

func TestRenderError(t *testing.T) {
	rcv := newReceiver(t)
	d, _ := newTestDispatcher(t, Options{AllowPrivate: true, URL: rcv.srv.URL})
	d.Finished("gone", func(context.Context, string) (string, []byte, error) { return "", nil, errors.New("no such job") })
	wait(t, d)
	if log := d.Deliveries("gone"); len(log) != 1 || log[0].Outcome != "failed" || len(rcv.deliveries()) != 0 {
		t.Errorf("log %+v", log)
	}
}

// TestRefusedWithoutAllowance proves the loopback receiver is refused when
// private targets are not allowed: by Check, by New for the server-wide
// URL, and at dial time for a URL that got past the check (as a name
// rebound to a private address would), without retries.
func TestRefusedWithoutAllowance(t *testing.T) {
	rcv := newReceiver(t)
	d, clock := newTestDispatcher(t, Options{})
	if err := d.Check(context.Background(), rcv.srv.URL); !errors.Is(err, ErrForbidden) {
		t.Errorf("Check: %v, want ErrForbidden", err)
	}
	if _, err := New(Options{Secret: Secret(make([]byte, 32)), URL: rcv.srv.URL}); !errors.Is(err, ErrForbidden) {
		t.Errorf("New: %v, want ErrForbidden", err)
	}
	d.Subscribe("job-3", rcv.srv.URL) // as if it had resolved to a public address
	d.Finished("job-3", render)
	wait(t, d)
	if n := len(rcv.deliveries()); n != 0 {
		t.Errorf("receiver got %d deliveries", n)
	}
	log := d.Deliveries("job-3")
	if len(log) != 1 || log[0].Outcome != "failed" || !strings.Contains(log[0].Error, ErrForbidden.Error()) {
		t.Errorf("log %+v", log)
	}
	if len(clock.sleeps) != 0 {
		t.Errorf("a refused target was retried: %v", clock.sleeps)
	}
}

func TestRedirectIsAFailure(t *testing.T) {
	rcv := newReceiver(t, http.StatusFound)
	d, _ := newTestDispatcher(t, Options{AllowPrivate: true, Attempts: 1})
	d.Subscribe("job-4", rcv.srv.URL)
	d.Finished("job-4", render)
	wait(t, d)
	if log := d.Deliveries("job-4"); len(log) != 1 || log[0].StatusCode != http.StatusFound || log[0].Outcome != "failed" {
		t.Errorf("log %+v", log)
	}
}

func TestNewNeedsASecret(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New without a secret succeeded")
	}
	if _, err := New(Options{Secret: Secret(make([]byte, 32)), URL: "ftp://x"}); err == nil {
		t.Error("New with an ftp URL succeeded")
	}
}

func TestShutdownStopsRetries(t *testing.T) {
	rcv := newReceiver(t, 500)
	opt := Options{Secret: Secret(make([]byte, 32)), AllowPrivate: true, URL: rcv.srv.URL, BaseDelay: time.Hour,
		Logger: slog.New(slog.DiscardHandler)}
	d, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	d.Finished("job-5", render)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown: %v", err)
	}
	if log := d.Deliveries("job-5"); len(log) > 1 || (len(log) == 1 && log[0].Outcome != "failed") {
		t.Errorf("log %+v", log)
	}
}
