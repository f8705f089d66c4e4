package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gocomfy/gocomfy/internal/store"
)

var _ store.AssetStore = (*DB)(nil)

// refColumns are the columns scanRef reads, asset_refs as r and assets as
// a. The tags come along as an array, so that every read of references is
// one statement and sees one snapshot.
const refColumns = `r.id, r.name, r.owner_id, coalesce(r.file_path, ''), coalesce(r.mtime_ns, 0),
	r.is_missing, r.deleted_at IS NOT NULL, coalesce(r.preview_id, ''), r.user_metadata, r.system_metadata,
	coalesce(r.job_id, ''), r.created_at, r.updated_at, r.last_access_time,
	a.id, coalesce(a.hash, ''), a.size_bytes, coalesce(a.mime_type, ''), a.created_at,
	coalesce((SELECT array_agg(t.tag ORDER BY t.tag) FROM asset_ref_tags t WHERE t.ref = r.seq), '{}')`

const selectRefs = `SELECT ` + refColumns + ` FROM asset_refs r JOIN assets a ON a.id = r.asset_id`

// live is the condition of the partial listing indexes (migrations/005).
const live = `r.deleted_at IS NULL AND NOT r.is_missing`

// querier is what both the pool and a transaction run statements with.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func scanRef(row pgx.Row) (*store.AssetRef, error) {
	r := &store.AssetRef{}
	var created, updated, accessed, assetCreated int64
	err := row.Scan(&r.ID, &r.Name, &r.OwnerID, &r.FilePath, &r.MtimeNS, &r.IsMissing, &r.Deleted, &r.PreviewID,
		(*[]byte)(&r.UserMetadata), (*[]byte)(&r.SystemMetadata), &r.JobID, &created, &updated, &accessed,
		&r.Asset.ID, &r.Asset.Hash, &r.Asset.Size, &r.Asset.MimeType, &assetCreated, &r.Tags)
	if err != nil {
		return nil, err
	}
	r.CreatedAt, r.UpdatedAt, r.LastAccessTime = fromMicros(created), fromMicros(updated), fromMicros(accessed)
	r.Asset.CreatedAt = fromMicros(assetCreated)
	return r, nil
}

// queryRefs runs a query selecting refColumns.
func queryRefs(ctx context.Context, q querier, query string, args ...any) ([]*store.AssetRef, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	refs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*store.AssetRef, error) { return scanRef(row) })
	if refs == nil && err == nil {
		refs = []*store.AssetRef{}
	}
	return refs, err
}

