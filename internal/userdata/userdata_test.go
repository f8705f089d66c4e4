package userdata

import (
	"errors"
	"regexp"
	"testing"

	"github.com/gocomfy/gocomfy/internal/files"
	"github.com/gocomfy/gocomfy/pyjson"
)

func TestSanitize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"alice", "alice"},
		{"Alice Smith", "Alice-Smith"},
		{"a-b_c9", "a-b_c9"},
		{"Alice Smith:;=[\\]^\u00e9_x-y", "Alice-Smith-_x-y"}, // as Python's re.sub
		{"\u65e5\u672c", "-"},
		{"a  b", "a-b"},
		{"../x", "-x"},
	} {
		if got := sanitize(tc.in); got != tc.want {
			t.Errorf("sanitize(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

var uuidSuffix = `_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`

func TestAddUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, `{"bob_1": "bob"}`)
	for _, tc := range []struct {
		name   string
		wantID string // a pattern without the UUID suffix
		err    error
	}{
		{name: "Alice Smith", wantID: `^Alice-Smith`},
		{name: "  Carol\t", wantID: `^Carol`},
		{name: "bob", err: ErrDuplicateUsername},
		{name: " bob ", err: ErrDuplicateUsername}, // ComfyUI would add a second "bob"
		{name: "Alice Smith", err: ErrDuplicateUsername},
		{name: "", err: ErrNoUsername},
		{name: " \t\x1f", err: ErrNoUsername},
		{name: "__system", err: ErrSystemUsername},
		{name: "  __x", err: ErrSystemUsername},
		{name: "default", wantID: `^default`}, // a name like any other in multi-user mode
	} {
		id, err := e.m.AddUser(tc.name)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("AddUser(%q) = %q, %v; want %v", tc.name, id, err, tc.err)
			}
			continue
		}
		if err != nil || !regexp.MustCompile(tc.wantID+uuidSuffix).MatchString(id) {
			t.Errorf("AddUser(%q) = %q, %v; want an id matching %s", tc.name, id, err, tc.wantID)
			continue
		}
		if _, err := e.m.User(id, true); err != nil {
			t.Errorf("User(%q) after AddUser: %v", id, err)
		}
	}
	// users.json is ComfyUI's format, in registration order, and a new
	// Manager reads it back.
	users := e.m.Users()
	want := []string{"bob", "Alice Smith", "Carol", "default"}
	if len(users) != len(want) {
		t.Fatalf("Users() = %v; want names %v", users, want)
	}
	for i, f := range users {
		if f.Value != want[i] {
			t.Errorf("user %d = %v; want %q", i, f, want[i])
		}
	}
	data, err := pyjson.Marshal(users)
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, e.path(usersFile)); got != string(data) {
		t.Errorf("users.json = %s; want %s", got, data)
	}
	again, err := New(Config{Folders: e.m.cfg.Folders, MultiUser: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := pyjson.Marshal(again.Users()); string(got) != string(data) {
		t.Errorf("reloaded users = %s; want %s", got, data)
	}
}

func TestAddUserSingleUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, `{"bob_1": "bob"}`)
	if _, err := e.m.AddUser("default"); !errors.Is(err, ErrDuplicateUsername) {
		t.Errorf("AddUser(default) = %v; want ErrDuplicateUsername (ComfyUI's registry holds default)", err)
	}
	id, err := e.m.AddUser("alice")
	if err != nil {
		t.Fatal(err)
	}
	// The existing registration is kept, and "default" is not written.
	want := `{"bob_1": "bob", "` + id + `": "alice"}`
	if got := readFile(t, e.path(usersFile)); got != want {
		t.Errorf("users.json = %s; want %s", got, want)
	}
	// Requests still act for the default user whatever they send.
	if u, err := e.m.User(id, true); err != nil || u.ID() != DefaultUser {
		t.Errorf("User(%q) = %q, %v; want default", id, u.ID(), err)
	}
}

func TestCorruptUsersFile(t *testing.T) {
	t.Parallel()
	for _, content := range []string{`{"a": `, `["a"]`, `{"a": 1}`} {
		e := newEnv(t, false, content)
		if _, err := e.m.AddUser("alice"); err == nil {
			t.Errorf("%s: AddUser succeeded; want the read error", content)
		}
		if got := readFile(t, e.path(usersFile)); got != content {
			t.Errorf("%s: users.json rewritten to %s", content, got)
		}
		if _, err := New(Config{Folders: e.m.cfg.Folders, MultiUser: true}); err == nil {
			t.Errorf("%s: multi-user New succeeded", content)
		}
	}
}

func TestNewWithoutFolders(t *testing.T) {
	t.Parallel()
	if _, err := New(Config{}); err == nil {
		t.Error("New without folders succeeded")
	}
	if _, err := New(Config{Folders: &files.Folders{}}); err == nil {
		t.Error("New without a user folder succeeded")
	}
}

func TestUserResolution(t *testing.T) {
	t.Parallel()
	users := `{"alice_1": "alice", "__system": "system", "../x": "x", "a/b": "ab", ".": "dot", "": "empty"}`
	multi := newEnv(t, true, users)
	single := newEnv(t, false, users)
	for _, tc := range []struct {
		env    *testEnv
		header string
		sent   bool
		want   string // "" for ErrUnknownUser
	}{
		{single, "", false, DefaultUser},
		{single, "alice_1", true, DefaultUser},
		{single, "__system", true, DefaultUser},
		{multi, "alice_1", true, "alice_1"},
		{multi, "", false, ""}, // "default" is not registered
		{multi, "", true, ""},  // what the frontend sends before a login
		{multi, "bob", true, ""},
		{multi, "ALICE_1", true, ""},
		{multi, "__system", true, ""},
		{multi, "../x", true, ""},
		{multi, "a/b", true, ""},
		{multi, ".", true, ""},
	} {
		u, err := tc.env.m.User(tc.header, tc.sent)
		switch {
		case tc.want == "" && !errors.Is(err, ErrUnknownUser):
			t.Errorf("multi=%v User(%q, %v) = %q, %v; want ErrUnknownUser", tc.env.m.MultiUser(), tc.header, tc.sent, u.ID(), err)
		case tc.want != "" && (err != nil || u.ID() != tc.want):
			t.Errorf("multi=%v User(%q, %v) = %q, %v; want %q", tc.env.m.MultiUser(), tc.header, tc.sent, u.ID(), err, tc.want)
		}
	}
	withDefault := newEnv(t, true, `{"default": "default"}`)
	if u, err := withDefault.m.User("", false); err != nil || u.ID() != DefaultUser {
		t.Errorf("registered default without a header = %q, %v", u.ID(), err)
	}
}

func TestMigrated(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, "")
	if e.m.Migrated() {
		t.Error("Migrated before the default folder exists")
	}
	if _, err := e.user(t, "").Write("x.json", nil, true); err != nil {
		t.Fatal(err)
	}
	if !e.m.Migrated() {
		t.Error("not Migrated after a write")
	}
}
