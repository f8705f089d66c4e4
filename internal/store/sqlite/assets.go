package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gocomfy/gocomfy/internal/store"
)

var _ store.AssetStore = (*DB)(nil)

// refColumns are the columns scanRef reads, asset_refs as r and assets as a.
const refColumns = `r.seq, r.id, r.name, r.owner_id, coalesce(r.file_path, ''), coalesce(r.mtime_ns, 0),
	r.is_missing, r.deleted_at IS NOT NULL, coalesce(r.preview_id, ''), r.user_metadata, r.system_metadata,
	coalesce(r.job_id, ''), r.created_at, r.updated_at, r.last_access_time,
	a.id, coalesce(a.hash, ''), a.size_bytes, coalesce(a.mime_type, ''), a.created_at`

const selectRefs = `SELECT ` + refColumns + ` FROM asset_refs r JOIN assets a ON a.id = r.asset_id`

// live is the condition of the partial listing indexes (migrations/002).
const live = `r.deleted_at IS NULL AND r.is_missing = 0`

// visible keeps the references of everyone (owner "") and of the bound owner.
const visible = `r.owner_id IN ('', ?)`

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// scanRef scans refColumns; seq is the reference's rowid.
func scanRef(row interface{ Scan(...any) error }) (r *store.AssetRef, seq int64, err error) {
	r = &store.AssetRef{}
	var created, updated, accessed, assetCreated int64
	err = row.Scan(&seq, &r.ID, &r.Name, &r.OwnerID, &r.FilePath, &r.MtimeNS, &r.IsMissing, &r.Deleted, &r.PreviewID,
		(*[]byte)(&r.UserMetadata), (*[]byte)(&r.SystemMetadata), &r.JobID, &created, &updated, &accessed,
		&r.Asset.ID, &r.Asset.Hash, &r.Asset.Size, &r.Asset.MimeType, &assetCreated)
	if err != nil {
		return nil, 0, err
	}
	r.CreatedAt, r.UpdatedAt, r.LastAccessTime = fromMicros(created), fromMicros(updated), fromMicros(accessed)
	r.Asset.CreatedAt = fromMicros(assetCreated)
	return r, seq, nil
}

