package storetest

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocomfy/gocomfy/internal/store"
)

// RunAssets runs the conformance suite of store.AssetStore. open must
// return a new, empty store each time it is called and close it when the
// test ends. Subtests run in parallel, each on its own store.
func RunAssets(t *testing.T, open func(t *testing.T) store.AssetStore) {
	cases := []struct {
		name string
		run  func(t *testing.T, s store.AssetStore)
	}{
		{"PutRefContent", testPutRefContent},
		{"PutRefUnknownHash", testPutRefUnknownHash},
		{"PutRefMimeAndPreview", testPutRefMimeAndPreview},
		{"FileRefUpsert", testFileRefUpsert},
		{"Visibility", testVisibility},
		{"ListModel", testListModel},
		{"ListKeyset", testListKeyset},
		{"NameContains", testNameContains},
		{"MetadataFilter", testMetadataFilter},
		{"UpdateRef", testUpdateRef},
		{"DeleteRef", testDeleteRef},
		{"TouchRef", testTouchRef},
		{"ChangeTags", testChangeTags},
		{"Tags", testTags},
		{"TagHistogram", testTagHistogram},
		{"MarkMissing", testMarkMissing},
		{"MarkMissingOutside", testMarkMissingOutside},
		{"BadValues", testBadValues},
		{"ConcurrentContent", testConcurrentContent},
		{"ConcurrentFile", testConcurrentFile},
		{"ConcurrentCounts", testConcurrentCounts},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, open(t))
		})
	}
}

// t0 is the suite's clock: times are UTC with microseconds, as stored.
var t0 = time.Date(2026, 7, 3, 10, 15, 42, 123456000, time.UTC)

func at(us int) time.Time { return t0.Add(time.Duration(us) * time.Microsecond) }

// hashOf returns a well-formed hash for a small number.
func hashOf(n int) string { return fmt.Sprintf("blake3:%064x", n) }

func newRef(hash int, name string, tags ...string) store.NewRef {
	return store.NewRef{Hash: hashOf(hash), Size: int64(hash), Create: true, Name: name,
		OwnerID: "", Tags: tags, TagOrigin: "manual", Time: t0}
}

func putRef(t *testing.T, s store.AssetStore, n store.NewRef) *store.AssetRef {
	t.Helper()
	r, _, err := s.PutRef(t.Context(), n)
	if err != nil {
		t.Fatalf("PutRef(%q): %v", n.Name, err)
	}
	return r
}

func getRef(t *testing.T, s store.AssetStore, id, owner string) *store.AssetRef {
	t.Helper()
	r, err := s.Ref(t.Context(), id, owner)
	if err != nil {
		t.Fatalf("Ref(%q, %q): %v", id, owner, err)
	}
	return r
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

func jsonEqual(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Errorf("%s = %s: %v", what, got, err)
		return
	}
	json.Unmarshal([]byte(want), &w)
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
}

func testPutRefContent(t *testing.T, s store.AssetStore) {
	n := newRef(7, "cat.png", "input", "pets")
	n.MimeType, n.OwnerID, n.JobID = "image/png", "default", "job-1"
	n.UserMetadata = json.RawMessage(`{"b": 1, "a": "x"}`)
	n.SystemMetadata = json.RawMessage(`{"kind": "image", "width": 2, "height": 3}`)
	r, created, err := s.PutRef(t.Context(), n)
	if err != nil || !created {
		t.Fatalf("PutRef: created %v, err %v; want a new content", created, err)
	}
	if r.ID == "" || r.Asset.ID == "" || r.Asset.Hash != hashOf(7) || r.Asset.Size != 7 || r.Asset.MimeType != "image/png" {
		t.Errorf("PutRef = %+v", r)
	}
	if r.Name != "cat.png" || r.OwnerID != "default" || r.JobID != "job-1" || r.FilePath != "" || r.IsMissing {
		t.Errorf("PutRef = %+v", r)
	}
	if !slices.Equal(r.Tags, []string{"input", "pets"}) {
		t.Errorf("Tags = %q", r.Tags)
	}
	if string(r.UserMetadata) != `{"b": 1, "a": "x"}` && string(r.UserMetadata) != `{"b":1,"a":"x"}` {
		t.Errorf("UserMetadata = %s, want the keys in their order", r.UserMetadata)
	}
	jsonEqual(t, "SystemMetadata", r.SystemMetadata, `{"kind": "image", "width": 2, "height": 3}`)
	for _, tm := range []time.Time{r.CreatedAt, r.UpdatedAt, r.LastAccessTime, r.Asset.CreatedAt} {
		if !tm.Equal(t0) || tm.Location() != time.UTC {
			t.Errorf("time %v, want %v UTC", tm, t0)
		}
	}
	if got := getRef(t, s, r.ID, "default"); got.Name != r.Name || !slices.Equal(got.Tags, r.Tags) {
		t.Errorf("Ref = %+v, want %+v", got, r)
	}

	// The same content again: a new reference, no new content.
	n2 := newRef(7, "other.png")
	n2.Time = at(5)
	r2, created, err := s.PutRef(t.Context(), n2)
	if err != nil || created {
		t.Fatalf("second PutRef: created %v, err %v", created, err)
	}
	if r2.ID == r.ID || r2.Asset.ID != r.Asset.ID || string(r2.UserMetadata) != "{}" || r2.SystemMetadata != nil {
		t.Errorf("second PutRef = %+v", r2)
	}
	if !slices.Equal(r2.Tags, []string{}) {
		t.Errorf("untagged reference Tags = %#v, want empty", r2.Tags)
	}
	a, err := s.AssetByHash(t.Context(), hashOf(7))
	if err != nil || a.ID != r.Asset.ID || a.Size != 7 {
		t.Errorf("AssetByHash = %+v, %v", a, err)
	}
	_, err = s.AssetByHash(t.Context(), hashOf(8))
	wantErr(t, "AssetByHash(unknown)", err, store.ErrNotFound)
	refs, err := s.RefsOf(t.Context(), a.ID)
	if err != nil || len(refs) != 2 || refs[0].ID > refs[1].ID {
		t.Errorf("RefsOf = %d refs, %v; want 2 by id", len(refs), err)
	}
}

