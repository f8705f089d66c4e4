package userdata

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"

	"github.com/gocomfy/gocomfy/internal/files"
	"github.com/gocomfy/gocomfy/pyjson"
)

// A User is one user's view of the user folder. Only Manager.User makes
// one, so every name a User is given is looked up in that user's own
// folder.
type User struct {
	m  *Manager
	id string
}

// ID is the user's id (DefaultUser without multi-user mode).
func (u User) ID() string { return u.id }

// FileInfo describes a file as GET /userdata?full_info=true and POST
// /userdata?full_info=true answer it.
type FileInfo struct {
	// Path is relative to the listed folder (or, after a write or a move,
	// to the user's folder), with '/' between folders.
	Path string `json:"path"`
	Size int64  `json:"size"`
	// Modified and Created are the mtime and ctime in milliseconds since
	// the epoch.
	Modified int64 `json:"modified"`
	Created  int64 `json:"created"`
}

// An Entry is one item of GET /v2/userdata.
type Entry struct {
	Name string `json:"name"`
	// Path is relative to the user's folder, with '/' between folders.
	Path string `json:"path"`
	// Type is "file" or "directory".
	Type string `json:"type"`
	// Size and Modified (seconds since the epoch) are given for files
	// whose metadata could be read.
	Size     *int64        `json:"size,omitempty"`
	Modified *pyjson.Float `json:"modified,omitempty"`
}

