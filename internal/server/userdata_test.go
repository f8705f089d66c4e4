package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gocomfy/gocomfy/internal/event"
	"github.com/gocomfy/gocomfy/internal/files"
	"github.com/gocomfy/gocomfy/internal/userdata"
)

// userdataServer is a Server with folders under a temporary directory and
// a user data Manager; users.json is written first when not empty.
type userdataServer struct {
	t       *testing.T
	h       http.Handler
	m       *userdata.Manager
	hub     *event.Hub
	logs    *userdata.Logs
	dir     string // holds base/ and outside/
	userDir string
}

func newUserdataServer(t *testing.T, multiUser bool, usersJSON string) *userdataServer {
	t.Helper()
	dir := t.TempDir()
	base := filepath.Join(dir, "base")
	userDir := filepath.Join(base, "user")
	for _, d := range []string{userDir, filepath.Join(dir, "outside")} {
		if err := os.MkdirAll(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "outside", "secret.txt"), []byte("secret"), 0o666); err != nil {
		t.Fatal(err)
	}
	if usersJSON != "" {
		if err := os.WriteFile(filepath.Join(userDir, "users.json"), []byte(usersJSON), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	folders, err := files.Open(files.Config{BaseDir: base})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { folders.Close() })
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	logs := userdata.NewLogs(userdata.DefaultLogLines)
	m, err := userdata.New(userdata.Config{Folders: folders, MultiUser: multiUser, Logs: logs, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	hub := event.NewHub()
	s := New(Config{Folders: folders, UserData: m, Hub: hub, Logger: logger, MaxUploadSize: 1 << 20})
	return &userdataServer{t: t, h: s.Handler(), m: m, hub: hub, logs: logs, dir: dir, userDir: userDir}
}

// do sends a request with an optional comfy-user header ("-" sends none).
func (s *userdataServer) do(method, target, user, body string) *httptest.ResponseRecorder {
	s.t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if user != "-" {
		r.Header.Set("Comfy-User", user)
	}
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, r)
	return w
}

// expect checks a response's status, Content-Type and body.
func expect(t *testing.T, w *httptest.ResponseRecorder, status int, contentType, body string) {
	t.Helper()
	if w.Code != status || w.Header().Get("Content-Type") != contentType || w.Body.String() != body {
		t.Errorf("got %d %q %q; want %d %q %q", w.Code, w.Header().Get("Content-Type"), w.Body.String(),
			status, contentType, body)
	}
}

const (
	jsonType  = "application/json; charset=utf-8"
	textType  = "text/plain; charset=utf-8"
	emptyType = "application/octet-stream"
)

func TestUserdataFiles(t *testing.T) {
	t.Parallel()
	s := newUserdataServer(t, false, "")
	// Written through /api, as the frontend does; %2F is a folder.
	expect(t, s.do("POST", "/api/userdata/workflows%2Fa%20b.json?overwrite=true&full_info=false", "", `{"n": 1}`),
		200, jsonType, `"workflows/a b.json"`)
	expect(t, s.do("POST", "/userdata/workflows%2Fa%20b.json?overwrite=false", "", "x"),
		409, textType, "File already exists")
	// Only "false" turns overwriting off.
	expect(t, s.do("POST", "/userdata/workflows%2Fa%20b.json?overwrite=False", "", `{"n": 2}`),
		200, jsonType, `"workflows/a b.json"`)

	w := s.do("GET", "/api/userdata/workflows%2Fa%20b.json", "", "")
	expect(t, w, 200, "application/json", `{"n": 2}`)
	for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "Content-Disposition": "attachment",
		"Content-Security-Policy": "sandbox"} {
		if got := w.Header().Get(k); got != v {
			t.Errorf("%s = %q; want %q", k, got, v)
		}
	}
	if w := s.do("HEAD", "/userdata/workflows%2Fa%20b.json", "", ""); w.Code != 200 || w.Body.Len() != 0 {
		t.Errorf("HEAD = %d %q", w.Code, w.Body.String())
	}

	// %252F is a literal "%2F" in the name: decoded exactly once.
	expect(t, s.do("POST", "/userdata/a%252Fb.json", "", "lit"), 200, jsonType, `"a%2Fb.json"`)
	if data, err := os.ReadFile(filepath.Join(s.userDir, "default", "a%2Fb.json")); err != nil || string(data) != "lit" {
		t.Errorf("a%%2Fb.json: %q, %v", data, err)
	}
	expect(t, s.do("GET", "/userdata/a%252Fb.json", "", ""), 200, "application/json", "lit")

	// Active content is never served as what it is.
	for _, name := range []string{"x.html", "x.svg", "x.js", "x.xhtml", "x.xml", "noext"} {
		s.do("POST", "/userdata/"+name, "", "<script>alert(1)</script>")
		w := s.do("GET", "/userdata/"+name, "", "")
		if w.Code != 200 || w.Header().Get("Content-Type") != "application/octet-stream" ||
			w.Header().Get("Content-Disposition") != "attachment" || w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: %d %v", name, w.Code, w.Header())
		}
	}

	w = s.do("POST", "/userdata/sub%2Fc.json?full_info=TRUE", "", "12345")
	var info map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &info); err != nil || w.Code != 200 {
		t.Fatalf("full_info POST: %d %s", w.Code, w.Body)
	}
	if info["path"] != "sub/c.json" || info["size"] != 5.0 || info["modified"].(float64) < 946684800000 ||
		info["created"].(float64) < 946684800000 {
		t.Errorf("full_info = %v", info)
	}
	if !regexp.MustCompile(`^\{"path": "sub/c.json", "size": 5, "modified": \d+, "created": \d+\}$`).Match(w.Body.Bytes()) {
		t.Errorf("full_info body %s", w.Body)
	}

	expect(t, s.do("GET", "/userdata/missing.json", "", ""), 404, emptyType, "")
	expect(t, s.do("GET", "/userdata/workflows", "", ""), 403, emptyType, "")
	expect(t, s.do("DELETE", "/userdata/missing.json", "", ""), 404, emptyType, "")
	expect(t, s.do("DELETE", "/userdata/workflows", "", ""), 403, emptyType, "")
	expect(t, s.do("DELETE", "/api/userdata/sub%2Fc.json", "", ""), 204, emptyType, "")
	expect(t, s.do("GET", "/userdata/sub%2Fc.json", "", ""), 404, emptyType, "")
	// A folder where the file should go: ComfyUI's 400.
	expect(t, s.do("POST", "/userdata/workflows", "", "x"), 400, textType,
		`Invalid filename. Please avoid special characters like :\/*?"<>|`)
	// Bodies over the upload limit.
	if w := s.do("POST", "/userdata/big.json", "", strings.Repeat("x", 2<<20)); w.Code != 413 {
		t.Errorf("big body: %d %s", w.Code, w.Body)
	}
}

