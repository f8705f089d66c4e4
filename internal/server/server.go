// Package server serves ComfyUI's HTTP and WebSocket API over the queue,
// the store and the node registry.
//
// Every route is listed once in routes(); a route marked api is served both
// at its path and under /api, as ComfyUI registers its routes twice. The
// jobs routes are declared as /api/jobs in ComfyUI, so they also answer at
// /api/api/jobs; gocomfy serves them at /jobs as well.
//
// Handlers return errors; one writer turns them into JSON bodies, and an
// unexpected error is logged and answered with a 500 that shows no detail.
// Malformed JSON bodies get a 400 (ComfyUI answers 500).
package server

import (
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gocomfy/gocomfy/internal/asset"
	"github.com/gocomfy/gocomfy/internal/auth"
	"github.com/gocomfy/gocomfy/internal/blobstore"
	"github.com/gocomfy/gocomfy/internal/event"
	"github.com/gocomfy/gocomfy/internal/files"
	"github.com/gocomfy/gocomfy/internal/queue"
	"github.com/gocomfy/gocomfy/internal/store"
	"github.com/gocomfy/gocomfy/internal/userdata"
	"github.com/gocomfy/gocomfy/internal/webhook"
	"github.com/gocomfy/gocomfy/node"
)

// Config is what the server serves.
type Config struct {
	Queue    *queue.Queue
	Store    store.Store
	Registry *node.Registry
	Hub      *event.Hub
	Sink     *event.Sink
	Folders  *files.Folders
	Logger   *slog.Logger
	// UserData holds the users, their files and settings, and the log
	// lines of /internal/logs (nil: those routes are not served).
	UserData *userdata.Manager
	// Assets is the assets library of /api/assets (nil: assets are off,
	// and those routes answer 503).
	Assets *asset.Library
	// Webhooks sends finished jobs to their v2 webhook_url and to the
	// server-wide URL (nil: webhooks are off, and webhook_url is refused).
	Webhooks *webhook.Dispatcher
	// Bucket holds the outputs and input uploads of every instance; /view
	// reads a file there when this instance's folder does not have it,
	// uploads are answered once it has them, and /metrics counts its
	// transfers (nil: local files only).
	Bucket *blobstore.Mirror

	// MaxUploadSize bounds request bodies, in bytes; MaxUploadSizeIsFloat
	// records that it was given on the command line (ComfyUI then reports
	// it as a float in /features).
	MaxUploadSize        int64
	MaxUploadSizeIsFloat bool
	// MaxAssetUploadSize bounds the body of POST /api/assets and POST
	// /api/v2/assets instead (0: MaxUploadSize does): uploads of models
	// run to gigabytes, and those routes stream them to disk whatever
	// their size.
	MaxAssetUploadSize int64
	// CORSOrigin enables ComfyUI's CORS headers for this origin ("*" for
	// any) instead of the origin check; the origin is also trusted for
	// requests that change state.
	CORSOrigin string

	// Keys are the API keys requests must present; none: the server is
	// open, as ComfyUI is.
	Keys *auth.Keys
	// AllowedHosts are Host names accepted on a loopback address besides
	// loopback names (a reverse proxy's public name), in any case.
	AllowedHosts []string
	// MaxPending is the queue's bound, for GET /ready (0: none).
	MaxPending int
	// Metrics collects what /metrics reports (nil: new metrics, without
	// node timings).
	Metrics *Metrics

	// Routes and WebDirs come from Go extensions.
	Routes  []Route
	WebDirs []WebDir
	// Frontend is served at / (nil: a plain page pointing at the API).
	Frontend fs.FS
	// Templates are the workflow templates served at /templates/, in the
	// layout of ComfyUI's templates package (nil: not served).
	Templates fs.FS

	Version  string   // reported as comfyui_version
	ServerID string   // reported in /system_stats
	Argv     []string // reported in /system_stats
}

// Route is an extension route, served like a built-in one, at its path and
// under /api, behind the same middleware. Pattern is a net/http pattern
// with a method, such as "GET /myext/status".
type Route struct {
	Pattern string
	Handler http.Handler
}

// WebDir is an extension's static files, served under /extensions/<Name>/
// and listed by /extensions (ComfyUI's WEB_DIRECTORY).
type WebDir struct {
	Name string
	FS   fs.FS
}

// Server is ComfyUI's API over gocomfy's engine.
type Server struct {
	cfg      Config
	log      *slog.Logger
	start    time.Time
	metrics  *Metrics
	draining atomic.Bool
	bodyIdle time.Duration // see limitBody
}

