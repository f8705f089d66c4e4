package sqlite

import (
	"context"
	"os"
	"testing"
	"time"
	"strings"
	"fmt"
)

func TestScratchFill(t *testing.T) {
	p := os.Getenv("SCRATCH_DB")
	if p == "" { t.Skip() }
	db, err := Open(context.Background(), p)
	if err != nil { t.Fatal(err) }
	defer db.Close()
	start := time.Now()
	fillAssets(t, db, 100_000)
	t.Log("fill", time.Since(start))
}

func TestScratchQuery(t *testing.T) {
	p := os.Getenv("SCRATCH_DB")
	if p == "" { t.Skip() }
	db, err := Open(context.Background(), p)
	if err != nil { t.Fatal(err) }
	defer db.Close()
	for _, q := range strings.Split(os.Getenv("SCRATCH_Q"), ";;") {
		if q == "" { continue }
		rows, err := db.r.db.Query("EXPLAIN QUERY PLAN " + q)
		if err != nil { t.Fatal(err) }
		for rows.Next() { var a, b, c int; var d string; rows.Scan(&a, &b, &c, &d); fmt.Println("  plan:", d) }
		rows.Close()
		best := time.Hour
		for range 5 {
			s := time.Now()
			rows, err := db.r.db.Query(q)
			if err != nil { t.Fatal(err) }
			n := 0
			for rows.Next() { n++ }
			rows.Close()
			best = min(best, time.Since(s))
			_ = n
		}
		fmt.Println(best, q)
	}
}

func TestScratchCases(t *testing.T) {
	p := os.Getenv("SCRATCH_DB")
	if p == "" { t.Skip() }
	db, err := Open(context.Background(), p)
	if err != nil { t.Fatal(err) }
	defer db.Close()
	for _, c := range listCases {
		where, args := filterSQL(c.q.AssetFilter, false)
		col := sortColumns[c.q.Sort]
		if col == "" { col = "r.created_at" }
		dir := "ASC"
		if c.q.Desc { dir = "DESC" }
		page := fmt.Sprintf("%s WHERE %s ORDER BY %s %s, r.id %s LIMIT %d OFFSET %d", selectRefs, where, col, dir, dir, c.q.Limit, c.q.Offset)
		count, cargs := countSQL(c.q.AssetFilter)
		for i, q := range []string{page, count} {
			if i == 1 { args = cargs }
			rows, _ := db.r.db.Query("EXPLAIN QUERY PLAN "+q, args...)
			for rows.Next() { var a, b, c int; var d string; rows.Scan(&a, &b, &c, &d); fmt.Println("  plan:", d) }
			rows.Close()
			best := time.Hour
			for range 5 {
				s := time.Now()
				rows, err := db.r.db.Query(q, args...)
				if err != nil { t.Fatal(err) }
				for rows.Next() {}
				rows.Close()
				best = min(best, time.Since(s))
			}
			fmt.Println(c.name, best)
		}
	}
}
