-- Bulkhead on SQLite: two checks that every record write paid for in the
-- writer, which every queued write waits on.
--
-- 1. A record's `owner_only` (migration 0004) comes from its collection's
--    visibility. The insert read it by parsing the collection's stored JSON
--    schema; now the collection keeps it in a column of its own, written
--    with the schema (data_plane.rs), and the insert reads that.
-- 2. SQLite evaluates a CHECK of the form `x IN (a, b, c)` (more than two
--    values) through a temporary table built and dropped for every row
--    inserted; `record_events.kind` had one. The same rule, written as
--    comparisons, costs nothing of the kind. A CHECK cannot be changed in
--    place, so the table is rebuilt, its rows copied in the order they were
--    written.
--
-- Measured with callgrind over W3 creates (instructions per create): the
-- event insert 64,400 -> 43,600, the record insert 71,700 -> 65,400, of
-- about 340,000 the writer spent on a create before.
ALTER TABLE collections ADD COLUMN owner_only INTEGER NOT NULL DEFAULT 0 CHECK (owner_only IN (0, 1));
UPDATE collections SET owner_only = 1 WHERE json_extract(schema, '$.visibility') = 'owner';

CREATE TABLE record_events_v5 (
    tenant_id  BLOB    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL CHECK (seq >= 1),
    collection TEXT    NOT NULL,
    record_id  BLOB    NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind = 'create' OR kind = 'update' OR kind = 'delete'),
    owner_id   BLOB,
    payload    TEXT    NOT NULL,
    at         INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, seq)
) STRICT;
INSERT INTO record_events_v5 (tenant_id, seq, collection, record_id, kind, owner_id, payload, at)
    SELECT tenant_id, seq, collection, record_id, kind, owner_id, payload, at
    FROM record_events ORDER BY rowid;
DROP TABLE record_events;
ALTER TABLE record_events_v5 RENAME TO record_events;
