package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/image/webp"

	"github.com/gocomfy/gocomfy/internal/files"
	"github.com/gocomfy/gocomfy/internal/imageio"
	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/nodes/imagefile"
)

// filesServer is a Server over real folders in dir/base; dir also holds
// files outside every folder, which no request may reach.
type filesServer struct {
	t       testing.TB
	h       http.Handler
	folders *files.Folders
	dir     string
	base    string
}

func newFilesServer(t testing.TB, maxUpload int64) *filesServer {
	t.Helper()
	dir := t.TempDir()
	base := filepath.Join(dir, "base")
	folders, err := files.Open(files.Config{BaseDir: base})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { folders.Close() })
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := New(Config{Folders: folders, Logger: logger, MaxUploadSize: maxUpload})
	return &filesServer{t: t, h: s.Handler(), folders: folders, dir: dir, base: base}
}

// serve sends r to the server.
func (s *filesServer) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, r)
	return w
}

func (s *filesServer) get(target string) *httptest.ResponseRecorder {
	return s.serve(httptest.NewRequest("GET", target, nil))
}

// write puts a file at a slash-separated path under the base folder.
func (s *filesServer) write(name string, data []byte) {
	s.t.Helper()
	p := filepath.Join(s.base, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		s.t.Fatal(err)
	}
}

func (s *filesServer) read(name string) []byte {
	s.t.Helper()
	data, err := os.ReadFile(filepath.Join(s.base, filepath.FromSlash(name)))
	if err != nil {
		s.t.Fatal(err)
	}
	return data
}

// formPart is one part of an upload form: a field, or a file when
// filename is set (sent in RFC 2231 form, so any bytes survive).
type formPart struct {
	name, filename, value string
	file                  bool
}

func formField(name, value string) formPart { return formPart{name: name, value: value} }
func formFile(name, filename string, data []byte) formPart {
	return formPart{name: name, filename: filename, value: string(data), file: true}
}

// multipartBody encodes parts as a multipart/form-data body.
func multipartBody(parts ...formPart) (body []byte, contentType string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		cd := fmt.Sprintf(`form-data; name="%s"`, p.name)
		if p.file {
			cd += "; filename*=UTF-8''" + url.PathEscape(p.filename)
			h.Set("Content-Type", "application/octet-stream")
		}
		h.Set("Content-Disposition", cd)
		w, _ := mw.CreatePart(h)
		io.WriteString(w, p.value)
	}
	mw.Close()
	return buf.Bytes(), mw.FormDataContentType()
}

func (s *filesServer) upload(route string, parts ...formPart) *httptest.ResponseRecorder {
	body, ct := multipartBody(parts...)
	r := httptest.NewRequest("POST", route, bytes.NewReader(body))
	r.Header.Set("Content-Type", ct)
	return s.serve(r)
}

// expectJSON checks a response's status and that its JSON body equals want.
func expectJSON(t testing.TB, w *httptest.ResponseRecorder, status int, want string) {
	t.Helper()
	if w.Code != status || w.Header().Get("Content-Type") != "application/json; charset=utf-8" || w.Body.String() != want {
		t.Errorf("got %d %q %s; want %d %s", w.Code, w.Header().Get("Content-Type"), w.Body, status, want)
	}
}

func expectStatus(t testing.TB, w *httptest.ResponseRecorder, status int) {
	t.Helper()
	if w.Code != status {
		t.Errorf("status %d, want %d (%s)", w.Code, status, w.Body)
	}
}

// encodePNG encodes img with the given text chunks.
func encodePNG(t testing.TB, img image.Image, text ...imageio.TextChunk) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := imageio.EncodePNG(&buf, img, imageio.LevelSave, text); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// testImage is a w×h image whose alpha and colours vary per pixel.
func testImage(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{R: uint8(40 * x), G: uint8(60 * y), B: 90, A: uint8(255 - 30*(x+y))})
		}
	}
	return img
}