// refs runs a query selecting refColumns and fills in each reference's tags.
func (t txn) refs(query string, args ...any) ([]*store.AssetRef, error) {
	rows, err := t.query(query, args...)
	if err != nil {
		return nil, err
	}
	out := []*store.AssetRef{}
	bySeq := map[int64]*store.AssetRef{}
	var seqs []int64
	for rows.Next() {
		r, seq, err := scanRef(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		r.Tags = []string{}
		out = append(out, r)
		bySeq[seq] = r
		seqs = append(seqs, seq)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(seqs) == 0 {
		return out, err
	}
	list, _ := json.Marshal(seqs)
	rows, err = t.query(`SELECT ref, tag FROM asset_ref_tags
		WHERE ref IN (SELECT value FROM json_each(?)) ORDER BY ref, tag`, list)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var seq int64
		var tag string
		if err := rows.Scan(&seq, &tag); err != nil {
			return nil, err
		}
		bySeq[seq].Tags = append(bySeq[seq].Tags, tag)
	}
	return out, rows.Err()
}

// ref returns the one reference a query selects; ErrNotFound if none.
func (t txn) ref(query string, args ...any) (*store.AssetRef, error) {
	refs, err := t.refs(query, args...)
	if err != nil {
		return nil, err
	}
	if len(refs) == 0 {
		return nil, store.ErrNotFound
	}
	return refs[0], nil
}

// AssetByHash implements store.AssetStore.
func (db *DB) AssetByHash(ctx context.Context, hash string) (*store.Asset, error) {
	var a *store.Asset
	err := db.read(ctx, func(t txn) (err error) {
		a, err = t.assetByHash(hash)
		return err
	})
	return a, err
}

func (t txn) assetByHash(hash string) (*store.Asset, error) {
	var a store.Asset
	var created int64
	err := t.scanRow(`SELECT id, hash, size_bytes, coalesce(mime_type, ''), created_at FROM assets WHERE hash = ?`,
		[]any{hash}, &a.ID, &a.Hash, &a.Size, &a.MimeType, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	a.CreatedAt = fromMicros(created)
	return &a, err
}

// PutRef implements store.AssetStore.
func (db *DB) PutRef(ctx context.Context, n store.NewRef) (*store.AssetRef, bool, error) {
	if n.Hash == "" {
		return nil, false, errors.New("sqlite: put asset reference: empty hash")
	}
	var ref *store.AssetRef
	var created bool
	err := db.write(ctx, func(t txn) error {
		a, err := t.assetByHash(n.Hash)
		switch {
		case errors.Is(err, store.ErrNotFound) && n.Create:
			a = &store.Asset{ID: uuid.NewString(), Hash: n.Hash, Size: n.Size, MimeType: n.MimeType, CreatedAt: n.Time}
			if _, err := t.exec(`INSERT INTO assets (id, hash, size_bytes, mime_type, created_at) VALUES (?, ?, ?, ?, ?)`,
				a.ID, a.Hash, a.Size, nullable(a.MimeType), micros(a.CreatedAt)); err != nil {
				return err
			}
			created = true
		case err != nil:
			return err
		case a.MimeType == "" && n.MimeType != "":
			if _, err := t.exec(`UPDATE assets SET mime_type = ? WHERE id = ?`, n.MimeType, a.ID); err != nil {
				return err
			}
		}
		if n.PreviewID != "" {
			if ok, err := t.exists(`SELECT 1 FROM asset_refs WHERE id = ? AND deleted_at IS NULL`, n.PreviewID); err != nil {
				return err
			} else if !ok {
				n.PreviewID = ""
			}
		}
		seq, err := t.putRef(a, n)
		if err != nil {
			return err
		}
		if err := t.addTags(seq, n.Tags, n.TagOrigin, n.Time); err != nil {
			return err
		}
		if err := t.project(seq); err != nil {
			return err
		}
		ref, err = t.ref(selectRefs+` WHERE r.seq = ?`, seq)
		return err
	})
	return ref, created, err
}

// putRef inserts the reference, or updates the file's one, and returns its seq.
func (t txn) putRef(a *store.Asset, n store.NewRef) (int64, error) {
	if n.FilePath != "" {
		var seq int64
		var oldUser, oldSystem []byte
		err := t.scanRow(`SELECT seq, user_metadata, system_metadata FROM asset_refs WHERE file_path = ?`,
			[]any{n.FilePath}, &seq, &oldUser, &oldSystem)
		if err == nil {
			return seq, t.updateFileRef(seq, a, n, oldUser, oldSystem)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return 0, err
		}
	}
	now := micros(n.Time)
	var mtime any
	if n.FilePath != "" {
		mtime = n.MtimeNS
	}
	var seq int64
	err := t.scanRow(`INSERT INTO asset_refs (id, asset_id, name, name_folded, owner_id, file_path, mtime_ns,
		preview_id, user_metadata, system_metadata, job_id, size, created_at, updated_at, last_access_time)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
		[]any{uuid.NewString(), a.ID, n.Name, strings.ToLower(n.Name), n.OwnerID, nullable(n.FilePath), mtime,
			nullable(n.PreviewID), []byte(orEmptyObject(n.UserMetadata)), nullableJSON(n.SystemMetadata),
			nullable(n.JobID), a.Size, now, now, now},
		&seq)
	return seq, err
}

// updateFileRef points a file's reference at new content (see store.NewRef).
func (t txn) updateFileRef(seq int64, a *store.Asset, n store.NewRef, oldUser, oldSystem []byte) error {
	user, err := store.MergeMetadata(oldUser, n.UserMetadata)
	if err != nil {
		return err
	}
	system, err := store.MergeMetadata(oldSystem, n.SystemMetadata)
	if err != nil {
		return err
	}
	if _, err := t.exec(`UPDATE asset_refs SET asset_id = ?, size = ?, mtime_ns = ?, is_missing = 0,
		deleted_at = NULL, job_id = coalesce(?, job_id), preview_id = coalesce(?, preview_id),
		user_metadata = ?, system_metadata = ?, updated_at = ? WHERE seq = ?`,
		a.ID, a.Size, n.MtimeNS, nullable(n.JobID), nullable(n.PreviewID),
		[]byte(user), nullableJSON(system), micros(n.Time), seq); err != nil {
		return err
	}
	_, err = t.exec(`DELETE FROM asset_ref_tags WHERE ref = ? AND tag = 'missing'`, seq)
	return err
}

// project rebuilds a reference's metadata projection (asset_ref_meta).
func (t txn) project(seq int64) error {
	var user, system []byte
	if err := t.scanRow(`SELECT user_metadata, system_metadata FROM asset_refs WHERE seq = ?`,
		[]any{seq}, &user, &system); err != nil {
		return err
	}
	rows, err := store.MetaRows(system, user)
	if err != nil {
		return err
	}
	if _, err := t.exec(`DELETE FROM asset_ref_meta WHERE ref = ?`, seq); err != nil {
		return err
	}
	for _, m := range rows {
		vals := [4]any{} // val_str, val_num, val_bool, val_json
		switch v := m.Value.(type) {
		case string:
			vals[0] = v
		case float64:
			vals[1] = v
		case bool:
			vals[2] = v
		case json.RawMessage:
			vals[3] = string(v)
		}
		if _, err := t.exec(`INSERT INTO asset_ref_meta (ref, key, ordinal, val_str, val_num, val_bool, val_json)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, seq, m.Key, m.Ordinal, vals[0], vals[1], vals[2], vals[3]); err != nil {
			return err
		}
	}
	return nil
}

// Ref implements store.AssetStore.
func (db *DB) Ref(ctx context.Context, id, owner string) (*store.AssetRef, error) {
	var ref *store.AssetRef
	err := db.read(ctx, func(t txn) (err error) {
		ref, err = t.ref(selectRefs+` WHERE r.id = ? AND r.deleted_at IS NULL AND `+visible, id, owner)
		return err
	})
	return ref, err
}

// RefByPath implements store.AssetStore.
func (db *DB) RefByPath(ctx context.Context, path string) (*store.AssetRef, error) {
	var ref *store.AssetRef
	err := db.read(ctx, func(t txn) (err error) {
		ref, err = t.ref(selectRefs+` WHERE r.file_path = ?`, path)
		return err
	})
	return ref, err
}

// RefsOf implements store.AssetStore.
func (db *DB) RefsOf(ctx context.Context, assetID string) ([]*store.AssetRef, error) {
	var refs []*store.AssetRef
	err := db.read(ctx, func(t txn) (err error) {
		refs, err = t.refs(selectRefs+` WHERE r.asset_id = ? AND `+live+` ORDER BY r.id`, assetID)
		return err
	})
	return refs, err
}

// sortIndex is a listing key's column and its partial index (column, id).
type sortIndex struct{ column, index string }

// sortIndexes are the listing keys' indexes. A page names its index:
// without statistics the planner would rather take asset_refs_owner for
// its owner_id equality, and then sort every match.
var sortIndexes = map[store.AssetSort]sortIndex{
	store.SortName:           {"r.name", "asset_refs_name"},
	store.SortAssetCreated:   {"r.created_at", "asset_refs_created"},
	store.SortUpdated:        {"r.updated_at", "asset_refs_updated"},
	store.SortSize:           {"r.size", "asset_refs_size"},
	store.SortLastAccessTime: {"r.last_access_time", "asset_refs_access"},
}

// ListRefs implements store.AssetStore.
func (db *DB) ListRefs(ctx context.Context, q store.AssetQuery) ([]*store.AssetRef, int, error) {
	if q.Sort == "" {
		q.Sort = store.SortAssetCreated
	}
	sort, ok := sortIndexes[q.Sort]
	if !ok || q.Limit <= 0 || q.Offset < 0 {
		return nil, 0, fmt.Errorf("sqlite: list assets: bad query (sort %q, limit %d, offset %d)", q.Sort, q.Limit, q.Offset)
	}
	var refs []*store.AssetRef
	var total int
	err := db.read(ctx, func(t txn) error {
		p, err := t.plan(q.AssetFilter)
		if err != nil || p.empty {
			refs = []*store.AssetRef{}
			return err
		}
		if total, err = t.count(p); err != nil {
			return err
		}
		query, args := p.pageSQL(q, sort)
		refs, err = t.refs(query, args...)
		return err
	})
	return refs, total, err
}

// A refPlan is how the references matching a filter are found. Without
// statistics SQLite's planner can't tell a tag half of the references
// carry from one that ten carry, so the store decides from its counters:
// the rarest include tag may drive the query from its index, and a total
// may be a counter less the few references an exclude tag removes (the
// frontend always excludes "missing").
type refPlan struct {
	f     store.AssetFilter
	empty bool // an include tag no reference carries: nothing matches
	// live is the number of live references the owner sees; driver is
	// the include tag with the fewest references (n), if any; excluded
	// is the number of references carrying the exclude tags, at most.
	live     int
	driver   string
	n        int
	excluded int
	// counted is set when a counter less the excluded matches gives the
	// total: no name or metadata condition, at most one include tag.
	counted bool
}

// plan reads the counters of the filter's tags.
func (t txn) plan(f store.AssetFilter) (refPlan, error) {
	p := refPlan{f: f}
	tags := slices.Compact(slices.Sorted(slices.Values(f.IncludeTags)))
	list, _ := json.Marshal(slices.Concat([]string{""}, tags, f.ExcludeTags))
	rows, err := t.query(`SELECT tag, sum(n) FROM asset_counts WHERE owner_id IN ('', ?)
		AND tag IN (SELECT value FROM json_each(?)) GROUP BY tag`, f.Owner, list)
	if err != nil {
		return p, err
	}
	counts := map[string]int{}
	for rows.Next() {
		var tag string
		var n int
		if err := rows.Scan(&tag, &n); err != nil {
			rows.Close()
			return p, err
		}
		counts[tag] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return p, err
	}
	p.live = counts[""]
	for _, tag := range tags {
		if n := counts[tag]; p.driver == "" || n < p.n {
			p.driver, p.n = tag, n
		}
	}
	for _, tag := range slices.Compact(slices.Sorted(slices.Values(f.ExcludeTags))) {
		p.excluded += counts[tag]
	}
	p.empty = p.live == 0 || p.driver != "" && p.n == 0
	// The "missing" counter also counts missing references, which
	// listings leave out: it bounds the matches rather than giving them.
	p.counted = f.NameContains == "" && len(f.Metadata) == 0 && len(tags) <= 1 && p.driver != "missing"
	return p, nil
}

// count returns the number of matches: from the counters (less the
// references an exclusion removes, found from the exclude tags' index when
// they are fewer), from the driver tag's index, or by scanning the narrow
// asset_refs_owner index.
func (t txn) count(p refPlan) (int, error) {
	base := p.live
	if p.driver != "" {
		base = p.n
	}
	if p.counted && len(p.f.ExcludeTags) == 0 {
		return base, nil
	}
	var query string
	var args []any
	subtract := p.counted && p.excluded < base
	if subtract {
		kept := p.f
		kept.ExcludeTags = nil
		where, whereArgs := filterSQL(kept, false)
		list, _ := json.Marshal(p.f.ExcludeTags)
		query = `FROM asset_refs r NOT INDEXED WHERE r.seq IN (SELECT x.ref FROM asset_ref_tags x
			WHERE x.tag IN (SELECT value FROM json_each(?))) AND ` + where
		args = append([]any{list}, whereArgs...)
	} else {
		query, args = p.matches()
	}
	var n int
	if err := t.scanRow(`SELECT count(*) `+query, args, &n); err != nil {
		return 0, err
	}
	if subtract {
		return base - n, nil
	}
	return n, nil
}

// drivenFrom reads the references carrying a tag, from the tag's index.
// CROSS JOIN keeps d the outer loop.
const drivenFrom = `FROM asset_ref_tags d CROSS JOIN asset_refs r ON r.seq = d.ref`

// driven returns the WHERE condition of the matches under drivenFrom.
func (p refPlan) driven() (string, []any) {
	where, args := filterSQL(p.f, false)
	return `d.tag = ? AND ` + where, append([]any{p.driver}, args...)
}

// matches returns the FROM and WHERE clauses that count the matches as r:
// driven by the driver tag if any, else over the narrow index.
func (p refPlan) matches() (string, []any) {
	if p.driver != "" {
		where, args := p.driven()
		return drivenFrom + ` WHERE ` + where, args
	}
	where, args := filterSQL(p.f, true)
	return `FROM asset_refs r INDEXED BY asset_refs_owner WHERE ` + where, args
}

// pageSQL returns the query of one page of the matches and its arguments.
// The page walks the sort key's index in order and stops after it, unless
// p.drives(q). Only the keys of the page's rows are selected that way; the
// rows themselves are read after, for the page alone.
func (p refPlan) pageSQL(q store.AssetQuery, sort sortIndex) (string, []any) {
	dir, cmp := "ASC", ">"
	if q.Desc {
		dir, cmp = "DESC", "<"
	}
	var from, where string
	var args []any
	if p.drives(q) {
		from = drivenFrom
		where, args = p.driven()
	} else {
		from = `FROM asset_refs r INDEXED BY ` + sort.index
		where, args = filterSQL(p.f, false)
	}
	if q.After != nil {
		where += fmt.Sprintf(" AND (%s, r.id) %s (?, ?)", sort.column, cmp)
		args = append(args, keyValue(q.Sort, *q.After), q.After.ID)
	}
	keys := fmt.Sprintf("SELECT r.seq AS seq, %s AS k, r.id AS id %s WHERE %s ORDER BY k %s, id %s LIMIT ?",
		sort.column, from, where, dir, dir)
	args = append(args, q.Limit)
	if q.After == nil {
		keys += " OFFSET ?"
		args = append(args, q.Offset)
	}
	query := fmt.Sprintf(`SELECT %s FROM (%s) p CROSS JOIN asset_refs r ON r.seq = p.seq
		JOIN assets a ON a.id = r.asset_id ORDER BY p.k %s, p.id %s`, refColumns, keys, dir, dir)
	return query, args
}

// drives reports whether a page of q is read from the driver tag's
// references and sorted: when there are fewer of them than the rows a walk
// of the sort index would skip, about (offset+limit) × live / n.
func (p refPlan) drives(q store.AssetQuery) bool {
	return p.driver != "" && p.n*p.n < (q.Offset+q.Limit)*p.live
}

// keyValue is the column value of a listing place.
func keyValue(s store.AssetSort, k store.AssetKey) any {
	switch s {
	case store.SortName:
		return k.Name
	case store.SortSize:
		return k.Size
	}
	return micros(k.Time)
}

// filterSQL returns the WHERE condition of a filter over asset_refs r and
// its arguments. The query text depends only on the shape of the filter
// (how many tags and metadata values), so the statement cache stays small.
//
// For a page (count false) the tag and metadata conditions are correlated
// EXISTS probes: the page walks a sort index and stops after LIMIT rows.
// For a total (count true) they are IN sets built once per query, which
// costs about a third of a probe per row when every row must be seen.
func filterSQL(f store.AssetFilter, count bool) (string, []any) {
	conds := []string{live, visible}
	args := []any{f.Owner}
	// member is the condition that the rows of table x matching cond
	// include (exclude, with not) reference r.
	member := func(not bool, table, cond string) string {
		neg := ""
		if not {
			neg = "NOT "
		}
		if count {
			return "r.seq " + neg + "IN (SELECT x.ref FROM " + table + " x WHERE " + cond + ")"
		}
		return neg + "EXISTS (SELECT 1 FROM " + table + " x WHERE x.ref = r.seq AND " + cond + ")"
	}
	if f.NameContains != "" {
		conds = append(conds, `instr(r.name_folded, ?) > 0`)
		args = append(args, strings.ToLower(f.NameContains))
	}
	for _, tag := range f.IncludeTags {
		conds = append(conds, member(false, "asset_ref_tags", "x.tag = ?"))
		args = append(args, tag)
	}
	if len(f.ExcludeTags) > 0 {
		list, _ := json.Marshal(f.ExcludeTags)
		conds = append(conds, member(true, "asset_ref_tags", "x.tag IN (SELECT value FROM json_each(?))"))
		args = append(args, list)
	}
	for _, c := range f.Metadata {
		var alts []string
		for _, v := range c.Values {
			col, arg := store.MetaColumn(v)
			if col == "" {
				alts = append(alts, member(true, "asset_ref_meta", "x.key = ?"))
				args = append(args, c.Key)
				continue
			}
			alts = append(alts, member(false, "asset_ref_meta", "x.key = ? AND x."+col+" = ?"))
			args = append(args, c.Key, arg)
		}
		conds = append(conds, "("+strings.Join(alts, " OR ")+")")
	}
	return strings.Join(conds, " AND "), args
}

// writable returns the seq of a reference that is not deleted:
// ErrNotFound when there is none, ErrForbidden when it is another user's.
func (t txn) writable(id, owner string) (int64, error) {
	var seq int64
	var refOwner string
	err := t.scanRow(`SELECT seq, owner_id FROM asset_refs WHERE id = ? AND deleted_at IS NULL`, []any{id}, &seq, &refOwner)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, store.ErrNotFound
	case err != nil:
		return 0, err
	case refOwner != "" && refOwner != owner:
		return 0, store.ErrForbidden
	}
	return seq, nil
}

