package event

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/gocomfy/gocomfy/internal/executor"
)

// A Transport carries encoded events between the instances that share one
// store (PostgreSQL's LISTEN/NOTIFY). Every instance receives what any
// instance publishes, its own messages included.
type Transport interface {
	// PublishEvent sends payload, which may be binary, to every instance.
	// A lossy event (progress, a preview) is superseded quickly: the
	// transport need keep it only for the listeners that keep up.
	PublishEvent(ctx context.Context, payload []byte, lossy bool) error
	// ListenEvents calls fn with each payload published, in order, until
	// ctx is done or the transport fails; it returns the error.
	ListenEvents(ctx context.Context, fn func(payload []byte)) error
}

// A Bridge makes a Sink's messages reach the clients connected to the other
// instances: a client connected to instance A sees the /ws messages of a
// prompt that runs on instance B. It publishes the frames the sink
// delivers (status, execution_*, executing, executed, progress, previews),
// and delivers the frames other instances publish to this instance's Hub,
// as the sink does its own: to the addressed client if connected here,
// held for it a while otherwise (a client may open its WebSocket on any
// instance after POST /prompt), to every client for a broadcast. Frames
// published by this instance are skipped, so nothing is delivered twice.
//
// Frames wait to be published in an Outbox, with a client's policy:
// progress-like frames (progress, previews) supersede older ones of the
// same node once the database falls behind and are dropped first, and are
// published once (a later one replaces a lost one); other frames are
// published again after a failure (the database restarting) for up to
// bridgeRetryFor, so that the clients of other instances still see their
// prompts end. A preview is published with its metadata, and cut down to
// the legacy frame by the instance whose client did not ask for it;
// previews over maxBridgedPreview bytes stay on their instance.
//
// Remote frames are passed to the sink's WatchShared watchers (the v2
// API's per-job views), not to its Watch ones.
type Bridge struct {
	sink      *Sink
	transport Transport
	origin    string
	log       *slog.Logger
	out       *Outbox // payloads waiting to be published
}

// maxBridgedPreview bounds the previews published to the other instances:
// a 512-pixel JPEG is rarely over 200 KiB.
const maxBridgedPreview = 1 << 20

// bridgeRetryFor is how long a frame that must not be lost is published
// again while the transport fails; a client offline longer resynchronises
// from /queue and /history anyway.
const bridgeRetryFor = time.Minute

// bridgeHeader precedes the frame in a published payload, on one line.
type bridgeHeader struct {
	Origin   string `json:"o"`
	SID      string `json:"s,omitempty"`
	All      bool   `json:"a,omitempty"`
	Coalesce string `json:"c,omitempty"`
	Binary   bool   `json:"b,omitempty"` // a preview frame, type 1 or 4
	Prompt   string `json:"p,omitempty"` // Frame.Prompt and Frame.Seq, numbered by the origin
	Seq      uint64 `json:"q,omitempty"`
}

// NewBridge connects sink to the other instances through t; origin must be
// unique to this instance (its server id). Run must then run.
func NewBridge(sink *Sink, t Transport, origin string) *Bridge {
	log := sink.Log
	if log == nil {
		log = slog.Default()
	}
	b := &Bridge{sink: sink, transport: t, origin: origin, log: log, out: newOutbox()}
	sink.bridge = b
	return b
}

// publish queues f, which the sink delivered to sid (or to all), for the
// other instances. It never waits: the executor doesn't wait for the
// database.
func (b *Bridge) publish(e executor.Event, f Frame) {
	if f.Binary && len(f.Data) > maxBridgedPreview {
		return
	}
	h, _ := json.Marshal(bridgeHeader{Origin: b.origin, SID: e.SID, All: e.All, Coalesce: f.Coalesce, Binary: f.Binary,
		Prompt: f.Prompt, Seq: f.Seq})
	payload := append(append(h, '\n'), f.Data...)
	if !b.out.push(Frame{Binary: f.Binary, Data: payload, Coalesce: f.Coalesce}) {
		b.log.Warn("event bridge backlog full: a message is not sent to the other instances", "type", e.Type)
	}
}

// Run publishes this instance's frames and delivers the others' until ctx
// is done. A lost transport is listened to again after retry; the frames
// published meanwhile are not received.
func (b *Bridge) Run(ctx context.Context, retry time.Duration) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.publishAll(ctx, retry)
	}()
	defer func() { <-done }()
	for {
		err := b.transport.ListenEvents(ctx, b.receive)
		if ctx.Err() != nil {
			return
		}
		b.log.Warn("listening to the other instances' events", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry):
		}
	}
}

// publishAll publishes the queued frames in order until ctx is done.
func (b *Bridge) publishAll(ctx context.Context, retry time.Duration) {
	stop := context.AfterFunc(ctx, b.out.Close) // wakes Next
	defer stop()
	for {
		frames, ok := b.out.Next()
		if !ok {
			return
		}
		for _, f := range frames {
			lossy := f.Coalesce != ""
			giveUp := time.Now().Add(bridgeRetryFor)
			for {
				err := b.transport.PublishEvent(ctx, f.Data, lossy)
				if err == nil || ctx.Err() != nil {
					break
				}
				if lossy || time.Now().After(giveUp) {
					b.log.Warn("publishing an event to the other instances; dropped", "err", err)
					break
				}
				b.log.Warn("publishing an event to the other instances; trying again", "err", err)
				select {
				case <-ctx.Done():
					return
				case <-time.After(retry):
				}
			}
		}
	}
}

// receive delivers a frame another instance published.
func (b *Bridge) receive(payload []byte) {
	h, f, err := decodeBridged(payload)
	if err != nil {
		b.log.Warn("a malformed event from another instance", "err", err)
		return
	}
	if h.Origin == b.origin {
		return // delivered here already
	}
	b.sink.notifyRemote(h.Origin, h.SID, h.All, f)
	switch {
	case f.Binary:
		b.sink.deliverPreview(h.SID, h.All, f)
	default:
		b.sink.deliverRemote(h.SID, h.All, f)
	}
}

// decodeBridged splits a published payload into its header and frame.
func decodeBridged(payload []byte) (bridgeHeader, Frame, error) {
	var h bridgeHeader
	line, data, ok := bytes.Cut(payload, []byte{'\n'})
	if !ok {
		return h, Frame{}, errors.New("no header")
	}
	if err := json.Unmarshal(line, &h); err != nil {
		return h, Frame{}, err
	}
	if h.Origin == "" || (!h.All && h.SID == "") {
		return h, Frame{}, errors.New("no origin or no recipient")
	}
	if h.Binary {
		if _, _, ok := splitPreview(data); !ok {
			return h, Frame{}, errors.New("not a preview frame")
		}
	} else if !json.Valid(data) {
		return h, Frame{}, errors.New("not a JSON frame")
	}
	if h.Seq > 0 && (h.All || h.Binary || h.Prompt == "") {
		return h, Frame{}, errors.New("a numbered event not addressed to its prompt's client")
	}
	return h, Frame{Binary: h.Binary, Data: data, Coalesce: h.Coalesce, Prompt: h.Prompt, Seq: h.Seq}, nil
}
