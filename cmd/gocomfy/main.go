// Command gocomfy is a ComfyUI-compatible workflow server.
//
// With no arguments it serves http://127.0.0.1:8188 with the folders input/,
// output/, temp/, user/ and models/ under the working directory and its
// queue and history in user/gocomfy.db. Run gocomfy --help for the flags.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gocomfy/gocomfy"
)

var flagDefs = []flagDef{
	{name: "listen", kind: argOptional, implied: "0.0.0.0", help: "address to listen on (without a value: all interfaces); default 127.0.0.1"},
	{name: "port", kind: argOne, help: "port to listen on; default 8188"},
	{name: "tls-keyfile", kind: argOne, help: "TLS key file; serve HTTPS with --tls-certfile"},
	{name: "tls-certfile", kind: argOne, help: "TLS certificate file"},
	{name: "enable-cors-header", kind: argOptional, implied: "*", help: "send CORS headers for ORIGIN (without a value: *) instead of checking origins"},
	{name: "max-upload-size", kind: argOne, help: "largest request body, in MB; default 100"},
	{name: "base-directory", kind: argOne, help: "folder holding input/, output/, temp/, user/ and models/; default the working directory"},
	{name: "input-directory", kind: argOne, help: "input folder"},
	{name: "output-directory", kind: argOne, help: "output folder"},
	{name: "temp-directory", kind: argOne, help: "temp folder (emptied at start)"},
	{name: "user-directory", kind: argOne, help: "user folder (settings, workflows, the database)"},
	{name: "extra-model-paths-config", kind: argMany, help: "extra_model_paths.yaml files listing more model folders"},
	{name: "multi-user", kind: argBool, help: "separate user data per user (comfy-user header)"},
	{name: "front-end-root", kind: argOne, help: "folder of a built ComfyUI frontend to serve at /"},
	{name: "templates-root", kind: argOne, help: "folder of workflow templates (index.json, NAME.json, thumbnails) to serve at /templates/ instead of gocomfy's own"},
	{name: "cache-classic", kind: argBool, help: "keep the outputs of the latest prompt only"},
	{name: "cache-lru", kind: argOne, help: "keep up to N node outputs across prompts"},
	{name: "cache-none", kind: argBool, help: "keep no outputs between prompts (least memory)"},
	{name: "cache-ram", kind: argMany, help: "keep outputs while RAM allows (the default)"},
	{name: "disable-metadata", kind: argBool, help: "do not write the prompt and workflow into saved images"},
	{name: "verbose", kind: argOptional, implied: "DEBUG", help: "log level: DEBUG, INFO, WARNING, ERROR (without a value: DEBUG)"},
	{name: "log-json", kind: argBool, help: "write logs as JSON lines"},
	{name: "database-url", kind: argOne, help: "store: sqlite:PATH (default user/gocomfy.db) or postgres://..."},
	{name: "db", kind: argOne, help: "same as --database-url"},
	{name: "max-history", kind: argOne, help: "finished prompts kept in the history; default 100000"},
	{name: "max-queue", kind: argOne, help: "pending prompts accepted before POST /prompt answers 429; default no bound"},
	{name: "fail-lost-prompts", kind: argBool, help: "with instances sharing PostgreSQL: record a prompt whose instance died mid-run as failed, not run it again"},
	{name: "output-bucket", kind: argOne, help: "bucket every instance reaches, for outputs and input uploads: s3://BUCKET?region=R (&endpoint=URL&use_path_style=true for S3-compatible stores) or file:///DIR; credentials from the AWS environment"},
	{name: "enable-assets", kind: argBool, help: "serve /api/assets; uploads and outputs are registered as assets"},
	{name: "max-asset-upload-size", kind: argOne, help: "largest POST /api/assets upload, in MB; default 65536 (it streams to disk)"},
	{name: "enable-test-nodes", kind: argBool, help: "register ComfyUI's execution test nodes"},
	{name: "api-key-file", kind: argOne, help: "file of API keys, one USER:KEY or USER:sha256:HEX per line (USER * for an admin); $GOCOMFY_API_KEYS holds more, comma-separated; see README, Security"},
	{name: "disable-auth", kind: argBool, help: "serve without API keys even on a non-loopback address (whoever reaches it can run workflows)"},
	{name: "allowed-hosts", kind: argMany, help: "Host names accepted on a loopback address without API keys besides localhost, such as a reverse proxy's name"},
	{name: "shutdown-grace", kind: argOne, help: "seconds a shutdown lets the running prompt finish before interrupting it; default 10"},
	{name: "webhook-url", kind: argOne, help: "server-wide webhook: every finished job is POSTed there, signed (Standard Webhooks)"},
	{name: "webhook-secret-file", kind: argOne, help: "file holding the webhook signing secret (whsec_...; $GOCOMFY_WEBHOOK_SECRET also sets it); turns webhooks on"},
	{name: "webhook-allow-private", kind: argBool, help: "let webhooks reach private, loopback and link-local addresses"},
	{name: "help", kind: argBool, help: "show this help"},
}