// UpdateRef implements store.AssetStore.
func (db *DB) UpdateRef(ctx context.Context, id, owner string, u store.RefUpdate) (*store.AssetRef, error) {
	var ref *store.AssetRef
	err := db.write(ctx, func(t txn) error {
		seq, err := t.writable(id, owner)
		if err != nil {
			return err
		}
		now := micros(u.Time)
		if u.Name != nil {
			if _, err := t.exec(`UPDATE asset_refs SET name = ?, name_folded = ?, updated_at = ?
				WHERE seq = ? AND name <> ?`, *u.Name, strings.ToLower(*u.Name), now, seq, *u.Name); err != nil {
				return err
			}
		}
		if u.PreviewID != nil {
			ok, err := t.exists(`SELECT 1 FROM asset_refs WHERE id = ?`, *u.PreviewID)
			if err != nil {
				return err
			}
			if !ok {
				return store.ErrPreviewNotFound
			}
			if _, err := t.exec(`UPDATE asset_refs SET preview_id = ?, updated_at = ? WHERE seq = ?`,
				*u.PreviewID, now, seq); err != nil {
				return err
			}
		}
		if u.UserMetadata != nil {
			if _, err := t.exec(`UPDATE asset_refs SET user_metadata = ?, updated_at = ? WHERE seq = ?`,
				[]byte(u.UserMetadata), now, seq); err != nil {
				return err
			}
			if err := t.project(seq); err != nil {
				return err
			}
		}
		ref, err = t.ref(selectRefs+` WHERE r.seq = ?`, seq)
		return err
	})
	return ref, err
}

