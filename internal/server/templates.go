package server

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// templateRoutes serve the workflow templates the frontend's template
// browser reads (spec §1.1 step 5): /templates/index.json (index.<locale>.json
// for other languages), index_logo.json, and each template's NAME.json and
// thumbnails NAME-1.<ext>. As in ComfyUI they are not under /api.
//
// A name that is not among them is looked up in the frontend's own
// templates/ folder: frontends up to v1.9, from before the templates
// package, ship their few templates there, and ComfyUI served them from its
// web root then.
func (s *Server) templateRoutes() []route {
	if s.cfg.Templates == nil {
		return nil
	}
	var frontend http.Handler
	if s.cfg.Frontend != nil {
		frontend = staticFiles(s.cfg.Frontend)
	}
	get := func(w http.ResponseWriter, r *http.Request) error {
		name := r.PathValue("path")
		err := s.getTemplateFile(w, r, name)
		if errors.Is(err, errNoTemplate) && frontend != nil && isRegularFile(s.cfg.Frontend, "templates/"+name) {
			frontend.ServeHTTP(w, r)
			return nil
		}
		return err
	}
	return []route{{"GET /templates/{path...}", s.serveText(get), false}}
}

// errNoTemplate is aiohttp's text 404, as ComfyUI answers an unknown
// template asset.
var errNoTemplate = &textError{http.StatusNotFound, "404: Not Found"}

// getTemplateFile serves the file name of Config.Templates, or returns
// errNoTemplate when it is not a regular file there.
// The folder may be an operator's: only JSON, images, video and audio are
// served inline, anything else (HTML, SVG, scripts) as an
// application/octet-stream attachment, and every answer carries nosniff
// and a sandbox CSP, as /view does.
func (s *Server) getTemplateFile(w http.ResponseWriter, r *http.Request, name string) error {
	if !fs.ValidPath(name) || name == "." {
		return errNoTemplate
	}
	f, err := s.cfg.Templates.Open(name)
	if err != nil {
		return errNoTemplate
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return errNoTemplate
	}
	content, ok := f.(io.ReadSeeker)
	if !ok {
		b, err := io.ReadAll(f)
		if err != nil {
			return err
		}
		content = bytes.NewReader(b)
	}
	base := path.Base(name)
	ctype, inline := templateContentType(base)
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox")
	h.Set("Content-Type", ctype)
	if !inline {
		h.Set("Content-Disposition", `attachment; filename="`+strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(base)+`"`)
	}
	http.ServeContent(w, r, base, fi.ModTime(), content)
	return nil
}

// templateContentType is the type a template file is sent with, and
// whether it may be shown inline: JSON (the index and the workflows,
// which the frontend reads only when typed application/json) and what
// /view shows inline.
func templateContentType(name string) (ctype string, inline bool) {
	if strings.EqualFold(path.Ext(name), ".json") {
		return "application/json", true
	}
	ctype, inline = viewContentType(name)
	if !inline {
		ctype = "application/octet-stream"
	}
	return ctype, inline
}

// isRegularFile reports whether name is a regular file of fsys.
func isRegularFile(fsys fs.FS, name string) bool {
	fi, err := fs.Stat(fsys, name)
	return err == nil && fi.Mode().IsRegular()
}
