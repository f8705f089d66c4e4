package server

import (
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gocomfy/gocomfy/internal/web"
)

// TestTemplates checks /templates/: the frontend reads the index and the
// workflows as application/json and shows the thumbnails; anything else a
// templates folder holds is a download, and what is not a file is
// aiohttp's text 404.
func TestTemplates(t *testing.T) {
	t.Parallel()
	templates := fstest.MapFS{
		"index.json":        {Data: []byte(`[{"moduleName": "default", "templates": []}]`)},
		"index.fr.json":     {Data: []byte(`[]`)},
		"flow.json":         {Data: []byte(`{"nodes": []}`)},
		"flow-1.png":        {Data: []byte("\x89PNG\r\n\x1a\n")},
		"flow-1.webp":       {Data: []byte("RIFF\x00\x00\x00\x00WEBP")},
		"evil.html":         {Data: []byte("<script>alert(1)</script>")},
		"evil.svg":          {Data: []byte("<svg onload=alert(1)>")},
		"sub/nested.json":   {Data: []byte(`{}`)},
		"sub/link.json":     {Data: []byte("index.json"), Mode: fs.ModeSymlink},
		".hidden/file.json": {Data: []byte(`{}`)},
	}
	// An older frontend's own templates, served when the folder lacks them.
	frontend := fstest.MapFS{
		"index.html":             {Data: []byte("<html>")},
		"templates/default.jpg":  {Data: []byte("\xff\xd8\xff")},
		"templates/flow.json":    {Data: []byte(`{"shadowed": true}`)},
		"templates/dir/x.json":   {Data: []byte(`{}`)},
		"templates/.hidden.json": {Data: []byte(`{}`)},
	}
	h := New(Config{Logger: slog.New(slog.DiscardHandler), Templates: templates, Frontend: frontend}).Handler()
	for _, tc := range []struct {
		path, status                    string
		ctype, disposition, cache, body string
	}{
		{"/templates/index.json", "200", "application/json", "", "no-store", `[{"moduleName": "default", "templates": []}]`},
		{"/templates/index.fr.json", "200", "application/json", "", "no-store", `[]`},
		{"/templates/flow.json", "200", "application/json", "", "", `{"nodes": []}`},
		{"/templates/sub/nested.json", "200", "application/json", "", "", `{}`},
		{"/templates/flow-1.png", "200", "image/png", "", "public, max-age=86400", "\x89PNG\r\n\x1a\n"},
		{"/templates/flow-1.webp", "200", "image/webp", "", "public, max-age=86400", "RIFF\x00\x00\x00\x00WEBP"},
		{"/templates/evil.html", "200", "application/octet-stream", `attachment; filename="evil.html"`, "", "<script>alert(1)</script>"},
		{"/templates/evil.svg", "200", "application/octet-stream", `attachment; filename="evil.svg"`, "", "<svg onload=alert(1)>"},
		{"/templates/missing.json", "404", "text/plain; charset=utf-8", "", "", "404: Not Found"},
		{"/templates/index.de.json", "404", "text/plain; charset=utf-8", "", "no-store", "404: Not Found"},
		{"/templates/missing-1.png", "404", "text/plain; charset=utf-8", "", "public, max-age=3600", "404: Not Found"},
		{"/templates/sub", "404", "text/plain; charset=utf-8", "", "", "404: Not Found"},
		{"/templates/sub/link.json", "404", "text/plain; charset=utf-8", "", "", "404: Not Found"},
		{"/templates/", "404", "text/plain; charset=utf-8", "", "", "404: Not Found"},
		{"/templates/sub%2F..%2Fflow.json", "404", "text/plain; charset=utf-8", "", "", "404: Not Found"},
		{"/templates/..%2Fserver.go", "404", "text/plain; charset=utf-8", "", "", "404: Not Found"},
		{"/templates/default.jpg", "200", "image/jpeg", "", "public, max-age=86400", "\xff\xd8\xff"},
		{"/templates/dir", "404", "text/plain; charset=utf-8", "", "", "404: Not Found"},
		{"/templates/dir/", "404", "text/plain; charset=utf-8", "", "", "404: Not Found"},
		// As in ComfyUI, not under /api.
		{"/api/templates/index.json", "404", "", "", "no-store", ""},
	} {
		t.Run(tc.path, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", tc.path, nil))
			res := w.Result()
			if got := res.Status[:3]; got != tc.status {
				t.Fatalf("status %s; want %s (%s)", res.Status, tc.status, w.Body)
			}
			if tc.ctype != "" && res.Header.Get("Content-Type") != tc.ctype {
				t.Errorf("Content-Type %q; want %q", res.Header.Get("Content-Type"), tc.ctype)
			}
			if got := res.Header.Get("Content-Disposition"); got != tc.disposition {
				t.Errorf("Content-Disposition %q; want %q", got, tc.disposition)
			}
			if got := res.Header.Get("Cache-Control"); got != tc.cache {
				t.Errorf("Cache-Control %q; want %q", got, tc.cache)
			}
			// default.jpg is the frontend's own file, served as such.
			if tc.status == "200" && tc.path != "/templates/default.jpg" {
				if res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("Content-Security-Policy") != "sandbox" {
					t.Errorf("headers %v; want nosniff and a sandbox CSP", res.Header)
				}
			}
			if tc.body != "" && w.Body.String() != tc.body {
				t.Errorf("body %q; want %q", w.Body, tc.body)
			}
		})
	}
}

