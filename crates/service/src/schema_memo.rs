//! Parsed collection schemas, kept by the exact text they were parsed from.
//!
//! A record write validates against its collection's schema as its own
//! transaction reads it. Reading the stored JSON into a value and that into
//! a schema, for every write, was about a tenth of what the SQLite writer
//! (which every queued write waits on) spent on a record create; reading the
//! text and comparing it with the text of the schema parsed last time costs
//! a small part of that. A hit is exact: the schema is a function of the
//! text alone, so an entry never stands for a schema other than the one
//! read, whoever wrote it and whether or not that write committed. This is
//! why writes may use it where they may not use the read cache (whose
//! entries stand for the committed schema until evicted).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use bulkhead_domain::TenantId;
use bulkhead_domain::collection::CollectionSchema;

/// Above this many collections the memo starts afresh (a bound on memory:
/// a schema is a few kilobytes).
const MAX_ENTRIES: usize = 10_000;

#[derive(Default)]
pub struct SchemaMemo {
    tenants: RwLock<HashMap<TenantId, HashMap<String, Parsed>>>,
}

impl std::fmt::Debug for SchemaMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaMemo").finish_non_exhaustive()
    }
}

struct Parsed {
    text: String,
    schema: Arc<CollectionSchema>,
}

impl SchemaMemo {
    /// The schema `text` (collection `name` of `tenant`) says, parsed once
    /// per distinct text.
    pub fn parse(
        &self,
        tenant: TenantId,
        name: &str,
        text: &str,
    ) -> Result<Arc<CollectionSchema>, serde_json::Error> {
        let hit = self
            .tenants
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&tenant)
            .and_then(|collections| collections.get(name))
            .filter(|parsed| parsed.text == text)
            .map(|parsed| Arc::clone(&parsed.schema));
        if let Some(schema) = hit {
            return Ok(schema);
        }
        let schema = Arc::new(serde_json::from_str::<CollectionSchema>(text)?);
        let mut tenants = self.tenants.write().unwrap_or_else(|p| p.into_inner());
        if tenants.values().map(HashMap::len).sum::<usize>() >= MAX_ENTRIES {
            tenants.clear();
        }
        tenants.entry(tenant).or_default().insert(
            name.to_owned(),
            Parsed {
                text: text.to_owned(),
                schema: Arc::clone(&schema),
            },
        );
        Ok(schema)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema_text(name: &str, field: &str) -> String {
        serde_json::json!({
            "name": name,
            "fields": [{ "name": field, "type": "text" }],
            "visibility": "tenant",
        })
        .to_string()
    }

    #[test]
    fn a_changed_text_is_parsed_again() {
        let memo = SchemaMemo::default();
        let tenant = TenantId::new();
        let first = memo
            .parse(tenant, "notes", &schema_text("notes", "title"))
            .unwrap();
        let again = memo
            .parse(tenant, "notes", &schema_text("notes", "title"))
            .unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        let changed = memo
            .parse(tenant, "notes", &schema_text("notes", "body"))
            .unwrap();
        assert_eq!(changed.fields()[0].name.as_str(), "body");
        assert_eq!(first.fields()[0].name.as_str(), "title");
    }

    #[test]
    fn tenants_do_not_share_entries() {
        let memo = SchemaMemo::default();
        let (a, b) = (TenantId::new(), TenantId::new());
        let text = schema_text("notes", "title");
        let of_a = memo.parse(a, "notes", &text).unwrap();
        let of_b = memo.parse(b, "notes", &text).unwrap();
        assert!(!Arc::ptr_eq(&of_a, &of_b));
        assert!(Arc::ptr_eq(&of_a, &memo.parse(a, "notes", &text).unwrap()));
    }

    #[test]
    fn an_invalid_schema_is_an_error_and_not_kept() {
        let memo = SchemaMemo::default();
        let tenant = TenantId::new();
        assert!(memo.parse(tenant, "notes", "{\"name\": 1}").is_err());
        assert!(memo.tenants.read().unwrap().is_empty());
    }
}