func TestUserdataMove(t *testing.T) {
	t.Parallel()
	s := newUserdataServer(t, false, "")
	s.do("POST", "/userdata/workflows%2Fa.json", "", "a")
	s.do("POST", "/userdata/workflows%2Fb.json", "", "b")
	expect(t, s.do("POST", "/api/userdata/workflows%2Fa.json/move/workflows%2Fb.json?overwrite=false", "", ""),
		409, textType, "File already exists")
	expect(t, s.do("POST", "/userdata/workflows%2Fmissing.json/move/x.json", "", ""), 404, emptyType, "")
	expect(t, s.do("POST", "/userdata/workflows%2Fa.json/move/..%2Fx.json", "", ""), 403, emptyType, "")
	expect(t, s.do("POST", "/userdata/workflows%2Fa.json/move/archive%2F2026%2Fa.json", "", ""),
		200, jsonType, `"archive/2026/a.json"`)
	expect(t, s.do("GET", "/userdata/archive%2F2026%2Fa.json", "", ""), 200, "application/json", "a")
	w := s.do("POST", "/userdata/archive%2F2026%2Fa.json/move/workflows%2Fb.json?full_info=true", "", "")
	if w.Code != 200 || !strings.HasPrefix(w.Body.String(), `{"path": "workflows/b.json", "size": 1, `) {
		t.Errorf("overwriting move: %d %s", w.Code, w.Body)
	}
	expect(t, s.do("GET", "/userdata/workflows%2Fb.json", "", ""), 200, "application/json", "a")
}

