package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"github.com/gocomfy/gocomfy/internal/asset"
	"github.com/gocomfy/gocomfy/internal/executor"
	"github.com/gocomfy/gocomfy/internal/files"
	"github.com/gocomfy/gocomfy/internal/store"
	"github.com/gocomfy/gocomfy/internal/store/sqlite"
)

// assetEnv is a Server with assets on, over real folders, SQLite and a
// blob store in a temporary directory.
type assetEnv struct {
	t       testing.TB
	h       http.Handler
	srv     *Server
	lib     *asset.Library
	folders *files.Folders
	blobs   string // the blob store's directory
}

func newAssetEnv(t testing.TB, maxUpload int64) *assetEnv {
	t.Helper()
	return newAssetEnvEvents(t, maxUpload, nil)
}

// newAssetEnvEvents is newAssetEnv with the seeder's events sent to events.
func newAssetEnvEvents(t testing.TB, maxUpload int64, events executor.Sink) *assetEnv {
	t.Helper()
	dir := t.TempDir()
	folders, err := files.Open(files.Config{BaseDir: filepath.Join(dir, "base")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { folders.Close() })
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "gocomfy.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	blobDir := filepath.Join(dir, "assets")
	blobs, err := asset.OpenBlobs(blobDir)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	lib := asset.New(asset.Config{Store: db, Blobs: blobs, Folders: folders, Logger: logger, Events: events})
	srv := New(Config{Folders: folders, Assets: lib, Logger: logger, MaxUploadSize: maxUpload})
	return &assetEnv{t: t, h: srv.Handler(), srv: srv, lib: lib, folders: folders, blobs: blobDir}
}

// do serves one request. It reports nothing, so fuzz targets may call
// it (a fuzz target must not call its F's methods).
func (e *assetEnv) do(method, target string, body io.Reader, contentType string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, body)
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

// json sends a JSON body (or none) and decodes the JSON answer.
func (e *assetEnv) json(method, target, body string, wantStatus int) map[string]any {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	w := e.do(method, target, rd, "application/json")
	return decodeStatus(e.t, w, wantStatus)
}

func decodeStatus(t testing.TB, w *httptest.ResponseRecorder, want int) map[string]any {
	t.Helper()
	if w.Code != want {
		t.Fatalf("status %d, want %d: %s", w.Code, want, w.Body)
	}
	out := map[string]any{}
	if w.Body.Len() > 0 {
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("body %q: %v", w.Body, err)
		}
	}
	return out
}

// apart is one part of an upload form; file parts have a file name.
type apart struct {
	name, filename, value string
}

func assetMultipart(parts ...apart) (string, *bytes.Buffer) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		var w io.Writer
		if p.filename != "" {
			w, _ = mw.CreateFormFile(p.name, p.filename)
		} else {
			w, _ = mw.CreateFormField(p.name)
		}
		io.WriteString(w, p.value)
	}
	mw.Close()
	return mw.FormDataContentType(), &buf
}

func (e *assetEnv) upload(parts ...apart) *httptest.ResponseRecorder {
	ct, body := assetMultipart(parts...)
	return e.do("POST", "/api/assets", body, ct)
}

// leftovers lists what an upload may leave behind: temporary files of the
// blob store and files in the input folder.
func (e *assetEnv) leftovers() []string {
	var out []string
	for _, dir := range []string{filepath.Join(e.blobs, "tmp"), e.folders.Dir(files.Input)} {
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				out = append(out, p)
			}
			return nil
		})
	}
	return out
}

func pngFile(t testing.TB, w, h int) string {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func hashOf(data string) string {
	s := blake3.Sum256([]byte(data))
	return fmt.Sprintf("blake3:%x", s)
}

func errorCode(t testing.TB, body map[string]any) string {
	t.Helper()
	e, ok := body["error"].(map[string]any)
	if !ok {
		t.Fatalf("no assets error object in %v", body)
	}
	if _, ok := e["details"].(map[string]any); !ok {
		t.Errorf("error without a details object: %v", e)
	}
	code, _ := e["code"].(string)
	return code
}

func TestAssetsDisabled(t *testing.T) {
	h := New(Config{Logger: slog.New(slog.DiscardHandler)}).Handler()
	for _, c := range []struct{ method, target string }{
		{"GET", "/api/assets"}, {"POST", "/api/assets"}, {"GET", "/api/tags"},
		{"HEAD", "/api/assets/hash/blake3:" + strings.Repeat("0", 64)},
		{"GET", "/api/assets/0f6c2c2e-8b1e-4d69-9b7a-2d6a8d3f1c11/content"},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(c.method, c.target, nil))
		if w.Code != http.StatusServiceUnavailable {
			t.Errorf("%s %s = %d, want 503", c.method, c.target, w.Code)
		}
		if c.method != "HEAD" && !strings.Contains(w.Body.String(), `"code": "SERVICE_DISABLED"`) {
			t.Errorf("%s %s body %s", c.method, c.target, w.Body)
		}
	}
	// Only under /api, as in ComfyUI.
	for _, target := range []string{"/assets", "/api/api/assets"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", target, nil))
		if w.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", target, w.Code)
		}
	}
}

// keysOf returns a JSON object's keys in order.
func keysOf(t testing.TB, body []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.Token()
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		dec.Decode(&skip)
	}
	return keys
}