// New returns a server; Handler serves it.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	hosts := make([]string, len(cfg.AllowedHosts))
	for i, h := range cfg.AllowedHosts {
		hosts[i] = strings.ToLower(h)
	}
	cfg.AllowedHosts = hosts
	return &Server{cfg: cfg, log: cfg.Logger, start: time.Now(), metrics: cfg.Metrics, bodyIdle: bodyIdleTimeout}
}

// route is one entry of the route table.
type route struct {
	pattern string
	handler http.Handler
	api     bool // also served under /api
}

// routes is gocomfy's route table: every built-in route, once.
func (s *Server) routes() []route {
	h := s.serve
	rs := []route{
		{"GET /ws", http.HandlerFunc(s.handleWS), true},
		{"GET /prompt", h(s.getPrompt), true},
		{"POST /prompt", h(s.postPrompt), true},
		{"GET /queue", h(s.getQueue), true},
		{"POST /queue", h(s.postQueue), true},
		{"POST /interrupt", h(s.postInterrupt), true},
		{"POST /free", h(s.postFree), true},
		{"GET /history", h(s.getHistory), true},
		{"GET /history/{prompt_id}", h(s.getHistoryItem), true},
		{"POST /history", h(s.postHistory), true},
		{"GET /jobs", h(s.getJobs), true},
		{"GET /jobs/{job_id}", h(s.getJob), true},
		{"POST /jobs/{job_id}/cancel", h(s.cancelJob), true},
		{"POST /jobs/cancel", h(s.cancelJobs), true},
		{"GET /api/jobs", h(s.getJobs), true},
		{"GET /api/jobs/{job_id}", h(s.getJob), true},
		{"POST /api/jobs/{job_id}/cancel", h(s.cancelJob), true},
		{"POST /api/jobs/cancel", h(s.cancelJobs), true},
		{"GET /object_info", h(s.getObjectInfo), true},
		{"GET /object_info/{node_class}", h(s.getObjectInfoClass), true},
		{"GET /system_stats", h(s.getSystemStats), true},
		{"GET /features", h(s.getFeatures), true},
		{"GET /extensions", h(s.getExtensions), true},
		{"GET /embeddings", h(s.getEmbeddings), true},
		{"GET /workflow_templates", h(s.getWorkflowTemplates), true},
		{"GET /health", h(s.getHealth), false},
		{"GET /ready", h(s.getReady), false},
		{"GET /metrics", h(s.getMetrics), false},
	}
	for _, r := range s.cfg.Routes {
		rs = append(rs, route{r.Pattern, r.Handler, true})
	}
	for _, d := range s.cfg.WebDirs {
		prefix := "/extensions/" + d.Name + "/"
		rs = append(rs, route{"GET " + prefix, http.StripPrefix(prefix, staticFiles(d.FS)), false})
	}
	rs = append(rs, s.userdataRoutes()...)
	rs = append(rs, s.fileRoutes()...)
	rs = append(rs, s.assetRoutes()...)
	rs = append(rs, s.v2Routes()...)
	rs = append(rs, s.templateRoutes()...)
	rs = append(rs, route{"GET /{$}", h(s.getIndex), true})
	if s.cfg.Frontend != nil {
		rs = append(rs, route{"GET /", staticFiles(s.cfg.Frontend), false})
	}
	return rs
}

// Handler returns the server's HTTP handler: the route table behind
// ComfyUI's middleware and gocomfy's defences, outermost first: metrics,
// panic recovery, the Host check (DNS rebinding), ComfyUI's origin check
// or CORS headers, CrossOriginProtection, API keys, body limits,
// Cache-Control and the refusal of unclean paths.
func (s *Server) Handler() http.Handler {
	root, api := http.NewServeMux(), http.NewServeMux()
	for _, r := range s.routes() {
		h := withRoute(r.pattern, r.handler)
		root.Handle(r.pattern, h)
		if r.api {
			api.Handle(r.pattern, h)
		}
	}
	// One pattern per method: a method-less "/api/" would conflict with the
	// frontend's "GET /".
	strip := http.StripPrefix("/api", api)
	for _, m := range []string{"GET", "POST", "PUT", "DELETE", "PATCH"} {
		root.Handle(m+" /api/", strip)
	}
	h := rejectUncleanPaths(root)
	h = cacheControl(h)
	h = s.limitBody(h)
	h = s.authenticate(h)
	h = s.crossOrigin(h)
	if s.cfg.CORSOrigin != "" {
		h = cors(s.cfg.CORSOrigin, h)
	} else {
		h = s.originCheck(h)
	}
	h = s.hostCheck(h)
	h = s.recoverPanics(h)
	return s.observeHTTP(h)
}
