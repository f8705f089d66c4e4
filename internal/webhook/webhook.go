// Package webhook delivers the final state of jobs to HTTP endpoints, as
// Standard Webhooks (standardwebhooks.com) do: each delivery is a POST of
// a JSON envelope {"type": "job.<status>", "timestamp", "data": job}
// carrying the headers webhook-id (the same on every retry of a message,
// so receivers can drop duplicates), webhook-timestamp (Unix seconds of
// the attempt) and webhook-signature ("v1," + base64 of the HMAC-SHA256 of
// "id.timestamp.body" under the secret's key).
//
// A job has up to two targets: its own URL (Subscribe) and the server-wide
// one (Options.URL). Failed deliveries are retried with exponential
// backoff and jitter; every attempt is recorded in a bounded in-memory
// log (Deliveries). Targets on private, loopback or link-local addresses
// are refused unless Options.AllowPrivate is set: when given (Check) and
// again at every dial, so that a name rebound to such an address after
// the check is still refused.
//
// The package knows nothing of jobs: the caller says when one is finished
// and passes the function that renders it.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Defaults of Options.
const (
	defaultAttempts  = 5
	defaultBaseDelay = time.Second
	defaultTimeout   = 10 * time.Second
	dialTimeout      = 5 * time.Second
	// checkTimeout bounds the resolution of a target's host by Check.
	checkTimeout = 5 * time.Second
	// maxJobs bounds the jobs the dispatcher remembers (subscriptions and
	// delivery logs), oldest forgotten first.
	maxJobs = 4096
	// maxDelay caps the backoff, whatever Attempts says.
	maxDelay = time.Hour
	// maxLogPerJob bounds one job's delivery log, oldest dropped first.
	maxLogPerJob = 64
	// maxResponse is how much of a receiver's answer is read (and
	// discarded) so that the connection can be reused.
	maxResponse = 64 << 10
)

