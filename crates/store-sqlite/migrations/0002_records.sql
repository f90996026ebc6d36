-- Bulkhead on SQLite: the data plane (collections, records, uniqueness,
-- idempotency keys, record events). Every table is tenant-owned and led by
-- tenant_id in its keys and indexes.

CREATE TABLE collections (
    tenant_id  BLOB    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    schema     TEXT    NOT NULL,
    version    INTEGER NOT NULL CHECK (version >= 1),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name)
) STRICT;

CREATE TABLE records (
    tenant_id  BLOB    NOT NULL,
    id         BLOB    NOT NULL CHECK (length(id) = 16),
    collection TEXT    NOT NULL,
    owner_id   BLOB,
    version    INTEGER NOT NULL CHECK (version >= 1),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    data       TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, collection) REFERENCES collections (tenant_id, name) ON DELETE CASCADE
) STRICT;
-- The default order (newest first) and owner-visibility lists.
CREATE INDEX ix_records_created ON records (tenant_id, collection, created_at, id);
CREATE INDEX ix_records_owner ON records (tenant_id, collection, owner_id, created_at, id);

-- Values of `unique` fields: one row per (collection, field, value), so a
-- duplicate is refused by the primary key within the tenant only.
CREATE TABLE record_unique_values (
    tenant_id  BLOB NOT NULL,
    collection TEXT NOT NULL,
    field      TEXT NOT NULL,
    value      TEXT NOT NULL,
    record_id  BLOB NOT NULL,
    PRIMARY KEY (tenant_id, collection, field, value),
    FOREIGN KEY (tenant_id, record_id) REFERENCES records (tenant_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX ix_record_unique_values_record ON record_unique_values (tenant_id, record_id);

CREATE TABLE idempotency_keys (
    tenant_id    BLOB    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key          TEXT    NOT NULL,
    request_hash BLOB    NOT NULL CHECK (length(request_hash) = 32),
    status       INTEGER,
    response     TEXT,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, key)
) STRICT, WITHOUT ROWID;

CREATE TABLE record_events (
    tenant_id  BLOB    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL CHECK (seq >= 1),
    collection TEXT    NOT NULL,
    record_id  BLOB    NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('create', 'update', 'delete')),
    owner_id   BLOB,
    payload    TEXT    NOT NULL,
    at         INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, seq)
) STRICT, WITHOUT ROWID;