// Open opens a file of the user's for reading (GET /userdata/{file}).
// Missing files are fs.ErrNotExist; folders and other non-regular files
// are ErrNotFile.
func (u User) Open(name string) (*os.File, fs.FileInfo, error) {
	name, err := cleanName(name, false)
	if err != nil {
		return nil, nil, err
	}
	root, err := u.openRoot(false)
	if err != nil {
		return nil, nil, err
	}
	defer root.Close()
	// Stat first: opening a FIFO would block.
	if fi, err := root.Stat(name); err != nil {
		return nil, nil, lookupErr(err)
	} else if !fi.Mode().IsRegular() {
		return nil, nil, ErrNotFile
	}
	f, err := root.Open(name)
	if err != nil {
		return nil, nil, lookupErr(err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = ErrNotFile
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// Write stores data as a file of the user's (POST /userdata/{file}),
// creating missing folders. The write is atomic: a temporary file in the
// same folder, renamed over the target. With overwrite false an existing
// target is ErrExists. The result describes the file, its path relative to
// the user's folder.
func (u User) Write(name string, data []byte, overwrite bool) (FileInfo, error) {
	name, err := cleanName(name, false)
	if err != nil {
		return FileInfo{}, err
	}
	u.m.writeMu.Lock()
	defer u.m.writeMu.Unlock()
	root, err := u.openRoot(true)
	if err != nil {
		return FileInfo{}, err
	}
	defer root.Close()
	if !overwrite {
		if err := absent(root, name); err != nil {
			return FileInfo{}, err
		}
	}
	err = files.WriteFile(root, name, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
	if err != nil {
		return FileInfo{}, rootErr(err)
	}
	return stat(root, name)
}

// Delete removes a file of the user's (DELETE /userdata/{file}); a
// symbolic link is removed, not its target. Folders are ErrNotFile.
func (u User) Delete(name string) error {
	name, err := cleanName(name, false)
	if err != nil {
		return err
	}
	u.m.writeMu.Lock()
	defer u.m.writeMu.Unlock()
	root, err := u.openRoot(false)
	if err != nil {
		return err
	}
	defer root.Close()
	fi, err := root.Lstat(name)
	if err != nil {
		return lookupErr(err)
	}
	if fi.IsDir() {
		return ErrNotFile
	}
	return rootErr(root.Remove(name))
}

// Move renames a file (or folder) of the user's to dest (POST
// /userdata/{file}/move/{dest}), creating dest's missing folders. A
// missing source is fs.ErrNotExist; with overwrite false an existing dest
// is ErrExists. The result describes dest, its path relative to the
// user's folder.
func (u User) Move(src, dest string, overwrite bool) (FileInfo, error) {
	// ComfyUI's order: the source is refused or missing before dest is
	// looked at.
	src, err := cleanName(src, false)
	if err != nil {
		return FileInfo{}, err
	}
	u.m.writeMu.Lock()
	defer u.m.writeMu.Unlock()
	root, err := u.openRoot(false)
	if err != nil {
		return FileInfo{}, err
	}
	defer root.Close()
	if _, err := root.Lstat(src); err != nil {
		return FileInfo{}, lookupErr(err)
	}
	if dest, err = cleanName(dest, false); err != nil {
		return FileInfo{}, err
	}
	if !overwrite {
		if err := absent(root, dest); err != nil {
			return FileInfo{}, err
		}
	}
	if dir := path.Dir(dest); dir != "." {
		if err := root.MkdirAll(dir, 0o777); err != nil {
			return FileInfo{}, rootErr(err)
		}
	}
	if err := root.Rename(src, dest); err != nil {
		return FileInfo{}, rootErr(err)
	}
	return stat(root, dest)
}

// List lists the files under dir (GET /userdata?dir=…): regular files
// only (symbolic links to files count), names beginning with '.' left out
// at every level, in subfolders too when recurse is set. Each folder's
// files come before its subfolders' (as ComfyUI's glob yields them), in
// name order. dir "." is the user's folder; a missing dir is
// fs.ErrNotExist and a dir that is a file lists nothing.
func (u User) List(dir string, recurse bool) ([]FileInfo, error) {
	dir, err := cleanName(dir, true)
	if err != nil {
		return nil, err
	}
	root, err := u.openRoot(false)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	fi, err := root.Stat(dir)
	if err != nil {
		return nil, lookupErr(err)
	}
	out := []FileInfo{}
	if !fi.IsDir() {
		return out, nil
	}
	return out, listFiles(root, dir, ".", recurse, &out)
}

// listFiles appends the files of dir/rel and, with recurse, of its
// subfolders. Unreadable subfolders are skipped, as glob skips them.
func listFiles(root *os.Root, dir, rel string, recurse bool, out *[]FileInfo) error {
	entries, err := readDir(root, path.Join(dir, rel))
	if err != nil {
		return err
	}
	var subdirs []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := path.Join(rel, e.Name())
		if e.IsDir() {
			subdirs = append(subdirs, p)
			continue
		}
		fi, err := root.Stat(path.Join(dir, p))
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		*out = append(*out, fileInfo(p, fi))
	}
	if !recurse {
		return nil
	}
	for _, sub := range subdirs {
		if err := listFiles(root, dir, sub, true, out); err != nil && !isSkippable(err) {
			return err
		}
	}
	return nil
}

// Tree lists everything under dir, recursively (GET /v2/userdata?path=…):
// hidden names included, folders first, then by lower-cased name across
// all depths. Symbolic links to folders are listed as folders but not
// entered. dir "." is the user's folder, which lists nothing while it
// does not exist; another missing dir is fs.ErrNotExist and a file is
// ErrNotDir.
func (u User) Tree(dir string) ([]Entry, error) {
	dir, err := cleanName(dir, true)
	if err != nil {
		return nil, err
	}
	out := []Entry{}
	root, err := u.openRoot(false)
	if errors.Is(err, fs.ErrNotExist) && dir == "." {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	defer root.Close()
	fi, err := root.Stat(dir)
	if err != nil {
		return nil, lookupErr(err)
	}
	if !fi.IsDir() {
		return nil, ErrNotDir
	}
	if err := walkTree(root, dir, &out); err != nil {
		return nil, err
	}
	slices.SortStableFunc(out, func(a, b Entry) int {
		if (a.Type == "directory") != (b.Type == "directory") {
			if a.Type == "directory" {
				return -1
			}
			return 1
		}
		return cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})
	return out, nil
}

// walkTree appends the entries of dir and of its subfolders, as os.walk
// does without following links: unreadable subfolders are skipped.
func walkTree(root *os.Root, dir string, out *[]Entry) error {
	entries, err := readDir(root, dir)
	if err != nil {
		return err
	}
	var subdirs []string
	for _, e := range entries {
		p := path.Join(dir, e.Name())
		entry := Entry{Name: e.Name(), Path: p, Type: "directory"}
		if e.IsDir() {
			subdirs = append(subdirs, p)
		} else if fi, err := root.Stat(p); err != nil || !fi.IsDir() {
			// A file, or a link that is not to a folder (dangling, or
			// leading out: listed, as os.walk does, without metadata).
			entry.Type = "file"
			if err == nil {
				size, modified := fi.Size(), pyjson.Float(float64(fi.ModTime().UnixNano())/1e9)
				entry.Size, entry.Modified = &size, &modified
			}
		}
		*out = append(*out, entry)
	}
	for _, sub := range subdirs {
		if err := walkTree(root, sub, out); err != nil && !isSkippable(err) {
			return err
		}
	}
	return nil
}

// isSkippable reports an error reading a subfolder that a listing passes
// over, as Python's glob and os.walk do: it vanished, is not readable, or
// is a link out of the folder.
func isSkippable(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) || errors.Is(err, ErrPathRefused)
}

// readDir returns a folder's entries sorted by name (the order of a
// directory is the file system's, so tests and clients see a stable one).
func readDir(root *os.Root, dir string) ([]fs.DirEntry, error) {
	f, err := root.Open(dir)
	if err != nil {
		return nil, lookupErr(err)
	}
	defer f.Close()
	entries, err := f.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return cmp.Compare(a.Name(), b.Name()) })
	return entries, nil
}

// openRoot opens the user's folder as a root of its own, so that links
// inside it cannot reach other users' folders. With create the folder is
// made first (for writes); otherwise a missing folder is fs.ErrNotExist.
func (u User) openRoot(create bool) (*os.Root, error) {
	if create {
		if err := u.m.root.Mkdir(u.id, 0o777); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, rootErr(err)
		}
	}
	r, err := u.m.root.OpenRoot(u.id)
	if err != nil {
		return nil, lookupErr(err)
	}
	return r, nil
}

