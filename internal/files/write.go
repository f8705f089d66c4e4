package files

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
)

// WriteFile writes name inside root atomically: write fills a temporary
// file in the same folder, which is synced and then renamed over name, so
// readers see the old file or the whole new one, never a part. Missing
// folders are created. name goes through CleanName; a name whose folders
// lead out of root through a symbolic link fails (see IsOutside).
//
// The temporary file is named ".<name>.<random>.tmp", an extension no
// listing of images or models matches, and is removed on failure. Once the
// file is in place, the folder's OnWrite hook, if any, gets name.
func WriteFile(root *os.Root, name string, write func(io.Writer) error) error {
	name, err := CleanName(name)
	if err != nil {
		return err
	}
	dir, base := path.Split(name)
	if dir != "" {
		if err := root.MkdirAll(dir, 0o777); err != nil {
			return err
		}
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	tmp := path.Join(dir, "."+base+"."+hex.EncodeToString(rnd[:])+".tmp")
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return err
	}
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(tmp, name)
	}
	if err != nil {
		root.Remove(tmp)
		return err
	}
	written(root, name)
	return nil
}

// An Upload is a file sent to POST /upload/image or /upload/mask.
type Upload struct {
	// Subfolder is the form's subfolder ("" for none) and Name the file
	// name as sent; both go through CleanName.
	Subfolder, Name string
	// Overwrite is the form's overwrite flag ("true" or "1").
	Overwrite bool
	// Content holds the Size uploaded bytes. Existing files are compared
	// with them to spot a repeated upload.
	Content io.ReaderAt
	Size    int64
}

// Store saves an upload into root under ComfyUI's naming rules and
// returns the stored name (relative to the subfolder, as the response's
// "name"):
//
//   - With Overwrite, the file is written under its own name.
//   - Otherwise, while the name is taken: when the existing file holds
//     exactly the uploaded bytes, nothing is written and that name is
//     returned (ComfyUI compares hashes of the two; comparing bytes gives
//     the same answer); else the next candidate is tried, "cat (1).png",
//     "cat (2).png", … always built from the original stem.
//
// write produces the stored bytes; nil stores Content (/upload/mask passes
// its composite instead, while the duplicate check still compares the
// upload). The subfolder is created if missing and the write is atomic
// (WriteFile). A new name is claimed with an exclusive create first, so
// two concurrent uploads of the same name cannot overwrite each other.
func (u Upload) Store(root *os.Root, write func(io.Writer) error) (string, error) {
	sub, err := cleanName("subfolder", u.Subfolder, true)
	if err != nil {
		return "", err
	}
	name, err := cleanName("filename", u.Name, false)
	if err != nil {
		return "", err
	}
	if write == nil {
		write = func(w io.Writer) error {
			_, err := io.Copy(w, io.NewSectionReader(u.Content, 0, u.Size))
			return err
		}
	}
	if dir := path.Dir(path.Join(sub, name)); dir != "." {
		if err := root.MkdirAll(dir, 0o777); err != nil {
			return "", err
		}
	}
	if u.Overwrite {
		if err := WriteFile(root, path.Join(sub, name), write); err != nil {
			return "", err
		}
		return name, nil
	}
	stem, ext := SplitExt(name)
	for i := 1; ; i++ {
		target := path.Join(sub, name)
		f, err := root.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
		if err == nil {
			f.Close()
			if err := WriteFile(root, target, write); err != nil {
				root.Remove(target)
				return "", err
			}
			return name, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", err
		}
		same, err := u.sameAs(root, target)
		if err != nil {
			return "", err
		}
		if same {
			return name, nil
		}
		name = fmt.Sprintf("%s (%d)%s", stem, i, ext)
	}
}

// sameAs reports whether the regular file name in root holds exactly the
// uploaded bytes.
func (u Upload) sameAs(root *os.Root, name string) (bool, error) {
	f, err := root.Open(name)
	if err != nil {
		return false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != u.Size {
		return false, err
	}
	const chunk = 64 << 10
	a, b := make([]byte, chunk), make([]byte, chunk)
	upload := io.NewSectionReader(u.Content, 0, u.Size)
	for {
		n, err := io.ReadFull(f, a)
		if _, uerr := io.ReadFull(upload, b[:n]); uerr != nil {
			// EOF: the file grew since Stat, so it differs.
			if uerr == io.EOF || uerr == io.ErrUnexpectedEOF {
				uerr = nil
			}
			return false, uerr
		}
		if !bytes.Equal(a[:n], b[:n]) {
			return false, nil
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
}
