package server

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gocomfy/gocomfy/internal/auth"
)

const (
	testAdminKey = "admin-0123456789abcdef0123456789"
	testAliceKey = "alice-0123456789abcdef0123456789"
)

func testKeys(t testing.TB) *auth.Keys {
	t.Helper()
	var k auth.Keys
	if err := k.AddList("*:" + testAdminKey + ",alice:" + auth.Hash(testAliceKey)); err != nil {
		t.Fatal(err)
	}
	return &k
}

// routeTarget is a request path for a route pattern: wildcards become "x",
// a subtree pattern gets a file name.
func routeTarget(pattern string) (method, target string) {
	method, path, _ := strings.Cut(pattern, " ")
	path = strings.ReplaceAll(path, "{$}", "")
	var b strings.Builder
	for seg := range strings.SplitSeq(path, "/") {
		if strings.HasPrefix(seg, "{") {
			seg = "x"
		}
		b.WriteString(seg + "/")
	}
	target = strings.TrimSuffix(b.String(), "/")
	if strings.HasSuffix(path, "/") && path != "/" {
		target += "x.js"
	}
	return method, target
}

// TestEveryRouteNeedsAKey goes through the route table, at its path and
// under /api: without a key every route answers 401, except the public
// ones; with a key, none does.
func TestEveryRouteNeedsAKey(t *testing.T) {
	t.Parallel()
	e := newOpsEnv(t, Config{
		Keys:    testKeys(t),
		Routes:  []Route{{Pattern: "GET /myext/status", Handler: http.NotFoundHandler()}},
		WebDirs: []WebDir{{Name: "myext", FS: fstest.MapFS{"x.js": {Data: []byte("//")}}}},
	})
	routes := e.srv.routes()
	if len(routes) < 40 {
		t.Fatalf("only %d routes", len(routes))
	}
	for _, r := range routes {
		method, target := routeTarget(r.pattern)
		targets := []string{target}
		if r.api {
			targets = append(targets, "/api"+target)
		}
		public := slices.Contains(publicPatterns, r.pattern)
		for _, target := range targets {
			w := e.do(method, target, "")
			if public && w.Code == http.StatusUnauthorized {
				t.Errorf("%s %s (public): 401", method, target)
			}
			if !public && (w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") == "") {
				t.Errorf("%s %s without a key: %d %s", method, target, w.Code, w.Body)
			}
			if w := e.do(method, target, "", "X-API-Key", testAdminKey); w.Code == http.StatusUnauthorized {
				t.Errorf("%s %s with a key: 401", method, target)
			}
		}
	}
	// Paths no route serves are not told apart from real ones.
	for _, target := range []string{"/no/such/route", "/api/nothing", "/health/x"} {
		if w := e.do("GET", target, ""); w.Code != http.StatusUnauthorized {
			t.Errorf("GET %s without a key: %d", target, w.Code)
		}
	}
}

func TestCredentials(t *testing.T) {
	t.Parallel()
	e := newOpsEnv(t, Config{Keys: testKeys(t)})
	cases := []struct {
		name   string
		target string
		header []string
		status int
	}{
		{"none", "/prompt", nil, 401},
		{"X-API-Key", "/prompt", []string{"X-API-Key", testAdminKey}, 200},
		{"bearer", "/prompt", []string{"Authorization", "Bearer " + testAliceKey}, 200},
		{"bearer in lower case", "/prompt", []string{"Authorization", "bearer " + testAdminKey}, 200},
		{"query", "/prompt?token=" + testAliceKey, nil, 200},
		{"cookie", "/prompt", []string{"Cookie", "gocomfy_token=" + testAdminKey}, 200},
		{"wrong key", "/prompt", []string{"X-API-Key", "nope"}, 401},
		{"digest as key", "/prompt", []string{"X-API-Key", auth.Hash(testAliceKey)}, 401},
		{"basic", "/prompt", []string{"Authorization", "Basic " + testAdminKey}, 401},
		// The first credential decides: a stale cookie does not hide a bad header.
		{"bad header, good cookie", "/prompt", []string{"X-API-Key", "nope", "Cookie", "gocomfy_token=" + testAdminKey}, 401},
		{"public", "/health", nil, 200},
		{"public with a bad key", "/ready", []string{"X-API-Key", "nope"}, 200},
	}
	for _, c := range cases {
		w := e.do("GET", c.target, "", c.header...)
		if w.Code != c.status {
			t.Errorf("%s: %d %s", c.name, w.Code, w.Body)
		}
	}
	w := e.do("GET", "/prompt", "", "X-API-Key", "nope")
	if want := `{"error": "Invalid API key"}`; w.Body.String() != want {
		t.Errorf("bad key body %s", w.Body)
	}
}

// TestTokenedURL: opening /?token=KEY sets the key's cookie and redirects
// to / without it; the cookie then lets the frontend in.
func TestTokenedURL(t *testing.T) {
	t.Parallel()
	e := newOpsEnv(t, Config{Keys: testKeys(t)})
	req := httptest.NewRequest("GET", "http://127.0.0.1:8188/?token="+testAdminKey+"&lang=fr", nil)
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/?lang=fr" {
		t.Fatalf("%d Location=%q", w.Code, w.Header().Get("Location"))
	}
	cookies := w.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("cookies %v", cookies)
	}
	c := cookies[0]
	if c.Name != "gocomfy_token_8188" || c.Value != testAdminKey || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
		t.Errorf("cookie %+v", c)
	}
	req = httptest.NewRequest("GET", "http://127.0.0.1:8188/", nil)
	req.AddCookie(c)
	w = httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	if w.Code != 200 {
		t.Errorf("with the cookie: %d", w.Code)
	}
	// Another port's cookie is not this server's.
	req = httptest.NewRequest("GET", "http://127.0.0.1:8189/", nil)
	req.AddCookie(c)
	w = httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	if w.Code != 401 {
		t.Errorf("cookie of another port: %d", w.Code)
	}
	// An invalid token sets nothing.
	w = e.do("GET", "/?token=nope", "")
	if w.Code != 401 || len(w.Result().Cookies()) != 0 {
		t.Errorf("bad token: %d %v", w.Code, w.Result().Cookies())
	}
}

// TestAuthUser: a key bound to a user puts the user in the request's
// context; an administrator's key and an open server do not.
func TestAuthUser(t *testing.T) {
	t.Parallel()
	whoami := Route{Pattern: "GET /whoami", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, ok := authUser(r.Context())
		if !ok {
			user = "(none)"
		}
		w.Write([]byte(user))
	})}
	keyed := newOpsEnv(t, Config{Keys: testKeys(t), Routes: []Route{whoami}})
	open := newOpsEnv(t, Config{Routes: []Route{whoami}})
	cases := []struct {
		e      *opsEnv
		header []string
		want   string
	}{
		{keyed, []string{"X-API-Key", testAliceKey, "Comfy-User", "bob"}, "alice"},
		{keyed, []string{"X-API-Key", testAdminKey, "Comfy-User", "bob"}, "(none)"},
		{open, []string{"Comfy-User", "bob"}, "(none)"},
	}
	for _, c := range cases {
		if w := c.e.do("GET", "/api/whoami", "", c.header...); w.Code != 200 || w.Body.String() != c.want {
			t.Errorf("%v: %d %s, want %s", c.header, w.Code, w.Body, c.want)
		}
	}
}
