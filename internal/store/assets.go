package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gocomfy/gocomfy/pyjson"
)

// The assets records follow ComfyUI's app/assets model: an Asset is unique
// content, named by its hash; an AssetRef is what the API calls an asset,
// a named, tagged reference to content, owned by a user or by everyone.
// Many references may share one content; a file on disk has at most one
// reference (by its absolute path). Times are UTC with microseconds, as
// ComfyUI's naive UTC datetimes.

// ErrForbidden is returned when a reference belongs to another user.
var ErrForbidden = errors.New("store: not owner")

// ErrBadValue is the error of an asset store given a value it cannot keep
// or look up: metadata with a number beyond float64, or (PostgreSQL) text
// holding NUL characters or invalid UTF-8. It is the client's fault.
var ErrBadValue = errors.New("store: value cannot be stored")

// ErrPreviewNotFound is returned when an update names a preview reference
// that does not exist; it is also an ErrNotFound.
var ErrPreviewNotFound = fmt.Errorf("%w: preview reference", ErrNotFound)

// Asset is one content: bytes stored once, whoever refers to them.
type Asset struct {
	ID        string // a UUID
	Hash      string // "blake3:<64 lowercase hex>"; "" until hashed
	Size      int64
	MimeType  string // "" when unknown
	CreatedAt time.Time
}

// AssetRef is a reference to content (ComfyUI's AssetReference; the API's
// "asset", whose id is the reference's).
type AssetRef struct {
	ID    string // a UUID
	Asset Asset  // the content it refers to
	Name  string // display name
	// OwnerID is the user the reference belongs to; "" is everyone's.
	OwnerID string
	// FilePath is the absolute path of the file the reference stands for;
	// "" for a reference created through the API, whose bytes are found by
	// the content's hash.
	FilePath string
	MtimeNS  int64 // the file's modification time when registered
	// IsMissing marks a file reference whose file is gone; such references
	// are left out of listings.
	IsMissing bool
	// Deleted marks a soft-deleted reference; only RefByPath returns one.
	Deleted   bool
	PreviewID string // another reference shown as this one's preview; "" for none
	// UserMetadata is a JSON object (never nil when read); SystemMetadata
	// is a JSON object or nil.
	UserMetadata   json.RawMessage
	SystemMetadata json.RawMessage
	JobID          string   // the prompt that produced the file; "" for none
	Tags           []string // sorted
	CreatedAt      time.Time
	UpdatedAt      time.Time
	LastAccessTime time.Time
}

// NewRef is a reference to store with PutRef.
type NewRef struct {
	// Hash names the content. When no content has it, Create says to make
	// one with Size and MimeType; otherwise PutRef fails with ErrNotFound.
	Hash     string
	Size     int64
	MimeType string
	Create   bool

	Name    string
	OwnerID string
	// FilePath, when set, makes this the reference of that file: the
	// file's existing reference (even a deleted or missing one) is updated
	// instead of a new one being made. It then refers to the content of
	// Hash, takes MtimeNS and JobID (when not ""), is live again, gains Tags,
	// and has UserMetadata and SystemMetadata merged into its own (keys
	// given win); its name and owner stay.
	FilePath string
	MtimeNS  int64

	PreviewID      string // ignored when no live reference has this id
	UserMetadata   json.RawMessage
	SystemMetadata json.RawMessage
	JobID          string
	Tags           []string // normalised by the caller
	TagOrigin      string   // "manual", "upload" or "automatic"
	Time           time.Time
}

// RefUpdate changes a reference; nil fields are left as they are. Any
// change sets the reference's UpdatedAt to Time.
type RefUpdate struct {
	Name         *string
	UserMetadata json.RawMessage // replaces the whole object
	PreviewID    *string         // must name a live reference (ErrPreviewNotFound)
	Time         time.Time
}

// AssetSort is the key of an asset listing.
type AssetSort string

// Asset listing sort keys (the API's sort values).
const (
	SortName           AssetSort = "name"
	SortAssetCreated   AssetSort = "created_at"
	SortUpdated        AssetSort = "updated_at"
	SortSize           AssetSort = "size"
	SortLastAccessTime AssetSort = "last_access_time"
)

// Valid reports whether s is one of the five sort keys.
func (s AssetSort) Valid() bool {
	switch s {
	case SortName, SortAssetCreated, SortUpdated, SortSize, SortLastAccessTime:
		return true
	}
	return false
}

// AssetFilter selects the live references (not deleted, not missing) a
// user can see (OwnerID "" or Owner) that match every condition given.
type AssetFilter struct {
	Owner        string
	IncludeTags  []string // every one must be present
	ExcludeTags  []string // none may be present
	NameContains string   // a substring of the name, case-insensitively
	Metadata     MetaFilter
}

// AssetKey is a place in a listing: the sort key's value (Time for the
// time sorts, Size, or Name) and the id that breaks ties.
type AssetKey struct {
	Time time.Time
	Size int64
	Name string
	ID   string
}

