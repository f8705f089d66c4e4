// Package event fans WebSocket messages out to connected clients.
//
// ComfyUI sends every event through one publisher loop, so one slow client
// stalls everyone, and an event addressed to a client that is not connected
// (yet) is lost. The Hub instead gives each client its own bounded outbox:
//
//   - progress-like messages (progress, progress_state, previews) supersede an
//     unsent older message of the same kind for the same node once a client
//     falls behind, and are the first to be dropped when an outbox is full;
//   - other messages (executing, executed, execution_*, status) are never
//     dropped: a client whose outbox of such messages overflows is
//     disconnected, so that it reconnects and resynchronises;
//   - messages addressed to a client id that is not connected are kept for a
//     while (Hub.HoldFor) and delivered when it connects: SDKs that open their
//     WebSocket only after POST /prompt returns still see a fast prompt finish.
//
// A client that reconnects with the same id replaces the old connection; the
// old one is closed and its cleanup never removes the new one.
package event

import (
	"sync"
	"time"
)

// A Frame is one WebSocket message, already encoded.
type Frame struct {
	Binary bool
	Data   []byte
	// Coalesce, when non-empty, identifies a progress-like message: an unsent
	// frame with the same key is replaced, and the frame may be dropped when
	// the outbox is full.
	Coalesce string
	// Prompt and Seq number the JSON events addressed to a prompt's client
	// (see replay.go); Seq is 0 on every other frame.
	Prompt string
	Seq    uint64
	// Gap marks a replay_gap message: the events of Prompt up to Seq are
	// lost to its client, and are not to be sent to it any more.
	Gap bool
}

// Limits of one outbox.
const (
	// coalesceAfter is the backlog past which progress frames supersede
	// older ones; below it every frame is delivered, in ComfyUI's order.
	coalesceAfter = 32
	maxDroppable  = 256  // progress-like frames waiting
	maxFrames     = 4096 // all frames waiting; past it the client is cut off
	maxHeld       = 512  // frames held for a client id that is not connected
)

// Hub routes frames to clients by id. The zero value is not usable; use NewHub.
type Hub struct {
	mu      sync.Mutex
	clients map[string]*Outbox
	held    map[string]*heldFrames
	now     func() time.Time
	// HoldFor is how long frames for a disconnected client id are kept.
	HoldFor time.Duration
}

type heldFrames struct {
	frames []Frame
	until  time.Time
}

// NewHub returns an empty hub that holds frames for absent clients 60 s.
func NewHub() *Hub {
	return &Hub{clients: map[string]*Outbox{}, held: map[string]*heldFrames{}, now: time.Now, HoldFor: time.Minute}
}

// Connect registers an outbox for client id, replacing (and closing) any
// previous one, and queues first, then the frames held for id.
func (h *Hub) Connect(id string, first ...Frame) *Outbox {
	return h.attach(id, newOutbox(), first)
}

func newOutbox() *Outbox {
	return &Outbox{ready: make(chan struct{}, 1), done: make(chan struct{})}
}

// newReplayOutbox returns the outbox of a client that opted in to replay:
// it sends each numbered event once, in order (see Outbox.push), and none
// of the events the client says it has seen (since).
func newReplayOutbox(since []Position) *Outbox {
	o := newOutbox()
	o.sent = make(map[string]sentRange, len(since))
	for _, p := range since {
		o.setSent(p.Prompt, sentRange{last: p.After})
	}
	return o
}

// attach registers o for client id as Connect does.
func (h *Hub) attach(id string, o *Outbox, first []Frame) *Outbox {
	for _, f := range first {
		o.push(f)
	}
	h.mu.Lock()
	old := h.clients[id]
	h.clients[id] = o
	if held := h.held[id]; held != nil {
		delete(h.held, id)
		if h.now().Before(held.until) {
			for _, f := range held.frames {
				o.push(f)
			}
		}
	}
	h.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return o
}

// Disconnect removes o if it is still the outbox registered for id.
func (h *Hub) Disconnect(id string, o *Outbox) {
	h.mu.Lock()
	if h.clients[id] == o {
		delete(h.clients, id)
	}
	h.mu.Unlock()
	o.Close()
}

// Connected reports whether a client with the given id is connected.
func (h *Hub) Connected(id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.clients[id] != nil
}

// Len returns the number of connected clients.
func (h *Hub) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// Send queues f for client id; if it is not connected, f is held for it.
func (h *Hub) Send(id string, f Frame) {
	h.mu.Lock()
	o := h.clients[id]
	if o == nil {
		h.hold(id, f)
		h.mu.Unlock()
		return
	}
	h.mu.Unlock()
	if !o.push(f) {
		h.Disconnect(id, o)
	}
}