func TestAssetUploadGetDedupe(t *testing.T) {
	e := newAssetEnv(t, 0)
	img := pngFile(t, 4, 3)
	w := e.upload(apart{"file", "cat.png", img}, apart{"tags", "", `["input", "Pets"]`}, apart{"name", "", "Cat"},
		apart{"user_metadata", "", `{"note": "x"}`})
	created := decodeStatus(t, w, http.StatusCreated)
	wantKeys := []string{"id", "name", "hash", "asset_hash", "size", "mime_type", "tags", "preview_url", "user_metadata",
		"is_immutable", "metadata", "created_at", "updated_at", "last_access_time", "created_new"}
	if got := keysOf(t, w.Body.Bytes()); !slices.Equal(got, wantKeys) {
		t.Errorf("keys %q, want %q", got, wantKeys)
	}
	digest := asset.Digest(hashOf(img))
	if created["hash"] != hashOf(img) || created["name"] != "Cat" || created["created_new"] != true ||
		created["mime_type"] != "image/png" || created["size"] != float64(len(img)) {
		t.Errorf("created = %v", created)
	}
	if created["preview_url"] != "/api/view?type=input&filename="+digest+".png&subfolder=pets" {
		t.Errorf("preview_url = %v", created["preview_url"])
	}
	if fmt.Sprint(created["metadata"]) != "map[height:3 kind:image width:4]" {
		t.Errorf("metadata = %v", created["metadata"])
	}
	if !strings.Contains(w.Body.String(), `"user_metadata": {"note": "x", "filename": "pets/`+digest+`.png"}`) {
		t.Errorf("user_metadata in %s", w.Body)
	}
	id := created["id"].(string)

	got := e.json("GET", "/api/assets/"+strings.ToUpper(id), "", http.StatusOK)
	if got["id"] != id || fmt.Sprint(got["tags"]) != "[input pets]" {
		t.Errorf("GET = %v", got)
	}

	// The same bytes: 200, a new reference, no new file.
	again := decodeStatus(t, e.upload(apart{"file", "other.png", img}, apart{"tags", "", "input"}), http.StatusOK)
	if again["created_new"] != false || again["id"] == id || again["name"] != "other.png" || again["hash"] != hashOf(img) {
		t.Errorf("second upload = %v", again)
	}
	// A known hash: the file part is not even stored.
	fast := decodeStatus(t, e.upload(apart{"hash", "", hashOf(img)}, apart{"file", "x.png", img}, apart{"tags", "", "output"}), http.StatusOK)
	if fast["created_new"] != false || fast["name"] != digest {
		t.Errorf("known-hash upload = %v", fast)
	}
	if left := e.leftovers(); len(left) != 1 {
		t.Errorf("files after three uploads of one content: %q, want the one input link", left)
	}

	for _, c := range []struct {
		hash string
		want int
	}{{hashOf(img), 200}, {strings.ToUpper(hashOf(img)), 200}, {hashOf("nope"), 404}, {"blake3:abc", 400}} {
		// (net/http drops the body of a HEAD answer; the recorder keeps it.)
		if w := e.do("HEAD", "/api/assets/hash/"+c.hash, nil, ""); w.Code != c.want {
			t.Errorf("HEAD hash %s = %d, want %d", c.hash, w.Code, c.want)
		}
	}
}

func TestAssetUploadErrors(t *testing.T) {
	e := newAssetEnv(t, 0)
	file := apart{"file", "a.png", "data"}
	input := apart{"tags", "", "input"}
	for _, c := range []struct {
		name   string
		parts  []apart
		status int
		code   string
	}{
		{"no file", []apart{input}, 400, "MISSING_FILE"},
		{"empty file", []apart{{"file", "a.png", ""}, input}, 400, "EMPTY_UPLOAD"},
		{"no tags", []apart{file}, 400, "INVALID_BODY"},
		{"bad root", []apart{file, {"tags", "", "temp"}}, 400, "INVALID_BODY"},
		{"models without category", []apart{file, {"tags", "", "models"}}, 400, "INVALID_BODY"},
		{"unknown category", []apart{file, {"tags", "", "models,nope"}}, 400, "INVALID_BODY"},
		{"bad metadata JSON", []apart{file, input, {"user_metadata", "", "{bad"}}, 400, "INVALID_BODY"},
		{"metadata not an object", []apart{file, input, {"user_metadata", "", "[1]"}}, 400, "INVALID_BODY"},
		{"long name", []apart{file, input, {"name", "", strings.Repeat("n", 513)}}, 400, "INVALID_BODY"},
		{"dot-dot tag", []apart{file, {"tags", "", "input,.."}}, 400, "BAD_REQUEST"},
		{"id field", []apart{file, input, {"id", "", "x"}}, 400, "UNSUPPORTED_FIELD"},
		{"bad hash", []apart{{"hash", "", "blake3:12"}, file, input}, 400, "INVALID_HASH"},
		{"hash mismatch", []apart{{"hash", "", hashOf("other")}, file, input}, 400, "HASH_MISMATCH"},
	} {
		w := e.upload(c.parts...)
		body := decodeStatus(t, w, c.status)
		if code := errorCode(t, body); code != c.code {
			t.Errorf("%s: code %s, want %s (%s)", c.name, code, c.code, w.Body)
		}
		if left := e.leftovers(); len(left) != 0 {
			t.Errorf("%s left %q", c.name, left)
		}
	}
	msg := e.upload(file, apart{"tags", "", "models,nope"}).Body.String()
	if !strings.Contains(msg, `"message": "unknown models category 'nope'"`) {
		t.Errorf("unknown category message: %s", msg)
	}
	w := e.do("POST", "/api/assets", strings.NewReader(`{}`), "application/json")
	if body := decodeStatus(t, w, 415); errorCode(t, body) != "UNSUPPORTED_MEDIA_TYPE" {
		t.Errorf("JSON upload: %s", w.Body)
	}
}

// failingBody is a request body that breaks off after n bytes of r.
type failingBody struct {
	r io.Reader
	n int
}

func (f *failingBody) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	k, err := f.r.Read(p[:min(len(p), f.n)])
	f.n -= k
	return k, err
}

func TestAssetUploadBrokenOff(t *testing.T) {
	e := newAssetEnv(t, 0)
	ct, body := assetMultipart(apart{"tags", "", "input"}, apart{"file", "big.bin", strings.Repeat("x", 3<<20)})
	w := e.do("POST", "/api/assets", &failingBody{r: body, n: 2 << 20}, ct)
	if w.Code != http.StatusBadRequest {
		t.Errorf("broken-off upload = %d %s, want 400", w.Code, w.Body)
	}
	if left := e.leftovers(); len(left) != 0 {
		t.Errorf("a broken-off upload left %q", left)
	}
	list := e.json("GET", "/api/assets", "", 200)
	if list["total"] != float64(0) {
		t.Errorf("a broken-off upload is listed: %v", list)
	}
}

