-- Assets: content, references to it, tags, and the metadata projection
-- (store.AssetStore; ComfyUI's app/assets model).
--
-- Times are microseconds since the epoch (UTC). A reference is live when
-- deleted_at IS NULL and is_missing = 0: the listing indexes are partial on
-- exactly that condition, so that a page walks one index in (key, id)
-- order and stops after LIMIT rows. Tags and metadata point at a reference
-- by its rowid (seq): integer joins, and every index on asset_refs carries
-- it for free.

-- Unique content. hash is NULL until the content is hashed; SQLite lets
-- many NULLs share a UNIQUE column.
CREATE TABLE assets (
    id         TEXT    NOT NULL PRIMARY KEY,
    hash       TEXT    UNIQUE,
    size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0),
    mime_type  TEXT,
    created_at INTEGER NOT NULL
);

-- What the API calls an asset. size copies the content's size_bytes (a
-- hashed content never changes), so that sort=size has an index too.
-- name_folded is the name lower-cased by the store, for name_contains.
CREATE TABLE asset_refs (
    seq              INTEGER PRIMARY KEY,
    id               TEXT    NOT NULL UNIQUE,
    asset_id         TEXT    NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    name             TEXT    NOT NULL,
    name_folded      TEXT    NOT NULL,
    owner_id         TEXT    NOT NULL,
    file_path        TEXT    UNIQUE,
    mtime_ns         INTEGER,
    is_missing       INTEGER NOT NULL DEFAULT 0,
    preview_id       TEXT    REFERENCES asset_refs (id) ON DELETE SET NULL,
    user_metadata    BLOB    NOT NULL,
    system_metadata  BLOB,
    job_id           TEXT,
    size             INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    last_access_time INTEGER NOT NULL,
    deleted_at       INTEGER
);

CREATE INDEX asset_refs_asset ON asset_refs (asset_id);
CREATE INDEX asset_refs_preview ON asset_refs (preview_id) WHERE preview_id IS NOT NULL;
-- One listing index per sort key, (key, id) with the owner, so that a page
-- skips its offset and tests visibility and tags without reading the
-- table. (SQLite counts an index as covering only if it holds the columns
-- of its own WHERE too.)
CREATE INDEX asset_refs_created ON asset_refs (created_at, id, owner_id, deleted_at, is_missing)
    WHERE deleted_at IS NULL AND is_missing = 0;
CREATE INDEX asset_refs_updated ON asset_refs (updated_at, id, owner_id, deleted_at, is_missing)
    WHERE deleted_at IS NULL AND is_missing = 0;
CREATE INDEX asset_refs_name ON asset_refs (name, id, owner_id, deleted_at, is_missing)
    WHERE deleted_at IS NULL AND is_missing = 0;
CREATE INDEX asset_refs_size ON asset_refs (size, id, owner_id, deleted_at, is_missing)
    WHERE deleted_at IS NULL AND is_missing = 0;
CREATE INDEX asset_refs_access ON asset_refs (last_access_time, id, owner_id, deleted_at, is_missing)
    WHERE deleted_at IS NULL AND is_missing = 0;
-- Narrow and covering for the totals of filters the counters below can't
-- answer (names, metadata, exclusions): a count scans it, not the table.
CREATE INDEX asset_refs_owner ON asset_refs (owner_id, name_folded, deleted_at, is_missing)
    WHERE deleted_at IS NULL AND is_missing = 0;

CREATE TABLE tags (
    name TEXT NOT NULL PRIMARY KEY
) WITHOUT ROWID;

CREATE TABLE asset_ref_tags (
    ref      INTEGER NOT NULL REFERENCES asset_refs (seq) ON DELETE CASCADE,
    tag      TEXT    NOT NULL REFERENCES tags (name),
    origin   TEXT    NOT NULL,
    added_at INTEGER NOT NULL,
    PRIMARY KEY (ref, tag)
) WITHOUT ROWID;

-- A rare include tag drives a listing from here.
CREATE INDEX asset_ref_tags_tag ON asset_ref_tags (tag, ref);

-- Merged system and user metadata, one row per value (store.MetaRows), so
-- that metadata_filter is an indexed lookup. Exactly one val_ is set.
CREATE TABLE asset_ref_meta (
    ref      INTEGER NOT NULL REFERENCES asset_refs (seq) ON DELETE CASCADE,
    key      TEXT    NOT NULL,
    ordinal  INTEGER NOT NULL,
    val_str  TEXT,
    val_num  REAL,
    val_bool INTEGER,
    val_json TEXT,
    PRIMARY KEY (ref, key, ordinal)
) WITHOUT ROWID;

