// Package queue is the prompt life cycle over the store: submission
// (validation, numbering, extra_data), the worker that claims pending
// prompts and runs them through the executor, interrupts and cancels, and
// the read models ComfyUI's routes serve (queue items, history entries,
// jobs). Nothing here knows about HTTP.
//
// Unlike ComfyUI's in-memory PromptQueue, every accepted prompt is in the
// store before Submit returns, so a crash or restart loses nothing: pending
// prompts run after a restart in their order, and a prompt that was running
// when the server died is recorded as failed with a message saying so.
//
// Several instances may share one store (PostgreSQL). Each claims with its
// own Worker id and keeps the lease of the prompt it runs with a heartbeat
// every LeaseInterval; every instance also takes back, on the same period,
// the prompts whose lease ran out (their instance died or lost the
// database): they go back to the queue at their old place and run again,
// on whichever instance claims them first, or, with FailLostPrompts, are
// recorded as failed. An idle instance polls the
// store every PollInterval, or waits on the store's notifications when it
// is given a store.Notifier, so that it runs prompts queued on another
// instance. Given a store.Interrupter, an interrupt or cancel of a prompt
// that another instance runs is passed on to that instance, and a global
// interrupt (POST /interrupt without a prompt_id) stops the prompts that
// every instance runs, as ComfyUI's stops whatever its one executor runs.
// Prompt numbers come from the store's counter, which the instances
// share, so that they are unique and ordered across them.
package queue

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/gocomfy/gocomfy/internal/executor"
	"github.com/gocomfy/gocomfy/internal/store"
	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/pyjson"
)