func TestUserdataList(t *testing.T) {
	t.Parallel()
	s := newUserdataServer(t, false, "")
	for _, name := range []string{"workflows/b.json", "workflows/a.json", "workflows/.hidden", "workflows/sub/c.json", "top.json"} {
		s.do("POST", "/userdata/"+url.PathEscape(name), "", "12")
	}
	expect(t, s.do("GET", "/userdata", "", ""), 400, textType, "Directory not provided")
	expect(t, s.do("GET", "/userdata?dir=", "", ""), 400, textType, "Directory not provided")
	expect(t, s.do("GET", "/userdata?dir=..%2Fx", "", ""), 403, textType, "Invalid directory")
	expect(t, s.do("GET", "/userdata?dir=nope", "", ""), 404, textType, "Directory not found")
	expect(t, s.do("GET", "/api/userdata?dir=workflows", "", ""), 200, jsonType, `["a.json", "b.json"]`)
	expect(t, s.do("GET", "/userdata?dir=workflows&recurse=true", "", ""), 200, jsonType,
		`["a.json", "b.json", "sub/c.json"]`)
	expect(t, s.do("GET", "/userdata?dir=workflows&recurse=true&split=true", "", ""), 200, jsonType,
		`[["a.json", "a.json"], ["b.json", "b.json"], ["sub/c.json", "sub", "c.json"]]`)
	// A name with '%' is decoded once more, as ComfyUI does.
	expect(t, s.do("GET", "/userdata?dir=workflows%252Fsub", "", ""), 200, jsonType, `["c.json"]`)
	w := s.do("GET", "/userdata?dir=workflows&recurse=true&split=false&full_info=true", "", "")
	var infos []map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &infos); err != nil || len(infos) != 3 {
		t.Fatalf("full_info listing: %s", w.Body)
	}
	if infos[2]["path"] != "sub/c.json" || infos[2]["size"] != 2.0 || infos[2]["modified"].(float64) < 946684800000 {
		t.Errorf("full_info entry %v", infos[2])
	}
	expect(t, s.do("GET", "/userdata?dir=top.json", "", ""), 200, jsonType, `[]`)
}

func TestUserdataListV2(t *testing.T) {
	t.Parallel()
	s := newUserdataServer(t, false, "")
	expect(t, s.do("GET", "/api/v2/userdata", "", ""), 200, jsonType, `[]`)
	expect(t, s.do("GET", "/v2/userdata?path=does_not_exist", "", ""), 404, textType, "Requested path not found")
	s.do("POST", "/userdata/my%20dir%2Ffile.txt", "", "12345")
	s.do("POST", "/userdata/my%20dir%2Fsub%2F.h", "", "1")
	w := s.do("GET", "/v2/userdata?path=my%20dir", "", "")
	re := `^\[\{"name": "sub", "path": "my dir/sub", "type": "directory"\}, ` +
		`\{"name": ".h", "path": "my dir/sub/.h", "type": "file", "size": 1, "modified": \d+\.\d+\}, ` +
		`\{"name": "file.txt", "path": "my dir/file.txt", "type": "file", "size": 5, "modified": \d+\.\d+\}\]$`
	if w.Code != 200 || !regexp.MustCompile(re).Match(w.Body.Bytes()) {
		t.Errorf("v2 listing: %d %s", w.Code, w.Body)
	}
	expect(t, s.do("GET", "/v2/userdata?path=..%2F..", "", ""), 400, textType, "Invalid path requested")
	expect(t, s.do("GET", "/v2/userdata?path=my%20dir%2Ffile.txt", "", ""), 400, textType, "Requested path is not a directory")
	// Decoded twice more: my%252520dir → my%2520dir → my%20dir → "my dir".
	if w := s.do("GET", "/v2/userdata?path=my%252520dir", "", ""); w.Code != 200 || !strings.Contains(w.Body.String(), "file.txt") {
		t.Errorf("double-decoded path: %d %s", w.Code, w.Body)
	}
}

