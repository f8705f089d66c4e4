package gocomfy_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gocomfy/gocomfy"
	"github.com/gocomfy/gocomfy/internal/store/postgres/pgtest"
	"github.com/gocomfy/gocomfy/node"
)

// startInstances starts n servers on one PostgreSQL schema, each with its
// own folders.
func startInstances(t testing.TB, n int) []*testServer {
	t.Helper()
	db := pgtest.Schema(t)
	servers := make([]*testServer, n)
	for i := range servers {
		servers[i] = startServer(t, gocomfy.Config{DatabaseURL: db, EnableTestNodes: true})
	}
	return servers
}

// trivialPrompt is a prompt that runs at once; value makes each one
// different, so that no instance answers it from its cache.
func trivialPrompt(value int, clientID string) map[string]any {
	return map[string]any{"client_id": clientID, "prompt": map[string]any{
		"1": map[string]any{"class_type": "TestSleep", "inputs": map[string]any{"value": value, "seconds": 0}},
		"2": map[string]any{"class_type": "PreviewAny", "inputs": map[string]any{"source": []any{"1", 0}}},
	}}
}

// accepted is the body of POST /prompt's 200.
type accepted struct {
	PromptID string  `json:"prompt_id"`
	Number   float64 `json:"number"`
}

// post queues body on the server at url, from any goroutine.
func post(url string, body map[string]any) (accepted, error) {
	var acc accepted
	data, err := json.Marshal(body)
	if err != nil {
		return acc, err
	}
	resp, err := testClient.Post(url+"/prompt", "application/json", bytes.NewReader(data))
	if err != nil {
		return acc, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&acc); err != nil || resp.StatusCode != http.StatusOK || acc.PromptID == "" {
		return acc, fmt.Errorf("POST /prompt: %d, %v", resp.StatusCode, err)
	}
	return acc, nil
}

// submit queues body on ts and returns the prompt id.
func (ts *testServer) submit(body map[string]any) string {
	ts.t.Helper()
	acc, err := post(ts.url, body)
	if err != nil {
		ts.t.Fatal(err)
	}
	return acc.PromptID
}

// longPrompt runs for ten minutes, unless interrupted.
func longPrompt(value int, clientID string) map[string]any {
	return map[string]any{"client_id": clientID, "prompt": map[string]any{
		"1": map[string]any{"class_type": "TestSleep", "inputs": map[string]any{"value": value, "seconds": 600}},
		"2": map[string]any{"class_type": "PreviewAny", "inputs": map[string]any{"source": []any{"1", 0}}},
	}}
}