// Config configures a Queue.
type Config struct {
	Store    store.Store
	Registry *node.Registry
	Executor *executor.Executor
	// Sink receives the WebSocket events of the queue and of the executor.
	Sink executor.Sink
	// MaxHistory is how many finished jobs are kept (0: no limit).
	MaxHistory int
	// MaxPending bounds the pending queue (0: no bound); Submit returns
	// ErrQueueFull past it.
	MaxPending int
	// Worker identifies this instance in the store. An instance that
	// restarts under the same id finishes, as failed, the prompts it ran
	// when it stopped; under a new id those wait for their lease to run
	// out.
	Worker string
	// LeaseInterval is how often the running prompt's lease is extended
	// and expired leases are taken back; 0 is store.Lease/4.
	LeaseInterval time.Duration
	// PollInterval is how often an idle queue looks for prompts queued by
	// other instances; 0 is a second.
	PollInterval time.Duration
	// Notifier, if not nil, wakes an idle queue when a prompt is queued on
	// any instance, sooner than the poll (the store, when it is one).
	Notifier store.Notifier
	// Interrupter, if not nil, carries interrupts and cancels of prompts
	// that run on another instance to it (the store, when it is one).
	Interrupter store.Interrupter
	// FailLostPrompts records a prompt whose lease ran out (its instance
	// died mid-run) as failed instead of queueing it again: for prompts
	// that may kill their instance, or must not run twice even one after
	// the other. Whichever instance takes the prompt back decides, so
	// instances sharing a store should agree.
	FailLostPrompts bool
	Logger          *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// ErrQueueFull is returned by Submit when the pending queue is at its bound.
var ErrQueueFull = errors.New("queue is full")

// A Queue accepts prompts and runs them one at a time.
type Queue struct {
	cfg  Config
	log  *slog.Logger
	wake chan struct{}

	mu      sync.Mutex
	running *runningJob
	free    bool // /free free_memory asked while a prompt ran
}

type runningJob struct {
	id       string
	clientID string
	cancel   context.CancelFunc
}

// New opens a queue over cfg.Store. A prompt the store still shows running
// (the server stopped while it ran) is finished as failed.
func New(ctx context.Context, cfg Config) (*Queue, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.LeaseInterval == 0 {
		cfg.LeaseInterval = store.Lease * time.Millisecond / 4
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = time.Second
	}
	q := &Queue{cfg: cfg, log: cfg.Logger, wake: make(chan struct{}, 1)}
	msg := "Server stopped while the prompt was running; it was not completed."
	n, err := cfg.Store.RequeueRunning(ctx, cfg.Worker, q.stoppedResult(msg))
	if err != nil {
		return nil, err
	}
	if n > 0 {
		q.log.Warn("prompts were running when the server stopped; recorded as failed", "count", n)
	}
	return q, nil
}

func (q *Queue) stoppedResult(message string) store.Result {
	now := q.cfg.Now().UnixMilli()
	errData := pyjson.Object{
		{Key: "prompt_id", Value: ""}, {Key: "node_id", Value: nil}, {Key: "node_type", Value: nil},
		{Key: "executed", Value: []string{}}, {Key: "exception_message", Value: message},
		{Key: "exception_type", Value: "ServerRestart"}, {Key: "traceback", Value: []string{}},
		{Key: "current_inputs", Value: pyjson.Object{}}, {Key: "current_outputs", Value: []string{}},
		{Key: "timestamp", Value: now},
	}
	raw, _ := json.Marshal(errData)
	msgs, _ := json.Marshal([]any{[]any{"execution_error", json.RawMessage(raw)}})
	return store.Result{
		Status: store.Failed, EndTime: now, StatusStr: "error",
		Messages: msgs, ExecutionError: raw,
	}
}

// Run claims and executes prompts until ctx is done. It returns once its
// helpers have stopped too, so that the store may be closed then.
func (q *Queue) Run(ctx context.Context) error {
	var helpers sync.WaitGroup // they stop when ctx is done, as Run does
	defer helpers.Wait()
	helpers.Go(func() { q.takeBackExpired(ctx) })
	if q.cfg.Notifier != nil {
		helpers.Go(func() { q.forward(ctx, q.cfg.Notifier) })
	}
	if q.cfg.Interrupter != nil {
		helpers.Go(func() { q.obeyInterrupts(ctx, q.cfg.Interrupter) })
	}
	poll := time.NewTicker(q.cfg.PollInterval)
	defer poll.Stop()
	for {
		job, err := q.cfg.Store.Claim(ctx, q.cfg.Worker, q.cfg.Now().UnixMilli())
		switch {
		case errors.Is(err, store.ErrNoJob):
			q.freeIfAsked(true)
			select {
			case <-ctx.Done():
				return nil
			case <-q.wake:
			case <-poll.C:
			}
			continue
		case err != nil:
			if ctx.Err() != nil {
				return nil
			}
			q.log.Error("claiming a prompt", "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
			continue
		}
		q.execute(ctx, job)
	}
}

// forward wakes Run when the store says a prompt was queued, by any
// instance, until ctx is done.
func (q *Queue) forward(ctx context.Context, n store.Notifier) {
	for {
		if err := n.Wait(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			// The poll covers the gap; don't spin on a dead connection.
			q.log.Warn("waiting for queue notifications", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(q.cfg.PollInterval):
			}
			continue
		}
		q.notify()
	}
}

// obeyInterrupts stops the running prompt when another instance asks
// for it, until ctx is done.
func (q *Queue) obeyInterrupts(ctx context.Context, in store.Interrupter) {
	for {
		err := in.ListenInterrupts(ctx, func(id string) {
			if id != "" { // "" would stop whatever runs here
				q.interruptLocal(id)
			}
		})
		if ctx.Err() != nil {
			return
		}
		// Requests published until it listens again are lost: soon, then.
		q.log.Warn("listening for interrupts from other instances", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(q.cfg.PollInterval):
		}
	}
}

// lostMessage is the error of a prompt that FailLostPrompts fails.
const lostMessage = "The instance running the prompt stopped (its lease expired); it was not completed."

// takeBackExpired puts the prompts whose lease ran out back in the queue
// (or, with FailLostPrompts, in the history as failed), every
// LeaseInterval until ctx is done. Any instance may take back any other's:
// the store makes each prompt taken back once.
func (q *Queue) takeBackExpired(ctx context.Context) {
	tick := time.NewTicker(q.cfg.LeaseInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		var failed *store.Result
		if q.cfg.FailLostPrompts {
			r := q.stoppedResult(lostMessage)
			failed = &r
		}
		ids, err := q.cfg.Store.RequeueExpired(ctx, q.cfg.Now().UnixMilli(), failed)
		if err != nil {
			if ctx.Err() == nil {
				q.log.Error("taking back expired prompts", "err", err)
			}
			continue
		}
		if len(ids) > 0 {
			if failed != nil {
				q.log.Warn("prompts whose instance stopped are recorded as failed", "prompt_ids", ids)
			} else {
				q.log.Warn("prompts whose instance stopped are queued again", "prompt_ids", ids)
			}
			q.broadcastStatus()
			q.notify()
		}
	}
}

// keepLease extends the lease of the running job every LeaseInterval
// until ctx is done. If the job is no longer this worker's (its lease ran
// out and another instance took it back, or it was resubmitted), it calls
// lost: the run must stop, so that it never runs twice at once.
func (q *Queue) keepLease(ctx context.Context, id string, lost func()) {
	tick := time.NewTicker(q.cfg.LeaseInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		until := q.cfg.Now().UnixMilli() + store.Lease
		n, err := q.cfg.Store.Heartbeat(ctx, q.cfg.Worker, until)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				q.log.Error("extending the running prompt's lease", "prompt_id", id, "err", err)
			}
		case n == 0:
			q.log.Warn("the running prompt was taken back from this instance; stopping it", "prompt_id", id)
			lost()
			return
		}
	}
}

