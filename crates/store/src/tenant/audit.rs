//! The tenant's hash-chained audit log.

use async_trait::async_trait;

use crate::error::Result;
use crate::model::{AuditDraft, AuditEntry, AuditQuery};

#[async_trait]
pub trait AuditLog: Send {
    /// Appends an entry to this tenant's hash-chained audit log.
    async fn append_audit(&mut self, draft: AuditDraft) -> Result<AuditEntry>;
    async fn list_audit(&mut self, query: AuditQuery) -> Result<Vec<AuditEntry>>;
    /// Entries in chain order, from `after_seq + 1`, for verification.
    async fn audit_chain(&mut self, after_seq: i64, limit: u32) -> Result<Vec<AuditEntry>>;
    /// Erases the personal fields of one entry; the chain stays verifiable.
    async fn erase_audit_personal(&mut self, seq: i64) -> Result<bool>;
}