func TestAssetUploadLimit(t *testing.T) {
	e := newAssetEnv(t, 1<<20)
	ct, body := assetMultipart(apart{"tags", "", "input"}, apart{"file", "big.bin", strings.Repeat("x", 2<<20)})
	// No Content-Length: the limit is met while the part streams.
	r := httptest.NewRequest("POST", "/api/assets", io.MultiReader(body))
	r.ContentLength = -1
	r.Header.Set("Content-Type", ct)
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("upload over the limit = %d %s, want 413", w.Code, w.Body)
	}
	if left := e.leftovers(); len(left) != 0 {
		t.Errorf("an upload over the limit left %q", left)
	}
}

// TestAssetUploadAboveGeneralLimit: POST /api/assets has its own, larger
// limit; other routes keep the general one.
func TestAssetUploadAboveGeneralLimit(t *testing.T) {
	e := newAssetEnv(t, 0)
	h := New(Config{Folders: e.folders, Assets: e.lib, Logger: slog.New(slog.DiscardHandler),
		MaxUploadSize: 1 << 20, MaxAssetUploadSize: 4 << 20}).Handler()
	for _, c := range []struct {
		name, target string
		size         int
		declared     bool
		want         int
	}{
		{"asset over its limit, declared", "/api/assets", 5 << 20, true, http.StatusRequestEntityTooLarge},
		{"asset over its limit, streamed", "/api/assets", 5 << 20, false, http.StatusRequestEntityTooLarge},
		{"image over the general limit", "/upload/image", 2 << 20, true, http.StatusRequestEntityTooLarge},
		{"asset under its limit", "/api/assets", 2 << 20, true, http.StatusCreated}, // last: it leaves a file
	} {
		ct, body := assetMultipart(apart{"tags", "", "input"}, apart{"file", "big.bin", strings.Repeat("x", c.size)})
		if c.target == "/upload/image" {
			ct, body = assetMultipart(apart{"image", "big.png", strings.Repeat("x", c.size)})
		}
		r := httptest.NewRequest("POST", c.target, io.MultiReader(body))
		if c.declared {
			r.ContentLength = int64(body.Len())
		} else {
			r.ContentLength = -1
		}
		r.Header.Set("Content-Type", ct)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.want {
			t.Errorf("%s = %d %s, want %d", c.name, w.Code, w.Body, c.want)
		}
		if left := e.leftovers(); c.want != http.StatusCreated && len(left) != 0 {
			t.Errorf("%s left %q", c.name, left)
		}
	}
}

// TestAssetUploadConnectionLost: a client that goes away in the middle of
// an upload over a real connection leaves no temporary file and no asset.
func TestAssetUploadConnectionLost(t *testing.T) {
	e := newAssetEnv(t, 0)
	ts := httptest.NewUnstartedServer(e.h)
	// The server closes a connection once its handler has returned: then
	// the upload's clean-up is done.
	closed := make(chan struct{}, 1)
	ts.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateClosed {
			closed <- struct{}{}
		}
	}
	ts.Start()
	defer ts.Close()
	ct, body := newUploadBody(64<<20, 3)
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /api/assets HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		ts.Listener.Addr(), ct, body.Len())
	if _, err := io.CopyN(conn, body, 8<<20); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	<-closed
	if left := e.leftovers(); len(left) != 0 {
		t.Errorf("a lost upload left %q", left)
	}
	if list := e.json("GET", "/api/assets", "", 200); list["total"] != float64(0) {
		t.Errorf("a lost upload is listed: %v", list)
	}
}

// uploadN stores an input asset with a name, tags and metadata.
func (e *assetEnv) uploadN(name, content, tags, meta string) string {
	e.t.Helper()
	parts := []apart{{"file", name, content}, {"tags", "", tags}, {"name", "", name}}
	if meta != "" {
		parts = append(parts, apart{"user_metadata", "", meta})
	}
	w := e.upload(parts...)
	if w.Code != http.StatusCreated && w.Code != http.StatusOK {
		e.t.Fatalf("upload %s: %d %s", name, w.Code, w.Body)
	}
	var out map[string]any
	json.Unmarshal(w.Body.Bytes(), &out)
	return out["id"].(string)
}

func names(t testing.TB, list map[string]any) []string {
	t.Helper()
	var out []string
	for _, a := range list["assets"].([]any) {
		out = append(out, a.(map[string]any)["name"].(string))
	}
	return out
}

func TestAssetList(t *testing.T) {
	e := newAssetEnv(t, 0)
	e.uploadN("Alpha.png", "a", "input,pets", `{"seed": 1}`)
	e.uploadN("beta.png", "bb", "input", `{"seed": 2}`)
	e.uploadN("gamma_1.png", "ccc", "output,pets", `{"seed": 1, "kind": "x"}`)
	e.uploadN("delta.png", "dddd", "output", "")

	for _, c := range []struct {
		query string
		want  []string
		total float64
	}{
		{"sort=name&order=asc", []string{"Alpha.png", "beta.png", "delta.png", "gamma_1.png"}, 4},
		{"sort=size&order=desc", []string{"delta.png", "gamma_1.png", "beta.png", "Alpha.png"}, 4},
		{"include_tags=pets&sort=name&order=asc", []string{"Alpha.png", "gamma_1.png"}, 2},
		{"include_tags=pets,output&sort=name", []string{"gamma_1.png"}, 1},
		{"include_tags=pets&include_tags=input", []string{"Alpha.png"}, 1},
		{"exclude_tags=pets&sort=name&order=asc", []string{"beta.png", "delta.png"}, 2},
		{"name_contains=ALPHA", []string{"Alpha.png"}, 1},
		{"name_contains=_", []string{"gamma_1.png"}, 1},
		{"metadata_filter=" + url.QueryEscape(`{"seed": 1}`) + "&sort=name&order=asc", []string{"Alpha.png", "gamma_1.png"}, 2},
		{"metadata_filter=" + url.QueryEscape(`{"kind": null}`) + "&sort=name&order=asc", []string{"Alpha.png", "beta.png", "delta.png"}, 3},
		{"sort=name&order=asc&limit=2&offset=1", []string{"beta.png", "delta.png"}, 4},
	} {
		list := e.json("GET", "/api/assets?"+c.query, "", 200)
		if got := names(t, list); !slices.Equal(got, c.want) || list["total"] != c.total {
			t.Errorf("%s: %q (total %v), want %q (%v)", c.query, got, list["total"], c.want, c.total)
		}
	}
	page := e.json("GET", "/api/assets?sort=name&order=asc&limit=2&offset=1", "", 200)
	if page["has_more"] != true || page["next_cursor"] == nil {
		t.Errorf("offset page: %v", page)
	}

	// Walk with cursors.
	var walked []string
	target := "/api/assets?sort=name&order=desc&limit=3"
	for range 5 {
		list := e.json("GET", target, "", 200)
		walked = append(walked, names(t, list)...)
		next, ok := list["next_cursor"].(string)
		if !ok {
			if list["has_more"] != false {
				t.Errorf("last page has_more = %v", list["has_more"])
			}
			break
		}
		target = "/api/assets?sort=name&order=desc&limit=3&after=" + url.QueryEscape(next)
	}
	if want := []string{"gamma_1.png", "delta.png", "beta.png", "Alpha.png"}; !slices.Equal(walked, want) {
		t.Errorf("cursor walk %q, want %q", walked, want)
	}
}

