// Package gocomfy builds a ComfyUI-compatible workflow server: ComfyUI's
// HTTP and WebSocket API over a durable queue, its executor and a library
// of nodes, in one Go program.
//
// cmd/gocomfy is the server as shipped. A program that adds its own nodes or
// routes copies its main, and before Run adds them to the App:
//
//	app := gocomfy.New(cfg)
//	app.Nodes().MustAdd(mypack.Blur)                    // a custom node
//	app.Handle("GET /mypack/status", statusHandler)     // also at /api/mypack/status
//	app.WebDirectory("mypack", mypack.WebFS)            // /extensions/mypack/...
//	err := app.Run(ctx)
package gocomfy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gocomfy/gocomfy/internal/asset"
	"github.com/gocomfy/gocomfy/internal/blobstore"
	"github.com/gocomfy/gocomfy/internal/event"
	"github.com/gocomfy/gocomfy/internal/executor"
	"github.com/gocomfy/gocomfy/internal/files"
	"github.com/gocomfy/gocomfy/internal/queue"
	"github.com/gocomfy/gocomfy/internal/server"
	"github.com/gocomfy/gocomfy/internal/store"
	"github.com/gocomfy/gocomfy/internal/store/postgres"
	"github.com/gocomfy/gocomfy/internal/store/sqlite"
	"github.com/gocomfy/gocomfy/internal/userdata"
	"github.com/gocomfy/gocomfy/internal/web"
	"github.com/gocomfy/gocomfy/internal/webhook"
	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/nodes/builtin"
	"github.com/gocomfy/gocomfy/nodes/imagefile"
	"github.com/gocomfy/gocomfy/nodes/testnodes"
)

// Version is reported as comfyui_version in /system_stats: the ComfyUI
// API version gocomfy follows.
const Version = "0.27.0"

// CacheMode selects how node outputs are kept between prompts.
type CacheMode string

// Cache modes, as ComfyUI's --cache-* flags.
const (
	CacheRAM     CacheMode = "ram"     // keep while RAM allows (ComfyUI's default)
	CacheClassic CacheMode = "classic" // keep the latest prompt's outputs
	CacheLRU     CacheMode = "lru"     // keep up to LRUSize outputs
	CacheNone    CacheMode = "none"    // keep nothing between prompts
)

// Config configures an App. The zero value serves 127.0.0.1:8188 with
// folders under the working directory and SQLite in user/.
type Config struct {
	Listen string // address to listen on; "" is 127.0.0.1
	Port   int    // 0 is 8188

	BaseDir, InputDir, OutputDir, TempDir, UserDir string
	// ExtraModelPaths are extra_model_paths.yaml files (ComfyUI's format).
	ExtraModelPaths []string

	// DatabaseURL selects the store: "" or sqlite:PATH (default:
	// user/gocomfy.db), or postgres://... (PostgreSQL, for several
	// instances sharing one queue).
	DatabaseURL string

	Cache           CacheMode
	LRUSize         int
	DisableMetadata bool

	MaxUploadSize        int64 // bytes; 0 is 100 MiB
	MaxUploadSizeIsFloat bool
	CORSOrigin           string
	FrontEndRoot         string
	// MaxAssetUploadSize is --max-asset-upload-size: the largest
	// POST /api/assets body, in bytes; 0 is 64 GiB. That upload streams
	// to disk, so it may exceed MaxUploadSize (ComfyUI sets no bound).
	MaxAssetUploadSize int64
	// TemplatesRoot is a folder of workflow templates in the layout of
	// ComfyUI's templates package (index.json, NAME.json, NAME-1.webp…)
	// served at /templates/ instead of gocomfy's own small set.
	TemplatesRoot string
	// WebhookURL is the server-wide webhook target; WebhookSecret
	// ("whsec_" + base64) signs deliveries and turns webhooks on;
	// WebhookAllowPrivate lets targets be private, loopback or link-local.
	WebhookURL, WebhookSecret string
	WebhookAllowPrivate       bool
	// OutputBucket is --output-bucket: a bucket URL (s3://BUCKET?region=…
	// or s3://BUCKET?endpoint=…&use_path_style=true for S3-compatible
	// stores, file:///DIR for a shared folder) that every instance reaches.
	// Outputs and input uploads are copied there in the background; /view
	// serves from it, and LoadImage copies from it, what this instance's
	// folders lack. Credentials come from the AWS environment, never from
	// the URL.
	OutputBucket string
	// EnableAssets is --enable-assets: the /api/assets routes, with
	// uploads and outputs registered as assets.
	EnableAssets bool
	// MultiUser is --multi-user: each user (comfy-user header) has their own
	// user data and settings.
	MultiUser bool

	MaxHistory int // finished prompts kept; 0 is 100,000
	MaxPending int // pending prompts accepted; 0 is no bound
	// FailLostPrompts is --fail-lost-prompts: with instances sharing
	// PostgreSQL, a prompt whose instance died mid-run is recorded as
	// failed when its lease expires, instead of queued to run again.
	FailLostPrompts bool

	// APIKeys are API keys written USER:KEY or USER:sha256:HEX (USER * for
	// an administrator); an element may hold several, separated by commas
	// or white space. APIKeyFile is a file of them, one per line. With no
	// key, a server on a non-loopback address makes an admin token and
	// logs the URL to open with it. See README.md, "Security".
	APIKeys    []string
	APIKeyFile string
	// DisableAuth serves without API keys, even on a non-loopback address.
	DisableAuth bool
	// AllowedHosts are Host names accepted on a loopback address without
	// API keys, besides localhost and loopback IPs (a reverse proxy's
	// public name); others are refused against DNS rebinding.
	AllowedHosts []string
	// ShutdownGrace is how long a shutdown lets the running prompt finish
	// before interrupting it; 0 is 10 s.
	ShutdownGrace time.Duration

	TLSCertFile, TLSKeyFile string
	EnableTestNodes         bool
	Argv                    []string
	Logger                  *slog.Logger
}

