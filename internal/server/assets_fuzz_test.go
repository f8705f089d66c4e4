package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gocomfy/gocomfy/internal/store"
)

// The parsers of the assets API's untrusted input, fuzzed: query strings,
// JSON bodies, upload tags, user_metadata and cursors. Run one with
// go test -run '^$' -fuzz '^FuzzAssetQuery$' ./internal/server/

// fuzzAnswer checks what a route answered to fuzzed input: never a 5xx,
// and a 4xx carries an error in the assets API's shape.
func fuzzAnswer(t *testing.T, method, target string, code int, body []byte) {
	t.Helper()
	if code >= 500 {
		t.Fatalf("%s %s = %d: %s", method, target, code, body)
	}
	if code < 400 || len(body) == 0 { // HEAD and 204 have no body
		return
	}
	var e struct {
		Error struct {
			Code    string         `json:"code"`
			Message string         `json:"message"`
			Details map[string]any `json:"details"`
		} `json:"error"`
	}
	if code == http.StatusNotFound || code == http.StatusMethodNotAllowed {
		return // also the router's own answers, as in ComfyUI
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // details echo the input, whose numbers may not fit a float64
	if err := dec.Decode(&e); err != nil || e.Error.Code == "" || e.Error.Details == nil {
		t.Fatalf("%s %s = %d with a body not in the assets error shape: %s", method, target, code, body)
	}
}

// FuzzAssetQuery sends arbitrary query strings to the listings: filters
// (tags, name_contains, metadata_filter), paging, sorting and cursors.
func FuzzAssetQuery(f *testing.F) {
	for _, q := range []string{
		"include_tags=input,pets&exclude_tags=missing&limit=5&offset=1&sort=name&order=asc",
		"name_contains=%25_%5C&sort=size",
		`metadata_filter={"seed":[42,"x",null,true],"kind":"image"}`,
		"metadata_filter=%7B%22a%22%3A%7B%22b%22%3A1%7D%7D",
		"after=eyJzIjoibmFtZSIsInYiOiJhIiwiaWQiOiJ4IiwibyI6ImRlc2MifQ&sort=name",
		"prefix=in&order=name_asc&include_zero=false&limit=1000&offset=2",
		"limit=-1&offset=99999999999999999999",
	} {
		f.Add(q)
	}
	e := newAssetEnv(f, 1<<20)
	for i, tags := range []string{"input,pets", "output", "models,loras,style"} {
		e.uploadN(string(rune('a'+i))+".png", tags, tags, `{"seed": 42, "kind": "image"}`)
	}
	f.Fuzz(func(t *testing.T, query string) {
		for _, path := range []string{"/api/assets", "/api/assets/tags/refine", "/api/tags"} {
			target := path + "?" + query
			r, err := http.NewRequest("GET", "http://localhost"+target, nil)
			if err != nil {
				return // not a request a client can send
			}
			w := httptest.NewRecorder()
			e.h.ServeHTTP(w, r)
			fuzzAnswer(t, "GET", target, w.Code, w.Body.Bytes())
			if w.Code == http.StatusOK && path == "/api/assets" {
				var list struct {
					Assets []struct{ Tags []string } `json:"assets"`
					Total  int                       `json:"total"`
				}
				if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil || list.Total < len(list.Assets) {
					t.Fatalf("GET %s: %d assets of %d, %v", target, len(list.Assets), list.Total, err)
				}
			}
		}
	})
}

// FuzzAssetJSONBody sends arbitrary JSON bodies to the routes that take
// one: update, from-hash, tag changes and seeding.
func FuzzAssetJSONBody(f *testing.F) {
	for _, b := range []string{
		`{"name": "n", "user_metadata": {"a": [1, {"b": null}], "filename": 5}, "preview_id": null}`,
		`{"hash": "BLAKE3:` + strings.Repeat("A", 64) + `", "tags": "input, x", "user_metadata": {}}`,
		`{"tags": ["a", "B ", ""]}`,
		`{"roots": ["input", 5]}`,
		`{"user_metadata": {"\u0000": 1e400}}`,
		`[]`, `null`, `{bad`,
	} {
		f.Add(b)
	}
	e := newAssetEnv(f, 1<<20)
	id := e.uploadN("a.png", "a", "input", "")
	f.Fuzz(func(t *testing.T, body string) {
		for _, route := range []struct{ method, target string }{
			{"PUT", "/api/assets/" + id},
			{"POST", "/api/assets/from-hash"},
			{"POST", "/api/assets/" + id + "/tags"},
			{"DELETE", "/api/assets/" + id + "/tags"},
		} {
			r := httptest.NewRequest(route.method, route.target, strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			e.h.ServeHTTP(w, r)
			fuzzAnswer(t, route.method, route.target, w.Code, w.Body.Bytes())
		}
		// The reference still reads back whole.
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, httptest.NewRequest("GET", "/api/assets/"+id, nil))
		if w.Code != http.StatusOK || !json.Valid(w.Body.Bytes()) {
			t.Fatalf("GET after %q = %d %s", body, w.Code, w.Body)
		}
	})
}

// FuzzUploadTags parses an upload's tags fields (JSON arrays, CSV, single
// tags): the result is normalised whatever the input.
func FuzzUploadTags(f *testing.F) {
	f.Add(`["models", "loras"]`, "A, b ,a")
	f.Add(`[1, null, {"x": 2}, "  "]`, "[")
	f.Add("input", `["x",`)
	f.Fuzz(func(t *testing.T, a, b string) {
		tags := uploadTags([]string{a, b})
		for i, tag := range tags {
			if tag == "" || tag != strings.ToLower(strings.TrimSpace(tag)) || slices.Contains(tags[:i], tag) {
				t.Fatalf("uploadTags(%q, %q) = %q: %q is not normalised or repeated", a, b, tags, tag)
			}
		}
	})
}

// FuzzAssetUserMetadata parses user_metadata text: accepted text is a JSON
// object, returned compacted with the same value.
func FuzzAssetUserMetadata(f *testing.F) {
	for _, s := range []string{`{"a": 1}`, ` {"a": [1, 2.50, "\u00e9"]} `, `[1]`, `{bad`, `null`, ``, `{"a": 1} x`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		got, err := jsonObject(text)
		if err != nil || got == nil {
			return
		}
		var in, out map[string]any
		if json.Unmarshal([]byte(text), &in) != nil || json.Unmarshal(got, &out) != nil || in == nil {
			t.Fatalf("jsonObject(%q) = %s: accepted something that is not a JSON object", text, got)
		}
		a, _ := json.Marshal(in)
		b, _ := json.Marshal(out)
		if string(a) != string(b) {
			t.Fatalf("jsonObject(%q) = %s: the value changed", text, got)
		}
	})
}

