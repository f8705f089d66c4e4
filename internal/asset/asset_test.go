package asset

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/png"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocomfy/gocomfy/internal/executor"
	"github.com/gocomfy/gocomfy/internal/files"
	"github.com/gocomfy/gocomfy/internal/store"
	"github.com/gocomfy/gocomfy/internal/store/sqlite"
	"github.com/gocomfy/gocomfy/pyjson"
)

// newLibrary is a Library over fresh folders, a SQLite store and a blob
// store, all in a temporary directory.
func newLibrary(t testing.TB) (*Library, *files.Folders) {
	return newLibraryEvents(t, nil)
}

// newLibraryEvents is newLibrary with the seeder's events sent to events.
func newLibraryEvents(t testing.TB, events executor.Sink) (*Library, *files.Folders) {
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
	blobs, err := OpenBlobs(filepath.Join(dir, "assets"))
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	return New(Config{Store: db, Blobs: blobs, Folders: folders, Logger: logger, Events: events}), folders
}

// pngBytes is a w×h PNG.
func pngBytes(t testing.TB, w, h int, c uint8) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = c
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func stage(t testing.TB, l *Library, data []byte) *Staged {
	t.Helper()
	s, err := l.Blobs().Stage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCheckUploadTags(t *testing.T) {
	l, _ := newLibrary(t)
	for _, c := range []struct {
		tags []string
		ok   bool
	}{
		{[]string{"input"}, true},
		{[]string{"output", "x", "y"}, true},
		{[]string{"models", "loras"}, true},
		{[]string{"models", "clip"}, false}, // a legacy name, not a folder key
		{[]string{"models", "custom_nodes"}, false},
		{[]string{"models"}, false},
		{[]string{"models", "nope"}, false},
		{[]string{"temp"}, false},
		{nil, false},
	} {
		err := l.CheckUploadTags(c.tags)
		if (err == nil) != c.ok || err != nil && !errors.Is(err, ErrInvalidTags) {
			t.Errorf("CheckUploadTags(%q) = %v, want ok %v", c.tags, err, c.ok)
		}
	}
}

func TestNormalizeTags(t *testing.T) {
	got := NormalizeTags([]string{" Input ", "", "PETS", "input", " "})
	if !slices.Equal(got, []string{"input", "pets"}) {
		t.Errorf("NormalizeTags = %q", got)
	}
}

func TestUploadNewThenDedupe(t *testing.T) {
	l, folders := newLibrary(t)
	ctx := t.Context()
	data := pngBytes(t, 3, 2, 9)
	s := stage(t, l, data)
	hash := s.Hash
	r, created, err := l.AddUpload(ctx, s, Upload{Owner: "default", Tags: []string{"input", "pets"}, ClientName: "cat.png",
		UserMetadata: json.RawMessage(`{"k": 1}`)})
	if err != nil || !created {
		t.Fatalf("AddUpload = %v, created %v", err, created)
	}
	rel := "pets/" + Digest(hash) + ".png"
	want := filepath.Join(folders.Dir(files.Input), filepath.FromSlash(rel))
	if r.FilePath != want || r.Name != "cat.png" || r.OwnerID != "default" || r.Asset.MimeType != "image/png" {
		t.Errorf("new upload = %+v", r)
	}
	if string(r.UserMetadata) != `{"k":1,"filename":"`+rel+`"}` {
		t.Errorf("user metadata = %s", r.UserMetadata)
	}
	if string(r.SystemMetadata) != `{"kind":"image","width":3,"height":2}` {
		t.Errorf("system metadata = %s", r.SystemMetadata)
	}
	linked, err := os.Stat(want)
	if err != nil {
		t.Fatal(err)
	}
	blob, _ := os.Stat(l.Blobs().Path(hash))
	if !os.SameFile(linked, blob) {
		t.Error("the input file is not a link to the blob")
	}

	// The same bytes again, another owner and name: a reference of its own
	// to the same content, no new file.
	r2, created, err := l.AddUpload(ctx, stage(t, l, data), Upload{Owner: "u", Tags: []string{"input"}, Name: "dir/again.png"})
	if err != nil || created {
		t.Fatalf("second AddUpload = %v, created %v", err, created)
	}
	if r2.ID == r.ID || r2.Asset.ID != r.Asset.ID || r2.FilePath != "" || r2.Name != "again.png" {
		t.Errorf("deduplicated upload = %+v", r2)
	}
	if string(r2.SystemMetadata) != string(r.SystemMetadata) {
		t.Errorf("dedupe did not take the image size from the first reference: %s", r2.SystemMetadata)
	}
	if left := entries(t, l.Blobs().tmpDir()); len(left) != 0 {
		t.Errorf("temporary files left: %q", left)
	}
	c, err := l.Open(ctx, r2)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(c.File)
	c.File.Close()
	if !bytes.Equal(got, data) || c.Name != "again.png" || c.MimeType != "image/png" {
		t.Errorf("Open = %q %q, %d bytes", c.Name, c.MimeType, len(got))
	}
}

func TestUploadModel(t *testing.T) {
	l, folders := newLibrary(t)
	s := stage(t, l, []byte("weights"))
	r, _, err := l.AddUpload(t.Context(), s, Upload{Tags: []string{"models", "loras", "flux"}, ClientName: "my.safetensors"})
	if err != nil {
		t.Fatal(err)
	}
	dirs, _ := folders.Models.Dirs("loras")
	if want := filepath.Join(dirs[0], "flux", Digest(s.Hash)+".safetensors"); r.FilePath != want {
		t.Errorf("model at %s, want %s", r.FilePath, want)
	}
	if !strings.Contains(string(r.UserMetadata), `"filename":"flux/`) || r.Asset.MimeType != "application/safetensors" {
		t.Errorf("model reference = %+v %s", r, r.UserMetadata)
	}
	list, _ := folders.Models.List("loras")
	if !slices.Contains(list, "flux/"+Digest(s.Hash)+".safetensors") {
		t.Errorf("the loras folder lists %q, without the upload", list)
	}
}

func TestUploadRefused(t *testing.T) {
	l, folders := newLibrary(t)
	ctx := t.Context()
	for _, c := range []struct {
		u    Upload
		want error
	}{
		{Upload{Tags: []string{"input", ".."}}, ErrBadPath},
		{Upload{Tags: []string{"input", "a\\b"}}, ErrBadPath},
		{Upload{Tags: []string{"input"}, Hash: "blake3:" + strings.Repeat("0", 64)}, ErrHashMismatch},
	} {
		_, _, err := l.AddUpload(ctx, stage(t, l, []byte("data")), c.u)
		if !errors.Is(err, c.want) {
			t.Errorf("AddUpload(%+v) = %v, want %v", c.u, err, c.want)
		}
	}
	if left := entries(t, l.Blobs().tmpDir()); len(left) != 0 {
		t.Errorf("refused uploads left %q", left)
	}
	if left := entries(t, folders.Dir(files.Input)); len(left) != 0 {
		t.Errorf("refused uploads wrote %q", left)
	}
}

func TestFromHash(t *testing.T) {
	l, _ := newLibrary(t)
	ctx := t.Context()
	unknown := "blake3:" + strings.Repeat("a", 64)
	if _, err := l.FromHash(ctx, unknown, Upload{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FromHash(unknown) = %v", err)
	}
	s := stage(t, l, []byte("content"))
	if _, _, err := l.AddUpload(ctx, s, Upload{Tags: []string{"output"}}); err != nil {
		t.Fatal(err)
	}
	r, err := l.FromHash(ctx, s.Hash, Upload{Owner: "u", Tags: []string{"x"}})
	if err != nil || r.Name != Digest(s.Hash) || r.OwnerID != "u" || !slices.Equal(r.Tags, []string{"x"}) {
		t.Errorf("FromHash = %+v, %v", r, err)
	}
}

func TestUpdateRefKeepsFilename(t *testing.T) {
	l, _ := newLibrary(t)
	ctx := t.Context()
	r, _, err := l.AddUpload(ctx, stage(t, l, []byte("x")), Upload{Tags: []string{"input"}, ClientName: "a.txt"})
	if err != nil {
		t.Fatal(err)
	}
	r, err = l.UpdateRef(ctx, r.ID, "", store.RefUpdate{UserMetadata: json.RawMessage(`{"note": "hi", "filename": "forged"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"note":"hi","filename":"` + Digest(r.Asset.Hash) + `.txt"}`; string(r.UserMetadata) != want {
		t.Errorf("user metadata = %s, want %s", r.UserMetadata, want)
	}
}

func TestRegisterFile(t *testing.T) {
	l, folders := newLibrary(t)
	ctx := t.Context()
	root := folders.Root(files.Input)
	if err := root.MkdirAll("Sub", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := root.WriteFile("Sub/x.png", pngBytes(t, 4, 4, 1), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := l.RegisterFile(ctx, files.Input, "Sub/x.png", FileOptions{Origin: "upload", Tags: []string{"Extra"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Name != "x.png" || r.OwnerID != "" || !slices.Equal(r.Tags, []string{"extra", "input", "sub"}) {
		t.Errorf("registered = %+v", r)
	}
	if string(r.UserMetadata) != `{"filename":"Sub/x.png"}` || string(r.SystemMetadata) != `{"kind":"image","width":4,"height":4}` {
		t.Errorf("metadata = %s, %s", r.UserMetadata, r.SystemMetadata)
	}
	again, err := l.RegisterFile(ctx, files.Input, "Sub/x.png", FileOptions{})
	if err != nil || again.ID != r.ID || !again.UpdatedAt.Equal(r.UpdatedAt) {
		t.Errorf("registering an unchanged file again = %+v, %v; want no change", again, err)
	}
	// New content under the same name: the same reference, new content.
	if err := root.WriteFile("Sub/x.png", pngBytes(t, 5, 5, 1), 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(folders.Dir(files.Input), "Sub", "x.png"), later, later)
	changed, err := l.RegisterFile(ctx, files.Input, "Sub/x.png", FileOptions{JobID: "p1"})
	if err != nil || changed.ID != r.ID || changed.Asset.Hash == r.Asset.Hash || changed.JobID != "p1" {
		t.Errorf("re-registered = %+v, %v", changed, err)
	}
	for _, bad := range []string{"../x.png", "/etc/passwd", "none.png"} {
		if _, err := l.RegisterFile(ctx, files.Input, bad, FileOptions{}); err == nil {
			t.Errorf("RegisterFile(%q) succeeded", bad)
		}
	}
}

func TestOpenFallsBack(t *testing.T) {
	l, folders := newLibrary(t)
	ctx := t.Context()
	if err := folders.Root(files.Output).WriteFile("o.png", []byte("out"), 0o644); err != nil {
		t.Fatal(err)
	}
	file, err := l.RegisterFile(ctx, files.Output, "o.png", FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	api, err := l.FromHash(ctx, file.Asset.Hash, Upload{Name: "copy.png"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := l.Open(ctx, api) // no blob: the output file serves it
	if err != nil {
		t.Fatal(err)
	}
	c.File.Close()
	os.Remove(file.FilePath)
	if _, err := l.Open(ctx, api); !errors.Is(err, ErrNoContent) {
		t.Errorf("Open with no copy left = %v, want ErrNoContent", err)
	}
	if _, err := l.OpenHash(ctx, file.Asset.Hash, "someone"); !errors.Is(err, ErrNoContent) {
		t.Errorf("OpenHash with no copy left = %v, want ErrNoContent", err)
	}
}

func TestOpenHashVisibility(t *testing.T) {
	l, _ := newLibrary(t)
	ctx := t.Context()
	s := stage(t, l, []byte("private"))
	if _, _, err := l.AddUpload(ctx, s, Upload{Owner: "u", Tags: []string{"input"}, ClientName: "p.txt"}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.OpenHash(ctx, s.Hash, "v"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("OpenHash by another user = %v, want not found", err)
	}
	c, err := l.OpenHash(ctx, s.Hash, "u")
	if err != nil {
		t.Fatal(err)
	}
	c.File.Close()
	if c.Name != "p.txt" || c.MimeType != "text/plain" {
		t.Errorf("OpenHash = %q %q", c.Name, c.MimeType)
	}
}

// finishSpy is a job store that records what Finish is given.
type finishSpy struct {
	store.Store
	got store.Result
}

func (f *finishSpy) Finish(ctx context.Context, worker, id string, r store.Result) error {
	f.got = r
	return nil
}

func TestRecordOutputs(t *testing.T) {
	l, folders := newLibrary(t)
	if err := folders.Root(files.Output).MkdirAll("run", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := folders.Root(files.Output).WriteFile("run/ComfyUI_00001_.png", pngBytes(t, 2, 2, 0), 0o644); err != nil {
		t.Fatal(err)
	}
	outputs := `{"9": {"images": [{"filename": "ComfyUI_00001_.png", "subfolder": "run", "type": "output"},` +
		`{"filename": "gone.png", "subfolder": "", "type": "output"},` +
		`{"filename": "p.png", "subfolder": "", "type": "temp"}], "text": ["hi"]}, "3": {"other": 1}}`
	spy := &finishSpy{}
	if err := l.RecordOutputs(spy).Finish(t.Context(), "w", "prompt-1", store.Result{Outputs: json.RawMessage(outputs)}); err != nil {
		t.Fatal(err)
	}
	var got map[string]map[string][]map[string]any
	json.Unmarshal(spy.got.Outputs, &got)
	images := got["9"]["images"]
	id, _ := images[0]["id"].(string)
	if id == "" || images[1]["id"] != nil || images[2]["id"] != nil {
		t.Fatalf("history outputs = %s", spy.got.Outputs)
	}
	if !strings.HasPrefix(string(spy.got.Outputs), `{"9":{"images":[{"filename":"ComfyUI_00001_.png","subfolder":"run","type":"output","id":`) {
		t.Errorf("key order changed: %s", spy.got.Outputs)
	}
	r, err := l.Store().Ref(t.Context(), id, "")
	if err != nil || r.JobID != "prompt-1" || !slices.Equal(r.Tags, []string{"output", "run"}) {
		t.Errorf("output reference = %+v, %v", r, err)
	}
}

func TestSinkAddsIDs(t *testing.T) {
	l, folders := newLibrary(t)
	if err := folders.Root(files.Output).WriteFile("a.png", []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	ui := pyjson.Object{{Key: "images", Value: []any{pyjson.Object{
		{Key: "filename", Value: "a.png"}, {Key: "subfolder", Value: ""}, {Key: "type", Value: "output"}}}}}
	data := pyjson.Object{{Key: "node", Value: "9"}, {Key: "output", Value: ui}, {Key: "prompt_id", Value: "p"}}
	var sent executor.Event
	l.Sink(executor.SinkFunc(func(e executor.Event) { sent = e })).Event(executor.Event{Type: "executed", Data: data})
	out, _ := json.Marshal(sent.Data)
	if !strings.Contains(string(out), `"type":"output","id":"`) {
		t.Errorf("executed data = %s, want the id", out)
	}
	if orig, _ := json.Marshal(data); strings.Contains(string(orig), `"id"`) {
		t.Errorf("the original event data changed: %s", orig)
	}
}

func TestSeeder(t *testing.T) {
	var events []string
	l, folders := newLibraryEvents(t, executor.SinkFunc(func(e executor.Event) { events = append(events, e.Type) }))
	in := folders.Root(files.Input)
	for _, name := range []string{"a.png", "b/c.png", ".hidden.png"} {
		in.MkdirAll(filepath.Dir(name), 0o755)
		if err := in.WriteFile(name, []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := l.Seeder()
	if !s.Start([]string{"input"}) {
		t.Fatal("Start refused")
	}
	s.Wait()
	st := s.Status()
	if st.State != Idle || st.Progress == nil || *st.Progress != (Progress{Scanned: 2, Total: 2, Created: 2}) || len(st.Errors) != 0 {
		t.Errorf("status = %+v %+v", st, st.Progress)
	}
	if !slices.Equal(events, []string{"assets.seed.started", "assets.seed.completed"}) {
		t.Errorf("events = %q", events)
	}
	_, total, _ := l.Store().ListRefs(t.Context(), store.AssetQuery{AssetFilter: store.AssetFilter{IncludeTags: []string{"input"}}, Limit: 10})
	if total != 2 {
		t.Errorf("%d input assets after the scan, want 2", total)
	}
	// A file goes: the next scan flags its reference missing.
	if err := in.Remove("b/c.png"); err != nil {
		t.Fatal(err)
	}
	s.Start([]string{"input"})
	s.Wait()
	if p := s.Status().Progress; *p != (Progress{Scanned: 1, Total: 1, Skipped: 1}) {
		t.Errorf("second scan progress = %+v", p)
	}
	_, total, _ = l.Store().ListRefs(t.Context(), store.AssetQuery{Limit: 10})
	if total != 1 {
		t.Errorf("%d assets listed after a file went, want 1", total)
	}
}

// TestPrune flags the references of files outside the known folders, and
// refuses while a scan runs.
func TestPrune(t *testing.T) {
	l, folders := newLibrary(t)
	inside := filepath.Join(folders.Dir(files.Input), "a.png")
	lora, _ := l.cfg.Folders.Models.Dirs("loras")
	for _, p := range []string{inside, filepath.Join(lora[0], "l.safetensors"), "/gone/folder/b.png"} {
		n := store.NewRef{Hash: HashPrefix + strings.Repeat("0", 64), Create: true, Name: filepath.Base(p), FilePath: p, MtimeNS: 1}
		if _, _, err := l.Store().PutRef(t.Context(), n); err != nil {
			t.Fatal(err)
		}
	}
	s := l.Seeder()
	s.mu.Lock()
	s.state = Running // as if a scan ran
	s.mu.Unlock()
	if n, err := s.Prune(t.Context()); !errors.Is(err, ErrScanRunning) || n != 0 {
		t.Errorf("Prune during a scan = %d, %v; want ErrScanRunning", n, err)
	}
	s.mu.Lock()
	s.state = Idle
	s.mu.Unlock()
	if n, err := s.Prune(t.Context()); err != nil || n != 1 {
		t.Errorf("Prune = %d, %v; want 1 (/gone/folder/b.png)", n, err)
	}
	if st := s.Status(); st.State != Idle {
		t.Errorf("state after Prune = %s", st.State)
	}
	if !s.Start([]string{"input"}) {
		t.Error("a scan does not start after Prune")
	}
	s.Wait()
}

// TestConcurrentUploads stores the same new content from several uploads
// at once: every one succeeds, one content and one file result.
func TestConcurrentUploads(t *testing.T) {
	l, folders := newLibrary(t)
	data := []byte("same bytes")
	var wg sync.WaitGroup
	for range 4 {
		s := stage(t, l, data)
		wg.Go(func() {
			if _, _, err := l.AddUpload(t.Context(), s, Upload{Tags: []string{"input"}, ClientName: "a.txt"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if names := entries(t, folders.Dir(files.Input)); len(names) != 1 {
		t.Errorf("input holds %q, want one file", names)
	}
}