// queryRef returns the one reference a query selects; ErrNotFound if none.
func queryRef(ctx context.Context, q querier, query string, args ...any) (*store.AssetRef, error) {
	r, err := scanRef(q.QueryRow(ctx, query, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	return r, err
}

// AssetByHash implements store.AssetStore.
func (db *DB) AssetByHash(ctx context.Context, hash string) (*store.Asset, error) {
	return assetByHash(ctx, db.pool, hash)
}

func assetByHash(ctx context.Context, q querier, hash string) (*store.Asset, error) {
	var a store.Asset
	var created int64
	err := q.QueryRow(ctx, `SELECT id, hash, size_bytes, coalesce(mime_type, ''), created_at FROM assets WHERE hash = $1`,
		hash).Scan(&a.ID, &a.Hash, &a.Size, &a.MimeType, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	a.CreatedAt = fromMicros(created)
	return &a, err
}

// PutRef implements store.AssetStore. Concurrent puts of the same new
// content or the same file meet at the unique indexes: ON CONFLICT waits
// for the other transaction and then finds its row.
func (db *DB) PutRef(ctx context.Context, n store.NewRef) (_ *store.AssetRef, _ bool, err error) {
	defer badValue(&err)
	if n.Hash == "" {
		return nil, false, errors.New("postgres: put asset reference: empty hash")
	}
	var ref *store.AssetRef
	var created bool
	err = inTx(ctx, db.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		a, isNew, err := putAsset(ctx, tx, n)
		if err != nil {
			return err
		}
		created = isNew
		if n.PreviewID != "" {
			if ok, err := exists(ctx, tx, `SELECT 1 FROM asset_refs WHERE id = $1 AND deleted_at IS NULL`, n.PreviewID); err != nil {
				return err
			} else if !ok {
				n.PreviewID = ""
			}
		}
		seq, err := putRef(ctx, tx, a, n)
		if err != nil {
			return err
		}
		if err := addTags(ctx, tx, seq, n.Tags, n.TagOrigin, n.Time); err != nil {
			return err
		}
		if err := project(ctx, tx, seq); err != nil {
			return err
		}
		ref, err = queryRef(ctx, tx, selectRefs+` WHERE r.seq = $1`, seq)
		return err
	})
	return ref, created, err
}

// putAsset returns the content of n.Hash, creating it if n says so, and
// whether it was created.
func putAsset(ctx context.Context, tx pgx.Tx, n store.NewRef) (*store.Asset, bool, error) {
	a, err := assetByHash(ctx, tx, n.Hash)
	if errors.Is(err, store.ErrNotFound) && n.Create {
		a = &store.Asset{ID: uuid.NewString(), Hash: n.Hash, Size: n.Size, MimeType: n.MimeType, CreatedAt: n.Time}
		tag, ierr := tx.Exec(ctx, `INSERT INTO assets (id, hash, size_bytes, mime_type, created_at)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (hash) DO NOTHING`,
			a.ID, a.Hash, a.Size, nullable(a.MimeType), micros(a.CreatedAt))
		if ierr != nil || tag.RowsAffected() == 1 {
			return a, ierr == nil, ierr
		}
		// Another transaction created it meanwhile.
		a, err = assetByHash(ctx, tx, n.Hash)
	}
	if err != nil {
		return nil, false, err
	}
	if a.MimeType == "" && n.MimeType != "" {
		if _, err := tx.Exec(ctx, `UPDATE assets SET mime_type = $1 WHERE id = $2 AND mime_type IS NULL`, n.MimeType, a.ID); err != nil {
			return nil, false, err
		}
	}
	return a, false, nil
}

// putRef inserts the reference, or updates the file's one, and returns its seq.
func putRef(ctx context.Context, tx pgx.Tx, a *store.Asset, n store.NewRef) (int64, error) {
	const insert = `INSERT INTO asset_refs (id, asset_id, name, name_folded, owner_id, file_path, mtime_ns,
		preview_id, user_metadata, system_metadata, job_id, size, created_at, updated_at, last_access_time)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $13)`
	args := []any{uuid.NewString(), a.ID, n.Name, strings.ToLower(n.Name), n.OwnerID, nullable(n.FilePath), nil,
		nullable(n.PreviewID), []byte(orEmptyObject(n.UserMetadata)), blob(n.SystemMetadata),
		nullable(n.JobID), a.Size, micros(n.Time)}
	var seq int64
	if n.FilePath == "" {
		err := tx.QueryRow(ctx, insert+` RETURNING seq`, args...).Scan(&seq)
		return seq, err
	}
	args[6] = n.MtimeNS
	// At most twice round: an insert that conflicts found a row that the
	// next select sees.
	for {
		var oldUser, oldSystem []byte
		err := tx.QueryRow(ctx, `SELECT seq, user_metadata, system_metadata FROM asset_refs WHERE file_path = $1 FOR UPDATE`,
			n.FilePath).Scan(&seq, &oldUser, &oldSystem)
		if err == nil {
			return seq, updateFileRef(ctx, tx, seq, a, n, oldUser, oldSystem)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return 0, err
		}
		err = tx.QueryRow(ctx, insert+` ON CONFLICT (file_path) DO NOTHING RETURNING seq`, args...).Scan(&seq)
		if !errors.Is(err, pgx.ErrNoRows) {
			return seq, err
		}
	}
}

// updateFileRef points a file's reference at new content (see store.NewRef).
func updateFileRef(ctx context.Context, tx pgx.Tx, seq int64, a *store.Asset, n store.NewRef, oldUser, oldSystem []byte) error {
	user, err := store.MergeMetadata(oldUser, n.UserMetadata)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	system, err := store.MergeMetadata(oldSystem, n.SystemMetadata)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE asset_refs SET asset_id = $1, size = $2, mtime_ns = $3, is_missing = false,
		deleted_at = NULL, job_id = coalesce($4, job_id), preview_id = coalesce($5, preview_id),
		user_metadata = $6, system_metadata = $7, updated_at = $8 WHERE seq = $9`,
		a.ID, a.Size, n.MtimeNS, nullable(n.JobID), nullable(n.PreviewID),
		[]byte(user), blob(system), micros(n.Time), seq); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `DELETE FROM asset_ref_tags WHERE ref = $1 AND tag = 'missing'`, seq)
	return err
}

// project rebuilds a reference's metadata projection (asset_ref_meta).
func project(ctx context.Context, tx pgx.Tx, seq int64) error {
	var user, system []byte
	if err := tx.QueryRow(ctx, `SELECT user_metadata, system_metadata FROM asset_refs WHERE seq = $1`,
		seq).Scan(&user, &system); err != nil {
		return err
	}
	rows, err := store.MetaRows(system, user)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM asset_ref_meta WHERE ref = $1`, seq); err != nil || len(rows) == 0 {
		return err
	}
	// One column per field, NULL where the value is of another type.
	keys := make([]string, len(rows))
	ordinals := make([]int32, len(rows))
	strs, jsons := make([]*string, len(rows)), make([]*string, len(rows))
	nums := make([]*float64, len(rows))
	bools := make([]*bool, len(rows))
	for i, m := range rows {
		keys[i], ordinals[i] = m.Key, int32(m.Ordinal)
		switch v := m.Value.(type) {
		case string:
			strs[i] = &v
		case float64:
			nums[i] = &v
		case bool:
			bools[i] = &v
		case json.RawMessage:
			s := string(v)
			jsons[i] = &s
		}
	}
	_, err = tx.Exec(ctx, `INSERT INTO asset_ref_meta (ref, key, ordinal, val_str, val_num, val_bool, val_json)
		SELECT $1, * FROM unnest($2::text[], $3::int[], $4::text[], $5::float8[], $6::bool[], $7::text[])`,
		seq, keys, ordinals, strs, nums, bools, jsons)
	return err
}

// Ref implements store.AssetStore.
func (db *DB) Ref(ctx context.Context, id, owner string) (*store.AssetRef, error) {
	return queryRef(ctx, db.pool, selectRefs+` WHERE r.id = $1 AND r.deleted_at IS NULL AND r.owner_id IN ('', $2)`, id, owner)
}

// RefByPath implements store.AssetStore.
func (db *DB) RefByPath(ctx context.Context, path string) (_ *store.AssetRef, err error) {
	defer badValue(&err)
	return queryRef(ctx, db.pool, selectRefs+` WHERE r.file_path = $1`, path)
}

// RefsOf implements store.AssetStore.
func (db *DB) RefsOf(ctx context.Context, assetID string) ([]*store.AssetRef, error) {
	return queryRefs(ctx, db.pool, selectRefs+` WHERE r.asset_id = $1 AND `+live+` ORDER BY r.id`, assetID)
}

// sortColumns are the listing keys' columns; each has a partial index
// (column, id) over the live references.
var sortColumns = map[store.AssetSort]string{
	store.SortName:           "r.name",
	store.SortAssetCreated:   "r.created_at",
	store.SortUpdated:        "r.updated_at",
	store.SortSize:           "r.size",
	store.SortLastAccessTime: "r.last_access_time",
}

// ListRefs implements store.AssetStore. The total and the page are read
// in one repeatable-read transaction, so that they agree.
func (db *DB) ListRefs(ctx context.Context, q store.AssetQuery) (_ []*store.AssetRef, _ int, err error) {
	defer badValue(&err)
	if q.Sort == "" {
		q.Sort = store.SortAssetCreated
	}
	column, ok := sortColumns[q.Sort]
	if !ok || q.Limit <= 0 || q.Offset < 0 {
		return nil, 0, fmt.Errorf("postgres: list assets: bad query (sort %q, limit %d, offset %d)", q.Sort, q.Limit, q.Offset)
	}
	var args params
	page := filterSQL(q.AssetFilter, &args)
	dir, cmp := "ASC", ">"
	if q.Desc {
		dir, cmp = "DESC", "<"
	}
	if q.After != nil {
		cast := "bigint"
		if q.Sort == store.SortName {
			cast = "text"
		}
		page += fmt.Sprintf(" AND (%s, r.id) %s (%s::%s, %s::text)", column, cmp, args.add(keyValue(q.Sort, *q.After)), cast, args.add(q.After.ID))
	}
	query := fmt.Sprintf(`%s WHERE %s ORDER BY %s %s, r.id %s LIMIT %s`, selectRefs, page, column, dir, dir, args.add(q.Limit))
	if q.After == nil {
		query += " OFFSET " + args.add(q.Offset)
	}
	refs := []*store.AssetRef{}
	var total int
	err = inTx(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		if total, err = countRefs(ctx, tx, q.AssetFilter); err != nil || total == 0 {
			return err
		}
		refs, err = queryRefs(ctx, tx, query, args...)
		return err
	})
	return refs, total, err
}

