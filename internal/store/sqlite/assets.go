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
	"github.com/gocomfy/gocomfy/pyjson"
)

var _ store.AssetStore = (*DB)(nil)

// refColumns are the columns scanRef reads, asset_refs as r and assets as a.
const refColumns = `r.id, r.name, r.owner_id, coalesce(r.file_path, ''), coalesce(r.mtime_ns, 0),
	r.is_missing, coalesce(r.preview_id, ''), r.user_metadata, r.system_metadata,
	coalesce(r.job_id, ''), r.created_at, r.updated_at, r.last_access_time,
	a.id, coalesce(a.hash, ''), a.size_bytes, coalesce(a.mime_type, ''), a.created_at`

const selectRefs = `SELECT ` + refColumns + ` FROM asset_refs r JOIN assets a ON a.id = r.asset_id`

// live is the condition of the partial listing indexes (migrations/002).
const live = `r.deleted_at IS NULL AND r.is_missing = 0`

// visible keeps the references of everyone (owner "") and of the bound owner.
const visible = `r.owner_id IN ('', ?)`

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func scanRef(row interface{ Scan(...any) error }) (*store.AssetRef, error) {
	var r store.AssetRef
	var created, updated, accessed, assetCreated int64
	err := row.Scan(&r.ID, &r.Name, &r.OwnerID, &r.FilePath, &r.MtimeNS, &r.IsMissing, &r.PreviewID,
		(*[]byte)(&r.UserMetadata), (*[]byte)(&r.SystemMetadata), &r.JobID, &created, &updated, &accessed,
		&r.Asset.ID, &r.Asset.Hash, &r.Asset.Size, &r.Asset.MimeType, &assetCreated)
	if err != nil {
		return nil, err
	}
	r.CreatedAt, r.UpdatedAt, r.LastAccessTime = fromMicros(created), fromMicros(updated), fromMicros(accessed)
	r.Asset.CreatedAt = fromMicros(assetCreated)
	return &r, nil
}

// refs runs a query selecting refColumns and fills in each reference's tags.
func (t txn) refs(query string, args ...any) ([]*store.AssetRef, error) {
	rows, err := t.query(query, args...)
	if err != nil {
		return nil, err
	}
	var out []*store.AssetRef
	for rows.Next() {
		r, err := scanRef(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, t.fillTags(out)
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

// fillTags sets the (sorted) tags of refs with one query.
func (t txn) fillTags(refs []*store.AssetRef) error {
	if len(refs) == 0 {
		return nil
	}
	ids := make([]string, len(refs))
	byID := make(map[string]*store.AssetRef, len(refs))
	for i, r := range refs {
		ids[i] = r.ID
		byID[r.ID] = r
		r.Tags = []string{}
	}
	list, _ := json.Marshal(ids)
	rows, err := t.query(`SELECT ref_id, tag FROM asset_ref_tags
		WHERE ref_id IN (SELECT value FROM json_each(?)) ORDER BY ref_id, tag`, list)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, tag string
		if err := rows.Scan(&id, &tag); err != nil {
			return err
		}
		byID[id].Tags = append(byID[id].Tags, tag)
	}
	return rows.Err()
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
		id, err := t.putRef(a, n)
		if err != nil {
			return err
		}
		if err := t.addTags(id, n.Tags, n.TagOrigin, n.Time); err != nil {
			return err
		}
		if err := t.project(id); err != nil {
			return err
		}
		ref, err = t.ref(selectRefs+` WHERE r.id = ?`, id)
		return err
	})
	return ref, created, err
}

