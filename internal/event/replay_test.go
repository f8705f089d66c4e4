package event

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gocomfy/gocomfy/internal/executor"
	"github.com/gocomfy/gocomfy/pyjson"
)

// step is the executing event of node n of prompt p, for client sid; n ""
// is the end of the prompt.
func step(sid, p, n string) executor.Event {
	var node any = n
	if n == "" {
		node = nil
	}
	return executor.Event{Type: "executing", SID: sid, Data: pyjson.Object{
		{Key: "node", Value: node}, {Key: "display_node", Value: node}, {Key: "prompt_id", Value: p}}}
}

// progress is a progress event of node 1 of prompt p.
func progress(sid, p string, v int) executor.Event {
	return executor.Event{Type: "progress", SID: sid, Data: pyjson.Object{
		{Key: "value", Value: v}, {Key: "max", Value: 100}, {Key: "prompt_id", Value: p}, {Key: "node", Value: "1"}}}
}

// summary renders what a replay client receives: a numbered event as
// type#seq(node or value), gocomfy's messages with their data.
func summary(o *Outbox) string {
	fs, _ := o.Next()
	var out []string
	for _, f := range fs {
		var m struct {
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
			Seq  uint64         `json:"seq"`
		}
		if err := json.Unmarshal(f.Numbered(), &m); err != nil {
			out = append(out, "binary")
			continue
		}
		switch m.Type {
		case "replay_state":
			out = append(out, fmt.Sprintf("state(%v %v %v node=%v)", m.Data["prompt_id"], m.Data["seq"], m.Data["state"], m.Data["node"]))
		case "replay_gap":
			out = append(out, fmt.Sprintf("gap(%v after=%v seq=%v)", m.Data["prompt_id"], m.Data["after"], m.Data["seq"]))
		case "executing":
			out = append(out, fmt.Sprintf("executing#%d(%v)", m.Seq, m.Data["node"]))
		case "progress":
			out = append(out, fmt.Sprintf("progress#%d(%v)", m.Seq, m.Data["value"]))
		default:
			out = append(out, fmt.Sprintf("%s#%d", m.Type, m.Seq))
		}
	}
	return strings.Join(out, " ")
}

func TestReplayAfterReconnect(t *testing.T) {
	t.Parallel()
	s := &Sink{Hub: NewHub()}
	first := s.ConnectReplay("c", nil, text(`{"type": "status", "data": {}}`))
	s.Event(step("c", "P", "1"))
	s.Event(progress("c", "P", 1))
	if got := summary(first); got != "status#0 executing#1(1) progress#2(1)" {
		t.Fatalf("live: %s", got)
	}
	// The connection drops unnoticed: what follows goes to its outbox, and
	// is lost when the client reconnects.
	s.Event(progress("c", "P", 2))
	s.Event(step("c", "P", "2"))
	s.Event(step("other", "Q", "1")) // another client's prompt
	again := s.ConnectReplay("c", []Position{{"P", 2}}, text(`{"type": "status", "data": {}}`))
	s.Event(step("c", "P", ""))
	want := "status#0 progress#3(2) executing#4(2) state(P 4 running node=2) executing#5(<nil>)"
	if got := summary(again); got != want {
		t.Errorf("after reconnect\n got %s\nwant %s", got, want)
	}

	// Asking again on the same connection sends nothing twice.
	s.Replay("c", again, Position{"P", 2})
	if got := summary(again); got != "state(P 5 done node=<nil>)" {
		t.Errorf("second replay: %s", got)
	}
	// A client gets only its own prompts.
	s.Replay("c", again, Position{"Q", 0})
	if got := summary(again); got != "state(Q 0 unknown node=<nil>)" {
		t.Errorf("another client's prompt: %s", got)
	}
}