// countRefs returns the number of references matching f, from the
// counters (asset_counts) when f has no name or metadata condition and at
// most one include tag, as the SQLite store does: the counter less the
// matches that carry an exclude tag, when they are fewer, else a count.
func countRefs(ctx context.Context, tx pgx.Tx, f store.AssetFilter) (int, error) {
	include := slices.Compact(slices.Sorted(slices.Values(f.IncludeTags)))
	exclude := slices.Compact(slices.Sorted(slices.Values(f.ExcludeTags)))
	rows, err := tx.Query(ctx, `SELECT tag, sum(n) FROM asset_counts WHERE owner_id IN ('', $1)
		AND tag = ANY($2::text[]) GROUP BY tag`, f.Owner, slices.Concat([]string{""}, include, exclude))
	if err != nil {
		return 0, err
	}
	counts := map[string]int{}
	var tag string
	var n int
	if _, err := pgx.ForEachRow(rows, []any{&tag, &n}, func() error { counts[tag] = n; return nil }); err != nil {
		return 0, err
	}
	base := counts[""]
	for _, tag := range include {
		if counts[tag] == 0 {
			return 0, nil // a tag no reference carries
		}
		base = min(base, counts[tag])
	}
	// The "missing" counter also counts missing references, which
	// listings leave out: it bounds the matches rather than giving them.
	counted := f.NameContains == "" && len(f.Metadata) == 0 && len(include) <= 1 && !slices.Contains(include, "missing")
	if base == 0 || counted && len(exclude) == 0 {
		return base, nil
	}
	excluded := 0
	for _, tag := range exclude {
		excluded += counts[tag]
	}
	var args params
	if counted && excluded < base {
		kept := f
		kept.ExcludeTags = nil
		where := filterSQL(kept, &args)
		err := tx.QueryRow(ctx, `SELECT count(*) FROM asset_refs r WHERE r.seq IN (SELECT x.ref FROM asset_ref_tags x
			WHERE x.tag = ANY(`+args.add(exclude)+`::text[])) AND `+where, args...).Scan(&n)
		return base - n, err
	}
	err = tx.QueryRow(ctx, `SELECT count(*) FROM asset_refs r WHERE `+filterSQL(f, &args), args...).Scan(&n)
	return n, err
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

// params collects the arguments of a statement as it is written.
type params []any

// add appends v and returns its placeholder.
func (p *params) add(v any) string {
	*p = append(*p, v)
	return "$" + strconv.Itoa(len(*p))
}

// filterSQL returns the WHERE condition of a filter over asset_refs r,
// adding its arguments to args.
func filterSQL(f store.AssetFilter, args *params) string {
	conds := []string{live, `r.owner_id IN ('', ` + args.add(f.Owner) + `)`}
	member := func(not bool, table, cond string) string {
		neg := ""
		if not {
			neg = "NOT "
		}
		return neg + "EXISTS (SELECT 1 FROM " + table + " x WHERE x.ref = r.seq AND " + cond + ")"
	}
	if f.NameContains != "" {
		conds = append(conds, `strpos(r.name_folded, `+args.add(strings.ToLower(f.NameContains))+`) > 0`)
	}
	for _, tag := range f.IncludeTags {
		conds = append(conds, member(false, "asset_ref_tags", "x.tag = "+args.add(tag)))
	}
	if len(f.ExcludeTags) > 0 {
		conds = append(conds, member(true, "asset_ref_tags", "x.tag = ANY("+args.add(f.ExcludeTags)+"::text[])"))
	}
	for _, c := range f.Metadata {
		var alts []string
		for _, v := range c.Values {
			col, val := store.MetaColumn(v)
			if col == "" {
				alts = append(alts, member(true, "asset_ref_meta", "x.key = "+args.add(c.Key)))
				continue
			}
			alts = append(alts, member(false, "asset_ref_meta", "x.key = "+args.add(c.Key)+" AND x."+col+" = "+args.add(val)))
		}
		conds = append(conds, "("+strings.Join(alts, " OR ")+")")
	}
	return strings.Join(conds, " AND ")
}

// writable locks and returns the seq of a reference that is not deleted:
// ErrNotFound when there is none, ErrForbidden when it is another user's.
func writable(ctx context.Context, tx pgx.Tx, id, owner string) (int64, error) {
	var seq int64
	var refOwner string
	err := tx.QueryRow(ctx, `SELECT seq, owner_id FROM asset_refs WHERE id = $1 AND deleted_at IS NULL FOR UPDATE`,
		id).Scan(&seq, &refOwner)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, store.ErrNotFound
	case err != nil:
		return 0, err
	case refOwner != "" && refOwner != owner:
		return 0, store.ErrForbidden
	}
	return seq, nil
}