func testPutRefUnknownHash(t *testing.T, s store.AssetStore) {
	n := newRef(1, "x")
	n.Create = false
	_, _, err := s.PutRef(t.Context(), n)
	wantErr(t, "PutRef(unknown hash, no Create)", err, store.ErrNotFound)
	putRef(t, s, newRef(1, "first"))
	r, created, err := s.PutRef(t.Context(), n)
	if err != nil || created || r.Name != "x" {
		t.Errorf("PutRef(known hash) = %+v, %v, %v", r, created, err)
	}
}

func testPutRefMimeAndPreview(t *testing.T, s store.AssetStore) {
	first := putRef(t, s, newRef(3, "a"))
	if first.Asset.MimeType != "" {
		t.Errorf("MimeType = %q, want none", first.Asset.MimeType)
	}
	n := newRef(3, "b")
	n.MimeType = "image/webp"
	n.PreviewID = first.ID
	r := putRef(t, s, n)
	if r.Asset.MimeType != "image/webp" || r.PreviewID != first.ID {
		t.Errorf("PutRef = mime %q preview %q; want the mime filled in and the preview", r.Asset.MimeType, r.PreviewID)
	}
	n.MimeType = "image/png"
	n.PreviewID = "00000000-0000-0000-0000-000000000000"
	r = putRef(t, s, n)
	if r.Asset.MimeType != "image/webp" || r.PreviewID != "" {
		t.Errorf("PutRef = mime %q preview %q; want the first mime kept and no preview", r.Asset.MimeType, r.PreviewID)
	}
}

func testFileRefUpsert(t *testing.T, s store.AssetStore) {
	ctx := t.Context()
	n := newRef(1, "a.png", "output")
	n.FilePath, n.MtimeNS, n.JobID = "/base/output/a.png", 100, "job-1"
	n.UserMetadata = json.RawMessage(`{"filename": "a.png", "k": 1}`)
	n.SystemMetadata = json.RawMessage(`{"kind": "image"}`)
	r := putRef(t, s, n)
	if r.FilePath != n.FilePath || r.MtimeNS != 100 {
		t.Errorf("file reference = %+v", r)
	}
	// The file changed: same reference, new content, tags added, metadata
	// merged, name and owner kept, job kept when none is given.
	n2 := newRef(2, "renamed.png", "extra")
	n2.FilePath, n2.MtimeNS, n2.OwnerID, n2.Time = n.FilePath, 200, "someone", at(10)
	n2.UserMetadata = json.RawMessage(`{"k": 2, "new": true}`)
	n2.SystemMetadata = json.RawMessage(`{"width": 4}`)
	r2, created, err := s.PutRef(ctx, n2)
	if err != nil || !created {
		t.Fatalf("PutRef(changed file): created %v, %v", created, err)
	}
	if r2.ID != r.ID || r2.Asset.Hash != hashOf(2) || r2.Asset.Size != 2 || r2.MtimeNS != 200 {
		t.Errorf("re-registered = %+v", r2)
	}
	if r2.Name != "a.png" || r2.OwnerID != "" || r2.JobID != "job-1" || !r2.CreatedAt.Equal(t0) || !r2.UpdatedAt.Equal(at(10)) {
		t.Errorf("re-registered = %+v; want the name, owner, job and creation kept", r2)
	}
	if !slices.Equal(r2.Tags, []string{"extra", "output"}) {
		t.Errorf("Tags = %q", r2.Tags)
	}
	jsonEqual(t, "UserMetadata", r2.UserMetadata, `{"filename": "a.png", "k": 2, "new": true}`)
	jsonEqual(t, "SystemMetadata", r2.SystemMetadata, `{"kind": "image", "width": 4}`)
	if byPath, err := s.RefByPath(ctx, n.FilePath); err != nil || byPath.ID != r.ID {
		t.Errorf("RefByPath = %+v, %v", byPath, err)
	}
	_, err = s.RefByPath(ctx, "/base/output/none.png")
	wantErr(t, "RefByPath(unknown)", err, store.ErrNotFound)

	// A deleted file reference comes back when its file is registered again.
	if err := s.DeleteRef(ctx, r.ID, "", at(20)); err != nil {
		t.Fatal(err)
	}
	if deleted, err := s.RefByPath(ctx, n.FilePath); err != nil || !deleted.Deleted {
		t.Errorf("RefByPath(deleted) = %+v, %v; want it, marked deleted", deleted, err)
	}
	n2.JobID = "job-2"
	r3 := putRef(t, s, n2)
	if r3.ID != r.ID || r3.JobID != "job-2" {
		t.Errorf("after delete, re-registered = %+v", r3)
	}
	getRef(t, s, r.ID, "")
}