// FuzzAssetCursor decodes arbitrary cursors for every sort, and checks that
// a cursor minted for any name and id reads back as it was.
func FuzzAssetCursor(f *testing.F) {
	f.Add("eyJzIjoibmFtZSIsInYiOiJhIiwiaWQiOiJ4IiwibyI6ImRlc2MifQ", "name é", "0f6c2c2e-8b1e-4d69-9b7a-2d6a8d3f1c11")
	f.Add("e30", "", "x")
	f.Fuzz(func(t *testing.T, raw, name, id string) {
		for _, sort := range []store.AssetSort{store.SortName, store.SortSize, store.SortAssetCreated, store.SortUpdated, store.SortLastAccessTime} {
			for _, order := range []string{"asc", "desc"} {
				decodeCursor(raw, sort, order) // must not panic
			}
		}
		if id == "" || !utf8.ValidString(name) || !utf8.ValidString(id) || utf8.RuneCountInString(id) > maxCursorID {
			return
		}
		c := encodeCursor(&store.AssetRef{ID: id, Name: name}, store.SortName, "asc")
		if c == "" {
			return // too long a name to page on
		}
		k, err := decodeCursor(c, store.SortName, "asc")
		if err != nil || k.ID != id || k.Name != name {
			t.Fatalf("cursor for %q/%q read back as %+v, %v", name, id, k, err)
		}
	})
}