// UpdateRef implements store.AssetStore.
func (db *DB) UpdateRef(ctx context.Context, id, owner string, u store.RefUpdate) (_ *store.AssetRef, err error) {
	defer badValue(&err)
	var ref *store.AssetRef
	err = inTx(ctx, db.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		seq, err := writable(ctx, tx, id, owner)
		if err != nil {
			return err
		}
		now := micros(u.Time)
		if u.Name != nil {
			if _, err := tx.Exec(ctx, `UPDATE asset_refs SET name = $1, name_folded = $2, updated_at = $3
				WHERE seq = $4 AND name <> $1`, *u.Name, strings.ToLower(*u.Name), now, seq); err != nil {
				return err
			}
		}
		if u.PreviewID != nil {
			ok, err := exists(ctx, tx, `SELECT 1 FROM asset_refs WHERE id = $1`, *u.PreviewID)
			if err != nil {
				return err
			}
			if !ok {
				return store.ErrPreviewNotFound
			}
			if _, err := tx.Exec(ctx, `UPDATE asset_refs SET preview_id = $1, updated_at = $2 WHERE seq = $3`,
				*u.PreviewID, now, seq); err != nil {
				return err
			}
		}
		if u.UserMetadata != nil {
			if _, err := tx.Exec(ctx, `UPDATE asset_refs SET user_metadata = $1, updated_at = $2 WHERE seq = $3`,
				[]byte(u.UserMetadata), now, seq); err != nil {
				return err
			}
			if err := project(ctx, tx, seq); err != nil {
				return err
			}
		}
		ref, err = queryRef(ctx, tx, selectRefs+` WHERE r.seq = $1`, seq)
		return err
	})
	return ref, err
}

