package gocomfy_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"github.com/gocomfy/gocomfy"
	"github.com/gocomfy/gocomfy/internal/blobstore"
	"github.com/gocomfy/gocomfy/internal/blobstore/buckettest"
	"github.com/gocomfy/gocomfy/internal/store/postgres/pgtest"
)

// uploadAsset sends content to POST /api/assets with tags input and
// returns the new reference's id and the content's hash.
func (ts *testServer) uploadAsset(name string, content []byte) (id, hash string) {
	ts.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("tags", "input,shared")
	mw.WriteField("name", name)
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(content)
	mw.Close()
	resp, err := testClient.Post(ts.url+"/api/assets", mw.FormDataContentType(), &body)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	var created struct{ ID string }
	err = json.NewDecoder(resp.Body).Decode(&created)
	if err != nil || resp.StatusCode != http.StatusCreated || created.ID == "" {
		ts.t.Fatalf("POST /api/assets: %d, %+v, %v", resp.StatusCode, created, err)
	}
	return created.ID, fmt.Sprintf("blake3:%x", blake3.Sum256(content))
}

// forgetLocal removes every local copy of the content with hash from the
// instance whose folders are under base (the content store's blob and the
// input folder's link to it), as if the instance ran on another machine.
func forgetLocal(t *testing.T, base, hash string) {
	t.Helper()
	digest := strings.TrimPrefix(hash, "blake3:")
	removed := 0
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), digest) {
			removed++
			return os.Remove(p)
		}
		return err
	})
	if err != nil || removed < 2 {
		t.Fatalf("removing %s from %s: %d files, %v", hash, base, removed, err)
	}
}

// blobPath is where the instance whose folders are under base keeps the
// content with hash.
func blobPath(base, hash string) string {
	digest := strings.TrimPrefix(hash, "blake3:")
	return filepath.Join(base, "user", "__assets", "blake3", digest[:2], digest[2:4], digest)
}

// assetHeaders are the headers a content download must send alike from
// the instance that received the upload and from another one.
var assetHeaders = []string{"Content-Type", "Content-Disposition", "Content-Length", "Last-Modified",
	"Accept-Ranges", "Content-Range", "X-Content-Type-Options", "Content-Security-Policy"}

// TestBucketSharesAssetContent: two instances share one PostgreSQL
// database and one bucket, not their folders. Content uploaded to A
// through the assets API is downloaded from B byte for byte, with A's
// headers, once A's own copies are gone; a corrupt bucket copy is
// refused and not kept.
func TestBucketSharesAssetContent(t *testing.T) {
	for _, scheme := range []string{"s3", "file"} {
		t.Run(scheme, func(t *testing.T) { testBucketSharesAssetContent(t, scheme) })
	}
}

