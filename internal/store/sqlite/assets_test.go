package sqlite

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gocomfy/gocomfy/internal/store"
	"github.com/gocomfy/gocomfy/internal/store/storetest"
)

func openAssets(t testing.TB) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "gocomfy.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestAssetStore(t *testing.T) {
	storetest.RunAssets(t, func(t *testing.T) store.AssetStore { return openAssets(t) })
}

// TestSeedTagsMatchMigration keeps store.SeedTags and the migration's
// INSERT in step.
func TestSeedTagsMatchMigration(t *testing.T) {
	db := openAssets(t)
	rows, err := db.r.db.QueryContext(t.Context(), `SELECT name FROM tags ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		got = append(got, n)
	}
	want := slices.Sorted(slices.Values(store.SeedTags))
	if !slices.Equal(got, want) {
		t.Errorf("migrated tags %q, want %q", got, want)
	}
}

// fillAssets stores n storetest.FillRef references. Rows go in directly,
// many per transaction, as PutRef's one transaction per reference would
// take minutes.
func fillAssets(tb testing.TB, db *DB, n int) {
	tb.Helper()
	rnd := rand.New(rand.NewPCG(7, 8))
	const batch = 5000
	for start := 0; start < n; start += batch {
		err := db.write(tb.Context(), func(t txn) error {
			for i := start; i < min(start+batch, n); i++ {
				r := storetest.FillRef(i, rnd)
				assetID, refID := fmt.Sprintf("a-%08d", i), fmt.Sprintf("%08d-0000-4000-8000-000000000000", i)
				created := r.Time.UnixMicro()
				if _, err := t.exec(`INSERT INTO assets (id, hash, size_bytes, mime_type, created_at) VALUES (?, ?, ?, ?, ?)`,
					assetID, r.Hash, r.Size, r.MimeType, created); err != nil {
					return err
				}
				var seq int64
				if err := t.scanRow(`INSERT INTO asset_refs (id, asset_id, name, name_folded, owner_id, user_metadata,
					system_metadata, size, created_at, updated_at, last_access_time)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
					[]any{refID, assetID, r.Name, strings.ToLower(r.Name), r.OwnerID, string(r.UserMetadata), string(r.SystemMetadata),
						r.Size, created, created, created}, &seq); err != nil {
					return err
				}
				if err := t.addTags(seq, r.Tags, r.TagOrigin, r.Time); err != nil {
					return err
				}
				if err := t.project(seq); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkListAssets measures listings (page and total) at 100,000
// references; it reports p50 and p99 latencies.
func BenchmarkListAssets(b *testing.B) {
	db := openAssets(b)
	fillAssets(b, db, 100_000)
	storetest.BenchListAssets(b, db)
}

// TestListPlans checks the plans of the listings at scale: a page walks
// the sort key's index rather than sorting every match, unless it is read
// from a rare tag's index.
func TestListPlans(t *testing.T) {
	db := openAssets(t)
	fillAssets(t, db, 2000)
	for _, c := range storetest.ListCases {
		var plan []string
		var driven bool
		err := db.read(t.Context(), func(tx txn) error {
			p, err := tx.plan(c.Q.AssetFilter)
			if err != nil {
				return err
			}
			driven = p.drives(c.Q)
			query, args := p.pageSQL(c.Q, sortIndexes[cmp.Or(c.Q.Sort, store.SortAssetCreated)])
			rows, err := tx.tx.QueryContext(t.Context(), `EXPLAIN QUERY PLAN `+query, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var id, parent, unused int
				var detail string
				rows.Scan(&id, &parent, &unused, &detail)
				plan = append(plan, detail)
			}
			return rows.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
		joined := strings.Join(plan, "\n")
		index := sortIndexes[cmp.Or(c.Q.Sort, store.SortAssetCreated)].index
		switch {
		case driven != (c.Name == "rare"):
			t.Errorf("%s: driven by a tag %v, want %v", c.Name, driven, !driven)
		case driven && !strings.Contains(joined, "SEARCH d USING COVERING INDEX asset_ref_tags_tag"):
			t.Errorf("%s: a driven page does not start from the tag index:\n%s", c.Name, joined)
		case !driven && strings.Contains(joined, "TEMP B-TREE"):
			t.Errorf("%s: the page sorts instead of walking an index:\n%s", c.Name, joined)
		case !driven && c.Q.NameContains == "" && !strings.Contains(joined, "SCAN r USING COVERING INDEX "+index):
			t.Errorf("%s: the page does not walk %s alone:\n%s", c.Name, index, joined)
		}
	}
}

// TestMetaProjection checks the rows behind metadata_filter.
func TestMetaProjection(t *testing.T) {
	db := openAssets(t)
	r, _, err := db.PutRef(t.Context(), store.NewRef{Hash: "blake3:" + strings.Repeat("0", 64), Create: true, Name: "x",
		UserMetadata:   json.RawMessage(`{"a": [1, "s", null], "o": {"b": 2}, "n": null}`),
		SystemMetadata: json.RawMessage(`{"a": "shadowed", "kind": "image"}`)})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.r.db.QueryContext(t.Context(), `SELECT key, ordinal, coalesce(val_str, val_num, val_bool, val_json)
		FROM asset_ref_meta m JOIN asset_refs r ON r.seq = m.ref WHERE r.id = ? ORDER BY key, ordinal`, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var key string
		var ord int
		var v any
		rows.Scan(&key, &ord, &v)
		got = append(got, fmt.Sprintf("%s/%d=%v", key, ord, v))
	}
	want := []string{"a/0=1", "a/1=s", "kind/0=image", `o/0={"b":2}`}
	if !slices.Equal(got, want) {
		t.Errorf("projection %q, want %q", got, want)
	}
}

// TestCountersMatchRecount runs random changes and compares asset_counts
// with a count of the rows it stands for.
func TestCountersMatchRecount(t *testing.T) {
	db := openAssets(t)
	ctx := t.Context()
	rnd := rand.New(rand.NewPCG(5, 6))
	tags := []string{"input", "output", "missing", "a", "b"}
	var ids []string
	for i := range 300 {
		switch op := rnd.IntN(6); {
		case op <= 1 || len(ids) == 0:
			n := store.NewRef{Hash: fmt.Sprintf("blake3:%064x", rnd.IntN(50)), Create: true, Name: "x",
				OwnerID: []string{"", "u"}[rnd.IntN(2)], Tags: []string{tags[rnd.IntN(5)], tags[rnd.IntN(5)]}}
			if rnd.IntN(2) == 0 {
				n.FilePath = fmt.Sprintf("/in/%d.png", rnd.IntN(40))
			}
			r, _, err := db.PutRef(ctx, n)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, r.ID)
		case op == 2:
			db.DeleteRef(ctx, ids[rnd.IntN(len(ids))], "u", time.Time{})
		case op == 3:
			db.AddTags(ctx, ids[rnd.IntN(len(ids))], "u", []string{tags[rnd.IntN(5)]}, "manual", time.Time{})
		case op == 4:
			db.RemoveTags(ctx, ids[rnd.IntN(len(ids))], "u", []string{tags[rnd.IntN(5)]})
		default:
			var present []string
			for j := range 40 {
				if rnd.IntN(2) == 0 {
					present = append(present, fmt.Sprintf("/in/%d.png", j))
				}
			}
			if _, err := db.MarkMissing(ctx, "/in", present, time.Time{}); err != nil {
				t.Fatal(err)
			}
		}
		if i%25 != 24 {
			continue
		}
		var diff int
		err := db.r.db.QueryRowContext(ctx, `WITH
			kept AS (SELECT owner_id, tag, n FROM asset_counts WHERE n <> 0),
			recount AS (
				SELECT r.owner_id, '' AS tag, count(*) AS n FROM asset_refs r WHERE `+live+` GROUP BY r.owner_id
				UNION ALL
				SELECT r.owner_id, t.tag, count(*) FROM asset_ref_tags t JOIN asset_refs r ON r.seq = t.ref
				WHERE r.deleted_at IS NULL AND (r.is_missing = 0 OR t.tag = 'missing') GROUP BY r.owner_id, t.tag)
			SELECT (SELECT count(*) FROM (SELECT * FROM kept EXCEPT SELECT * FROM recount))
			     + (SELECT count(*) FROM (SELECT * FROM recount EXCEPT SELECT * FROM kept))`).Scan(&diff)
		if err != nil {
			t.Fatal(err)
		}
		if diff != 0 {
			t.Fatalf("after %d changes, %d counters differ from a recount", i+1, diff)
		}
	}
}