func testVisibility(t *testing.T, s store.AssetStore) {
	shared := putRef(t, s, newRef(1, "shared"))
	n := newRef(2, "mine")
	n.OwnerID = "u"
	mine := putRef(t, s, n)
	for _, c := range []struct {
		id, owner string
		ok        bool
	}{
		{shared.ID, "", true}, {shared.ID, "u", true}, {shared.ID, "v", true},
		{mine.ID, "u", true}, {mine.ID, "v", false}, {mine.ID, "", false},
		{"00000000-0000-0000-0000-000000000000", "u", false},
	} {
		_, err := s.Ref(t.Context(), c.id, c.owner)
		if (err == nil) != c.ok {
			t.Errorf("Ref(%s, owner %q): %v, want found %v", c.id, c.owner, err, c.ok)
		}
		if err != nil {
			wantErr(t, "Ref", err, store.ErrNotFound)
		}
	}
	page, total, err := s.ListRefs(t.Context(), store.AssetQuery{AssetFilter: store.AssetFilter{Owner: "v"}, Limit: 10})
	if err != nil || total != 1 || len(page) != 1 || page[0].ID != shared.ID {
		t.Errorf("ListRefs(owner v) = %d of %d, %v; want only the shared one", len(page), total, err)
	}
}

// listFixture stores refs with varied names, owners, sizes, times (with
// ties), tags and metadata, some of them deleted or missing, and returns
// the live ones.
func listFixture(t *testing.T, s store.AssetStore, rnd *rand.Rand, n int) []*store.AssetRef {
	t.Helper()
	ctx := t.Context()
	names := []string{"Cat", "cat", "dog", "Ünïcode", "a_b", "a%b", "zebra", "Cathedral"}
	tags := []string{"input", "output", "models", "pets", "x"}
	var out []*store.AssetRef
	for i := range n {
		nr := newRef(1+rnd.IntN(n/2+1), fmt.Sprintf("%s %d", names[rnd.IntN(len(names))], rnd.IntN(3)))
		nr.OwnerID = []string{"", "", "u", "v"}[rnd.IntN(4)]
		nr.Time = at(rnd.IntN(n / 3))
		nr.Tags = nil
		for _, tag := range tags {
			if rnd.IntN(3) == 0 {
				nr.Tags = append(nr.Tags, tag)
			}
		}
		nr.UserMetadata = json.RawMessage(fmt.Sprintf(`{"n": %d, "s": "v%d", "b": %v, "l": [%d, "x"]}`,
			i%4, i%3, i%2 == 0, i%5))
		if i%6 == 0 {
			nr.UserMetadata = json.RawMessage(`{}`)
		}
		if i%7 == 0 {
			nr.FilePath, nr.MtimeNS = fmt.Sprintf("/base/input/f%d.png", i), 1
		}
		r := putRef(t, s, nr)
		switch i % 10 {
		case 3:
			if err := s.DeleteRef(ctx, r.ID, r.OwnerID, at(0)); err != nil {
				t.Fatal(err)
			}
			continue
		}
		out = append(out, r)
	}
	// Missing: every file reference whose number is a multiple of 14.
	var present []string
	var live []*store.AssetRef
	for _, r := range out {
		var num int
		if r.FilePath != "" {
			fmt.Sscanf(r.FilePath, "/base/input/f%d.png", &num)
			if num%14 == 0 {
				continue
			}
			present = append(present, r.FilePath)
		}
		live = append(live, r)
	}
	if _, err := s.MarkMissing(ctx, "/base/input", present, at(0)); err != nil {
		t.Fatal(err)
	}
	return live
}

// modelList is the listing ComfyUI's list_references_page gives for q.
func modelList(refs []*store.AssetRef, q store.AssetQuery) (page []*store.AssetRef, total int) {
	var match []*store.AssetRef
	for _, r := range refs {
		if modelMatch(r, q.AssetFilter) {
			match = append(match, r)
		}
	}
	sort := cmp.Or(q.Sort, store.SortAssetCreated)
	slices.SortFunc(match, func(a, b *store.AssetRef) int {
		c := compareKeys(sort, store.KeyOf(a, sort), store.KeyOf(b, sort))
		if q.Desc {
			return -c
		}
		return c
	})
	start := q.Offset
	if q.After != nil {
		start = len(match)
		for i, r := range match {
			c := compareKeys(sort, store.KeyOf(r, sort), *q.After)
			if q.Desc && c < 0 || !q.Desc && c > 0 {
				start = i
				break
			}
		}
	}
	start = min(start, len(match))
	return match[start:min(start+q.Limit, len(match))], len(match)
}

func compareKeys(s store.AssetSort, a, b store.AssetKey) int {
	var c int
	switch s {
	case store.SortName:
		c = strings.Compare(a.Name, b.Name)
	case store.SortSize:
		c = cmp.Compare(a.Size, b.Size)
	default:
		c = a.Time.Compare(b.Time)
	}
	return cmp.Or(c, strings.Compare(a.ID, b.ID))
}

func modelMatch(r *store.AssetRef, f store.AssetFilter) bool {
	if r.OwnerID != "" && r.OwnerID != f.Owner {
		return false
	}
	if f.NameContains != "" && !strings.Contains(strings.ToLower(r.Name), strings.ToLower(f.NameContains)) {
		return false
	}
	for _, tag := range f.IncludeTags {
		if !slices.Contains(r.Tags, tag) {
			return false
		}
	}
	for _, tag := range f.ExcludeTags {
		if slices.Contains(r.Tags, tag) {
			return false
		}
	}
	rows, _ := store.MetaRows(r.SystemMetadata, r.UserMetadata)
	for _, c := range f.Metadata {
		if !slices.ContainsFunc(c.Values, func(v any) bool { return metaHolds(rows, c.Key, v) }) {
			return false
		}
	}
	return true
}

func metaHolds(rows []store.MetaRow, key string, v any) bool {
	found := false
	for _, row := range rows {
		if row.Key != key {
			continue
		}
		found = true
		if fmt.Sprint(row.Value) == fmt.Sprint(v) && fmt.Sprintf("%T", row.Value) == fmt.Sprintf("%T", v) {
			return true
		}
	}
	return v == nil && !found
}

func refIDs(refs []*store.AssetRef) []string {
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = r.ID
	}
	return out
}

