package gocomfy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gocomfy/gocomfy"
)

// testServer is a gocomfy server on a random loopback port, with its
// folders in a temporary directory.
type testServer struct {
	t    testing.TB
	url  string
	base string
	stop func()
}

// startServer runs an App on a random loopback port until the test ends.
func startServer(t testing.TB, cfg gocomfy.Config) *testServer {
	t.Helper()
	if cfg.BaseDir == "" {
		cfg.BaseDir = t.TempDir()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gocomfy.New(cfg).Serve(ctx, ln) }()
	ts := &testServer{t: t, url: "http://" + ln.Addr().String(), base: cfg.BaseDir}
	ts.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	}
	t.Cleanup(func() { ts.stop() })
	for i := 0; ; i++ {
		resp, err := testClient.Get(ts.url + "/prompt")
		if err == nil {
			resp.Body.Close()
			break
		}
		if i > 200 {
			t.Fatalf("server did not start: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return ts
}

// do sends a request and returns the status and body.
func (ts *testServer) do(method, path string, body any) (int, []byte) {
	ts.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			ts.t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, ts.url+path, r)
	if err != nil {
		ts.t.Fatal(err)
	}
	resp, err := testClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatal(err)
	}
	return resp.StatusCode, data
}

// getJSON GETs path and decodes the 200 body into v.
func (ts *testServer) getJSON(path string, v any) {
	ts.t.Helper()
	status, body := ts.do("GET", path, nil)
	if status != http.StatusOK {
		ts.t.Fatalf("GET %s: %d %s", path, status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		ts.t.Fatalf("GET %s: %v in %s", path, err, body)
	}
}

// wsMessage is one JSON WebSocket message.
type wsMessage struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
	raw  []byte
}

// wsClient is a connected WebSocket client that records every message.
type wsClient struct {
	t      testing.TB
	conn   *websocket.Conn
	mu     sync.Mutex
	msgs   []wsMessage
	more   chan struct{}
	closed chan struct{} // closed when reading stopped
}

func (ts *testServer) connect(clientID string) *wsClient {
	ts.t.Helper()
	query := ""
	if clientID != "" {
		query = "clientId=" + clientID
	}
	return ts.dialWS(query)
}

// dialWS opens /ws?query on ts and records its messages until the test
// ends.
func (ts *testServer) dialWS(query string) *wsClient {
	ts.t.Helper()
	u := strings.Replace(ts.url, "http://", "ws://", 1) + "/ws"
	if query != "" {
		u += "?" + query
	}
	conn, _, err := websocket.Dial(context.Background(), u, nil)
	if err != nil {
		ts.t.Fatal(err)
	}
	conn.SetReadLimit(64 << 20)
	c := &wsClient{t: ts.t, conn: conn, more: make(chan struct{}, 1), closed: make(chan struct{})}
	go func() {
		defer close(c.closed)
		for {
			typ, data, err := conn.Read(context.Background())
			if err != nil {
				return
			}
			if typ != websocket.MessageText {
				continue
			}
			var m wsMessage
			if json.Unmarshal(data, &m) != nil {
				continue
			}
			m.raw = data
			c.mu.Lock()
			c.msgs = append(c.msgs, m)
			c.mu.Unlock()
			select {
			case c.more <- struct{}{}:
			default:
			}
		}
	}()
	ts.t.Cleanup(func() { conn.CloseNow() })
	return c
}

// waitFor returns the messages up to and including the first for which
// done returns true.
func (c *wsClient) waitFor(done func(m wsMessage) bool) []wsMessage {
	c.t.Helper()
	deadline := time.After(30 * time.Second)
	seen := 0
	for {
		c.mu.Lock()
		msgs := append([]wsMessage(nil), c.msgs...)
		c.mu.Unlock()
		for ; seen < len(msgs); seen++ {
			if done(msgs[seen]) {
				return msgs[:seen+1]
			}
		}
		select {
		case <-c.more:
		case <-deadline:
			c.t.Fatalf("timed out waiting; got %d messages", len(msgs))
		}
	}
}

// finished reports the end-of-prompt message: executing with node null.
func finished(promptID string) func(m wsMessage) bool {
	return func(m wsMessage) bool {
		if m.Type != "executing" {
			return false
		}
		var d struct {
			Node     *string `json:"node"`
			PromptID string  `json:"prompt_id"`
		}
		json.Unmarshal(m.Data, &d)
		return d.Node == nil && d.PromptID == promptID
	}
}

// run is ComfyClient.run of ComfyUI's test_execution.py: it queues prompt
// for client c, reads the messages of that prompt until it finishes, and
// fails on an execution_error.
type runResult struct {
	promptID string
	ran      map[string]bool // an executing message was seen
	cached   map[string]bool // listed in execution_cached
	msgs     []wsMessage
	errData  map[string]any // execution_error data, if any
}

func (r runResult) didRun(id string) bool      { return r.ran[id] }
func (r runResult) wasCached(id string) bool   { return r.cached[id] }
func (r runResult) wasExecuted(id string) bool { return r.ran[id] || r.cached[id] }

func (ts *testServer) run(c *wsClient, clientID string, body map[string]any) runResult {
	ts.t.Helper()
	body["client_id"] = clientID
	status, resp := ts.do("POST", "/prompt", body)
	if status != http.StatusOK {
		ts.t.Fatalf("POST /prompt: %d %s", status, resp)
	}
	var acc struct {
		PromptID string `json:"prompt_id"`
	}
	json.Unmarshal(resp, &acc)
	msgs := c.waitFor(finished(acc.PromptID))
	r := runResult{promptID: acc.PromptID, ran: map[string]bool{}, cached: map[string]bool{}}
	for _, m := range msgs {
		var d map[string]any
		json.Unmarshal(m.Data, &d)
		if pid, _ := d["prompt_id"].(string); pid != acc.PromptID {
			continue
		}
		r.msgs = append(r.msgs, m)
		switch m.Type {
		case "executing":
			if n, ok := d["node"].(string); ok {
				r.ran[n] = true
			}
		case "execution_cached":
			for _, n := range d["nodes"].([]any) {
				r.cached[n.(string)] = true
			}
		case "execution_error":
			r.errData = d
		}
	}
	return r
}

func (r runResult) String() string {
	var b strings.Builder
	for _, m := range r.msgs {
		fmt.Fprintf(&b, "%s\n", m.raw)
	}
	return b.String()
}

// testClient has its own transport: httptest.Server.Close, in tests running
// in parallel, closes http.DefaultTransport's idle connections.
var testClient = &http.Client{Transport: &http.Transport{}}