// putRef inserts the reference, or updates the file's one, and returns its id.
func (t txn) putRef(a *store.Asset, n store.NewRef) (string, error) {
	if n.FilePath != "" {
		var id string
		var oldUser, oldSystem []byte
		err := t.scanRow(`SELECT id, user_metadata, system_metadata FROM asset_refs WHERE file_path = ?`,
			[]any{n.FilePath}, &id, &oldUser, &oldSystem)
		if err == nil {
			user, err := mergeObjects(oldUser, n.UserMetadata)
			if err != nil {
				return "", err
			}
			system, err := mergeObjects(oldSystem, n.SystemMetadata)
			if err != nil {
				return "", err
			}
			_, err = t.exec(`UPDATE asset_refs SET asset_id = ?, size = ?, mtime_ns = ?, is_missing = 0,
				deleted_at = NULL, job_id = coalesce(?, job_id), preview_id = coalesce(?, preview_id),
				user_metadata = ?, system_metadata = ?, updated_at = ? WHERE id = ?`,
				a.ID, a.Size, n.MtimeNS, nullable(n.JobID), nullable(n.PreviewID),
				[]byte(user), nullableJSON(system), micros(n.Time), id)
			if err != nil {
				return "", err
			}
			_, err = t.exec(`DELETE FROM asset_ref_tags WHERE ref_id = ? AND tag = 'missing'`, id)
			return id, err
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return "", err
		}
	}
	id := uuid.NewString()
	now := micros(n.Time)
	_, err := t.exec(`INSERT INTO asset_refs (id, asset_id, name, name_folded, owner_id, file_path, mtime_ns,
		preview_id, user_metadata, system_metadata, job_id, size, created_at, updated_at, last_access_time)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, a.ID, n.Name, strings.ToLower(n.Name), n.OwnerID, nullable(n.FilePath), nullableInt(n.FilePath, n.MtimeNS),
		nullable(n.PreviewID), []byte(orEmptyObject(n.UserMetadata)), nullableJSON(n.SystemMetadata), nullable(n.JobID), a.Size,
		now, now, now)
	return id, err
}

// mergeObjects returns the JSON object old with the keys of add set (new
// keys last, as a Python dict update); nil when both are empty.
func mergeObjects(old, add []byte) (json.RawMessage, error) {
	if len(add) == 0 {
		return old, nil
	}
	if len(old) == 0 {
		return add, nil
	}
	o, err := pyjson.DecodeObject(old)
	if err != nil {
		return nil, fmt.Errorf("sqlite: stored metadata: %w", err)
	}
	a, err := pyjson.DecodeObject(add)
	if err != nil {
		return nil, fmt.Errorf("sqlite: metadata: %w", err)
	}
	for _, f := range a {
		o.Set(f.Key, f.Value)
	}
	return json.Marshal(o)
}

// project rebuilds a reference's metadata projection (asset_ref_meta).
func (t txn) project(id string) error {
	var user, system []byte
	if err := t.scanRow(`SELECT user_metadata, system_metadata FROM asset_refs WHERE id = ?`,
		[]any{id}, &user, &system); err != nil {
		return err
	}
	rows, err := store.MetaRows(system, user)
	if err != nil {
		return err
	}
	if _, err := t.exec(`DELETE FROM asset_ref_meta WHERE ref_id = ?`, id); err != nil {
		return err
	}
	for _, m := range rows {
		var str, num, boolean, js any
		switch v := m.Value.(type) {
		case string:
			str = v
		case float64:
			num = v
		case bool:
			boolean = v
		case json.RawMessage:
			js = string(v)
		}
		if _, err := t.exec(`INSERT INTO asset_ref_meta (ref_id, key, ordinal, val_str, val_num, val_bool, val_json)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, id, m.Key, m.Ordinal, str, num, boolean, js); err != nil {
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

// sortIndex is a listing key's column and its index.
type sortIndex struct{ column, index string }

// sortIndexes are the listing keys' columns and their partial indexes
// (column, id). A page names its index: without statistics the planner
// would rather take asset_refs_owner for its owner_id equality and then
// sort every match.
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
		refs, err = t.page(p, q, sort)
		return err
	})
	return refs, total, err
}

// A refPlan is how the references matching a filter are found. Without
// statistics SQLite's planner can't tell a tag carried by half of the
// references from one carried by ten, so the store decides from its
// counters: a rare include tag drives the query from its index.
type refPlan struct {
	f     store.AssetFilter
	empty bool // an include tag no reference carries: nothing matches
	// live is the number of live references the owner sees; driver is
	// the include tag with the fewest references (n), if any.
	live   int
	driver string
	n      int
	// counted is set when the counters give the total.
	counted bool
}

// plan reads the counters of the filter's include tags.
func (t txn) plan(f store.AssetFilter) (refPlan, error) {
	p := refPlan{f: f}
	tags := slices.Compact(slices.Sorted(slices.Values(f.IncludeTags)))
	list, _ := json.Marshal(append([]string{""}, tags...))
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
		// The "missing" counter also counts missing references, so it
		// bounds the matches rather than giving them.
		if n := counts[tag]; p.driver == "" || n < p.n {
			p.driver, p.n = tag, n
		}
	}
	p.empty = p.live == 0 || p.driver != "" && p.n == 0
	p.counted = f.NameContains == "" && len(f.Metadata) == 0 && len(f.ExcludeTags) == 0 && len(tags) <= 1 &&
		p.driver != "missing"
	return p, nil
}

