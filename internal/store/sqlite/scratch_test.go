package sqlite

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func TestScratchFill(t *testing.T) {
	p := os.Getenv("SCRATCH_DB")
	if p == "" {
		t.Skip()
	}
	db, err := Open(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	start := time.Now()
	fillAssets(t, db, 100_000)
	t.Log("fill", time.Since(start))
}

func TestScratchQuery(t *testing.T) {
	p := os.Getenv("SCRATCH_DB")
	if p == "" {
		t.Skip()
	}
	db, err := Open(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range strings.Split(os.Getenv("SCRATCH_Q"), ";;") {
		if q == "" {
			continue
		}
		rows, err := db.r.db.Query("EXPLAIN QUERY PLAN " + q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var a, b, c int
			var d string
			rows.Scan(&a, &b, &c, &d)
			fmt.Println("  plan:", d)
		}
		rows.Close()
		best := time.Hour
		for range 5 {
			s := time.Now()
			rows, err := db.r.db.Query(q)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for rows.Next() {
				n++
			}
			rows.Close()
			best = min(best, time.Since(s))
			_ = n
		}
		fmt.Println(best, q)
	}
}

func TestScratchCases(t *testing.T) {
	p := os.Getenv("SCRATCH_DB")
	if p == "" {
		t.Skip()
	}
	db, err := Open(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, c := range listCases {
		best := time.Hour
		for range 5 {
			s := time.Now()
			db.ListRefs(t.Context(), c.q)
			best = min(best, time.Since(s))
		}
		fmt.Println(c.name, best)
	}
}

func TestScratchRare(t *testing.T) {
	p := os.Getenv("SCRATCH_DB")
	if p == "" {
		t.Skip()
	}
	db, _ := Open(context.Background(), p)
	defer db.Close()
	for _, c := range listCases {
		db.read(t.Context(), func(tx txn) error {
			s := time.Now()
			pl, _ := tx.plan(c.q.AssetFilter)
			d1 := time.Since(s)
			s = time.Now()
			n, _ := tx.count(pl)
			d2 := time.Since(s)
			s = time.Now()
			qq, aa := pl.pageSQL(c.q, sortIndexes[cmp.Or(c.q.Sort, "created_at")])
			r, _ := tx.refs(qq, aa...)
			d3 := time.Since(s)
			fmt.Println(c.name, "plan", d1, "count", d2, n, "page", d3, len(r), pl.drives(c.q))
			return nil
		})
	}
}