func testBucketSharesAssetContent(t *testing.T, scheme string) {
	db, bucketURL := pgtest.Schema(t), buckettest.URL(t, scheme)
	cfg := gocomfy.Config{DatabaseURL: db, EnableAssets: true, OutputBucket: bucketURL}
	a, b := startServer(t, cfg), startServer(t, cfg)

	content := make([]byte, 300<<10)
	rand.Read(content)
	id, hash := a.uploadAsset("photo.png", content)
	paths := []string{"/api/assets/" + id + "/content", "/api/v2/assets/" + id + "/content"}
	ranges := [][]string{nil, {"Range", "bytes=1000-1999"}}
	type answer struct {
		resp *http.Response
		body []byte
	}
	want := map[string]answer{}
	for _, p := range paths {
		for _, h := range ranges {
			resp, body := a.get(p, h...)
			want[fmt.Sprint(p, h)] = answer{resp, body}
		}
	}
	if w := want[fmt.Sprint(paths[0], ranges[0])]; w.resp.StatusCode != http.StatusOK || !bytes.Equal(w.body, content) {
		t.Fatalf("GET %s on a: %d, %d bytes", paths[0], w.resp.StatusCode, len(w.body))
	}
	forgetLocal(t, a.base, hash)

	for _, p := range paths {
		for _, h := range ranges {
			w := want[fmt.Sprint(p, h)]
			resp, body := b.get(p, h...)
			if resp.StatusCode != w.resp.StatusCode || !bytes.Equal(body, w.body) {
				t.Errorf("GET %s %v on b: %d (%d bytes), a sent %d (%d bytes)", p, h,
					resp.StatusCode, len(body), w.resp.StatusCode, len(w.body))
			}
			for _, k := range assetHeaders {
				if got, want := resp.Header.Get(k), w.resp.Header.Get(k); got != want {
					t.Errorf("GET %s %v on b: %s %q, a sent %q", p, h, k, got, want)
				}
			}
		}
	}
	if _, err := os.Stat(blobPath(b.base, hash)); err != nil {
		t.Errorf("b did not keep the content it fetched: %v", err)
	}
	// A, which lost its copies, fetches the content back from the bucket
	// for /view by hash too.
	if resp, body := a.get("/view?filename=" + hash); resp.StatusCode != http.StatusOK || !bytes.Equal(body, content) {
		t.Errorf("GET /view?filename=%s on a after losing its copies: %d, %d bytes", hash, resp.StatusCode, len(body))
	}
	for _, p := range []string{"/api/assets/hash/" + hash, "/api/v2/assets/by-hash/" + hash} {
		if status, body := b.do("HEAD", p, nil); status != http.StatusOK {
			t.Errorf("HEAD %s on b: %d %s", p, status, body)
		}
	}

	// A corrupt copy in the bucket (same size, other bytes) is refused.
	bad := make([]byte, 64<<10)
	rand.Read(bad)
	id, hash = a.uploadAsset("other.bin", bad)
	forgetLocal(t, a.base, hash)
	bucket, err := blobstore.OpenBucket(context.Background(), bucketURL)
	if err != nil {
		t.Fatal(err)
	}
	defer bucket.Close()
	bad[0] ^= 0xff
	if err := bucket.Put(context.Background(), blobstore.BlobKey(hash), bytes.NewReader(bad), int64(len(bad)), time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/api/assets/" + id + "/content", "/api/v2/assets/" + id + "/content"} {
		resp, body := b.get(p)
		if resp.StatusCode != http.StatusNotFound || bytes.Equal(body, bad) {
			t.Errorf("GET %s on b with a corrupt bucket copy: %d %.200s", p, resp.StatusCode, body)
		}
	}
	if _, err := os.Stat(blobPath(b.base, hash)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("b kept the corrupt copy: %v", err)
	}
}

// TestBucketSharesOutputAssets: an output that one instance saved is an
// asset of the shared database; the other instance, whose folders lack
// the file, serves its content through the assets API by fetching the
// file from the bucket, as LoadImage would.
func TestBucketSharesOutputAssets(t *testing.T) {
	db, bucketURL := pgtest.Schema(t), buckettest.URL(t, "s3")
	cfg := gocomfy.Config{DatabaseURL: db, EnableAssets: true, OutputBucket: bucketURL}
	a, b := startServer(t, cfg), startServer(t, cfg)

	// The instances share the queue: either may run the prompt.
	views := b.savedImages("shared/out")
	writer, other := b, a
	if _, err := os.Stat(filepath.Join(a.base, "output", "shared")); err == nil {
		writer, other = a, b
	}
	png := other.waitView(views[0])
	var list struct {
		Assets []struct {
			ID           string
			UserMetadata struct{ Filename string } `json:"user_metadata"`
		}
	}
	writer.getJSON("/api/assets?include_tags=output&limit=10", &list)
	id := ""
	for _, as := range list.Assets {
		if strings.Contains(views[0], "filename="+strings.TrimPrefix(as.UserMetadata.Filename, "shared/")) {
			id = as.ID
		}
	}
	if id == "" {
		t.Fatalf("no output asset for %s in %+v", views[0], list)
	}
	if _, err := os.Stat(filepath.Join(other.base, "output", "shared")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the other instance's output folder has the file already: %v", err)
	}
	for _, p := range []string{"/api/assets/" + id + "/content", "/api/v2/assets/" + id + "/content"} {
		if resp, body := other.get(p); resp.StatusCode != http.StatusOK || !bytes.Equal(body, png) {
			t.Errorf("GET %s on the other instance: %d, %d bytes, want the %d bytes of %s",
				p, resp.StatusCode, len(body), len(png), views[0])
		}
	}
}
