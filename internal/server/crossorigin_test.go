package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// originServer serves e over real loopback HTTP (a WebSocket upgrade needs
// a connection). remote makes requests look as if they arrived on a LAN
// address, as for a server listening on every interface.
func originServer(t *testing.T, e *opsEnv, remote bool) string {
	t.Helper()
	h := e.h
	if remote {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			lan := &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 8188}
			e.h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, lan)))
		})
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts.Listener.Addr().String()
}

// originRequest is one request of the matrix.
type originRequest struct {
	method, path  string
	ws            bool
	host          string // Host header
	origin        string // "" for none
	secFetchSite  string // "" for none
	secFetchMode  string
	apiKey        string
	describeExtra string
}

func (q originRequest) String() string {
	return fmt.Sprintf("%s %s ws=%v Host=%q Origin=%q Sec-Fetch-Site=%q %s", q.method, q.path, q.ws, q.host,
		q.origin, q.secFetchSite, q.describeExtra)
}

// send sends q to addr and returns the status; a WebSocket that is
// accepted answers 101.
func (q originRequest) send(t *testing.T, addr string) int {
	t.Helper()
	var body *strings.Reader
	if q.method == "POST" {
		body = strings.NewReader("{}")
	} else {
		body = strings.NewReader("")
	}
	req, err := http.NewRequest(q.method, "http://"+addr+q.path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = q.host
	set := func(k, v string) {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	set("Origin", q.origin)
	set("Sec-Fetch-Site", q.secFetchSite)
	set("Sec-Fetch-Mode", q.secFetchMode)
	set("X-API-Key", q.apiKey)
	if q.ws {
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	}
	resp, err := originTransport.RoundTrip(req)
	if err != nil {
		t.Fatalf("%v: %v", q, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestOriginMatrix sends method × Sec-Fetch-Site × Origin × Host × route,
// the WebSocket upgrade included, to a server on loopback without keys
// (ComfyUI's default), one reached on a LAN address with keys, and one on
// a LAN address with --disable-auth, and checks each answer against the
// policy, stated here independently of the middleware that implements it:
//
//   - without keys, on loopback, the Host must be a loopback name (DNS
//     rebinding);
//   - a cross-site request (in any letter case) is refused, except a
//     top-level navigation (ComfyUI's check, relaxed);
//   - on a loopback Host, an Origin that is not the Host's, "null"
//     included, is refused (ComfyUI's check);
//   - a request that changes state, or a WebSocket upgrade, is refused when
//     Sec-Fetch-Site says it is not same-origin (nor user-initiated), or,
//     without Sec-Fetch-Site, when an Origin is not the Host's
//     (CrossOriginProtection).
func TestOriginMatrix(t *testing.T) {
	t.Parallel()
	type setup struct {
		name   string
		remote bool
		keys   bool
	}
	routes := []struct {
		method, path string
		ws           bool
	}{
		{"GET", "/prompt", false}, {"POST", "/prompt", false}, {"POST", "/upload/image", false},
		{"GET", "/ws", true}, {"GET", "/", false}, {"DELETE", "/userdata/x.json", false},
	}
	sites := []string{"", "none", "same-origin", "same-site", "cross-site", "CROSS-SITE", "Same-Origin"}
	for _, s := range []setup{{"loopback open", false, false}, {"LAN with keys", true, true}, {"LAN open", true, false}} {
		cfg := Config{}
		if s.keys {
			cfg.Keys = testKeys(t)
		}
		e := newOpsEnv(t, cfg)
		addr := originServer(t, e, s.remote)
		_, port, _ := net.SplitHostPort(addr)
		hosts := []string{"127.0.0.1:" + port, "localhost:" + port, "evil.example:" + port}
		if s.remote {
			hosts = []string{"10.1.2.3:" + port, "comfy.lan:" + port}
		}
		count := 0
		for _, rt := range routes {
			for _, host := range hosts {
				hostName, _, _ := net.SplitHostPort(host)
				loopbackHost := hostName == "127.0.0.1" || hostName == "localhost"
				for _, origin := range []string{"", "null", "http://" + host, "http://evil.example"} {
					for _, site := range sites {
						q := originRequest{method: rt.method, path: rt.path, ws: rt.ws, host: host, origin: origin, secFetchSite: site}
						if s.keys {
							q.apiKey = testAdminKey
						}
						unsafe := rt.ws || rt.method != "GET"
						sameOrigin := origin == "http://"+host
						refused := !s.keys && !s.remote && !loopbackHost ||
							strings.EqualFold(site, "cross-site") ||
							loopbackHost && origin != "" && !sameOrigin ||
							unsafe && site != "" && site != "same-origin" && site != "none" ||
							unsafe && site == "" && origin != "" && !sameOrigin
						got := q.send(t, addr)
						count++
						switch {
						case refused && got != http.StatusForbidden:
							t.Errorf("%s: %v: %d, want 403", s.name, q, got)
						case !refused && (got == http.StatusForbidden || got == http.StatusUnauthorized):
							t.Errorf("%s: %v: %d, want it let through", s.name, q, got)
						case !refused && rt.ws && got != http.StatusSwitchingProtocols:
							t.Errorf("%s: %v: %d, want 101", s.name, q, got)
						}
					}
				}
			}
		}
		t.Logf("%s: %d requests", s.name, count)
	}
}

// TestOriginCases are the reported attacks and the legitimate uses around
// them, one by one.
func TestOriginCases(t *testing.T) {
	t.Parallel()
	open := newOpsEnv(t, Config{AllowedHosts: []string{"Comfy.Example.COM"}})
	openAddr := originServer(t, open, false)
	keyed := newOpsEnv(t, Config{Keys: testKeys(t)})
	keyedAddr := originServer(t, keyed, true)
	trusted := newOpsEnv(t, Config{CORSOrigin: "https://app.example"})
	trustedAddr := originServer(t, trusted, false)
	anyOrigin := newOpsEnv(t, Config{CORSOrigin: "*"})
	anyAddr := originServer(t, anyOrigin, false)
	self := "http://" + openAddr
	cases := []struct {
		name string
		addr string
		q    originRequest
		want int
	}{
		{"CVE-2024-10481: another site POSTs a prompt", openAddr,
			originRequest{method: "POST", path: "/prompt", host: openAddr, origin: "http://evil.example", secFetchSite: "cross-site"}, 403},
		{"GHSA-5xxr-jvhm-jxmj: Origin null from an old browser", openAddr,
			originRequest{method: "POST", path: "/prompt", host: openAddr, origin: "null"}, 403},
		{"Origin null, GET on a loopback Host", openAddr,
			originRequest{method: "GET", path: "/history", host: openAddr, origin: "null"}, 403},
		{"Fetch Metadata in upper case", openAddr,
			originRequest{method: "GET", path: "/history", host: openAddr, secFetchSite: "CROSS-SITE"}, 403},
		{"DNS rebinding: same origin under an attacker's name", openAddr,
			originRequest{method: "POST", path: "/prompt", host: "rebind.example", origin: "http://rebind.example", secFetchSite: "same-origin"}, 403},
		{"DNS rebinding of the WebSocket", openAddr,
			originRequest{method: "GET", path: "/ws", ws: true, host: "rebind.example", origin: "http://rebind.example"}, 403},
		{"0.0.0.0 is not a loopback name", openAddr,
			originRequest{method: "GET", path: "/prompt", host: "0.0.0.0"}, 403},
		{"the frontend", openAddr,
			originRequest{method: "POST", path: "/prompt", host: openAddr, origin: self, secFetchSite: "same-origin"}, 400},
		{"the frontend's WebSocket", openAddr,
			originRequest{method: "GET", path: "/ws", ws: true, host: openAddr, origin: self, secFetchSite: "same-origin"}, 101},
		{"a script without Origin", openAddr,
			originRequest{method: "POST", path: "/prompt", host: openAddr}, 400},
		{"a script's WebSocket", openAddr,
			originRequest{method: "GET", path: "/ws", ws: true, host: openAddr}, 101},
		{"IPv6 loopback", openAddr,
			originRequest{method: "GET", path: "/prompt", host: "[::1]:8188"}, 200},
		{"a name under .localhost", openAddr,
			originRequest{method: "GET", path: "/prompt", host: "comfy.localhost"}, 200},
		{"an allowed host, in another case", openAddr,
			originRequest{method: "POST", path: "/prompt", host: "comfy.example.com", origin: "https://comfy.example.com"}, 400},
		{"a cross-site WebSocket", openAddr,
			originRequest{method: "GET", path: "/ws", ws: true, host: openAddr, origin: "http://evil.example", secFetchSite: "cross-site"}, 403},
		{"auth proxy redirect: cross-site navigation to /", openAddr,
			originRequest{method: "GET", path: "/", host: openAddr, secFetchSite: "cross-site", secFetchMode: "navigate"}, 200},
		{"a cross-site navigation that POSTs (a form)", openAddr,
			originRequest{method: "POST", path: "/prompt", host: openAddr, origin: "http://evil.example", secFetchSite: "cross-site", secFetchMode: "navigate"}, 403},
		{"with keys: another site's form still refused", keyedAddr,
			originRequest{method: "POST", path: "/prompt", host: "10.1.2.3:8188", origin: "http://evil.example", apiKey: testAdminKey}, 403},
		{"with keys: any Host", keyedAddr,
			originRequest{method: "GET", path: "/prompt", host: "evil.example", apiKey: testAdminKey}, 200},
		{"with keys: no key", keyedAddr,
			originRequest{method: "GET", path: "/prompt", host: "10.1.2.3:8188"}, 401},
		{"--enable-cors-header ORIGIN: that origin POSTs", trustedAddr,
			originRequest{method: "POST", path: "/prompt", host: trustedAddr, origin: "https://app.example", secFetchSite: "cross-site"}, 400},
		{"--enable-cors-header ORIGIN: its WebSocket", trustedAddr,
			originRequest{method: "GET", path: "/ws", ws: true, host: trustedAddr, origin: "https://app.example", secFetchSite: "cross-site"}, 101},
		{"--enable-cors-header ORIGIN: another origin", trustedAddr,
			originRequest{method: "POST", path: "/prompt", host: trustedAddr, origin: "https://other.example", secFetchSite: "cross-site"}, 403},
		{"--enable-cors-header ORIGIN: preflight", trustedAddr,
			originRequest{method: "OPTIONS", path: "/prompt", host: trustedAddr, origin: "https://app.example"}, 200},
		{"--enable-cors-header: any origin, as ComfyUI", anyAddr,
			originRequest{method: "POST", path: "/prompt", host: anyAddr, origin: "https://other.example", secFetchSite: "cross-site"}, 400},
	}
	for _, c := range cases {
		if got := c.q.send(t, c.addr); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}

func TestCORSHeaders(t *testing.T) {
	t.Parallel()
	e := newOpsEnv(t, Config{CORSOrigin: "https://app.example"})
	w := e.do("OPTIONS", "/prompt", "", "Origin", "https://app.example", "Access-Control-Request-Private-Network", "true")
	h := w.Header()
	if w.Code != 200 || h.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		!strings.Contains(h.Get("Access-Control-Allow-Headers"), "X-API-Key") ||
		h.Get("Access-Control-Allow-Private-Network") != "true" {
		t.Errorf("%d %v", w.Code, h)
	}
}

// originTransport is the matrix's own transport: httptest.Server.Close in
// parallel tests closes http.DefaultTransport's idle connections, which
// would break a request in flight here.
var originTransport = &http.Transport{}
