package userdata

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/gocomfy/gocomfy/internal/files"
)

// testEnv is a Manager over fresh folders under dir, with a folder
// "outside" beside the base directory holding a secret no operation may
// reach.
type testEnv struct {
	m       *Manager
	dir     string // holds base/ and outside/
	base    string
	userDir string
	outside string
}

// newEnv opens folders under a temporary directory. users.json, when not
// empty, is written before the Manager starts.
func newEnv(t testing.TB, multiUser bool, usersJSON string) *testEnv {
	t.Helper()
	dir := t.TempDir()
	e := &testEnv{dir: dir, base: filepath.Join(dir, "base"), outside: filepath.Join(dir, "outside")}
	e.userDir = filepath.Join(e.base, "user")
	mkdir(t, e.outside)
	writeFile(t, filepath.Join(e.outside, "secret.txt"), "secret")
	if usersJSON != "" {
		mkdir(t, e.userDir)
		writeFile(t, filepath.Join(e.userDir, usersFile), usersJSON)
	}
	folders, err := files.Open(files.Config{BaseDir: e.base})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { folders.Close() })
	e.m, err = New(Config{Folders: folders, MultiUser: multiUser, Logger: discardLogger})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

var discardLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// user returns the user named by a comfy-user header.
func (e *testEnv) user(t testing.TB, id string) User {
	t.Helper()
	u, err := e.m.User(id, true)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// path is a path under the user folder.
func (e *testEnv) path(elem ...string) string {
	return filepath.Join(append([]string{e.userDir}, elem...)...)
}

func mkdir(t testing.TB, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o777); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t testing.TB, name, content string) {
	t.Helper()
	mkdir(t, filepath.Dir(name))
	if err := os.WriteFile(name, []byte(content), 0o666); err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func symlink(t testing.TB, target, name string) {
	t.Helper()
	mkdir(t, filepath.Dir(name))
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
}
