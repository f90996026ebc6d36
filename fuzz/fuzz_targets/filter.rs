//! Fuzzes the filter language: arbitrary UTF-8 through `parse`, `typecheck`
//! against a sample schema with a field of every type, and `parse_sort`.
//!
//! Beyond "never panics", it checks what the unit tests check on a smaller
//! scale: error positions fall inside the input (on a character boundary,
//! but for the length error), and a parsed filter's canonical text parses
//! back to the same filter.
//!
//! Run from the repository root with
//! `cargo +nightly fuzz run filter -- -dict=fuzz/filter.dict -max_len=5000`
//! (the default `-max_len` of 4096 would never reach the length limit).

#![no_main]

use std::sync::OnceLock;

use bulkhead_domain::collection::CollectionSchema;
use bulkhead_domain::filter::{self, FilterError, MAX_FILTER_LEN};
use libfuzzer_sys::fuzz_target;

/// The sample schema of the filter's unit tests, built once.
fn schema() -> &'static CollectionSchema {
    static SCHEMA: OnceLock<CollectionSchema> = OnceLock::new();
    SCHEMA.get_or_init(|| filter::sample::orders(Vec::new()))
}

/// An error points inside the text, on a character boundary unless it is
/// the length error, which is at byte 4096 wherever that falls.
fn check_position(text: &str, error: &FilterError) {
    assert!(error.position <= text.len(), "{error} in {text:?}");
    if text.len() <= MAX_FILTER_LEN {
        assert!(text.is_char_boundary(error.position), "{error} in {text:?}");
    } else {
        assert_eq!(error.position, MAX_FILTER_LEN, "{error}");
    }
}

fuzz_target!(|text: &str| {
    match filter::parse(text) {
        Ok(expr) => {
            if let Err(error) = filter::typecheck(&expr, schema()) {
                check_position(text, &error);
            }
            let canonical = expr.to_string();
            if canonical.len() <= MAX_FILTER_LEN {
                let reparsed = filter::parse(&canonical).expect("canonical text parses");
                assert_eq!(reparsed, expr, "{canonical:?}");
            }
        }
        Err(error) => check_position(text, &error),
    }
    if let Err(error) = filter::parse_sort(text, schema()) {
        check_position(text, &error);
    }
});
