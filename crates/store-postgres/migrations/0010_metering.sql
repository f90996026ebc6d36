-- Bulkhead on PostgreSQL: metered use per tenant, by UTC hour and day
-- (issue 22).
--
-- The server counts requests, records created and active users in memory
-- and adds them here now and then, one transaction per tenant: each flush
-- adds its counts to what is there (ON CONFLICT … DO UPDATE SET n = n +
-- excluded.n), so several server processes flushing one hour or day add
-- up. These are an account of use, not a quota's truth (that is
-- tenant_usage, kept by every write's own transaction). Tenant tables:
-- distributed by tenant_id under Citus, every key led by it.
CREATE TABLE usage_hours (
    tenant_id       uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    hour            timestamptz NOT NULL CHECK (extract(epoch FROM hour) % 3600 = 0),
    requests        bigint      NOT NULL CHECK (requests >= 0),
    records_created bigint      NOT NULL CHECK (records_created >= 0),
    PRIMARY KEY (tenant_id, hour)
);

-- A day (UTC) of metered use: requests and records created are the sums of
-- its hours; storage_bytes is the tenant's stored bytes at the last flush
-- that counted use on that day; active_users counts the users of
-- usage_day_users the day has had, including those since forgotten.
CREATE TABLE usage_days (
    tenant_id       uuid   NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    day             date   NOT NULL,
    requests        bigint NOT NULL CHECK (requests >= 0),
    records_created bigint NOT NULL CHECK (records_created >= 0),
    storage_bytes   bigint NOT NULL CHECK (storage_bytes >= 0),
    active_users    bigint NOT NULL CHECK (active_users >= 0),
    PRIMARY KEY (tenant_id, day)
);

-- The users already counted among a day's active users, so that a user
-- seen by several processes counts once: a flush counts only the users it
-- inserts. Kept only while the day can still be flushed to (no foreign key
-- to users: a user deleted before the flush still made the requests, and
-- the rows go within two days anyway).
CREATE TABLE usage_day_users (
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    day       date NOT NULL,
    user_id   uuid NOT NULL,
    PRIMARY KEY (tenant_id, day, user_id)
);

ALTER TABLE usage_hours ENABLE ROW LEVEL SECURITY;
ALTER TABLE usage_hours FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON usage_hours
    USING (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid);

ALTER TABLE usage_days ENABLE ROW LEVEL SECURITY;
ALTER TABLE usage_days FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON usage_days
    USING (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid);

ALTER TABLE usage_day_users ENABLE ROW LEVEL SECURITY;
ALTER TABLE usage_day_users FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON usage_day_users
    USING (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid);
