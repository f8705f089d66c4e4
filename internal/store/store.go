// Package store defines the records gocomfy keeps (jobs: the queue and the
// history) and the Store interface that keeps them durable. Implementations
// live in sub-packages (sqlite, postgres) and all pass the conformance suite
// in storetest; there is no SQL in this package.
//
// A job is one submitted prompt. It moves pending → in_progress →
// completed | failed | cancelled. The pending set is the queue: it is ordered
// by (Number, ID) as ComfyUI's heap is. Finished jobs are the history: ordered
// by the time they finished (ComfyUI's insertion-ordered history dict).
package store

import (
	"context"
	"encoding/json"
	"errors"
)

// Status is a job's state, with the names of ComfyUI's jobs API.
type Status string

// Job states. Hyrum's law: these strings are the /api/jobs "status" values.
const (
	Pending    Status = "pending"
	InProgress Status = "in_progress"
	Completed  Status = "completed"
	Failed     Status = "failed"
	Cancelled  Status = "cancelled"
)

// Valid reports whether s is one of the five job states.
func (s Status) Valid() bool {
	switch s {
	case Pending, InProgress, Completed, Failed, Cancelled:
		return true
	}
	return false
}

// Finished reports whether s is a terminal state (the job is in the history).
func (s Status) Finished() bool { return s == Completed || s == Failed || s == Cancelled }

// ErrNotFound is returned when no job has the requested id.
var ErrNotFound = errors.New("store: not found")

// ErrNoJob is returned by Claim when no job is pending.
var ErrNoJob = errors.New("store: no pending job")

// Job is one prompt: what was submitted and, once finished, its history entry.
// JSON fields hold raw JSON exactly as it is served (ComfyUI's key order kept);
// a store gives them back byte for byte, and nil when absent (a zero-length
// value counts as absent).
type Job struct {
	ID     string  // prompt_id
	Number float64 // ComfyUI's queue "number" (priority); smaller runs first
	// NumberIsFloat records that the client sent "number", which ComfyUI
	// converts with float() and so echoes as 5.0, not 5.
	NumberIsFloat bool

	Prompt           json.RawMessage // the API prompt after validation's coercions
	ExtraData        json.RawMessage // extra_data without the sensitive keys (object)
	Sensitive        json.RawMessage // sensitive extra_data keys (object or nil); never served
	OutputsToExecute []string        // validated output node ids, in execution order

	ClientID   string // extra_data.client_id
	WorkflowID string // extra_data.extra_pnginfo.workflow.id
	UserID     string // owner (the comfy-user / API key user); "" for the default user

	Status     Status
	CreateTime int64 // ms since the epoch (extra_data.create_time)
	StartTime  int64 // ms since the epoch the execution started; 0 if not started
	EndTime    int64 // ms since the epoch the execution ended; 0 if not ended

	// History fields, set by Finish.
	Outputs        json.RawMessage // {"node_id": ui, ...} or nil
	Meta           json.RawMessage // {"node_id": {node_id, display_node, parent_node, real_node_id}} or nil
	StatusStr      string          // "success" or "error" (ComfyUI's status.status_str)
	Messages       json.RawMessage // status.messages: [[event, data], ...] or nil
	ExecutionError json.RawMessage // the execution_error message data, or nil
	OutputsCount   int             // /api/jobs outputs_count
	PreviewOutput  json.RawMessage // /api/jobs preview_output, or nil

	// Worker is the id of the instance that claimed the job (scale-out); "" when pending.
	Worker string

	// v2 API fields, set by SetWebhookURL and SetNodeTiming; Enqueue
	// clears them.
	WebhookURL string          // the job's own webhook target, "" if none; never served
	NodeTiming json.RawMessage // per-node timing recorded as the job ran, or nil
}

// Result is what Finish records for a job that ran (or was cancelled while running).
type Result struct {
	Status         Status // Completed, Failed or Cancelled
	EndTime        int64
	Outputs        json.RawMessage
	Meta           json.RawMessage
	StatusStr      string
	Messages       json.RawMessage
	ExecutionError json.RawMessage
	OutputsCount   int
	PreviewOutput  json.RawMessage
}

// HistoryQuery selects a window of finished jobs, oldest first, with
// ComfyUI's /history semantics: when Offset < 0 and MaxItems >= 0 the window
// is the newest MaxItems jobs; otherwise skip Offset jobs (Offset < 0 counts
// as 0) and return at most MaxItems (MaxItems < 0: no limit).
//
// MaxItems < 0 means max_items was not given. ComfyUI's get_history tests
// max_items only after adding an entry, so a max_items <= 0 that is given
// returns the one entry at offset when offset >= 0, and nothing when
// offset < 0; a caller mirroring that quirk maps it to MaxItems 1 or 0.
type HistoryQuery struct {
	MaxItems int
	Offset   int
	UserID   *string // nil: every user
}

