//! The tenant's record events on PostgreSQL: its realtime stream, numbered
//! by the audit entries of the changes.

use async_trait::async_trait;
use bulkhead_domain::{RecordId, TenantId, UserId};
use bulkhead_store::{
    AuditDraft, AuditEntry, EventKind, NewRecordEvent, RecordEvent, RecordEvents, Result,
};
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::PgTenantTx;
use crate::audit_log::{self, EventArgs, Log};

const EVENT_COLUMNS: &str = "tenant_id, seq, collection, record_id, kind, owner_id, payload, at";

fn event_row(row: &PgRow) -> sqlx::Result<RecordEvent> {
    let kind: &str = row.try_get("kind")?;
    Ok(RecordEvent {
        tenant_id: TenantId::from_uuid(row.try_get("tenant_id")?),
        seq: row.try_get("seq")?,
        collection: row.try_get("collection")?,
        record_id: RecordId::from_uuid(row.try_get("record_id")?),
        kind: EventKind::parse(kind).ok_or_else(|| sqlx::Error::ColumnDecode {
            index: "kind".into(),
            source: format!("unknown event kind {kind:?}").into(),
        })?,
        owner_id: row
            .try_get::<Option<uuid::Uuid>, _>("owner_id")?
            .map(UserId::from_uuid),
        payload: row.try_get("payload")?,
        at: row.try_get("at")?,
    })
}

#[async_trait]
impl RecordEvents for PgTenantTx {
    async fn append_record_change(
        &mut self,
        event: NewRecordEvent,
        audit: AuditDraft,
    ) -> Result<(RecordEvent, AuditEntry)> {
        let args = EventArgs {
            collection: &event.collection,
            record_id: *event.record_id.as_uuid(),
            kind: event.kind.as_str(),
            owner_id: event.owner_id.map(|id| *id.as_uuid()),
            payload: &event.payload,
            at: event.at,
        };
        let entry =
            audit_log::append(&mut self.tx, Log::Tenant(self.tenant), audit, Some(args)).await?;
        Ok((event.numbered(self.tenant, entry.seq), entry))
    }

    async fn record_event_position(&mut self) -> Result<i64> {
        audit_log::last_seq(&mut self.tx, self.tenant).await
    }

    async fn record_events_after(
        &mut self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<RecordEvent>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM record_events
             WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
        );
        let statement = sqlx::query(&sql)
            .bind(self.t())
            .bind(after_seq)
            .bind(i64::from(limit));
        self.tx.all(statement, event_row).await
    }
}
