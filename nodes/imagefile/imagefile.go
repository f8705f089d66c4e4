// Package imagefile holds ComfyUI's image file nodes: LoadImage,
// LoadImageMask, LoadImageOutput, SaveImage and PreviewImage of nodes.py,
// and SaveAnimatedWEBP, SaveAnimatedPNG, SaveImageAdvanced and SaveSVGNode
// of comfy_extras/nodes_images.py, WebcamCapture of comfy_extras/nodes_webcam.py
// and the folder nodes of comfy_extras/nodes_dataset.py.
//
// Nodes reach files only through the roots of node.Folders, so an input
// value cannot name a file outside the input, output or temp folder, not
// even through a symbolic link; names go through files.CleanName first.
//
// # Folders outside a call
//
// Two things need the folders when no call is running: LoadImage's option
// list in /object_info, and the validators when the validation pass gives
// no folders. Classes are registered before the server opens its folders,
// so the server hands them over with SetFolders; until then the list is
// empty and validators accept any name (the run then fails on a missing
// file).
package imagefile

import (
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/gocomfy/gocomfy/internal/files"
	"github.com/gocomfy/gocomfy/node"
)

// Register adds the package's classes to r: nodes.py's in its order, then
// nodes_images.py's in that module's order, then nodes_webcam.py's and nodes_dataset.py's.
func Register(r *node.Registry) {
	r.MustAdd(saveImage, previewImage, loadImage, loadImageMask, loadImageOutput,
		saveAnimatedWEBP, saveAnimatedPNG, saveImageAdvanced, saveSVG, webcamCapture,
		loadImageDataSetFromFolder, loadImageTextDataSetFromFolder, saveImageDataSetToFolder,
		saveImageTextDataSetToFolder)
}

// serverFolders are the folders given to SetFolders.
var serverFolders atomic.Pointer[node.Folders]

// SetFolders gives the classes the server's folders for what happens
// outside a call (see the package documentation). One process serves one
// set of folders.
func SetFolders(f node.Folders) { serverFolders.Store(&f) }

// foldersOf returns the call's folders, or those of SetFolders when the
// call has none (a validation pass); ok is false when neither is known.
func foldersOf(c *node.Call) (node.Folders, bool) {
	if f := c.Folders(); f.Input != nil {
		return f, true
	}
	if f := serverFolders.Load(); f != nil {
		return *f, true
	}
	return node.Folders{}, false
}

// rootOf returns the root of folder type t.
func rootOf(f node.Folders, t files.Type) *os.Root {
	switch t {
	case files.Input:
		return f.Input
	case files.Output:
		return f.Output
	case files.Temp:
		return f.Temp
	}
	return nil
}

// imageExtensions are the extensions whose MIME type Python's mimetypes
// (its built-in tables, strict and common) gives as image/*, plus webp,
// which ComfyUI's filter_files_content_types always counts as an image.
var imageExtensions = map[string]bool{
	"avif": true, "bmp": true, "gif": true, "heic": true, "heif": true, "ico": true, "ief": true,
	"jpe": true, "jpeg": true, "jpg": true, "pbm": true, "pgm": true, "png": true, "pnm": true,
	"ppm": true, "ras": true, "rgb": true, "svg": true, "tif": true, "tiff": true, "xbm": true,
	"xpm": true, "xwd": true, "webp": true, "pct": true, "pic": true, "pict": true,
}

// isImageName reports whether LoadImage lists a file of this name. Like
// ComfyUI's filter, which caches content types by the text after the last
// dot, ".png" counts as a PNG once any PNG has been seen, and here always.
// A name without a dot is never an image (ComfyUI's cache would list a file
// named "png").
func isImageName(name string) bool {
	i := strings.LastIndexByte(name, '.')
	return i >= 0 && imageExtensions[strings.ToLower(name[i+1:])]
}

// inputImages is LoadImage's option list: the image files at the top of the
// input folder (not in subfolders, as in ComfyUI), sorted by code point.
// Symbolic links count when they lead to a file inside the folder; names
// that are not UTF-8, which no prompt could name, are left out.
func inputImages() []string {
	f := serverFolders.Load()
	if f == nil || f.Input == nil {
		return nil
	}
	dir, err := f.Input.Open(".")
	if err != nil {
		return nil
	}
	defer dir.Close()
	entries, err := dir.ReadDir(-1)
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		name := e.Name()
		if !utf8.ValidString(name) || !isImageName(name) {
			continue
		}
		regular := e.Type().IsRegular()
		if e.Type()&os.ModeSymlink != 0 {
			fi, err := f.Input.Stat(name)
			regular = err == nil && fi.Mode().IsRegular()
		}
		if regular {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}
