package postgres

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestBroadcast checks that events (small, and past what a notification
// carries) and interrupt requests published by one instance reach another
// instance's listener, in order, and not a listener of another schema.
func TestBroadcast(t *testing.T) {
	t.Parallel()
	url := freshSchema(t)
	a, b, stranger := open(t, url), open(t, url), open(t, freshSchema(t))
	defer a.Close()
	defer b.Close()
	defer stranger.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	events, interrupts, foreign := make(chan string, 16), make(chan string, 16), make(chan string, 16)
	listen := func(fn func(context.Context) error) {
		go func() {
			for ctx.Err() == nil {
				fn(ctx)
			}
		}()
	}
	listen(func(ctx context.Context) error {
		return b.ListenEvents(ctx, func(p []byte) { events <- string(p) })
	})
	listen(func(ctx context.Context) error {
		return b.ListenInterrupts(ctx, func(id string) { interrupts <- id })
	})
	listen(func(ctx context.Context) error {
		return stranger.ListenEvents(ctx, func(p []byte) { foreign <- string(p) })
	})

	// The listeners may start after the first publications: publish a
	// probe until one arrives, then the messages under test.
	probe := func(publish func() error, got chan string) {
		t.Helper()
		for {
			if err := publish(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-got:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	probe(func() error { return a.PublishEvent(ctx, []byte("probe"), false) }, events)
	probe(func() error { return a.PublishInterrupt(ctx, "probe") }, interrupts)
	probe(func() error { return stranger.PublishEvent(ctx, []byte("probe"), false) }, foreign)
	drain := func(c chan string) {
		for {
			select {
			case <-c:
			case <-time.After(100 * time.Millisecond):
				return
			}
		}
	}
	drain(events)
	drain(interrupts)
	drain(foreign)

	// A large event, and binary ones (a preview's JPEG), lossy or not, go
	// through the events table.
	large := strings.Repeat("x", 3*maxNotified)
	sent := []string{"first", large, "\x00\x00\x00\x01\xff\xd8", "preview\x00", "last"}
	for i, p := range sent {
		if err := a.PublishEvent(ctx, []byte(p), i == 3); err != nil {
			t.Fatalf("PublishEvent(%d bytes): %v", len(p), err)
		}
	}
	for i, want := range sent {
		if got := <-events; got != want {
			t.Fatalf("event %d: got %d bytes %.20q, want %d bytes %.20q", i, len(got), got, len(want), want)
		}
	}
	if err := a.PublishInterrupt(ctx, "job-1"); err != nil {
		t.Fatal(err)
	}
	if got := <-interrupts; got != "job-1" {
		t.Errorf("interrupt for %q, want job-1", got)
	}
	// Notifications reach a listener in commit order: had a's leaked to
	// the other schema, they would come before this one.
	if err := stranger.PublishEvent(ctx, []byte("end"), false); err != nil {
		t.Fatal(err)
	}
	if got := <-foreign; got != "end" {
		t.Errorf("a listener of another schema got %.20q", got)
	}
}
