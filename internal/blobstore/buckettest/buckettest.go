// Package buckettest gives tests a bucket of their own: an in-memory S3
// (gofakes3, the real protocol over HTTP on loopback, so that requests go
// through the AWS SDK as they would to a real one) or a folder.
package buckettest

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// S3 serves an in-memory S3 with one bucket until the test ends and
// returns the bucket's s3:// URL. Every request goes through mw, if given,
// first. Credentials come from the standard AWS environment, set to test
// values with t.Setenv (so a test that calls S3 cannot run in parallel),
// and no shared config is read from the host.
func S3(t testing.TB, mw func(http.Handler) http.Handler) string {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket("gocomfy"); err != nil {
		t.Fatal(err)
	}
	var h http.Handler = gofakes3.New(backend).Server()
	if mw != nil {
		h = mw(h)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // gofakes3 writes headers twice on errors
	srv.Start()
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	return "s3://gocomfy?region=us-east-1&use_path_style=true&endpoint=" + url.QueryEscape(srv.URL)
}

// URL returns the URL of a bucket of the test's own: with scheme "file" a
// temporary folder, with "s3" an in-memory S3 (see S3).
func URL(t testing.TB, scheme string) string {
	t.Helper()
	if scheme == "file" {
		return "file://" + t.TempDir()
	}
	return S3(t, nil)
}