// count returns the number of matches: from the counters, by walking the
// driver tag's index, or by scanning the narrow asset_refs_owner index.
func (t txn) count(p refPlan) (int, error) {
	switch {
	case p.counted && p.driver == "":
		return p.live, nil
	case p.counted:
		return p.n, nil
	}
	query, args := p.matches()
	var n int
	err := t.scanRow(`SELECT count(*) `+query, args, &n)
	return n, err
}

// drivenFrom reads the references carrying a tag, from the tag's index.
// CROSS JOIN keeps d the outer loop.
const drivenFrom = `FROM asset_ref_tags d CROSS JOIN asset_refs r ON r.id = d.ref_id`

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

// page returns one page of the matches. It walks the sort key's index in
// order, stopping after the page, unless the driver tag is rare enough
// that sorting its references costs less than the rows the walk would
// skip: about (offset+limit) × live / n of them, against n.
func (t txn) page(p refPlan, q store.AssetQuery, sort sortIndex) ([]*store.AssetRef, error) {
	query, args := p.pageSQL(q, sort)
	return t.refs(query, args...)
}

// pageSQL returns the query of a page and its arguments; the plan is
// driven when p.drives(q).
func (p refPlan) pageSQL(q store.AssetQuery, sort sortIndex) (string, []any) {
	dir, cmp := "ASC", ">"
	if q.Desc {
		dir, cmp = "DESC", "<"
	}
	const join = ` JOIN assets a ON a.id = r.asset_id WHERE `
	var from, where string
	var args []any
	if p.drives(q) {
		from = drivenFrom + join
		where, args = p.driven()
	} else {
		from = `FROM asset_refs r INDEXED BY ` + sort.index + join
		where, args = filterSQL(p.f, false)
	}
	if q.After != nil {
		where += fmt.Sprintf(" AND (%s, r.id) %s (?, ?)", sort.column, cmp)
		args = append(args, keyValue(q.Sort, *q.After), q.After.ID)
	}
	query := fmt.Sprintf("SELECT %s %s%s ORDER BY %s %s, r.id %s LIMIT ?", refColumns, from, where, sort.column, dir, dir)
	args = append(args, q.Limit)
	if q.After == nil {
		query += " OFFSET ?"
		args = append(args, q.Offset)
	}
	return query, args
}

// drives reports whether a page of q is read from the driver tag.
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
// costs a third of a probe per row when every row must be seen.
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
			return "r.id " + neg + "IN (SELECT x.ref_id FROM " + table + " x WHERE " + cond + ")"
		}
		return neg + "EXISTS (SELECT 1 FROM " + table + " x WHERE x.ref_id = r.id AND " + cond + ")"
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
			col, arg := metaColumn(v)
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

// metaColumn is the asset_ref_meta column holding a MetaCond value, and
// the value to bind; "" for nil (the key must be absent).
func metaColumn(v any) (string, any) {
	switch v := v.(type) {
	case bool:
		return "val_bool", v
	case float64:
		return "val_num", v
	case string:
		return "val_str", v
	case json.RawMessage:
		return "val_json", string(v)
	}
	return "", nil
}

// ownerCheck returns the owner of a live reference: ErrNotFound when there
// is none, ErrForbidden when it is another user's.
func (t txn) ownerCheck(id, owner string) error {
	var refOwner string
	err := t.scanRow(`SELECT owner_id FROM asset_refs WHERE id = ? AND deleted_at IS NULL`, []any{id}, &refOwner)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	case err != nil:
		return err
	case refOwner != "" && refOwner != owner:
		return store.ErrForbidden
	}
	return nil
}

