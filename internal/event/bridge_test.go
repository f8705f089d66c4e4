package event

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"sync"
	"testing"
	"time"

	"github.com/gocomfy/gocomfy/internal/executor"
	"github.com/gocomfy/gocomfy/pyjson"
)

// bus is an in-memory Transport shared by the bridges of a test: a
// publication is delivered to every listener before PublishEvent returns.
// While failures > 0, PublishEvent fails instead (and counts down).
type bus struct {
	mu        sync.Mutex
	listeners []func([]byte)
	published int
	failures  int
	lossy     []bool // of each publication that succeeded
	joined    chan struct{}
}

func newBus() *bus { return &bus{joined: make(chan struct{}, 8)} }

func (b *bus) PublishEvent(_ context.Context, p []byte, lossy bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures > 0 {
		b.failures--
		return errors.New("database restarting")
	}
	b.published++
	b.lossy = append(b.lossy, lossy)
	for _, fn := range b.listeners {
		fn(p)
	}
	return nil
}

func (b *bus) ListenEvents(ctx context.Context, fn func([]byte)) error {
	b.mu.Lock()
	b.listeners = append(b.listeners, fn)
	b.mu.Unlock()
	b.joined <- struct{}{}
	<-ctx.Done()
	return ctx.Err()
}

// waitPublished waits until n frames were published (and so delivered).
func (b *bus) waitPublished(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		b.mu.Lock()
		got := b.published
		b.mu.Unlock()
		if got == n {
			return
		}
		if got > n || time.Now().After(deadline) {
			t.Fatalf("%d frames published, want %d", got, n)
		}
	}
}

// startBridged returns a sink bridged to the bus, running until the test ends.
func startBridged(t *testing.T, b *bus, origin string) *Sink {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sink{Hub: NewHub()}
	br := NewBridge(s, b, origin)
	done := make(chan struct{})
	go func() { defer close(done); br.Run(ctx, time.Millisecond) }()
	t.Cleanup(func() { cancel(); <-done })
	<-b.joined
	return s
}

func executing(sid, node string) executor.Event {
	return executor.Event{Type: "executing", SID: sid, Data: pyjson.Object{{Key: "node", Value: node}}}
}

func TestBridgeDeliversOnceEverywhere(t *testing.T) {
	t.Parallel()
	b := newBus()
	a, other := startBridged(t, b, "a"), startBridged(t, b, "b")
	onA, onB, elsewhere := a.Hub.Connect("x"), other.Hub.Connect("x"), other.Hub.Connect("y")

	a.Event(executing("x", "1"))
	a.Event(preview("x", "1"))
	a.Event(executor.Event{Type: "status", All: true, Data: pyjson.Object{{Key: "n", Value: 1}}})
	a.Event(executing("", "2")) // no client: nowhere to send it
	b.waitPublished(t, 3)       // no frame without a client
	other.Event(executing("x", "3"))
	b.waitPublished(t, 4)
	a.Hub.Send("x", text("end")) // a's echoes would have come before it

	want := []struct {
		name string
		o    *Outbox
		want string
	}{
		{"x on a", onA, `[{"type": "executing", "data": {"node": "1"}} binary {"type": "status", "data": {"n": 1}} {"type": "executing", "data": {"node": "3"}} end]`},
		{"x on b", onB, `[{"type": "executing", "data": {"node": "1"}} binary {"type": "status", "data": {"n": 1}} {"type": "executing", "data": {"node": "3"}}]`},
		{"y on b", elsewhere, `[{"type": "status", "data": {"n": 1}}]`},
	}
	for _, w := range want {
		fs, _ := w.o.Next()
		got := make([]string, len(fs))
		for i, f := range fs {
			got[i] = string(f.Data)
			if f.Binary {
				got[i] = "binary"
			}
		}
		if fmt.Sprint(got) != w.want {
			t.Errorf("%s got %s\nwant %s", w.name, got, w.want)
		}
	}
}

func preview(sid, node string) executor.Event {
	return executor.Event{Type: "preview", SID: sid, Image: image.NewRGBA(image.Rect(0, 0, 1, 1)),
		Data: pyjson.Object{{Key: "node_id", Value: node}}}
}

