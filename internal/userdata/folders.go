package userdata

import (
	"slices"
	"strings"
	"time"

	"github.com/gocomfy/gocomfy/internal/files"
	"github.com/gocomfy/gocomfy/pyjson"
)

// RecentFiles lists one of the folders' working folders, "input",
// "output" or "temp" (GET /internal/files/{directory_type}): the regular
// files directly in it (symbolic links to files inside it count) whose
// names do not begin with '.', newest first, then by name. Another type is
// files.ErrUnknownType.
func RecentFiles(folders *files.Folders, typ string) ([]string, error) {
	t, err := files.ParseType(typ)
	if err != nil {
		return nil, err
	}
	root := folders.Root(t)
	entries, err := readDir(root, ".")
	if err != nil {
		return nil, err
	}
	type file struct {
		name  string
		mtime time.Time
	}
	var found []file
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if fi, err := root.Stat(e.Name()); err == nil && fi.Mode().IsRegular() {
			found = append(found, file{e.Name(), fi.ModTime()})
		}
	}
	slices.SortStableFunc(found, func(a, b file) int { return b.mtime.Compare(a.mtime) })
	names := make([]string, len(found))
	for i, f := range found {
		names[i] = f.name
	}
	return names, nil
}

// ModelFolders maps every model folder name of the folders to its
// directories, default first (GET /internal/folder_paths), in
// registration order.
func ModelFolders(folders *files.Folders) pyjson.Object {
	out := pyjson.Object{}
	models := folders.Models
	if models == nil {
		return out
	}
	for _, name := range models.Names() {
		dirs, _ := models.Dirs(name)
		if dirs == nil {
			dirs = []string{}
		}
		out = append(out, pyjson.Field{Key: name, Value: dirs})
	}
	return out
}
