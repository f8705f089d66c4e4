package server

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gocomfy/gocomfy/internal/executor"
	"github.com/gocomfy/gocomfy/pyjson"
)

// TestV2PreviewEvent: a preview a running job's node sends reaches its
// event stream as a PreviewEvent (a JPEG, base64), after the status; the
// newest one is sent to a client that connects after it was made.
func TestV2PreviewEvent(t *testing.T) {
	t.Parallel()
	e := newOpsEnv(t, Config{})
	id := jobID(t, e.do("POST", "/api/v2/jobs", v2Body(t, nil))) // its queue never runs: the events are the test's
	img := image.NewRGBA(image.Rect(0, 0, 4, 3))
	for i := range img.Pix {
		img.Pix[i] = 200
		if i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	sink := e.srv.cfg.Sink
	sink.Event(executor.Event{Type: "execution_start", SID: v2ClientID, Data: pyjson.Object{{Key: "prompt_id", Value: id}}})
	sink.Event(executor.Event{Type: "preview", SID: v2ClientID, Image: img,
		Data: pyjson.Object{{Key: "node_id", Value: "2"}, {Key: "prompt_id", Value: id}}})

	ts := httptest.NewServer(e.h)
	defer ts.Close()
	resp, err := http.Get(ts.URL + "/api/v2/jobs/" + id + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var events []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if ev, ok := strings.CutPrefix(line, "event: "); ok {
			events = append(events, ev)
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok || events[len(events)-1] != "preview" {
			continue
		}
		var p struct {
			NodeID      string `json:"node_id"`
			ContentType string `json:"content_type"`
			Data        string `json:"data_base64"`
		}
		if err := json.Unmarshal([]byte(data), &p); err != nil {
			t.Fatal(err)
		}
		raw, err := base64.StdEncoding.DecodeString(p.Data)
		if err != nil {
			t.Fatal(err)
		}
		got, err := jpeg.Decode(bytes.NewReader(raw))
		if err != nil || got.Bounds() != img.Bounds() || p.NodeID != "2" || p.ContentType != "image/jpeg" {
			t.Fatalf("preview %+v: %v %v", p, got.Bounds(), err)
		}
		if r, _, _, _ := got.At(1, 1).RGBA(); r>>8 < 190 || r>>8 > 210 {
			t.Errorf("preview pixel %v", got.At(1, 1))
		}
		break
	}
	// No progress: the store has the job queued, as its queue never runs.
	if want := []string{"status", "preview"}; strings.Join(events, ",") != strings.Join(want, ",") {
		t.Errorf("events %v, want %v", events, want)
	}
}

// TestJobTrackerInstances: the tracker follows the running job of each
// instance: a start on one instance drops only the job tracked as running
// there (its end was lost), and each job's cancel mark lasts until its
// own end.
func TestJobTrackerInstances(t *testing.T) {
	t.Parallel()
	tr := newJobTracker()
	send := func(origin, typ, id string, fields ...pyjson.Field) {
		tr.event(origin, executor.Event{Type: typ, SID: v2ClientID,
			Data: append(pyjson.Object{{Key: "prompt_id", Value: id}}, fields...)})
	}
	running := func() string {
		var ids []string
		for _, id := range []string{"local", "b1", "b2", "c1"} {
			if live, ok := tr.snapshot(id); ok {
				ids = append(ids, fmt.Sprintf("%s@%s:%d/%d", id, live.current, live.step, live.steps))
			}
			if tr.isCanceling(id) {
				ids = append(ids, id+":canceling")
			}
		}
		return strings.Join(ids, " ")
	}
	steps := []struct {
		do   func()
		want string
	}{
		{func() { send("", "execution_start", "local") }, "local@:0/0"},
		{func() { send("b", "execution_start", "b1"); send("c", "execution_start", "c1") }, "local@:0/0 b1@:0/0 c1@:0/0"},
		{func() {
			send("c", "executing", "c1", pyjson.Field{Key: "node", Value: "3"})
			send("c", "progress", "c1", pyjson.Field{Key: "value", Value: 2}, pyjson.Field{Key: "max", Value: 5})
		}, "local@:0/0 b1@:0/0 c1@3:2/5"},
		{func() { tr.setCanceling("local"); tr.setCanceling("c1") }, "local@:0/0 local:canceling b1@:0/0 c1@3:2/5 c1:canceling"},
		{func() { send("b", "execution_start", "b2") }, "local@:0/0 local:canceling b2@:0/0 c1@3:2/5 c1:canceling"},
		{func() { send("c", "executing", "c1", pyjson.Field{Key: "node", Value: nil}) }, "local@:0/0 local:canceling b2@:0/0"},
		{func() { send("", "executing", "local", pyjson.Field{Key: "node", Value: nil}) }, "b2@:0/0"},
	}
	for i, s := range steps {
		s.do()
		if got := running(); got != s.want {
			t.Errorf("step %d: %q, want %q", i, got, s.want)
		}
	}
}