CREATE INDEX asset_ref_meta_key ON asset_ref_meta (key, ref);
CREATE INDEX asset_ref_meta_str ON asset_ref_meta (key, val_str) WHERE val_str IS NOT NULL;
CREATE INDEX asset_ref_meta_num ON asset_ref_meta (key, val_num) WHERE val_num IS NOT NULL;
CREATE INDEX asset_ref_meta_bool ON asset_ref_meta (key, val_bool) WHERE val_bool IS NOT NULL;

-- Counted references per (owner, tag), kept by the triggers in the same
-- transaction as every change, so that /api/tags and the totals of the
-- common listings (everything, or one tag) need no count(*), and a
-- listing knows which of its tags is rare. A reference counts for its
-- tags when it is not deleted and not missing (a missing one still counts
-- for the tag "missing"); the row with tag '' counts the live references.
CREATE TABLE asset_counts (
    owner_id TEXT    NOT NULL,
    tag      TEXT    NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (owner_id, tag)
) WITHOUT ROWID;

CREATE TRIGGER asset_refs_count_insert AFTER INSERT ON asset_refs
WHEN NEW.deleted_at IS NULL AND NEW.is_missing = 0 BEGIN
    INSERT INTO asset_counts (owner_id, tag, n) VALUES (NEW.owner_id, '', 1)
        ON CONFLICT (owner_id, tag) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER asset_refs_count_update AFTER UPDATE OF deleted_at, is_missing, owner_id ON asset_refs BEGIN
    UPDATE asset_counts SET n = n - 1 WHERE owner_id = OLD.owner_id AND tag = ''
        AND OLD.deleted_at IS NULL AND OLD.is_missing = 0;
    INSERT INTO asset_counts (owner_id, tag, n) SELECT NEW.owner_id, '', 1
        WHERE NEW.deleted_at IS NULL AND NEW.is_missing = 0
        ON CONFLICT (owner_id, tag) DO UPDATE SET n = n + 1;
    UPDATE asset_counts SET n = n - 1 WHERE owner_id = OLD.owner_id AND tag IN (
        SELECT tag FROM asset_ref_tags WHERE ref = OLD.seq
        AND OLD.deleted_at IS NULL AND (OLD.is_missing = 0 OR tag = 'missing'));
    INSERT INTO asset_counts (owner_id, tag, n) SELECT NEW.owner_id, tag, 1 FROM asset_ref_tags
        WHERE ref = NEW.seq AND NEW.deleted_at IS NULL AND (NEW.is_missing = 0 OR tag = 'missing')
        ON CONFLICT (owner_id, tag) DO UPDATE SET n = n + 1;
END;

-- The API only soft-deletes references; should one be removed, its tags
-- go first, while their trigger can still see it.
CREATE TRIGGER asset_refs_count_delete BEFORE DELETE ON asset_refs BEGIN
    DELETE FROM asset_ref_tags WHERE ref = OLD.seq;
    UPDATE asset_counts SET n = n - 1 WHERE owner_id = OLD.owner_id AND tag = ''
        AND OLD.deleted_at IS NULL AND OLD.is_missing = 0;
END;

CREATE TRIGGER asset_ref_tags_count_insert AFTER INSERT ON asset_ref_tags BEGIN
    INSERT INTO asset_counts (owner_id, tag, n) SELECT r.owner_id, NEW.tag, 1 FROM asset_refs r
        WHERE r.seq = NEW.ref AND r.deleted_at IS NULL AND (r.is_missing = 0 OR NEW.tag = 'missing')
        ON CONFLICT (owner_id, tag) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER asset_ref_tags_count_delete AFTER DELETE ON asset_ref_tags BEGIN
    UPDATE asset_counts SET n = n - 1 WHERE tag = OLD.tag AND owner_id = (
        SELECT r.owner_id FROM asset_refs r
        WHERE r.seq = OLD.ref AND r.deleted_at IS NULL AND (r.is_missing = 0 OR OLD.tag = 'missing'));
END;

INSERT INTO tags (name) VALUES
    ('models'), ('input'), ('output'), ('configs'), ('checkpoints'), ('loras'), ('vae'),
    ('text_encoders'), ('diffusion_models'), ('clip_vision'), ('style_models'), ('embeddings'),
    ('diffusers'), ('vae_approx'), ('controlnet'), ('gligen'), ('upscale_models'),
    ('hypernetworks'), ('photomaker'), ('classifiers'), ('encoder'), ('decoder'), ('missing'),
    ('rescan');