// DeleteRef implements store.AssetStore.
func (db *DB) DeleteRef(ctx context.Context, id, owner string, at time.Time) error {
	n, err := db.exec(ctx, `UPDATE asset_refs SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL
		AND owner_id IN ('', $3)`, micros(at), id, owner)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return err
}

// TouchRef implements store.AssetStore.
func (db *DB) TouchRef(ctx context.Context, id string, at time.Time) error {
	_, err := db.exec(ctx, `UPDATE asset_refs SET last_access_time = $1 WHERE id = $2 AND last_access_time < $1`,
		micros(at), id)
	return err
}

// AddTags implements store.AssetStore.
func (db *DB) AddTags(ctx context.Context, id, owner string, tags []string, origin string, at time.Time) (store.TagChange, error) {
	return db.changeTags(ctx, id, owner, tags, false, func(tx pgx.Tx, seq int64, todo []string) error {
		return addTags(ctx, tx, seq, todo, origin, at)
	})
}

// RemoveTags implements store.AssetStore.
func (db *DB) RemoveTags(ctx context.Context, id, owner string, tags []string) (store.TagChange, error) {
	return db.changeTags(ctx, id, owner, tags, true, func(tx pgx.Tx, seq int64, todo []string) error {
		_, err := tx.Exec(ctx, `DELETE FROM asset_ref_tags WHERE ref = $1 AND tag = ANY($2::text[])`, seq, todo)
		return err
	})
}

