package userdata

import (
	"io"
	"log/slog"
	"regexp"
	"slices"
	"testing"
	"time"
)

func TestLogsRing(t *testing.T) {
	t.Parallel()
	l := NewLogs(3)
	l.now = func() time.Time { return time.Date(2026, 7, 3, 10, 0, 0, 123456789, time.Local) }
	for _, m := range []string{"a\n", "b\n", "c\n", "d\n"} {
		l.Write([]byte(m))
	}
	var got []string
	for _, e := range l.Entries() {
		got = append(got, e.M)
		if e.T != "2026-07-03T10:00:00.123456" {
			t.Errorf("time %q", e.T)
		}
	}
	if !slices.Equal(got, []string{"b\n", "c\n", "d\n"}) {
		t.Errorf("Entries() = %q", got)
	}
	var nilLogs *Logs
	if e := nilLogs.Entries(); e == nil || len(e) != 0 {
		t.Errorf("nil Entries() = %#v; want []", e)
	}
	nilLogs.Write([]byte("x"))
	nilLogs.Subscribe("a", nil)
	nilLogs.Unsubscribe("a")
}

func TestLogsHandler(t *testing.T) {
	t.Parallel()
	l := NewLogs(DefaultLogLines)
	log := slog.New(l.Handler(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo})))
	log.Debug("hidden")
	log.With("server", "x").WithGroup("g").Info("listening", "port", 8188)
	entries := l.Entries()
	if len(entries) != 1 {
		t.Fatalf("entries = %v; want one", entries)
	}
	if want := "level=INFO msg=listening server=x g.port=8188\n"; entries[0].M != want {
		t.Errorf("line %q; want %q", entries[0].M, want)
	}
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$`).MatchString(entries[0].T) {
		t.Errorf("time %q", entries[0].T)
	}
}

func TestLogsSubscribe(t *testing.T) {
	t.Parallel()
	l := NewLogs(10)
	var a, b []string
	l.Subscribe("a", func(e LogEntry) bool { a = append(a, e.M); return true })
	l.Subscribe("b", func(e LogEntry) bool { b = append(b, e.M); return len(b) < 2 })
	for _, m := range []string{"1", "2", "3"} {
		l.Write([]byte(m))
	}
	l.Unsubscribe("a")
	l.Write([]byte("4"))
	if !slices.Equal(a, []string{"1", "2", "3"}) || !slices.Equal(b, []string{"1", "2"}) {
		t.Errorf("a got %q, b got %q", a, b)
	}
}
