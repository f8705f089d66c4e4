package gocomfy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/gocomfy/gocomfy"
)

// replayFrame is one text frame received by a client that opted in to
// replay: a numbered event has "seq" beside "data"; replay_state and
// replay_gap have theirs in data.
type replayFrame struct {
	Type string `json:"type"`
	Data struct {
		PromptID string  `json:"prompt_id"`
		Node     *string `json:"node"`
		Seq      uint64  `json:"seq"`
		After    uint64  `json:"after"`
		State    string  `json:"state"`
	} `json:"data"`
	Seq uint64 `json:"seq"`
	raw []byte
}

// done reports the end of prompt: executing with node null.
func (f replayFrame) done(prompt string) bool {
	return f.Type == "executing" && f.Data.Node == nil && f.Data.PromptID == prompt
}

// replayConn is a /ws connection whose messages are read as replay
// frames.
type replayConn struct{ *wsClient }

// dial opens /ws?query on ts.
func dial(ts *testServer, query string) replayConn {
	ts.t.Helper()
	return replayConn{ts.dialWS(query)}
}

// replayFrames decodes msgs as replay frames.
func replayFrames(msgs []wsMessage) []replayFrame {
	frames := make([]replayFrame, len(msgs))
	for i, m := range msgs {
		json.Unmarshal(m.raw, &frames[i])
		frames[i].raw = m.raw
	}
	return frames
}

// waitFor returns the frames up to the first that until accepts.
func (c replayConn) waitFor(until func(replayFrame) bool) []replayFrame {
	c.t.Helper()
	return replayFrames(c.wsClient.waitFor(func(m wsMessage) bool {
		return until(replayFrames([]wsMessage{m})[0])
	}))
}

// drop closes the connection at once and returns every frame it received.
func (c replayConn) drop() []replayFrame {
	c.conn.CloseNow()
	<-c.closed
	c.mu.Lock()
	defer c.mu.Unlock()
	return replayFrames(c.msgs)
}

// send writes a text message.
func (c replayConn) send(msg string) {
	c.t.Helper()
	if err := c.conn.Write(context.Background(), websocket.MessageText, []byte(msg)); err != nil {
		c.t.Fatal(err)
	}
}

// events returns the seqs of the numbered events of prompt in frames.
func events(frames []replayFrame, prompt string) []uint64 {
	var seqs []uint64
	for _, f := range frames {
		if f.Seq > 0 && f.Data.PromptID == prompt {
			seqs = append(seqs, f.Seq)
		}
	}
	return seqs
}

// wantSeqs checks that seqs are exactly from, from+1, ..., to.
func wantSeqs(t *testing.T, what string, seqs []uint64, from, to uint64) {
	t.Helper()
	ok := len(seqs) == int(to-from+1)
	for i, s := range seqs {
		ok = ok && s == from+uint64(i)
	}
	if !ok {
		t.Errorf("%s: seqs %v, want %d..%d", what, seqs, from, to)
	}
}

// sleepyPrompt runs long enough to be interrupted: TestSleep nodes that
// report progress, then an output node.
func sleepyPrompt(clientID string) map[string]any {
	return map[string]any{"client_id": clientID, "prompt": map[string]any{
		"1": map[string]any{"class_type": "TestSleep", "inputs": map[string]any{"value": 1, "seconds": 0.3}},
		"2": map[string]any{"class_type": "TestSleep", "inputs": map[string]any{"value": []any{"1", 0}, "seconds": 0.2}},
		"3": map[string]any{"class_type": "PreviewAny", "inputs": map[string]any{"source": []any{"2", 0}}},
	}}
}

// testReplayAcross drops the connection of a client to a (mid-prompt) and
// reconnects it to b with the same clientId, asking for what it missed.
func testReplayAcross(t *testing.T, a, b *testServer) {
	first := dial(a, "clientId=r1&replay=1")
	first.waitFor(func(f replayFrame) bool { return f.Type == "status" })
	prompt := a.submit(sleepyPrompt("r1"))
	first.waitFor(func(f replayFrame) bool { return f.Type == "executing" && f.Seq > 0 })
	before := events(first.drop(), prompt)
	if len(before) == 0 {
		t.Fatal("no numbered event before the drop")
	}
	wantSeqs(t, "before the drop", before, 1, uint64(len(before)))
	last := before[len(before)-1]

	again := dial(b, fmt.Sprintf("clientId=r1&since=%s:%d", prompt, last))
	got := again.waitFor(func(f replayFrame) bool { return f.done(prompt) })
	if got[0].Type != "status" || !strings.Contains(string(got[0].raw), `"sid": "r1"`) {
		t.Errorf("first frame after reconnecting: %s", got[0].raw)
	}
	after := events(got, prompt)
	wantSeqs(t, "after reconnecting", after, last+1, after[len(after)-1])
	states := 0
	for _, f := range got {
		switch f.Type {
		case "replay_gap":
			t.Errorf("gap: %s", f.raw)
		case "replay_state":
			states++
			if f.Data.PromptID != prompt || f.Data.Seq < last {
				t.Errorf("state: %s", f.raw)
			}
		}
	}
	if states != 1 {
		t.Errorf("%d replay_state messages, want 1", states)
	}

	// A new connection asks for the whole prompt, by message.
	all := dial(b, "clientId=r1&replay=1")
	all.waitFor(func(f replayFrame) bool { return f.Type == "replay_state" && f.Data.State == "done" })
	all.send(fmt.Sprintf(`{"type": "replay", "data": {"prompt_id": %q, "after": 0}}`, prompt))
	replayed := all.waitFor(func(f replayFrame) bool { return f.done(prompt) })
	wantSeqs(t, "replayed by message", events(replayed, prompt), 1, after[len(after)-1])
}

