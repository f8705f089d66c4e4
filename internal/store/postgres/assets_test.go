package postgres

import (
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/gocomfy/gocomfy/internal/store"
	"github.com/gocomfy/gocomfy/internal/store/storetest"
)

func TestAssetStore(t *testing.T) {
	serverURL(t)
	storetest.RunAssets(t, func(t *testing.T) store.AssetStore {
		db := open(t, freshSchema(t))
		t.Cleanup(func() { db.Close() }) // before the schema is dropped
		return db
	})
}

// TestSeedTagsMatchMigration keeps store.SeedTags and the migration's
// INSERT in step.
func TestSeedTagsMatchMigration(t *testing.T) {
	db := open(t, freshSchema(t))
	defer db.Close()
	rows, err := db.pool.Query(t.Context(), `SELECT name FROM tags ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if want := slices.Sorted(slices.Values(store.SeedTags)); !slices.Equal(got, want) {
		t.Errorf("migrated tags %q, want %q", got, want)
	}
}

// BenchmarkListAssets measures listings (page and total) at 100,000
// references, as the SQLite store's benchmark does; it reports p50 and
// p99 latencies. Filling takes a few minutes.
func BenchmarkListAssets(b *testing.B) {
	serverURL(b)
	db := open(b, freshSchema(b))
	b.Cleanup(func() { db.Close() })
	storetest.FillAssets(b, db, 100_000)
	if _, err := db.pool.Exec(b.Context(), `ANALYZE`); err != nil {
		b.Fatal(err)
	}
	storetest.BenchListAssets(b, db)
}
