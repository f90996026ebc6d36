//! The tenant's record events: its realtime stream.

use async_trait::async_trait;

use crate::error::Result;
use crate::model::{AuditDraft, AuditEntry};
use crate::records::{NewRecordEvent, RecordEvent};

#[async_trait]
pub trait RecordEvents: Send {
    /// Appends a change to a record: its audit entry (as `append_audit`) and
    /// its event, which is numbered by that entry (`event.seq ==
    /// entry.seq`). A tenant's realtime stream is thus the record changes of
    /// its audit log: numbers increase per tenant and skip the entries that
    /// are not record changes. Why one call: an event never goes without its
    /// audit entry, and a backend may store the event beside the entry
    /// instead of indexing it again (SQLite does).
    async fn append_record_change(
        &mut self,
        event: NewRecordEvent,
        audit: AuditDraft,
    ) -> Result<(RecordEvent, AuditEntry)>;
    /// Where the tenant's stream is now: at least the newest record event's
    /// number, and below the number of every event appended after this
    /// (0 for a tenant with no audit entry). It is the newest audit entry's.
    async fn record_event_position(&mut self) -> Result<i64>;
    /// Events with a number above `after_seq`, oldest first.
    async fn record_events_after(&mut self, after_seq: i64, limit: u32)
    -> Result<Vec<RecordEvent>>;
}