// changeTags applies change to the given tags the reference lacks (has,
// when removing) and reports what changed.
func (db *DB) changeTags(ctx context.Context, id, owner string, tags []string, removing bool,
	change func(tx pgx.Tx, seq int64, todo []string) error) (_ store.TagChange, err error) {
	defer badValue(&err)
	var c store.TagChange
	err = inTx(ctx, db.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		seq, err := writable(ctx, tx, id, owner)
		if err != nil {
			return err
		}
		before, err := tagsOf(ctx, tx, seq)
		if err != nil {
			return err
		}
		c = store.SplitTags(before, tags, removing)
		if len(c.Changed) > 0 {
			if err := change(tx, seq, c.Changed); err != nil {
				return err
			}
		}
		c.Tags, err = tagsOf(ctx, tx, seq)
		return err
	})
	return c, err
}

func tagsOf(ctx context.Context, tx pgx.Tx, seq int64) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT tag FROM asset_ref_tags WHERE ref = $1 ORDER BY tag`, seq)
	if err != nil {
		return nil, err
	}
	tags, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if tags == nil {
		tags = []string{}
	}
	return tags, err
}

// addTags creates the tags that are new and adds them to the reference.
// Tag names go in sorted, so that concurrent transactions creating the
// same ones lock them in the same order.
func addTags(ctx context.Context, tx pgx.Tx, seq int64, tags []string, origin string, at time.Time) error {
	if len(tags) == 0 {
		return nil
	}
	if origin == "" {
		origin = "manual"
	}
	sorted := slices.Sorted(slices.Values(tags))
	if _, err := tx.Exec(ctx, `INSERT INTO tags (name) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING`, sorted); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO asset_ref_tags (ref, tag, origin, added_at)
		SELECT $1, unnest($2::text[]), $3, $4 ON CONFLICT DO NOTHING`, seq, sorted, origin, micros(at))
	return err
}

// Tags implements store.AssetStore. The counts come from asset_counts.
func (db *DB) Tags(ctx context.Context, q store.TagQuery) (_ []store.TagCount, _ int, err error) {
	defer badValue(&err)
	if q.Limit <= 0 || q.Offset < 0 {
		return nil, 0, fmt.Errorf("postgres: list tags: bad limit %d or offset %d", q.Limit, q.Offset)
	}
	counted := `SELECT g.name, coalesce(sum(c.n), 0) AS n FROM tags g
		LEFT JOIN asset_counts c ON c.tag = g.name AND c.owner_id IN ('', $1)
		WHERE starts_with(g.name, $2) GROUP BY g.name`
	if !q.IncludeZero {
		counted += ` HAVING sum(c.n) > 0`
	}
	order := `n DESC, name`
	if q.Order == store.TagsByName {
		order = `name`
	}
	var out []store.TagCount
	var total int
	err = inTx(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT name, n FROM (`+counted+`) c ORDER BY `+order+` LIMIT $3 OFFSET $4`,
			q.Owner, q.Prefix, q.Limit, q.Offset)
		if err != nil {
			return err
		}
		if out, err = collectTagCounts(rows); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT count(*) FROM (`+counted+`) c`, q.Owner, q.Prefix).Scan(&total)
	})
	return out, total, err
}

func collectTagCounts(rows pgx.Rows) ([]store.TagCount, error) {
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.TagCount, error) {
		var c store.TagCount
		err := row.Scan(&c.Name, &c.Count)
		return c, err
	})
	if out == nil {
		out = []store.TagCount{}
	}
	return out, err
}