func TestSettingsRoutes(t *testing.T) {
	t.Parallel()
	s := newUserdataServer(t, false, "")
	expect(t, s.do("GET", "/api/settings", "", ""), 200, jsonType, `{}`)
	expect(t, s.do("GET", "/settings/Comfy.X", "", ""), 200, jsonType, `null`)
	expect(t, s.do("POST", "/api/settings", "", `{"Comfy.ColorPalette": "dark", "n": 1}`), 200, emptyType, "")
	expect(t, s.do("POST", "/api/settings/Comfy.ColorPalette", "", `"light"`), 200, emptyType, "")
	expect(t, s.do("POST", "/settings/a%2Fb", "", `{"x": [1, 2.5]}`), 200, emptyType, "")
	expect(t, s.do("POST", "/settings", "", `{"n": 2}`), 200, emptyType, "")
	expect(t, s.do("GET", "/settings", "", ""), 200, jsonType,
		`{"Comfy.ColorPalette": "light", "n": 2, "a/b": {"x": [1, 2.5]}}`)
	expect(t, s.do("GET", "/api/settings/Comfy.ColorPalette", "", ""), 200, jsonType, `"light"`)
	expect(t, s.do("GET", "/settings/a%2Fb", "", ""), 200, jsonType, `{"x": [1, 2.5]}`)
	for _, body := range []string{`[1]`, `{"a": `, ``, `"x"`} {
		if w := s.do("POST", "/settings", "", body); w.Code != 400 {
			t.Errorf("POST /settings %q: %d %s", body, w.Code, w.Body)
		}
	}
	for _, body := range []string{`{"a": `, ``, `nope`} {
		if w := s.do("POST", "/settings/x", "", body); w.Code != 400 {
			t.Errorf("POST /settings/x %q: %d %s", body, w.Code, w.Body)
		}
	}
	data, err := os.ReadFile(filepath.Join(s.userDir, "default", "comfy.settings.json"))
	if err != nil || !strings.HasPrefix(string(data), "{\n    \"Comfy.ColorPalette\": \"light\",\n") {
		t.Errorf("settings file: %q, %v", data, err)
	}
}

func TestUsersSingleUser(t *testing.T) {
	t.Parallel()
	s := newUserdataServer(t, false, "")
	expect(t, s.do("GET", "/api/users", "", ""), 200, jsonType, `{"storage": "server", "migrated": false}`)
	s.do("POST", "/settings/a", "", "1")
	expect(t, s.do("GET", "/users", "", ""), 200, jsonType, `{"storage": "server", "migrated": true}`)
	// POST /users works without multi-user mode too.
	w := s.do("POST", "/users", "", `{"username": "alice"}`)
	if w.Code != 200 || !regexp.MustCompile(`^"alice_[0-9a-f-]{36}"$`).Match(w.Body.Bytes()) {
		t.Errorf("POST /users: %d %s", w.Code, w.Body)
	}
	expect(t, s.do("POST", "/users", "", `{"username": "default"}`), 400, jsonType, `{"error": "Duplicate username."}`)
}

