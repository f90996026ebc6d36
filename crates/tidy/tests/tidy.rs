//! The architecture's invariants, checked over the source tree.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

use std::collections::BTreeMap;

use bulkhead_tidy::{rust_files, workspace_dependencies, workspace_root};

#[test]
fn every_rust_file_starts_with_a_module_doc() {
    let root = workspace_root();
    let mut missing = Vec::new();
    for file in rust_files(&root.join("crates")) {
        let text = std::fs::read_to_string(&file).unwrap();
        if !text.trim_start().starts_with("//!") {
            missing.push(file.strip_prefix(&root).unwrap().display().to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "files without a `//!` module doc: {missing:#?}"
    );
}

/// Which workspace crates each crate may depend on: data flows downward only.
fn allowed_dependencies() -> BTreeMap<&'static str, &'static [&'static str]> {
    BTreeMap::from([
        ("domain", &[][..]),
        ("store", &["bulkhead-domain"][..]),
        ("store-sqlite", &["bulkhead-domain", "bulkhead-store"][..]),
        ("store-postgres", &["bulkhead-domain", "bulkhead-store"][..]),
        (
            "store-conformance",
            &["bulkhead-domain", "bulkhead-store"][..],
        ),
        ("service", &["bulkhead-domain", "bulkhead-store"][..]),
        (
            "http",
            &[
                "bulkhead-api-types",
                "bulkhead-domain",
                "bulkhead-service",
                "bulkhead-store",
            ][..],
        ),
        (
            "bulkhead",
            &[
                "bulkhead-domain",
                "bulkhead-http",
                "bulkhead-service",
                "bulkhead-store",
                "bulkhead-store-postgres",
                "bulkhead-store-sqlite",
            ][..],
        ),
        ("tidy", &[][..]),
        ("api-types", &[][..]),
        ("client", &["bulkhead-api-types"][..]),
    ])
}

#[test]
fn crates_depend_only_downward() {
    let root = workspace_root();
    let allowed = allowed_dependencies();
    for entry in std::fs::read_dir(root.join("crates")).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let manifest = std::fs::read_to_string(entry.path().join("Cargo.toml")).unwrap();
        let Some(permitted) = allowed.get(name.as_str()) else {
            panic!(
                "crate {name} has no entry in the dependency table; add it here and to ARCHITECTURE.md"
            );
        };
        for dependency in workspace_dependencies(&manifest) {
            assert!(
                permitted.contains(&dependency.as_str()),
                "crates/{name} may not depend on {dependency}"
            );
        }
    }
}

/// Source files of the crates outside `allowed` that mention one of `needles`.
fn mentions_outside(needles: &[&str], allowed: &[&str]) -> Vec<String> {
    let root = workspace_root();
    let mut found = Vec::new();
    for entry in std::fs::read_dir(root.join("crates")).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if allowed.contains(&name.as_str()) {
            continue;
        }
        for file in rust_files(&entry.path().join("src")) {
            let text = std::fs::read_to_string(&file).unwrap();
            for needle in needles {
                if text.contains(needle) {
                    found.push(format!(
                        "{}: {needle}",
                        file.strip_prefix(&root).unwrap().display()
                    ));
                }
            }
        }
    }
    found
}

#[test]
fn sql_lives_only_in_the_store_crates() {
    let found = mentions_outside(
        &[
            "sqlx::",
            "rusqlite::",
            "SELECT ",
            "INSERT INTO",
            "UPDATE ",
            "DELETE FROM",
        ],
        &["store-sqlite", "store-postgres", "tidy"],
    );
    assert!(found.is_empty(), "SQL outside the store crates: {found:#?}");
}

#[test]
fn http_lives_only_in_the_http_crate_and_the_binary() {
    let found = mentions_outside(
        &["axum::", "tower_http::", "hyper::"],
        &["http", "bulkhead", "tidy"],
    );
    assert!(found.is_empty(), "HTTP outside the http crate: {found:#?}");
}
