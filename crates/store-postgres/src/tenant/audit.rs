//! The tenant's audit log on PostgreSQL (the chain logic is shared with the
//! platform's, in `audit_log`).

use async_trait::async_trait;
use bulkhead_store::{AuditDraft, AuditEntry, AuditLog, AuditQuery, Result};

use super::PgTenantTx;
use crate::audit_log::{self, Log};

#[async_trait]
impl AuditLog for PgTenantTx {
    async fn append_audit(&mut self, draft: AuditDraft) -> Result<AuditEntry> {
        audit_log::append(&mut self.tx, Log::Tenant(self.tenant), draft, None).await
    }

    async fn list_audit(&mut self, query: AuditQuery) -> Result<Vec<AuditEntry>> {
        audit_log::list(&mut self.tx, Log::Tenant(self.tenant), &query).await
    }

    async fn audit_chain(&mut self, after_seq: i64, limit: u32) -> Result<Vec<AuditEntry>> {
        audit_log::chain(&mut self.tx, Log::Tenant(self.tenant), after_seq, limit).await
    }

    async fn erase_audit_personal(&mut self, seq: i64) -> Result<bool> {
        let statement = sqlx::query("DELETE FROM audit_personal WHERE tenant_id = $1 AND seq = $2")
            .bind(self.t())
            .bind(seq);
        Ok(self.tx.execute(statement).await? > 0)
    }
}