func TestMultiUser(t *testing.T) {
	t.Parallel()
	s := newUserdataServer(t, true, `{"__system": "system"}`)
	for _, tc := range []struct{ body, want string }{
		{`{"username": ""}`, `{"error": "username not provided"}`},
		{`{"username": "   "}`, `{"error": "username not provided"}`},
		{`{"username": 5}`, `{"error": "username not provided"}`},
		{`{}`, `{"error": "username not provided"}`},
		{`{"username": "__admin"}`, `{"error": "System User prefix not allowed"}`},
		{`{"username": "system"}`, `{"error": "Duplicate username."}`},
	} {
		expect(t, s.do("POST", "/users", "-", tc.body), 400, jsonType, tc.want)
	}
	if w := s.do("POST", "/users", "-", `{"username": `); w.Code != 400 {
		t.Errorf("POST /users with bad JSON: %d", w.Code)
	}
	var alice, bob string
	for name, id := range map[string]*string{"Alice Smith": &alice, "bob": &bob} {
		w := s.do("POST", "/api/users", "-", fmt.Sprintf(`{"username": %q}`, name))
		if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), id) != nil {
			t.Fatalf("POST /users %s: %d %s", name, w.Code, w.Body)
		}
	}
	if !strings.HasPrefix(alice, "Alice-Smith_") {
		t.Errorf("alice's id %q", alice)
	}
	w := s.do("GET", "/users", "-", "")
	var users struct {
		Storage string            `json:"storage"`
		Users   map[string]string `json:"users"`
	}
	if json.Unmarshal(w.Body.Bytes(), &users) != nil || users.Storage != "server" || users.Users[alice] != "Alice Smith" ||
		users.Users[bob] != "bob" || len(users.Users) != 3 {
		t.Errorf("GET /users = %s", w.Body)
	}

	// Unknown users: no header, an empty one (the frontend before a login),
	// a made-up one, a system user.
	for _, user := range []string{"-", "", "nobody", "__system", "default"} {
		if w := s.do("GET", "/userdata/x.json", user, ""); w.Code != 403 {
			t.Errorf("user %q: GET /userdata/x.json = %d", user, w.Code)
		}
		if w := s.do("POST", "/userdata/x.json", user, "x"); w.Code != 403 {
			t.Errorf("user %q: POST /userdata/x.json = %d", user, w.Code)
		}
		if w := s.do("GET", "/userdata?dir=workflows", user, ""); w.Code != 403 {
			t.Errorf("user %q: GET /userdata?dir= = %d", user, w.Code)
		}
		expect(t, s.do("GET", "/v2/userdata", user, ""), 403, textType, "Invalid user specified in request")
		expect(t, s.do("GET", "/settings", user, ""), 401, textType, "401: Unauthorized")
		expect(t, s.do("POST", "/settings/a", user, "1"), 401, textType, "401: Unauthorized")
		// POST /prompt refuses the request before looking at the queue.
		if w := s.do("POST", "/prompt", user, `{"prompt": {}}`); w.Code != 403 {
			t.Errorf("user %q: POST /prompt = %d %s", user, w.Code, w.Body)
		}
	}
	if entries, _ := os.ReadDir(s.userDir); len(entries) != 1 {
		t.Errorf("the user folder holds %v; want users.json only", entries)
	}

	// Alice and Bob do not see each other's files or settings.
	expect(t, s.do("POST", "/userdata/workflows%2Fmine.json", alice, "alice's"), 200, jsonType, `"workflows/mine.json"`)
	expect(t, s.do("POST", "/settings/theme", alice, `"dark"`), 200, emptyType, "")
	expect(t, s.do("GET", "/userdata/workflows%2Fmine.json", alice, ""), 200, "application/json", "alice's")
	expect(t, s.do("GET", "/userdata/workflows%2Fmine.json", bob, ""), 404, emptyType, "")
	expect(t, s.do("DELETE", "/userdata/workflows%2Fmine.json", bob, ""), 404, emptyType, "")
	expect(t, s.do("GET", "/userdata?dir=workflows", bob, ""), 404, textType, "Directory not found")
	expect(t, s.do("GET", "/api/v2/userdata", bob, ""), 200, jsonType, `[]`)
	expect(t, s.do("GET", "/settings", bob, ""), 200, jsonType, `{}`)
	expect(t, s.do("GET", "/settings", alice, ""), 200, jsonType, `{"theme": "dark"}`)
	// Reaching Bob's folder by name is a traversal, refused.
	expect(t, s.do("GET", "/userdata/..%2F"+bob+"%2Fcomfy.settings.json", alice, ""), 403, emptyType, "")
	expect(t, s.do("GET", "/userdata/..%2F"+alice+"%2Fworkflows%2Fmine.json", bob, ""), 403, emptyType, "")
}

// TestUserdataTraversal sends the shared traversal corpus to every user
// data route, encoded as a client would (url.PathEscape, which leaves dots
// alone) and with every byte escaped: nothing is served or written, no
// request fails with a 5xx, and no file changes.
func TestUserdataTraversal(t *testing.T) {
	t.Parallel()
	s := newUserdataServer(t, false, "")
	s.do("POST", "/userdata/a.json", "", "a")
	s.do("POST", "/userdata/workflows%2Fw.json", "", "w")
	before := treeSnapshot(t, s.dir)
	escapeAll := func(name string) string {
		var b strings.Builder
		for i := 0; i < len(name); i++ {
			fmt.Fprintf(&b, "%%%02X", name[i])
		}
		return b.String()
	}
	// Statuses that serve nothing: a refusal, or ServeMux's redirect to a
	// cleaned path ("/userdata/.." is "/").
	refused := map[int]bool{301: true, 307: true, 308: true, 400: true, 403: true, 404: true, 405: true}
	corpus := files.TraversalCorpus()
	for _, name := range corpus {
		for _, enc := range []string{url.PathEscape(name), escapeAll(name)} {
			q := url.QueryEscape(name)
			for _, req := range [][2]string{
				{"GET", "/userdata/" + enc},
				{"HEAD", "/userdata/" + enc},
				{"POST", "/userdata/" + enc},
				{"POST", "/userdata/" + enc + "?overwrite=true"},
				{"DELETE", "/userdata/" + enc},
				{"POST", "/userdata/" + enc + "/move/b.json"},
				{"POST", "/userdata/a.json/move/" + enc},
				{"GET", "/api/userdata/" + enc},
				{"GET", "/userdata?dir=" + q + "&recurse=true"},
				{"GET", "/v2/userdata?path=" + q},
				{"GET", "/userdata?dir=" + url.QueryEscape(enc)}, // decoded once more
			} {
				w := s.do(req[0], req[1], "", "payload")
				if !refused[w.Code] {
					t.Errorf("%s %q (%q) = %d %q", req[0], req[1], name, w.Code, w.Body.String())
				}
			}
		}
	}
	if after := treeSnapshot(t, s.dir); !maps.Equal(before, after) {
		t.Errorf("files changed:\nbefore %v\nafter  %v", before, after)
	}
	// The files are still served by their own names.
	expect(t, s.do("GET", "/userdata/workflows%2Fw.json", "", ""), 200, "application/json", "w")
}

