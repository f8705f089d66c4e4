// Package userdata keeps what ComfyUI's web frontend stores on the server
// (app/user_manager.py, app/app_settings.py): the user registry, each
// user's files (workflows, templates, anything the frontend saves under
// /userdata) and settings (comfy.settings.json), and what the frontend's
// /internal routes read back: the latest log lines (Logs) and listings of
// the working and model folders (RecentFiles, ModelFolders).
//
// # Users
//
// users.json in the user folder maps user ids to display names, in
// ComfyUI's format: {"Alice-Smith_<uuid4>": "Alice Smith"}. Without
// multi-user mode every request acts for the user "default". In multi-user
// mode a request names its user (the comfy-user header, "default" when it
// is absent) and the user must be registered. Ids beginning with "__" are
// system users: no request can act for one and no display name can create
// one.
//
// # Paths
//
// Each user's files live in a folder of the user folder named by the id.
// Every name that comes from a request goes through files.CleanName (no
// "..", absolute path, drive letter, backslash, NUL or control character)
// and is then opened through an os.Root on that user's own folder, so
// neither a name nor a symbolic link can reach a file outside it, including
// another user's files. Refusals are ErrPathRefused.
//
// # Differences from ComfyUI
//
// Deliberate, for safety:
//   - Names are refused rather than normalised ("a/../b" is refused).
//   - Reads never create folders (ComfyUI creates the parent folder of
//     whatever a request names, even to read it).
//   - Writes with overwrite off and moves check for an existing target and
//     write under one lock, so of two concurrent ones only one succeeds.
//     Settings are updated under the same lock and written atomically, so
//     concurrent updates do not lose each other.
//   - users.json is read in single-user mode too, so that POST /users there
//     adds to it instead of replacing it with {"default": "default", …}.
//   - A user id in users.json that is not one plain folder name ("../x",
//     "a/b") is never a known user.
//   - Listings do not descend into symbolic links to folders (GET /userdata
//     recursion in ComfyUI does, and loops on a link to a parent).
package userdata

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"unicode"

	"github.com/google/uuid"

	"github.com/gocomfy/gocomfy/internal/files"
	"github.com/gocomfy/gocomfy/pyjson"
)

// DefaultUser is the user of every request without multi-user mode.
const DefaultUser = "default"

// SystemPrefix begins the ids of system users, which no request reaches.
const SystemPrefix = "__"

// usersFile is the registry, in the user folder.
const usersFile = "users.json"

// Errors; the HTTP layer maps them with errors.Is.
var (
	// ErrUnknownUser: the request names no registered user, or a system
	// user.
	ErrUnknownUser = errors.New("unknown user")
	// ErrPathRefused: a name from a request that could lead outside the
	// user's folder, or a symbolic link that does.
	ErrPathRefused = errors.New("path refused")
	// ErrExists: the target exists and overwriting was not allowed.
	ErrExists = errors.New("file already exists")
	// ErrNotFile: the name is a folder (or another non-regular file) where
	// a file is needed.
	ErrNotFile = errors.New("not a regular file")
	// ErrNotDir: the name is a file where a folder is needed.
	ErrNotDir = errors.New("not a directory")

	// ErrNoUsername: POST /users with a blank display name.
	ErrNoUsername = errors.New("username not provided")
	// ErrDuplicateUsername: the display name is already registered.
	ErrDuplicateUsername = errors.New("duplicate username")
	// ErrSystemUsername: the display name, or the id made from it, begins
	// with SystemPrefix.
	ErrSystemUsername = errors.New("system user prefix not allowed")
)

// Config configures a Manager.
type Config struct {
	// Folders are the server's folders: users.json and each user's folder
	// are in the user folder. Required.
	Folders *files.Folders
	// MultiUser is --multi-user.
	MultiUser bool
	// Logs keeps the latest log lines; nil keeps none.
	Logs *Logs
	// Logger reports corrupt settings files; nil is slog.Default().
	Logger *slog.Logger
}

// Manager is the users' registry and the way to their files. Safe for
// concurrent use.
type Manager struct {
	cfg  Config
	root *os.Root // the user folder

	// usersMu guards the registry and users.json.
	usersMu sync.Mutex
	users   pyjson.Object // id → display name (string), in users.json's order
	// usersErr is why users.json could not be read. Multi-user mode cannot
	// start without it; single-user mode only refuses to rewrite it.
	usersErr error

	// writeMu serialises every change to the users' folders, so that a
	// check for an existing file and the write that follows are one step.
	writeMu sync.Mutex
}