func TestWSReplayAfterDrop(t *testing.T) {
	t.Parallel()
	ts := startServer(t, gocomfy.Config{EnableTestNodes: true})
	testReplayAcross(t, ts, ts)
}

// TestWSReplayAcrossInstances reconnects a client to the other instance:
// the events are numbered once, by the instance that runs the prompt.
func TestWSReplayAcrossInstances(t *testing.T) {
	t.Parallel()
	ts := startInstances(t, 2)
	testReplayAcross(t, ts[0], ts[1])
}

// normalize hides what differs between two runs of one prompt: its id and
// the timestamps.
func normalize(frame []byte, prompt string) string {
	s := strings.ReplaceAll(string(frame), prompt, "P")
	return timestamp.ReplaceAllString(s, `"timestamp": T`)
}

var timestamp = regexp.MustCompile(`"timestamp": \d+`)

// TestWSReplayOnlyAddsSeq runs one prompt for a plain client and one that
// opted in, on two servers: the plain client gets ComfyUI's messages (the
// trace of TestMessageOrder), the other the same bytes with "seq" added.
func TestWSReplayOnlyAddsSeq(t *testing.T) {
	t.Parallel()
	streams, types := map[string][]string{}, map[string][]string{}
	for _, query := range []string{"clientId=plain", "clientId=plain&replay=1"} {
		ts := startServer(t, gocomfy.Config{EnableTestNodes: true, Cache: gocomfy.CacheClassic})
		c := dial(ts, query)
		c.waitFor(func(f replayFrame) bool { return f.Type == "status" })
		body := stubPrompt("BLACK")
		body["client_id"] = "plain"
		prompt := ts.submit(body)
		for _, f := range c.waitFor(func(f replayFrame) bool { return f.done(prompt) }) {
			streams[query] = append(streams[query], normalize(f.raw, prompt))
			types[query] = append(types[query], f.Type)
		}
	}
	plain, numbered := streams["clientId=plain"], streams["clientId=plain&replay=1"]
	for _, f := range plain {
		if strings.Contains(f, `"seq"`) || strings.Contains(f, "replay_") {
			t.Errorf("a plain client got %s", f)
		}
	}
	want := "status status status execution_start execution_cached progress_state executing progress_state progress_state executing progress_state execution_success status executing"
	if got := strings.Join(types["clientId=plain"], " "); got != want {
		t.Errorf("plain client's messages\n got %s\nwant %s", got, want)
	}
	if len(numbered) != len(plain) {
		t.Fatalf("%d frames opted in, %d plain", len(numbered), len(plain))
	}
	seq := 0
	for i := range plain {
		if strings.HasPrefix(plain[i], `{"type": "status"`) {
			if numbered[i] != plain[i] {
				t.Errorf("frame %d\n got %s\nwant %s", i, numbered[i], plain[i])
			}
			continue
		}
		seq++
		if want := fmt.Sprintf(`%s, "seq": %d}`, strings.TrimSuffix(plain[i], "}"), seq); numbered[i] != want {
			t.Errorf("frame %d\n got %s\nwant %s", i, numbered[i], want)
		}
	}
}

func TestWSReplayAdvertisedAndChecked(t *testing.T) {
	t.Parallel()
	ts := startServer(t, gocomfy.Config{})
	var features struct {
		Preview   bool `json:"supports_preview_metadata"`
		Extension struct {
			Manager struct {
				V4 bool `json:"supports_v4"`
			} `json:"manager"`
			Gocomfy struct {
				Replay struct {
					Version   int `json:"version"`
					MaxEvents int `json:"max_events"`
					MaxBytes  int `json:"max_bytes"`
				} `json:"ws_replay"`
			} `json:"gocomfy"`
		} `json:"extension"`
	}
	ts.getJSON("/api/features", &features)
	r := features.Extension.Gocomfy.Replay
	if !features.Preview || !features.Extension.Manager.V4 || r.Version != 1 || r.MaxEvents == 0 || r.MaxBytes == 0 {
		t.Errorf("features: %+v", features)
	}
	for _, since := range []string{"nocolon", "P:-1", "P:x", ":1"} {
		if status, body := ts.do("GET", "/ws?since="+since, nil); status != 400 {
			t.Errorf("since=%s: %d %s", since, status, body)
		}
	}
	// A client asking about a prompt this server does not know is told so.
	c := dial(ts, "clientId=x&since=unknown:3")
	got := c.waitFor(func(f replayFrame) bool { return f.Type == "replay_state" })
	if f := got[len(got)-1]; f.Data.State != "unknown" || f.Data.PromptID != "unknown" {
		t.Errorf("got %s", f.raw)
	}
	// Replay requests, bad ones too, leave the feature-flags exchange to
	// the first other message.
	c.send(`{"type": "replay", "data": {"prompt_id": "unknown", "after": 1}}`)
	c.send(`{"type": "replay", "data": {"after": "x"}}`)
	c.send(`{"type": "feature_flags", "data": {"supports_preview_metadata": true}}`)
	got = c.waitFor(func(f replayFrame) bool { return f.Type == "feature_flags" })
	if f := got[len(got)-2]; f.Type != "replay_state" || f.Data.PromptID != "unknown" {
		t.Errorf("before the feature flags: %s", f.raw)
	}
}
