package server

import (
	"context"
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

// limitBody bounds every request body by --max-upload-size; reading past it
// fails with *http.MaxBytesError, which serve answers with a 413.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.MaxUploadSize > 0 && r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxUploadSize)
		}
		next.ServeHTTP(w, r)
	})
}

// originCheck is ComfyUI's CSRF guard (spec §2.4): a cross-site fetch is
// refused, and so is a request whose Origin differs from its Host when the
// Host is a loopback name. OPTIONS is answered 200.
func (s *Server) originCheck(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.EqualFold(r.Header.Get("Sec-Fetch-Site"), "cross-site") {
			writeEmpty(w, http.StatusForbidden)
			return
		}
		if host, origin := r.Host, r.Header.Get("Origin"); host != "" && origin != "" {
			if originMismatch(r.Context(), host, origin) {
				s.log.Warn("request refused: origin does not match host", "host", host, "origin", origin)
				writeEmpty(w, http.StatusForbidden)
				return
			}
		}
		if r.Method == http.MethodOptions {
			writeEmpty(w, http.StatusOK)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// originMismatch compares Host and Origin as ComfyUI does: ports are
// compared only when both have one, and only a loopback Host is protected.
func originMismatch(ctx context.Context, host, origin string) bool {
	hostDomain := strings.ToLower(host)
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	originDomain := strings.ToLower(u.Host)
	hostURL, err := url.Parse("//" + hostDomain)
	if err != nil {
		return false
	}
	if u.Port() == "" {
		hostDomain = hostURL.Hostname()
	}
	if hostURL.Port() == "" {
		originDomain = strings.ToLower(u.Hostname())
	}
	if hostDomain == "" || originDomain == "" || hostDomain == originDomain {
		return false
	}
	return isLoopback(ctx, hostURL.Hostname())
}

// isLoopback reports whether host is a loopback address, or a name whose
// every address is loopback.
func isLoopback(ctx context.Context, host string) bool {
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback()
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil || len(addrs) == 0 {
		return false
	}
	for _, a := range addrs {
		if !a.IP.IsLoopback() {
			return false
		}
	}
	return true
}

// cors adds ComfyUI's fixed CORS headers (--enable-cors-header) and answers
// OPTIONS on any path.
func cors(origin string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Methods", "POST, GET, DELETE, PUT, OPTIONS, PATCH")
		h.Set("Access-Control-Allow-Headers", "Content-Type, Authorization")
		h.Set("Access-Control-Allow-Credentials", "true")
		if r.Method == http.MethodOptions {
			writeEmpty(w, http.StatusOK)
			return
		}
		next.ServeHTTP(w, r)
	})
}

var imageExtensions = []string{".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"}

// cacheControl is ComfyUI's cache middleware (spec §2.1): scripts, styles
// and index*.json are never cached; image paths are, by status.
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