func testListModel(t *testing.T, s store.AssetStore) {
	rnd := rand.New(rand.NewPCG(1, 2))
	refs := listFixture(t, s, rnd, 120)
	sorts := []store.AssetSort{"", store.SortName, store.SortAssetCreated, store.SortUpdated, store.SortSize, store.SortLastAccessTime}
	tags := []string{"input", "output", "models", "pets", "x", "none"}
	nonEmpty := 0
	for i := range 300 {
		q := store.AssetQuery{
			AssetFilter: store.AssetFilter{Owner: []string{"", "u", "v"}[rnd.IntN(3)]},
			Sort:        sorts[rnd.IntN(len(sorts))], Desc: rnd.IntN(2) == 0,
			Limit: 1 + rnd.IntN(30), Offset: []int{0, 0, rnd.IntN(10), rnd.IntN(40)}[rnd.IntN(4)],
		}
		for range rnd.IntN(3) {
			q.IncludeTags = append(q.IncludeTags, tags[rnd.IntN(len(tags))])
		}
		for range rnd.IntN(3) {
			q.ExcludeTags = append(q.ExcludeTags, tags[rnd.IntN(len(tags))])
		}
		if rnd.IntN(4) == 0 {
			q.NameContains = []string{"cat", "CAT", "ü", "_", "%", "a%b", " 1"}[rnd.IntN(7)]
		}
		if rnd.IntN(4) == 0 {
			f := []string{`{"n": 1}`, `{"n": [0, 2]}`, `{"s": "v1"}`, `{"b": true}`, `{"n": null}`,
				`{"l": "x"}`, `{"l": 3, "b": false}`, `{"missing": null, "n": 1.0}`}[rnd.IntN(8)]
			var err error
			if q.Metadata, err = store.ParseMetaFilter([]byte(f)); err != nil {
				t.Fatal(err)
			}
		}
		got, total, err := s.ListRefs(t.Context(), q)
		if err != nil {
			t.Fatalf("query %d %+v: %v", i, q, err)
		}
		want, wantTotal := modelList(refs, q)
		if total != wantTotal || !slices.Equal(refIDs(got), refIDs(want)) {
			t.Fatalf("query %d %+v:\n got total %d %q\nwant total %d %q", i, q, total, refIDs(got), wantTotal, refIDs(want))
		}
		if len(got) > 0 {
			nonEmpty++
		}
	}
	if nonEmpty < 100 {
		t.Errorf("only %d of 300 queries matched anything: the fixture tests little", nonEmpty)
	}
}

func testListKeyset(t *testing.T, s store.AssetStore) {
	rnd := rand.New(rand.NewPCG(3, 4))
	refs := listFixture(t, s, rnd, 80)
	for _, sort := range []store.AssetSort{store.SortName, store.SortAssetCreated, store.SortUpdated, store.SortSize, store.SortLastAccessTime} {
		for _, desc := range []bool{false, true} {
			q := store.AssetQuery{AssetFilter: store.AssetFilter{Owner: "u"}, Sort: sort, Desc: desc, Limit: 7}
			var walked []string
			for range 100 {
				page, total, err := s.ListRefs(t.Context(), q)
				if err != nil {
					t.Fatal(err)
				}
				if _, want := modelList(refs, store.AssetQuery{AssetFilter: q.AssetFilter, Limit: 1}); total != want {
					t.Errorf("%s desc=%v: total %d with a cursor, want %d", sort, desc, total, want)
				}
				walked = append(walked, refIDs(page)...)
				if len(page) < q.Limit {
					break
				}
				k := store.KeyOf(page[len(page)-1], sort)
				q.After = &k
			}
			all, _ := modelList(refs, store.AssetQuery{AssetFilter: q.AssetFilter, Sort: sort, Desc: desc, Limit: 1000})
			if !slices.Equal(walked, refIDs(all)) {
				t.Errorf("%s desc=%v: keyset walk %q, want %q", sort, desc, walked, refIDs(all))
			}
		}
	}
}

func testNameContains(t *testing.T, s store.AssetStore) {
	for i, name := range []string{"Straße.png", "ÉCOLE.PNG", "100%_done.png", "100 done.png", "plain"} {
		putRef(t, s, newRef(i+1, name))
	}
	for _, c := range []struct {
		q    string
		want int
	}{
		{"STRASSE", 0}, {"straße", 1}, {"école", 1}, {".png", 4}, {"%", 1}, {"_", 1}, {"0%_d", 1}, {"0_d", 0}, {"", 5},
	} {
		_, total, err := s.ListRefs(t.Context(), store.AssetQuery{AssetFilter: store.AssetFilter{NameContains: c.q}, Limit: 10})
		if err != nil || total != c.want {
			t.Errorf("name_contains %q: %d matches, %v; want %d", c.q, total, err, c.want)
		}
	}
}

