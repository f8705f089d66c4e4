package server

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gocomfy/gocomfy/internal/web"
)

// FuzzPostPrompt sends arbitrary bodies to POST /prompt through the whole
// handler: never a 5xx, always a JSON answer.
func FuzzPostPrompt(f *testing.F) {
	f.Add(stubPrompt("c1"))
	f.Add(`{"prompt": {"1": {"class_type": "StubImage", "inputs": {"content": "BLACK"}}}}`)
	f.Add(`{"prompt": {"1": {"class_type": "TestSleep", "inputs": {"value": ["1", 0], "seconds": 1e308}}}}`)
	f.Add(`{"prompt": {}, "number": "nan", "front": [], "prompt_id": 7, "client_id": {}}`)
	f.Add(`{"prompt": {"1": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "../../x"}}, "2": {"class_type": "EmptyImage", "inputs": {}}}}`)
	f.Add(`[1, 2]`)
	f.Add(`{"prompt": `)
	e := newOpsEnv(f, Config{})
	f.Fuzz(func(t *testing.T, body string) {
		w := e.do("POST", "/prompt", body)
		if w.Code >= 500 || !json.Valid(w.Body.Bytes()) {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
}

// FuzzPathParams puts an arbitrary segment in every path parameter of the
// route table, escaped as a client would and as the server sees it
// decoded: never a 5xx (a handler's panic is one).
func FuzzPathParams(f *testing.F) {
	for _, seed := range []string{"x", "..", "../../etc/passwd", "a/b", "%2e%2e", "\x00", "__system", `C:\Windows\win.ini`,
		"workflows/a.json", "00000000-0000-0000-0000-000000000000", strings.Repeat("a", 300), "é", "*", "{id}"} {
		f.Add(seed)
	}
	// With templates and a frontend, so that /templates/ and its fallback
	// are among the targets.
	e := newOpsEnv(f, Config{Templates: web.Templates(), Frontend: web.FS()})
	type target struct{ method, path string }
	var targets []target
	for _, r := range e.srv.routes() {
		method, path, _ := strings.Cut(r.pattern, " ")
		if strings.Contains(path, "{") || strings.HasSuffix(path, "/") && path != "/" {
			targets = append(targets, target{method, path})
		}
	}
	if len(targets) < 10 {
		f.Fatalf("only %d routes with parameters", len(targets))
	}
	f.Fuzz(func(t *testing.T, seg string) {
		for _, tg := range targets {
			raw, decoded := fillParams(tg.path, url.PathEscape(seg)), fillParams(tg.path, seg)
			for _, u := range []*url.URL{{Path: decoded, RawPath: raw}, {Path: decoded}} {
				req := httptest.NewRequest(tg.method, "/", strings.NewReader("{}"))
				req.URL = u
				req.RequestURI = u.RequestURI()
				w := httptest.NewRecorder()
				e.h.ServeHTTP(w, req)
				// 503 is the assets routes' answer when assets are off (spec §11.1).
				if w.Code >= 500 && w.Code != 503 {
					t.Fatalf("%s %s: %d %s", tg.method, u.RequestURI(), w.Code, w.Body)
				}
			}
		}
	})
}

// fillParams replaces every {wildcard} of a pattern's path with seg, and
// appends seg to a subtree path ("/extensions/x/").
func fillParams(path, seg string) string {
	var b strings.Builder
	for rest := path; rest != ""; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			b.WriteString(rest)
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		b.WriteString(rest[:i] + seg)
		rest = rest[i+j+1:]
	}
	if strings.HasSuffix(path, "/") {
		b.WriteString(seg)
	}
	return b.String()
}

func TestFillParams(t *testing.T) {
	for path, want := range map[string]string{
		"/userdata/{file}/move/{dest}": "/userdata/S/move/S",
		"/history/{prompt_id}":         "/history/S",
		"/extensions/x/":               "/extensions/x/S",
		"/prompt":                      "/prompt",
	} {
		if got := fillParams(path, "S"); got != want {
			t.Errorf("fillParams(%q) = %q, want %q", path, got, want)
		}
	}
}
