-- Bulkhead on PostgreSQL: the foundation schema.
--
-- Applied by `bulkhead migrate` as the owner role. The server runs as a
-- separate runtime role that owns nothing and has no BYPASSRLS; its grants
-- are set by the migrate command (see src/migrate.rs), not here, because its
-- name is configurable.
--
-- Every tenant-owned table has tenant_id leading its primary key, unique
-- constraints, indexes and foreign keys (which is also what Citus needs to
-- distribute and co-locate them), and ENABLE + FORCE ROW LEVEL SECURITY with
-- a policy on the transaction-local setting bulkhead.tenant_id. With the
-- setting absent or empty, NULLIF(...)::uuid is NULL, the comparison is never
-- true, and a tenant table shows no rows and accepts none.

-- Platform tables -----------------------------------------------------------

CREATE TABLE tenants (
    id           uuid        NOT NULL PRIMARY KEY,
    slug         text        NOT NULL,
    name         text        NOT NULL,
    plan         text        NOT NULL,
    suspended_at timestamptz,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    CONSTRAINT uq_tenants_slug UNIQUE (slug)
);

CREATE TABLE users (
    id                uuid        NOT NULL PRIMARY KEY,
    email             text        NOT NULL,
    display_name      text,
    password_hash     text        NOT NULL,
    is_platform_admin boolean     NOT NULL DEFAULT false,
    deactivated_at    timestamptz,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    CONSTRAINT uq_users_email UNIQUE (email)
);

CREATE TABLE sessions (
    id           uuid        NOT NULL PRIMARY KEY,
    user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    ip           text,
    user_agent   text
);
CREATE INDEX ix_sessions_user ON sessions (user_id);

-- Every refresh token a session was ever given, by its SHA-256. The current
-- one has rotated_at NULL; presenting a rotated one is reuse.
CREATE TABLE refresh_tokens (
    token_hash bytea       NOT NULL PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    session_id uuid        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    rotated_at timestamptz
);
CREATE INDEX ix_refresh_tokens_session ON refresh_tokens (session_id);

CREATE TABLE signing_keys (
    kid        text        NOT NULL PRIMARY KEY,
    secret     bytea       NOT NULL CHECK (octet_length(secret) >= 32),
    created_at timestamptz NOT NULL,
    retired_at timestamptz
);

-- The platform's own audit log (sign-ups, logins, platform administration),
-- hash-chained like each tenant's.
CREATE TABLE platform_audit_log (
    seq             bigint      NOT NULL PRIMARY KEY CHECK (seq >= 1),
    id              uuid        NOT NULL UNIQUE,
    at              timestamptz NOT NULL,
    actor_kind      text        NOT NULL,
    actor_id        uuid,
    action          text        NOT NULL,
    resource_type   text        NOT NULL,
    resource_id     text,
    outcome         text        NOT NULL,
    request_id      text,
    details         jsonb       NOT NULL,
    personal_digest bytea       NOT NULL CHECK (octet_length(personal_digest) = 32),
    prev_hash       bytea       NOT NULL CHECK (octet_length(prev_hash) = 32),
    hash            bytea       NOT NULL CHECK (octet_length(hash) = 32)
);
CREATE INDEX ix_platform_audit_log_action ON platform_audit_log (action, seq);

CREATE TABLE platform_audit_personal (
    seq        bigint NOT NULL PRIMARY KEY REFERENCES platform_audit_log (seq),
    salt       bytea  NOT NULL CHECK (octet_length(salt) = 16),
    ip         text,
    user_agent text
);

-- Tenant-owned tables --------------------------------------------------------

