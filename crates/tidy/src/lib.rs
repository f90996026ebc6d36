//! Repository-wide checks that keep ARCHITECTURE.md true. They run as this
//! crate's tests (`cargo test -p bulkhead-tidy`), so `cargo test --workspace`
//! fails when a file lacks its module doc, SQL or HTTP leaks out of its
//! crate, or a dependency points the wrong way.

use std::path::{Path, PathBuf};

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Every `.rs` file under `dir`, skipping build output.
pub fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() {
                if name != "target" && !name.to_string_lossy().starts_with('.') {
                    pending.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The workspace crates that a crate's manifest depends on (normal
/// dependencies only; dev-dependencies may reach further for tests).
pub fn workspace_dependencies(manifest: &str) -> Vec<String> {
    let Ok(value) = manifest.parse::<toml::Table>() else {
        return Vec::new();
    };
    let Some(dependencies) = value.get("dependencies").and_then(|d| d.as_table()) else {
        return Vec::new();
    };
    let mut names: Vec<String> = dependencies
        .keys()
        .filter(|name| name.starts_with("bulkhead-"))
        .cloned()
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_dependencies_ignore_dev_dependencies_and_outside_crates() {
        let manifest = r#"
            [dependencies]
            bulkhead-domain.workspace = true
            serde = "1"
            [dev-dependencies]
            bulkhead-store-sqlite.workspace = true
        "#;
        assert_eq!(workspace_dependencies(manifest), vec!["bulkhead-domain"]);
    }
}