func (q *Queue) notify() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// execute runs one claimed job and records its result. The result is stored
// even when ctx ends mid-run (shutdown): the job is then interrupted.
func (q *Queue) execute(ctx context.Context, job *store.Job) {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	q.mu.Lock()
	q.running = &runningJob{id: job.ID, clientID: job.ClientID, cancel: cancel}
	q.mu.Unlock()
	q.broadcastStatus()
	var lease sync.WaitGroup
	lease.Go(func() { q.keepLease(runCtx, job.ID, cancel) })

	start := time.Now()
	outcome := q.run(runCtx, job)
	cancel()
	lease.Wait() // no heartbeat after Finish
	result := resultOf(outcome, q.cfg.Now().UnixMilli())
	finishCtx := context.WithoutCancel(ctx)
	if err := q.cfg.Store.Finish(finishCtx, q.cfg.Worker, job.ID, result); err != nil {
		q.log.Error("recording a finished prompt", "prompt_id", job.ID, "err", err)
	}
	if q.cfg.MaxHistory > 0 {
		if _, err := q.cfg.Store.TrimHistory(finishCtx, q.cfg.MaxHistory); err != nil {
			q.log.Error("trimming the history", "err", err)
		}
	}
	q.mu.Lock()
	q.running = nil
	q.mu.Unlock()
	q.log.Info("prompt finished", "prompt_id", job.ID, "status", result.Status,
		"duration", time.Since(start).Round(time.Millisecond))
	q.broadcastStatus()
	if job.ClientID != "" {
		q.cfg.Sink.Event(executor.Event{Type: "executing", SID: job.ClientID,
			Data: pyjson.Object{{Key: "node", Value: nil}, {Key: "prompt_id", Value: job.ID}}})
	}
	q.freeIfAsked(false)
}

func (q *Queue) run(ctx context.Context, job *store.Job) executor.Outcome {
	prompt, err := node.ParsePrompt(job.Prompt)
	if err != nil { // stored prompts were validated; this means a corrupt store
		q.log.Error("stored prompt does not parse", "prompt_id", job.ID, "err", err)
		return executor.Outcome{}
	}
	extra := job.ExtraData
	if len(job.Sensitive) > 0 {
		extra = mergeObjects(job.ExtraData, job.Sensitive)
	}
	return q.cfg.Executor.Execute(ctx, executor.Job{
		PromptID: job.ID, Prompt: prompt, ExtraData: extra,
		ClientID: job.ClientID, Outputs: job.OutputsToExecute,
	}, q.cfg.Sink)
}

func mergeObjects(a, b json.RawMessage) json.RawMessage {
	oa, err := pyjson.DecodeObject(a)
	if err != nil {
		return a
	}
	ob, err := pyjson.DecodeObject(b)
	if err != nil {
		return a
	}
	for _, f := range ob {
		oa.Set(f.Key, f.Value)
	}
	out, _ := json.Marshal(oa)
	return out
}

// resultOf turns an execution outcome into the stored history entry.
func resultOf(o executor.Outcome, now int64) store.Result {
	r := store.Result{EndTime: now, StatusStr: "success", Status: store.Completed}
	switch {
	case o.Interrupted:
		r.Status, r.StatusStr = store.Cancelled, "error"
	case !o.Success:
		r.Status, r.StatusStr = store.Failed, "error"
	}
	r.Outputs = marshalRaw(o.Outputs)
	r.Meta = marshalRaw(o.Meta)
	msgs := make([]any, len(o.Messages))
	for i, m := range o.Messages {
		msgs[i] = []any{m.Type, m.Data}
	}
	r.Messages, _ = json.Marshal(msgs)
	if o.Error != nil {
		r.ExecutionError = marshalRaw(o.Error)
	}
	r.OutputsCount, r.PreviewOutput = summarizeOutputs(o.Outputs)
	return r
}

func marshalRaw(o pyjson.Object) json.RawMessage {
	if o == nil {
		o = pyjson.Object{}
	}
	b, _ := json.Marshal(o)
	return b
}