// SortBy is the key of a job listing.
type SortBy string

// Job listing sort keys.
const (
	SortCreatedAt         SortBy = "created_at"         // CreateTime
	SortExecutionDuration SortBy = "execution_duration" // EndTime-StartTime, 0 if either is 0
)

// JobQuery filters and pages the job listing of /api/jobs.
type JobQuery struct {
	Statuses   []Status // empty: all
	WorkflowID string   // "": any
	UserID     *string  // nil: every user
	SortBy     SortBy   // default SortCreatedAt
	Ascending  bool     // default descending
	Offset     int      // >= 0
	Limit      int      // <= 0: no limit
}

// Notifier is implemented by a store that can tell its users when a job
// was queued, by any of the instances sharing it (PostgreSQL's
// LISTEN/NOTIFY), so that an idle worker needn't wait for its next poll.
type Notifier interface {
	// Wait returns when a job was queued since the previous Wait returned
	// (or since the first call), or with an error when ctx is done or the
	// notifications are lost. It may also return spuriously.
	Wait(ctx context.Context) error
}

// Interrupter is implemented by a store shared by several instances
// (PostgreSQL's LISTEN/NOTIFY): it carries a request to stop a running job
// to the instance that runs it (the job's Worker).
type Interrupter interface {
	// PublishInterrupt asks every instance to stop job id if it runs it.
	PublishInterrupt(ctx context.Context, id string) error
	// ListenInterrupts calls fn with the id of each job an instance asked
	// to stop, until ctx is done or the notifications are lost; it
	// returns the error. Requests published while no one listens are lost.
	ListenInterrupts(ctx context.Context, fn func(id string)) error
}

// Lease is how long, in ms, a claimed job belongs to its worker unless the
// worker's Heartbeat extends it. Several heartbeats fit in it, so that one
// late beat doesn't lose the job.
const Lease = 60_000

// Store keeps the queue and the history durably. Every method is safe for
// concurrent use. Implementations: sqlite (default), postgres (scale-out).
type Store interface {
	// Enqueue stores a new pending job. CreateTime, Number and ID are set by
	// the caller. Resubmitting an existing id replaces the old job, as
	// ComfyUI's history overwrites it, whatever its state: a finished job
	// leaves the history, and a running one can no longer be finished
	// (Finish returns ErrNotFound).
	//
	// Only the submission fields are stored (ID, Number, NumberIsFloat,
	// Prompt, ExtraData, Sensitive, OutputsToExecute, ClientID, WorkflowID,
	// UserID, CreateTime). An empty ID, a NaN Number or a Status other than
	// "" or Pending is an error.
	Enqueue(ctx context.Context, j *Job) error

	// NextNumber returns the next value of ComfyUI's prompt counter, the
	// "number" of a prompt submitted without one (negated for front=true).
	// Numbers are integers that increase with every call, across all the
	// instances sharing the store, so no two prompts get the same one; a
	// new store starts at 0. After a restart, numbering continues behind
	// the prompts that survived: past every number handed out before
	// (PostgreSQL's sequence), or past the highest pending number (SQLite,
	// whose counter is in memory, as ComfyUI's is).
	NextNumber(ctx context.Context) (float64, error)

	// Claim moves the pending job with the smallest (Number, ID) to
	// in_progress, sets Worker and StartTime, leases it to worker until
	// startTime+Lease, and returns it; ErrNoJob if none.
	Claim(ctx context.Context, worker string, startTime int64) (*Job, error)

	// Finish records the result of an in_progress job claimed by worker,
	// which joins the history (as its newest entry). ErrNotFound if the job
	// is not in_progress for that worker (a late Finish of a job whose lease
	// ran out, and which another worker may run now); an error if r.Status
	// is not a finished state.
	Finish(ctx context.Context, worker, id string, r Result) error

	// Heartbeat extends the leases of worker's running jobs to until (ms
	// since the epoch; a lease never shrinks) and returns how many running
	// jobs worker has. A worker calls it every Lease/4 or so while it runs
	// a job; 0 then means the job is no longer its own (taken back after
	// an expiry, or replaced by a resubmission).
	Heartbeat(ctx context.Context, worker string, until int64) (int, error)

	// RequeueExpired takes back the running jobs whose lease ended before
	// now: their worker died or lost the database. With r nil they go back
	// to the queue at their old place (number and id) to run again;
	// otherwise they are finished with r, which must be a finished state.
	// It returns their ids in claim order. Any worker may call it at any
	// time: each job is taken back once, by one caller.
	RequeueExpired(ctx context.Context, now int64, r *Result) ([]string, error)

	// Queue returns the running jobs and the pending jobs, each in run order.
	Queue(ctx context.Context) (running, pending []*Job, err error)

	// QueueLen returns the number of pending and running jobs.
	QueueLen(ctx context.Context) (pending, running int, err error)

	// DeletePending removes the listed jobs if they are still pending and
	// returns the ids actually removed. Unknown or started ids are ignored.
	DeletePending(ctx context.Context, ids []string) ([]string, error)

	// ClearPending removes every pending job and returns how many.
	ClearPending(ctx context.Context) (int, error)

	// RequeueRunning is called by a worker at start-up, before its first
	// Claim: the in_progress jobs of worker (left by its previous run) are
	// finished with r (Failed, with a message saying the server stopped),
	// in claim order, and their number is returned. Other workers' jobs are
	// left alone.
	RequeueRunning(ctx context.Context, worker string, r Result) (int, error)

	// Get returns the job with the given id, in any state; ErrNotFound if none.
	// Get, Claim, Queue, History and Jobs return complete jobs (Sensitive
	// included: not serving it is the caller's business).
	Get(ctx context.Context, id string) (*Job, error)

	// History returns finished jobs, oldest first, as selected by q.
	History(ctx context.Context, q HistoryQuery) ([]*Job, error)

	// DeleteHistory removes the listed finished jobs; ClearHistory removes all.
	DeleteHistory(ctx context.Context, ids []string) error
	ClearHistory(ctx context.Context) error

	// Jobs returns one page of the job listing and the total number of jobs
	// matching the filters (before paging). Ties in the sort key keep the
	// listing order: running (in claim order), then pending in run order,
	// then finished oldest first, in both sort orders (ComfyUI sorts the
	// listing stably with reverse=True for desc). An invalid status or sort
	// key is an error.
	Jobs(ctx context.Context, q JobQuery) (jobs []*Job, total int, err error)

	// TrimHistory deletes the oldest finished jobs beyond keep (< 0 counts
	// as 0); it returns how many were deleted.
	TrimHistory(ctx context.Context, keep int) (int, error)

	// Close releases the store's resources.
	Close() error

	V2Store
}