// DeleteRef implements store.AssetStore.
func (db *DB) DeleteRef(ctx context.Context, id, owner string, at time.Time) error {
	return db.write(ctx, func(t txn) error {
		n, err := t.exec(`UPDATE asset_refs SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL
			AND owner_id IN ('', ?)`, micros(at), id, owner)
		if err == nil && n == 0 {
			err = store.ErrNotFound
		}
		return err
	})
}

// TouchRef implements store.AssetStore.
func (db *DB) TouchRef(ctx context.Context, id string, at time.Time) error {
	return db.write(ctx, func(t txn) error {
		_, err := t.exec(`UPDATE asset_refs SET last_access_time = ? WHERE id = ? AND last_access_time < ?`,
			micros(at), id, micros(at))
		return err
	})
}

// AddTags implements store.AssetStore.
func (db *DB) AddTags(ctx context.Context, id, owner string, tags []string, origin string, at time.Time) (store.TagChange, error) {
	return db.changeTags(ctx, id, owner, tags, false, func(t txn, seq int64, todo []string) error {
		return t.addTags(seq, todo, origin, at)
	})
}

// RemoveTags implements store.AssetStore.
func (db *DB) RemoveTags(ctx context.Context, id, owner string, tags []string) (store.TagChange, error) {
	return db.changeTags(ctx, id, owner, tags, true, func(t txn, seq int64, todo []string) error {
		list, _ := json.Marshal(todo)
		_, err := t.exec(`DELETE FROM asset_ref_tags WHERE ref = ? AND tag IN (SELECT value FROM json_each(?))`, seq, list)
		return err
	})
}