CREATE TABLE memberships (
    tenant_id  uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       text        NOT NULL CHECK (role IN ('owner', 'admin', 'manager', 'member', 'viewer')),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX ix_memberships_role ON memberships (tenant_id, role);
-- The one index not led by tenant_id: a signed-in user's own memberships
-- across tenants (Store::memberships_of_user). See ARCHITECTURE.md.
CREATE INDEX ix_memberships_user ON memberships (user_id);

CREATE TABLE api_keys (
    tenant_id    uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id           uuid        NOT NULL,
    name         text        NOT NULL,
    prefix       text        NOT NULL,
    key_hash     bytea       NOT NULL CHECK (octet_length(key_hash) = 32),
    role         text        NOT NULL CHECK (role IN ('owner', 'admin', 'manager', 'member', 'viewer')),
    created_by   uuid        REFERENCES users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT uq_api_keys_hash UNIQUE (tenant_id, key_hash)
);

CREATE TABLE invitations (
    tenant_id   uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid        NOT NULL,
    email       text        NOT NULL,
    role        text        NOT NULL CHECK (role IN ('owner', 'admin', 'manager', 'member', 'viewer')),
    token_hash  bytea       NOT NULL CHECK (octet_length(token_hash) = 32),
    invited_by  uuid        REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    accepted_at timestamptz,
    accepted_by uuid        REFERENCES users (id) ON DELETE SET NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT uq_invitations_token UNIQUE (tenant_id, token_hash)
);

CREATE TABLE audit_log (
    tenant_id       uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    seq             bigint      NOT NULL CHECK (seq >= 1),
    id              uuid        NOT NULL,
    at              timestamptz NOT NULL,
    actor_kind      text        NOT NULL,
    actor_id        uuid,
    action          text        NOT NULL,
    resource_type   text        NOT NULL,
    resource_id     text,
    outcome         text        NOT NULL,
    request_id      text,
    details         jsonb       NOT NULL,
    personal_digest bytea       NOT NULL CHECK (octet_length(personal_digest) = 32),
    prev_hash       bytea       NOT NULL CHECK (octet_length(prev_hash) = 32),
    hash            bytea       NOT NULL CHECK (octet_length(hash) = 32),
    PRIMARY KEY (tenant_id, seq),
    CONSTRAINT uq_audit_log_id UNIQUE (tenant_id, id)
);
CREATE INDEX ix_audit_log_action ON audit_log (tenant_id, action, seq);
CREATE INDEX ix_audit_log_actor ON audit_log (tenant_id, actor_id, seq);

-- The erasable part of each audit entry (see bulkhead_domain::audit).
CREATE TABLE audit_personal (
    tenant_id  uuid   NOT NULL,
    seq        bigint NOT NULL,
    salt       bytea  NOT NULL CHECK (octet_length(salt) = 16),
    ip         text,
    user_agent text,
    PRIMARY KEY (tenant_id, seq),
    FOREIGN KEY (tenant_id, seq) REFERENCES audit_log (tenant_id, seq) ON DELETE CASCADE
);

-- Row-level security ---------------------------------------------------------

ALTER TABLE memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE memberships FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON memberships
    USING (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid);
-- A signed-in user may read their own memberships in every tenant (and
-- nothing else of those tenants): the store sets bulkhead.user_id only in
-- the read-only transaction of Store::memberships_of_user.
CREATE POLICY own_memberships_read ON memberships FOR SELECT
    USING (user_id = NULLIF(current_setting('bulkhead.user_id', true), '')::uuid);

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON api_keys
    USING (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid);

ALTER TABLE invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE invitations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON invitations
    USING (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid);

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_log
    USING (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid);

ALTER TABLE audit_personal ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_personal FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_personal
    USING (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid);

-- The audit log is append-only -------------------------------------------------
-- The runtime role has no UPDATE or DELETE grant on audit_log at all; this
-- trigger stops the owner too. Rows go only with their tenant: the cascade
-- from tenants runs after the tenant row is gone.

CREATE FUNCTION bulkhead_audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
BEGIN
    IF TG_OP = 'DELETE' AND NOT EXISTS (SELECT 1 FROM public.tenants WHERE id = OLD.tenant_id) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION bulkhead_audit_log_append_only();

CREATE FUNCTION bulkhead_platform_audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
BEGIN
    RAISE EXCEPTION 'platform_audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER platform_audit_log_append_only
    BEFORE UPDATE OR DELETE ON platform_audit_log
    FOR EACH ROW EXECUTE FUNCTION bulkhead_platform_audit_log_append_only();
