package server

import (
	"net"
	"net/http"
	"slices"
	"strings"
)

// Cross-origin defences added to ComfyUI's origin check (spec
// what-users-ask §1.8): the Host check against DNS rebinding, and the
// standard library's CrossOriginProtection for requests that change state,
// the WebSocket upgrade included.

// hostCheck refuses, with a 403, a request that reached a loopback address
// under a Host that is not a loopback name nor an allowed host, when no API
// key protects the server. Such a request comes from a page whose domain
// was made to resolve to 127.0.0.1 (DNS rebinding): the browser then
// treats this server as that page's own origin. With API keys, the page
// cannot present one, and the check would only break reverse proxies.
func (s *Server) hostCheck(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Keys.Len() == 0 && arrivedOnLoopback(r) && !s.hostAllowed(r.Host) {
			s.log.Warn("request refused: Host is not a loopback name (DNS rebinding?); see --allowed-hosts",
				"host", r.Host, "path", r.URL.Path)
			s.refuse(w, r, "host", "Host "+r.Host+" is not allowed on a loopback address; see --allowed-hosts")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hostAllowed reports whether the Host header value host names this
// machine's loopback interface or one of the allowed hosts. An empty Host
// (HTTP/1.0) is allowed: browsers always send one.
func (s *Server) hostAllowed(host string) bool {
	if host == "" {
		return true
	}
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.TrimSuffix(strings.ToLower(strings.Trim(name, "[]")), ".")
	return isLoopbackName(name) || slices.Contains(s.cfg.AllowedHosts, name)
}

// arrivedOnLoopback reports whether r came in on a loopback address (also
// when the server listens on all interfaces).
func arrivedOnLoopback(r *http.Request) bool {
	addr, ok := r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr)
	return ok && addr.IP.IsLoopback()
}

// newCrossOriginProtection returns the standard library's protection with
// the CORS origin trusted, or nil when every origin is trusted ("*", as
// ComfyUI's --enable-cors-header without a value).
func (s *Server) newCrossOriginProtection() *http.CrossOriginProtection {
	if s.cfg.CORSOrigin == "*" {
		return nil
	}
	cop := http.NewCrossOriginProtection()
	if s.cfg.CORSOrigin != "" {
		if err := cop.AddTrustedOrigin(s.cfg.CORSOrigin); err != nil {
			s.log.Warn("--enable-cors-header: origin not trusted for requests that change state", "err", err)
		}
	}
	return cop
}

// crossOrigin refuses, with a 403, a request that changes state and comes
// from another origin: net/http's CrossOriginProtection (Sec-Fetch-Site,
// else Origin against Host). It lets GET, HEAD and OPTIONS through, so a
// WebSocket upgrade, a GET that opens a channel which previews, job data
// and commands go through, is checked as if it were a POST.
func (s *Server) crossOrigin(next http.Handler) http.Handler {
	cop := s.newCrossOriginProtection()
	if cop == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		checked := r
		if isWebSocketUpgrade(r) {
			checked = new(http.Request)
			*checked = *r
			checked.Method = http.MethodPost
		}
		if err := cop.Check(checked); err != nil {
			s.log.Info("request refused", "method", r.Method, "path", r.URL.Path, "err", err,
				"origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
			s.refuse(w, r, "cross_origin", "cross-origin request refused")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// isWebSocketUpgrade reports whether r asks to upgrade to a WebSocket.
func isWebSocketUpgrade(r *http.Request) bool {
	return headerHasToken(r.Header, "Connection", "upgrade") && headerHasToken(r.Header, "Upgrade", "websocket")
}

// headerHasToken reports whether a comma-separated header holds token, in
// any case.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// refuse answers 403 to a request a defence stopped, and counts it. With
// no message the body is empty, as ComfyUI's origin check answers.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, reason, message string) {
	s.metrics.refused(reason)
	if message == "" {
		writeEmpty(w, http.StatusForbidden)
		return
	}
	writeJSON(w, http.StatusForbidden, map[string]string{"error": message})
}
