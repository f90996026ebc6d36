-- Bulkhead on SQLite: the append-only logs (record events, audit entries and
-- their personal rows) are stored in the order they are written, with one
-- narrow index per tenant beside them.
--
-- Why: every write appends an event and an audit entry. With the logs keyed
-- (tenant_id, seq), and the audit log indexed four ways by tenant, a group
-- commit of writes from many tenants touched about ten different B-tree leaf
-- pages per write, each a WAL frame to write and checksum while every other
-- writer waits. Appended in global order, a group's log rows share pages;
-- only the (tenant_id, seq) index still takes one leaf per tenant. On a copy
-- of a seeded database, dropping the action and actor indexes alone took W3
-- (creates over 50 tenants) from 2,189 / 2,526 / 2,426 to 3,329 / 3,405 /
-- 3,022 creates/s (interleaved 10-s windows).
--
-- What goes: the audit log's (tenant_id, action, seq) and (tenant_id,
-- actor_id, seq) indexes, and its UNIQUE (tenant_id, id), which no query
-- reads (ids are fresh UUIDv7s made by the service). Filtering a tenant's log
-- by action or actor now walks that tenant's log newest first; see
-- ARCHITECTURE.md.

-- Record events: a rowid table in write order; (tenant_id, seq) stays the
-- primary key, as an index.
CREATE TABLE record_events_v3 (
    tenant_id  BLOB    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL CHECK (seq >= 1),
    collection TEXT    NOT NULL,
    record_id  BLOB    NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('create', 'update', 'delete')),
    owner_id   BLOB,
    payload    TEXT    NOT NULL,
    at         INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, seq)
) STRICT;
INSERT INTO record_events_v3 (tenant_id, seq, collection, record_id, kind, owner_id, payload, at)
    SELECT tenant_id, seq, collection, record_id, kind, owner_id, payload, at
    FROM record_events ORDER BY at, tenant_id, seq;
DROP TABLE record_events;
ALTER TABLE record_events_v3 RENAME TO record_events;

-- The audit log: `entry` numbers every tenant's entries in write order (an
-- explicit INTEGER PRIMARY KEY, so VACUUM keeps it); (tenant_id, seq) is the
-- chain's key, as an index.
CREATE TABLE audit_log_v3 (
    entry           INTEGER NOT NULL PRIMARY KEY,
    tenant_id       BLOB    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL CHECK (seq >= 1),
    id              BLOB    NOT NULL CHECK (length(id) = 16),
    at              INTEGER NOT NULL,
    actor_kind      TEXT    NOT NULL,
    actor_id        BLOB,
    action          TEXT    NOT NULL,
    resource_type   TEXT    NOT NULL,
    resource_id     TEXT,
    outcome         TEXT    NOT NULL,
    request_id      TEXT,
    details         TEXT    NOT NULL,
    personal_digest BLOB    NOT NULL CHECK (length(personal_digest) = 32),
    prev_hash       BLOB    NOT NULL CHECK (length(prev_hash) = 32),
    hash            BLOB    NOT NULL CHECK (length(hash) = 32),
    CONSTRAINT uq_audit_log_seq UNIQUE (tenant_id, seq)
) STRICT;
INSERT INTO audit_log_v3 (entry, tenant_id, seq, id, at, actor_kind, actor_id, action,
        resource_type, resource_id, outcome, request_id, details, personal_digest, prev_hash, hash)
    SELECT rowid, tenant_id, seq, id, at, actor_kind, actor_id, action,
        resource_type, resource_id, outcome, request_id, details, personal_digest, prev_hash, hash
    FROM audit_log ORDER BY rowid;

-- The erasable part of an entry, keyed by the entry it belongs to. Its
-- tenant_id is the entry's: rows are only ever inserted by selecting it from
-- the entry itself (audit_log.rs). They go with their entry, so tenant_id
-- needs no foreign key (and no index for one to use).
CREATE TABLE audit_personal_v3 (
    entry      INTEGER NOT NULL PRIMARY KEY REFERENCES audit_log_v3 (entry) ON DELETE CASCADE,
    tenant_id  BLOB    NOT NULL,
    salt       BLOB    NOT NULL CHECK (length(salt) = 16),
    ip         TEXT,
    user_agent TEXT
) STRICT;
INSERT INTO audit_personal_v3 (entry, tenant_id, salt, ip, user_agent)
    SELECT a.entry, p.tenant_id, p.salt, p.ip, p.user_agent
    FROM audit_personal p JOIN audit_log_v3 a ON a.tenant_id = p.tenant_id AND a.seq = p.seq
    ORDER BY a.entry;

-- Dropping a table drops its triggers first, so the append-only triggers do
-- not stop this.
DROP TABLE audit_personal;
DROP TABLE audit_log;
ALTER TABLE audit_log_v3 RENAME TO audit_log;
ALTER TABLE audit_personal_v3 RENAME TO audit_personal;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN EXISTS (SELECT 1 FROM tenants WHERE id = OLD.tenant_id)
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
