//! The tenant's audit log on SQLite (the chain logic is shared with the
//! platform's, in `audit_log`).

use async_trait::async_trait;
use bulkhead_store::{AuditDraft, AuditEntry, AuditLog, AuditQuery, Result};
use rusqlite::params;

use super::SqliteTenantTx;
use crate::audit_log::{self, Log};

#[async_trait]
impl AuditLog for SqliteTenantTx {
    async fn append_audit(&mut self, draft: AuditDraft) -> Result<AuditEntry> {
        audit_log::append(&self.tx, Log::Tenant(self.tenant), draft)
    }

    async fn list_audit(&mut self, query: AuditQuery) -> Result<Vec<AuditEntry>> {
        audit_log::list(&self.tx, Log::Tenant(self.tenant), &query)
    }

    async fn audit_chain(&mut self, after_seq: i64, limit: u32) -> Result<Vec<AuditEntry>> {
        audit_log::chain(&self.tx, Log::Tenant(self.tenant), after_seq, limit)
    }

    async fn erase_audit_personal(&mut self, seq: i64) -> Result<bool> {
        let sql = "DELETE FROM audit_personal WHERE tenant_id = ?1
                   AND entry = (SELECT entry FROM audit_log WHERE tenant_id = ?1 AND seq = ?2)";
        Ok(self
            .tx
            .statement(sql, |s| s.execute(params![self.t(), seq]))?
            > 0)
    }
}