// waitRunning waits until ts shows n running prompts.
func (ts *testServer) waitRunning(n int) {
	ts.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var q struct {
			Running []json.RawMessage `json:"queue_running"`
		}
		ts.getJSON("/queue", &q)
		if len(q.Running) == n {
			return
		}
		if time.Now().After(deadline) {
			ts.t.Fatalf("%d prompts running, want %d", len(q.Running), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pendingNumbers returns the pending prompts of /queue on ts, in order:
// their ids and numbers.
func (ts *testServer) pendingNumbers() (ids []string, numbers []float64) {
	ts.t.Helper()
	var q struct {
		Pending [][]json.RawMessage `json:"queue_pending"`
	}
	ts.getJSON("/queue", &q)
	for _, item := range q.Pending {
		var id string
		var n float64
		if len(item) < 2 || json.Unmarshal(item[0], &n) != nil || json.Unmarshal(item[1], &id) != nil {
			ts.t.Fatalf("queue item %s", item)
		}
		ids, numbers = append(ids, id), append(numbers, n)
	}
	return ids, numbers
}

// waitIdle waits until ts shows no pending or running prompt and want
// finished ones.
func (ts *testServer) waitIdle(want int) {
	ts.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var q struct {
			Running []json.RawMessage `json:"queue_running"`
			Pending []json.RawMessage `json:"queue_pending"`
		}
		ts.getJSON("/queue", &q)
		var h map[string]json.RawMessage
		ts.getJSON("/history", &h)
		if len(q.Running) == 0 && len(q.Pending) == 0 && len(h) == want {
			return
		}
		if time.Now().After(deadline) {
			ts.t.Fatalf("not idle: %d running, %d pending, %d finished (want %d)", len(q.Running), len(q.Pending), len(h), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestThreeInstances runs three instances on one database and submits
// prompts to them in turn: each prompt runs exactly once, on one of them,
// and every instance serves the same queue, history and jobs.
func TestThreeInstances(t *testing.T) {
	t.Parallel()
	servers := startInstances(t, 3)
	// One client id connected to every instance: each client sees every
	// run's messages, from the instance that runs it or through the
	// others' event bridge, once.
	const clientID = "multi"
	clients := make([]*wsClient, len(servers))
	for i, ts := range servers {
		clients[i] = ts.connect(clientID)
	}

	const n = 30
	ids := make(map[string]bool, n)
	for i := range n {
		ids[servers[i%len(servers)].submit(trivialPrompt(i, clientID))] = true
	}
	if len(ids) != n {
		t.Fatalf("%d distinct prompt ids, want %d", len(ids), n)
	}
	servers[0].waitIdle(n)

	// Every run started once: each client counts its execution_start
	// messages, after the last prompt's end reached it.
	for i, c := range clients {
		starts := map[string]int{}
		seen := 0
		c.waitFor(func(m wsMessage) bool {
			if m.Type == "execution_start" {
				var d struct {
					PromptID string `json:"prompt_id"`
				}
				json.Unmarshal(m.Data, &d)
				starts[d.PromptID]++
			}
			if m.Type == "executing" && finishedAny(m) {
				seen++
			}
			return seen == n
		})
		for id := range ids {
			if starts[id] != 1 {
				t.Errorf("client on instance %d: prompt %s started %d times, want once", i, id, starts[id])
			}
		}
	}

	var history map[string]struct {
		Status struct {
			StatusStr string `json:"status_str"`
			Completed bool   `json:"completed"`
		} `json:"status"`
	}
	servers[0].getJSON("/history", &history)
	for id := range ids {
		if h, ok := history[id]; !ok || !h.Status.Completed || h.Status.StatusStr != "success" {
			t.Errorf("history of %s = %+v (present %v), want completed", id, h, ok)
		}
	}

	for _, path := range []string{"/queue", "/history", "/history?max_items=5", "/api/jobs", "/api/jobs?limit=7&offset=3"} {
		status, want := servers[0].do("GET", path, nil)
		if status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, status, want)
		}
		for i, ts := range servers[1:] {
			if status, got := ts.do("GET", path, nil); status != http.StatusOK || !bytes.Equal(got, want) {
				t.Errorf("GET %s on instance %d: %d %s\nwant (instance 0) %s", path, i+1, status, got, want)
			}
		}
	}
}

// TestIdleInstancePicksUp keeps one instance busy with a long prompt and
// queues more on it: the idle instance, woken by PostgreSQL's
// notifications (or its poll), runs them meanwhile.
func TestIdleInstancePicksUp(t *testing.T) {
	t.Parallel()
	servers := startInstances(t, 2)
	busy, idle := servers[0], servers[1]
	long := busy.submit(longPrompt(1, ""))
	busy.waitRunning(1)
	// Whichever instance runs the long prompt, the other runs these.
	for i := range 3 {
		busy.submit(trivialPrompt(i, ""))
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var h map[string]json.RawMessage
		idle.getJSON("/history", &h)
		if len(h) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d prompts finished while one instance was busy, want 3", len(h))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Sent to one instance, the interrupt reaches the one that runs it.
	idle.do("POST", "/interrupt", map[string]any{"prompt_id": long})
	idle.waitIdle(4)
}

// finishedAny reports whether m is the end of a prompt: executing with
// node null.
func finishedAny(m wsMessage) bool {
	var d struct {
		Node *string `json:"node"`
	}
	json.Unmarshal(m.Data, &d)
	return m.Type == "executing" && d.Node == nil
}

// TestRemotePrompt runs two long prompts on two instances at once, for a
// client connected to the first only: it sees both start and end, the
// one run by the other instance through the event bridge; interrupts and
// cancels sent to the first instance stop both.
func TestRemotePrompt(t *testing.T) {
	t.Parallel()
	servers := startInstances(t, 2)
	a := servers[0]
	const clientID = "remote"
	c := a.connect(clientID)
	first, second := a.submit(longPrompt(1, clientID)), a.submit(longPrompt(2, clientID))
	a.waitRunning(2) // one on each instance
	for _, id := range []string{first, second} {
		c.waitFor(func(m wsMessage) bool { return m.Type == "execution_start" && strings.Contains(string(m.Data), id) })
	}

	// The interrupt and the cancel are both sent to instance a; one of the
	// prompts runs on the other.
	if status, resp := a.do("POST", "/interrupt", map[string]any{"prompt_id": first}); status != http.StatusOK {
		t.Fatalf("POST /interrupt: %d %s", status, resp)
	}
	if status, resp := a.do("POST", "/api/jobs/"+second+"/cancel", nil); status != http.StatusOK {
		t.Fatalf("POST /api/jobs/%s/cancel: %d %s", second, status, resp)
	}
	for _, id := range []string{first, second} {
		c.waitFor(finished(id))
	}
	a.waitIdle(2)
	var history map[string]struct {
		Status struct {
			StatusStr string `json:"status_str"`
			Messages  [][]any
		} `json:"status"`
	}
	a.getJSON("/history", &history)
	for _, id := range []string{first, second} {
		h := history[id]
		interrupted := false
		for _, m := range h.Status.Messages {
			interrupted = interrupted || (len(m) > 0 && m[0] == "execution_interrupted")
		}
		if h.Status.StatusStr != "error" || !interrupted {
			t.Errorf("history of %s = %+v, want interrupted", id, h.Status)
		}
	}
}

// TestSharedNumbering submits prompts to three instances at once, while
// each runs a long prompt: every prompt gets its own number, from the
// counter the instances share, and every instance's /queue lists the
// pending prompts in the order of their numbers. A front prompt goes
// before them all. A global interrupt then stops the three long prompts.
func TestSharedNumbering(t *testing.T) {
	t.Parallel()
	servers := startInstances(t, 3)
	for i, ts := range servers {
		ts.submit(longPrompt(i, ""))
	}
	servers[0].waitRunning(3)

	const perInstance = 10
	type result struct {
		acc accepted
		err error
	}
	results := make(chan result, perInstance*len(servers))
	for i, ts := range servers {
		go func() {
			for j := range perInstance {
				acc, err := post(ts.url, trivialPrompt(100*i+j, ""))
				results <- result{acc, err}
			}
		}()
	}
	numbers := map[string]float64{}
	seen := map[float64]string{}
	for range perInstance * len(servers) {
		r := <-results
		if r.err != nil {
			t.Fatal(r.err)
		}
		if other, dup := seen[r.acc.Number]; dup {
			t.Errorf("prompts %s and %s both got number %v", other, r.acc.PromptID, r.acc.Number)
		}
		seen[r.acc.Number], numbers[r.acc.PromptID] = r.acc.PromptID, r.acc.Number
	}
	front, err := post(servers[1].url, map[string]any{"front": true, "prompt": trivialPrompt(-1, "")["prompt"]})
	if err != nil {
		t.Fatal(err)
	}
	numbers[front.PromptID] = front.Number

	for i, ts := range servers {
		ids, got := ts.pendingNumbers()
		if len(ids) != len(numbers) || ids[0] != front.PromptID || !slices.IsSorted(got) {
			t.Errorf("instance %d: /queue pending %v numbered %v; want %d prompts, %s first, in number order", i, ids, got, len(numbers), front.PromptID)
		}
		for k, id := range ids {
			if numbers[id] != got[k] {
				t.Errorf("instance %d: /queue numbers %s %v, POST /prompt said %v", i, id, got[k], numbers[id])
			}
		}
	}

	if status, resp := servers[2].do("POST", "/queue", map[string]any{"clear": true}); status != http.StatusOK {
		t.Fatalf("POST /queue clear: %d %s", status, resp)
	}
	// ComfyUI's global interrupt stops whatever runs: in a cluster, every
	// instance's prompt.
	if status, resp := servers[2].do("POST", "/interrupt", map[string]any{}); status != http.StatusOK {
		t.Fatalf("POST /interrupt: %d %s", status, resp)
	}
	servers[0].waitIdle(3)
	var history map[string]struct {
		Status struct {
			StatusStr string `json:"status_str"`
		} `json:"status"`
	}
	servers[0].getJSON("/history", &history)
	for id, h := range history {
		if h.Status.StatusStr != "error" {
			t.Errorf("long prompt %s ended %q, want interrupted", id, h.Status.StatusStr)
		}
	}
}

// previewSender is a test node that sends previewCount previews of a
// 64×64 image before it outputs its value.
var previewSender = node.New(node.Info{ID: "TestPreviewSender", DisplayName: "Test Preview Sender",
	Category: "_for_testing", Module: "gocomfy_test"}, func(s *node.Schema) node.RunFunc {
	value := s.Int("value")
	out := node.Output(s, node.Int, "INT")
	return func(ctx context.Context, c *node.Call) error {
		img := image.NewRGBA(image.Rect(0, 0, 64, 64))
		for i := range img.Pix {
			img.Pix[i] = byte(i * 7)
		}
		for range previewCount {
			c.Preview(img)
		}
		out.Set(c, value.Get(c))
		return nil
	}
})

const previewCount = 3

// startPreviewInstance starts an instance on database db with the test
// nodes, previewSender and gateNode (startServer makes its App itself).
func startPreviewInstance(t *testing.T, db string) *testServer {
	t.Helper()
	app := gocomfy.New(gocomfy.Config{DatabaseURL: db, EnableTestNodes: true, BaseDir: t.TempDir(),
		Logger: slog.New(slog.DiscardHandler)})
	app.Nodes().MustAdd(previewSender, gateNode)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Serve(ctx, ln) }()
	ts := &testServer{t: t, url: "http://" + ln.Addr().String()}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := testClient.Get(ts.url + "/prompt")
		if err == nil {
			resp.Body.Close()
			return ts
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not start: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// previewsOf connects to ts as clientID (announcing
// supports_preview_metadata if meta), queues a previewSender prompt of
// value for it and returns the binary frames it receives until the prompt
// ends.
func (ts *testServer) previewsOf(clientID string, meta bool, value int) [][]byte {
	t := ts.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, strings.Replace(ts.url, "http://", "ws://", 1)+"/ws?clientId="+clientID, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	if meta {
		flags := `{"type": "feature_flags", "data": {"supports_preview_metadata": true}}`
		if err := conn.Write(ctx, websocket.MessageText, []byte(flags)); err != nil {
			t.Fatal(err)
		}
	}
	// Queue once connected, and once the flags are read if sent.
	ready := "status"
	if meta {
		ready = "feature_flags"
	}
	var frames [][]byte
	id := ""
	for {
		typ, data, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("reading %s's messages: %v (%d previews)", clientID, err, len(frames))
		}
		var m wsMessage
		switch {
		case typ == websocket.MessageBinary:
			frames = append(frames, data)
		case json.Unmarshal(data, &m) != nil:
		case m.Type == ready && id == "":
			id = ts.submit(map[string]any{"client_id": clientID, "prompt": map[string]any{
				"1": map[string]any{"class_type": "TestPreviewSender", "inputs": map[string]any{"value": value}},
				"2": map[string]any{"class_type": "PreviewAny", "inputs": map[string]any{"source": []any{"1", 0}}},
			}})
		case id != "" && finished(id)(m):
			return frames
		}
	}
}

// TestRemotePreviews runs prompts that send previews on instance b for
// clients connected to instance a, busy with a long prompt: the previews
// cross through the database, in the form each client asked for (with
// metadata, type 4, or legacy, type 1).
func TestRemotePreviews(t *testing.T) {
	t.Parallel()
	db := pgtest.Schema(t)
	a := startPreviewInstance(t, db)
	a.submit(longPrompt(1, "")) // a alone: a runs it
	a.waitRunning(1)
	b := startPreviewInstance(t, db)

	for _, c := range []struct {
		clientID  string
		meta      bool
		frameType uint32
	}{{"legacy", false, 1}, {"modern", true, 4}} {
		frames := a.previewsOf(c.clientID, c.meta, int(c.frameType))
		if len(frames) != previewCount {
			t.Errorf("%s: %d previews, want %d", c.clientID, len(frames), previewCount)
		}
		for _, f := range frames {
			if len(f) < 8 || binary.BigEndian.Uint32(f) != c.frameType {
				t.Fatalf("%s: preview frame % .8x, want type %d", c.clientID, f, c.frameType)
			}
			img := f[8:]
			if c.frameType == 4 {
				n := binary.BigEndian.Uint32(f[4:])
				if !strings.Contains(string(f[8:8+n]), `"node_id": "1"`) {
					t.Errorf("%s: preview metadata %s", c.clientID, f[8:8+n])
				}
				img = f[8+n:]
			}
			if cfg, err := jpeg.DecodeConfig(bytes.NewReader(img)); err != nil || cfg.Width != 64 {
				t.Errorf("%s: preview image %+v, %v; want a 64-pixel JPEG", c.clientID, cfg, err)
			}
		}
	}
	// Sent to b, the global interrupt stops a's prompt.
	b.do("POST", "/interrupt", nil)
	a.waitIdle(3)
}

// BenchmarkInstances measures the throughput of trivial prompts through
// one and three instances on one database, submitted to them in turn
// (prompts/s). It needs a PostgreSQL server, as TestThreeInstances.
func BenchmarkInstances(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			servers := startInstances(b, n)
			b.ResetTimer()
			for i := range b.N {
				servers[i%n].submit(trivialPrompt(i, "bench"))
			}
			servers[0].waitIdle(b.N)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "prompts/s")
		})
	}
}

// BenchmarkJobsPageHTTP measures GET /jobs?limit=50 (ComfyUI's default
// listing, newest first) on an instance whose PostgreSQL holds 1,000,000
// finished jobs, reporting the median and 99th percentile latency.
func BenchmarkJobsPageHTTP(b *testing.B) {
	db := pgtest.Schema(b)
	ts := startServer(b, gocomfy.Config{DatabaseURL: db}) // migrates the schema
	pgtest.FillJobs(b, db, 1_000_000)
	var lat []float64
	for b.Loop() {
		start := time.Now()
		resp, err := testClient.Get(ts.url + "/jobs?limit=50")
		if err != nil {
			b.Fatal(err)
		}
		var page struct {
			Jobs []json.RawMessage `json:"jobs"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		lat = append(lat, float64(time.Since(start).Microseconds())/1e3)
		if err != nil || resp.StatusCode != http.StatusOK || len(page.Jobs) != 50 {
			b.Fatalf("GET /jobs?limit=50: %d, %d jobs, %v", resp.StatusCode, len(page.Jobs), err)
		}
	}
	slices.Sort(lat)
	b.ReportMetric(lat[len(lat)/2], "p50-ms")
	b.ReportMetric(lat[len(lat)*99/100], "p99-ms")
}

// TestSharedAssets runs two instances with --enable-assets on one database
// and one folder: an asset uploaded to one is listed, described and served
// alike by the other.
func TestSharedAssets(t *testing.T) {
	t.Parallel()
	db, base := pgtest.Schema(t), t.TempDir()
	a := startServer(t, gocomfy.Config{DatabaseURL: db, BaseDir: base, EnableAssets: true})
	b := startServer(t, gocomfy.Config{DatabaseURL: db, BaseDir: base, EnableAssets: true})

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, f := range [][2]string{{"tags", "input,shared"}, {"name", "shared.txt"}} {
		mw.WriteField(f[0], f[1])
	}
	fw, _ := mw.CreateFormFile("file", "shared.txt")
	fw.Write([]byte("the same on every instance"))
	mw.Close()
	resp, err := testClient.Post(a.url+"/api/assets", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		ID string `json:"id"`
	}
	err = json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated || created.ID == "" {
		t.Fatalf("POST /api/assets: %d, %+v, %v", resp.StatusCode, created, err)
	}
	for _, path := range []string{"/api/assets", "/api/assets?include_tags=shared", "/api/assets/" + created.ID,
		"/api/assets/" + created.ID + "/content", "/api/tags"} {
		status, want := a.do("GET", path, nil)
		if status != http.StatusOK {
			t.Fatalf("GET %s on a: %d %s", path, status, want)
		}
		if status, got := b.do("GET", path, nil); status != http.StatusOK || !bytes.Equal(got, want) {
			t.Errorf("GET %s on b: %d %s\nwant (a) %s", path, status, got, want)
		}
	}
}