func (h *Hub) hold(id string, f Frame) {
	now := h.now()
	held := h.held[id]
	if held == nil || now.After(held.until) {
		// Forget the ids that expired, so held frames do not accumulate.
		for k, v := range h.held {
			if now.After(v.until) {
				delete(h.held, k)
			}
		}
		held = &heldFrames{}
		h.held[id] = held
	}
	held.until = now.Add(h.HoldFor)
	if f.Coalesce != "" {
		// Keep the newest progress only: a client that connects late (or
		// is reconnecting) sees the current state, not its history.
		for i := range held.frames {
			if held.frames[i].Coalesce == f.Coalesce {
				held.frames = append(held.frames[:i], held.frames[i+1:]...)
				break
			}
		}
	}
	if len(held.frames) >= maxHeld {
		held.frames = held.frames[1:]
	}
	held.frames = append(held.frames, f)
}

// Broadcast queues f for every connected client.
func (h *Hub) Broadcast(f Frame) {
	h.mu.Lock()
	type entry struct {
		id string
		o  *Outbox
	}
	all := make([]entry, 0, len(h.clients))
	for id, o := range h.clients {
		all = append(all, entry{id, o})
	}
	h.mu.Unlock()
	for _, e := range all {
		if !e.o.push(f) {
			h.Disconnect(e.id, e.o)
		}
	}
}

// An Outbox holds the frames waiting to be written to one connection.
type Outbox struct {
	mu        sync.Mutex
	frames    []Frame
	droppable int
	closed    bool
	ready     chan struct{}
	done      chan struct{}
	// sent, for a client that opted in to replay, is the range of the
	// numbered events of each prompt queued so far, for the maxSent
	// prompts used last; nil for other clients. uses counts its updates.
	sent map[string]sentRange
	uses uint64
}

// sentRange is the first and the last seq of a prompt queued on an
// outbox; before any is queued (first 0), last is the client's position.
// used orders the ranges by their last update.
type sentRange struct{ first, last, used uint64 }

// maxSent bounds the prompts whose range an outbox keeps: a connection open
// for days sees many prompts. The one used least recently is forgotten: a
// request for its prompt (whose log is likely gone too) is then answered
// as on a new connection.
const maxSent = 2 * replayPrompts

// setSent stores the range of prompt. o.mu is held.
func (o *Outbox) setSent(prompt string, r sentRange) {
	o.uses++
	r.used = o.uses
	o.sent[prompt] = r
	if len(o.sent) <= maxSent {
		return
	}
	oldest := prompt
	for id, other := range o.sent {
		if other.used < o.sent[oldest].used {
			oldest = id
		}
	}
	delete(o.sent, oldest)
}

// Replay reports whether the outbox's client opted in to replay: it is to
// be sent Frame.Numbered.
func (o *Outbox) Replay() bool { return o.sent != nil }

// position returns the range of p's prompt queued on o; when none is
// queued yet, p is the client's new position.
func (o *Outbox) position(p Position) sentRange {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.sent[p.Prompt]
	if r.first == 0 && o.sent != nil {
		r.last = p.After
		o.setSent(p.Prompt, r)
	}
	return r
}

// push queues f; it returns false when the outbox overflowed with frames
// that must not be dropped (the client must be cut off). On a replay
// outbox, a numbered event not newer than the last one queued of its
// prompt is skipped: it was queued already (held, then replayed), or a
// replay_gap said it is lost.
func (o *Outbox) push(f Frame) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return true
	}
	if o.sent != nil && f.Seq > 0 {
		r := o.sent[f.Prompt]
		if f.Seq <= r.last && !f.Gap {
			return true
		}
		if r.first == 0 && !f.Gap {
			r.first = f.Seq
		}
		r.last = max(r.last, f.Seq)
		o.setSent(f.Prompt, r)
	}
	if f.Coalesce != "" && len(o.frames) >= coalesceAfter {
		for i := range o.frames {
			if o.frames[i].Coalesce == f.Coalesce {
				// Drop the older frame and queue the newer one last, so that it
				// never overtakes the frames produced between the two.
				o.frames = append(o.frames[:i], o.frames[i+1:]...)
				o.droppable--
				break
			}
		}
	}
	if f.Coalesce != "" {
		if o.droppable >= maxDroppable {
			return true // dropped: a later progress frame supersedes it
		}
		o.droppable++
	} else if len(o.frames) >= maxFrames {
		return false
	}
	o.frames = append(o.frames, f)
	select {
	case o.ready <- struct{}{}:
	default:
	}
	return true
}

// Next waits for frames and returns them in order; ok is false once the
// outbox is closed.
func (o *Outbox) Next() (frames []Frame, ok bool) {
	for {
		o.mu.Lock()
		if len(o.frames) > 0 {
			frames, o.frames, o.droppable = o.frames, nil, 0
			o.mu.Unlock()
			return frames, true
		}
		closed := o.closed
		o.mu.Unlock()
		if closed {
			return nil, false
		}
		select {
		case <-o.ready:
		case <-o.done:
		}
	}
}

// Done is closed when the outbox is closed (replaced or cut off).
func (o *Outbox) Done() <-chan struct{} { return o.done }

// Close closes the outbox and drops what it holds; Next then returns false.
func (o *Outbox) Close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.closed {
		o.closed = true
		o.frames = nil
		close(o.done)
	}
}