// ignoredFlags are ComfyUI flags that mean nothing here.
var ignoredFlags = []flagDef{
	{name: "cpu"}, {name: "disable-auto-launch"}, {name: "auto-launch"}, {name: "cuda-device", kind: argOne},
	{name: "default-device", kind: argOne}, {name: "cuda-malloc"}, {name: "disable-cuda-malloc"},
	{name: "force-fp32"}, {name: "force-fp16"}, {name: "fp32-unet"}, {name: "fp64-unet"}, {name: "bf16-unet"},
	{name: "fp16-unet"}, {name: "fp16-vae"}, {name: "fp32-vae"}, {name: "bf16-vae"}, {name: "cpu-vae"},
	{name: "fp16-text-enc"}, {name: "fp32-text-enc"}, {name: "bf16-text-enc"}, {name: "fp16-intermediates"},
	{name: "force-channels-last"}, {name: "directml", kind: argOptional}, {name: "oneapi-device-selector", kind: argOne},
	{name: "supports-fp8-compute"}, {name: "enable-triton-backend"}, {name: "preview-method", kind: argOne},
	{name: "preview-size", kind: argOne}, {name: "high-ram"}, {name: "use-split-cross-attention"},
	{name: "use-quad-cross-attention"}, {name: "use-pytorch-cross-attention"}, {name: "use-sage-attention"},
	{name: "use-flash-attention"}, {name: "disable-xformers"}, {name: "force-upcast-attention"},
	{name: "dont-upcast-attention"}, {name: "enable-manager"}, {name: "disable-manager-ui"},
	{name: "enable-manager-legacy-ui"}, {name: "gpu-only"}, {name: "highvram"}, {name: "lowvram"}, {name: "novram"},
	{name: "reserve-vram", kind: argOne}, {name: "vram-headroom", kind: argOne}, {name: "async-offload", kind: argOptional},
	{name: "disable-async-offload"}, {name: "disable-dynamic-vram"}, {name: "enable-dynamic-vram"}, {name: "fast-disk"},
	{name: "force-non-blocking"}, {name: "default-hashing-function", kind: argOne}, {name: "disable-smart-memory"},
	{name: "deterministic"}, {name: "fast", kind: argMany}, {name: "debug-hang"}, {name: "disable-pinned-memory"},
	{name: "mmap-torch-files"}, {name: "disable-mmap"}, {name: "dont-print-server"}, {name: "quick-test-for-ci"},
	{name: "windows-standalone-build"}, {name: "disable-all-custom-nodes"}, {name: "whitelist-custom-nodes", kind: argMany},
	{name: "disable-api-nodes"}, {name: "log-stdout"}, {name: "enable-compress-response-body"},
	{name: "enable-asset-hashing"}, {name: "feature-flag", kind: argOne},
	{name: "front-end-version", kind: argOne},
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gocomfy:", err)
		os.Exit(2)
	}
}

func run(args []string) error {
	defs := flagDefs
	for _, d := range ignoredFlags {
		d.ignored = true
		defs = append(defs, d)
	}
	p, err := parseArgs(defs, args)
	if err != nil {
		return err
	}
	if p.has("help") {
		printHelp(os.Stdout, defs)
		return nil
	}
	log := newLogger(p)
	for _, d := range ignoredFlags {
		if p.has(d.name) {
			log.Info("flag ignored: gocomfy runs no GPU models", "flag", "--"+d.name)
		}
	}
	cfg, err := configFrom(p)
	if err != nil {
		return err
	}
	cfg.Logger = log
	cfg.Argv = append([]string{"gocomfy"}, args...)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return gocomfy.New(cfg).Run(ctx)
}

