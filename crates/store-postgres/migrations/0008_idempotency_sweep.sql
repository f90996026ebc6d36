-- Bulkhead on PostgreSQL: idempotency keys are kept 24 hours and then swept
-- (RELIABILITY.md E4). The sweep deletes a tenant's oldest keys in batches;
-- this index finds them without reading every key the tenant has. It leads
-- with tenant_id, as every index of a tenant table does (Citus). The
-- runtime role's DELETE on the table is granted by `bulkhead migrate`.

CREATE INDEX ix_idempotency_keys_created ON idempotency_keys (tenant_id, created_at);
