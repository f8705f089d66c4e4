package userdata

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gocomfy/gocomfy/internal/files"
)

func TestRecentFiles(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, "")
	out := filepath.Join(e.base, "output")
	now := time.Now()
	for i, name := range []string{"old.png", "b.png", "a.png", "new.png", ".hidden.png"} {
		p := filepath.Join(out, name)
		writeFile(t, p, "x")
		mtime := now.Add(time.Duration(i) * time.Minute)
		if name == "a.png" {
			mtime = now.Add(time.Minute) // the same time as b.png: by name
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	mkdir(t, filepath.Join(out, "sub"))
	symlink(t, "new.png", filepath.Join(out, "link.png"))
	symlink(t, e.outside+"/secret.txt", filepath.Join(out, "out.png"))
	got, err := RecentFiles(e.m.cfg.Folders, "output")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"link.png", "new.png", "a.png", "b.png", "old.png"}; !slices.Equal(got, want) {
		t.Errorf("RecentFiles(output) = %q; want %q", got, want)
	}
	if got, err := RecentFiles(e.m.cfg.Folders, "input"); err != nil || len(got) != 0 {
		t.Errorf("RecentFiles(input) = %q, %v", got, err)
	}
	for _, typ := range []string{"user", "models", "", "../output"} {
		if _, err := RecentFiles(e.m.cfg.Folders, typ); !errors.Is(err, files.ErrUnknownType) {
			t.Errorf("RecentFiles(%q) = %v; want ErrUnknownType", typ, err)
		}
	}
}

func TestModelFolders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, "")
	folders := ModelFolders(e.m.cfg.Folders)
	if len(folders) == 0 || folders[0].Key != "checkpoints" {
		t.Fatalf("ModelFolders() = %v", folders)
	}
	dirs := folders[0].Value.([]string)
	if len(dirs) == 0 || dirs[0] != filepath.Join(e.base, "models", "checkpoints") {
		t.Errorf("checkpoints = %q", dirs)
	}
	if _, ok := folders.Get("custom_nodes"); !ok {
		t.Error("no custom_nodes folder")
	}
}