func testMetadataFilter(t *testing.T, s store.AssetStore) {
	metas := []string{
		`{"kind": "image", "width": 512}`,
		`{"kind": "video", "width": 512.0, "tags": ["a", "b"]}`,
		`{"flag": true, "obj": {"y": 1, "x": 2}}`,
		`{"flag": false, "kind": null, "mixed": [1, {"z": 1}]}`,
	}
	for i, m := range metas {
		n := newRef(i+1, fmt.Sprint(i))
		n.UserMetadata = json.RawMessage(m)
		if i == 0 {
			// System metadata counts too; user keys win.
			n.SystemMetadata = json.RawMessage(`{"height": 7, "width": 1}`)
		}
		putRef(t, s, n)
	}
	for _, c := range []struct {
		filter string
		want   []string
	}{
		{`{"kind": "image"}`, []string{"0"}},
		{`{"width": 512}`, []string{"0", "1"}},
		{`{"width": 1}`, nil},
		{`{"height": 7}`, []string{"0"}},
		{`{"kind": ["image", "video"]}`, []string{"0", "1"}},
		{`{"kind": null}`, []string{"2", "3"}},
		{`{"tags": "b"}`, []string{"1"}},
		{`{"flag": true}`, []string{"2"}},
		{`{"flag": 1}`, nil},
		{`{"obj": {"x": 2, "y": 1}}`, []string{"2"}},
		{`{"mixed": {"z": 1}}`, []string{"3"}},
		{`{"mixed": 1}`, nil},
		{`{"kind": "image", "width": 512}`, []string{"0"}},
		{`{"kind": []}`, []string{"0", "1", "2", "3"}},
	} {
		f, err := store.ParseMetaFilter([]byte(c.filter))
		if err != nil {
			t.Fatalf("ParseMetaFilter(%s): %v", c.filter, err)
		}
		page, _, err := s.ListRefs(t.Context(), store.AssetQuery{AssetFilter: store.AssetFilter{Metadata: f}, Sort: store.SortName, Limit: 10})
		if err != nil {
			t.Fatalf("%s: %v", c.filter, err)
		}
		var names []string
		for _, r := range page {
			names = append(names, r.Name)
		}
		if !slices.Equal(names, c.want) {
			t.Errorf("metadata_filter %s = %q, want %q", c.filter, names, c.want)
		}
	}
}

func testUpdateRef(t *testing.T, s store.AssetStore) {
	ctx := t.Context()
	n := newRef(1, "a")
	n.OwnerID = "u"
	r := putRef(t, s, n)
	other := putRef(t, s, newRef(2, "b"))

	name := "renamed"
	got, err := s.UpdateRef(ctx, r.ID, "u", store.RefUpdate{Name: &name, Time: at(1)})
	if err != nil || got.Name != "renamed" || !got.UpdatedAt.Equal(at(1)) {
		t.Fatalf("rename = %+v, %v", got, err)
	}
	got, err = s.UpdateRef(ctx, r.ID, "u", store.RefUpdate{Name: &name, Time: at(2)})
	if err != nil || !got.UpdatedAt.Equal(at(1)) {
		t.Errorf("same name again: UpdatedAt %v, %v; want unchanged", got.UpdatedAt, err)
	}
	got, err = s.UpdateRef(ctx, r.ID, "u", store.RefUpdate{UserMetadata: json.RawMessage(`{"z": 1}`), PreviewID: &other.ID, Time: at(3)})
	if err != nil || string(got.UserMetadata) != `{"z": 1}` || got.PreviewID != other.ID || !got.UpdatedAt.Equal(at(3)) {
		t.Errorf("metadata and preview = %+v, %v", got, err)
	}
	f, _ := store.ParseMetaFilter([]byte(`{"z": 1}`))
	if _, total, _ := s.ListRefs(ctx, store.AssetQuery{AssetFilter: store.AssetFilter{Owner: "u", Metadata: f}, Limit: 5}); total != 1 {
		t.Errorf("metadata filter after update: %d matches, want 1", total)
	}
	bad := "00000000-0000-0000-0000-000000000000"
	_, err = s.UpdateRef(ctx, r.ID, "u", store.RefUpdate{PreviewID: &bad, Time: at(4)})
	wantErr(t, "UpdateRef(unknown preview)", err, store.ErrPreviewNotFound)
	wantErr(t, "UpdateRef(unknown preview)", err, store.ErrNotFound)
	_, err = s.UpdateRef(ctx, r.ID, "v", store.RefUpdate{Name: &name, Time: at(4)})
	wantErr(t, "UpdateRef(other owner)", err, store.ErrForbidden)
	_, err = s.UpdateRef(ctx, bad, "u", store.RefUpdate{Name: &name, Time: at(4)})
	wantErr(t, "UpdateRef(unknown)", err, store.ErrNotFound)
	// A shared reference can be written by anyone.
	if _, err := s.UpdateRef(ctx, other.ID, "v", store.RefUpdate{Name: &name, Time: at(4)}); err != nil {
		t.Errorf("UpdateRef(shared): %v", err)
	}
}

func testDeleteRef(t *testing.T, s store.AssetStore) {
	ctx := t.Context()
	n := newRef(1, "a")
	n.OwnerID = "u"
	r := putRef(t, s, n)
	wantErr(t, "DeleteRef(other owner)", s.DeleteRef(ctx, r.ID, "v", at(1)), store.ErrNotFound)
	if err := s.DeleteRef(ctx, r.ID, "u", at(1)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "DeleteRef(again)", s.DeleteRef(ctx, r.ID, "u", at(2)), store.ErrNotFound)
	_, err := s.Ref(ctx, r.ID, "u")
	wantErr(t, "Ref(deleted)", err, store.ErrNotFound)
	name := "x"
	_, err = s.UpdateRef(ctx, r.ID, "u", store.RefUpdate{Name: &name})
	wantErr(t, "UpdateRef(deleted)", err, store.ErrNotFound)
	_, err = s.AddTags(ctx, r.ID, "u", []string{"a"}, "manual", at(3))
	wantErr(t, "AddTags(deleted)", err, store.ErrNotFound)
	if _, err := s.AssetByHash(ctx, hashOf(1)); err != nil {
		t.Errorf("content after its reference was deleted: %v", err)
	}
	if refs, _ := s.RefsOf(ctx, r.Asset.ID); len(refs) != 0 {
		t.Errorf("RefsOf after delete = %d refs", len(refs))
	}
}

