package server

import (
	"bufio"
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/gocomfy/gocomfy/internal/event"
	"github.com/gocomfy/gocomfy/pyjson"
)

// getObjectInfo is GET /object_info: every class in registration order.
// A class whose rendering fails is logged and skipped, as in ComfyUI.
func (s *Server) getObjectInfo(w http.ResponseWriter, r *http.Request) error {
	out := pyjson.Object{}
	for c := range s.cfg.Registry.All() {
		out = append(out, pyjson.Field{Key: c.ID, Value: c.ObjectInfo()})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getObjectInfoClass is GET /object_info/{node_class}: {} when unknown.
func (s *Server) getObjectInfoClass(w http.ResponseWriter, r *http.Request) error {
	c, ok := s.cfg.Registry.Lookup(r.PathValue("node_class"))
	if !ok {
		writeJSON(w, http.StatusOK, pyjson.Object{})
		return nil
	}
	writeJSON(w, http.StatusOK, pyjson.Object{{Key: c.ID, Value: c.ObjectInfo()}})
	return nil
}

// features is the server's feature flags (GET /features and the WebSocket
// reply to the client's flags).
func (s *Server) features() pyjson.Object {
	var size any = s.cfg.MaxUploadSize
	if s.cfg.MaxUploadSizeIsFloat {
		size = pyjson.Float(s.cfg.MaxUploadSize)
	}
	return pyjson.Object{
		{Key: "supports_preview_metadata", Value: true},
		{Key: "max_upload_size", Value: size},
		{Key: "extension", Value: pyjson.Object{
			{Key: "manager", Value: pyjson.Object{{Key: "supports_v4", Value: true}}},
			// gocomfy's own, where ComfyUI puts extensions' flags.
			{Key: "gocomfy", Value: pyjson.Object{{Key: "ws_replay", Value: event.ReplayFeature()}}},
		}},
		{Key: "node_replacements", Value: true},
		{Key: "assets", Value: s.cfg.Assets != nil},
	}
}

func (s *Server) getFeatures(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, s.features())
	return nil
}

// getSystemStats is GET /system_stats. gocomfy runs no torch: it reports
// one CPU device whose memory is the machine's, as ComfyUI does with --cpu.
func (s *Server) getSystemStats(w http.ResponseWriter, r *http.Request) error {
	total, free := memInfo()
	argv := s.cfg.Argv
	if argv == nil {
		argv = []string{}
	}
	system := pyjson.Object{
		{Key: "os", Value: runtime.GOOS},
		{Key: "ram_total", Value: total}, {Key: "ram_free", Value: free},
		{Key: "comfyui_version", Value: s.cfg.Version},
		{Key: "required_frontend_version", Value: nil},
		{Key: "installed_templates_version", Value: nil},
		{Key: "required_templates_version", Value: nil},
		{Key: "comfy_package_versions", Value: []any{}},
		{Key: "python_version", Value: runtime.Version()},
		{Key: "pytorch_version", Value: nil},
		{Key: "embedded_python", Value: false},
		{Key: "deploy_environment", Value: "gocomfy"},
		{Key: "argv", Value: argv},
		{Key: "server_id", Value: s.cfg.ServerID},
	}
	device := pyjson.Object{
		{Key: "name", Value: "cpu"}, {Key: "type", Value: "cpu"}, {Key: "index", Value: nil},
		{Key: "vram_total", Value: total}, {Key: "vram_free", Value: free},
		{Key: "torch_vram_total", Value: total}, {Key: "torch_vram_free", Value: free},
	}
	writeJSON(w, http.StatusOK, pyjson.Object{{Key: "system", Value: system}, {Key: "devices", Value: []any{device}}})
	return nil
}

// memInfo returns total and available RAM in bytes (0, 0 where unknown).
func memInfo() (total, available int64) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "MemTotal:":
			total = kb * 1024
		case "MemAvailable:":
			available = kb * 1024
		}
	}
	return total, available
}

// getExtensions is GET /extensions: the URLs of every .js file under the
// frontend's extensions/ folder (the official frontend ships its legacy
// script shims there), then of every .js file of the extensions' web
// directories. Names starting with a dot are skipped, as Python's glob does.
func (s *Server) getExtensions(w http.ResponseWriter, r *http.Request) error {
	urls := []string{}
	if s.cfg.Frontend != nil {
		found, err := scripts(s.cfg.Frontend, "extensions")
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		for _, p := range found {
			urls = append(urls, "/"+p)
		}
	}
	for _, d := range s.cfg.WebDirs {
		found, err := scripts(d.FS, ".")
		if err != nil {
			return err
		}
		for _, p := range found {
			urls = append(urls, "/extensions/"+url.PathEscape(d.Name)+"/"+p)
		}
	}
	writeJSON(w, http.StatusOK, urls)
	return nil
}

// scripts lists the .js files under dir of fsys, in lexical order, skipping
// names that start with a dot.
func scripts(fsys fs.FS, dir string) ([]string, error) {
	var out []string
	err := fs.WalkDir(fsys, dir, func(p string, e fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case p != dir && strings.HasPrefix(e.Name(), "."):
			if e.IsDir() {
				return fs.SkipDir
			}
		case !e.IsDir() && strings.HasSuffix(p, ".js"):
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

// getWorkflowTemplates is GET /workflow_templates: Go extensions ship no
// example workflows yet, so it is {} as for a ComfyUI without custom nodes.
func (s *Server) getWorkflowTemplates(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, pyjson.Object{})
	return nil
}

// getIndex serves the frontend's index.html, never cached.
func (s *Server) getIndex(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "no-store, must-revalidate")
	w.Header().Set("Pragma", "no-cache")
	w.Header().Set("Expires", "0")
	if s.cfg.Frontend != nil {
		if b, err := fs.ReadFile(s.cfg.Frontend, "index.html"); err == nil {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write(b)
			return nil
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write([]byte(noFrontendPage))
	return nil
}

const noFrontendPage = `<!doctype html><html><head><meta charset="utf-8"><title>gocomfy</title></head>
<body><h1>gocomfy</h1><p>A ComfyUI-compatible workflow server. The API is at
<a href="/object_info">/object_info</a>, <a href="/queue">/queue</a>, <a href="/history">/history</a>.
Start with <code>--front-end-root DIR</code> to serve a built ComfyUI frontend here.</p></body></html>`

// immutableFiles is a file system that knows which of its files never
// change (content-hashed names, as in gocomfy's own page, web.Page).
type immutableFiles interface {
	Immutable(name string) bool
}

// immutableCache is the Cache-Control of a file whose name changes with its
// content: a year, without revalidation.
const immutableCache = "public, max-age=31536000, immutable"

// staticFiles serves files of fsys; directories are not listed. Files
// fsys reports immutable are cached for good; the others get ComfyUI's
// rule (cacheControl: scripts and styles never cached).
func staticFiles(fsys fs.FS) http.Handler {
	files := http.FileServerFS(fsys)
	immutable, _ := fsys.(immutableFiles)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		if name == "" || strings.HasSuffix(name, "/") {
			http.Error(w, "403: Forbidden", http.StatusForbidden)
			return
		}
		st, err := fs.Stat(fsys, name)
		switch {
		case err != nil:
			// Missing, or out of the folder (an os.Root refuses a
			// symlink that leaves it): aiohttp's 404, not FileServer's 500.
			http.Error(w, "404: Not Found", http.StatusNotFound)
			return
		case st.IsDir():
			http.Error(w, "403: Forbidden", http.StatusForbidden)
			return
		}
		if immutable != nil && immutable.Immutable(name) {
			w.Header().Set("Cache-Control", immutableCache)
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
}