func TestAssetListInvalid(t *testing.T) {
	e := newAssetEnv(t, 0)
	e.uploadN("a.png", "a", "input", "")
	cursor := e.json("GET", "/api/assets?limit=0", "", 400)
	errs := cursor["error"].(map[string]any)["details"].(map[string]any)["errors"].([]any)
	first := errs[0].(map[string]any)
	if first["type"] != "greater_than_equal" || fmt.Sprint(first["loc"]) != "[limit]" || first["input"] != "0" {
		t.Errorf("limit=0 error: %v", first)
	}
	for _, q := range []string{"limit=501", "limit=abc", "offset=-1", "sort=bad", "sort=NAME", "order=up",
		"metadata_filter=%7Bbad", "metadata_filter=%5B1%5D", "limit=1&limit=2"} {
		body := e.json("GET", "/api/assets?"+q, "", 400)
		if code := errorCode(t, body); code != "INVALID_QUERY" {
			t.Errorf("%s: %s", q, code)
		}
	}
	for _, q := range []string{"after=%25%25", "after=bm90IGpzb24", "sort=last_access_time&after=x",
		"sort=size&after=" + url.QueryEscape(encodeCursor(&store.AssetRef{ID: "x", Name: "n"}, store.SortName, "desc")),
		"after=" + url.QueryEscape(encodeCursor(&store.AssetRef{ID: "x"}, store.SortAssetCreated, "asc")),
		"after=" + strings.Repeat("A", 9000)} {
		body := e.json("GET", "/api/assets?"+q, "", 400)
		if code := errorCode(t, body); code != "INVALID_CURSOR" {
			t.Errorf("%s: %s", q, code)
		}
	}
}

// TestAssetBadInput sends each kind of bad input the issue lists (bad JSON
// in user_metadata, unknown tags, negative or huge limits, unknown ids) to
// every route that takes it: a 4xx with an error in ComfyUI's assets shape.
func TestAssetBadInput(t *testing.T) {
	e := newAssetEnv(t, 0)
	id := e.uploadN("a.png", "a", "input", "")
	unknown := "00000000-0000-4000-8000-000000000000"
	huge := "99999999999999999999999"
	for _, c := range []struct {
		method, target, body string
		status               int
		code                 string
	}{
		{"PUT", "/api/assets/" + id, `{"user_metadata": {bad`, 400, "INVALID_JSON"},
		{"PUT", "/api/assets/" + id, `{"user_metadata": "text"}`, 400, "INVALID_BODY"},
		{"PUT", "/api/assets/" + id, `{"user_metadata": {"n": 1e400}}`, 400, "INVALID_BODY"},
		{"POST", "/api/assets/from-hash", `{"hash": "` + hashOf("a") + `", "user_metadata": [1]}`, 400, "INVALID_BODY"},
		{"POST", "/api/assets/from-hash", `{"hash": "` + hashOf("a") + `", "user_metadata": {bad`, 400, "INVALID_JSON"},
		{"GET", "/api/assets?metadata_filter=" + url.QueryEscape(`{"a": {bad`), "", 400, "INVALID_QUERY"},
		{"GET", "/api/assets/tags/refine?metadata_filter=" + url.QueryEscape(`[1]`), "", 400, "INVALID_QUERY"},

		{"POST", "/api/assets/" + id + "/tags", `{"tags": []}`, 400, "INVALID_BODY"},
		{"POST", "/api/assets/" + id + "/tags", `{"tags": "input"}`, 400, "INVALID_BODY"},
		{"DELETE", "/api/assets/" + id + "/tags", `{"tags": [5]}`, 400, "INVALID_BODY"},
		{"POST", "/api/assets/" + id + "/tags", `{bad`, 400, "INVALID_JSON"},

		{"GET", "/api/assets?limit=-1", "", 400, "INVALID_QUERY"},
		{"GET", "/api/assets?limit=" + huge, "", 400, "INVALID_QUERY"},
		{"GET", "/api/assets?offset=" + huge, "", 400, "INVALID_QUERY"},
		{"GET", "/api/tags?limit=-5", "", 400, "INVALID_QUERY"},
		{"GET", "/api/tags?limit=1001", "", 400, "INVALID_QUERY"},
		{"GET", "/api/tags?offset=10000001", "", 400, "INVALID_QUERY"},
		{"GET", "/api/tags?limit=" + huge, "", 400, "INVALID_QUERY"},
		{"GET", "/api/tags?include_zero=maybe", "", 400, "INVALID_QUERY"},
		{"GET", "/api/tags?prefix=" + strings.Repeat("p", 257), "", 400, "INVALID_QUERY"},
		{"GET", "/api/assets/tags/refine?limit=0", "", 400, "INVALID_QUERY"},
		{"GET", "/api/assets/tags/refine?limit=" + huge, "", 400, "INVALID_QUERY"},

		{"GET", "/api/assets/" + unknown, "", 404, "ASSET_NOT_FOUND"},
		{"PUT", "/api/assets/" + unknown, `{"name": "x"}`, 404, "ASSET_NOT_FOUND"},
		{"DELETE", "/api/assets/" + unknown, "", 404, "ASSET_NOT_FOUND"},
		{"GET", "/api/assets/" + unknown + "/content", "", 404, "ASSET_NOT_FOUND"},
		{"POST", "/api/assets/" + unknown + "/tags", `{"tags": ["x"]}`, 404, "ASSET_NOT_FOUND"},
		{"DELETE", "/api/assets/" + unknown + "/tags", `{"tags": ["x"]}`, 404, "ASSET_NOT_FOUND"},
		{"PUT", "/api/assets/" + id, `{"preview_id": "` + unknown + `"}`, 404, "ASSET_NOT_FOUND"},
		{"POST", "/api/assets/from-hash", `{"hash": "` + hashOf("never stored") + `"}`, 404, "ASSET_NOT_FOUND"},
		{"POST", "/api/assets/from-hash", `{"hash": "blake3:xyz"}`, 400, "INVALID_BODY"},
	} {
		w := e.do(c.method, c.target, strings.NewReader(c.body), "application/json")
		if w.Code != c.status {
			t.Errorf("%s %s %s = %d %s, want %d", c.method, c.target, c.body, w.Code, w.Body, c.status)
			continue
		}
		var body map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Errorf("%s %s: body %q is not JSON", c.method, c.target, w.Body)
			continue
		}
		if code := errorCode(t, body); code != c.code {
			t.Errorf("%s %s %s: code %s, want %s", c.method, c.target, c.body, code, c.code)
		}
	}
	// A number beyond float64 in an upload's metadata: refused, and
	// nothing of the upload is left.
	w := e.upload(apart{"file", "n.png", "new content"}, apart{"tags", "", "input"}, apart{"user_metadata", "", `{"n": 1e400}`})
	if body := decodeStatus(t, w, 400); errorCode(t, body) != "INVALID_BODY" {
		t.Errorf("upload with 1e400 in user_metadata: %s", w.Body)
	}
	if left := e.leftovers(); len(left) != 1 { // a.png's file
		t.Errorf("a refused upload left %q", left)
	}
	// Unknown tags are no error in a filter: they match nothing.
	if list := e.json("GET", "/api/assets?include_tags=no-such-tag", "", 200); list["total"] != float64(0) {
		t.Errorf("include_tags of an unknown tag: %v", list)
	}
}

