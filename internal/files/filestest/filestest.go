// Package filestest helps tests of code that writes files prove what it
// left on disk.
package filestest

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// Snapshot records every path under dir with its content ("dir",
// "file:<content>" or "link:<target>"), so that a test can prove, by
// comparing two snapshots with maps.Equal, that it changed nothing there.
func Snapshot(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			out[p] = "link:" + target
			return err
		case d.IsDir():
			out[p] = "dir"
		default:
			data, err := os.ReadFile(p)
			out[p] = "file:" + string(data)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