// App is a gocomfy server being assembled: add nodes, routes and web
// directories, then Run it.
type App struct {
	cfg     Config
	nodes   *node.Registry
	routes  []server.Route
	webDirs []server.WebDir
	log     *slog.Logger
}

// New returns an App with the built-in nodes registered.
func New(cfg Config) *App {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1"
	}
	if cfg.Port == 0 {
		cfg.Port = 8188
	}
	if cfg.MaxUploadSize == 0 {
		cfg.MaxUploadSize = 100 << 20
	}
	if cfg.MaxAssetUploadSize == 0 {
		cfg.MaxAssetUploadSize = 64 << 30
	}
	if cfg.MaxHistory == 0 {
		cfg.MaxHistory = 100_000
	}
	if cfg.Cache == "" {
		cfg.Cache = CacheRAM
	}
	if cfg.ShutdownGrace == 0 {
		cfg.ShutdownGrace = 10 * time.Second
	}
	reg := node.NewRegistry()
	builtin.Register(reg)
	if cfg.EnableTestNodes {
		testnodes.Register(reg)
	}
	return &App{cfg: cfg, nodes: reg, log: cfg.Logger}
}

// Nodes returns the registry: add custom node classes to it before Run.
func (a *App) Nodes() *node.Registry { return a.nodes }

// Handle adds an HTTP route, served at pattern's path and under /api,
// behind the same middleware as the built-in routes. pattern is a net/http
// pattern with a method, such as "GET /mypack/status".
func (a *App) Handle(pattern string, h http.Handler) {
	a.routes = append(a.routes, server.Route{Pattern: pattern, Handler: h})
}

// WebDirectory serves fsys under /extensions/<name>/ and lists its .js
// files in /extensions, as a ComfyUI custom node's WEB_DIRECTORY.
func (a *App) WebDirectory(name string, fsys fs.FS) {
	a.webDirs = append(a.webDirs, server.WebDir{Name: name, FS: fsys})
}

