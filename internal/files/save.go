package files

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// A SavePath is where a save node writes: ComfyUI's get_save_image_path.
type SavePath struct {
	// Subfolder is the prefix's folder inside the root, slash-separated;
	// "" for the root itself. It is what results report as "subfolder".
	Subfolder string
	// Filename is the prefix's last element; it may still hold
	// %batch_num%, which Name replaces.
	Filename string
	// Counter is the number of the first file: one more than the highest
	// number among the files named Filename_NNNNN… in Subfolder, or 1.
	Counter int
	// Prefix is the prefix after substitution.
	Prefix string
}

// Name is the file name of image batch of a save (batch counts from 0),
// with ext such as ".png": "ComfyUI_00001_.png". Each image takes the next
// counter value, as SaveImage numbers a batch.
func (p SavePath) Name(batch int, ext string) string {
	name := strings.ReplaceAll(p.Filename, "%batch_num%", strconv.Itoa(batch))
	return fmt.Sprintf("%s_%05d_%s", name, p.Counter+batch, ext)
}

// SaveImagePath is ComfyUI's get_save_image_path for a save into root (the
// output folder, or temp for previews) at time now (the caller's clock, in
// the local zone as ComfyUI uses time.localtime):
//
//  1. In prefix, %width% and %height% become the image size and %year%,
//     %month%, %day%, %hour%, %minute% and %second% the time (two digits
//     but the year). Nothing else is substituted here: %date:…% and
//     %NodeTitle.widget% are the frontend's, which save nodes expand with
//     FormatPrefix first.
//  2. The prefix's folder is its part before the last '/', after cleaning
//     (prefix "a/b/../c" is folder "a", file name "c"); the folder is
//     created if missing. A folder outside root fails with ComfyUI's
//     message (wrapping ErrOutside).
//  3. Counter continues after the highest existing number.
//
// Deliberate differences from ComfyUI on POSIX: '\' in a prefix separates
// folders (as ComfyUI on Windows; on POSIX ComfyUI would write a file name
// containing '\', which no request could then name); a NUL or control
// character fails with ErrInvalidName instead of an OS error; a prefix that
// ends in '/' counts like the same prefix without it (ComfyUI then always
// restarts at 1 and overwrites earlier files).
//
// Save nodes of one prompt run one after another, so the counter needs no
// lock; two processes saving into one folder could pick the same number.
// The names the folder's OnList hook gives (files other instances wrote to
// a shared bucket) count too.
func SaveImagePath(root *os.Root, prefix string, width, height int, now time.Time) (SavePath, error) {
	if strings.Contains(prefix, "%") {
		prefix = substitute(prefix, width, height, now)
	}
	sub, name, err := splitPrefix(root.Name(), prefix)
	if err != nil {
		return SavePath{}, err
	}
	counter, err := nextCounter(root, sub, name)
	if err != nil {
		return SavePath{}, err
	}
	return SavePath{Subfolder: sub, Filename: name, Counter: counter, Prefix: prefix}, nil
}

// substitute replaces the server-side tokens one after another, as
// ComfyUI's compute_vars does.
func substitute(prefix string, width, height int, now time.Time) string {
	two := func(v int) string { return fmt.Sprintf("%02d", v) }
	for _, r := range [][2]string{
		{"%width%", strconv.Itoa(width)},
		{"%height%", strconv.Itoa(height)},
		{"%year%", strconv.Itoa(now.Year())},
		{"%month%", two(int(now.Month()))},
		{"%day%", two(now.Day())},
		{"%hour%", two(now.Hour())},
		{"%minute%", two(now.Minute())},
		{"%second%", two(now.Second())},
	} {
		prefix = strings.ReplaceAll(prefix, r[0], r[1])
	}
	return prefix
}

// splitPrefix cleans a substituted prefix into its folder (relative to the
// root at dir) and file name, refusing folders outside the root.
func splitPrefix(dir, prefix string) (sub, name string, err error) {
	if reason := badPrefixChar(prefix); reason != "" {
		return "", "", &nameError{"filename_prefix", prefix, reason}
	}
	// Python's normpath, then dirname and basename.
	clean := path.Clean(strings.ReplaceAll(prefix, `\`, "/"))
	if i := strings.LastIndexByte(clean, '/'); i >= 0 {
		sub, name = clean[:i], clean[i+1:]
		if i == 0 {
			sub = "/"
		}
	} else {
		name = clean
	}
	if sub != "" && (path.IsAbs(sub) || sub == ".." || strings.HasPrefix(sub, "../")) {
		full := pyJoin(dir, filepath.FromSlash(sub))
		common := commonPath(dir, full)
		return "", "", &outsideError{"**** ERROR: Saving image outside the output folder is not allowed." +
			"\n full_output_folder: " + full +
			"\n         output_dir: " + dir +
			"\n         commonpath: " + common}
	}
	return sub, name, nil
}

// badPrefixChar reports a character that no saved file name may hold.
func badPrefixChar(prefix string) string {
	for _, r := range prefix {
		if r < 0x20 || r == 0x7f {
			return "control character"
		}
	}
	return ""
}

// outsideError carries ComfyUI's exact message (nodes report it as the
// exception message) and unwraps to ErrOutside.
type outsideError struct{ msg string }

func (e *outsideError) Error() string { return e.msg }
func (e *outsideError) Unwrap() error { return ErrOutside }

// nextCounter scans sub, and OnList's names, for files named name + "_" +
// number and returns the highest number plus one, creating sub when it is
// missing.
func nextCounter(root *os.Root, sub, name string) (int, error) {
	dir := sub
	if dir == "" {
		dir = "."
	}
	names := sharedNames(root, sub, name+"_")
	d, err := root.Open(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		err = root.MkdirAll(dir, 0o777)
	case err == nil:
		var local []string
		local, err = d.Readdirnames(-1)
		d.Close()
		names = append(names, local...)
	}
	if err != nil {
		return 0, err
	}
	found, max := false, 0
	for _, n := range names {
		rest, ok := strings.CutPrefix(n, name+"_")
		if !ok {
			continue
		}
		// The number ends at the first '.' or '_'; anything else counts 0.
		if i := strings.IndexAny(rest, "._"); i >= 0 {
			rest = rest[:i]
		}
		v, err := strconv.Atoi(strings.TrimSpace(rest))
		if err != nil {
			v = 0
		}
		if !found || v > max {
			found, max = true, v
		}
	}
	if !found {
		return 1, nil
	}
	return max + 1, nil
}