func TestUploadViewRoundTrip(t *testing.T) {
	t.Parallel()
	s := newFilesServer(t, 1<<20)
	cat := encodePNG(t, testImage(4, 3))
	expectJSON(t, s.upload("/upload/image", formFile("image", "cat.png", cat)), 200,
		`{"name": "cat.png", "subfolder": "", "type": "input"}`)
	if !bytes.Equal(s.read("input/cat.png"), cat) {
		t.Error("stored bytes differ")
	}
	for _, target := range []string{"/view?filename=cat.png&type=input", "/api/view?filename=cat.png%20%5Binput%5D"} {
		w := s.get(target)
		expectStatus(t, w, 200)
		if !bytes.Equal(w.Body.Bytes(), cat) {
			t.Errorf("%s: body differs", target)
		}
		for k, v := range map[string]string{"Content-Type": "image/png", "Content-Disposition": `filename="cat.png"`,
			"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"} {
			if got := w.Header().Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", target, k, got, v)
			}
		}
	}
	// Range requests are served from the file.
	r := httptest.NewRequest("GET", "/view?filename=cat.png&type=input", nil)
	r.Header.Set("Range", "bytes=1-3")
	w := s.serve(r)
	if w.Code != 206 || w.Body.String() != "PNG" {
		t.Errorf("range: %d %q", w.Code, w.Body)
	}
}

