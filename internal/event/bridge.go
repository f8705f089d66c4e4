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
	// PublishEvent sends payload to every instance.
	PublishEvent(ctx context.Context, payload []byte) error
	// ListenEvents calls fn with each payload published, in order, until
	// ctx is done or the transport fails; it returns the error.
	ListenEvents(ctx context.Context, fn func(payload []byte)) error
}

// A Bridge makes a Sink's messages reach the clients connected to the other
// instances: a client connected to instance A sees the /ws messages of a
// prompt that runs on instance B. It publishes the text frames the sink
// delivers (status, execution_*, executing, executed, progress...), and
// delivers the frames other instances publish to this instance's Hub, as
// the sink does its own: to the addressed client if connected here, held
// for it a while otherwise (a client may open its WebSocket on any instance
// after POST /prompt), to every client for a broadcast. Frames published by
// this instance are skipped, so nothing is delivered twice.
//
// Preview images stay on the instance that makes them: they are large and
// superseded quickly. Remote frames are not passed to the sink's watchers
// (the v2 API's per-job views follow the jobs run by their own instance).
type Bridge struct {
	sink      *Sink
	transport Transport
	origin    string
	log       *slog.Logger
	out       chan []byte
}

// bridgeBacklog bounds the frames waiting to be published: the executor
// never waits for the database; past it frames are dropped (and logged).
const bridgeBacklog = 4096

// bridgeHeader precedes the frame in a published payload, on one line.
type bridgeHeader struct {
	Origin   string `json:"o"`
	SID      string `json:"s,omitempty"`
	All      bool   `json:"a,omitempty"`
	Coalesce string `json:"c,omitempty"`
}

// NewBridge connects sink to the other instances through t; origin must be
// unique to this instance (its server id). Run must then run.
func NewBridge(sink *Sink, t Transport, origin string) *Bridge {
	log := sink.Log
	if log == nil {
		log = slog.Default()
	}
	b := &Bridge{sink: sink, transport: t, origin: origin, log: log, out: make(chan []byte, bridgeBacklog)}
	sink.bridge = b
	return b
}

// publish queues f, which the sink delivered to sid (or to all), for the
// other instances.
func (b *Bridge) publish(e executor.Event, f Frame) {
	h, _ := json.Marshal(bridgeHeader{Origin: b.origin, SID: e.SID, All: e.All, Coalesce: f.Coalesce})
	payload := append(append(h, '\n'), f.Data...)
	select {
	case b.out <- payload:
	default:
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
		for {
			select {
			case <-ctx.Done():
				return
			case p := <-b.out:
				if err := b.transport.PublishEvent(ctx, p); err != nil && ctx.Err() == nil {
					b.log.Warn("publishing an event to the other instances", "err", err)
				}
			}
		}
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
	if h.All {
		b.sink.Hub.Broadcast(f)
		return
	}
	b.sink.Hub.Send(h.SID, f)
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
	if h.Origin == "" || (!h.All && h.SID == "") || !json.Valid(data) {
		return h, Frame{}, errors.New("no origin, no recipient or no JSON frame")
	}
	return h, Frame{Data: data, Coalesce: h.Coalesce}, nil
}
