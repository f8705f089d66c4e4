package server

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"runtime/debug"
	"strings"
	"time"
)

// recoverPanics turns a handler's panic into a logged 500: a bug in one
// request never takes the server down.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic serving a request", "method", r.Method, "path", r.URL.Path,
					"panic", v, "stack", string(debug.Stack()))
				writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal server error"})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// bodyIdleTimeout is how long a request body may stall: a client that sends
// nothing for that long is cut off with a 408. A deadline per read, not
// for the whole body, lets a large upload take as long as it streams.
const bodyIdleTimeout = time.Minute

// limitBody bounds every request body by --max-upload-size, or an asset
// upload's by --max-asset-upload-size (a declared length over it is
// refused at once; reading past it fails with *http.MaxBytesError, which
// serve answers with a 413) and cuts off bodies that stall for
// bodyIdleTimeout.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := s.cfg.MaxUploadSize
		if s.cfg.MaxAssetUploadSize > 0 && r.Method == http.MethodPost && (r.URL.Path == "/api/assets" || r.URL.Path == "/api/v2/assets") {
			limit = s.cfg.MaxAssetUploadSize
		}
		if limit > 0 && r.ContentLength > limit {
			w.Header().Set("Connection", "close") // the body is not read
			writeJSON(w, http.StatusRequestEntityTooLarge, payloadTooLarge(limit).body)
			return
		}
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		if limit > 0 {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		rc := http.NewResponseController(w)
		r.Body = &idleBody{ReadCloser: r.Body, rc: rc, timeout: s.bodyIdle}
		next.ServeHTTP(w, r)
		// net/http reads what the handler left of the body before it
		// answers: that read is bounded too. The next request on the
		// connection sets its own deadlines.
		rc.SetReadDeadline(time.Now().Add(s.bodyIdle))
	})
}

// idleBody sets the connection's read deadline before each read of a
// request body. At the end of the body it clears it: the server then
// watches the idle connection for the client going away while the handler
// works, and a deadline would cancel the request. After an error it stays:
// nothing more is to be read from such a client.
type idleBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
}

func (b *idleBody) Read(p []byte) (int, error) {
	// ErrNotSupported (a writer that cannot set deadlines) leaves reads
	// unbounded, as before.
	b.rc.SetReadDeadline(time.Now().Add(b.timeout))
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// originCheck is ComfyUI's CSRF guard (spec §2.4): a cross-site fetch is
// refused, and so is a request whose Origin differs from its Host when the
// Host is a loopback name. OPTIONS is answered 200.
//
// Unlike ComfyUI, a top-level navigation from another site (a link, an
// authenticating proxy's redirect) is let through, since a GET must change
// nothing and its response goes to the user, not to the other site; and an
// Origin without a host ("null", from sandboxed frames) counts as
// different (GHSA-5xxr-jvhm-jxmj).
func (s *Server) originCheck(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.EqualFold(r.Header.Get("Sec-Fetch-Site"), "cross-site") && !isNavigation(r) {
			s.refuse(w, r, "cross_site", "")
			return
		}
		if host, origin := r.Host, r.Header.Get("Origin"); host != "" && origin != "" && originMismatch(host, origin) {
			s.log.Warn("request refused: origin does not match host", "host", host, "origin", origin)
			s.refuse(w, r, "origin", "")
			return
		}
		if r.Method == http.MethodOptions {
			writeEmpty(w, http.StatusOK)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// isNavigation reports whether r is a browser's top-level navigation that
// only reads (following a link, typing the address).
func isNavigation(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
		strings.EqualFold(r.Header.Get("Sec-Fetch-Mode"), "navigate")
}

// originMismatch compares Host and Origin as ComfyUI does: ports are
// compared only when both have one, and only a loopback Host is protected.
// An Origin without a host never matches.
func originMismatch(host, origin string) bool {
	hostDomain := strings.ToLower(host)
	hostURL, err := url.Parse("//" + hostDomain)
	if err != nil || !isLoopbackName(hostURL.Hostname()) {
		return false
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return true
	}
	originDomain := strings.ToLower(u.Host)
	if u.Port() == "" {
		hostDomain = hostURL.Hostname()
	}
	if hostURL.Port() == "" {
		originDomain = strings.ToLower(u.Hostname())
	}
	return hostDomain != originDomain
}

// isLoopbackName reports whether host (without port or brackets) always
// means this machine: a loopback IP, localhost or a name under .localhost
// (RFC 6761). Names are not resolved: a resolver's answer is what DNS
// rebinding controls, and a lookup per request would let any client make
// the server wait.
func isLoopbackName(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback()
	}
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}

// cors adds ComfyUI's fixed CORS headers (--enable-cors-header) and answers
// OPTIONS on any path.
func cors(origin string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Methods", "POST, GET, DELETE, PUT, OPTIONS, PATCH")
		h.Set("Access-Control-Allow-Headers", "Content-Type, Authorization, X-API-Key")
		h.Set("Access-Control-Allow-Credentials", "true")
		if strings.EqualFold(r.Header.Get("Access-Control-Request-Private-Network"), "true") {
			h.Set("Access-Control-Allow-Private-Network", "true") // Chrome's Private Network Access
		}
		if r.Method == http.MethodOptions {
			writeEmpty(w, http.StatusOK)
			return
		}
		next.ServeHTTP(w, r)
	})
}