// changeTags applies change to the given tags the reference lacks (has,
// when removing) and reports what changed.
func (db *DB) changeTags(ctx context.Context, id, owner string, tags []string, removing bool,
	change func(t txn, seq int64, todo []string) error) (store.TagChange, error) {
	var c store.TagChange
	err := db.write(ctx, func(t txn) error {
		seq, err := t.writable(id, owner)
		if err != nil {
			return err
		}
		before, err := t.tagsOf(seq)
		if err != nil {
			return err
		}
		c = store.SplitTags(before, tags, removing)
		if len(c.Changed) > 0 {
			if err := change(t, seq, c.Changed); err != nil {
				return err
			}
		}
		c.Tags, err = t.tagsOf(seq)
		return err
	})
	return c, err
}

func (t txn) tagsOf(seq int64) ([]string, error) {
	rows, err := t.query(`SELECT tag FROM asset_ref_tags WHERE ref = ? ORDER BY tag`, seq)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	tags := []string{}
	for rows.Next() {
		var tag string
		if err := rows.Scan(&tag); err != nil {
			return nil, err
		}
		tags = append(tags, tag)
	}
	return tags, rows.Err()
}

// addTags creates the tags that are new and adds them to the reference.
func (t txn) addTags(seq int64, tags []string, origin string, at time.Time) error {
	if len(tags) == 0 {
		return nil
	}
	if origin == "" {
		origin = "manual"
	}
	list, _ := json.Marshal(tags)
	if _, err := t.exec(`INSERT OR IGNORE INTO tags (name) SELECT value FROM json_each(?)`, list); err != nil {
		return err
	}
	_, err := t.exec(`INSERT OR IGNORE INTO asset_ref_tags (ref, tag, origin, added_at)
		SELECT ?, value, ?, ? FROM json_each(?)`, seq, origin, micros(at), list)
	return err
}

