-- Bulkhead on PostgreSQL: the audit logs stay append-only without triggers
-- (issue 19).
--
-- Why: Citus refuses to distribute or replicate a table that has triggers
-- (unless citus.enable_unsafe_triggers, which we will not ask of anyone),
-- and both audit logs had one that raised on UPDATE and DELETE. What keeps
-- them append-only now is privileges plus row-level security:
-- - the runtime role holds only SELECT and INSERT on them (migrate.rs), so
--   an UPDATE, DELETE or TRUNCATE from the server is "permission denied";
-- - row-level security is forced on both, with policies for SELECT and
--   INSERT only, so a role that was granted UPDATE or DELETE, the owner
--   included when it is not a superuser, finds no row to change.
-- A superuser bypasses both, as it could drop the old triggers; the hash
-- chain is what makes such a change evident (`bulkhead audit verify`).
-- Deleting a tenant still takes its audit log with it: the cascade of a
-- foreign key runs as the table's owner without forced row-level security.

DROP TRIGGER audit_log_append_only ON audit_log;
DROP FUNCTION bulkhead_audit_log_append_only();
DROP TRIGGER platform_audit_log_append_only ON platform_audit_log;
DROP FUNCTION bulkhead_platform_audit_log_append_only();

DROP POLICY tenant_isolation ON audit_log;
CREATE POLICY tenant_isolation ON audit_log FOR SELECT
    USING (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid);
CREATE POLICY tenant_append ON audit_log FOR INSERT
    WITH CHECK (tenant_id = NULLIF(current_setting('bulkhead.tenant_id', true), '')::uuid);

ALTER TABLE platform_audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE platform_audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY platform_read ON platform_audit_log FOR SELECT USING (true);
CREATE POLICY platform_append ON platform_audit_log FOR INSERT WITH CHECK (true);
