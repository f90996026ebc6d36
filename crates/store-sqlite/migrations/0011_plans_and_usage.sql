-- Bulkhead on SQLite: plans and the quotas they set (issue 22).
--
-- A plan names a tenant's limits; NULL is unlimited. `tenants.plan`, which
-- every tenant has carried as "free", names one; SQLite cannot add a
-- foreign key to an existing column, so the store checks the name when it
-- assigns a plan. Times are microseconds since the epoch.
CREATE TABLE plans (
    name                     TEXT    NOT NULL PRIMARY KEY
        CHECK (length(name) BETWEEN 1 AND 63 AND name NOT GLOB '*[^a-z0-9-]*' AND substr(name, 1, 1) GLOB '[a-z]'),
    max_members              INTEGER CHECK (max_members >= 0),
    max_records              INTEGER CHECK (max_records >= 0),
    max_storage_bytes        INTEGER CHECK (max_storage_bytes >= 0),
    max_collections          INTEGER CHECK (max_collections >= 0),
    max_api_keys             INTEGER CHECK (max_api_keys >= 0),
    requests_per_minute      INTEGER CHECK (requests_per_minute >= 1),
    realtime_connections     INTEGER CHECK (realtime_connections >= 0),
    ledger_markup_millionths INTEGER CHECK (ledger_markup_millionths BETWEEN 1 AND 1000000000000),
    created_at               INTEGER NOT NULL,
    updated_at               INTEGER NOT NULL
) STRICT;

-- The catalogue product's tiers (bulkhead_domain::plan::default_plans).
INSERT INTO plans (name, max_members, max_records, created_at, updated_at) VALUES
    ('free', 3, 1000, strftime('%s', 'now') * 1000000, strftime('%s', 'now') * 1000000),
    ('starter', 1, 1000, strftime('%s', 'now') * 1000000, strftime('%s', 'now') * 1000000),
    ('professional', 10, 50000, strftime('%s', 'now') * 1000000, strftime('%s', 'now') * 1000000),
    ('enterprise', NULL, NULL, strftime('%s', 'now') * 1000000, strftime('%s', 'now') * 1000000);

-- A tenant on a plan that does not exist would have no limits to check.
INSERT INTO plans (name, created_at, updated_at)
    SELECT DISTINCT plan, strftime('%s', 'now') * 1000000, strftime('%s', 'now') * 1000000
    FROM tenants WHERE plan NOT IN (SELECT name FROM plans);

-- What each tenant holds of what a plan may cap, kept in the transaction
-- of every write that changes it: a write's commit adds its changes here
-- and checks the sums against the plan. The CHECKs make a counting bug
-- fail loudly instead of drifting.
CREATE TABLE tenant_usage (
    tenant_id     BLOB    NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    members       INTEGER NOT NULL CHECK (members >= 0),
    records       INTEGER NOT NULL CHECK (records >= 0),
    storage_bytes INTEGER NOT NULL CHECK (storage_bytes >= 0),
    collections   INTEGER NOT NULL CHECK (collections >= 0),
    api_keys      INTEGER NOT NULL CHECK (api_keys >= 0)
) STRICT, WITHOUT ROWID;

-- A record's document size in bytes as the store wrote it (compact JSON
-- text), so that a change or deletion takes back exactly what its write
-- added.
ALTER TABLE records ADD COLUMN size_bytes INTEGER NOT NULL DEFAULT 0 CHECK (size_bytes >= 0);
UPDATE records SET size_bytes = length(CAST(data AS BLOB));

INSERT INTO tenant_usage (tenant_id, members, records, storage_bytes, collections, api_keys)
SELECT t.id,
       (SELECT count(*) FROM memberships m WHERE m.tenant_id = t.id),
       (SELECT count(*) FROM records r WHERE r.tenant_id = t.id),
       (SELECT coalesce(sum(r.size_bytes), 0) FROM records r WHERE r.tenant_id = t.id),
       (SELECT count(*) FROM collections c WHERE c.tenant_id = t.id),
       (SELECT count(*) FROM api_keys k WHERE k.tenant_id = t.id AND k.revoked_at IS NULL)
FROM tenants t;
