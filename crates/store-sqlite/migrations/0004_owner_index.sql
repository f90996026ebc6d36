-- Bulkhead on SQLite: the owner index holds only the records whose owner
-- restricts who sees them.
--
-- Why: `ix_records_owner` serves the lists of an `owner`-visibility
-- collection, where a member sees only their own records. Every record of
-- every collection was in it, so every create wrote one more leaf, one per
-- owner, in a group commit shared by many tenants; in a `tenant`-visibility
-- collection nothing reads it. W3 over 50 tenants (notes are `tenant`
-- visibility): +13-15 % creates/s with the index dropped (three interleaved
-- rounds, 10-s windows).
--
-- `owner_only` is 1 when the record's collection has `owner` visibility. The
-- store sets it on insert from the collection's stored schema, and rewrites
-- it for the whole collection when an update changes the visibility
-- (data_plane.rs); an owner-restricted list asks for `owner_only = 1`, which
-- is what lets SQLite use this partial index.
ALTER TABLE records ADD COLUMN owner_only INTEGER NOT NULL DEFAULT 0 CHECK (owner_only IN (0, 1));
UPDATE records SET owner_only = 1
    WHERE EXISTS (SELECT 1 FROM collections c
                  WHERE c.tenant_id = records.tenant_id AND c.name = records.collection
                    AND json_extract(c.schema, '$.visibility') = 'owner');
DROP INDEX ix_records_owner;
CREATE INDEX ix_records_owner ON records (tenant_id, collection, owner_id, created_at, id)
    WHERE owner_only = 1;