// IdempotencyTTL is how long, in ms, an Idempotency-Key is remembered.
const IdempotencyTTL = 24 * 60 * 60 * 1000

// IdempotencyKey is the record of a request that carried an
// Idempotency-Key: which job it creates, and whether it was created.
type IdempotencyKey struct {
	UserID  string // the key's scope: keys of different users never meet
	Key     string
	Body    string // a digest of the request body
	JobID   string // the job the request creates (chosen before it is submitted)
	Done    bool   // the job was created
	Created int64  // ms since the epoch the key was reserved; it expires IdempotencyTTL later
}

// V2Store is what the Comfy API v2 keeps besides the jobs themselves:
// Idempotency-Keys, shared by every instance of the store, and two
// attachments of a job (its webhook target and its per-node timing),
// removed with the job.
type V2Store interface {
	// ReserveIdempotencyKey records k, not Done, unless a live record of
	// (k.UserID, k.Key) exists, which it returns unchanged. A record is
	// live until IdempotencyTTL after its Created (k.Created is now),
	// except an unfinished one whose JobID is abandoned (non-empty): the
	// caller found it stale and its job absent, and k takes its place.
	// It returns nil when k was recorded. Expired records are removed.
	ReserveIdempotencyKey(ctx context.Context, k IdempotencyKey, abandoned string) (*IdempotencyKey, error)

	// FinishIdempotencyKey marks the record of (userID, key) whose JobID is
	// jobID as Done; any other record is left alone.
	FinishIdempotencyKey(ctx context.Context, userID, key, jobID string) error

	// ReleaseIdempotencyKey removes the record of (userID, key) if its
	// JobID is jobID and it is not Done: its request failed, so a retry
	// is handled anew.
	ReleaseIdempotencyKey(ctx context.Context, userID, key, jobID string) error

	// SetWebhookURL records the webhook target of job id (read back as
	// Job.WebhookURL); ErrNotFound if there is no such job.
	SetWebhookURL(ctx context.Context, id, url string) error

	// SetNodeTiming records the per-node timing of job id (read back as
	// Job.NodeTiming, raw JSON); ErrNotFound if there is no such job.
	SetNodeTiming(ctx context.Context, id string, timing json.RawMessage) error
}