// Run serves until ctx is done, then shuts down gracefully.
func (a *App) Run(ctx context.Context) error {
	addr := net.JoinHostPort(a.cfg.Listen, strconv.Itoa(a.cfg.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return a.Serve(ctx, ln)
}

// Serve serves on ln until ctx is done (tests pass a listener on a random
// loopback port).
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	defer ln.Close() // also when Serve fails before serving
	keys, err := a.apiKeys(ln)
	if err != nil {
		return err
	}
	folders, err := files.Open(files.Config{
		BaseDir: a.cfg.BaseDir, InputDir: a.cfg.InputDir, OutputDir: a.cfg.OutputDir,
		TempDir: a.cfg.TempDir, UserDir: a.cfg.UserDir, ExtraModelPaths: a.cfg.ExtraModelPaths,
	})
	if err != nil {
		return err
	}
	defer folders.Close()
	if err := os.MkdirAll(filepath.Join(folders.Base(), "models"), 0o755); err != nil {
		return err
	}
	var bucket *blobstore.Mirror
	if a.cfg.OutputBucket != "" {
		if bucket, err = a.openMirror(ctx, folders); err != nil {
			return err
		}
		defer a.closeMirror(bucket) // before folders.Close
	}
	roots := node.Folders{Input: folders.Root(files.Input), Output: folders.Root(files.Output), Temp: folders.Root(files.Temp)}
	// LoadImage's file list and validators read the input folder outside
	// any call (/object_info, validation).
	imagefile.SetFolders(roots)
	st, err := a.openStore(ctx, folders.Dir(files.User))
	if err != nil {
		return err
	}
	defer st.Close()

	// The frontend's log panel reads the latest lines (/internal/logs).
	logs := userdata.NewLogs(userdata.DefaultLogLines)
	log := slog.New(logs.Handler(a.log.Handler()))
	users, err := userdata.New(userdata.Config{Folders: folders, MultiUser: a.cfg.MultiUser, Logs: logs, Logger: log})
	if err != nil {
		return err
	}

	hub := event.NewHub()
	sink := &event.Sink{Hub: hub, Log: log}
	serverID := newID()
	// Instances sharing PostgreSQL pass their /ws messages to each other:
	// a client sees its prompts' progress whichever instance runs them.
	if t, shared := st.(event.Transport); shared {
		bridge := event.NewBridge(sink, t, serverID)
		bridgeCtx, stopBridge := context.WithCancel(context.WithoutCancel(ctx))
		bridgeDone := make(chan struct{})
		go func() {
			defer close(bridgeDone)
			bridge.Run(bridgeCtx, time.Second)
		}()
		defer func() { stopBridge(); <-bridgeDone }() // before st.Close
	}
	exec := executor.New(a.nodes, executor.Config{
		Cache: cacheMode(a.cfg.Cache), LRUSize: a.cfg.LRUSize,
		Folders: roots, DisableMetadata: a.cfg.DisableMetadata, Logger: log,
	})
	// A SQLite database has one process, which claims under a fixed id, so
	// that a restart finds the prompts that ran when it stopped and
	// records them as failed at once. Instances sharing PostgreSQL each
	// claim under their own id; a dead one's prompts are taken back when
	// their lease runs out.
	worker := "local"
	if _, shared := st.(*postgres.DB); shared {
		worker = serverID
	}
	notifier, _ := st.(store.Notifier)       // wakes the queue when another instance queues
	interrupter, _ := st.(store.Interrupter) // stops prompts run by another instance

	// --enable-assets: uploads and outputs are registered as assets, whose
	// content lives in a hash-sharded folder ("__" keeps /userdata out).
	jobStore, execSink := store.Store(st), executor.Sink(sink)
	var assets *asset.Library
	if a.cfg.EnableAssets {
		// Both stores keep assets (SQLite and PostgreSQL). The content
		// lives in the user folder, the database only names it: instances
		// sharing PostgreSQL share it through --output-bucket, or else
		// must share the user folder.
		as, ok := st.(store.AssetStore)
		if !ok {
			return errors.New("--enable-assets: this store does not keep assets")
		}
		blobs, err := asset.OpenBlobs(filepath.Join(folders.Dir(files.User), "__assets"))
		if err != nil {
			return err
		}
		var remote asset.Remote
		if bucket != nil {
			remote = bucket
		}
		assets = asset.New(asset.Config{Store: as, Blobs: blobs, Folders: folders, Logger: log, Events: sink, Remote: remote})
		jobStore, execSink = assets.RecordOutputs(st), assets.Sink(sink)
		assets.Seeder().Start([]string{"input", "output"})
		defer func() { assets.Seeder().Cancel(); assets.Seeder().Wait() }() // before st.Close
	}

	var hooks *webhook.Dispatcher
	if a.cfg.WebhookSecret != "" || a.cfg.WebhookURL != "" {
		if a.cfg.WebhookSecret == "" {
			return errors.New("--webhook-url needs a secret: $GOCOMFY_WEBHOOK_SECRET or --webhook-secret-file")
		}
		secret, err := webhook.ParseSecret(a.cfg.WebhookSecret)
		if err != nil {
			return err
		}
		hooks, err = webhook.New(webhook.Options{Secret: secret, URL: a.cfg.WebhookURL,
			AllowPrivate: a.cfg.WebhookAllowPrivate, Logger: log})
		if err != nil {
			return err
		}
		// Runs before st.Close: deliveries under way read finished jobs.
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownGrace)
			defer cancel()
			hooks.Shutdown(ctx)
		}()
	}

	metrics := server.NewMetrics()
	queueStore := &drainingStore{Store: jobStore}
	q, err := queue.New(ctx, queue.Config{
		Store: queueStore, Registry: a.nodes, Executor: exec, Sink: metrics.Observe(execSink, st),
		MaxHistory: a.cfg.MaxHistory, MaxPending: a.cfg.MaxPending, Worker: worker, Notifier: notifier,
		Interrupter: interrupter, FailLostPrompts: a.cfg.FailLostPrompts, Logger: log,
	})
	if err != nil {
		return err
	}
	// gocomfy's own page and templates, unless folders are given: a built
	// ComfyUI frontend, a templates package. They are opened as os.Root, so
	// that no name or symlink in them reaches outside.
	frontend, templates := web.FS(), web.Templates()
	for _, d := range []struct {
		dir, what string
		fsys      *fs.FS
	}{{a.cfg.FrontEndRoot, "front-end root", &frontend}, {a.cfg.TemplatesRoot, "templates root", &templates}} {
		if d.dir == "" {
			continue
		}
		root, err := os.OpenRoot(d.dir)
		if err != nil {
			return fmt.Errorf("%s: %w", d.what, err)
		}
		defer root.Close()
		*d.fsys = root.FS()
	}
	srv := server.New(server.Config{
		Queue: q, Store: st, Registry: a.nodes, Hub: hub, Sink: sink, Logger: log, Folders: folders, UserData: users,
		MaxUploadSize: a.cfg.MaxUploadSize, MaxUploadSizeIsFloat: a.cfg.MaxUploadSizeIsFloat, MaxAssetUploadSize: a.cfg.MaxAssetUploadSize,
		CORSOrigin: a.cfg.CORSOrigin, Routes: a.routes, WebDirs: a.webDirs, Frontend: frontend, Templates: templates,
		Version: Version, ServerID: serverID, Argv: a.cfg.Argv,
		Keys: keys, AllowedHosts: a.cfg.AllowedHosts, MaxPending: a.cfg.MaxPending, Metrics: metrics,
		Assets: assets, Webhooks: hooks, Bucket: bucket,
	})
	// Request contexts derive from connCtx: cancelling it at the end of a
	// shutdown closes the WebSockets, which Shutdown does not track.
	connCtx, closeConns := context.WithCancel(context.WithoutCancel(ctx))
	defer closeConns()
	httpServer := &http.Server{
		Handler:           srv.Handler(),
		BaseContext:       func(net.Listener) context.Context { return connCtx },
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	workerCtx, stopWorker := context.WithCancel(context.WithoutCancel(ctx))
	workerDone := make(chan struct{})
	go func() {
		defer close(workerDone)
		q.Run(workerCtx)
	}()
	serveErr := make(chan error, 1)
	go func() {
		log.Info("gocomfy listening", "url", a.url(ln), "server_id", serverID)
		if a.cfg.TLSCertFile != "" {
			serveErr <- httpServer.ServeTLS(ln, a.cfg.TLSCertFile, a.cfg.TLSKeyFile)
		} else {
			serveErr <- httpServer.Serve(ln)
		}
	}()

	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	// Stop accepting and claiming, then let the running prompt finish within
	// the grace period, or interrupt it: it is then recorded as interrupted,
	// not lost. Pending prompts stay in the store for the next start.
	log.Info("shutting down: no new connections or prompts", "grace", a.cfg.ShutdownGrace)
	srv.Drain()
	idle := queueStore.drain()
	graceCtx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownGrace)
	defer cancel()
	httpServer.Shutdown(graceCtx)
	select {
	case <-idle:
	case <-graceCtx.Done():
		log.Warn("shutdown: grace period over, interrupting the running prompt", "grace", a.cfg.ShutdownGrace)
	}
	stopWorker()
	<-workerDone
	closeConns()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// openMirror opens --output-bucket and starts copying outputs and input
