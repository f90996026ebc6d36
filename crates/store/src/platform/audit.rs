//! The platform's own hash-chained audit log.

use async_trait::async_trait;

use crate::error::Result;
use crate::model::{AuditDraft, AuditEntry, AuditQuery};

#[async_trait]
pub trait PlatformAuditLog: Send {
    /// Appends an entry to the platform's own hash-chained audit log.
    async fn append_platform_audit(&mut self, draft: AuditDraft) -> Result<AuditEntry>;
    async fn list_platform_audit(&mut self, query: AuditQuery) -> Result<Vec<AuditEntry>>;
    /// Platform entries in chain order, from `after_seq + 1`.
    async fn platform_audit_chain(&mut self, after_seq: i64, limit: u32)
    -> Result<Vec<AuditEntry>>;
}
