package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gocomfy/gocomfy/internal/store"
)

// ListCases are the listings measured at scale: what the frontend's asset
// browser sends, and the filters of the API. A store's benchmark fills it
// with data shaped like FillAssets' ("rare" is on 1% of the references).
var ListCases = []struct {
	Name string
	Q    store.AssetQuery
}{
	{"all", store.AssetQuery{Limit: 20, Desc: true}},
	{"input", store.AssetQuery{AssetFilter: store.AssetFilter{IncludeTags: []string{"input"}}, Limit: 20, Desc: true}},
	{"frontend-input", store.AssetQuery{AssetFilter: store.AssetFilter{IncludeTags: []string{"input"}, ExcludeTags: []string{"missing"}}, Limit: 500, Desc: true}},
	{"output-not-favorite", store.AssetQuery{AssetFilter: store.AssetFilter{IncludeTags: []string{"output"}, ExcludeTags: []string{"favorite"}}, Limit: 20, Desc: true}},
	{"rare", store.AssetQuery{AssetFilter: store.AssetFilter{IncludeTags: []string{"rare"}}, Limit: 20, Desc: true}},
	{"name", store.AssetQuery{AssetFilter: store.AssetFilter{NameContains: "Portrait_Cat"}, Limit: 20, Desc: true}},
	{"sort-size", store.AssetQuery{AssetFilter: store.AssetFilter{IncludeTags: []string{"output"}}, Sort: store.SortSize, Limit: 100}},
	{"sort-name-offset", store.AssetQuery{Sort: store.SortName, Limit: 20, Offset: 5000}},
	{"metadata", store.AssetQuery{AssetFilter: store.AssetFilter{Metadata: store.MetaFilter{{Key: "seed", Values: []any{float64(42)}}}}, Limit: 20, Desc: true}},
	{"owner", store.AssetQuery{AssetFilter: store.AssetFilter{Owner: "default"}, Limit: 20, Desc: true}},
}

// FillRef is the i-th of the references a busy server holds: half inputs,
// half outputs, a few other tags, metadata on every one, one in ten owned
// by "default". rnd makes names, sizes and seeds.
func FillRef(i int, rnd *rand.Rand) store.NewRef {
	words := []string{"cat", "dog", "portrait", "landscape", "ComfyUI", "upscaled", "mask", "flux"}
	name := fmt.Sprintf("%s_%s_%05d_.png", words[rnd.IntN(len(words))], words[rnd.IntN(len(words))], i)
	tags := []string{"input"}
	if i%2 == 1 {
		tags = []string{"output"}
	}
	if i%7 == 0 {
		tags = append(tags, "favorite")
	}
	if i%100 == 0 {
		tags = append(tags, "rare")
	}
	owner := ""
	if i%10 == 3 {
		owner = "default"
	}
	return store.NewRef{Hash: fmt.Sprintf("blake3:%064x", i), Size: int64(1000 + rnd.IntN(5_000_000)), MimeType: "image/png",
		Create: true, Name: name, OwnerID: owner, Tags: tags, TagOrigin: "automatic",
		UserMetadata:   fmt.Appendf(nil, `{"filename": %q, "seed": %d}`, name, rnd.IntN(100)),
		SystemMetadata: []byte(`{"kind": "image", "width": 512, "height": 512}`),
		Time:           time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)}
}

// FillAssets stores n FillRef references through PutRef, from a few
// goroutines.
func FillAssets(tb testing.TB, s store.AssetStore, n int) {
	tb.Helper()
	const workers = 4
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(7, uint64(w)))
			for i := w; i < n; i += workers {
				if _, _, err := s.PutRef(tb.Context(), FillRef(i, rnd)); err != nil {
					tb.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if tb.Failed() {
		tb.FailNow()
	}
}

// BenchListAssets measures ListCases and the tag listing on s, which
// holds data shaped like FillAssets'; it reports p50 and p99 latencies.
func BenchListAssets(b *testing.B, s store.AssetStore) {
	for _, c := range ListCases {
		b.Run(c.Name, func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				start := time.Now()
				if _, _, err := s.ListRefs(b.Context(), c.Q); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			reportPercentiles(b, lat)
		})
	}
	b.Run("tags", func(b *testing.B) {
		var lat []time.Duration
		for b.Loop() {
			start := time.Now()
			if _, _, err := s.Tags(b.Context(), store.TagQuery{Order: store.TagsByCount, IncludeZero: true, Limit: 100}); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		reportPercentiles(b, lat)
	})
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	at := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
}
