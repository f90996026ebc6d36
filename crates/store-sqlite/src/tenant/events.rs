//! The tenant's record events on SQLite: its realtime stream, stored under
//! the audit entries of the changes.

use async_trait::async_trait;
use bulkhead_store::{AuditDraft, AuditEntry, NewRecordEvent, RecordEvent, RecordEvents, Result};
use rusqlite::params;

use super::SqliteTenantTx;
use crate::audit_log::{self, Log};
use crate::codec::{Micros, id_param, stored_time};
use crate::rows;

#[async_trait]
impl RecordEvents for SqliteTenantTx {
    async fn append_record_change(
        &mut self,
        event: NewRecordEvent,
        audit: AuditDraft,
    ) -> Result<(RecordEvent, AuditEntry)> {
        // The event is stored under its audit entry's row and numbered by it:
        // the audit log's (tenant_id, seq) index finds a tenant's events, so
        // an event costs the writer no per-tenant index leaf of its own. A
        // group commit carries creates of many tenants, and each per-tenant
        // leaf is a page written to the WAL for every one of them (migration
        // 0006).
        let (entry, row) = audit_log::append_entry(&self.tx, Log::Tenant(self.tenant), audit)?;
        let binds = params![
            row,
            self.t(),
            event.collection,
            id_param(&event.record_id),
            event.kind.as_str(),
            event.owner_id.as_ref().map(id_param),
            event.payload.to_string(),
            Micros(event.at)
        ];
        self.tx.statement(
            "INSERT INTO record_events (entry, tenant_id, collection, record_id, kind, owner_id, payload, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            |s| s.execute(binds),
        )?;
        let mut event = event.numbered(self.tenant, entry.seq);
        event.at = stored_time(event.at);
        Ok((event, entry))
    }

    async fn record_event_position(&mut self) -> Result<i64> {
        audit_log::last_seq(&self.tx, self.tenant)
    }

    async fn record_events_after(
        &mut self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<RecordEvent>> {
        self.tx.statement(&record_events_after_sql(), |s| {
            s.query_map(params![self.t(), after_seq, limit], rows::record_event)?
                .collect()
        })
    }
}

/// Events after `?2` of tenant `?1`, at most `?3`. It walks the tenant's
/// audit entries through the (tenant_id, seq) index, which holds each
/// entry's row, and finds the events stored under them; entries without one
/// are skipped (checked by the test below).
fn record_events_after_sql() -> String {
    format!(
        "SELECT {} FROM audit_log a JOIN record_events e ON e.entry = a.entry
         WHERE a.tenant_id = ?1 AND a.seq > ?2 AND e.tenant_id = ?1
         ORDER BY a.seq LIMIT ?3",
        rows::RECORD_EVENT_COLUMNS
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plan SQLite's own (bundled) build makes: no scan, no sort, no
    /// index of the events' own.
    #[test]
    fn a_tenants_events_are_read_through_the_audit_index() {
        let connection = rusqlite::Connection::open_in_memory().unwrap();
        crate::migrate::run(&connection, 0).unwrap();
        let mut statement = connection
            .prepare(&format!("EXPLAIN QUERY PLAN {}", record_events_after_sql()))
            .unwrap();
        let plan: Vec<String> = statement
            .query_map(params![[0_u8; 16], 0, 10], |row| row.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            plan,
            [
                "SEARCH a USING COVERING INDEX sqlite_autoindex_audit_log_1 (tenant_id=? AND seq>?)",
                "SEARCH e USING INTEGER PRIMARY KEY (rowid=?)",
            ]
        );
    }
}
