package files

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Errors returned for names that come from requests and node inputs. The
// HTTP layer maps them with errors.Is (suggested status in brackets).
var (
	// ErrInvalidName reports a name refused before any file is touched:
	// empty, absolute, with a drive letter, a backslash, a control
	// character, invalid UTF-8, a ".." element or too long [400].
	ErrInvalidName = errors.New("invalid file name")
	// ErrOutside reports a path that leaves its folder: a save prefix
	// pointing outside the output folder, or (see IsOutside) a symbolic link
	// that os.Root refused to follow out of the folder [403].
	ErrOutside = errors.New("path escapes from its folder")
	// ErrUnknownType reports a folder type other than input, output or temp
	// [400].
	ErrUnknownType = errors.New("unknown folder type")
	// ErrUnknownFolder reports a model folder name that is not registered
	// [404].
	ErrUnknownFolder = errors.New("unknown model folder")
)

// Limits on names; longer ones fail on common file systems anyway, and
// refusing them early gives a clear error.
const (
	maxElem = 255  // bytes in one path element (ext4, APFS, NTFS in UTF-16 units)
	maxPath = 4096 // bytes in a whole relative path (Linux PATH_MAX)
)

// nameError says which name was refused and why; it unwraps to
// ErrInvalidName.
type nameError struct {
	what, name, reason string
}

func (e *nameError) Error() string {
	name := e.name
	if len(name) > 80 {
		name = name[:80] + "…"
	}
	return fmt.Sprintf("invalid %s %q: %s", e.what, name, e.reason)
}

func (e *nameError) Unwrap() error { return ErrInvalidName }

// CleanName checks a slash-separated relative name taken from a request or a
// node input and returns it cleaned ("a//b/./c.png" → "a/b/c.png"). It
// refuses, on every OS, what could name a file outside the folder it is
// joined to or be read differently elsewhere: the empty name, absolute
// paths, drive letters, backslashes (so no UNC paths), NUL and other
// control characters, invalid UTF-8 (overlong encodings of '.' and '/'),
// characters that Unicode NFKC normalisation turns into '/' or '\', any
// element made only of dots other than ".", and names over the length
// limits. The error unwraps to ErrInvalidName.
//
// Percent-decoding is the HTTP layer's job; CleanName sees decoded names.
// Symbolic links are not its business: os.Root refuses those that leave the
// folder when the name is opened.
func CleanName(name string) (string, error) {
	return cleanName("name", name, false)
}

// cleanName is CleanName with the kind of name for messages, and with the
// empty name allowed (cleaned to "") for subfolders.
func cleanName(what, name string, allowEmpty bool) (string, error) {
	refuse := func(reason string) (string, error) {
		return "", &nameError{what, name, reason}
	}
	if name == "" {
		if allowEmpty {
			return "", nil
		}
		return refuse("empty")
	}
	if len(name) > maxPath {
		return refuse("too long")
	}
	if !utf8.ValidString(name) {
		return refuse("not valid UTF-8")
	}
	if reason := badChar(name); reason != "" {
		return refuse(reason)
	}
	if name[0] == '/' {
		return refuse("absolute path")
	}
	if len(name) >= 2 && name[1] == ':' && isASCIILetter(name[0]) {
		return refuse("drive letter")
	}
	for _, elem := range strings.Split(name, "/") {
		if len(elem) > maxElem {
			return refuse("element too long")
		}
		if elem != "." && isDots(elem) {
			return refuse("parent directory reference")
		}
	}
	clean := path.Clean(name)
	if clean == "." {
		if allowEmpty {
			return "", nil
		}
		return refuse("empty")
	}
	// On Windows this also refuses reserved names (NUL, COM1) and colons.
	if !filepath.IsLocal(filepath.FromSlash(clean)) {
		return refuse("not a local path")
	}
	return clean, nil
}

