// Package web holds gocomfy's own web page, built from the sources in web/
// at the repository root (cd web && npm ci && npm run build) into dist/,
// which is committed so that the Go build needs no Node.
package web

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// FS returns the built page: index.html at its root and the hashed
// scripts and styles under assets/.
func FS() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // "dist" is a valid path: fs.Sub fails only on invalid ones
	}
	return sub
}