func TestReplayHeldFramesAreNotRepeated(t *testing.T) {
	t.Parallel()
	s := &Sink{Hub: NewHub()}
	s.Event(step("c", "P", "1")) // held: c is not connected
	s.Event(step("c", "P", "2"))
	o := s.ConnectReplay("c", []Position{{"P", 1}})
	if got, want := summary(o), "executing#2(2) state(P 2 running node=2)"; got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	// Without a position, the held frames come numbered, after the states.
	s.Event(step("d", "R", "1"))
	o = s.ConnectReplay("d", nil)
	if got, want := summary(o), "state(R 1 running node=1) executing#1(1)"; got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

func TestReplayGap(t *testing.T) {
	t.Parallel()
	s := &Sink{Hub: NewHub()}
	s.Event(step("c", "P", "1"))
	for i := range replayFrames {
		s.Event(progress("c", "P", i))
	}
	o := s.ConnectReplay("c", []Position{{"P", 0}})
	last := replayFrames + 1
	if got, want := summary(o), fmt.Sprintf("gap(P after=0 seq=%d) state(P %d running node=1)", last, last); got != want {
		t.Errorf("evicted events:\n got %s\nwant %s", got, want)
	}
	// What the log still has is replayed.
	o = s.ConnectReplay("c", []Position{{"P", uint64(last - 2)}})
	if got, want := summary(o), fmt.Sprintf("progress#%d(%d) progress#%d(%d) state(P %d running node=1)",
		last-1, replayFrames-2, last, replayFrames-1, last); got != want {
		t.Errorf("kept events:\n got %s\nwant %s", got, want)
	}
}

func TestReplayBoundedInBytes(t *testing.T) {
	t.Parallel()
	var r replayLogs
	big := make([]byte, replayBytes/3)
	for i := range 10 {
		r.record("c", "x", Frame{Data: big, Prompt: "P", Seq: uint64(i + 1)})
	}
	l := r.prompts["P"]
	if l.bytes > replayBytes || len(l.frames) != 3 || l.frames[0].Seq != 8 {
		t.Errorf("%d bytes in %d frames from %d", l.bytes, len(l.frames), l.frames[0].Seq)
	}
	r.record("c", "x", Frame{Data: make([]byte, replayBytes+1), Prompt: "P", Seq: 11})
	if _, complete := l.missing(10); complete {
		t.Error("an event too large to keep is replayed")
	}
}

func TestReplayMessageDoesNotReorder(t *testing.T) {
	t.Parallel()
	s := &Sink{Hub: NewHub()}
	s.Event(step("c", "P", "1"))
	s.Event(step("c", "P", "2"))
	o := s.ConnectReplay("c", nil)
	summary(o) // the held frames 1 and 2
	s.Event(step("c", "P", "3"))
	s.Replay("c", o, Position{"P", 1}) // 2 and 3 are queued already
	if got, want := summary(o), "executing#3(3) state(P 3 running node=3)"; got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	// A connection that got later events first cannot be sent older ones.
	s.Event(step("d", "Q", "1"))
	s.Event(step("d", "Q", "2"))
	fresh := s.ConnectReplay("d", nil)
	fresh.Close()
	late := s.Hub.attach("d", newReplayOutbox(nil), nil)
	s.Event(step("d", "Q", "3"))
	s.Replay("d", late, Position{"Q", 0})
	if got, want := summary(late), "executing#3(3) gap(Q after=0 seq=3) state(Q 3 running node=3)"; got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

func TestReplayLogsExpire(t *testing.T) {
	t.Parallel()
	now := time.Unix(0, 0)
	r := replayLogs{now: func() time.Time { return now }}
	end := func(p string) {
		done, _ := Encode("executing", pyjson.Object{{Key: "node", Value: nil}, {Key: "prompt_id", Value: p}})
		if _, ended := r.record("c", "executing", Frame{Data: done, Prompt: p, Seq: 1}); !ended {
			t.Fatalf("%s did not end", p)
		}
	}
	for i := range replayPrompts + 1 {
		end(fmt.Sprint("F", i))
		now = now.Add(time.Second)
	}
	r.log("running", "c", true)
	r.log("remote", "c", false)
	r.log("new", "c", false) // a new log sweeps
	if len(r.prompts) != replayPrompts+3 || r.prompts["F0"] != nil {
		t.Errorf("%d logs; F0 kept: %v", len(r.prompts), r.prompts["F0"] != nil)
	}
	now = now.Add(replayRetention)
	r.sweep()
	if len(r.prompts) != 3 {
		t.Errorf("%d logs after the retention, want the 3 running", len(r.prompts))
	}
	now = now.Add(replayIdle)
	r.sweep()
	if len(r.prompts) != 1 || r.prompts["running"] == nil {
		t.Errorf("after idling, %d logs", len(r.prompts))
	}
}

func TestPlainClientsGetComfyUIBytes(t *testing.T) {
	t.Parallel()
	s := &Sink{Hub: NewHub()}
	o := s.Hub.Connect("c")
	s.Event(step("c", "P", "1"))
	s.Event(step("c", "P", "1")) // a node executed again: both are sent
	fs, _ := o.Next()
	want := `{"type": "executing", "data": {"node": "1", "display_node": "1", "prompt_id": "P"}}`
	if len(fs) != 2 || string(fs[0].Data) != want || string(fs[1].Data) != want {
		t.Errorf("got %d frames: %s", len(fs), summary(o))
	}
	if o.Replay() {
		t.Error("a plain outbox is a replay one")
	}
}

func TestNumbered(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		f    Frame
		want string
	}{
		{Frame{Data: []byte(`{"type": "x", "data": {}}`), Prompt: "P", Seq: 12}, `{"type": "x", "data": {}, "seq": 12}`},
		{Frame{Data: []byte(`{"type": "status", "data": {}}`)}, `{"type": "status", "data": {}}`},
		{Frame{Data: []byte(`{"type": "replay_gap", "data": {}}`), Prompt: "P", Seq: 3, Gap: true}, `{"type": "replay_gap", "data": {}}`},
		{Frame{Data: []byte("\x00\x00\x00\x01}"), Binary: true, Seq: 1}, "\x00\x00\x00\x01}"},
	} {
		if got := string(c.f.Numbered()); got != c.want {
			t.Errorf("Numbered(%q) = %q, want %q", c.f.Data, got, c.want)
		}
	}
}

func TestReplayAcrossInstances(t *testing.T) {
	t.Parallel()
	b := newBus()
	runner, other := startBridged(t, b, "a"), startBridged(t, b, "b")
	runner.Event(step("c", "P", "1"))
	runner.Event(progress("c", "P", 5))
	runner.Event(step("c", "P", "2"))
	b.waitPublished(t, 3)
	// The client reconnects to the other instance, having seen event 1.
	o := other.ConnectReplay("c", []Position{{"P", 1}})
	if got, want := summary(o), "progress#2(5) executing#3(2) state(P 3 running node=2)"; got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	runner.Event(step("c", "P", ""))
	b.waitPublished(t, 4)
	if got, want := summary(o), "executing#4(<nil>)"; got != want {
		t.Errorf("live: got %s, want %s", got, want)
	}
}

func TestParsePosition(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want Position
		ok   bool
	}{
		{`{"prompt_id": "P", "after": 7}`, Position{"P", 7}, true},
		{`{"prompt_id": "P"}`, Position{"P", 0}, true},
		{`{"prompt_id": "P", "after": -1}`, Position{}, false},
		{`{"prompt_id": "P", "after": 1.5}`, Position{}, false},
		{`{"prompt_id": "", "after": 1}`, Position{}, false},
		{`{"prompt_id": 3}`, Position{}, false},
		{`{"after": 3}`, Position{}, false},
		{`[]`, Position{}, false},
		{`{"prompt_id": "` + strings.Repeat("x", maxPromptID+1) + `"}`, Position{}, false},
	} {
		got, err := ParsePosition([]byte(c.in))
		if (err == nil) != c.ok || (c.ok && got != c.want) {
			t.Errorf("ParsePosition(%.40s) = %v, %v", c.in, got, err)
		}
	}
}

