package server

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gocomfy/gocomfy/internal/event"
	"github.com/gocomfy/gocomfy/internal/executor"
	"github.com/gocomfy/gocomfy/internal/files"
	"github.com/gocomfy/gocomfy/internal/queue"
	"github.com/gocomfy/gocomfy/internal/store"
	"github.com/gocomfy/gocomfy/internal/store/sqlite"
	"github.com/gocomfy/gocomfy/internal/userdata"
	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/nodes/builtin"
	"github.com/gocomfy/gocomfy/nodes/testnodes"
)

// opsEnv is a complete Server: SQLite store, queue and executor with the
// test nodes, hub, folders and user data. Its queue runs only once
// runQueue is called, so that tests can fill it.
type opsEnv struct {
	t       testing.TB
	srv     *Server
	h       http.Handler
	queue   *queue.Queue
	store   store.Store
	metrics *Metrics
}

func newOpsEnv(t testing.TB, cfg Config) *opsEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	logger := slog.New(slog.DiscardHandler)
	folders, err := files.Open(files.Config{BaseDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { folders.Close() })
	st := cfg.Store // a test may share one store between servers (instances, restarts)
	if st == nil {
		db, err := sqlite.Open(ctx, filepath.Join(dir, "gocomfy.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		st = db
	}
	reg := node.NewRegistry()
	builtin.Register(reg)
	testnodes.Register(reg)
	hub := event.NewHub()
	sink := &event.Sink{Hub: hub, Log: logger}
	metrics := NewMetrics()
	exec := executor.New(reg, executor.Config{Cache: executor.Classic, Logger: logger, Folders: node.Folders{
		Input: folders.Root(files.Input), Output: folders.Root(files.Output), Temp: folders.Root(files.Temp)}})
	q, err := queue.New(ctx, queue.Config{Store: st, Registry: reg, Executor: exec, Sink: metrics.Observe(sink, st),
		MaxPending: cfg.MaxPending, Worker: "test", Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	users, err := userdata.New(userdata.Config{Folders: folders, Logs: userdata.NewLogs(16), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Queue, cfg.Store, cfg.Registry, cfg.Hub, cfg.Sink = q, st, reg, hub, sink
	cfg.Folders, cfg.UserData, cfg.Logger, cfg.Metrics = folders, users, logger, metrics
	cfg.Version, cfg.ServerID = "0.0.0-test", "test-server"
	if cfg.MaxUploadSize == 0 {
		cfg.MaxUploadSize = 1 << 20
	}
	srv := New(cfg)
	return &opsEnv{t: t, srv: srv, h: srv.Handler(), queue: q, store: st, metrics: metrics}
}

// runQueue runs the queue's worker until the test ends.
func (e *opsEnv) runQueue() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.queue.Run(ctx)
	}()
	e.t.Cleanup(func() {
		cancel()
		<-done
	})
}

// do serves one request and returns the recorded response.
func (e *opsEnv) do(method, target, body string, header ...string) *httptest.ResponseRecorder {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	return w
}

// stubPrompt is StubImage → TestOutputNodeWithSocketOutput, as a POST
// /prompt body.
func stubPrompt(clientID string) string {
	b, _ := json.Marshal(map[string]any{"client_id": clientID, "prompt": map[string]any{
		"1": map[string]any{"class_type": "StubImage", "inputs": map[string]any{
			"content": "BLACK", "height": 8, "width": 8, "batch_size": 1}},
		"2": map[string]any{"class_type": "TestOutputNodeWithSocketOutput", "inputs": map[string]any{
			"image": []any{"1", 0}, "value": 0.5}},
	}})
	return string(b)
}

func TestHealthAndReady(t *testing.T) {
	t.Parallel()
	e := newOpsEnv(t, Config{MaxPending: 1})
	check := func(target string, status int, body string) {
		t.Helper()
		w := e.do("GET", target, "")
		if w.Code != status || w.Body.String() != body {
			t.Errorf("GET %s: %d %s; want %d %s", target, w.Code, w.Body, status, body)
		}
	}
	check("/health", 200, `{"status": "ok"}`)
	check("/ready", 200, `{"status": "ok"}`)
	// The queue does not run: one pending prompt reaches the bound.
	if w := e.do("POST", "/prompt", stubPrompt("")); w.Code != 200 {
		t.Fatalf("POST /prompt: %d %s", w.Code, w.Body)
	}
	check("/ready", 503, `{"status": "queue_full"}`)
	e.srv.Drain()
	check("/ready", 503, `{"status": "draining"}`)
	check("/health", 200, `{"status": "ok"}`)
}

func TestQueueFullIs429(t *testing.T) {
	t.Parallel()
	e := newOpsEnv(t, Config{MaxPending: 2})
	for i := range 2 {
		if w := e.do("POST", "/prompt", stubPrompt("")); w.Code != 200 {
			t.Fatalf("prompt %d: %d %s", i, w.Code, w.Body)
		}
	}
	w := e.do("POST", "/api/prompt", stubPrompt(""))
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" ||
		w.Body.String() != `{"error": "The queue is full; retry later"}` {
		t.Errorf("third prompt: %d Retry-After=%q %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	// An invalid prompt is still told what is wrong with it.
	if w := e.do("POST", "/prompt", `{}`); w.Code != 400 {
		t.Errorf("invalid prompt on a full queue: %d %s", w.Code, w.Body)
	}
}

func TestBodyLimits(t *testing.T) {
	t.Parallel()
	e := newOpsEnv(t, Config{MaxUploadSize: 1000})
	big := `{"prompt": {}, "extra_data": {"pad": "` + strings.Repeat("x", 2000) + `"}}`
	want := `{"error": "Maximum request body size 1000 exceeded"}`

	// A declared length over the limit is refused before reading.
	if w := e.do("POST", "/prompt", big); w.Code != 413 || w.Body.String() != want {
		t.Errorf("declared: %d %s", w.Code, w.Body)
	}
	// A streamed body is cut off at the limit.
	req := httptest.NewRequest("POST", "/prompt", io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	if w.Code != 413 || w.Body.String() != want {
		t.Errorf("streamed: %d %s", w.Code, w.Body)
	}
	if w := e.do("POST", "/prompt", `{"prompt": {}}`); w.Code != 400 {
		t.Errorf("small body: %d %s", w.Code, w.Body)
	}
}

// TestStalledBodyIs408 sends a body that stops half way: the server answers
// 408 once it has waited bodyIdleTimeout (shortened here) for more.
func TestStalledBodyIs408(t *testing.T) {
	t.Parallel()
	e := newOpsEnv(t, Config{})
	e.srv.bodyIdle = 50 * time.Millisecond
	ts := httptest.NewServer(e.srv.Handler())
	defer ts.Close()
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "POST /prompt HTTP/1.1\r\nHost: "+ts.Listener.Addr().String()+
		"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"prompt\": ")
	conn.SetReadDeadline(time.Now().Add(30 * time.Second)) // a hang fails, it does not block the suite
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !json.Valid(body) {
		t.Errorf("%d %s", resp.StatusCode, body)
	}
}

// TestWebSocketFrameLimit: a message over the read limit closes the
// connection with 1009 (message too big).
func TestWebSocketFrameLimit(t *testing.T) {
	t.Parallel()
	e := newOpsEnv(t, Config{})
	ts := httptest.NewServer(e.h)
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http")+"/ws?clientId=big", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	conn.Write(ctx, websocket.MessageText, []byte(strings.Repeat(" ", wsReadLimit+1)))
	for {
		if _, _, err = conn.Read(ctx); err != nil {
			break
		}
	}
	if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Errorf("read after an oversized message: %v", err)
	}
}

// TestMetrics runs a prompt twice and checks the scrape, line by line in
// the text format. The second run serves the output node from the cache,
// so StubImage is not even looked at.
func TestMetrics(t *testing.T) {
	t.Parallel()
	e := newOpsEnv(t, Config{MaxPending: 5})
	e.runQueue()
	for range 2 {
		w := e.do("POST", "/prompt", stubPrompt("")) // no client id: timed anyway
		var acc struct {
			PromptID string `json:"prompt_id"`
		}
		if json.Unmarshal(w.Body.Bytes(), &acc); w.Code != 200 {
			t.Fatalf("POST /prompt: %d %s", w.Code, w.Body)
		}
		for {
			j, err := e.store.Get(context.Background(), acc.PromptID)
			if err != nil {
				t.Fatal(err)
			}
			if j.Status.Finished() {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	e.do("GET", "/history/unknown", "")
	e.do("GET", "/no/such/route", "")

	w := e.do("GET", "/metrics", "")
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("%d %q", w.Code, w.Header().Get("Content-Type"))
	}
	samples := parseExposition(t, w.Body.String())
	for name, want := range map[string]float64{
		`gocomfy_info{version="0.0.0-test",server_id="test-server"}`:                   1,
		`gocomfy_jobs{status="completed"}`:                                             2,
		`gocomfy_jobs{status="pending"}`:                                               0,
		`gocomfy_queue_max_pending`:                                                    5,
		`gocomfy_websocket_clients`:                                                    0,
		`gocomfy_http_requests_total{route="POST /prompt",code="200"}`:                 2,
		`gocomfy_http_requests_total{route="GET /history/{prompt_id}",code="200"}`:     1,
		`gocomfy_http_requests_total{route="unmatched",code="404"}`:                    1,
		`gocomfy_http_request_duration_seconds_count{route="POST /prompt"}`:            2,
		`gocomfy_http_request_duration_seconds_bucket{route="POST /prompt",le="+Inf"}`: 2,
		`gocomfy_node_execution_seconds_count{class="StubImage"}`:                      1,
		`gocomfy_node_execution_seconds_count{class="TestOutputNodeWithSocketOutput"}`: 1,
		`gocomfy_node_execution_seconds_bucket{class="StubImage",le="+Inf"}`:           1,
		`gocomfy_node_cache_hits_total{class="TestOutputNodeWithSocketOutput"}`:        1,
	} {
		if got, ok := samples[name]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
}

var sampleLine = regexp.MustCompile(`^([a-z_]+(?:\{[a-z_]+="(?:[^"\\]|\\.)*"(?:,[a-z_]+="(?:[^"\\]|\\.)*")*\})?) (\S+)$`)

// parseExposition checks every line of a metrics page and returns its
// samples by name and labels.
func parseExposition(t *testing.T, page string) map[string]float64 {
	t.Helper()
	samples := map[string]float64{}
	for line := range strings.Lines(page) {
		line = strings.TrimSuffix(line, "\n")
		if strings.HasPrefix(line, "# HELP ") || strings.HasPrefix(line, "# TYPE ") {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("malformed line %q", line)
			continue
		}
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Errorf("malformed value in %q", line)
		}
		samples[m[1]] = v
	}
	return samples
}

func TestLabelsEscaped(t *testing.T) {
	if got, want := labels("class", "a\"b\\c\nd", "x", "y"), `class="a\"b\\c\nd",x="y"`; got != want {
		t.Errorf("labels = %s, want %s", got, want)
	}
}