func TestAssetUpdateDelete(t *testing.T) {
	e := newAssetEnv(t, 0)
	id := e.uploadN("a.png", "a", "input", `{"k": 1}`)
	other := e.uploadN("b.png", "bb", "output", "")
	base := "/api/assets/" + id

	got := e.json("PUT", base, `{"name": "renamed.png", "user_metadata": {"z": 2}, "preview_id": "`+other+`"}`, 200)
	if got["name"] != "renamed.png" || got["preview_id"] != other || fmt.Sprint(got["user_metadata"]) != "map[filename:"+asset.Digest(hashOf("a"))+".png z:2]" {
		t.Errorf("PUT = %v", got)
	}
	if got["preview_url"] != "/api/view?type=output&filename="+asset.Digest(hashOf("bb"))+".png" {
		t.Errorf("preview_url from the preview = %v", got["preview_url"])
	}
	for _, c := range []struct {
		body, code string
		status     int
	}{
		{`{bad`, "INVALID_JSON", 400},
		{`[1]`, "INVALID_JSON", 400},
		{`{}`, "INVALID_BODY", 400},
		{`{"name": 5}`, "INVALID_BODY", 400},
		{`{"user_metadata": [1]}`, "INVALID_BODY", 400},
		{`{"preview_id": "00000000-0000-0000-0000-000000000000"}`, "ASSET_NOT_FOUND", 404},
	} {
		if code := errorCode(t, e.json("PUT", base, c.body, c.status)); code != c.code {
			t.Errorf("PUT %s: %s, want %s", c.body, code, c.code)
		}
	}
	unknown := "/api/assets/00000000-0000-4000-8000-000000000000"
	errorCode(t, e.json("GET", unknown, "", 404))
	errorCode(t, e.json("PUT", unknown, `{"name": "x"}`, 404))
	if w := e.do("GET", "/api/assets/not-a-uuid", nil, ""); w.Code != 404 {
		t.Errorf("GET non-uuid = %d", w.Code)
	}
	if w := e.do("PUT", "/api/assets/not-a-uuid", strings.NewReader(`{}`), ""); w.Code != 405 {
		t.Errorf("PUT non-uuid = %d", w.Code)
	}

	// Another user's reference: invisible to GET and DELETE, 403 to writes.
	h := hashOf("a")
	theirs, err := e.lib.FromHash(t.Context(), h, asset.Upload{Owner: "someone"})
	if err != nil {
		t.Fatal(err)
	}
	errorCode(t, e.json("GET", "/api/assets/"+theirs.ID, "", 404))
	if code := errorCode(t, e.json("PUT", "/api/assets/"+theirs.ID, `{"name": "x"}`, 403)); code != "FORBIDDEN" {
		t.Errorf("PUT of another user's asset: %s", code)
	}
	errorCode(t, e.json("POST", "/api/assets/"+theirs.ID+"/tags", `{"tags": ["x"]}`, 403))
	errorCode(t, e.json("DELETE", "/api/assets/"+theirs.ID, "", 404))

	if w := e.do("DELETE", base, nil, ""); w.Code != http.StatusNoContent || w.Body.Len() != 0 {
		t.Errorf("DELETE = %d %q", w.Code, w.Body)
	}
	if msg := e.json("DELETE", base, "", 404)["error"].(map[string]any)["message"]; msg != "AssetReference "+id+" not found." {
		t.Errorf("second DELETE message %q", msg)
	}
	errorCode(t, e.json("GET", base, "", 404))
	if w := e.do("HEAD", "/api/assets/hash/"+h, nil, ""); w.Code != 200 {
		t.Errorf("content gone after a soft delete: HEAD = %d", w.Code)
	}
}

