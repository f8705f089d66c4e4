package hello_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gocomfy/gocomfy"
	"github.com/gocomfy/gocomfy/examples/hello"
)

func TestExtension(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := gocomfy.New(gocomfy.Config{BaseDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	hello.Register(app)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	base := "http://" + ln.Addr().String()
	get := func(path string) string {
		t.Helper()
		for i := 0; ; i++ {
			resp, err := http.Get(base + path)
			if err != nil && i < 100 {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
			}
			return string(b)
		}
	}

	for _, p := range []string{"/hello/ping", "/api/hello/ping"} {
		if got := get(p); got != "pong" {
			t.Errorf("GET %s = %q", p, got)
		}
	}
	if got := get("/extensions"); got != `["/extensions/hello/hello.js"]` {
		t.Errorf("GET /extensions = %s", got)
	}
	if got := get("/extensions/hello/hello.js"); !strings.Contains(got, "registerExtension") {
		t.Errorf("hello.js = %q", got)
	}
	if got := get("/object_info/HelloGreet"); !strings.Contains(got, `"python_module": "custom_nodes.hello"`) {
		t.Errorf("object_info = %s", got)
	}

	body := `{"prompt": {"1": {"class_type": "HelloGreet", "inputs": {"name": "gopher", "shout": true}}}}`
	resp, err := http.Post(base+"/prompt", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var acc struct {
		PromptID string `json:"prompt_id"`
	}
	json.NewDecoder(resp.Body).Decode(&acc)
	resp.Body.Close()
	for i := 0; i < 500; i++ {
		var h map[string]struct {
			Outputs map[string]struct {
				Text []string `json:"text"`
			} `json:"outputs"`
		}
		json.Unmarshal([]byte(get("/history/"+acc.PromptID)), &h)
		if e, ok := h[acc.PromptID]; ok {
			if got := e.Outputs["1"].Text; len(got) != 1 || got[0] != "HELLO, GOPHER!" {
				t.Errorf("outputs = %v", got)
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("prompt did not finish")
}