// Tags implements store.AssetStore. The counts come from asset_counts.
func (db *DB) Tags(ctx context.Context, q store.TagQuery) ([]store.TagCount, int, error) {
	if q.Limit <= 0 || q.Offset < 0 {
		return nil, 0, fmt.Errorf("sqlite: list tags: bad limit %d or offset %d", q.Limit, q.Offset)
	}
	counted := `SELECT g.name, coalesce(sum(c.n), 0) AS n FROM tags g
		LEFT JOIN asset_counts c ON c.tag = g.name AND c.owner_id IN ('', ?)
		WHERE ? = '' OR instr(g.name, ?) = 1 GROUP BY g.name`
	if !q.IncludeZero {
		counted += ` HAVING n > 0`
	}
	order := `n DESC, name`
	if q.Order == store.TagsByName {
		order = `name`
	}
	filterArgs := []any{q.Owner, q.Prefix, q.Prefix}
	var out []store.TagCount
	var total int
	err := db.read(ctx, func(t txn) error {
		rows, err := t.query(`SELECT name, n FROM (`+counted+`) ORDER BY `+order+` LIMIT ? OFFSET ?`,
			append(slices.Clone(filterArgs), q.Limit, q.Offset)...)
		if err != nil {
			return err
		}
		if out, err = scanTagCounts(rows); err != nil {
			return err
		}
		return t.scanRow(`SELECT count(*) FROM (`+counted+`)`, filterArgs, &total)
	})
	return out, total, err
}