// badChar reports the first character that no request name may contain.
func badChar(name string) string {
	for _, r := range name {
		switch {
		case r == 0:
			return "NUL byte"
		case r < 0x20 || r == 0x7f:
			return "control character"
		case r == '\\':
			return "backslash"
		case r == '\uff0f' || r == '\uff3c' || r == '\ufe68':
			// Fullwidth solidus, fullwidth and small reverse solidus:
			// NFKC maps them to '/' and '\'.
			return "look-alike of a path separator"
		}
	}
	return ""
}

// isDots reports whether elem is made only of '.' and characters that NFKC
// maps to dots (one and two dot leaders, ellipsis, small and fullwidth full
// stops): "..", "...", "．．".
func isDots(elem string) bool {
	for _, r := range elem {
		switch r {
		case '.', '\u2024', '\u2025', '\u2026', '\ufe52', '\uff0e':
		default:
			return false
		}
	}
	return elem != ""
}

func isASCIILetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// IsOutside reports whether err says that a path leaves its folder:
// ErrOutside, or os.Root's refusal to follow a symbolic link (or "..")
// out of its root.
func IsOutside(err error) bool {
	if errors.Is(err, ErrOutside) {
		return true
	}
	// os does not export its error; its text has been stable since os.Root
	// appeared in Go 1.24, and TestIsOutsideSymlink pins it.
	for ; err != nil; err = errors.Unwrap(err) {
		if err.Error() == "path escapes from parent" {
			return true
		}
	}
	return false
}

// A Location is a file inside one of the folders: Root opened by os.Root
// and a clean slash-separated Name relative to it. Open it through Root
// (l.Root.Open(l.Name)), never through Path, so that symbolic links cannot
// lead out of the folder.
type Location struct {
	Type Type
	Root *os.Root
	Name string
}

// Path is the absolute file name, for logs and for records that store
// paths; do not open it.
func (l Location) Path() string {
	return filepath.Join(l.Root.Name(), filepath.FromSlash(l.Name))
}

// Resolve is how a request or a node names a file: a folder type, a
// subfolder (may be empty) and a file name (may contain '/'), as in
// /view?type=…&subfolder=…&filename=… and the upload forms. Both parts go
// through CleanName; the result is not checked for existence. Errors unwrap
// to ErrUnknownType or ErrInvalidName.
//
// /view uses only the base name of filename (ComfyUI strips directories
// there); that is the caller's choice, as is percent-decoding.
func (f *Folders) Resolve(t Type, subfolder, filename string) (Location, error) {
	root := f.Root(t)
	if root == nil {
		return Location{}, fmt.Errorf("%w %q", ErrUnknownType, string(t))
	}
	sub, err := cleanName("subfolder", subfolder, true)
	if err != nil {
		return Location{}, err
	}
	name, err := cleanName("filename", filename, false)
	if err != nil {
		return Location{}, err
	}
	full := path.Join(sub, name)
	if len(full) > maxPath {
		return Location{}, &nameError{"filename", full, "too long"}
	}
	return Location{Type: t, Root: root, Name: full}, nil
}

// SplitAnnotation splits ComfyUI's annotated names, "x.png [output]",
// "x.png [input]" and "x.png [temp]", into the name and the folder type;
// ok is false when there is no annotation.
//
// ComfyUI cuts a fixed number of characters, assuming the space before the
// bracket; here the space is optional, so "x.png[output]" is "x.png" rather
// than ComfyUI's "x.pn".
func SplitAnnotation(name string) (rest string, t Type, ok bool) {
	for _, t := range []Type{Output, Input, Temp} {
		if rest, ok := strings.CutSuffix(name, "["+string(t)+"]"); ok {
			return strings.TrimSuffix(rest, " "), t, true
		}
	}
	return name, "", false
}

// ResolveAnnotated resolves a node input value such as "sub/x.png" or
// "x.png [output]" (ComfyUI's get_annotated_filepath): the annotation picks
// the folder, def when there is none; the rest is a name for CleanName.
func (f *Folders) ResolveAnnotated(name string, def Type) (Location, error) {
	rest, t, ok := SplitAnnotation(name)
	if !ok {
		t = def
	}
	return f.Resolve(t, "", rest)
}
