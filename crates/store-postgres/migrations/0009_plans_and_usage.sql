-- Bulkhead on PostgreSQL: plans and the quotas they set (issue 22).
--
-- A plan names a tenant's limits; NULL is unlimited. `tenants.plan`, which
-- every tenant has carried as "free", now references one. `plans` is a
-- platform table (a reference table under Citus).
CREATE TABLE plans (
    name                     text        NOT NULL PRIMARY KEY
        CONSTRAINT ck_plans_name CHECK (name ~ '^[a-z][a-z0-9-]{0,62}$'),
    max_members              bigint      CHECK (max_members >= 0),
    max_records              bigint      CHECK (max_records >= 0),
    max_storage_bytes        bigint      CHECK (max_storage_bytes >= 0),
    max_collections          bigint      CHECK (max_collections >= 0),
    max_api_keys             bigint      CHECK (max_api_keys >= 0),
    requests_per_minute      bigint      CHECK (requests_per_minute >= 1),
    realtime_connections     bigint      CHECK (realtime_connections >= 0),
    ledger_markup_millionths bigint      CHECK (ledger_markup_millionths BETWEEN 1 AND 1000000000000),
    created_at               timestamptz NOT NULL,
    updated_at               timestamptz NOT NULL
);

-- The catalogue product's tiers (bulkhead_domain::plan::default_plans).
INSERT INTO plans (name, max_members, max_records, created_at, updated_at) VALUES
    ('free', 3, 1000, now(), now()),
    ('starter', 1, 1000, now(), now()),
    ('professional', 10, 50000, now(), now()),
    ('enterprise', NULL, NULL, now(), now());

-- A tenant on a plan that does not exist would have no limits to check.
INSERT INTO plans (name, created_at, updated_at)
    SELECT DISTINCT plan, now(), now() FROM tenants WHERE plan NOT IN (SELECT name FROM plans);
ALTER TABLE tenants ADD CONSTRAINT fk_tenants_plan FOREIGN KEY (plan) REFERENCES plans (name);

-- What each tenant holds of what a plan may cap, kept in the transaction
-- of every write that changes it: a write's commit adds its changes here
-- under this row's lock and checks the sums against the plan, so two
-- writes at a quota's edge cannot both pass. The CHECKs make a counting
-- bug fail loudly instead of drifting.
CREATE TABLE tenant_usage (
    tenant_id     uuid   NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    members       bigint NOT NULL CHECK (members >= 0),
    records       bigint NOT NULL CHECK (records >= 0),
    storage_bytes bigint NOT NULL CHECK (storage_bytes >= 0),
    collections   bigint NOT NULL CHECK (collections >= 0),
    api_keys      bigint NOT NULL CHECK (api_keys >= 0)
);

ALTER TABLE tenant_usage ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_usage FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_usage
    USING (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid);

-- A record's document size in bytes as the store wrote it (compact JSON
-- text), so that a change or deletion takes back exactly what its write
-- added. Rows written before this migration are measured as jsonb prints
-- them.
ALTER TABLE records ADD COLUMN size_bytes bigint NOT NULL DEFAULT 0 CHECK (size_bytes >= 0);
UPDATE records SET size_bytes = octet_length(data::text);

INSERT INTO tenant_usage (tenant_id, members, records, storage_bytes, collections, api_keys)
SELECT t.id,
       (SELECT count(*) FROM memberships m WHERE m.tenant_id = t.id),
       (SELECT count(*) FROM records r WHERE r.tenant_id = t.id),
       (SELECT coalesce(sum(r.size_bytes), 0) FROM records r WHERE r.tenant_id = t.id),
       (SELECT count(*) FROM collections c WHERE c.tenant_id = t.id),
       (SELECT count(*) FROM api_keys k WHERE k.tenant_id = t.id AND k.revoked_at IS NULL)
FROM tenants t;
