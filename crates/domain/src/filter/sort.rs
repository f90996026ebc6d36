//! The sort parameter: `-created_at,title`.

use super::ast::Spanned;
use super::typecheck::resolve;
use super::typed::SortKey;
use super::{FilterError, MAX_FILTER_LEN, MAX_SORT_KEYS};
use crate::collection::CollectionSchema;

/// Parses a sort order: 1 to [`MAX_SORT_KEYS`] comma-separated field names,
/// each prefixed with `-` for descending order, with optional spaces around
/// each key. Fields follow the filter's rules (system fields allowed, json
/// and `version` not) and may appear only once.
///
/// The result is not yet a total order: the caller appends `id` ascending as
/// a final tie-breaker (unless `id` is already a key), so pages are stable.
pub fn parse_sort(text: &str, schema: &CollectionSchema) -> Result<Vec<SortKey>, FilterError> {
    if text.len() > MAX_FILTER_LEN {
        return Err(FilterError::new(
            MAX_FILTER_LEN,
            format!("a sort may be at most {MAX_FILTER_LEN} bytes long"),
        ));
    }
    let mut keys: Vec<SortKey> = Vec::new();
    let mut offset = 0;
    for piece in text.split(',') {
        let key_at = offset + (piece.len() - piece.trim_start_matches(is_space).len());
        offset += piece.len() + 1;
        let key = piece.trim_matches(is_space);
        if keys.len() == MAX_SORT_KEYS {
            return Err(FilterError::new(
                key_at,
                format!("a sort may have at most {MAX_SORT_KEYS} keys"),
            ));
        }
        let (descending, name, name_at) = match key.strip_prefix('-') {
            Some(name) => (true, name, key_at + 1),
            None => (false, key, key_at),
        };
        if name.is_empty() {
            return Err(FilterError::new(name_at, "expected a field name"));
        }
        let (field, _) = resolve(&Spanned::new(name.to_owned(), name_at), schema)?;
        if keys.iter().any(|key| key.field == field) {
            return Err(FilterError::new(
                name_at,
                format!("'{name}' is already a sort key"),
            ));
        }
        keys.push(SortKey { field, descending });
    }
    Ok(keys)
}

fn is_space(character: char) -> bool {
    character.is_ascii_whitespace()
}