func TestAssetContent(t *testing.T) {
	e := newAssetEnv(t, 0)
	img := pngFile(t, 2, 2)
	id := e.uploadN("pic ü.png", img, "input", "")
	w := e.do("GET", "/api/assets/"+id+"/content", nil, "")
	if w.Code != 200 || w.Body.String() != img {
		t.Fatalf("content = %d, %d bytes", w.Code, w.Body.Len())
	}
	h := w.Header()
	if h.Get("Content-Type") != "image/png" || h.Get("Content-Disposition") != "attachment; filename*=UTF-8''pic%20%C3%BC.png" ||
		h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Content-Length") != fmt.Sprint(len(img)) {
		t.Errorf("headers %v", h)
	}
	w = e.do("GET", "/api/assets/"+id+"/content?disposition=INLINE", nil, "")
	if !strings.HasPrefix(w.Header().Get("Content-Disposition"), "inline;") {
		t.Errorf("inline disposition: %q", w.Header().Get("Content-Disposition"))
	}
	w = e.do("GET", "/api/assets/"+id+"/content?disposition=other", nil, "")
	if !strings.HasPrefix(w.Header().Get("Content-Disposition"), "attachment;") {
		t.Errorf("unknown disposition: %q", w.Header().Get("Content-Disposition"))
	}

	r := httptest.NewRequest("GET", "/api/assets/"+id+"/content", nil)
	r.Header.Set("Range", "bytes=1-4")
	w = httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	if w.Code != http.StatusPartialContent || w.Body.String() != img[1:5] || w.Header().Get("Content-Range") != fmt.Sprintf("bytes 1-4/%d", len(img)) {
		t.Errorf("Range: %d %q %v", w.Code, w.Body, w.Header())
	}

	// Content a browser would run is never inline, whatever is asked.
	for _, c := range []struct{ name, mime string }{{"x.html", ""}, {"x.svg", ""}, {"x.bin", "text/html; charset=utf-8"}, {"x.xml", "application/atom+xml"}} {
		parts := []apart{{"file", c.name, "<script>alert(1)</script>" + c.name}, {"tags", "", "input"}}
		if c.mime != "" {
			parts = append(parts, apart{"mime_type", "", c.mime})
		}
		var created map[string]any
		json.Unmarshal(e.upload(parts...).Body.Bytes(), &created)
		w := e.do("GET", "/api/assets/"+created["id"].(string)+"/content?disposition=inline", nil, "")
		if w.Header().Get("Content-Type") != "application/octet-stream" || !strings.HasPrefix(w.Header().Get("Content-Disposition"), "attachment;") {
			t.Errorf("%s (%s): served as %q, %q", c.name, c.mime, w.Header().Get("Content-Type"), w.Header().Get("Content-Disposition"))
		}
	}

	// The file went and the store has no copy of its own: 404 FILE_NOT_FOUND.
	if err := e.folders.Root(files.Output).WriteFile("gone.png", []byte("gone"), 0o644); err != nil {
		t.Fatal(err)
	}
	ref, err := e.lib.RegisterFile(t.Context(), files.Output, "gone.png", asset.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.folders.Root(files.Output).Remove("gone.png")
	if code := errorCode(t, decodeStatus(t, e.do("GET", "/api/assets/"+ref.ID+"/content", nil, ""), 404)); code != "FILE_NOT_FOUND" {
		t.Errorf("missing file: %s", code)
	}
}

func TestAssetTags(t *testing.T) {
	e := newAssetEnv(t, 0)
	id := e.uploadN("a.png", "a", "input,pets", "")
	e.uploadN("b.png", "b", "input", "")
	base := "/api/assets/" + id + "/tags"

	got := e.json("POST", base, `{"tags": ["Cute", "pets", " "]}`, 200)
	if fmt.Sprint(got) != "map[added:[cute] already_present:[pets] total_tags:[cute input pets]]" {
		t.Errorf("add = %v", got)
	}
	got = e.json("DELETE", base, `{"tags": ["cute", "nope"]}`, 200)
	if fmt.Sprint(got) != "map[not_present:[nope] removed:[cute] total_tags:[input pets]]" {
		t.Errorf("remove = %v", got)
	}
	for _, body := range []string{`{"tags": []}`, `{"tags": [1]}`, `{}`, `{"tags": "x"}`} {
		if code := errorCode(t, e.json("POST", base, body, 400)); code != "INVALID_BODY" {
			t.Errorf("POST tags %s: %s", body, code)
		}
	}
	if msg := e.json("DELETE", base, `{}`, 400)["error"].(map[string]any)["message"]; msg != "Invalid JSON body for tags remove." {
		t.Errorf("remove message %q", msg)
	}
	errorCode(t, e.json("POST", base, `nope`, 400))

	list := e.json("GET", "/api/tags?include_zero=false&order=name_asc", "", 200)
	if fmt.Sprint(list) != "map[has_more:false tags:[map[count:2 name:input] map[count:1 name:pets]] total:2]" {
		t.Errorf("tags = %v", list)
	}
	list = e.json("GET", "/api/tags?prefix=%20P&limit=1", "", 200)
	if fmt.Sprint(list["tags"]) != "[map[count:1 name:pets]]" || list["has_more"] != true || list["total"] != float64(2) {
		t.Errorf("tags with prefix p = %v", list)
	}
	for _, q := range []string{"limit=0", "limit=1001", "offset=-1", "order=x", "include_zero=maybe", "prefix=%20"} {
		body := e.json("GET", "/api/tags?"+q, "", 400)
		if errorCode(t, body) != "INVALID_QUERY" || body["error"].(map[string]any)["message"] != "Invalid query parameters" {
			t.Errorf("/api/tags?%s: %v", q, body)
		}
	}
	refine := e.do("GET", "/api/assets/tags/refine?include_tags=input", nil, "")
	if refine.Code != 200 || refine.Body.String() != `{"tag_counts": {"input": 2, "pets": 1}}` {
		t.Errorf("refine = %d %s", refine.Code, refine.Body)
	}
}

