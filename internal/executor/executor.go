package executor

import (
	"context"
	"encoding/json"
	"image"
	"log/slog"
	"sync"
	"time"

	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/pyjson"
)

// CacheMode selects how outputs are kept between prompts (ComfyUI's
// --cache-classic, --cache-lru, --cache-none and the default RAM-pressure
// cache).
type CacheMode int

// Cache modes.
const (
	// Classic keeps exactly the results of the latest prompt: at the start
	// of a prompt, entries the prompt does not use are dropped.
	Classic CacheMode = iota
	// LRU keeps up to Config.LRUSize results across prompts, evicting whole
	// prompt generations, oldest first.
	LRU
	// None keeps nothing across prompts; within a prompt values flow through
	// the schedule's per-run edge cache and are dropped once consumed.
	None
	// RAMPressure keeps results while the machine has RAM to spare.
	RAMPressure
)

func (m CacheMode) String() string {
	switch m {
	case Classic:
		return "classic"
	case LRU:
		return "lru"
	case None:
		return "none"
	case RAMPressure:
		return "ram"
	}
	return "unknown"
}

// Config configures an Executor. The zero value is a classic cache with
// ComfyUI's defaults elsewhere.
type Config struct {
	Cache CacheMode
	// LRUSize is the number of entries the LRU cache keeps (ComfyUI's
	// --cache-lru N); below 1 it means 1.
	LRUSize int
	// RAMHeadroom is, for the RAM-pressure cache, the available RAM in bytes
	// below which entries of the running prompt are evicted too (ComfyUI's
	// first --cache-ram value). 0 means ComfyUI's default: 10 % of the total
	// RAM, at least 2 GB and at most 10 GB.
	RAMHeadroom uint64
	// RAMInactiveHeadroom is the available RAM below which entries of older
	// prompts are evicted (ComfyUI's second --cache-ram value). 0 means
	// RAMHeadroom. ComfyUI's default is the total RAM, which evicts every
	// older entry after the first node of each prompt; gocomfy keeps them
	// while RAM allows, as the mode's name promises.
	RAMInactiveHeadroom uint64
	// MemAvailable reports the RAM available to new allocations; nil reads
	// MemAvailable from /proc/meminfo. ok is false when it cannot be known,
	// and then older entries are evicted as if RAM were short.
	MemAvailable func() (bytes uint64, ok bool)

	// Folders, DisableMetadata: what nodes see through node.Call.
	Folders         node.Folders
	DisableMetadata bool
	// Logger receives node failures and fingerprint warnings; nil discards.
	Logger *slog.Logger
	// Now is the clock of event timestamps; nil means time.Now.
	Now func() time.Time
}

// An Executor runs validated prompts one at a time with ComfyUI's
// semantics, and keeps node outputs between prompts in its cache.
type Executor struct {
	reg *node.Registry
	cfg Config
	log *slog.Logger

	mu    sync.Mutex // one prompt at a time; Reset waits for it
	cache outputCache
}

// New returns an executor that runs the classes of reg.
func New(reg *node.Registry, cfg Config) *Executor {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.LRUSize < 1 {
		cfg.LRUSize = 1
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Executor{reg: reg, cfg: cfg, log: log}
	e.cache = newOutputCache(cfg)
	return e
}

// Reset drops every cached output (POST /free {"free_memory": true}). It
// waits for a running prompt to finish.
func (e *Executor) Reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cache = newOutputCache(e.cfg)
}

// A Job is one prompt to execute.
type Job struct {
	PromptID string
	// Prompt has been validated and coerced (internal/graph); the executor
	// does not modify it.
	Prompt *node.Prompt
	// ExtraData is the prompt's extra_data object, sensitive keys included;
	// the executor reads "extra_pnginfo" from it.
	ExtraData json.RawMessage
	// ClientID is the WebSocket session the targeted events go to; "" means
	// none (ComfyUI then sends only its broadcast events, to everyone).
	ClientID string
	// Outputs are the output nodes to execute, in order
	// (outputs_to_execute).
	Outputs []string
}

// Event is one WebSocket message the executor emits, already routed as
// ComfyUI's send_sync and add_message route it: SID is the client to send
// to; All means every socket (ComfyUI's sid=None). Events ComfyUI would not
// send at all (targeted events of a prompt without client id) are not
// emitted.
//
// Data keys are in ComfyUI's order. Values are JSON-marshalable: strings,
// []string, []any, pyjson.Object, int64, pyjson.Float, nil, and
// ProgressNodes for the "nodes" of progress_state.
type Event struct {
	Type string
	Data pyjson.Object
	SID  string
	All  bool
	// Image is set on "preview" events, whose Data is the preview's
	// metadata (node_id, prompt_id, display_node_id, parent_node_id,
	// real_node_id); the sink encodes the binary frame.
	Image image.Image
}

// Sink receives the executor's events. It is called from the executor's
// goroutines (async nodes report progress from their own), one call at a
// time and in order; it must not block for long.
type Sink interface {
	Event(Event)
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(Event)

// Event calls f(e).
func (f SinkFunc) Event(e Event) { f(e) }

// Message is one entry of the history's status.messages: an event sent
// through ComfyUI's add_message, its data with "timestamp" last.
type Message struct {
	Type string
	Data pyjson.Object
}

// Outcome is what one prompt produced: the parts of the history entry the
// executor decides (ComfyUI's history_result and status).
type Outcome struct {
	// Success: every scheduled node ran or came from the cache. (ComfyUI
	// keeps the previous prompt's value when a dependency cycle stops the
	// prompt before any node fails; gocomfy reports failure.)
	Success bool
	// Interrupted: the context was cancelled while a node ran or was about
	// to run (execution_interrupted).
	Interrupted bool
	// Outputs maps node ids to the UI they produced or re-sent from the cache
	// in this run, in the order they did so (history "outputs").
	Outputs pyjson.Object
	// Meta maps the same ids to {node_id, display_node, parent_node,
	// real_node_id} (history "meta").
	Meta pyjson.Object
	// Messages are the status messages: execution_start, execution_cached,
	// then execution_success, execution_error or execution_interrupted.
	Messages []Message
	// Error is the data of the execution_error message, nil when none was
	// sent (success, interrupt).
	Error pyjson.Object
}

// Execute runs job, emitting its events to sink, and returns its outcome.
// Cancelling ctx interrupts the prompt: the running node is asked to stop
// through its own context, and no further node starts. Execute runs one
// prompt at a time; concurrent calls wait.
func (e *Executor) Execute(ctx context.Context, job Job, sink Sink) Outcome {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := newRun(ctx, e, job, sink)
	defer r.close()
	return r.execute()
}