// uploads there.
func (a *App) openMirror(ctx context.Context, folders *files.Folders) (*blobstore.Mirror, error) {
	b, err := blobstore.OpenBucket(ctx, a.cfg.OutputBucket)
	if err != nil {
		return nil, fmt.Errorf("--output-bucket: %w", err)
	}
	return blobstore.NewMirror(blobstore.Options{Bucket: b, Folders: folders, Logger: a.log}), nil
}

// closeMirror lets queued uploads finish within the shutdown grace period
// (the running prompt has finished or been interrupted by then), then
// closes the bucket.
func (a *App) closeMirror(m *blobstore.Mirror) {
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownGrace)
	defer cancel()
	m.Close(ctx)
	m.Bucket().Close()
}

func (a *App) url(ln net.Listener) string {
	scheme := "http"
	if a.cfg.TLSCertFile != "" {
		scheme = "https"
	}
	return fmt.Sprintf("%s://%s", scheme, ln.Addr())
}

func (a *App) openStore(ctx context.Context, userDir string) (store.Store, error) {
	switch u := a.cfg.DatabaseURL; {
	case u == "":
		return sqlite.Open(ctx, filepath.Join(userDir, "gocomfy.db"))
	case strings.HasPrefix(u, "sqlite:"):
		return sqlite.Open(ctx, strings.TrimPrefix(u, "sqlite:"))
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		return postgres.Open(ctx, u)
	}
	// The URL is not in the message: it may hold a password.
	return nil, errors.New("unsupported database URL (want sqlite:PATH or postgres://...)")
}

func cacheMode(m CacheMode) executor.CacheMode {
	switch m {
	case CacheClassic:
		return executor.Classic
	case CacheLRU:
		return executor.LRU
	case CacheNone:
		return executor.None
	}
	return executor.RAMPressure
}

func newID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}