// TestBridgePreviews checks that a preview reaches the clients of other
// instances, each in the form its own client asked for.
func TestBridgePreviews(t *testing.T) {
	t.Parallel()
	b := newBus()
	a, modern, legacy := startBridged(t, b, "a"), startBridged(t, b, "b"), startBridged(t, b, "c")
	modern.SetPreviewMetadata("x", true)
	onModern, onLegacy, everyone := modern.Hub.Connect("x"), legacy.Hub.Connect("x"), legacy.Hub.Connect("y")
	a.Event(preview("x", "5"))
	bc := preview("", "6")
	bc.All = true
	a.Event(bc)
	b.waitPublished(t, 2)
	if !b.lossy[0] || !b.lossy[1] {
		t.Errorf("previews published as lossy: %v, want true", b.lossy)
	}
	for _, c := range []struct {
		name  string
		o     *Outbox
		types []uint32
	}{{"metadata", onModern, []uint32{4, 1}}, {"legacy", onLegacy, []uint32{1, 1}}, {"broadcast", everyone, []uint32{1}}} {
		fs, _ := c.o.Next()
		var types []uint32
		for _, f := range fs {
			if _, _, ok := splitPreview(f.Data); !f.Binary || !ok {
				t.Fatalf("%s: frame % x is not a preview", c.name, f.Data)
			}
			types = append(types, binary.BigEndian.Uint32(f.Data))
		}
		if fmt.Sprint(types) != fmt.Sprint(c.types) {
			t.Errorf("%s: frame types %v, want %v", c.name, types, c.types)
		}
	}
}

// TestBridgeRetries checks the drop policy while the transport fails: a
// preview is published once, and lost; an executing message is published
// again until it goes through.
func TestBridgeRetries(t *testing.T) {
	t.Parallel()
	b := newBus()
	a, other := startBridged(t, b, "a"), startBridged(t, b, "b")
	o := other.Hub.Connect("x")
	b.mu.Lock()
	b.failures = 3
	b.mu.Unlock()
	a.Event(preview("x", "1"))   // fails once, dropped
	a.Event(executing("x", "1")) // fails twice, then goes
	b.waitPublished(t, 1)
	fs, _ := o.Next()
	if len(fs) != 1 || string(fs[0].Data) != `{"type": "executing", "data": {"node": "1"}}` {
		t.Errorf("delivered %v, want the executing message only", fs)
	}
}

func TestDecodeBridged(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		payload string
		ok      bool
		sid     string
	}{
		{`{"o":"a","s":"x","c":"progress/1"}` + "\n" + `{"type": "progress"}`, true, "x"},
		{`{"o":"a","a":true}` + "\n" + `{}`, true, ""},
		{`{"o":"a","s":"x"}`, false, ""},                    // no frame
		{`{"s":"x"}` + "\n" + `{}`, false, ""},              // no origin
		{`{"o":"a"}` + "\n" + `{}`, false, ""},              // no recipient
		{`{"o":"a","s":"x"}` + "\n" + `{"type"`, false, ""}, // frame not JSON
		{`nope` + "\n" + `{}`, false, ""},
		{`{"o":"a","s":"x","b":true}` + "\n" + "\x00\x00\x00\x01\x00\x00\x00\x01jpg", true, "x"},
		{`{"o":"a","s":"x","b":true}` + "\n" + "\x00\x00\x00\x04\x00\x00\x00\x02{}jpg", true, "x"},
		{`{"o":"a","s":"x","b":true}` + "\n" + "\x00\x00\x00\x04\x00\x00\x01\x00{}", false, ""},  // metadata past the end
		{`{"o":"a","s":"x","b":true}` + "\n" + "\x00\x00\x00\x02\x00\x00\x00\x01jpg", false, ""}, // not a preview type
		{`{"o":"a","s":"x","b":true}` + "\n" + "\x00\x00", false, ""},
	} {
		h, f, err := decodeBridged([]byte(c.payload))
		if (err == nil) != c.ok || (c.ok && (h.SID != c.sid || len(f.Data) == 0)) {
			t.Errorf("decodeBridged(%q) = %+v, %q, %v", c.payload, h, f.Data, err)
		}
	}
}

// FuzzDecodeBridged checks that payloads from the database never panic
// the decoder, and that what it accepts has a recipient.
func FuzzDecodeBridged(f *testing.F) {
	f.Add([]byte(`{"o":"a","s":"x"}` + "\n" + `{"type": "executing", "data": {}}`))
	f.Add([]byte(`{"o":"a","a":true}` + "\n" + `{}`))
	f.Add([]byte("\n"))
	f.Add([]byte(`{"o":"a","s":"x","b":true}` + "\n" + "\x00\x00\x00\x04\x00\x00\x00\x02{}jpg"))
	f.Fuzz(func(t *testing.T, p []byte) {
		h, _, err := decodeBridged(p)
		if err == nil && h.Origin == "" {
			t.Fatal("accepted without origin")
		}
	})
}