func configFrom(p parsedArgs) (gocomfy.Config, error) {
	cfg := gocomfy.Config{
		Listen: p.str("listen"), BaseDir: p.str("base-directory"),
		InputDir: p.str("input-directory"), OutputDir: p.str("output-directory"),
		TempDir: p.str("temp-directory"), UserDir: p.str("user-directory"),
		CORSOrigin: p.str("enable-cors-header"), FrontEndRoot: p.str("front-end-root"),
		TLSCertFile: p.str("tls-certfile"), TLSKeyFile: p.str("tls-keyfile"), TemplatesRoot: p.str("templates-root"),
		DisableMetadata: p.has("disable-metadata"), EnableTestNodes: p.has("enable-test-nodes"),
		MultiUser: p.has("multi-user"), EnableAssets: p.has("enable-assets"), FailLostPrompts: p.has("fail-lost-prompts"),
		WebhookURL: p.str("webhook-url"), WebhookAllowPrivate: p.has("webhook-allow-private"),
		DatabaseURL: p.str("database-url"), OutputBucket: p.str("output-bucket"), ExtraModelPaths: p["extra-model-paths-config"],
		APIKeyFile: p.str("api-key-file"), DisableAuth: p.has("disable-auth"), AllowedHosts: p["allowed-hosts"],
	}
	// Keys come from a file or the environment, never from flags, which
	// other users see in ps and clients in /system_stats (argv).
	if v := os.Getenv("GOCOMFY_API_KEYS"); v != "" {
		cfg.APIKeys = []string{v}
	}
	if v := p.str("shutdown-grace"); v != "" {
		secs, err := parseFloat("shutdown-grace", v)
		if err != nil || secs <= 0 {
			return cfg, fmt.Errorf("--shutdown-grace: %q is not a positive number of seconds", v)
		}
		cfg.ShutdownGrace = time.Duration(secs * float64(time.Second))
	}
	// Like the API keys, the webhook secret never comes from a flag: flags
	// show in ps and in /system_stats.
	cfg.WebhookSecret = os.Getenv("GOCOMFY_WEBHOOK_SECRET")
	if f := p.str("webhook-secret-file"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return cfg, fmt.Errorf("--webhook-secret-file: %w", err)
		}
		cfg.WebhookSecret = strings.TrimSpace(string(b))
	}
	if v := p.str("db"); v != "" {
		cfg.DatabaseURL = v
	}
	// ComfyUI's "--listen" without a value means all interfaces ("0.0.0.0,::");
	// a comma list names several addresses, of which gocomfy serves the first.
	cfg.Listen, _, _ = strings.Cut(cfg.Listen, ",")
	ints := []struct {
		name string
		dst  *int
	}{{"port", &cfg.Port}, {"cache-lru", &cfg.LRUSize}, {"max-history", &cfg.MaxHistory}, {"max-queue", &cfg.MaxPending}}
	for _, f := range ints {
		if v := p.str(f.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return cfg, fmt.Errorf("--%s: %q is not a non-negative integer", f.name, v)
			}
			*f.dst = n
		}
	}
	if v := p.str("max-upload-size"); v != "" {
		mb, err := parseFloat("max-upload-size", v)
		if err != nil || mb <= 0 {
			return cfg, fmt.Errorf("--max-upload-size: %q is not a positive number", v)
		}
		cfg.MaxUploadSize, cfg.MaxUploadSizeIsFloat = int64(mb*1024*1024+0.5), true
	}
	if v := p.str("max-asset-upload-size"); v != "" {
		mb, err := parseFloat("max-asset-upload-size", v)
		if err != nil || mb <= 0 {
			return cfg, fmt.Errorf("--max-asset-upload-size: %q is not a positive number", v)
		}
		cfg.MaxAssetUploadSize = int64(mb*1024*1024 + 0.5)
	}
	if count(p, "cache-classic", "cache-none", "cache-ram")+boolInt(cfg.LRUSize > 0) > 1 {
		return cfg, fmt.Errorf("--cache-classic, --cache-lru, --cache-none and --cache-ram are mutually exclusive")
	}
	switch {
	case p.has("cache-classic"):
		cfg.Cache = gocomfy.CacheClassic
	case p.has("cache-none"):
		cfg.Cache = gocomfy.CacheNone
	case cfg.LRUSize > 0:
		cfg.Cache = gocomfy.CacheLRU
	}
	return cfg, nil
}

func count(p parsedArgs, names ...string) int {
	n := 0
	for _, name := range names {
		n += boolInt(p.has(name))
	}
	return n
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func newLogger(p parsedArgs) *slog.Logger {
	level := slog.LevelInfo
	switch strings.ToUpper(p.str("verbose")) {
	case "DEBUG":
		level = slog.LevelDebug
	case "WARNING":
		level = slog.LevelWarn
	case "ERROR", "CRITICAL":
		level = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: level}
	if p.has("log-json") {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}