func TestUploadNaming(t *testing.T) {
	t.Parallel()
	s := newFilesServer(t, 1<<20)
	a, b, c := []byte("first"), []byte("second"), []byte("third")
	for _, tc := range []struct {
		parts []formPart
		want  string
	}{
		{[]formPart{formFile("image", "cat.png", a)}, `{"name": "cat.png", "subfolder": "", "type": "input"}`},
		// The same bytes again: a duplicate, nothing written.
		{[]formPart{formFile("image", "cat.png", a)}, `{"name": "cat.png", "subfolder": "", "type": "input"}`},
		{[]formPart{formFile("image", "cat.png", b)}, `{"name": "cat (1).png", "subfolder": "", "type": "input"}`},
		{[]formPart{formFile("image", "cat.png", c)}, `{"name": "cat (2).png", "subfolder": "", "type": "input"}`},
		{[]formPart{formFile("image", "cat.png", b)}, `{"name": "cat (1).png", "subfolder": "", "type": "input"}`},
		{[]formPart{formField("overwrite", "true"), formFile("image", "cat.png", c)}, `{"name": "cat.png", "subfolder": "", "type": "input"}`},
		{[]formPart{formFile("image", "cat.png", a), formField("overwrite", "1"), formField("type", "output")},
			`{"name": "cat.png", "subfolder": "", "type": "output"}`},
		// The first part of a name counts; other parts are dropped.
		{[]formPart{formFile("image", "dog.png", a), formFile("image", "cat.png", b), formField("type", "output"),
			formField("type", "temp"), formFile("other", "x.png", c), formField("other", "x")},
			`{"name": "dog.png", "subfolder": "", "type": "output"}`},
		// Fields after the file still count; subfolders are created.
		{[]formPart{formFile("image", "cat.png", a), formField("subfolder", "pasted/deep"), formField("type", "temp")},
			`{"name": "cat.png", "subfolder": "pasted/deep", "type": "temp"}`},
		{[]formPart{formField("subfolder", "pasted//deep/"), formFile("image", "cat.png", b), formField("type", "temp")},
			`{"name": "cat (1).png", "subfolder": "pasted//deep/", "type": "temp"}`},
	} {
		expectJSON(t, s.upload("/upload/image", tc.parts...), 200, tc.want)
	}
	for name, want := range map[string][]byte{
		"input/cat.png": c, "input/cat (1).png": b, "input/cat (2).png": c, "output/cat.png": a, "output/dog.png": a,
		"temp/pasted/deep/cat.png": a, "temp/pasted/deep/cat (1).png": b,
	} {
		if got := s.read(name); !bytes.Equal(got, want) {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	w := s.get("/view?type=temp&subfolder=pasted/deep&filename=cat%20(1).png")
	if w.Code != 200 || w.Body.String() != "second" {
		t.Errorf("view in subfolder: %d %q", w.Code, w.Body)
	}
	// Only the base name of filename counts, as in ComfyUI.
	if w := s.get("/view?type=temp&filename=pasted/deep/cat.png"); w.Code != 404 {
		t.Errorf("view with directories in filename: %d", w.Code)
	}
	// The spool files are gone.
	if m, _ := filepath.Glob(filepath.Join(s.base, "temp", ".upload-*")); len(m) != 0 {
		t.Errorf("spool files left: %v", m)
	}
}

func TestUploadBadForms(t *testing.T) {
	t.Parallel()
	s := newFilesServer(t, 1<<20)
	png := []byte("x")
	for _, tc := range []struct {
		name   string
		parts  []formPart
		status int
	}{
		{"no image", []formPart{formField("type", "input")}, 400},
		{"image as a field", []formPart{formField("image", "x")}, 400},
		{"empty file name", []formPart{formFile("image", "", png)}, 400},
		{"user folder", []formPart{formFile("image", "x.png", png), formField("type", "user")}, 400},
		{"unknown type", []formPart{formFile("image", "x.png", png), formField("type", "models")}, 400},
		{"empty type", []formPart{formFile("image", "x.png", png), formField("type", "")}, 400},
	} {
		w := s.upload("/upload/image", tc.parts...)
		if w.Code != tc.status || !strings.HasPrefix(w.Body.String(), `{"error": `) {
			t.Errorf("%s: %d %s", tc.name, w.Code, w.Body)
		}
	}
	// A file where a folder is needed, or a folder where a file is.
	s.write("input/dir/x", []byte("x"))
	s.write("input/file", []byte("x"))
	for _, parts := range [][]formPart{
		{formField("overwrite", "1"), formFile("image", "dir", png)},
		{formFile("image", "file/y.png", png)},
		{formField("subfolder", "file"), formFile("image", "y.png", png)},
	} {
		expectStatus(t, s.upload("/upload/image", parts...), 409)
	}
	r := httptest.NewRequest("POST", "/upload/image", strings.NewReader("image=x"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	expectStatus(t, s.serve(r), 400)
	r = httptest.NewRequest("POST", "/upload/image", strings.NewReader("--B\r\nContent-Disposition: form-data; name=\"image\"; filename=\"x.png\"\r\n\r\nabc"))
	r.Header.Set("Content-Type", "multipart/form-data; boundary=B")
	expectStatus(t, s.serve(r), 400)
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// An upload above the limit is refused while it streams: the body is not
// read to its end, nothing is stored and the spool file is removed.
func TestUploadTooLarge(t *testing.T) {
	t.Parallel()
	const limit = 1 << 20
	s := newFilesServer(t, limit)
	head, ct := multipartBody(formField("type", "input"))
	head = bytes.TrimSuffix(head, []byte("--"+strings.TrimPrefix(ct, "multipart/form-data; boundary=")+"--\r\n"))
	boundary := strings.TrimPrefix(ct, "multipart/form-data; boundary=")
	head = append(head, "--"+boundary+"\r\nContent-Disposition: form-data; name=\"image\"; filename=\"big.png\"\r\n\r\n"...)
	body := &countingReader{r: io.MultiReader(bytes.NewReader(head), io.LimitReader(zeros{}, 64*limit),
		strings.NewReader("\r\n--"+boundary+"--\r\n"))}
	r := httptest.NewRequest("POST", "/upload/image", body)
	r.Header.Set("Content-Type", ct)
	w := s.serve(r)
	expectJSON(t, w, 413, `{"error": "Maximum request body size 1048576 exceeded"}`)
	if body.n > 2*limit {
		t.Errorf("read %d bytes of a body refused at %d", body.n, limit)
	}
	for _, dir := range []string{"input", "temp"} {
		if entries, _ := os.ReadDir(filepath.Join(s.base, dir)); len(entries) != 0 {
			t.Errorf("%s holds %v", dir, entries)
		}
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestUploadMask(t *testing.T) {
	t.Parallel()
	s := newFilesServer(t, 1<<20)
	orig := image.NewRGBA(image.Rect(0, 0, 3, 2))
	for i := range orig.Pix {
		orig.Pix[i] = uint8(i * 9)
	}
	for i := 3; i < len(orig.Pix); i += 4 {
		orig.Pix[i] = 255
	}
	s.write("output/sub/orig.png", encodePNG(t, orig,
		imageio.TextChunk{Key: "prompt", Value: `{"1": {}}`}, imageio.TextChunk{Key: "workflow", Value: `{"n": 1}`}))
	mask := testImage(3, 2)
	maskPNG := encodePNG(t, mask)
	for _, ref := range []string{
		`{"filename": "orig.png", "subfolder": "sub", "type": "output"}`,
		`{"filename": "orig.png", "subfolder": "sub"}`,
		`{"filename": "orig.png [output]", "subfolder": "sub", "type": "input"}`,
	} {
		w := s.upload("/upload/mask", formFile("image", "mask.png", maskPNG), formField("type", "input"),
			formField("subfolder", "clipspace"), formField("original_ref", ref), formField("overwrite", "true"))
		expectJSON(t, w, 200, `{"name": "mask.png", "subfolder": "clipspace", "type": "input"}`)
		data := s.read("input/clipspace/mask.png")
		got, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		for y := range 2 {
			for x := range 3 {
				o, m := orig.RGBAAt(x, y), mask.NRGBAAt(x, y)
				want := color.NRGBA{R: o.R, G: o.G, B: o.B, A: m.A}
				if c := color.NRGBAModel.Convert(got.At(x, y)); c != want {
					t.Errorf("%s: pixel (%d,%d) = %v, want %v", ref, x, y, c, want)
				}
			}
		}
		text, err := imageio.ReadPNGText(bytes.NewReader(data))
		if err != nil || len(text) != 2 || text[0].Key != "prompt" || text[1].Value != `{"n": 1}` {
			t.Errorf("%s: text %q, %v", ref, text, err)
		}
	}
	for _, tc := range []struct {
		name   string
		parts  []formPart
		status int
	}{
		{"no original_ref", []formPart{formFile("image", "m.png", maskPNG)}, 400},
		{"bad JSON", []formPart{formFile("image", "m.png", maskPNG), formField("original_ref", "{")}, 400},
		{"missing original", []formPart{formFile("image", "m.png", maskPNG), formField("original_ref", `{"filename": "nope.png"}`)}, 404},
		{"traversal", []formPart{formFile("image", "m.png", maskPNG), formField("original_ref", `{"filename": "../base/output/sub/orig.png"}`)}, 400},
		{"bad type", []formPart{formFile("image", "m.png", maskPNG), formField("original_ref", `{"filename": "orig.png", "type": "user"}`)}, 400},
		{"size mismatch", []formPart{formFile("image", "m.png", encodePNG(t, testImage(2, 2))),
			formField("original_ref", `{"filename": "orig.png", "subfolder": "sub"}`)}, 400},
		{"mask not an image", []formPart{formFile("image", "m.png", []byte("nope")),
			formField("original_ref", `{"filename": "orig.png", "subfolder": "sub"}`)}, 415},
	} {
		w := s.upload("/upload/mask", tc.parts...)
		if w.Code != tc.status {
			t.Errorf("%s: %d %s", tc.name, w.Code, w.Body)
		}
	}
	if _, err := os.Stat(filepath.Join(s.base, "input", "m.png")); err == nil {
		t.Error("a failed mask upload stored a file")
	}
}

func TestViewPreviewAndChannels(t *testing.T) {
	t.Parallel()
	s := newFilesServer(t, 1<<20)
	src := testImage(8, 6)
	s.write("output/a.png", encodePNG(t, src))
	for _, tc := range []struct {
		query, ctype string
		decode       func(io.Reader) (image.Image, error)
	}{
		{"preview=webp;90", "image/webp", webp.Decode},
		{"preview=jpeg;50", "image/jpeg", jpeg.Decode},
		{"preview=jpeg;90&channel=rgba", "image/webp", webp.Decode},
		{"preview=bmp", "image/webp", webp.Decode},
	} {
		w := s.get("/view?filename=a.png&" + tc.query)
		if w.Code != 200 || w.Header().Get("Content-Disposition") != `filename="a.png"` {
			t.Errorf("%s: %d %v", tc.query, w.Code, w.Header())
			continue
		}
		ctype := w.Header().Get("Content-Type")
		decode := tc.decode
		if ctype == "image/jpeg" && tc.ctype == "image/webp" {
			t.Logf("%s: the WebP codec is unavailable, the preview is JPEG", tc.query)
			decode = jpeg.Decode
		} else if ctype != tc.ctype {
			t.Errorf("%s: Content-Type %q, want %q", tc.query, ctype, tc.ctype)
			continue
		}
		img, err := decode(w.Body)
		if err != nil || img.Bounds().Size() != src.Bounds().Size() {
			t.Errorf("%s: decoded %v, %v", tc.query, img, err)
		}
	}
	// channel=rgb: the colours, opaque; channel=a: black with the alpha.
	for _, tc := range []struct {
		channel string
		want    func(c color.NRGBA) color.NRGBA
	}{
		{"rgb", func(c color.NRGBA) color.NRGBA { c.A = 255; return c }},
		{"a", func(c color.NRGBA) color.NRGBA { return color.NRGBA{A: c.A} }},
	} {
		w := s.get("/view?filename=a.png&channel=" + tc.channel)
		if w.Code != 200 || w.Header().Get("Content-Type") != "image/png" {
			t.Fatalf("channel=%s: %d %v", tc.channel, w.Code, w.Header())
		}
		img, err := png.Decode(w.Body)
		if err != nil {
			t.Fatal(err)
		}
		for y := range 6 {
			for x := range 8 {
				if got, want := color.NRGBAModel.Convert(img.At(x, y)), tc.want(src.NRGBAAt(x, y)); got != want {
					t.Errorf("channel=%s (%d,%d) = %v, want %v", tc.channel, x, y, got, want)
				}
			}
		}
	}
	// Any other channel sends the file.
	if w := s.get("/view?filename=a.png&channel=rgba"); w.Code != 200 || !bytes.Equal(w.Body.Bytes(), s.read("output/a.png")) {
		t.Errorf("channel=rgba: %d", w.Code)
	}
	s.write("output/not-an-image.png", []byte("text"))
	expectStatus(t, s.get("/view?filename=not-an-image.png&preview=webp"), 415)
}

func TestViewContentTypes(t *testing.T) {
	t.Parallel()
	s := newFilesServer(t, 1<<20)
	for _, tc := range []struct {
		name, ctype, disposition string
	}{
		{"a.png", "image/png", `filename="a.png"`},
		{"a.webp", "image/webp", `filename="a.webp"`},
		{"a.mp4", "video/mp4", `filename="a.mp4"`},
		{`q"uote.png`, "image/png", `filename="q\"uote.png"`},
		{"x.html", "application/octet-stream", `attachment; filename="x.html"`},
		{"x.HTM", "application/octet-stream", `attachment; filename="x.HTM"`},
		{"x.svg", "application/octet-stream", `attachment; filename="x.svg"`},
		{"X.SVG", "application/octet-stream", `attachment; filename="X.SVG"`},
		{"x.svgz", "application/octet-stream", `attachment; filename="x.svgz"`},
		{"x.xml", "application/octet-stream", `attachment; filename="x.xml"`},
		{"x.xhtml", "application/octet-stream", `attachment; filename="x.xhtml"`},
		{"x.js", "application/octet-stream", `attachment; filename="x.js"`},
		{"x.css", "application/octet-stream", `attachment; filename="x.css"`},
		{"x.txt", "application/octet-stream", `attachment; filename="x.txt"`},
		{"x.json", "application/octet-stream", `attachment; filename="x.json"`},
		{"x.safetensors", "application/octet-stream", `attachment; filename="x.safetensors"`},
		{"noext", "application/octet-stream", `attachment; filename="noext"`},
	} {
		s.write("input/"+tc.name, []byte("<html><script>alert(1)</script></html>"))
		w := s.get("/view?type=input&filename=" + url.QueryEscape(tc.name))
		h := w.Header()
		if w.Code != 200 || h.Get("Content-Type") != tc.ctype || h.Get("Content-Disposition") != tc.disposition ||
			h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Content-Security-Policy") != "sandbox" {
			t.Errorf("%s: %d %v", tc.name, w.Code, h)
		}
	}
}

func TestViewErrors(t *testing.T) {
	t.Parallel()
	s := newFilesServer(t, 1<<20)
	s.write("output/a.png", []byte("a"))
	s.write("output/dir/b.png", []byte("b"))
	for target, status := range map[string]int{
		"/view":                                  404,
		"/view?filename=missing.png":             404,
		"/view?filename=dir":                     404,
		"/view?filename=a.png/x":                 404,
		"/view?filename=blake3:abcd":             404,
		"/view?filename=":                        400,
		"/view?filename=a.png&type=user":         400,
		"/view?filename=a.png&type=":             400,
		"/view?filename=a.png&type=models":       400,
		"/view?filename=a.png&subfolder=dir":     404,
		"/view?filename=b.png&subfolder=dir":     200,
		"/view?filename=b.png&subfolder=dir/":    200,
		"/view?filename=a.png&subfolder=..":      400,
		"/view?filename=..%2Foutput%2Fa.png":     400,
		"/view?filename=a.png%20%5Boutput%5D":    200,
		"/view?filename=a.png%20%5Binput%5D":     404,
		"/view?filename=a.png&type=output":       200,
		"/api/view?filename=a.png&subfolder=%2F": 400,
	} {
		if w := s.get(target); w.Code != status {
			t.Errorf("%s: %d, want %d (%s)", target, w.Code, status, w.Body)
		}
	}
	// A symbolic link out of the folder is refused as an escape.
	if err := os.Symlink(s.dir, filepath.Join(s.base, "output", "out")); err != nil {
		t.Fatal(err)
	}
	s.write("../secret.png", []byte("secret"))
	expectStatus(t, s.get("/view?filename=secret.png&subfolder=out"), 403)
}

// safetensors builds a safetensors file whose header is the given JSON.
func safetensors(header string) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(header)))
	b.WriteString(header)
	b.Write(make([]byte, 16))
	return b.Bytes()
}

func TestViewMetadata(t *testing.T) {
	t.Parallel()
	s := newFilesServer(t, 1<<20)
	s.write("models/loras/sub/l.safetensors", safetensors(`{"__metadata__":{"z":"1","a":"caf\u00e9"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`))
	s.write("models/loras/none.safetensors", safetensors(`{"w":{}}`))
	s.write("models/loras/big.safetensors", safetensors(`{"__metadata__":{}}`+strings.Repeat(" ", maxSafetensorsHeader)))
	s.write("models/loras/short.safetensors", []byte{1, 2})
	s.write("models/loras/bad.safetensors", safetensors(`{"__metadata__"`))
	s.write("models/text_encoders/t.safetensors", safetensors(`{"__metadata__":{"k":"v"}}`))
	expectJSON(t, s.get("/view_metadata/loras?filename=sub/l.safetensors"), 200, `{"z": "1", "a": "caf\u00e9"}`)
	// Legacy folder names are accepted here.
	expectJSON(t, s.get("/api/view_metadata/clip?filename=t.safetensors"), 200, `{"k": "v"}`)
	for _, target := range []string{
		"/view_metadata/loras?filename=none.safetensors",
		"/view_metadata/loras?filename=big.safetensors",
		"/view_metadata/loras?filename=short.safetensors",
		"/view_metadata/loras?filename=bad.safetensors",
		"/view_metadata/loras?filename=missing.safetensors",
		"/view_metadata/loras?filename=sub/l.ckpt",
		"/view_metadata/loras",
		"/view_metadata/nope?filename=sub/l.safetensors",
	} {
		if w := s.get(target); w.Code != 404 || w.Body.Len() != 0 {
			t.Errorf("%s: %d %q", target, w.Code, w.Body)
		}
	}
}

func TestModelRoutes(t *testing.T) {
	t.Parallel()
	s := newFilesServer(t, 1<<20)
	s.write("models/loras/b.safetensors", []byte("b"))
	s.write("models/loras/sub/a.pt", []byte("aa"))
	s.write("models/loras/.hidden/c.pt", []byte("c"))
	s.write("models/loras/notes.txt", []byte("n"))
	s.write("models/embeddings/EasyNegative.pt", []byte("e"))
	s.write("models/embeddings/sub/foo.safetensors", []byte("f"))

	w := s.get("/models")
	var names []string
	if err := json.Unmarshal(w.Body.Bytes(), &names); err != nil || len(names) == 0 || names[0] != "checkpoints" {
		t.Errorf("/models: %s", w.Body)
	}
	expectJSON(t, s.get("/models/loras"), 200, `[".hidden/c.pt", "b.safetensors", "sub/a.pt"]`)
	expectJSON(t, s.get("/api/models/checkpoints"), 200, `[]`)
	for _, target := range []string{"/models/clip", "/models/nope", "/experiment/models/nope"} {
		if w := s.get(target); w.Code != 404 || w.Body.Len() != 0 {
			t.Errorf("%s: %d %q", target, w.Code, w.Body)
		}
	}
	expectJSON(t, s.get("/embeddings"), 200, `["EasyNegative", "sub/foo"]`)

	var folders []struct {
		Name    string   `json:"name"`
		Folders []string `json:"folders"`
	}
	if err := json.Unmarshal(s.get("/experiment/models").Body.Bytes(), &folders); err != nil {
		t.Fatal(err)
	}
	for _, f := range folders {
		if f.Name == "configs" || f.Name == "custom_nodes" || len(f.Folders) == 0 {
			t.Errorf("/experiment/models: %+v", f)
		}
	}
	var models []struct {
		Name      string  `json:"name"`
		PathIndex int     `json:"pathIndex"`
		Modified  float64 `json:"modified"`
		Size      int64   `json:"size"`
	}
	if err := json.Unmarshal(s.get("/experiment/models/loras").Body.Bytes(), &models); err != nil {
		t.Fatal(err)
	}
	if len(models) != 2 || models[0].Name != "b.safetensors" || models[1].Name != "sub/a.pt" || models[1].Size != 2 ||
		models[0].PathIndex != 0 || models[0].Modified == 0 {
		t.Errorf("/experiment/models/loras: %+v", models)
	}
}

// dirState records every path under dir with its size and content, to
// prove that a test changed nothing there.
func dirState(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 || d.IsDir() {
			out[p] = "dir or link"
			return nil
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

// TestTraversalCorpus sends every name of the shared traversal corpus to
// every route that takes a file or folder name, and to LoadImage through
// the node. Images wait where a traversal would land, outside the folders
// and through a symbolic link out of each; every request must fail with a
// 4xx and nothing under the test's directory may change.
func TestTraversalCorpus(t *testing.T) {
	t.Parallel()
	s := newFilesServer(t, 1<<20)
	img := encodePNG(t, testImage(2, 2))
	for _, name := range []string{"x", "x.png", "b", "etc/passwd", "x.safetensors"} {
		s.write("../"+name, img)
		s.write(name, img)
	}
	s.write("../output/x.png", img)
	for _, dir := range []string{"input", "output", "temp", "models/loras"} {
		if err := os.MkdirAll(filepath.Join(s.base, filepath.FromSlash(dir)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(s.dir, filepath.Join(s.base, filepath.FromSlash(dir), "link")); err != nil {
			t.Fatal(err)
		}
	}
	corpus := append(files.TraversalCorpus(), "link/x.png", "link/x.safetensors", "link")
	reg := node.NewRegistry()
	imagefile.Register(reg)
	loadImage, _ := reg.Lookup("LoadImage")
	rt := &node.Runtime{Folders: node.Folders{Input: s.folders.Root(files.Input),
		Output: s.folders.Root(files.Output), Temp: s.folders.Root(files.Temp)}}
	before := dirState(t, s.dir)

	q := url.QueryEscape
	routes := []struct {
		route string
		send  func(name string) *httptest.ResponseRecorder
	}{
		{"upload filename", func(n string) *httptest.ResponseRecorder {
			return s.upload("/upload/image", formFile("image", n, img))
		}},
		{"upload subfolder", func(n string) *httptest.ResponseRecorder {
			return s.upload("/upload/image", formField("subfolder", n), formFile("image", "x.png", img), formField("type", "output"))
		}},
		{"mask filename", func(n string) *httptest.ResponseRecorder {
			return s.upload("/upload/mask", formFile("image", n, img), formField("original_ref", `{"filename": "x.png"}`))
		}},
		{"mask original", func(n string) *httptest.ResponseRecorder {
			ref, _ := json.Marshal(map[string]string{"filename": n})
			return s.upload("/upload/mask", formFile("image", "m.png", img), formField("original_ref", string(ref)))
		}},
		{"mask original subfolder", func(n string) *httptest.ResponseRecorder {
			ref, _ := json.Marshal(map[string]string{"filename": "x.png", "subfolder": n})
			return s.upload("/upload/mask", formFile("image", "m.png", img), formField("original_ref", string(ref)))
		}},
		{"view filename", func(n string) *httptest.ResponseRecorder { return s.get("/view?type=input&filename=" + q(n)) }},
		{"view filename output", func(n string) *httptest.ResponseRecorder { return s.get("/view?filename=" + q(n)) }},
		{"view subfolder", func(n string) *httptest.ResponseRecorder {
			return s.get("/view?type=temp&filename=x.png&subfolder=" + q(n))
		}},
		{"view preview", func(n string) *httptest.ResponseRecorder {
			return s.get("/view?filename=x.png&preview=webp&subfolder=" + q(n))
		}},
		{"view_metadata", func(n string) *httptest.ResponseRecorder {
			return s.get("/view_metadata/loras?filename=" + q(n+".safetensors"))
		}},
		{"view_metadata folder", func(n string) *httptest.ResponseRecorder {
			return s.get("/view_metadata/" + url.PathEscape(n) + "?filename=x.safetensors")
		}},
		{"models folder", func(n string) *httptest.ResponseRecorder { return s.get("/models/" + url.PathEscape(n)) }},
		{"experiment models folder", func(n string) *httptest.ResponseRecorder {
			return s.get("/experiment/models/" + url.PathEscape(n))
		}},
	}
	for _, name := range corpus {
		for _, r := range routes {
			if w := r.send(name); w.Code < 400 || w.Code >= 500 {
				t.Errorf("%s %q: %d %s", r.route, name, w.Code, w.Body)
			}
		}
		c := node.NewCall(rt, "1", 0, map[string]any{"image": name})
		if validate, _ := loadImage.Validator(); validate(context.Background(), c) == nil {
			t.Errorf("LoadImage validated %q", name)
		}
		if err := loadImage.Run(context.Background(), c); node.ExceptionType(err) != "ValueError" {
			t.Errorf("LoadImage %q: %v", name, err)
		}
	}
	after := dirState(t, s.dir)
	for p, v := range after {
		if before[p] != v {
			t.Errorf("%s was written", p)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			t.Errorf("%s was removed", p)
		}
	}
}

// FuzzUploadImage sends arbitrary multipart bodies to POST /upload/image:
// no input may crash the server or get a 500.
func FuzzUploadImage(f *testing.F) {
	for _, parts := range [][]formPart{
		{formFile("image", "cat.png", []byte("\x89PNG\r\n\x1a\n"))},
		{formField("type", "temp"), formField("subfolder", "a/b"), formFile("image", "x y.png", []byte("abc")), formField("overwrite", "1")},
		{formFile("image", "../x.png", []byte("abc"))},
		{formField("image", "plain")},
	} {
		body, ct := multipartBody(parts...)
		f.Add(body, strings.TrimPrefix(ct, "multipart/form-data; boundary="))
	}
	f.Add([]byte("--B\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a\\\"b.png\"\r\n\r\nx\r\n--B--\r\n"), "B")
	s := newFilesServer(f, 1<<16)
	f.Fuzz(func(t *testing.T, body []byte, boundary string) {
		r := httptest.NewRequest("POST", "/upload/image", bytes.NewReader(body))
		r.Header.Set("Content-Type", "multipart/form-data; boundary="+boundary)
		if w := s.serve(r); w.Code >= 500 {
			t.Errorf("%d %s", w.Code, w.Body)
		}
	})
}

// BenchmarkViewPreviewWebP is GET /view?preview=webp;90 of a 1024×1024
// RGB PNG: read, decode, WebP encode.
func BenchmarkViewPreviewWebP(b *testing.B) {
	s := newFilesServer(b, 1<<20)
	const n = 1024
	img := imageio.NewRGB(image.Rect(0, 0, n, n))
	for i := range img.Pix {
		img.Pix[i] = uint8(i / 3 % 251)
	}
	s.write("output/big.png", encodePNG(b, img))
	w := s.get("/view?filename=big.png&preview=webp;90")
	if w.Code != 200 {
		b.Fatalf("%d %s", w.Code, w.Body)
	}
	b.Logf("Content-Type %s, %d bytes", w.Header().Get("Content-Type"), w.Body.Len())
	for b.Loop() {
		s.get("/view?filename=big.png&preview=webp;90")
	}
}
