package userdata

import (
	"context"
	"log/slog"
	"maps"
	"sync"
	"time"
)

// A LogEntry is one log line as the frontend's terminal panel shows it:
// the local time as Python's isoformat writes it (always with
// microseconds) and the text, newline included.
type LogEntry struct {
	T string `json:"t"`
	M string `json:"m"`
}

// Logs keeps the latest log lines for GET /internal/logs and
// /internal/logs/raw, and passes each new one to the subscribed clients
// (PATCH /internal/logs/subscribe), as ComfyUI's app/logger.py does with
// what the process writes to stdout and stderr. Feed it through Handler.
// Safe for concurrent use; the methods of a nil *Logs keep nothing.
type Logs struct {
	now func() time.Time

	mu      sync.Mutex
	entries []LogEntry // a ring once full: next is the oldest
	next    int
	size    int
	subs    map[string]func(LogEntry) bool
}

// DefaultLogLines is how many lines ComfyUI keeps.
const DefaultLogLines = 300

// NewLogs returns a Logs keeping the latest n lines.
func NewLogs(n int) *Logs {
	return &Logs{now: time.Now, size: max(n, 1), subs: map[string]func(LogEntry) bool{}}
}

// Write keeps p as one line; io.Writer, so that the text handler of
// Handler (one Write per record) or anything else can feed it.
func (l *Logs) Write(p []byte) (int, error) {
	if l == nil {
		return len(p), nil
	}
	e := LogEntry{T: l.now().Format("2006-01-02T15:04:05.000000"), M: string(p)}
	l.mu.Lock()
	if len(l.entries) < l.size {
		l.entries = append(l.entries, e)
	} else {
		l.entries[l.next] = e
		l.next = (l.next + 1) % l.size
	}
	subs := maps.Clone(l.subs)
	l.mu.Unlock()
	// Outside the lock: a subscriber that logs must not deadlock.
	for id, send := range subs {
		if !send(e) {
			l.Unsubscribe(id)
		}
	}
	return len(p), nil
}

// Entries returns the lines kept, oldest first.
func (l *Logs) Entries() []LogEntry {
	out := []LogEntry{}
	if l == nil {
		return out
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	out = append(out, l.entries[l.next:]...)
	return append(out, l.entries[:l.next]...)
}

// Subscribe calls send with every new line until it returns false (the
// client is gone) or Unsubscribe(id) is called; subscribing id again
// replaces its send. send is called by the goroutine that logs, so it must
// not block.
func (l *Logs) Subscribe(id string, send func(LogEntry) bool) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.subs[id] = send
}

// Unsubscribe stops sending lines to id.
func (l *Logs) Unsubscribe(id string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.subs, id)
}

// Handler returns a slog.Handler that passes every record to next and
// keeps the enabled ones as text lines ("level=INFO msg=… key=value").
func (l *Logs) Handler(next slog.Handler) slog.Handler {
	text := slog.NewTextHandler(l, &slog.HandlerOptions{
		Level: slog.LevelDebug, // next decides
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{} // the entry has its own time
			}
			return a
		},
	})
	return teeHandler{next, text}
}

// teeHandler passes records to next and, when next wants them, to keep.
type teeHandler struct{ next, keep slog.Handler }

func (h teeHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h teeHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.next.Handle(ctx, r)
	h.keep.Handle(ctx, r) // Logs.Write never fails
	return err
}

func (h teeHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return teeHandler{h.next.WithAttrs(attrs), h.keep.WithAttrs(attrs)}
}

func (h teeHandler) WithGroup(name string) slog.Handler {
	return teeHandler{h.next.WithGroup(name), h.keep.WithGroup(name)}
}
