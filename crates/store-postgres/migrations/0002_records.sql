-- Bulkhead on PostgreSQL: the data plane (collections, records, uniqueness,
-- idempotency keys, record events). Every table is tenant-owned: tenant_id
-- leads its keys and indexes, and row-level security is forced.

CREATE TABLE collections (
    tenant_id  uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name       text        NOT NULL,
    schema     jsonb       NOT NULL,
    version    bigint      NOT NULL CHECK (version >= 1),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

CREATE TABLE records (
    tenant_id  uuid        NOT NULL,
    id         uuid        NOT NULL,
    collection text        NOT NULL,
    owner_id   uuid,
    version    bigint      NOT NULL CHECK (version >= 1),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    data       jsonb       NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, collection) REFERENCES collections (tenant_id, name) ON DELETE CASCADE
);
CREATE INDEX ix_records_created ON records (tenant_id, collection, created_at, id);
CREATE INDEX ix_records_owner ON records (tenant_id, collection, owner_id, created_at, id);

CREATE TABLE record_unique_values (
    tenant_id  uuid NOT NULL,
    collection text NOT NULL,
    field      text NOT NULL,
    value      text NOT NULL,
    record_id  uuid NOT NULL,
    PRIMARY KEY (tenant_id, collection, field, value),
    FOREIGN KEY (tenant_id, record_id) REFERENCES records (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX ix_record_unique_values_record ON record_unique_values (tenant_id, record_id);

CREATE TABLE idempotency_keys (
    tenant_id    uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key          text        NOT NULL,
    request_hash bytea       NOT NULL CHECK (octet_length(request_hash) = 32),
    status       integer,
    response     jsonb,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, key)
);

CREATE TABLE record_events (
    tenant_id  uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    seq        bigint      NOT NULL CHECK (seq >= 1),
    collection text        NOT NULL,
    record_id  uuid        NOT NULL,
    kind       text        NOT NULL CHECK (kind IN ('create', 'update', 'delete')),
    owner_id   uuid,
    payload    jsonb       NOT NULL,
    at         timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);

ALTER TABLE collections ENABLE ROW LEVEL SECURITY;
ALTER TABLE collections FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON collections
    USING (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid);

ALTER TABLE records ENABLE ROW LEVEL SECURITY;
ALTER TABLE records FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON records
    USING (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid);

ALTER TABLE record_unique_values ENABLE ROW LEVEL SECURITY;
ALTER TABLE record_unique_values FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON record_unique_values
    USING (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid);

ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON idempotency_keys
    USING (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid);

ALTER TABLE record_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE record_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON record_events
    USING (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid);

-- Declared indexes are expression indexes over records, created at run time
-- when a collection declares them. The runtime role owns nothing, so it may
-- not create indexes itself; this function, owned by the schema owner, does
-- it for exactly the shapes the store generates and nothing else: a name of
-- hex digits and one to four expressions, each one JSON field of `data` in
-- one of the store's fixed forms. Executable by the runtime role only (see
-- migrate.rs).
CREATE FUNCTION bulkhead_ensure_record_index(index_name text, expressions text[]) RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
DECLARE
    expression text;
BEGIN
    IF index_name !~ '^ix_records_[0-9a-f]{16}$' THEN
        RAISE EXCEPTION 'invalid index name %', index_name USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF coalesce(array_length(expressions, 1), 0) NOT BETWEEN 1 AND 4 THEN
        RAISE EXCEPTION 'an index has one to four fields' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOREACH expression IN ARRAY expressions LOOP
        IF expression !~ '^\(\(data ->> ''[a-z][a-z0-9_]{0,62}''\)( COLLATE "C"|::bigint|::float8|::numeric)?\)$' THEN
            RAISE EXCEPTION 'invalid index expression %', expression USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;
    BEGIN
        EXECUTE format(
            'CREATE INDEX IF NOT EXISTS %I ON public.records (tenant_id, collection, %s)',
            index_name,
            array_to_string(expressions, ', ')
        );
    EXCEPTION WHEN duplicate_table OR unique_violation THEN
        -- Another transaction created it at the same moment.
        NULL;
    END;
END
$$;
REVOKE EXECUTE ON FUNCTION bulkhead_ensure_record_index(text, text[]) FROM PUBLIC;