func TestAssetFromHash(t *testing.T) {
	e := newAssetEnv(t, 0)
	e.uploadN("a.png", "a", "input", "")
	h := hashOf("a")
	got := e.json("POST", "/api/assets/from-hash", `{"hash": " `+strings.ToUpper(h)+` ", "tags": "X, y", "user_metadata": {"a": 1}}`, 201)
	if got["name"] != asset.Digest(h) || got["created_new"] != false || fmt.Sprint(got["tags"]) != "[x y]" {
		t.Errorf("from-hash = %v", got)
	}
	for _, c := range []struct {
		body, code string
		status     int
	}{
		{`{"hash": "` + hashOf("b") + `"}`, "ASSET_NOT_FOUND", 404},
		{`{"hash": "md5:1"}`, "INVALID_BODY", 400},
		{`{}`, "INVALID_BODY", 400},
		{`{"hash": "` + h + `", "user_metadata": 1}`, "INVALID_BODY", 400},
		{`not json`, "INVALID_JSON", 400},
	} {
		if code := errorCode(t, e.json("POST", "/api/assets/from-hash", c.body, c.status)); code != c.code {
			t.Errorf("from-hash %s: %s, want %s", c.body, code, c.code)
		}
	}
}

func TestAssetSeedRoutes(t *testing.T) {
	e := newAssetEnv(t, 0)
	if err := e.folders.Root(files.Output).WriteFile("o.png", []byte("o"), 0o644); err != nil {
		t.Fatal(err)
	}
	if st := e.json("GET", "/api/assets/seed/status", "", 200); fmt.Sprint(st) != "map[errors:[] progress:<nil> state:IDLE]" {
		t.Errorf("status before = %v", st)
	}
	got := e.json("POST", "/api/assets/seed?wait=true", `{"roots": ["output", "nope"]}`, 200)
	if fmt.Sprint(got) != "map[errors:[] progress:map[created:1 scanned:1 skipped:0 total:1] status:completed]" {
		t.Errorf("seed = %v", got)
	}
	errorCode(t, e.json("POST", "/api/assets/seed", `{"roots": ["nope"]}`, 400))
	if got := e.json("POST", "/api/assets/seed/cancel", "", 200); got["status"] != "idle" {
		t.Errorf("cancel = %v", got)
	}
	list := e.json("GET", "/api/assets?include_tags=output", "", 200)
	if names(t, list)[0] != "o.png" {
		t.Errorf("after seeding: %v", list)
	}
}

// TestAssetPrune is POST /api/assets/prune: a reference to a file outside
// every known folder becomes missing and leaves the listing.
func TestAssetPrune(t *testing.T) {
	e := newAssetEnv(t, 0)
	for _, p := range []string{filepath.Join(e.folders.Dir(files.Output), "o.png"), "/gone/folder/x.png"} {
		n := store.NewRef{Hash: hashOf(p), Create: true, Name: filepath.Base(p), FilePath: p, MtimeNS: 1, Tags: []string{"output"}}
		if _, _, err := e.lib.Store().PutRef(t.Context(), n); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{`{"status": "completed", "marked": 1}`, `{"status": "completed", "marked": 0}`} {
		w := e.do("POST", "/api/assets/prune", nil, "")
		if w.Code != http.StatusOK || w.Body.String() != want {
			t.Errorf("prune = %d %s, want 200 %s", w.Code, w.Body, want)
		}
	}
	if got := names(t, e.json("GET", "/api/assets", "", 200)); !slices.Equal(got, []string{"o.png"}) {
		t.Errorf("listed after prune: %q", got)
	}

	// While a scan runs (held in its start event): 409.
	started, release := make(chan struct{}), make(chan struct{})
	e = newAssetEnvEvents(t, 0, executor.SinkFunc(func(ev executor.Event) {
		if ev.Type == "assets.seed.started" {
			close(started)
			<-release
		}
	}))
	e.json("POST", "/api/assets/seed", `{"roots": ["input"]}`, 202)
	<-started
	w := e.do("POST", "/api/assets/prune", nil, "")
	close(release)
	if want := `{"status": "scan_running", "marked": 0}`; w.Code != http.StatusConflict || w.Body.String() != want {
		t.Errorf("prune during a scan = %d %s, want 409 %s", w.Code, w.Body, want)
	}
	e.lib.Seeder().Wait()
}

func TestUploadedAssetAndView(t *testing.T) {
	e := newAssetEnv(t, 0)
	img := pngFile(t, 1, 1)
	if err := e.folders.Root(files.Input).WriteFile("up.png", []byte(img), 0o644); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("POST", "/upload/image", nil)
	a := e.srv.uploadedAsset(r, files.Input, "up.png")
	if fmt.Sprint(keysOfObject(a)) != "[id name asset_hash size mime_type tags]" {
		t.Fatalf("asset object = %v", a)
	}
	if v, _ := a.Get("asset_hash"); v != hashOf(img) {
		t.Errorf("asset_hash = %v", v)
	}
	w := httptest.NewRecorder()
	if err := e.srv.viewAsset(w, httptest.NewRequest("GET", "/view", nil), hashOf(img)); err != nil {
		t.Fatal(err)
	}
	if w.Code != 200 || w.Body.String() != img || !strings.HasPrefix(w.Header().Get("Content-Disposition"), "inline;") {
		t.Errorf("view by hash = %d %v", w.Code, w.Header())
	}
	w = httptest.NewRecorder()
	e.srv.viewAsset(w, httptest.NewRequest("GET", "/view", nil), hashOf("unknown"))
	if w.Code != 404 {
		t.Errorf("view of an unknown hash = %d", w.Code)
	}
}

func keysOfObject(o interface{ Get(string) (any, bool) }) []string {
	b, _ := json.Marshal(o)
	var keys []string
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.Token()
	for dec.More() {
		tok, _ := dec.Token()
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		dec.Decode(&skip)
	}
	return keys
}

// TestAssetUploadMemory streams a 256 MiB upload over a loopback
// connection to a server whose general body limit is 1 MiB and whose
// asset limit is 1 GiB: it is stored, and neither the live heap nor what
// is allocated in all grows with its size (the client's share included).
// A 2 GiB upload takes the same path for eight times as long.
func TestAssetUploadMemory(t *testing.T) {
	e := newAssetEnv(t, 0)
	srv := New(Config{Folders: e.folders, Assets: e.lib, Logger: slog.New(slog.DiscardHandler),
		MaxUploadSize: 1 << 20, MaxAssetUploadSize: 1 << 30})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	const size = 256 << 20
	ct, body := newUploadBody(size, 7)

	// The live heap is sampled while the upload streams: its peak above
	// the start.
	heap := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	liveHeap := func() uint64 { metrics.Read(heap); return heap[0].Value.Uint64() }
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	base := liveHeap()
	stop, peak := make(chan struct{}), make(chan uint64)
	go func() {
		var highest uint64
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				peak <- highest
				return
			case <-tick.C:
				highest = max(highest, liveHeap())
			}
		}
	}()
	req, _ := http.NewRequest("POST", ts.URL+"/api/assets", body)
	req.ContentLength = body.Len()
	req.Header.Set("Content-Type", ct)
	resp, err := ts.Client().Do(req)
	close(stop)
	highest := <-peak
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload = %d %s", resp.StatusCode, got)
	}
	var created struct{ Size int64 }
	if json.Unmarshal(got, &created); created.Size != size {
		t.Errorf("stored size %d, want %d", created.Size, size)
	}
	growth := int64(highest) - int64(base)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("a 256 MiB upload: live heap peaked %.1f MiB above the start; %.1f MiB allocated in all",
		float64(growth)/(1<<20), float64(allocated)/(1<<20))
	if growth > 32<<20 {
		t.Errorf("the live heap grew by %d MiB during a 256 MiB upload; want it bounded (< 32 MiB)", growth>>20)
	}
	if allocated > 64<<20 {
		t.Errorf("a 256 MiB upload allocated %d MiB; want it bounded (< 64 MiB)", allocated>>20)
	}
}