var imageExtensions = []string{".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"}

// cacheControl is ComfyUI's cache middleware (spec §2.1): scripts, styles
// and index*.json are never cached; image paths are, by status. As in
// ComfyUI it only sets a default: a Cache-Control the handler set wins,
// which is how gocomfy's own content-hashed assets are cached for good
// (staticFiles).
func cacheControl(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&cacheWriter{ResponseWriter: w, path: r.URL.Path}, r)
	})
}

type cacheWriter struct {
	http.ResponseWriter
	path        string
	wroteHeader bool
}

func (c *cacheWriter) WriteHeader(status int) {
	if !c.wroteHeader {
		c.wroteHeader = true
		if v := cacheValue(c.path, status); v != "" && c.Header().Get("Cache-Control") == "" {
			c.Header().Set("Cache-Control", v)
		}
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *cacheWriter) Write(b []byte) (int, error) {
	if !c.wroteHeader {
		c.WriteHeader(http.StatusOK)
	}
	return c.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (WebSocket).
func (c *cacheWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func cacheValue(p string, status int) string {
	base := path.Base(p)
	if strings.HasSuffix(p, ".js") || strings.HasSuffix(p, ".css") ||
		(strings.HasPrefix(base, "index") && strings.HasSuffix(base, ".json")) {
		return "no-store"
	}
	lower := strings.ToLower(p)
	for _, ext := range imageExtensions {
		if !strings.HasSuffix(lower, ext) {
			continue
		}
		switch {
		case status == http.StatusNotFound:
			return "public, max-age=3600"
		case status >= 200 && status <= 206, status == 301, status == 308:
			return "public, max-age=86400"
		case status == 302, status == 303, status == 307:
			return "no-cache"
		}
		return ""
	}
	return ""
}

// rejectUncleanPaths answers 400 to a path with "." or ".." segments or
// empty segments. net/http's ServeMux would otherwise redirect it (307, which
// keeps the method and body) to the cleaned path, so that
// POST /userdata/a.json/move/.. would land on POST /userdata/a.json.
// aiohttp does not redirect either. Like the mux, it looks at the escaped
// path: "..%2Fx" is one segment, which the handlers check themselves.
func rejectUncleanPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.EscapedPath()
		clean := path.Clean(p)
		if strings.HasSuffix(p, "/") && clean != "/" {
			clean += "/"
		}
		if clean != p {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid path"})
			return
		}
		next.ServeHTTP(w, r)
	})
}
