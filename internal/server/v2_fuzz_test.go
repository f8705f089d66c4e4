package server

import (
	"net/http/httptest"
	"net/url"
	"testing"
)

// FuzzV2Parsers feeds untrusted input to the v2 request parsers: the
// UI-format check of a workflow and the wait of a synchronous run.
func FuzzV2Parsers(f *testing.F) {
	for _, seed := range []string{`{"nodes": [], "links": []}`, `{"1": {"class_type": "X"}}`, `[]`, `{`, "10", "wait=5", "-1", "NaN", "1e400"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		isUIFormat([]byte(s))
		r := httptest.NewRequest("POST", "/api/v2/jobs?wait="+url.QueryEscape(s), nil)
		if d, err := waitOf(r); err == nil && (d < 0 || d > maxWait) {
			t.Fatalf("wait %q: %v", s, d)
		}
		r = httptest.NewRequest("POST", "/api/v2/jobs", nil)
		r.Header.Set("Prefer", s)
		if d, err := waitOf(r); err == nil && (d < 0 || d > maxWait) {
			t.Fatalf("Prefer %q: %v", s, d)
		}
	})
}
