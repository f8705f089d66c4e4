package server

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"path"
	"strings"
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

// FuzzV2Placement: an asset's file_path always gives tags led by a root
// folder and a name without a separator.
func FuzzV2Placement(f *testing.F) {
	for _, seed := range []string{"photo.png", "models/checkpoints/x.safetensors", "input/a/b.png", "../../etc/passwd",
		`C:\Windows\x`, "/", "", "output/", "a//b", "MODELS/Loras/x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, p string) {
		tags, name := placement(p)
		if len(tags) == 0 || (tags[0] != "input" && tags[0] != "output" && tags[0] != "models") {
			t.Fatalf("%q: tags %q", p, tags)
		}
		if strings.ContainsAny(name, `/\`) || path.Base("/"+name) != name && name != "" {
			t.Fatalf("%q: name %q", p, name)
		}
	})
}

// FuzzV2AssetUpload sends arbitrary multipart bodies and from-hash bodies
// to the v2 assets: never a 5xx, always a JSON answer.
func FuzzV2AssetUpload(f *testing.F) {
	const boundary = "B"
	for _, seed := range []string{
		"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\nabc\r\n--B\r\nContent-Disposition: form-data; name=\"content_type\"\r\n\r\nimage/png\r\n--B\r\nContent-Disposition: form-data; name=\"file_path\"\r\n\r\nmodels/checkpoints/../x.png\r\n--B--\r\n",
		"--B\r\nContent-Disposition: form-data; name=\"expected_hash\"\r\n\r\nblake3:zz\r\n--B--\r\n",
		"--B\r\nContent-Disposition: form-data; name=\"tags\"\r\n\r\n[\"models\", 1]\r\n--B--\r\n",
		"--B\r\n", `{"hash": "blake3:` + strings.Repeat("0", 64) + `", "file_path": "../x", "tags": ["input", ".."]}`, `{"hash": null}`,
	} {
		f.Add(seed)
	}
	e := newAssetEnv(f, 1<<20)
	f.Fuzz(func(t *testing.T, body string) {
		for _, req := range []struct{ target, contentType string }{
			{"/api/v2/assets", "multipart/form-data; boundary=" + boundary},
			{"/api/v2/assets/from-hash", "application/json"},
		} {
			w := e.do("POST", req.target, strings.NewReader(body), req.contentType)
			if w.Code >= 500 || !json.Valid(w.Body.Bytes()) {
				t.Fatalf("%s: %d %s", req.target, w.Code, w.Body)
			}
		}
	})
}
