-- Bulkhead on PostgreSQL: an audit entry is numbered, linked and written by
-- one call, the last statement before COMMIT (issue 20).
--
-- Why: appends to one chain are serialised by a transaction-level advisory
-- lock, held until the transaction ends. The server used to take it, read
-- the chain's head, compute the hash and insert the entry in four round
-- trips, in the middle of the transaction, so one busy tenant's writes
-- queued behind each other's remaining statements as well as behind each
-- other's commits. These functions do all of it in one round trip. The
-- server computes every byte of the hash that does not depend on the
-- predecessor (`tail`, see bulkhead_domain::audit::chain_tail); the
-- function completes it as SHA-256(prev_hash || seq || tail) and the server
-- checks the result against its own.
--
-- The lock's keys are the ones the server took itself before: the first is
-- "audi" (0x61756469), the second hashtext of the tenant's id as text ('' for
-- the platform). Each statement in a PL/pgSQL function takes a new snapshot
-- (READ COMMITTED), so the head read after the lock is the newest
-- committed one. Under Citus the function runs on the coordinator and each
-- of its statements is a single-shard statement on the tenant's shard.
-- SECURITY INVOKER (the default): row-level security applies as for the
-- runtime role's own statements.

CREATE FUNCTION bulkhead_audit_append(
    p_tenant uuid, p_id uuid, p_at timestamptz, p_actor_kind text, p_actor_id uuid,
    p_action text, p_resource_type text, p_resource_id text, p_outcome text,
    p_request_id text, p_details jsonb, p_personal_digest bytea, p_tail bytea,
    p_salt bytea, p_ip text, p_user_agent text,
    OUT seq bigint, OUT prev_hash bytea, OUT hash bytea)
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(1635083369, hashtext(p_tenant::text));
    SELECT a.seq, a.hash INTO seq, prev_hash
        FROM audit_log a WHERE a.tenant_id = p_tenant ORDER BY a.seq DESC LIMIT 1;
    IF NOT FOUND THEN
        seq := 0;
        prev_hash := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
    END IF;
    seq := seq + 1;
    hash := sha256(prev_hash || int8send(seq) || p_tail);
    INSERT INTO audit_log (tenant_id, seq, id, at, actor_kind, actor_id, action, resource_type,
        resource_id, outcome, request_id, details, personal_digest, prev_hash, hash)
    VALUES (p_tenant, seq, p_id, p_at, p_actor_kind, p_actor_id, p_action, p_resource_type,
        p_resource_id, p_outcome, p_request_id, p_details, p_personal_digest, prev_hash, hash);
    INSERT INTO audit_personal (tenant_id, seq, salt, ip, user_agent)
    VALUES (p_tenant, seq, p_salt, p_ip, p_user_agent);
END
$$;

-- A record change: its audit entry as above, and its realtime event,
-- numbered by the entry, in the same call.
CREATE FUNCTION bulkhead_record_change_append(
    p_tenant uuid, p_id uuid, p_at timestamptz, p_actor_kind text, p_actor_id uuid,
    p_action text, p_resource_type text, p_resource_id text, p_outcome text,
    p_request_id text, p_details jsonb, p_personal_digest bytea, p_tail bytea,
    p_salt bytea, p_ip text, p_user_agent text,
    p_collection text, p_record_id uuid, p_kind text, p_owner_id uuid, p_payload jsonb,
    p_event_at timestamptz,
    OUT seq bigint, OUT prev_hash bytea, OUT hash bytea)
LANGUAGE plpgsql
AS $$
BEGIN
    SELECT e.seq, e.prev_hash, e.hash INTO seq, prev_hash, hash
        FROM bulkhead_audit_append(p_tenant, p_id, p_at, p_actor_kind, p_actor_id, p_action,
            p_resource_type, p_resource_id, p_outcome, p_request_id, p_details,
            p_personal_digest, p_tail, p_salt, p_ip, p_user_agent) e;
    INSERT INTO record_events (tenant_id, seq, collection, record_id, kind, owner_id, payload, at)
    VALUES (p_tenant, seq, p_collection, p_record_id, p_kind, p_owner_id, p_payload, p_event_at);
END
$$;

-- The platform's log: the same, on its own tables and lock.
CREATE FUNCTION bulkhead_platform_audit_append(
    p_id uuid, p_at timestamptz, p_actor_kind text, p_actor_id uuid,
    p_action text, p_resource_type text, p_resource_id text, p_outcome text,
    p_request_id text, p_details jsonb, p_personal_digest bytea, p_tail bytea,
    p_salt bytea, p_ip text, p_user_agent text,
    OUT seq bigint, OUT prev_hash bytea, OUT hash bytea)
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(1635083369, hashtext(''));
    SELECT a.seq, a.hash INTO seq, prev_hash
        FROM platform_audit_log a ORDER BY a.seq DESC LIMIT 1;
    IF NOT FOUND THEN
        seq := 0;
        prev_hash := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
    END IF;
    seq := seq + 1;
    hash := sha256(prev_hash || int8send(seq) || p_tail);
    INSERT INTO platform_audit_log (seq, id, at, actor_kind, actor_id, action, resource_type,
        resource_id, outcome, request_id, details, personal_digest, prev_hash, hash)
    VALUES (seq, p_id, p_at, p_actor_kind, p_actor_id, p_action, p_resource_type,
        p_resource_id, p_outcome, p_request_id, p_details, p_personal_digest, prev_hash, hash);
    INSERT INTO platform_audit_personal (seq, salt, ip, user_agent)
    VALUES (seq, p_salt, p_ip, p_user_agent);
END
$$;
