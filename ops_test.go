package gocomfy_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocomfy/gocomfy"
)

// opsApp is an App served on a loopback port, whose shutdown the test
// controls, and whose log lines it reads.
type opsApp struct {
	t    *testing.T
	url  string
	logs *lockedBuffer
	stop func() error
}

// lockedBuffer is a log destination safe for the server's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startOpsApp serves cfg on ln (nil: a new loopback port) until stop is
// called or the test ends. Serve's error, if it fails at once, is returned
// by stop.
func startOpsApp(t *testing.T, cfg gocomfy.Config, ln net.Listener) *opsApp {
	t.Helper()
	if cfg.BaseDir == "" {
		cfg.BaseDir = t.TempDir()
	}
	logs := &lockedBuffer{}
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	addr := ln.Addr().(*net.TCPAddr)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gocomfy.New(cfg).Serve(ctx, ln) }()
	var once sync.Once
	var serveErr error
	a := &opsApp{t: t, url: "http://127.0.0.1:" + strconv.Itoa(addr.Port), logs: logs}
	a.stop = func() error {
		once.Do(func() {
			cancel()
			serveErr = <-done
		})
		return serveErr
	}
	t.Cleanup(func() { a.stop() })
	for range 500 {
		select {
		case err := <-done:
			once.Do(func() {
				cancel()
				serveErr = err
			})
			return a
		default:
		}
		if resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(a.url + "/health"); err == nil {
			resp.Body.Close()
			return a
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the server did not start")
	return nil
}

// do sends a request with header name/value pairs; it returns the status
// and the body.
func (a *opsApp) do(method, path, body string, header ...string) (int, string) {
	a.t.Helper()
	req, err := http.NewRequest(method, a.url+path, strings.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultTransport.RoundTrip(req) // no redirects followed
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// submit queues prompt and returns its id.
func (a *opsApp) submit(prompt map[string]any) string {
	a.t.Helper()
	body, _ := json.Marshal(map[string]any{"prompt": prompt})
	status, resp := a.do("POST", "/prompt", string(body))
	var acc struct {
		PromptID string `json:"prompt_id"`
	}
	if json.Unmarshal([]byte(resp), &acc); status != 200 || acc.PromptID == "" {
		a.t.Fatalf("POST /prompt: %d %s", status, resp)
	}
	return acc.PromptID
}

// jobStatus is the /api/jobs status of a prompt.
func (a *opsApp) jobStatus(id string) string {
	a.t.Helper()
	status, body := a.do("GET", "/api/jobs/"+id, "")
	var j struct {
		Status string `json:"status"`
	}
	if json.Unmarshal([]byte(body), &j); status != 200 {
		a.t.Fatalf("GET /api/jobs/%s: %d %s", id, status, body)
	}
	return j.Status
}

// waitStatus waits until prompt id has one of the statuses.
func (a *opsApp) waitStatus(id string, statuses ...string) string {
	a.t.Helper()
	for range 3000 {
		s := a.jobStatus(id)
		for _, want := range statuses {
			if s == want {
				return s
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	a.t.Fatalf("prompt %s never reached %v", id, statuses)
	return ""
}

// sleepPrompt is StubImage → TestSleep(seconds) → an output node.
func sleepPrompt(seconds float64) map[string]any {
	return map[string]any{
		"1": map[string]any{"class_type": "StubImage", "inputs": map[string]any{
			"content": "BLACK", "height": 8, "width": 8, "batch_size": 1}},
		"2": map[string]any{"class_type": "TestSleep", "inputs": map[string]any{"value": []any{"1", 0}, "seconds": seconds}},
		"3": map[string]any{"class_type": "TestOutputNodeWithSocketOutput", "inputs": map[string]any{
			"image": []any{"2", 0}, "value": 0.5}},
	}
}

// TestShutdownLetsPromptFinish: on shutdown the running prompt completes
// within the grace period, and the pending one stays queued for the next
// start, where it runs.
func TestShutdownLetsPromptFinish(t *testing.T) {
	t.Parallel()
	cfg := gocomfy.Config{BaseDir: t.TempDir(), EnableTestNodes: true, ShutdownGrace: time.Minute}
	a := startOpsApp(t, cfg, nil)
	running := a.submit(sleepPrompt(0.3))
	pending := a.submit(sleepPrompt(0))
	a.waitStatus(running, "in_progress")
	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	b := startOpsApp(t, cfg, nil)
	if s := b.jobStatus(running); s != "completed" {
		t.Errorf("running prompt after shutdown: %s", s)
	}
	b.waitStatus(pending, "completed")
}

// TestShutdownInterruptsAfterGrace: a prompt still running when the grace
// period ends is interrupted and recorded as cancelled, not lost.
func TestShutdownInterruptsAfterGrace(t *testing.T) {
	t.Parallel()
	cfg := gocomfy.Config{BaseDir: t.TempDir(), EnableTestNodes: true, ShutdownGrace: 50 * time.Millisecond}
	a := startOpsApp(t, cfg, nil)
	id := a.submit(sleepPrompt(9999))
	a.waitStatus(id, "in_progress")
	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(a.logs.String(), "grace period over") {
		t.Errorf("no log line about the interruption")
	}
	b := startOpsApp(t, cfg, nil)
	if s := b.jobStatus(id); s != "cancelled" {
		t.Errorf("interrupted prompt: %s", s)
	}
	_, body := b.do("GET", "/history/"+id, "")
	if !strings.Contains(body, "execution_interrupted") {
		t.Errorf("history: %s", body)
	}
}

// wildcardListener listens on loopback but reports the address of every
// interface, as a server started with --listen does.
type wildcardListener struct{ net.Listener }

func (l wildcardListener) Addr() net.Addr {
	a := *l.Listener.Addr().(*net.TCPAddr)
	a.IP = net.IPv4zero
	return &a
}

func wildcard(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return wildcardListener{ln}
}

// TestAdminToken: on every interface without keys, the server makes a
// token, logs the URL to open with it, and requires it.
func TestAdminToken(t *testing.T) {
	t.Parallel()
	a := startOpsApp(t, gocomfy.Config{}, wildcard(t))
	var token string
	for line := range strings.Lines(a.logs.String()) {
		var rec struct{ URL string }
		if json.Unmarshal([]byte(line), &rec) == nil && strings.Contains(rec.URL, "?token=") {
			u, err := url.Parse(rec.URL)
			if err != nil || u.Port() != a.url[strings.LastIndex(a.url, ":")+1:] {
				t.Errorf("URL %q", rec.URL)
			}
			token = u.Query().Get("token")
		}
	}
	if len(token) < 40 {
		t.Fatalf("no token logged:\n%s", a.logs)
	}
	for _, c := range []struct {
		path   string
		header []string
		want   int
	}{
		{"/prompt", nil, 401},
		{"/prompt?token=" + token, nil, 200},
		{"/prompt", []string{"Authorization", "Bearer " + token}, 200},
		{"/health", nil, 200},
		{"/?token=" + token, nil, 303},
	} {
		if status, body := a.do("GET", c.path, "", c.header...); status != c.want {
			t.Errorf("GET %s: %d %s", c.path, status, body)
		}
	}
	// The log panel, which any key may read, does not show the token.
	status, body := a.do("GET", "/internal/logs/raw", "", "X-API-Key", token)
	if status != 200 || strings.Contains(body, token) {
		t.Errorf("/internal/logs/raw: %d, token shown: %v", status, strings.Contains(body, token))
	}
}

func TestAuthConfig(t *testing.T) {
	t.Parallel()
	const key = "file-key-0123456789abcdef"
	sum := sha256.Sum256([]byte(key))
	keyFile := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(keyFile, []byte("# keys\nalice:sha256:"+hex.EncodeToString(sum[:])+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// Keys from a file: required on loopback too, and no token is made.
	a := startOpsApp(t, gocomfy.Config{APIKeyFile: keyFile}, wildcard(t))
	if strings.Contains(a.logs.String(), "token=") {
		t.Error("a token was made although keys were given")
	}
	if status, _ := a.do("GET", "/prompt", ""); status != 401 {
		t.Errorf("without a key: %d", status)
	}
	if status, _ := a.do("GET", "/prompt", "", "X-API-Key", key); status != 200 {
		t.Errorf("with the file's key: %d", status)
	}

	// --disable-auth: open on every interface.
	b := startOpsApp(t, gocomfy.Config{DisableAuth: true}, wildcard(t))
	if status, _ := b.do("GET", "/prompt", ""); status != 200 {
		t.Errorf("--disable-auth: %d", status)
	}

	// Loopback without keys: open, as ComfyUI.
	c := startOpsApp(t, gocomfy.Config{}, nil)
	if status, _ := c.do("GET", "/prompt", ""); status != 200 {
		t.Errorf("loopback: %d", status)
	}

	// A bad key list, or a key file without keys, is an error at start.
	d := startOpsApp(t, gocomfy.Config{APIKeys: []string{"alice:short"}}, nil)
	if err := d.stop(); err == nil || !strings.Contains(err.Error(), "API keys") {
		t.Errorf("bad key: %v", err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, []byte("# no keys yet\n"), 0o600)
	e := startOpsApp(t, gocomfy.Config{APIKeyFile: empty}, nil)
	if err := e.stop(); err == nil || !strings.Contains(err.Error(), "holds no key") {
		t.Errorf("empty key file: %v", err)
	}
}
