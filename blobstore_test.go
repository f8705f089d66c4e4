package gocomfy_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gocomfy/gocomfy"
	"github.com/gocomfy/gocomfy/internal/blobstore/buckettest"
	"github.com/gocomfy/gocomfy/internal/files"
)

// bucketPair starts instances a and b, each with its own folders and
// SQLite database, sharing one bucket: a fake S3, or with scheme "file" a
// shared folder.
func bucketPair(t *testing.T, scheme string) (a, b *testServer) {
	t.Helper()
	bucket := buckettest.URL(t, scheme)
	a = startServer(t, gocomfy.Config{OutputBucket: bucket})
	b = startServer(t, gocomfy.Config{OutputBucket: bucket})
	return a, b
}

// get sends GET path with the given headers and returns the response with
// its body read.
func (ts *testServer) get(path string, header ...string) (*http.Response, []byte) {
	ts.t.Helper()
	req, err := http.NewRequest("GET", ts.url+path, nil)
	if err != nil {
		ts.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := testClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatal(err)
	}
	return resp, body
}

// waitView polls GET path on ts until it answers 200: files reach other
// instances once their upload is done.
func (ts *testServer) waitView(path string) []byte {
	ts.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, body := ts.get(path)
		if resp.StatusCode == http.StatusOK {
			return body
		}
		if resp.StatusCode != http.StatusNotFound || time.Now().After(deadline) {
			ts.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// uploadFile sends content to POST /upload/image as name in folder typ and
// returns the stored name.
func (ts *testServer) uploadFile(typ, subfolder, name string, content []byte) string {
	ts.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("type", typ)
	mw.WriteField("subfolder", subfolder)
	mw.WriteField("overwrite", "true")
	fw, _ := mw.CreateFormFile("image", name)
	fw.Write(content)
	mw.Close()
	resp, err := testClient.Post(ts.url+"/upload/image", mw.FormDataContentType(), &body)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Name string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		ts.t.Fatalf("upload %s: %d %v", name, resp.StatusCode, err)
	}
	return out.Name
}

// savedImages runs a SaveImage prompt on ts and returns its images' /view
// queries.
func (ts *testServer) savedImages(prefix string) []string {
	ts.t.Helper()
	id := ts.submit(map[string]any{"prompt": map[string]any{
		"1": map[string]any{"class_type": "EmptyImage",
			"inputs": map[string]any{"width": 64, "height": 48, "batch_size": 2, "color": 0x336699}},
		"2": map[string]any{"class_type": "SaveImage",
			"inputs": map[string]any{"images": []any{"1", 0}, "filename_prefix": prefix}},
	}})
	ts.waitIdle(1)
	var h map[string]struct {
		Outputs map[string]struct {
			Images []struct{ Filename, Subfolder, Type string }
		}
	}
	ts.getJSON("/history/"+id, &h)
	var views []string
	for _, img := range h[id].Outputs["2"].Images {
		views = append(views, "/view?"+url.Values{
			"filename": {img.Filename}, "subfolder": {img.Subfolder}, "type": {img.Type}}.Encode())
	}
	if len(views) != 2 {
		ts.t.Fatalf("history of %s: %+v", id, h)
	}
	return views
}

// viewHeaders are the headers /view must send alike from a folder and
// from the bucket.
var viewHeaders = []string{"Content-Type", "Content-Disposition", "Content-Length", "ETag", "Last-Modified",
	"Accept-Ranges", "Content-Range", "X-Content-Type-Options", "Content-Security-Policy"}

// sameView GETs path (with a Range, if given) from the instance holding
// the file and from the other, and checks status, body and headers match.
func sameView(t *testing.T, local, remote *testServer, path string, header ...string) []byte {
	t.Helper()
	lr, lb := local.get(path, header...)
	rr, rb := remote.get(path, header...)
	if lr.StatusCode != rr.StatusCode || !bytes.Equal(lb, rb) {
		t.Errorf("GET %s %v: local %d (%d bytes), bucket %d (%d bytes)", path, header,
			lr.StatusCode, len(lb), rr.StatusCode, len(rb))
	}
	for _, h := range viewHeaders {
		if l, r := lr.Header.Get(h), rr.Header.Get(h); l != r {
			t.Errorf("GET %s %v: %s local %q, bucket %q", path, header, h, l, r)
		}
	}
	return rb
}

// TestBucketServesOtherInstancesOutputs: instance B runs a SaveImage
// prompt; instance A, which has no such file, serves it from the bucket
// byte for byte, with B's headers, ranges and previews, and numbers its
// own saves after B's.
func TestBucketServesOtherInstancesOutputs(t *testing.T) {
	for _, scheme := range []string{"s3", "file"} {
		t.Run(scheme, func(t *testing.T) { testBucketServes(t, scheme) })
	}
}

func testBucketServes(t *testing.T, scheme string) {
	a, b := bucketPair(t, scheme)
	views := b.savedImages("shared/run")
	for _, v := range views {
		a.waitView(v)
		png := sameView(t, b, a, v)
		if !bytes.HasPrefix(png, []byte("\x89PNG")) {
			t.Errorf("%s: not a PNG", v)
		}
		sameView(t, b, a, v, "Range", "bytes=10-99")
		sameView(t, b, a, v, "Range", "bytes=-16")
		sameView(t, b, a, v, "Range", "bytes=100000-") // 416
		resp, _ := a.get(v, "Range", "bytes=10-99")
		if resp.StatusCode != http.StatusPartialContent {
			t.Errorf("range from the bucket: %d", resp.StatusCode)
		}
		etag := resp.Header.Get("ETag")
		if resp, _ := a.get(v, "If-None-Match", etag); resp.StatusCode != http.StatusNotModified {
			t.Errorf("If-None-Match from the bucket: %d", resp.StatusCode)
		}
		sameView(t, b, a, v+"&preview=webp;80")
		sameView(t, b, a, v+"&channel=a")
	}
	// The file is A's only through the bucket: its own folder lacks it.
	if _, err := os.Stat(a.base + "/output/shared"); !os.IsNotExist(err) {
		t.Errorf("A's output folder has shared/: %v", err)
	}
	// A's saves under the same prefix number after B's.
	if got := a.savedImages("shared/run")[0]; !strings.Contains(got, "run_00003_.png") {
		t.Errorf("A's first save after B's two: %s, want run_00003_.png", got)
	}
	// Temp files stay on their instance.
	name := b.uploadFile("temp", "", "t.png", []byte("temp"))
	if resp, _ := b.get("/view?type=temp&filename=" + name); resp.StatusCode != http.StatusOK {
		t.Errorf("temp on its instance: %d", resp.StatusCode)
	}
	time.Sleep(100 * time.Millisecond)
	if resp, _ := a.get("/view?type=temp&filename=" + name); resp.StatusCode != http.StatusNotFound {
		t.Errorf("temp on the other instance: %d, want 404", resp.StatusCode)
	}
}

// TestBucketSafetyRules: files from the bucket get the same types and
// dispositions as local ones (HTML and SVG never inline), and input
// uploads are shared too.
func TestBucketSafetyRules(t *testing.T) {
	a, b := bucketPair(t, "s3")
	cases := []struct{ typ, sub, name, ctype string }{
		{"output", "", "page.html", "application/octet-stream"},
		{"output", "x", "logo.svg", "application/octet-stream"},
		{"output", "", "clip.mp4", "video/mp4"},
		{"input", "masks", "m.webp", "image/webp"},
	}
	for _, c := range cases {
		name := b.uploadFile(c.typ, c.sub, c.name, []byte("<svg onload=alert(1)><script>x</script></svg>"))
		v := "/view?" + url.Values{"filename": {name}, "subfolder": {c.sub}, "type": {c.typ}}.Encode()
		a.waitView(v)
		sameView(t, b, a, v)
		resp, _ := a.get(v)
		if got := resp.Header.Get("Content-Type"); got != c.ctype {
			t.Errorf("%s: Content-Type %q, want %q", c.name, got, c.ctype)
		}
		if inline := resp.Header.Get("Content-Disposition"); c.ctype == "application/octet-stream" &&
			!strings.HasPrefix(inline, "attachment") {
			t.Errorf("%s: Content-Disposition %q", c.name, inline)
		}
	}
}

// TestBucketTraversal: every name of the traversal corpus, as a file name
// and as a subfolder, gets the same status from /view on an instance with
// a bucket as on one without, and a file stored under a name no request
// can form is never reached.
func TestBucketTraversal(t *testing.T) {
	_, withBucket := bucketPair(t, "s3")
	local := startServer(t, gocomfy.Config{})
	withBucket.uploadFile("output", "", "secret.png", []byte("secret"))
	for _, name := range files.TraversalCorpus() {
		for _, q := range []url.Values{
			{"filename": {name}, "type": {"output"}},
			{"filename": {"secret.png"}, "subfolder": {name}, "type": {"output"}},
			{"filename": {name}, "type": {"input"}},
			{"filename": {name + " [output]"}},
		} {
			v := "/view?" + q.Encode()
			lr, _ := local.get(v)
			br, body := withBucket.get(v)
			if lr.StatusCode != br.StatusCode {
				t.Errorf("%s: %d without a bucket, %d with one", v, lr.StatusCode, br.StatusCode)
			}
			if br.StatusCode < 400 || br.StatusCode >= 500 {
				t.Errorf("%s: %d %q, want a 4xx", v, br.StatusCode, body)
			}
		}
	}
}

// pngOf encodes a w×h image of one colour.
func pngOf(t *testing.T, w, h int, c color.Color) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.NewUniform(c), image.Point{}, draw.Src)
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestBucketLoadImageFromOtherInstance: an image uploaded to instance A
// is loaded by a prompt queued on B (validated and run there), the mask
// editor on B composites onto an output of A, and /metrics on both shows
// the transfers.
func TestBucketLoadImageFromOtherInstance(t *testing.T) {
	a, b := bucketPair(t, "s3")
	name := a.uploadFile("input", "shared", "cat.png", pngOf(t, 8, 6, color.NRGBA{200, 10, 10, 255}))
	// No wait: the upload answers once the bucket has the file.

	code, body := b.do("POST", "/prompt", map[string]any{"prompt": map[string]any{
		"1": map[string]any{"class_type": "LoadImage", "inputs": map[string]any{"image": "shared/" + name}},
		"2": map[string]any{"class_type": "SaveImage",
			"inputs": map[string]any{"images": []any{"1", 0}, "filename_prefix": "loaded"}},
	}})
	var acc struct {
		PromptID string `json:"prompt_id"`
	}
	if json.Unmarshal(body, &acc); code != http.StatusOK {
		t.Fatalf("LoadImage of A's upload, queued on B: %d %s", code, body)
	}
	id := acc.PromptID
	b.waitIdle(1)
	var h map[string]struct {
		Status struct {
			StatusStr string `json:"status_str"`
		}
	}
	b.getJSON("/history/"+id, &h)
	if got := h[id].Status.StatusStr; got != "success" {
		t.Fatalf("LoadImage of A's upload on B: %q", got)
	}
	if _, err := os.Stat(b.base + "/input/shared/" + name); err != nil {
		t.Errorf("B's input folder lacks the fetched copy: %v", err)
	}
	// A file in neither folder nor bucket fails validation as without a
	// bucket.
	if code, body := b.do("POST", "/prompt", map[string]any{"prompt": map[string]any{
		"1": map[string]any{"class_type": "LoadImage", "inputs": map[string]any{"image": "nowhere.png"}},
		"2": map[string]any{"class_type": "SaveImage", "inputs": map[string]any{"images": []any{"1", 0}}},
	}}); code != http.StatusBadRequest || !strings.Contains(string(body), "Invalid image file") {
		t.Errorf("missing image: %d %s", code, body)
	}

	// The mask editor on B, for an output A saved.
	views := a.savedImages("masked")
	out, _ := url.ParseQuery(strings.TrimPrefix(views[0], "/view?"))
	b.waitView(views[0])
	ref, _ := json.Marshal(map[string]string{"filename": out.Get("filename"), "subfolder": out.Get("subfolder"), "type": "output"})
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	mw.WriteField("original_ref", string(ref))
	mw.WriteField("type", "input")
	fw, _ := mw.CreateFormFile("image", "mask.png")
	fw.Write(pngOf(t, 64, 48, color.NRGBA{0, 0, 0, 128}))
	mw.Close()
	resp, err := testClient.Post(b.url+"/upload/mask", mw.FormDataContentType(), &form)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/upload/mask on B with A's output: %d %s", resp.StatusCode, msg)
	}

	for _, c := range []struct {
		ts   *testServer
		want []string
	}{
		{a, []string{`gocomfy_bucket_uploads_total{result="uploaded"} 3`, `gocomfy_bucket_uploads_total{result="failed"} 0`,
			`gocomfy_bucket_fetches_total{result="fetched"} 0`}},
		{b, []string{`gocomfy_bucket_fetches_total{result="fetched"} 2`, `gocomfy_bucket_fetches_total{result="failed"} 0`,
			`gocomfy_bucket_read_errors_total 0`}},
	} {
		_, metrics := c.ts.get("/metrics")
		for _, w := range c.want {
			if !strings.Contains(string(metrics), w+"\n") {
				t.Errorf("%s /metrics lacks %s", c.ts.url, w)
			}
		}
	}
}