// uploadBody is a multipart upload of n generated bytes, made as it is
// read, with its length known: what a browser sends. Each MiB of the file
// is one random block with its number written over its first bytes, so
// that the content neither repeats nor compresses and costs the client a
// copy, not a generator.
type uploadBody struct {
	head, tail string
	block      []byte
	n, off     int64 // file bytes in all, and sent
}

func newUploadBody(n int64, seed uint64) (contentType string, body *uploadBody) {
	const boundary = "gocomfy-bench-boundary"
	block := make([]byte, 1<<20)
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	rand.NewChaCha8(key).Read(block)
	head := "--" + boundary + "\r\nContent-Disposition: form-data; name=\"tags\"\r\n\r\ninput\r\n" +
		"--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n" +
		"Content-Type: application/octet-stream\r\n\r\n"
	return "multipart/form-data; boundary=" + boundary,
		&uploadBody{head: head, tail: "\r\n--" + boundary + "--\r\n", block: block, n: n}
}

// Len is the body's length in bytes.
func (u *uploadBody) Len() int64 { return int64(len(u.head)+len(u.tail)) + u.n }

func (u *uploadBody) Read(p []byte) (int, error) {
	if u.head != "" {
		k := copy(p, u.head)
		u.head = u.head[k:]
		return k, nil
	}
	if u.off < u.n {
		at := u.off % int64(len(u.block))
		if at == 0 {
			binary.LittleEndian.PutUint64(u.block, uint64(u.off))
		}
		k := copy(p[:min(int64(len(p)), u.n-u.off)], u.block[at:])
		u.off += int64(k)
		return k, nil
	}
	if u.tail == "" {
		return 0, io.EOF
	}
	k := copy(p, u.tail)
	u.tail = u.tail[k:]
	return k, nil
}

// BenchmarkAssetUploadHTTP is POST /api/assets over a real loopback
// connection, the client streaming the body as it makes it, next to Blake3
// of the same bytes in memory ("hash"), for 256 MiB and 1 GiB (run it
// with -benchtime=2x): with -count, the two interleave, so that a busy
// machine slows both.
func BenchmarkAssetUploadHTTP(b *testing.B) {
	for _, size := range []int64{256 << 20, 1 << 30} {
		b.Run(fmt.Sprintf("hash/%dMiB", size>>20), func(b *testing.B) {
			_, body := newUploadBody(size, 1)
			data := make([]byte, body.Len())
			io.ReadFull(body, data)
			b.SetBytes(size)
			for b.Loop() {
				h := blake3.New()
				for off := 0; off < len(data); off += 1 << 20 {
					h.Write(data[off:min(off+1<<20, len(data))])
				}
				h.Sum(nil)
			}
		})
		b.Run(fmt.Sprintf("upload/%dMiB", size>>20), func(b *testing.B) {
			e := newAssetEnv(b, 0)
			ts := httptest.NewServer(e.h)
			defer ts.Close()
			b.SetBytes(size)
			seed := uint64(0)
			for b.Loop() {
				// Each upload starts with no dirty pages: back to back,
				// uploads would soon run at the disk's speed, not the
				// server's.
				b.StopTimer()
				syscall.Sync()
				b.StartTimer()
				seed++
				ct, body := newUploadBody(size, seed)
				req, _ := http.NewRequest("POST", ts.URL+"/api/assets", body)
				req.ContentLength = body.Len()
				req.Header.Set("Content-Type", ct)
				resp, err := ts.Client().Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					b.Fatalf("upload = %d", resp.StatusCode)
				}
			}
		})
	}
}

// FuzzAssetUpload sends arbitrary multipart bodies: the answer is never a
// 5xx and nothing is left in the staging area.
func FuzzAssetUpload(f *testing.F) {
	for _, parts := range [][]apart{
		{{"file", "a.png", "data"}, {"tags", "", "input"}},
		{{"tags", "", `["models", "loras", ".."]`}, {"file", "a.bin", "x"}},
		{{"hash", "", hashOf("x")}, {"file", "a", "x"}, {"user_metadata", "", `{"a": [1, {"b": null}]}`}},
		{{"name", "", strings.Repeat("é", 600)}, {"file", "", "x"}, {"tags", "", "output,a,b"}},
	} {
		ct, body := assetMultipart(parts...)
		_, params, _ := strings.Cut(ct, "boundary=")
		f.Add(params, body.Bytes())
	}
	e := newAssetEnv(f, 1<<20)
	f.Fuzz(func(t *testing.T, boundary string, body []byte) {
		r := httptest.NewRequest("POST", "/api/assets", bytes.NewReader(body))
		r.Header.Set("Content-Type", "multipart/form-data; boundary="+boundary)
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		if left, _ := os.ReadDir(filepath.Join(e.blobs, "tmp")); len(left) != 0 {
			t.Fatalf("staging area holds %d files", len(left))
		}
	})
}