// TestNoTemplates checks that without a templates folder /templates/ is
// not a route of its own: the frontend's files answer, as in a ComfyUI
// without the templates package.
func TestNoTemplates(t *testing.T) {
	t.Parallel()
	h := New(Config{Logger: slog.New(slog.DiscardHandler), Frontend: fstest.MapFS{"index.html": {Data: []byte("<html>")}}}).Handler()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/templates/index.json", nil))
	if w.Code != http.StatusNotFound {
		t.Errorf("/templates/index.json: %d %s; want 404", w.Code, w.Body)
	}
}

// TestOwnPageCaching checks the cache headers of gocomfy's own page: the
// content-hashed assets are cached for good, index.html never, and a
// frontend folder without hashed names keeps ComfyUI's rule.
func TestOwnPageCaching(t *testing.T) {
	t.Parallel()
	var asset string
	fs.WalkDir(web.FS(), "assets", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".js") {
			asset = p
		}
		return err
	})
	if asset == "" {
		t.Fatal("the embedded page has no script under assets/")
	}
	plain := fstest.MapFS{
		"index.html":                 {Data: []byte("<html>")},
		"assets/index-B36GcHVN.js":   {Data: []byte("0")},
		"assets/logo-B36GcHVN.png":   {Data: []byte("\x89PNG\r\n\x1a\n")},
		"extensions/core/example.js": {Data: []byte("0")},
	}
	for _, tc := range []struct {
		name     string
		frontend fs.FS
		path     string
		cache    string
	}{
		{"own page", web.FS(), "/", "no-store, must-revalidate"},
		{"own page", web.FS(), "/index.html", ""},
		{"own page", web.FS(), "/" + asset, "public, max-age=31536000, immutable"},
		{"own page", web.FS(), "/assets/missing-B36GcHVN.js", "no-store"},
		{"official frontend", plain, "/" + "assets/index-B36GcHVN.js", "no-store"},
		{"official frontend", plain, "/assets/logo-B36GcHVN.png", "public, max-age=86400"},
		{"official frontend", plain, "/extensions/core/example.js", "no-store"},
	} {
		h := New(Config{Logger: slog.New(slog.DiscardHandler), Frontend: tc.frontend}).Handler()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", tc.path, nil))
		res := w.Result()
		io.Copy(io.Discard, res.Body)
		if got := res.Header.Get("Cache-Control"); got != tc.cache {
			t.Errorf("%s %s: %d, Cache-Control %q; want %q", tc.name, tc.path, res.StatusCode, got, tc.cache)
		}
	}
}

// TestExtensionsList checks GET /extensions: the official frontend's own
// extensions/ scripts first, as ComfyUI globs them from its web root (names
// starting with a dot skipped), then those of the Go extensions' web
// directories.
func TestExtensionsList(t *testing.T) {
	t.Parallel()
	frontend := fstest.MapFS{
		"index.html":                 {Data: []byte("<html>")},
		"extensions/core/b.js":       {Data: []byte("0")},
		"extensions/core/a.js":       {Data: []byte("0")},
		"extensions/core/style.css":  {Data: []byte("0")},
		"extensions/.hidden/x.js":    {Data: []byte("0")},
		"extensions/core/.x.js":      {Data: []byte("0")},
		"assets/not-an-extension.js": {Data: []byte("0")},
	}
	dirs := []WebDir{{Name: "my-ext", FS: fstest.MapFS{"web.js": {Data: []byte("0")}, "lib/util.js": {Data: []byte("0")}, "README.md": {}}}}
	for _, tc := range []struct {
		name     string
		frontend fs.FS
		want     string
	}{
		{"official frontend", frontend, `["/extensions/core/a.js", "/extensions/core/b.js", "/extensions/my-ext/lib/util.js", "/extensions/my-ext/web.js"]`},
		{"no extensions folder", fstest.MapFS{"index.html": {}}, `["/extensions/my-ext/lib/util.js", "/extensions/my-ext/web.js"]`},
		{"no frontend", nil, `["/extensions/my-ext/lib/util.js", "/extensions/my-ext/web.js"]`},
	} {
		h := New(Config{Logger: slog.New(slog.DiscardHandler), Frontend: tc.frontend, WebDirs: dirs}).Handler()
		for _, p := range []string{"/extensions", "/api/extensions"} {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", p, nil))
			if w.Code != 200 || w.Body.String() != tc.want {
				t.Errorf("%s: GET %s: %d %s; want %s", tc.name, p, w.Code, w.Body, tc.want)
			}
		}
	}
	// The Go extension's scripts are served under its name.
	h := New(Config{Logger: slog.New(slog.DiscardHandler), Frontend: frontend, WebDirs: dirs}).Handler()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/extensions/my-ext/lib/util.js", nil))
	if w.Code != 200 || w.Body.String() != "0" {
		t.Errorf("/extensions/my-ext/lib/util.js: %d %s", w.Code, w.Body)
	}
}
