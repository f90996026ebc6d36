-- Bulkhead on SQLite: metered use per tenant, by UTC hour and day (issue 22).
--
-- The server counts requests, records created and active users in memory
-- and adds them here now and then, one transaction per tenant: each flush
-- adds its counts to what is there (ON CONFLICT … DO UPDATE SET n = n +
-- excluded.n), so several flushes of one hour or day add up. These are an
-- account of use, not a quota's truth (that is tenant_usage, kept by every
-- write's own transaction). Hours are the hour's start in microseconds
-- since the epoch, days are days since 1970-01-01 (UTC).
CREATE TABLE usage_hours (
    tenant_id       BLOB    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    hour            INTEGER NOT NULL CHECK (hour % 3600000000 = 0),
    requests        INTEGER NOT NULL CHECK (requests >= 0),
    records_created INTEGER NOT NULL CHECK (records_created >= 0),
    PRIMARY KEY (tenant_id, hour)
) STRICT, WITHOUT ROWID;

-- A day's requests and records created are the sums of its hours;
-- storage_bytes is the tenant's stored bytes at the last flush that
-- counted use on that day; active_users counts the users of
-- usage_day_users the day has had, including those since forgotten.
CREATE TABLE usage_days (
    tenant_id       BLOB    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    day             INTEGER NOT NULL,
    requests        INTEGER NOT NULL CHECK (requests >= 0),
    records_created INTEGER NOT NULL CHECK (records_created >= 0),
    storage_bytes   INTEGER NOT NULL CHECK (storage_bytes >= 0),
    active_users    INTEGER NOT NULL CHECK (active_users >= 0),
    PRIMARY KEY (tenant_id, day)
) STRICT, WITHOUT ROWID;

-- The users already counted among a day's active users, so that a user
-- seen by several processes counts once: a flush counts only the users
-- it inserts. Kept only while the day can still be flushed to (no
-- foreign key to users: a user deleted before the flush still made the
-- requests, and the rows go within two days anyway).
CREATE TABLE usage_day_users (
    tenant_id BLOB    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    day       INTEGER NOT NULL,
    user_id   BLOB    NOT NULL,
    PRIMARY KEY (tenant_id, day, user_id)
) STRICT, WITHOUT ROWID;