func TestParseSince(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   []string
		want string
		ok   bool
	}{
		{nil, "[]", true},
		{[]string{"P:3", "a:b:0"}, "[{P 3} {a:b 0}]", true},
		{[]string{"P"}, "", false},
		{[]string{":3"}, "", false},
		{[]string{"P:-1"}, "", false},
		{[]string{"P:"}, "", false},
		{make([]string, maxPositions+1), "", false},
	} {
		got, err := ParseSince(c.in)
		if (err == nil) != c.ok || (c.ok && fmt.Sprint(got) != c.want) {
			t.Errorf("ParseSince(%q) = %v, %v", c.in, got, err)
		}
	}
}

// FuzzParsePosition checks that a client's replay request never panics the
// parser, and that what it accepts is bounded.
func FuzzParsePosition(f *testing.F) {
	f.Add([]byte(`{"prompt_id": "P", "after": 7}`))
	f.Add([]byte(`{"prompt_id": "P"}`))
	f.Add([]byte(`{"after": 18446744073709551616}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePosition(data)
		if err == nil && (p.Prompt == "" || len(p.Prompt) > maxPromptID) {
			t.Fatalf("accepted %q", p.Prompt)
		}
	})
}

// FuzzParseSince checks the since query parameter of /ws likewise.
func FuzzParseSince(f *testing.F) {
	f.Add("P:3")
	f.Add("a:b:18446744073709551615")
	f.Add(":")
	f.Fuzz(func(t *testing.T, v string) {
		ps, err := ParseSince(strings.Split(v, ","))
		for _, p := range ps {
			if err == nil && (p.Prompt == "" || len(p.Prompt) > maxPromptID) {
				t.Fatalf("accepted %q", p.Prompt)
			}
		}
	})
}

// relay is a bridge that carries the frames of one instance to another
// when told to, so that a test can hold the other instance back.
type relay struct {
	from *Bridge
	to   *Bridge
	held []Frame
}

func newRelay() (runner, other *Sink, r *relay) {
	runner, other = &Sink{Hub: NewHub()}, &Sink{Hub: NewHub()}
	return runner, other, &relay{from: NewBridge(runner, nil, "a"), to: NewBridge(other, nil, "b")}
}

// pass delivers the next n frames the runner published.
func (r *relay) pass(t *testing.T, n int) {
	t.Helper()
	for len(r.held) < n {
		fs, _ := r.from.out.Next()
		r.held = append(r.held, fs...)
	}
	for _, f := range r.held[:n] {
		r.to.receive(f.Data)
	}
	r.held = r.held[n:]
}

// drop forgets the next frame the runner published, as a bridge that
// loses a progress message does.
func (r *relay) drop(t *testing.T) {
	t.Helper()
	if len(r.held) == 0 {
		fs, _ := r.from.out.Next()
		r.held = fs
	}
	r.held = r.held[1:]
}

func TestReplayWaitsForTheBridge(t *testing.T) {
	t.Parallel()
	runner, other, r := newRelay()
	runner.Event(step("c", "P", "1"))
	runner.Event(progress("c", "P", 5))
	runner.Event(step("c", "P", "2"))
	r.pass(t, 1)
	// The client saw 3 events on the runner and reconnects to the other
	// instance, which has received one: its answer waits for the other two.
	o := other.ConnectReplay("c", []Position{{"P", 3}}, text(`{"type": "status", "data": {}}`))
	if got := summary(o); got != "status#0" {
		t.Fatalf("before the bridge caught up: %s", got)
	}
	r.pass(t, 2)
	runner.Event(step("c", "P", ""))
	r.pass(t, 1)
	if got, want := summary(o), "state(P 3 running node=2) executing#4(<nil>)"; got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}

	// A request behind lost events gets a gap once a later one arrives.
	runner.Event(step("c", "Q", "1"))
	runner.Event(progress("c", "Q", 1))
	runner.Event(progress("c", "Q", 2))
	runner.Event(step("c", "Q", "2"))
	r.pass(t, 1)
	if got := summary(o); got != "executing#1(1)" {
		t.Fatalf("live: %s", got)
	}
	other.Replay("c", o, Position{"Q", 2})
	r.drop(t)
	r.drop(t)
	r.pass(t, 1)
	if got, want := summary(o), "gap(Q after=2 seq=4) state(Q 4 running node=2)"; got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

func TestReplayWaitEnds(t *testing.T) {
	t.Parallel()
	_, other, _ := newRelay()
	other.replay.wait = time.Millisecond
	o := other.ConnectReplay("c", []Position{{"P", 3}})
	// No event of P ever arrives: the instance says what it knows.
	if got := summary(o); got != "state(P 0 unknown node=<nil>)" {
		t.Errorf("got %s", got)
	}
	// The requests waiting on one connection are bounded.
	other.replay.wait = time.Hour
	for i := range maxPositions + 1 {
		other.Replay("c", o, Position{fmt.Sprint("R", i), 1})
	}
	if got := summary(o); got != fmt.Sprintf("state(R%d 0 unknown node=<nil>)", maxPositions) {
		t.Errorf("past the bound: %s", got)
	}
	other.order.Lock()
	defer other.order.Unlock()
	if n := other.replay.waits[o]; n != maxPositions {
		t.Errorf("%d requests wait", n)
	}
}

func TestReplayOutboxForgetsOldPrompts(t *testing.T) {
	t.Parallel()
	s := &Sink{Hub: NewHub()}
	o := s.ConnectReplay("c", nil)
	for i := range maxSent + 10 {
		s.Event(step("c", fmt.Sprint("P", i), "1"))
	}
	summary(o)
	if n := len(o.sent); n != maxSent {
		t.Fatalf("%d ranges kept", n)
	}
	if _, ok := o.sent["P0"]; ok {
		t.Error("the oldest prompt is kept")
	}
	// The forgotten prompt is replayed as on a new connection.
	s.Replay("c", o, Position{"P0", 0})
	if got, want := summary(o), "executing#1(1) state(P0 1 running node=1)"; got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

// BenchmarkSinkEvent measures a progress event on its way to a plain
// client and to one that opted in to replay (both are numbered and
// logged), and the logging alone.
func BenchmarkSinkEvent(b *testing.B) {
	for _, replay := range []bool{false, true} {
		b.Run(fmt.Sprintf("replay=%v", replay), func(b *testing.B) {
			s := &Sink{Hub: NewHub()}
			o := s.Hub.Connect("c")
			if replay {
				o = s.ConnectReplay("c", nil)
			}
			e := progress("c", "P", 1)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				s.Event(e)
				if i%128 == 0 {
					o.Next() // drain, as the connection's writer does
				}
			}
		})
	}
	b.Run("log", func(b *testing.B) {
		var r replayLogs
		data, _ := Encode("progress", progress("c", "P", 1).Data)
		b.ReportAllocs()
		for i := uint64(1); b.Loop(); i++ {
			r.record("c", "progress", Frame{Data: data, Prompt: "P", Seq: i})
		}
	})
}
