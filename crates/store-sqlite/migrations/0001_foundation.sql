-- Bulkhead on SQLite: the foundation schema.
--
-- Ids are 16-byte UUID blobs; times are microseconds since the Unix epoch.
-- Every tenant-owned table has tenant_id leading its primary key, its unique
-- constraints, its indexes and its foreign keys. SQLite has no row-level
-- security, so the store's tenant-scoped statements are the only barrier
-- here; the conformance suite's isolation table proves them.

-- Platform tables -----------------------------------------------------------

CREATE TABLE tenants (
    id           BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    slug         TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    plan         TEXT    NOT NULL,
    suspended_at INTEGER,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    CONSTRAINT uq_tenants_slug UNIQUE (slug)
) STRICT;

CREATE TABLE users (
    id                BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    email             TEXT    NOT NULL,
    display_name      TEXT,
    password_hash     TEXT    NOT NULL,
    is_platform_admin INTEGER NOT NULL DEFAULT 0 CHECK (is_platform_admin IN (0, 1)),
    deactivated_at    INTEGER,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    CONSTRAINT uq_users_email UNIQUE (email)
) STRICT;

CREATE TABLE sessions (
    id           BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    user_id      BLOB    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    ip           TEXT,
    user_agent   TEXT
) STRICT;
CREATE INDEX ix_sessions_user ON sessions (user_id);

-- Every refresh token a session was ever given, by its SHA-256. The current
-- one has rotated_at NULL; presenting a rotated one is reuse.
CREATE TABLE refresh_tokens (
    token_hash BLOB    NOT NULL PRIMARY KEY CHECK (length(token_hash) = 32),
    session_id BLOB    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    rotated_at INTEGER
) STRICT;
CREATE INDEX ix_refresh_tokens_session ON refresh_tokens (session_id);

CREATE TABLE signing_keys (
    kid        TEXT    NOT NULL PRIMARY KEY,
    secret     BLOB    NOT NULL CHECK (length(secret) >= 32),
    created_at INTEGER NOT NULL,
    retired_at INTEGER
) STRICT;

-- The platform's own audit log (sign-ups, logins, platform administration),
-- hash-chained like each tenant's.
CREATE TABLE platform_audit_log (
    seq             INTEGER NOT NULL PRIMARY KEY CHECK (seq >= 1),
    id              BLOB    NOT NULL UNIQUE CHECK (length(id) = 16),
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
    hash            BLOB    NOT NULL CHECK (length(hash) = 32)
) STRICT;
CREATE INDEX ix_platform_audit_log_action ON platform_audit_log (action, seq);

CREATE TABLE platform_audit_personal (
    seq        INTEGER NOT NULL PRIMARY KEY REFERENCES platform_audit_log (seq),
    salt       BLOB    NOT NULL CHECK (length(salt) = 16),
    ip         TEXT,
    user_agent TEXT
) STRICT;

CREATE TRIGGER platform_audit_log_no_update BEFORE UPDATE ON platform_audit_log
BEGIN
    SELECT RAISE(ABORT, 'platform_audit_log is append-only');
END;
CREATE TRIGGER platform_audit_log_no_delete BEFORE DELETE ON platform_audit_log
BEGIN
    SELECT RAISE(ABORT, 'platform_audit_log is append-only');
END;

-- Tenant-owned tables --------------------------------------------------------

CREATE TABLE memberships (
    tenant_id  BLOB    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    BLOB    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'manager', 'member', 'viewer')),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX ix_memberships_role ON memberships (tenant_id, role);
-- The one index not led by tenant_id: a signed-in user's own memberships
-- across tenants (Store::memberships_of_user). See ARCHITECTURE.md.
CREATE INDEX ix_memberships_user ON memberships (user_id);

CREATE TABLE api_keys (
    tenant_id    BLOB    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id           BLOB    NOT NULL CHECK (length(id) = 16),
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,
    key_hash     BLOB    NOT NULL CHECK (length(key_hash) = 32),
    role         TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'manager', 'member', 'viewer')),
    created_by   BLOB    REFERENCES users (id) ON DELETE SET NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT uq_api_keys_hash UNIQUE (tenant_id, key_hash)
) STRICT;

CREATE TABLE invitations (
    tenant_id   BLOB    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          BLOB    NOT NULL CHECK (length(id) = 16),
    email       TEXT    NOT NULL,
    role        TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'manager', 'member', 'viewer')),
    token_hash  BLOB    NOT NULL CHECK (length(token_hash) = 32),
    invited_by  BLOB    REFERENCES users (id) ON DELETE SET NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    accepted_at INTEGER,
    accepted_by BLOB    REFERENCES users (id) ON DELETE SET NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT uq_invitations_token UNIQUE (tenant_id, token_hash)
) STRICT;

CREATE TABLE audit_log (
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
    PRIMARY KEY (tenant_id, seq),
    CONSTRAINT uq_audit_log_id UNIQUE (tenant_id, id)
) STRICT;
CREATE INDEX ix_audit_log_action ON audit_log (tenant_id, action, seq);
CREATE INDEX ix_audit_log_actor ON audit_log (tenant_id, actor_id, seq);

-- The erasable part of each audit entry (see bulkhead_domain::audit).
CREATE TABLE audit_personal (
    tenant_id  BLOB NOT NULL,
    seq        INTEGER NOT NULL,
    salt       BLOB NOT NULL CHECK (length(salt) = 16),
    ip         TEXT,
    user_agent TEXT,
    PRIMARY KEY (tenant_id, seq),
    FOREIGN KEY (tenant_id, seq) REFERENCES audit_log (tenant_id, seq) ON DELETE CASCADE
) STRICT;

-- The audit log is append-only. Its rows go only when their tenant is
-- deleted (the cascade runs after the tenant row is gone).
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN EXISTS (SELECT 1 FROM tenants WHERE id = OLD.tenant_id)
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
