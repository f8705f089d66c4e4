package server

import (
	"context"
	"net"
	"net/http"
	"strings"

	"github.com/gocomfy/gocomfy/internal/auth"
)

// Authentication (spec what-users-ask §1.7). With API keys configured
// (Config.Keys), every request needs one except those to publicPatterns.
// A key is read from, in this order: the X-API-Key header (Comfy Cloud's),
// Authorization: Bearer, the token query parameter (for <img src> and
// WebSocket URLs, which cannot carry headers), and the cookie the tokened
// URL sets for browsers.

// publicPatterns are the routes served without an API key: the probes,
// which load balancers and orchestrators call without credentials, and
// which tell nothing about jobs. The frontend is not public: a browser
// gets in through the tokened URL (/?token=KEY), which sets a cookie that
// its later requests, the frontend's included, carry.
var publicPatterns = []string{"GET /health", "GET /ready"}

// authUserKey is the context key of the user a request's API key is bound to.
type authUserKey struct{}

// authUser returns the user the request's API key is bound to. ok is false
// when no key binds the request to a user (an open server, or an
// administrator's key): the user then comes from the comfy-user header, as
// in ComfyUI.
func authUser(ctx context.Context) (user string, ok bool) {
	user, ok = ctx.Value(authUserKey{}).(string)
	return user, ok
}

// keySource is where a request presented its key.
type keySource int

const (
	noKey keySource = iota
	fromHeader
	fromQuery
	fromCookie
)

// credential returns the key r presents and where it was found.
func credential(r *http.Request) (string, keySource) {
	if k := r.Header.Get("X-API-Key"); k != "" {
		return k, fromHeader
	}
	if scheme, k, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(k), fromHeader
	}
	if k := r.URL.Query().Get("token"); k != "" {
		return k, fromQuery
	}
	if cs := r.CookiesNamed(cookieName(r)); len(cs) > 0 {
		return cs[0].Value, fromCookie
	}
	return "", noKey
}

// cookieName is the name of the key's cookie. Browsers share cookies
// between the ports of a host, so the port is part of the name: two
// servers on one machine do not overwrite each other's.
func cookieName(r *http.Request) string {
	const name = "gocomfy_token"
	_, port, err := net.SplitHostPort(r.Host)
	if err != nil || port == "" || strings.Trim(port, "0123456789") != "" {
		return name
	}
	return name + "_" + port
}

// authenticate answers 401 to a request without a valid key, unless it is
// to a public route, and puts the user its key is bound to in the
// request's context. A browser opening the tokened URL is given the key as
// a cookie.
func (s *Server) authenticate(next http.Handler) http.Handler {
	if s.cfg.Keys.Len() == 0 {
		return next
	}
	public := http.NewServeMux() // matches the public routes; its handlers never run
	for _, p := range publicPatterns {
		public.Handle(p, http.NotFoundHandler())
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, source := credential(r)
		user, ok := s.cfg.Keys.Lookup(key)
		if !ok {
			if _, pattern := public.Handler(r); pattern != "" {
				next.ServeHTTP(w, r)
				return
			}
			s.metrics.refused("auth")
			message := "An API key is required: send it as X-API-Key or Authorization: Bearer, " +
				"or open the URL with ?token= that the server printed when it started"
			if source != noKey {
				message = "Invalid API key"
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="gocomfy"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": message})
			return
		}
		if source == fromQuery && r.Method == http.MethodGet && r.URL.Path == "/" {
			login(w, r, key)
			return
		}
		if user != auth.AnyUser {
			r = r.WithContext(context.WithValue(r.Context(), authUserKey{}, user))
		}
		next.ServeHTTP(w, r)
	})
}

// login answers the tokened URL: the key goes into a cookie, so that the
// frontend's own requests carry it, and the browser is sent to the same URL
// without the token, which so leaves the address bar and the history.
//
// The cookie is HttpOnly (scripts cannot read it) and SameSite=Lax: other
// sites' pages do not send it, except when following a link here, which
// only reads; requests that change state are also checked by
// crossOrigin.
func login(w http.ResponseWriter, r *http.Request, key string) {
	http.SetCookie(w, &http.Cookie{
		Name: cookieName(r), Value: key, Path: "/",
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode,
	})
	u := *r.URL
	q := u.Query()
	q.Del("token")
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
}
