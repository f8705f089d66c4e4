// Package web holds gocomfy's own web page, built from the sources in web/
// at the repository root (cd web && npm ci && npm run build) into dist/,
// which is committed so that the Go build needs no Node, and the workflow
// templates served at /templates/ by default (templates/, made by
// cd web && npm run templates).
package web

import (
	"embed"
	"io/fs"
	"regexp"
)

//go:embed all:dist
var dist embed.FS

//go:embed templates
var templates embed.FS

// Page is the built page as an fs.FS whose hashed files say so through
// Immutable.
type Page struct{ fs.FS }

// hashedAsset matches the names Vite gives built files: a content hash
// before the extension, under assets/.
var hashedAsset = regexp.MustCompile(`^assets/[^/]+-[A-Za-z0-9_-]{8}\.[a-z0-9]+$`)

// Immutable reports whether the file name (slash-separated, relative to
// the root) has a content hash in its name: its bytes never change, so a
// browser may cache it for good.
func (Page) Immutable(name string) bool { return hashedAsset.MatchString(name) }

// FS returns the built page, a Page: index.html at its root and the
// hashed scripts and styles under assets/.
func FS() fs.FS {
	return Page{sub(dist, "dist")}
}

// Templates returns gocomfy's own workflow templates in the layout of
// ComfyUI's templates package: index.json, index_logo.json, and for each
// template NAME.json (a UI-format workflow) and its thumbnail NAME-1.png.
func Templates() fs.FS {
	return sub(templates, "templates")
}

func sub(fsys fs.FS, dir string) fs.FS {
	s, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // dir is a valid path: fs.Sub fails only on invalid ones
	}
	return s
}