func scanTagCounts(rows *sql.Rows) ([]store.TagCount, error) {
	defer rows.Close()
	out := []store.TagCount{}
	for rows.Next() {
		var c store.TagCount
		if err := rows.Scan(&c.Name, &c.Count); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// TagHistogram implements store.AssetStore.
func (db *DB) TagHistogram(ctx context.Context, f store.AssetFilter, limit int) ([]store.TagCount, error) {
	var out []store.TagCount
	err := db.read(ctx, func(t txn) error {
		p, err := t.plan(f)
		if err != nil || p.empty {
			out = []store.TagCount{}
			return err
		}
		matches, args := p.matches()
		rows, err := t.query(`SELECT t.tag, count(*) AS n FROM asset_ref_tags t
			WHERE t.ref IN (SELECT r.seq `+matches+`)
			GROUP BY t.tag ORDER BY n DESC, t.tag LIMIT ?`, append(args, limit)...)
		if err != nil {
			return err
		}
		out, err = scanTagCounts(rows)
		return err
	})
	return out, err
}

// MarkMissing implements store.AssetStore.
func (db *DB) MarkMissing(ctx context.Context, dir string, present []string, at time.Time) (int, error) {
	// file_path is under dir: a range on its unique index ('0' is the
	// character after '/').
	dir = strings.TrimSuffix(dir, "/")
	const under = `file_path > ? AND file_path < ?`
	lo, hi := dir+"/", dir+"0"
	if present == nil {
		present = []string{}
	}
	list, _ := json.Marshal(present)
	var n int
	err := db.write(ctx, func(t txn) error {
		gone := `deleted_at IS NULL AND is_missing = 0 AND ` + under +
			` AND file_path NOT IN (SELECT value FROM json_each(?))`
		if _, err := t.exec(`INSERT OR IGNORE INTO asset_ref_tags (ref, tag, origin, added_at)
			SELECT seq, 'missing', 'automatic', ? FROM asset_refs WHERE `+gone, micros(at), lo, hi, list); err != nil {
			return err
		}
		var err error
		if n, err = t.exec(`UPDATE asset_refs SET is_missing = 1 WHERE `+gone, lo, hi, list); err != nil {
			return err
		}
		back := `SELECT seq FROM asset_refs WHERE is_missing = 1 AND file_path IN (SELECT value FROM json_each(?))`
		if _, err := t.exec(`DELETE FROM asset_ref_tags WHERE tag = 'missing' AND ref IN (`+back+`)`, list); err != nil {
			return err
		}
		_, err = t.exec(`UPDATE asset_refs SET is_missing = 0 WHERE seq IN (`+back+`)`, list)
		return err
	})
	return n, err
}

// MarkMissingOutside implements store.AssetStore.
func (db *DB) MarkMissingOutside(ctx context.Context, dirs []string, at time.Time) (int, error) {
	if len(dirs) == 0 {
		return 0, nil
	}
	// Under a dir: the range of MarkMissing.
	var under []string
	var args []any
	for _, d := range dirs {
		d = strings.TrimSuffix(d, "/")
		under = append(under, `(file_path > ? AND file_path < ?)`)
		args = append(args, d+"/", d+"0")
	}
	outside := `file_path IS NOT NULL AND deleted_at IS NULL AND is_missing = 0 AND NOT (` + strings.Join(under, " OR ") + `)`
	var n int
	err := db.write(ctx, func(t txn) error {
		if _, err := t.exec(`INSERT OR IGNORE INTO asset_ref_tags (ref, tag, origin, added_at)
			SELECT seq, 'missing', 'automatic', ? FROM asset_refs WHERE `+outside, append([]any{micros(at)}, args...)...); err != nil {
			return err
		}
		var err error
		n, err = t.exec(`UPDATE asset_refs SET is_missing = 1 WHERE `+outside, args...)
		return err
	})
	return n, err
}

// exists reports whether a query returns a row.
func (t txn) exists(query string, args ...any) (bool, error) {
	var one int
	err := t.scanRow(query, args, &one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// nullable binds "" as NULL.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nullableJSON binds empty JSON as NULL.
func nullableJSON(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// orEmptyObject is b, or {} when b is empty.
func orEmptyObject(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage(`{}`)
	}
	return b
}