func testTouchRef(t *testing.T, s store.AssetStore) {
	r := putRef(t, s, newRef(1, "a"))
	for _, c := range []struct {
		at, want time.Time
	}{{at(5), at(5)}, {at(2), at(5)}, {at(9), at(9)}} {
		if err := s.TouchRef(t.Context(), r.ID, c.at); err != nil {
			t.Fatal(err)
		}
		if got := getRef(t, s, r.ID, "").LastAccessTime; !got.Equal(c.want) {
			t.Errorf("TouchRef(%v): LastAccessTime %v, want %v", c.at, got, c.want)
		}
	}
}

func testChangeTags(t *testing.T, s store.AssetStore) {
	ctx := t.Context()
	n := newRef(1, "a", "input", "b")
	n.OwnerID = "u"
	r := putRef(t, s, n)
	c, err := s.AddTags(ctx, r.ID, "u", []string{"z", "b", "new"}, "manual", at(1))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Changed, []string{"new", "z"}) || !slices.Equal(c.Unchanged, []string{"b"}) ||
		!slices.Equal(c.Tags, []string{"b", "input", "new", "z"}) {
		t.Errorf("AddTags = %+v", c)
	}
	c, err = s.RemoveTags(ctx, r.ID, "u", []string{"z", "absent", "input"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Changed, []string{"input", "z"}) || !slices.Equal(c.Unchanged, []string{"absent"}) ||
		!slices.Equal(c.Tags, []string{"b", "new"}) {
		t.Errorf("RemoveTags = %+v", c)
	}
	_, err = s.AddTags(ctx, r.ID, "v", []string{"x"}, "manual", at(2))
	wantErr(t, "AddTags(other owner)", err, store.ErrForbidden)
	_, err = s.RemoveTags(ctx, r.ID, "v", []string{"b"})
	wantErr(t, "RemoveTags(other owner)", err, store.ErrForbidden)
	_, err = s.RemoveTags(ctx, "00000000-0000-0000-0000-000000000000", "u", []string{"b"})
	wantErr(t, "RemoveTags(unknown)", err, store.ErrNotFound)
}

func testTags(t *testing.T, s store.AssetStore) {
	ctx := t.Context()
	putRef(t, s, newRef(1, "a", "input", "pets"))
	putRef(t, s, newRef(2, "b", "input"))
	n := newRef(3, "c", "input", "private")
	n.OwnerID = "u"
	putRef(t, s, n)
	file := newRef(4, "d", "output", "pets")
	file.FilePath, file.MtimeNS = "/base/output/d.png", 1
	putRef(t, s, file)
	if _, err := s.MarkMissing(ctx, "/base/output", nil, at(1)); err != nil {
		t.Fatal(err)
	}
	list := func(q store.TagQuery) ([]store.TagCount, int) {
		t.Helper()
		if q.Limit == 0 {
			q.Limit = 1000
		}
		tags, total, err := s.Tags(ctx, q)
		if err != nil {
			t.Fatalf("Tags(%+v): %v", q, err)
		}
		return tags, total
	}
	tags, total := list(store.TagQuery{IncludeZero: true, Order: store.TagsByCount})
	counts := map[string]int{}
	for _, c := range tags {
		counts[c.Name] = c.Count
	}
	for _, seed := range store.SeedTags {
		if _, ok := counts[seed]; !ok {
			t.Errorf("seeded tag %q is not listed", seed)
		}
	}
	if total != len(tags) || total != len(store.SeedTags)+2 {
		t.Errorf("total = %d, %d listed; want %d", total, len(tags), len(store.SeedTags)+2)
	}
	if counts["input"] != 2 || counts["pets"] != 1 || counts["output"] != 0 || counts["missing"] != 1 || counts["private"] != 0 {
		t.Errorf("counts = %v; want input 2, pets 1, output 0, missing 1, private 0 (other owner)", counts)
	}
	if tags[0] != (store.TagCount{Name: "input", Count: 2}) || tags[1].Name != "missing" || tags[2].Name != "pets" {
		t.Errorf("count_desc order starts %v", tags[:3])
	}
	tags, total = list(store.TagQuery{Owner: "u", Order: store.TagsByName})
	want := []store.TagCount{tc("input", 3), tc("missing", 1), tc("pets", 1), tc("private", 1)}
	if !slices.Equal(tags, want) || total != 4 {
		t.Errorf("non-zero tags for u = %v (total %d), want %v", tags, total, want)
	}
	tags, total = list(store.TagQuery{Prefix: "p", IncludeZero: true, Order: store.TagsByName})
	want = []store.TagCount{tc("pets", 1), tc("photomaker", 0), tc("private", 0)}
	if !slices.Equal(tags, want) || total != 3 {
		t.Errorf("prefix p = %v (total %d), want %v", tags, total, want)
	}
	tags, total = list(store.TagQuery{Prefix: "_", IncludeZero: true})
	if len(tags) != 0 || total != 0 {
		t.Errorf("prefix _ = %v, want none (not a wildcard)", tags)
	}
	tags, total = list(store.TagQuery{IncludeZero: true, Order: store.TagsByName, Limit: 2, Offset: 3})
	if len(tags) != 2 || tags[0].Name != "configs" || total != len(store.SeedTags)+2 {
		t.Errorf("page = %v total %d", tags, total)
	}
}

func tc(name string, n int) store.TagCount { return store.TagCount{Name: name, Count: n} }