// UpdateRef implements store.AssetStore.
func (db *DB) UpdateRef(ctx context.Context, id, owner string, u store.RefUpdate) (*store.AssetRef, error) {
	var ref *store.AssetRef
	err := db.write(ctx, func(t txn) error {
		if err := t.ownerCheck(id, owner); err != nil {
			return err
		}
		now := micros(u.Time)
		if u.Name != nil {
			if _, err := t.exec(`UPDATE asset_refs SET name = ?, name_folded = ?, updated_at = ?
				WHERE id = ? AND name <> ?`, *u.Name, strings.ToLower(*u.Name), now, id, *u.Name); err != nil {
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
			if _, err := t.exec(`UPDATE asset_refs SET preview_id = ?, updated_at = ? WHERE id = ?`,
				*u.PreviewID, now, id); err != nil {
				return err
			}
		}
		if u.UserMetadata != nil {
			if _, err := t.exec(`UPDATE asset_refs SET user_metadata = ?, updated_at = ? WHERE id = ?`,
				[]byte(u.UserMetadata), now, id); err != nil {
				return err
			}
			if err := t.project(id); err != nil {
				return err
			}
		}
		var err error
		ref, err = t.ref(selectRefs+` WHERE r.id = ?`, id)
		return err
	})
	return ref, err
}

// DeleteRef implements store.AssetStore.
func (db *DB) DeleteRef(ctx context.Context, id, owner string, at time.Time) error {
	return db.write(ctx, func(t txn) error {
		n, err := t.exec(`UPDATE asset_refs SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL AND owner_id IN ('', ?)`,
			micros(at), id, owner)
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
	return db.changeTags(ctx, id, owner, tags, func(t txn, todo []string) error {
		return t.addTags(id, todo, origin, at)
	}, false)
}

// RemoveTags implements store.AssetStore.
func (db *DB) RemoveTags(ctx context.Context, id, owner string, tags []string) (store.TagChange, error) {
	return db.changeTags(ctx, id, owner, tags, func(t txn, todo []string) error {
		list, _ := json.Marshal(todo)
		_, err := t.exec(`DELETE FROM asset_ref_tags WHERE ref_id = ? AND tag IN (SELECT value FROM json_each(?))`, id, list)
		return err
	}, true)
}

// changeTags applies change to the tags that are absent (present, when
// removing) from the reference and reports what changed.
func (db *DB) changeTags(ctx context.Context, id, owner string, tags []string,
	change func(txn, []string) error, removing bool) (store.TagChange, error) {
	var c store.TagChange
	err := db.write(ctx, func(t txn) error {
		if err := t.ownerCheck(id, owner); err != nil {
			return err
		}
		before, err := t.tagsOf(id)
		if err != nil {
			return err
		}
		c = store.TagChange{Changed: []string{}, Unchanged: []string{}}
		for _, tag := range tags {
			if slices.Contains(before, tag) == removing {
				c.Changed = append(c.Changed, tag)
			} else {
				c.Unchanged = append(c.Unchanged, tag)
			}
		}
		if len(c.Changed) > 0 {
			if err := change(t, c.Changed); err != nil {
				return err
			}
		}
		slices.Sort(c.Changed)
		slices.Sort(c.Unchanged)
		c.Tags, err = t.tagsOf(id)
		return err
	})
	return c, err
}

func (t txn) tagsOf(id string) ([]string, error) {
	rows, err := t.query(`SELECT tag FROM asset_ref_tags WHERE ref_id = ? ORDER BY tag`, id)
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
func (t txn) addTags(id string, tags []string, origin string, at time.Time) error {
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
	_, err := t.exec(`INSERT OR IGNORE INTO asset_ref_tags (ref_id, tag, origin, added_at)
		SELECT ?, value, ?, ? FROM json_each(?)`, id, origin, micros(at), list)
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
			WHERE t.ref_id IN (SELECT r.id `+matches+`)
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
	prefix := strings.TrimSuffix(dir, "/") + "/"
	list, _ := json.Marshal(nonNilStrings(present))
	var n int
	err := db.write(ctx, func(t txn) error {
		// file_path is under dir: a range on the unique index, '0' being
		// the character after '/'.
		const under = `file_path > ? AND file_path < ?`
		end := strings.TrimSuffix(prefix, "/") + "0"
		gone := `deleted_at IS NULL AND ` + under + ` AND file_path NOT IN (SELECT value FROM json_each(?))`
		if _, err := t.exec(`INSERT OR IGNORE INTO asset_ref_tags (ref_id, tag, origin, added_at)
			SELECT id, 'missing', 'automatic', ? FROM asset_refs WHERE is_missing = 0 AND `+gone,
			micros(at), prefix, end, list); err != nil {
			return err
		}
		var err error
		if n, err = t.exec(`UPDATE asset_refs SET is_missing = 1 WHERE is_missing = 0 AND `+gone, prefix, end, list); err != nil {
			return err
		}
		back := `SELECT id FROM asset_refs WHERE is_missing = 1 AND file_path IN (SELECT value FROM json_each(?))`
		if _, err := t.exec(`DELETE FROM asset_ref_tags WHERE tag = 'missing' AND ref_id IN (`+back+`)`, list); err != nil {
			return err
		}
		_, err = t.exec(`UPDATE asset_refs SET is_missing = 0 WHERE id IN (`+back+`)`, list)
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

// nullableInt binds v, or NULL when key is "" (a file's mtime without a file).
func nullableInt(key string, v int64) any {
	if key == "" {
		return nil
	}
	return v
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

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