// KeyOf returns r's place in a listing sorted by s.
func KeyOf(r *AssetRef, s AssetSort) AssetKey {
	k := AssetKey{ID: r.ID}
	switch s {
	case SortName:
		k.Name = r.Name
	case SortSize:
		k.Size = r.Asset.Size
	case SortUpdated:
		k.Time = r.UpdatedAt
	case SortLastAccessTime:
		k.Time = r.LastAccessTime
	default:
		k.Time = r.CreatedAt
	}
	return k
}

// AssetQuery pages through the references matching a filter, ordered by
// (Sort, ID), both ascending or both descending.
type AssetQuery struct {
	AssetFilter
	Sort  AssetSort // "" is SortAssetCreated
	Desc  bool
	Limit int // > 0
	// After, when set, starts the page after that place (keyset paging);
	// Offset is then ignored.
	After  *AssetKey
	Offset int
}

// TagChange is the result of adding or removing tags: the tags changed,
// those that were already (or not) there, and the reference's tags after.
type TagChange struct {
	Changed   []string
	Unchanged []string
	Tags      []string
}

// SplitTags sorts tags, to be added to (or removing: taken from) a
// reference that has the tags before, into those that change it and those
// that do not, each sorted; Tags is left for the store to fill in.
func SplitTags(before, tags []string, removing bool) TagChange {
	c := TagChange{Changed: []string{}, Unchanged: []string{}}
	for _, tag := range tags {
		if slices.Contains(before, tag) == removing {
			c.Changed = append(c.Changed, tag)
		} else {
			c.Unchanged = append(c.Unchanged, tag)
		}
	}
	slices.Sort(c.Changed)
	slices.Sort(c.Unchanged)
	return c
}

// TagOrder orders a tag listing.
type TagOrder string

// Tag listing orders.
const (
	TagsByCount TagOrder = "count_desc" // count descending, then name
	TagsByName  TagOrder = "name_asc"
)

// TagQuery pages through the tags with their usage counts.
type TagQuery struct {
	Owner       string // counts the references this user sees
	Prefix      string // "" for all
	Order       TagOrder
	IncludeZero bool // list tags no visible reference carries
	Limit       int  // > 0
	Offset      int
}

// TagCount is a tag and the number of live references carrying it.
type TagCount struct {
	Name  string
	Count int
}

// AssetStore keeps the assets, their references and tags. Every method is
// safe for concurrent use. Unknown, deleted and invisible references are
// ErrNotFound; writes to another user's reference are ErrForbidden.
type AssetStore interface {
	// AssetByHash returns the content with this hash; ErrNotFound if none.
	AssetByHash(ctx context.Context, hash string) (*Asset, error)

	// PutRef stores a reference (see NewRef) and reports whether its
	// content was created.
	PutRef(ctx context.Context, r NewRef) (ref *AssetRef, created bool, err error)

	// Ref returns a live reference owner can see (missing ones included).
	Ref(ctx context.Context, id, owner string) (*AssetRef, error)

	// RefByPath returns the reference of a file, in any state.
	RefByPath(ctx context.Context, path string) (*AssetRef, error)

	// RefsOf returns the live references of a content that are not
	// missing, ordered by id.
	RefsOf(ctx context.Context, assetID string) ([]*AssetRef, error)

	// ListRefs returns one page of a listing and the number of references
	// matching the filter.
	ListRefs(ctx context.Context, q AssetQuery) (refs []*AssetRef, total int, err error)

	// UpdateRef changes a reference owner can see and write.
	UpdateRef(ctx context.Context, id, owner string, u RefUpdate) (*AssetRef, error)

	// DeleteRef soft-deletes a reference owner can see: it is gone from
	// every read but its content stays.
	DeleteRef(ctx context.Context, id, owner string, at time.Time) error

	// TouchRef sets a reference's LastAccessTime to at, if later.
	TouchRef(ctx context.Context, id string, at time.Time) error

	// AddTags and RemoveTags change the tags of a reference owner can see
	// and write; tags are normalised by the caller.
	AddTags(ctx context.Context, id, owner string, tags []string, origin string, at time.Time) (TagChange, error)
	RemoveTags(ctx context.Context, id, owner string, tags []string) (TagChange, error)

	// Tags lists tags with the number of live references carrying them
	// (a missing reference counts for the tag "missing" only), and the
	// number of tags matching the query.
	Tags(ctx context.Context, q TagQuery) (tags []TagCount, total int, err error)

	// TagHistogram counts the tags of the references matching f: count
	// descending, then name, at most limit tags.
	TagHistogram(ctx context.Context, f AssetFilter, limit int) ([]TagCount, error)

	// MarkMissing flags the live file references under dir (an absolute
	// path) whose path is not in present as missing (tag "missing", added
	// at at), and clears the flag of those whose path is; it returns how
	// many were flagged.
	MarkMissing(ctx context.Context, dir string, present []string, at time.Time) (int, error)

	// MarkMissingOutside flags the live file references whose path is
	// under none of dirs (absolute paths) as missing, as MarkMissing does,
	// and returns how many it flagged; with no dirs it flags none. It is
	// /api/assets/prune: files of folders that are no longer configured.
	MarkMissingOutside(ctx context.Context, dirs []string, at time.Time) (int, error)
}