// New reads users.json and returns a Manager over cfg.Folders' user folder.
// In multi-user mode a users.json that cannot be read is an error.
func New(cfg Config) (*Manager, error) {
	if cfg.Folders == nil || cfg.Folders.Root(files.User) == nil {
		return nil, errors.New("userdata: no user folder")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m := &Manager{cfg: cfg, root: cfg.Folders.Root(files.User)}
	m.users, m.usersErr = m.loadUsers()
	if m.usersErr != nil && cfg.MultiUser {
		return nil, m.usersErr
	}
	return m, nil
}

// loadUsers reads users.json; a missing file is an empty registry.
func (m *Manager) loadUsers() (pyjson.Object, error) {
	data, err := m.root.ReadFile(usersFile)
	if errors.Is(err, fs.ErrNotExist) {
		return pyjson.Object{}, nil
	}
	if err != nil {
		return nil, err
	}
	raw, err := pyjson.DecodeObject(data)
	if err != nil {
		return nil, fmt.Errorf("userdata: %s: %w", usersFile, err)
	}
	users := make(pyjson.Object, 0, len(raw))
	for _, f := range raw {
		var name string
		if err := json.Unmarshal(f.Value.(json.RawMessage), &name); err != nil {
			return nil, fmt.Errorf("userdata: %s: the name of user %q is not a string", usersFile, f.Key)
		}
		users = append(users, pyjson.Field{Key: f.Key, Value: name})
	}
	return users, nil
}

// MultiUser reports whether requests name their user.
func (m *Manager) MultiUser() bool { return m.cfg.MultiUser }

// Logs returns the log lines kept for the frontend (nil when none are).
func (m *Manager) Logs() *Logs { return m.cfg.Logs }

// Users returns the registry, id → display name, in users.json's order
// (GET /users in multi-user mode).
func (m *Manager) Users() pyjson.Object {
	m.usersMu.Lock()
	defer m.usersMu.Unlock()
	return append(pyjson.Object{}, m.users...)
}

// Migrated reports whether the default user's folder exists (GET /users
// in single-user mode: the frontend once used it to move settings out of
// the browser's storage).
func (m *Manager) Migrated() bool {
	_, err := m.root.Stat(DefaultUser)
	return err == nil
}

// User returns the user a request acts for: DefaultUser without
// multi-user mode; otherwise header (the comfy-user header's value) when
// sent is true, else DefaultUser, which must then be a registered user
// other than a system user (ErrUnknownUser).
func (m *Manager) User(header string, sent bool) (User, error) {
	id := DefaultUser
	if m.cfg.MultiUser {
		if sent {
			id = header
		}
		if !m.registered(id) {
			return User{}, fmt.Errorf("%w: %q", ErrUnknownUser, id)
		}
	}
	return User{m: m, id: id}, nil
}

// registered reports whether id is a user a request may act for.
func (m *Manager) registered(id string) bool {
	if strings.HasPrefix(id, SystemPrefix) || !isFolderName(id) {
		return false
	}
	m.usersMu.Lock()
	defer m.usersMu.Unlock()
	_, ok := m.users.Get(id)
	return ok
}

// isFolderName reports whether id names one folder directly inside the
// user folder. users.json may be edited by hand, and an id such as "../x"
// or "a/b" must lead nowhere.
func isFolderName(id string) bool {
	clean, err := files.CleanName(id)
	return err == nil && clean == id && !strings.Contains(id, "/")
}

// AddUser registers a display name (POST /users) and returns the new id:
// the trimmed name with every run of characters other than ASCII letters,
// digits, '-' and '_' replaced by '-', then '_' and a random UUID. The
// registry is saved to users.json before AddUser returns.
func (m *Manager) AddUser(name string) (string, error) {
	m.usersMu.Lock()
	defer m.usersMu.Unlock()
	if m.usersErr != nil {
		return "", m.usersErr
	}
	trimmed := strings.TrimFunc(name, isPythonSpace)
	// ComfyUI compares the name as sent; the trimmed name, which is what
	// it stores, is compared too so that " alice" does not add a second
	// "alice".
	if m.nameTaken(name) || m.nameTaken(trimmed) {
		return "", ErrDuplicateUsername
	}
	if trimmed == "" {
		return "", ErrNoUsername
	}
	id := sanitize(trimmed)
	if strings.HasPrefix(trimmed, SystemPrefix) || strings.HasPrefix(id, SystemPrefix) {
		return "", ErrSystemUsername
	}
	id += "_" + uuid.NewString()
	users := append(append(pyjson.Object{}, m.users...), pyjson.Field{Key: id, Value: trimmed})
	err := files.WriteFile(m.root, usersFile, func(w io.Writer) error {
		data, err := pyjson.Marshal(users)
		if err == nil {
			_, err = w.Write(data)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	m.users = users
	return id, nil
}

// nameTaken reports whether a user has this display name. Without
// multi-user mode ComfyUI's registry holds {"default": "default"}, so that
// name is taken too.
func (m *Manager) nameTaken(name string) bool {
	if !m.cfg.MultiUser && name == DefaultUser {
		return true
	}
	for _, f := range m.users {
		if f.Value == name {
			return true
		}
	}
	return false
}

// sanitize replaces every run of characters outside [a-zA-Z0-9_-] by '-'.
func sanitize(name string) string {
	var b strings.Builder
	inRun := false
	for _, r := range name {
		if r < 0x80 && (r == '-' || r == '_' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') {
			b.WriteRune(r)
			inRun = false
			continue
		}
		if !inRun {
			b.WriteByte('-')
		}
		inRun = true
	}
	return b.String()
}

// isPythonSpace is str.isspace for one character, which str.strip uses: Go's
// unicode.IsSpace plus the ASCII file, group, record and unit separators.
func isPythonSpace(r rune) bool {
	return 0x1c <= r && r <= 0x1f || unicode.IsSpace(r)
}