// treeSnapshot records every path under dir with its content, to prove
// that a test changed nothing there.
func treeSnapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			out[p] = "dir"
			return err
		}
		data, err := os.ReadFile(p)
		out[p] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestUserdataSymlinks(t *testing.T) {
	t.Parallel()
	s := newUserdataServer(t, false, "")
	s.do("POST", "/userdata/a.json", "", "a")
	outside := filepath.Join(s.dir, "outside")
	for name, target := range map[string]string{"rel": "../../../outside", "abs": outside} {
		if err := os.Symlink(target, filepath.Join(s.userDir, "default", name)); err != nil {
			t.Fatal(err)
		}
		expect(t, s.do("GET", "/userdata/"+name+"%2Fsecret.txt", "", ""), 403, emptyType, "")
		expect(t, s.do("POST", "/userdata/"+name+"%2Fnew.txt", "", "x"), 403, emptyType, "")
		expect(t, s.do("DELETE", "/userdata/"+name+"%2Fsecret.txt", "", ""), 403, emptyType, "")
		expect(t, s.do("POST", "/userdata/a.json/move/"+name+"%2Fa.json", "", ""), 403, emptyType, "")
		expect(t, s.do("GET", "/userdata?dir="+name, "", ""), 403, textType, "Invalid directory")
		expect(t, s.do("GET", "/v2/userdata?path="+name, "", ""), 400, textType, "Invalid path requested")
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 1 {
		t.Errorf("outside holds %v", entries)
	}
}

func TestFrontendStubs(t *testing.T) {
	t.Parallel()
	s := newUserdataServer(t, false, "")
	for _, tc := range []struct{ path, body string }{
		{"/api/i18n", `{}`},
		{"/global_subgraphs", `{}`},
		{"/api/global_subgraphs/abc", `null`},
		{"/api/node_replacements", `{}`},
	} {
		expect(t, s.do("GET", tc.path, "", ""), 200, jsonType, tc.body)
	}
}

func TestInternalRoutes(t *testing.T) {
	t.Parallel()
	s := newUserdataServer(t, false, "")
	s.logs.Write([]byte("Starting server\n"))
	w := s.do("GET", "/internal/logs", "", "")
	if w.Code != 200 || !regexp.MustCompile(`^"\d{4}-\d\d-\d\dT[\d:.]+ - Starting server\\n"$`).Match(w.Body.Bytes()) {
		t.Errorf("/internal/logs: %d %s", w.Code, w.Body)
	}
	w = s.do("GET", "/internal/logs/raw", "", "")
	if w.Code != 200 || !regexp.MustCompile(`^\{"entries": \[\{"t": "[^"]+", "m": "Starting server\\n"\}\], "size": \{"cols": 80, "rows": 24\}\}$`).Match(w.Body.Bytes()) {
		t.Errorf("/internal/logs/raw: %d %s", w.Code, w.Body)
	}
	// Not under /api.
	if w := s.do("GET", "/api/internal/logs", "", ""); w.Code != 404 {
		t.Errorf("/api/internal/logs: %d", w.Code)
	}

	w = s.do("GET", "/internal/folder_paths", "", "")
	var paths map[string][]string
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &paths) != nil || len(paths["checkpoints"]) == 0 ||
		!strings.HasPrefix(w.Body.String(), `{"checkpoints": [`) {
		t.Errorf("/internal/folder_paths: %d %s", w.Code, w.Body)
	}
	out := filepath.Join(s.dir, "base", "output")
	for _, name := range []string{"ComfyUI_00001_.png", ".DS_Store"} {
		if err := os.WriteFile(filepath.Join(out, name), nil, 0o666); err != nil {
			t.Fatal(err)
		}
	}
	expect(t, s.do("GET", "/internal/files/output", "", ""), 200, jsonType, `["ComfyUI_00001_.png [output]"]`)
	expect(t, s.do("GET", "/internal/files/input", "", ""), 200, jsonType, `[]`)
	for _, typ := range []string{"user", "bogus", "..%2Foutput"} {
		expect(t, s.do("GET", "/internal/files/"+typ, "", ""), 400, jsonType, `{"error": "Invalid directory type"}`)
	}
}

