//! The platform's audit log on PostgreSQL (the chain logic is shared with
//! the tenants', in `audit_log`).

use async_trait::async_trait;
use bulkhead_store::{AuditDraft, AuditEntry, AuditQuery, PlatformAuditLog, Result};

use super::PgPlatformTx;
use crate::audit_log::{self, Log};

#[async_trait]
impl PlatformAuditLog for PgPlatformTx {
    async fn append_platform_audit(&mut self, draft: AuditDraft) -> Result<AuditEntry> {
        audit_log::append(&mut self.tx, Log::Platform, draft, None).await
    }

    async fn list_platform_audit(&mut self, query: AuditQuery) -> Result<Vec<AuditEntry>> {
        audit_log::list(&mut self.tx, Log::Platform, &query).await
    }

    async fn platform_audit_chain(
        &mut self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>> {
        audit_log::chain(&mut self.tx, Log::Platform, after_seq, limit).await
    }
}
