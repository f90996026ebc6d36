//! A record as JSON (`RecordView`), written straight from the stored
//! document, and a page of them (`RecordList`).

use bulkhead_domain::collection::append_datetime;
use bulkhead_service::Paged;
use bulkhead_store::Record;
use serde_json::Value;

/// What a record looks like to clients:
/// `{id, owner_id, version, created_at, updated_at, data}`, as a tree: what
/// the tests compare the fast writer's bytes with.
#[cfg(test)]
fn record_json(record: &Record) -> Value {
    serde_json::from_slice(&record_bytes(record)).unwrap_or(Value::Null)
}

/// A record as the bytes sent to the client
/// (`{id, owner_id, version, created_at, updated_at, data}`), written straight from
/// the record: the stored document is copied in as it is, not parsed and
/// printed again.
pub fn record_bytes(record: &Record) -> Vec<u8> {
    let mut out = Vec::with_capacity(record_size_hint(record));
    append_record(&mut out, record);
    out
}

/// A document plus the ~200 bytes of fields around it.
fn record_size_hint(record: &Record) -> usize {
    record.data.as_str().len() + 200
}

/// Appends the record's JSON, keys in the order serde_json prints an
/// object's, so the bytes are what printing the record's tree would give for
/// a compactly stored document. Nothing needs escaping: every string is a
/// UUID or a datetime, and the document is JSON already (checked when it
/// was read). Going through serde's per-string escaping instead was a fifth
/// of serving a page.
fn append_record(out: &mut Vec<u8>, record: &Record) {
    out.extend_from_slice(b"{\"created_at\":\"");
    append_datetime(out, record.created_at);
    out.extend_from_slice(b"\",\"data\":");
    out.extend_from_slice(record.data.as_str().as_bytes());
    out.extend_from_slice(b",\"id\":");
    append_uuid(out, record.id.as_uuid());
    out.extend_from_slice(b",\"owner_id\":");
    match &record.owner_id {
        Some(owner) => append_uuid(out, owner.as_uuid()),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"updated_at\":\"");
    append_datetime(out, record.updated_at);
    out.extend_from_slice(b"\",\"version\":");
    out.extend_from_slice(record.version.to_string().as_bytes());
    out.push(b'}');
}

fn append_uuid(out: &mut Vec<u8>, id: &uuid::Uuid) {
    let mut text = [0; uuid::fmt::Hyphenated::LENGTH];
    out.push(b'"');
    out.extend_from_slice(id.hyphenated().encode_lower(&mut text).as_bytes());
    out.push(b'"');
}

/// The page as the API's `RecordList` JSON, `{"items": [...],
/// "next_cursor": ...}`, each item as [`record_bytes`] writes it.
pub fn record_page_bytes(page: &Paged<Record>) -> Vec<u8> {
    let size = page.items.iter().map(record_size_hint).sum::<usize>();
    let mut out = Vec::with_capacity(size + 100);
    out.extend_from_slice(b"{\"items\":[");
    for (i, record) in page.items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        append_record(&mut out, record);
    }
    out.extend_from_slice(b"],\"next_cursor\":");
    match &page.next_cursor {
        // A cursor is URL-safe base64, but it is escaped like any
        // string all the same.
        Some(cursor) => out.extend_from_slice(Value::from(cursor.as_str()).to_string().as_bytes()),
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulkhead_domain::RecordId;
    use bulkhead_domain::collection::format_datetime;
    use bulkhead_domain::{TenantId, UserId};
    use bulkhead_service::records::snapshot;
    use bulkhead_store::Document;
    use serde_json::json;
    use time::macros::datetime;

    fn record(owner: Option<UserId>, data: &str, version: i64) -> Record {
        Record {
            tenant_id: TenantId::new(),
            id: RecordId::new(),
            collection: "notes".into(),
            owner_id: owner,
            version,
            created_at: datetime!(2024-05-01 12:00:00.25 UTC),
            updated_at: datetime!(2026-12-31 23:59:59.999999 UTC),
            data: Document::from_text(data.to_owned()).unwrap(),
        }
    }

    /// Stored as the store writes documents (compact, keys sorted), with
    /// an owner and without, at the edges of the datetime range.
    fn compact_records() -> Vec<Record> {
        let mut early = record(None, "{}", 1);
        early.created_at = datetime!(0000-01-01 00:00:00 UTC);
        early.updated_at = datetime!(9999-12-31 23:59:59.999999 +01:00);
        vec![
            record(Some(UserId::new()), r#"{"n":1,"title":"a"}"#, 3),
            record(None, r#"{"a":[1,null,true],"b":{"c":"d"}}"#, i64::MAX),
            early,
        ]
    }

    /// What a client must see for `record`, built without our writer.
    fn expected(record: &Record) -> Value {
        json!({
            "created_at": format_datetime(record.created_at),
            "data": serde_json::from_str::<Value>(record.data.as_str()).unwrap(),
            "id": record.id.to_string(),
            "owner_id": record.owner_id.map(|owner| owner.to_string()),
            "updated_at": format_datetime(record.updated_at),
            "version": record.version,
        })
    }

    #[test]
    fn a_record_is_the_json_serde_json_prints_for_it() {
        for record in compact_records() {
            let bytes = record_bytes(&record);
            assert_eq!(
                String::from_utf8(bytes).unwrap(),
                expected(&record).to_string()
            );
            assert_eq!(record_json(&record), expected(&record));
            // What its events and idempotent answers keep is the same.
            assert_eq!(snapshot(&record).unwrap(), expected(&record));
        }
    }

    #[test]
    fn a_document_is_passed_through_as_stored() {
        // Spacing, key order, escapes and number spelling as stored (as
        // PostgreSQL prints jsonb, say) reach the client unchanged.
        let text = r#"{"z": "quote \" tab \t é 😀", "a": [1.50, -0.0, 1e300]}"#;
        let record = record(None, text, 2);
        let bytes = String::from_utf8(record_bytes(&record)).unwrap();
        assert!(bytes.contains(&format!(r#""data":{text},"#)), "{bytes}");
        assert_eq!(record_json(&record), expected(&record));
        assert_eq!(snapshot(&record).unwrap(), expected(&record));
    }

    #[test]
    fn a_page_is_the_record_list_json() {
        let all = compact_records();
        for (count, cursor) in [(0, None), (1, Some("eyJ4IjoxfQ-_")), (3, None)] {
            let page = Paged {
                items: all[..count].to_vec(),
                next_cursor: cursor.map(str::to_owned),
            };
            let items: Vec<Value> = page.items.iter().map(expected).collect();
            assert_eq!(
                String::from_utf8(record_page_bytes(&page)).unwrap(),
                json!({"items": items, "next_cursor": cursor}).to_string()
            );
        }
    }
}