// TestBucketDown: with a bucket that refuses every request, prompts
// still succeed and their outputs are served by their instance, uploads
// are answered, /view of other files is a 404, and /metrics shows the
// failures.
func TestBucketDown(t *testing.T) {
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden) // AccessDenied: not retried by the SDK
		io.WriteString(w, `<Error><Code>AccessDenied</Code><Message>refused by the test</Message></Error>`)
	}))
	defer refuse.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	ts := startServer(t, gocomfy.Config{ShutdownGrace: 100 * time.Millisecond,
		OutputBucket: "s3://down?region=us-east-1&use_path_style=true&endpoint=" + url.QueryEscape(refuse.URL)})
	for _, v := range ts.savedImages("kept") {
		if resp, _ := ts.get(v); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s on the writing instance: %d", v, resp.StatusCode)
		}
	}
	ts.uploadFile("input", "", "in.png", pngOf(t, 2, 2, color.White))
	if resp, body := ts.get("/view?filename=elsewhere.png"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/view of a file the bucket cannot give: %d %s", resp.StatusCode, body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, metrics := ts.get("/metrics")
		var retried int
		for line := range strings.Lines(string(metrics)) {
			fmt.Sscanf(line, `gocomfy_bucket_uploads_total{result="retried"} %d`, &retried)
		}
		if retried >= 3 { // the first attempt of each file, at least
			// The save's listing for its number, and the /view.
			if !strings.Contains(string(metrics), "gocomfy_bucket_read_errors_total 2\n") {
				t.Errorf("/metrics does not count the 2 failed reads:\n%s", metrics)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics does not count 3 retried uploads:\n%s", metrics)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BenchmarkBucketView measures GET /view of a 1 MiB file, whole and a
// 4 KiB range, from the folder of the instance that wrote it (local) and
// from the bucket on the other instance (bucket: gofakes3 on loopback).
func BenchmarkBucketView(b *testing.B) {
	bucket := buckettest.S3(b, nil)
	writer := startServer(b, gocomfy.Config{OutputBucket: bucket})
	reader := startServer(b, gocomfy.Config{OutputBucket: bucket})
	content := make([]byte, 1<<20)
	rand.Read(content)
	v := "/view?type=output&filename=" + writer.uploadFile("output", "", "big.png", content)
	for _, c := range []struct {
		name   string
		ts     *testServer
		header []string
	}{
		{"local", writer, nil},
		{"bucket", reader, nil},
		{"local/range4KiB", writer, []string{"Range", "bytes=524288-528383"}},
		{"bucket/range4KiB", reader, []string{"Range", "bytes=524288-528383"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if resp, body := c.ts.get(v, c.header...); resp.StatusCode >= 300 || len(body) == 0 {
					b.Fatalf("GET %s: %d", v, resp.StatusCode)
				}
			}
		})
	}
}

// TestBucketFlagRefusesBadURL: a server with an unusable bucket URL does
// not start, and its error does not repeat the URL's credentials.
func TestBucketFlagRefusesBadURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"gs://b", "s3://key:secret@b", "ftp://x"} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		err = gocomfy.New(gocomfy.Config{BaseDir: t.TempDir(), OutputBucket: u,
			Logger: slog.New(slog.DiscardHandler)}).Serve(t.Context(), ln)
		if err == nil || strings.Contains(err.Error(), "secret") {
			t.Errorf("--output-bucket %s: %v", u, err)
		}
	}
}