// cleanName checks a name from a request with files.CleanName; with
// allowRoot, "", "." and other names made only of "." and "/" that do not
// begin with "/" name the folder itself, ".".
func cleanName(name string, allowRoot bool) (string, error) {
	if allowRoot && isRootName(name) {
		return ".", nil
	}
	clean, err := files.CleanName(name)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrPathRefused, err)
	}
	return clean, nil
}

func isRootName(name string) bool {
	if strings.HasPrefix(name, "/") {
		return false
	}
	for _, elem := range strings.Split(name, "/") {
		if elem != "" && elem != "." {
			return false
		}
	}
	return true
}

// absent returns ErrExists if name exists in root (a dangling link
// counts), nil if it does not or cannot (a path through a file).
func absent(root *os.Root, name string) error {
	_, err := root.Lstat(name)
	switch err := lookupErr(err); {
	case err == nil:
		return ErrExists
	case errors.Is(err, fs.ErrNotExist):
		return nil
	default:
		return err
	}
}

// stat describes name in root, its Path being name.
func stat(root *os.Root, name string) (FileInfo, error) {
	fi, err := root.Stat(name)
	if err != nil {
		return FileInfo{}, rootErr(err)
	}
	return fileInfo(name, fi), nil
}

func fileInfo(p string, fi fs.FileInfo) FileInfo {
	return FileInfo{Path: p, Size: fi.Size(), Modified: fi.ModTime().UnixMilli(), Created: changeTime(fi).UnixMilli()}
}

// rootErr marks os.Root's refusal to leave the folder (a symbolic link
// pointing out of it, or an absolute one) as ErrPathRefused.
func rootErr(err error) error {
	if err != nil && files.IsOutside(err) {
		return fmt.Errorf("%w: %w", ErrPathRefused, err)
	}
	return err
}

// lookupErr is rootErr for lookups, where a path through a file
// ("a.json/b") is also a missing file, as Python's os.path.exists says.
func lookupErr(err error) error {
	if err != nil && errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("%w: %w", fs.ErrNotExist, err)
	}
	return rootErr(err)
}