// SeedTags are the tags that exist from the start, with count 0 (ComfyUI's
// migration seeds them).
var SeedTags = []string{"models", "input", "output", "configs", "checkpoints", "loras", "vae",
	"text_encoders", "diffusion_models", "clip_vision", "style_models", "embeddings", "diffusers",
	"vae_approx", "controlnet", "gligen", "upscale_models", "hypernetworks", "photomaker",
	"classifiers", "encoder", "decoder", "missing", "rescan"}

// MetaFilter is ComfyUI's metadata_filter: every condition must hold of
// the reference's metadata, system and user merged (user keys win).
type MetaFilter []MetaCond

// MetaCond holds when Key has any of Values: a value of Key equals it (a
// list value holds each of its elements). A nil value holds when the key is
// absent or null. Values are nil, bool, float64, string or, for objects
// and lists, canonical JSON as a json.RawMessage.
type MetaCond struct {
	Key    string
	Values []any
}

// ParseMetaFilter parses a metadata_filter JSON object. A list value means
// any of its elements; an empty list sets no condition.
func ParseMetaFilter(data []byte) (MetaFilter, error) {
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil || m == nil {
		return nil, errors.New("metadata_filter must be a JSON object")
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys) // a stable query text
	var f MetaFilter
	for _, k := range keys {
		list, isList := m[k].([]any)
		if !isList {
			list = []any{m[k]}
		}
		if len(list) == 0 {
			continue
		}
		c := MetaCond{Key: k}
		for _, v := range list {
			c.Values = append(c.Values, metaValue(v))
		}
		f = append(f, c)
	}
	return f, nil
}

// MetaRow is one row of the metadata projection a store indexes to run
// metadata filters: a value of Key (the Ordinal-th of a list). Value is a
// bool, float64, string, or canonical JSON (json.RawMessage).
type MetaRow struct {
	Key     string
	Ordinal int
	Value   any
}

// MetaRows projects a reference's metadata (JSON objects or nil; user keys
// win) into rows: a null value gives none, a scalar one row, a list of
// scalars a row per non-null element, any other list a JSON row per
// non-null element, and an object one JSON row (as ComfyUI's
// asset_reference_meta).
func MetaRows(system, user json.RawMessage) ([]MetaRow, error) {
	merged := map[string]any{}
	for _, raw := range []json.RawMessage{system, user} {
		if len(raw) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("%w: metadata: %v", ErrBadValue, err)
		}
		for k, v := range m {
			merged[k] = v
		}
	}
	var rows []MetaRow
	for k, v := range merged {
		list, isList := v.([]any)
		if !isList {
			if v != nil {
				rows = append(rows, MetaRow{Key: k, Value: metaValue(v)})
			}
			continue
		}
		scalars := !slices.ContainsFunc(list, func(e any) bool {
			_, ok := metaValue(e).(json.RawMessage)
			return ok
		})
		for i, e := range list {
			switch {
			case e == nil:
			case scalars:
				rows = append(rows, MetaRow{Key: k, Ordinal: i, Value: metaValue(e)})
			default:
				rows = append(rows, MetaRow{Key: k, Ordinal: i, Value: canonicalJSON(e)})
			}
		}
	}
	slices.SortFunc(rows, func(a, b MetaRow) int {
		if c := bytes.Compare([]byte(a.Key), []byte(b.Key)); c != 0 {
			return c
		}
		return a.Ordinal - b.Ordinal
	})
	return rows, nil
}

// MetaColumn is the asset_ref_meta column, in both stores' schemas, that
// holds a MetaCond value, and the value to bind; "" for nil (the key must
// be absent).
func MetaColumn(v any) (string, any) {
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

// metaValue maps a decoded JSON value to its MetaRow/MetaCond form.
func metaValue(v any) any {
	switch v := v.(type) {
	case nil, bool, float64, string:
		return v
	}
	return canonicalJSON(v)
}

// canonicalJSON encodes a decoded JSON value with sorted keys and no
// spaces, so that equal values compare equal as text.
func canonicalJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v) // decoded JSON always encodes
	return b
}

// MergeMetadata returns the JSON object old with the keys of add set, new
// keys last (a Python dict update): how NewRef's metadata merges into a
// file reference's. Either may be empty (absent).
func MergeMetadata(old, add []byte) (json.RawMessage, error) {
	if len(add) == 0 {
		return old, nil
	}
	if len(old) == 0 {
		return add, nil
	}
	o, err := pyjson.DecodeObject(old)
	if err != nil {
		return nil, fmt.Errorf("stored metadata: %w", err)
	}
	a, err := pyjson.DecodeObject(add)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	for _, f := range a {
		o.Set(f.Key, f.Value)
	}
	return json.Marshal(o)
}