// TagHistogram implements store.AssetStore.
func (db *DB) TagHistogram(ctx context.Context, f store.AssetFilter, limit int) (_ []store.TagCount, err error) {
	defer badValue(&err)
	var args params
	where := filterSQL(f, &args)
	rows, err := db.pool.Query(ctx, `SELECT t.tag, count(*) AS n FROM asset_ref_tags t
		JOIN asset_refs r ON r.seq = t.ref WHERE `+where+`
		GROUP BY t.tag ORDER BY n DESC, t.tag LIMIT `+args.add(limit), args...)
	if err != nil {
		return nil, err
	}
	return collectTagCounts(rows)
}

// MarkMissing implements store.AssetStore.
func (db *DB) MarkMissing(ctx context.Context, dir string, present []string, at time.Time) (_ int, err error) {
	defer badValue(&err)
	// file_path is under dir: a range on its unique index ('0' is the
	// character after '/', and the column sorts by code point).
	dir = strings.TrimSuffix(dir, "/")
	if present == nil {
		present = []string{}
	}
	var n int
	err = inTx(ctx, db.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `WITH gone AS (
				UPDATE asset_refs SET is_missing = true WHERE deleted_at IS NULL AND NOT is_missing
				AND file_path > $1 AND file_path < $2 AND NOT (file_path = ANY($3::text[])) RETURNING seq),
			tagged AS (INSERT INTO asset_ref_tags (ref, tag, origin, added_at)
				SELECT seq, 'missing', 'automatic', $4 FROM gone ON CONFLICT DO NOTHING)
			SELECT count(*) FROM gone`, dir+"/", dir+"0", present, micros(at)).Scan(&n); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `WITH back AS (
				UPDATE asset_refs SET is_missing = false WHERE is_missing AND file_path = ANY($1::text[]) RETURNING seq)
			DELETE FROM asset_ref_tags WHERE tag = 'missing' AND ref IN (SELECT seq FROM back)`, present)
		return err
	})
	return n, err
}

// MarkMissingOutside implements store.AssetStore.
func (db *DB) MarkMissingOutside(ctx context.Context, dirs []string, at time.Time) (_ int, err error) {
	defer badValue(&err)
	if len(dirs) == 0 {
		return 0, nil
	}
	// Under a dir: the range of MarkMissing.
	lo, hi := make([]string, len(dirs)), make([]string, len(dirs))
	for i, d := range dirs {
		d = strings.TrimSuffix(d, "/")
		lo[i], hi[i] = d+"/", d+"0"
	}
	var n int
	err = retry(func() error {
		return db.pool.QueryRow(ctx, `WITH gone AS (
			UPDATE asset_refs SET is_missing = true WHERE file_path IS NOT NULL AND deleted_at IS NULL AND NOT is_missing
			AND NOT EXISTS (SELECT 1 FROM unnest($1::text[], $2::text[]) AS d(lo, hi) WHERE file_path > d.lo AND file_path < d.hi)
			RETURNING seq),
		tagged AS (INSERT INTO asset_ref_tags (ref, tag, origin, added_at)
			SELECT seq, 'missing', 'automatic', $3 FROM gone ON CONFLICT DO NOTHING)
		SELECT count(*) FROM gone`, lo, hi, micros(at)).Scan(&n)
	})
	return n, err
}

// badValue makes *err an error wrapping store.ErrBadValue when PostgreSQL
// refused text a client sent: NUL characters (which no text column holds)
// or invalid UTF-8.
func badValue(err *error) {
	var pgErr *pgconn.PgError
	if errors.As(*err, &pgErr) && (pgErr.Code == "22021" || pgErr.Code == "22P05") {
		*err = fmt.Errorf("%w: %s", store.ErrBadValue, pgErr.Message)
	}
}

// exists reports whether a query returns a row.
func exists(ctx context.Context, q querier, query string, args ...any) (bool, error) {
	var one int
	err := q.QueryRow(ctx, query, args...).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
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

// orEmptyObject is b, or {} when b is empty.
func orEmptyObject(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage(`{}`)
	}
	return b
}
