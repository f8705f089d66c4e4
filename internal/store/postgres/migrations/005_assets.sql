-- Assets: content, references to it, tags, and the metadata projection
-- (store.AssetStore; ComfyUI's app/assets model), as the SQLite store's
-- 002_assets.sql: PostgreSQL's planner and statistics choose how a listing
-- is read, and counters kept by triggers (asset_counts) answer the tag
-- listing and the totals of the common listings.
--
-- Times are microseconds since the epoch (UTC). A reference is live when
-- deleted_at IS NULL and NOT is_missing: the listing indexes are partial on
-- exactly that condition. Names, ids, tags and paths sort by code point, as
-- Go's strings.Compare and SQLite's BINARY do, hence COLLATE "C"; it also
-- makes the file_path range of MarkMissing a plain index range. Metadata is
-- raw JSON (bytea, not jsonb, which would reorder keys).

CREATE TABLE assets (
    id         text COLLATE "C" PRIMARY KEY,
    hash       text COLLATE "C" UNIQUE,
    size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
    mime_type  text,
    created_at bigint NOT NULL
);

-- What the API calls an asset. size copies the content's size_bytes, so
-- that sort=size has an index; name_folded is the name lower-cased by the
-- store (Unicode-aware, whatever the database's locale), for name_contains.
CREATE TABLE asset_refs (
    seq              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id               text COLLATE "C" NOT NULL UNIQUE,
    asset_id         text COLLATE "C" NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    name             text COLLATE "C" NOT NULL,
    name_folded      text COLLATE "C" NOT NULL,
    owner_id         text COLLATE "C" NOT NULL,
    file_path        text COLLATE "C" UNIQUE,
    mtime_ns         bigint,
    is_missing       boolean NOT NULL DEFAULT false,
    preview_id       text COLLATE "C" REFERENCES asset_refs (id) ON DELETE SET NULL,
    user_metadata    bytea  NOT NULL,
    system_metadata  bytea,
    job_id           text,
    size             bigint NOT NULL,
    created_at       bigint NOT NULL,
    updated_at       bigint NOT NULL,
    last_access_time bigint NOT NULL,
    deleted_at       bigint
);

CREATE INDEX asset_refs_asset ON asset_refs (asset_id);
CREATE INDEX asset_refs_preview ON asset_refs (preview_id) WHERE preview_id IS NOT NULL;
-- One listing index per sort key, (key, id): a page walks one in order and
-- stops after LIMIT rows.
CREATE INDEX asset_refs_created ON asset_refs (created_at, id) WHERE deleted_at IS NULL AND NOT is_missing;
CREATE INDEX asset_refs_updated ON asset_refs (updated_at, id) WHERE deleted_at IS NULL AND NOT is_missing;
CREATE INDEX asset_refs_name ON asset_refs (name, id) WHERE deleted_at IS NULL AND NOT is_missing;
CREATE INDEX asset_refs_size ON asset_refs (size, id) WHERE deleted_at IS NULL AND NOT is_missing;
CREATE INDEX asset_refs_access ON asset_refs (last_access_time, id) WHERE deleted_at IS NULL AND NOT is_missing;
CREATE INDEX asset_refs_owner ON asset_refs (owner_id) WHERE deleted_at IS NULL AND NOT is_missing;

CREATE TABLE tags (
    name text COLLATE "C" PRIMARY KEY
);

CREATE TABLE asset_ref_tags (
    ref      bigint NOT NULL REFERENCES asset_refs (seq) ON DELETE CASCADE,
    tag      text COLLATE "C" NOT NULL REFERENCES tags (name),
    origin   text   NOT NULL,
    added_at bigint NOT NULL,
    PRIMARY KEY (ref, tag)
);

CREATE INDEX asset_ref_tags_tag ON asset_ref_tags (tag, ref);

-- Merged system and user metadata, one row per value (store.MetaRows), so
-- that metadata_filter is an indexed lookup. Exactly one val_ is set.
CREATE TABLE asset_ref_meta (
    ref      bigint NOT NULL REFERENCES asset_refs (seq) ON DELETE CASCADE,
    key      text COLLATE "C" NOT NULL,
    ordinal  integer NOT NULL,
    val_str  text COLLATE "C",
    val_num  double precision,
    val_bool boolean,
    val_json text COLLATE "C",
    PRIMARY KEY (ref, key, ordinal)
);

CREATE INDEX asset_ref_meta_key ON asset_ref_meta (key, ref);
CREATE INDEX asset_ref_meta_str ON asset_ref_meta (key, val_str) WHERE val_str IS NOT NULL;
CREATE INDEX asset_ref_meta_num ON asset_ref_meta (key, val_num) WHERE val_num IS NOT NULL;
CREATE INDEX asset_ref_meta_bool ON asset_ref_meta (key, val_bool) WHERE val_bool IS NOT NULL;

-- Counted references per (owner, tag), as SQLite's asset_counts: kept by
-- the triggers below in the same transaction as every change, so that
-- /api/tags and the totals of the common listings (everything, or one tag)
-- need no count(*). A reference counts for its tags when it is not deleted
-- and not missing (a missing one still counts for the tag "missing"); the
-- rows with tag '' count the live references.
--
-- Each (owner, tag) is split over 16 shards, a transaction writing the one
-- its transaction id picks: concurrent writers (of this instance or
-- another) have neighbouring ids, so they add to different rows instead of
-- queueing on one row lock until each commits; a count is the sum of its
-- shards. Should two transactions on one shard deadlock, the store retries
-- the victim.
CREATE TABLE asset_counts (
    owner_id text COLLATE "C" NOT NULL,
    tag      text COLLATE "C" NOT NULL,
    shard    smallint NOT NULL,
    n        bigint   NOT NULL,
    PRIMARY KEY (owner_id, tag, shard)
);

-- asset_count adds delta to the counter of (owner, tag) in the
-- transaction's shard.
CREATE FUNCTION asset_count(owner text, tag text, delta bigint) RETURNS void LANGUAGE sql AS $$
    INSERT INTO asset_counts (owner_id, tag, shard, n)
    VALUES (owner, tag, (pg_current_xact_id()::text::bigint % 16)::smallint, delta)
    ON CONFLICT (owner_id, tag, shard) DO UPDATE SET n = asset_counts.n + excluded.n
$$;

-- asset_counted reports whether a reference in a state counts for a tag
-- ('' for the live count).
CREATE FUNCTION asset_counted(deleted_at bigint, is_missing boolean, tag text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT deleted_at IS NULL AND (NOT is_missing OR tag = 'missing')
$$;

-- The triggers are row triggers firing after their statement; each counts
-- against the current state of the other table. A change of a reference's
-- state counts its current tags from the old state to the new, and a tag
-- added or removed counts for the reference's current state; where one
-- statement changes both (MarkMissing's 'missing' tag), that tag counts
-- alike in both states, so the order the triggers fire in does not matter.
CREATE FUNCTION asset_refs_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF asset_counted(NEW.deleted_at, NEW.is_missing, '') THEN
            PERFORM asset_count(NEW.owner_id, '', 1);
        END IF;
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        -- The API only soft-deletes references; should one be removed,
        -- its tags go first, while their trigger can still see it.
        DELETE FROM asset_ref_tags WHERE ref = OLD.seq;
        IF asset_counted(OLD.deleted_at, OLD.is_missing, '') THEN
            PERFORM asset_count(OLD.owner_id, '', -1);
        END IF;
        RETURN OLD;
    END IF;
    PERFORM asset_count(c.owner_id, c.tag, sum(c.delta)) FROM (
        SELECT OLD.owner_id, t.tag, -1 FROM (SELECT '' AS tag UNION ALL
            SELECT x.tag FROM asset_ref_tags x WHERE x.ref = OLD.seq) t
        WHERE asset_counted(OLD.deleted_at, OLD.is_missing, t.tag)
        UNION ALL
        SELECT NEW.owner_id, t.tag, 1 FROM (SELECT '' AS tag UNION ALL
            SELECT x.tag FROM asset_ref_tags x WHERE x.ref = NEW.seq) t
        WHERE asset_counted(NEW.deleted_at, NEW.is_missing, t.tag)
    ) AS c (owner_id, tag, delta)
    GROUP BY c.owner_id, c.tag HAVING sum(c.delta) <> 0 ORDER BY c.owner_id, c.tag;
    RETURN NULL;
END
$$;

CREATE TRIGGER asset_refs_count_insert AFTER INSERT ON asset_refs
    FOR EACH ROW EXECUTE FUNCTION asset_refs_count();
CREATE TRIGGER asset_refs_count_update AFTER UPDATE OF deleted_at, is_missing, owner_id ON asset_refs
    FOR EACH ROW WHEN (OLD.deleted_at IS DISTINCT FROM NEW.deleted_at OR OLD.is_missing <> NEW.is_missing
        OR OLD.owner_id <> NEW.owner_id)
    EXECUTE FUNCTION asset_refs_count();
CREATE TRIGGER asset_refs_count_delete BEFORE DELETE ON asset_refs
    FOR EACH ROW EXECUTE FUNCTION asset_refs_count();

CREATE FUNCTION asset_ref_tags_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM asset_count(r.owner_id, NEW.tag, 1) FROM asset_refs r
        WHERE r.seq = NEW.ref AND asset_counted(r.deleted_at, r.is_missing, NEW.tag);
    ELSE
        PERFORM asset_count(r.owner_id, OLD.tag, -1) FROM asset_refs r
        WHERE r.seq = OLD.ref AND asset_counted(r.deleted_at, r.is_missing, OLD.tag);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER asset_ref_tags_count AFTER INSERT OR DELETE ON asset_ref_tags
    FOR EACH ROW EXECUTE FUNCTION asset_ref_tags_count();

INSERT INTO tags (name) VALUES
    ('models'), ('input'), ('output'), ('configs'), ('checkpoints'), ('loras'), ('vae'),
    ('text_encoders'), ('diffusion_models'), ('clip_vision'), ('style_models'), ('embeddings'),
    ('diffusers'), ('vae_approx'), ('controlnet'), ('gligen'), ('upscale_models'),
    ('hypernetworks'), ('photomaker'), ('classifiers'), ('encoder'), ('decoder'), ('missing'),
    ('rescan');