func TestLogsSubscription(t *testing.T) {
	t.Parallel()
	s := newUserdataServer(t, false, "")
	for _, body := range []string{`{}`, `{"clientId": "c1"}`, `{"enabled": true}`, `{`} {
		if w := s.do("PATCH", "/internal/logs/subscribe", "", body); w.Code != 400 {
			t.Errorf("subscribe %s: %d", body, w.Code)
		}
	}
	box := s.hub.Connect("c1")
	expect(t, s.do("PATCH", "/internal/logs/subscribe", "", `{"clientId": "c1", "enabled": true}`), 200, emptyType, "")
	s.logs.Write([]byte("hello\n"))
	frames, ok := box.Next()
	if !ok || len(frames) != 1 || !regexp.MustCompile(
		`^\{"type": "logs", "data": \{"entries": \[\{"t": "[^"]+", "m": "hello\\n"\}\], "size": null\}\}$`).Match(frames[0].Data) {
		t.Fatalf("frames %v, %v", frames, ok)
	}
	// Only the sentinel comes after unsubscribing.
	sentinel := event.Frame{Data: []byte("sentinel")}
	onlySentinel := func(box *event.Outbox) {
		t.Helper()
		s.hub.Send("c1", sentinel)
		if frames, _ := box.Next(); len(frames) != 1 || string(frames[0].Data) != "sentinel" {
			t.Errorf("frames %v; want the sentinel only", frames)
		}
	}
	expect(t, s.do("PATCH", "/internal/logs/subscribe", "", `{"clientId": "c1", "enabled": false}`), 200, emptyType, "")
	s.logs.Write([]byte("unseen\n"))
	onlySentinel(box)
	// A subscriber that disconnected is dropped at the next line.
	s.do("PATCH", "/internal/logs/subscribe", "", `{"clientId": "c1", "enabled": 1}`)
	s.hub.Disconnect("c1", box)
	s.logs.Write([]byte("gone\n"))
	box = s.hub.Connect("c1")
	s.logs.Write([]byte("after reconnect\n"))
	onlySentinel(box)
}

func TestUserID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		multi  bool
		header string // "-" for none
		want   string
		status int
	}{
		{false, "-", "", 0},
		{false, "alice_1", "", 0},
		{true, "alice_1", "alice_1", 0},
		{true, "-", "", 403},
		{true, "__system", "", 403},
	} {
		s := newUserdataServer(t, tc.multi, `{"alice_1": "alice", "__system": "system"}`)
		srv := &Server{cfg: Config{UserData: s.m}}
		r := httptest.NewRequest("GET", "/", nil)
		if tc.header != "-" {
			r.Header.Set("Comfy-User", tc.header)
		}
		id, err := srv.userID(r)
		var he *httpError
		switch {
		case tc.status == 0 && (err != nil || id != tc.want):
			t.Errorf("multi=%v header %q: %q, %v; want %q", tc.multi, tc.header, id, err, tc.want)
		case tc.status != 0 && (!errors.As(err, &he) || he.status != tc.status):
			t.Errorf("multi=%v header %q: %q, %v; want a %d", tc.multi, tc.header, id, err, tc.status)
		}
	}
	// Without user data (tests of other routes), every request is the
	// default user's.
	if id, err := (&Server{}).userID(httptest.NewRequest("GET", "/", nil)); id != "" || err != nil {
		t.Errorf("userID without UserData = %q, %v", id, err)
	}
}