func testTagHistogram(t *testing.T, s store.AssetStore) {
	putRef(t, s, newRef(1, "cat 1", "input", "pets", "cats"))
	putRef(t, s, newRef(2, "cat 2", "input", "pets"))
	putRef(t, s, newRef(3, "dog", "output", "pets"))
	got, err := s.TagHistogram(t.Context(), store.AssetFilter{IncludeTags: []string{"pets"}, ExcludeTags: []string{"output"}}, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.TagCount{tc("input", 2), tc("pets", 2), tc("cats", 1)}
	if !slices.Equal(got, want) {
		t.Errorf("TagHistogram = %v, want %v", got, want)
	}
	got, _ = s.TagHistogram(t.Context(), store.AssetFilter{NameContains: "CAT"}, 1)
	if !slices.Equal(got, []store.TagCount{tc("input", 2)}) {
		t.Errorf("TagHistogram(limit 1) = %v", got)
	}
}

func testMarkMissing(t *testing.T, s store.AssetStore) {
	ctx := t.Context()
	var refs []*store.AssetRef
	for i, p := range []string{"/base/input/a.png", "/base/input/sub/b.png", "/base/input2/c.png", "/base/output/d.png"} {
		n := newRef(i+1, p)
		n.FilePath, n.MtimeNS = p, 1
		refs = append(refs, putRef(t, s, n))
	}
	api := putRef(t, s, newRef(9, "api"))
	n, err := s.MarkMissing(ctx, "/base/input", []string{"/base/input/a.png"}, at(1))
	if err != nil || n != 1 {
		t.Fatalf("MarkMissing = %d, %v; want 1 (sub/b.png)", n, err)
	}
	b := getRef(t, s, refs[1].ID, "")
	if !b.IsMissing || !slices.Contains(b.Tags, "missing") {
		t.Errorf("b = missing %v tags %q", b.IsMissing, b.Tags)
	}
	_, total, _ := s.ListRefs(ctx, store.AssetQuery{Limit: 10})
	if total != 4 {
		t.Errorf("listing holds %d, want 4 (the missing one left out)", total)
	}
	for _, r := range []*store.AssetRef{refs[0], refs[2], refs[3], api} {
		if getRef(t, s, r.ID, "").IsMissing {
			t.Errorf("%s marked missing", r.Name)
		}
	}
	// The file is back.
	if n, err := s.MarkMissing(ctx, "/base/input", []string{"/base/input/a.png", "/base/input/sub/b.png"}, at(2)); err != nil || n != 0 {
		t.Errorf("MarkMissing = %d, %v", n, err)
	}
	b = getRef(t, s, refs[1].ID, "")
	if b.IsMissing || slices.Contains(b.Tags, "missing") {
		t.Errorf("b after it came back: missing %v tags %q", b.IsMissing, b.Tags)
	}
}

// testMarkMissingOutside flags the file references under none of the
// folders (a sibling with the same prefix is outside), not API-made or
// deleted ones.
func testMarkMissingOutside(t *testing.T, s store.AssetStore) {
	ctx := t.Context()
	var refs []*store.AssetRef
	for i, p := range []string{"/base/input/a.png", "/base/input/sub/b.png", "/base/input2/c.png", "/old/models/d.bin", "/base/output/e.png", "/old/f.png"} {
		n := newRef(i+1, p)
		n.FilePath, n.MtimeNS = p, 1
		refs = append(refs, putRef(t, s, n))
	}
	api := putRef(t, s, newRef(9, "api"))
	if err := s.DeleteRef(ctx, refs[5].ID, "", at(1)); err != nil {
		t.Fatal(err)
	}
	if n, err := s.MarkMissingOutside(ctx, nil, at(1)); err != nil || n != 0 {
		t.Errorf("MarkMissingOutside(none) = %d, %v; want 0", n, err)
	}
	n, err := s.MarkMissingOutside(ctx, []string{"/base/input/", "/base/output"}, at(2))
	if err != nil || n != 2 {
		t.Fatalf("MarkMissingOutside = %d, %v; want 2 (input2/c.png, models/d.bin)", n, err)
	}
	for i, r := range append(refs[:5:5], api) {
		got := getRef(t, s, r.ID, "")
		want := i == 2 || i == 3
		if got.IsMissing != want || slices.Contains(got.Tags, "missing") != want {
			t.Errorf("%s: missing %v tags %q, want missing %v", r.Name, got.IsMissing, got.Tags, want)
		}
	}
	if n, err := s.MarkMissingOutside(ctx, []string{"/base/input"}, at(3)); err != nil || n != 1 {
		t.Errorf("second MarkMissingOutside = %d, %v; want 1 (output/e.png; the others are flagged already)", n, err)
	}
	tags, _, err := s.Tags(ctx, store.TagQuery{Prefix: "missing", Limit: 10, IncludeZero: true})
	if err != nil || len(tags) != 1 || tags[0].Count != 3 {
		t.Errorf("tag missing = %v, %v; want count 3", tags, err)
	}
}

func withMeta(n store.NewRef, meta string) store.NewRef {
	n.UserMetadata = json.RawMessage(meta)
	return n
}

// testBadValues gives the store what a client may send and it may not
// keep: it takes it, or refuses it with ErrBadValue (never another error),
// and goes on working.
func testBadValues(t *testing.T, s store.AssetStore) {
	ctx := t.Context()
	kept := putRef(t, s, newRef(1, "kept", "input"))
	for i, n := range []store.NewRef{
		newRef(2, "nul\x00name"),
		newRef(3, "bad utf-8 \xff"),
		newRef(4, "x", "tag\x00"),
		withMeta(newRef(5, "x"), `{"big": 1e400}`),
		withMeta(newRef(6, "x"), `{"k\u0000": "v\u0000"}`),
	} {
		if _, _, err := s.PutRef(ctx, n); err != nil && !errors.Is(err, store.ErrBadValue) {
			t.Errorf("PutRef #%d: %v, want nil or ErrBadValue", i, err)
		}
	}
	if _, err := s.UpdateRef(ctx, kept.ID, "", store.RefUpdate{UserMetadata: json.RawMessage(`{"big": -1e999}`), Time: at(1)}); !errors.Is(err, store.ErrBadValue) {
		t.Errorf("UpdateRef with 1e999: %v, want ErrBadValue", err)
	}
	for _, f := range []store.AssetFilter{
		{NameContains: "a\x00"}, {NameContains: "\xff"}, {IncludeTags: []string{"t\x00"}},
		{Metadata: store.MetaFilter{{Key: "k\x00", Values: []any{"v\x00"}}}},
	} {
		if _, _, err := s.ListRefs(ctx, store.AssetQuery{AssetFilter: f, Limit: 5}); err != nil && !errors.Is(err, store.ErrBadValue) {
			t.Errorf("ListRefs(%+v): %v, want nil or ErrBadValue", f, err)
		}
	}
	if _, err := s.AddTags(ctx, kept.ID, "", []string{"a\x00"}, "manual", at(2)); err != nil && !errors.Is(err, store.ErrBadValue) {
		t.Errorf("AddTags: %v, want nil or ErrBadValue", err)
	}
	if got := getRef(t, s, kept.ID, ""); got.Name != "kept" {
		t.Errorf("the kept reference reads %q", got.Name)
	}
}

func testConcurrentContent(t *testing.T, s store.AssetStore) {
	var wg sync.WaitGroup
	created := make(chan bool, 8)
	for i := range 8 {
		wg.Go(func() {
			_, c, err := s.PutRef(t.Context(), newRef(42, fmt.Sprint(i)))
			if err != nil {
				t.Error(err)
			}
			created <- c
		})
	}
	wg.Wait()
	close(created)
	n := 0
	for c := range created {
		if c {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d of 8 concurrent puts created the content, want 1", n)
	}
}

// testConcurrentFile registers one file from several goroutines at once
// (a scan racing an output's registration): one reference, no error.
func testConcurrentFile(t *testing.T, s store.AssetStore) {
	var wg sync.WaitGroup
	ids := make(chan string, 8)
	for i := range 8 {
		wg.Go(func() {
			n := newRef(1+i%2, "f.png", "output")
			n.FilePath, n.MtimeNS = "/base/output/f.png", int64(i)
			r, _, err := s.PutRef(t.Context(), n)
			if err != nil {
				t.Error(err)
				return
			}
			ids <- r.ID
		})
	}
	wg.Wait()
	close(ids)
	var distinct []string
	for id := range ids {
		if !slices.Contains(distinct, id) {
			distinct = append(distinct, id)
		}
	}
	if len(distinct) != 1 {
		t.Errorf("concurrent registrations of one file made %d references, want 1", len(distinct))
	}
	if _, total, err := s.ListRefs(t.Context(), store.AssetQuery{Limit: 10}); err != nil || total != 1 {
		t.Errorf("listing holds %d, %v; want 1", total, err)
	}
}

// testConcurrentCounts changes references and their tags from several
// goroutines at once (writers of several instances), a scan marking files
// missing meanwhile, then checks the tag counts and listing totals, which
// a store may keep rather than count, against the references listed.
func testConcurrentCounts(t *testing.T, s store.AssetStore) {
	ctx := t.Context()
	const refs, workers = 48, 6
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < refs; i += workers {
				n := newRef(i, fmt.Sprint("ref", i), "a")
				if i%2 == 0 {
					n.Tags = append(n.Tags, "b")
				}
				if i%4 == 1 {
					n.OwnerID = "u"
				}
				if i%6 == 0 {
					n.FilePath, n.MtimeNS = fmt.Sprintf("/base/c/%d.png", i), 1
				}
				r, _, err := s.PutRef(ctx, n)
				if err != nil {
					t.Error(err)
					return
				}
				if i%3 == 0 {
					_, err = s.AddTags(ctx, r.ID, r.OwnerID, []string{"c", "b"}, "", at(1))
				}
				if err == nil && i%5 == 0 {
					_, err = s.RemoveTags(ctx, r.ID, r.OwnerID, []string{"a"})
				}
				if err == nil && i%7 == 0 {
					err = s.DeleteRef(ctx, r.ID, r.OwnerID, at(2))
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 5 {
			if _, err := s.MarkMissing(ctx, "/base/c", nil, at(3)); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
	if _, err := s.MarkMissing(ctx, "/base/c", nil, at(3)); err != nil {
		t.Fatal(err)
	}
	if t.Failed() {
		return
	}
	// Every file reference is now missing: counted for "missing" alone.
	missing := 0
	for i := 0; i < refs; i += 6 {
		if i%7 != 0 {
			missing++
		}
	}
	for _, owner := range []string{"", "u"} {
		all, _, err := s.ListRefs(ctx, store.AssetQuery{AssetFilter: store.AssetFilter{Owner: owner}, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{}
		for _, r := range all {
			for _, tag := range r.Tags {
				want[tag]++
			}
		}
		want["missing"] = missing // files are everyone's
		tags, _, err := s.Tags(ctx, store.TagQuery{Owner: owner, Order: store.TagsByName, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for _, c := range tags {
			got[c.Name] = c.Count
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("owner %q: tag counts %v, want %v", owner, got, want)
		}
		for _, f := range []store.AssetFilter{
			{}, {IncludeTags: []string{"a"}}, {IncludeTags: []string{"b"}, ExcludeTags: []string{"c"}},
			{ExcludeTags: []string{"a", "missing"}}, {IncludeTags: []string{"a", "c"}}, {IncludeTags: []string{"missing"}},
		} {
			f.Owner = owner
			_, want := modelList(all, store.AssetQuery{AssetFilter: f, Limit: 1})
			if _, total, err := s.ListRefs(ctx, store.AssetQuery{AssetFilter: f, Limit: 1}); err != nil || total != want {
				t.Errorf("total of %+v = %d, %v; want %d", f, total, err, want)
			}
		}
	}
}