// Options configure a Dispatcher.
type Options struct {
	// Secret signs every delivery; it is required.
	Secret Secret
	// URL is the server-wide target, sent every finished job ("": none).
	URL string
	// AllowPrivate lets targets be private, loopback or link-local.
	AllowPrivate bool
	// Attempts is how many times a delivery is tried (0: 5).
	Attempts int
	// BaseDelay is the wait before the first retry, doubled for each
	// further one (0: 1s).
	BaseDelay time.Duration
	// Timeout bounds each attempt (0: 10s).
	Timeout time.Duration
	// Logger reports deliveries that failed for good (nil: slog.Default).
	Logger *slog.Logger

	// Resolver resolves target hosts for Check (nil: net.DefaultResolver).
	Resolver Resolver
	// Now is the clock of signatures and the log (nil: time.Now).
	Now func() time.Time
	// Sleep waits d or until ctx is done (nil: a timer).
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter turns a nominal backoff into the one waited (nil: uniform
	// in [d/2, d], so that receivers coming back are not hit all at once).
	Jitter func(d time.Duration) time.Duration
}

// JobFunc renders a finished job: its status (for the envelope's type,
// "job.<status>") and its JSON.
type JobFunc func(ctx context.Context, id string) (status string, job []byte, err error)

// Attempt is one entry of the delivery log.
type Attempt struct {
	// MessageID is the webhook-id of the delivery.
	MessageID string
	// Target is "job" for the job's own URL, "server" for the server-wide one.
	Target string
	// URL is the target without credentials, query or fragment.
	URL string
	// Attempt counts from 1.
	Attempt int
	// Time is when the attempt started.
	Time time.Time
	// Duration is how long it took.
	Duration time.Duration
	// StatusCode is the receiver's answer, 0 if there was none.
	StatusCode int
	// Error says why the attempt failed ("" if it succeeded).
	Error string
	// Outcome is "delivered", "retrying" (another attempt follows) or
	// "failed" (none does).
	Outcome string
}

// Dispatcher sends webhooks; its methods are safe for concurrent use.
type Dispatcher struct {
	opt    Options
	guard  guard
	client *http.Client
	ctx    context.Context // cancelled by Shutdown to stop retries
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	jobs  map[string]*jobState
	order []string // job ids, oldest first
}

// jobState is what the dispatcher remembers of one job.
type jobState struct {
	url     string          // the job's own target, "" if none
	started map[string]bool // targets already sent this job
	log     []Attempt
}

// target is one destination of a job's delivery.
type target struct {
	kind, url string
}

// New returns a Dispatcher. The server-wide URL is refused if malformed or
// if it names an address that is not allowed; one whose host does not
// resolve yet is accepted (it is checked again at every dial).
func New(opt Options) (*Dispatcher, error) {
	if len(opt.Secret) == 0 {
		return nil, errors.New("webhook: a secret is required")
	}
	if opt.Attempts <= 0 {
		opt.Attempts = defaultAttempts
	}
	if opt.BaseDelay <= 0 {
		opt.BaseDelay = defaultBaseDelay
	}
	if opt.Timeout <= 0 {
		opt.Timeout = defaultTimeout
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Resolver == nil {
		opt.Resolver = net.DefaultResolver
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Sleep == nil {
		opt.Sleep = sleep
	}
	if opt.Jitter == nil {
		opt.Jitter = func(d time.Duration) time.Duration { return d/2 + rand.N(d/2+1) }
	}
	g := guard{allowPrivate: opt.AllowPrivate, resolver: opt.Resolver}
	d := &Dispatcher{opt: opt, guard: g, jobs: map[string]*jobState{}}
	if opt.URL != "" {
		if _, err := parseTarget(opt.URL); err != nil {
			return nil, err
		}
		if err := d.Check(context.Background(), opt.URL); errors.Is(err, ErrForbidden) {
			return nil, err
		}
	}
	d.client = &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil, // a proxy would dial the target for us, past the guard
			DialContext:           g.dialer().DialContext,
			TLSHandshakeTimeout:   dialTimeout,
			ResponseHeaderTimeout: opt.Timeout,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       time.Minute,
		},
		// A redirect is a failed delivery, as Standard Webhooks advise.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	return d, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Check reports whether raw may be a webhook target: an http or https URL
// whose host resolves only to allowed addresses. Its errors are fit to
// show the client that gave the URL.
func (d *Dispatcher) Check(ctx context.Context, raw string) error {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	return d.guard.check(ctx, raw)
}

// Subscribe makes raw, which Check accepted, the own target of job id.
func (d *Dispatcher) Subscribe(id, raw string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.state(id).url = raw
}

// state returns the state of job id, remembering it if new; d.mu is held.
func (d *Dispatcher) state(id string) *jobState {
	st := d.jobs[id]
	if st == nil {
		st = &jobState{started: map[string]bool{}}
		d.remember(id, st)
	}
	return st
}

// remember adds the state of a new job, forgetting the oldest beyond
// maxJobs; d.mu is held.
func (d *Dispatcher) remember(id string, st *jobState) {
	d.jobs[id] = st
	d.order = append(d.order, id)
	for len(d.order) > maxJobs {
		delete(d.jobs, d.order[0])
		d.order = d.order[1:]
	}
}

// Finished sends job id to its targets, in the background, rendering it
// with render once. A target already sent this job is not sent it again,
// so Finished may be called more than once for a job (say by an event and
// by a caller that subscribed after the job may have ended).
func (d *Dispatcher) Finished(id string, render JobFunc) {
	d.mu.Lock()
	st := d.jobs[id]
	if st == nil {
		st = &jobState{started: map[string]bool{}}
	}
	var targets []target
	for _, t := range []target{{"job", st.url}, {"server", d.opt.URL}} {
		if t.url != "" && !st.started[t.url] { // the same URL twice gets one message
			st.started[t.url] = true
			targets = append(targets, t)
		}
	}
	if len(targets) > 0 && d.jobs[id] == nil {
		d.remember(id, st)
	}
	d.mu.Unlock()
	if len(targets) == 0 {
		return
	}
	d.wg.Go(func() {
		body, err := d.envelope(id, render)
		for _, t := range targets {
			msgID := "msg_" + uuid.NewString()
			if err != nil {
				d.record(id, Attempt{MessageID: msgID, Target: t.kind, URL: Redact(t.url), Attempt: 1,
					Time: d.opt.Now(), Error: err.Error(), Outcome: "failed"})
				d.opt.Logger.Error("rendering a webhook", "job", id, "err", err)
				continue
			}
			d.wg.Go(func() { d.deliver(id, t, msgID, body) })
		}
	})
}

// envelope renders job id in the Standard Webhooks envelope.
func (d *Dispatcher) envelope(id string, render JobFunc) ([]byte, error) {
	ctx, cancel := context.WithTimeout(d.ctx, d.opt.Timeout)
	defer cancel()
	status, job, err := render(ctx, id)
	if err != nil {
		return nil, err
	}
	return json.Marshal(struct {
		Type      string          `json:"type"`
		Timestamp string          `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}{"job." + status, d.opt.Now().UTC().Format(time.RFC3339Nano), job})
}

// deliver tries to send one message until it is accepted, the attempts
// are spent, the target is refused, or the dispatcher shuts down.
func (d *Dispatcher) deliver(id string, t target, msgID string, body []byte) {
	for n := 1; ; n++ {
		a := Attempt{MessageID: msgID, Target: t.kind, URL: Redact(t.url), Attempt: n, Time: d.opt.Now()}
		code, err := d.send(t.url, msgID, body)
		a.StatusCode, a.Duration = code, d.opt.Now().Sub(a.Time)
		// A refused target stays refused; after Shutdown no retry follows.
		last := n >= d.opt.Attempts || errors.Is(err, ErrForbidden) || d.ctx.Err() != nil
		switch {
		case err == nil:
			a.Outcome = "delivered"
		case last:
			a.Error, a.Outcome = err.Error(), "failed"
		default:
			a.Error, a.Outcome = err.Error(), "retrying"
		}
		d.record(id, a)
		if err == nil {
			return
		}
		if last || d.opt.Sleep(d.ctx, d.opt.Jitter(d.backoff(n))) != nil {
			d.opt.Logger.Warn("webhook not delivered", "job", id, "url", a.URL, "attempts", n, "err", err)
			return
		}
	}
}

// backoff is the nominal wait after failed attempt n: BaseDelay·2^(n-1),
// at most maxDelay.
func (d *Dispatcher) backoff(n int) time.Duration {
	delay := d.opt.BaseDelay
	for range n - 1 {
		if delay >= maxDelay/2 {
			return maxDelay
		}
		delay *= 2
	}
	return delay
}

// send makes one attempt and returns the receiver's status code, if any.
func (d *Dispatcher) send(raw, msgID string, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(d.ctx, d.opt.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, raw, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "gocomfy-webhook")
	now := d.opt.Now()
	req.Header.Set(HeaderID, msgID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(HeaderSignature, d.opt.Secret.Sign(msgID, now, body))
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("receiver answered %s", resp.Status)
	}
	return resp.StatusCode, nil
}

// record appends a to the log of job id.
func (d *Dispatcher) record(id string, a Attempt) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.state(id)
	st.log = append(st.log, a)
	if len(st.log) > maxLogPerJob {
		st.log = st.log[len(st.log)-maxLogPerJob:]
	}
}

// Deliveries returns the delivery log of job id, oldest first; nil if it
// has none (no target, not finished yet, or forgotten).
func (d *Dispatcher) Deliveries(id string) []Attempt {
	d.mu.Lock()
	defer d.mu.Unlock()
	if st := d.jobs[id]; st != nil {
		return append([]Attempt(nil), st.log...)
	}
	return nil
}

// Shutdown waits for the deliveries under way until ctx is done, then
// stops their retries and waits for them to return.
func (d *Dispatcher) Shutdown(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		d.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		d.cancel()
		<-done
		return ctx.Err()
	}
}