// Interrupt stops the running prompt; with a non-empty promptID only if
// that prompt is the one running, here or, given an Interrupter, on
// another instance. Without a promptID it is ComfyUI's global interrupt,
// which stops whatever its one executor runs: here every prompt running
// when it is called stops, this instance's and, given an Interrupter,
// the other instances'. It reports whether a prompt was stopped (for
// another instance: asked to stop).
func (q *Queue) Interrupt(promptID string) bool {
	stopped := q.interruptLocal(promptID)
	if (stopped && promptID != "") || q.cfg.Interrupter == nil {
		return stopped
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var running []*store.Job
	if promptID != "" {
		job, err := q.cfg.Store.Get(ctx, promptID)
		if err != nil {
			return false
		}
		running = []*store.Job{job}
	} else {
		jobs, _, err := q.cfg.Store.Jobs(ctx, store.JobQuery{Statuses: []store.Status{store.InProgress}})
		if err != nil {
			q.log.Error("listing the running prompts to interrupt them", "err", err)
			return stopped
		}
		running = jobs
	}
	for _, job := range running {
		if job.Status != store.InProgress || job.Worker == q.cfg.Worker {
			continue // not running, or this instance's (stopped above)
		}
		if err := q.cfg.Interrupter.PublishInterrupt(ctx, job.ID); err != nil {
			q.log.Error("asking another instance to interrupt a prompt", "prompt_id", job.ID, "worker", job.Worker, "err", err)
			continue
		}
		stopped = true
	}
	return stopped
}

// interruptLocal stops the prompt running on this instance, if it is
// promptID or promptID is "", and reports whether it did.
func (q *Queue) interruptLocal(promptID string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.running == nil || (promptID != "" && q.running.id != promptID) {
		return false
	}
	q.running.cancel()
	return true
}

// Cancel stops job id if it runs, or removes it if it is pending; it
// reports whether anything happened (the jobs API's "cancelled").
func (q *Queue) Cancel(ctx context.Context, id string) (bool, error) {
	if q.Interrupt(id) {
		return true, nil
	}
	removed, err := q.cfg.Store.DeletePending(ctx, []string{id})
	if err != nil {
		return false, err
	}
	if len(removed) > 0 {
		q.broadcastStatus()
		return true, nil
	}
	return q.Interrupt(id), nil // it may have started meanwhile
}

// Delete removes pending prompts (POST /queue {"delete"}).
func (q *Queue) Delete(ctx context.Context, ids []string) error {
	removed, err := q.cfg.Store.DeletePending(ctx, ids)
	if err == nil && len(removed) > 0 {
		q.broadcastStatus()
	}
	return err
}

// Clear removes every pending prompt (POST /queue {"clear"}).
func (q *Queue) Clear(ctx context.Context) error {
	_, err := q.cfg.Store.ClearPending(ctx)
	if err == nil {
		q.broadcastStatus()
	}
	return err
}

// Free drops the executor's caches (POST /free {"free_memory": true}): at
// once when idle, else after the running prompt.
func (q *Queue) Free() {
	q.mu.Lock()
	q.free = true
	q.mu.Unlock()
	q.notify()
}

func (q *Queue) freeIfAsked(idle bool) {
	q.mu.Lock()
	free := q.free && (idle || q.running == nil)
	if free {
		q.free = false
	}
	q.mu.Unlock()
	if free {
		q.cfg.Executor.Reset()
	}
}

// Remaining returns queue_remaining: pending plus running prompts.
func (q *Queue) Remaining(ctx context.Context) int {
	pending, running, err := q.cfg.Store.QueueLen(ctx)
	if err != nil {
		q.log.Error("counting the queue", "err", err)
	}
	return pending + running
}

// StatusData is the data of a status message: {"status": {"exec_info":
// {"queue_remaining": N}}}.
func StatusData(remaining int) pyjson.Object {
	return pyjson.Object{{Key: "status", Value: pyjson.Object{{Key: "exec_info",
		Value: pyjson.Object{{Key: "queue_remaining", Value: remaining}}}}}}
}

func (q *Queue) broadcastStatus() {
	q.cfg.Sink.Event(executor.Event{Type: "status", All: true,
		Data: StatusData(q.Remaining(context.Background()))})
}

// Running returns the id and client id of the running prompt, if any.
func (q *Queue) Running() (promptID, clientID string, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.running == nil {
		return "", "", false
	}
	return q.running.id, q.running.clientID, true
}
