//! `bulkhead migrate`: bring the schema up to date.
//!
//! On PostgreSQL this runs as the owner role of the URL, applies the
//! migrations and creates and grants the runtime role the server will use.
//! On SQLite, opening the file migrates it; this also creates the first
//! signing key so the file is complete before the first `serve`.

use std::path::Path;

use bulkhead_domain::Clock;
use bulkhead_service::signing_keys;
use bulkhead_store::Store as _;
use bulkhead_store_postgres::MigrateOptions;

use crate::commands::email_collisions;
use crate::settings::{DatabaseUrl, Settings};
use crate::{Error, database, output};

pub async fn run(settings: &Settings, clock: &dyn Clock, citus: bool) -> Result<(), Error> {
    match &settings.database_url {
        Some(url) => migrate_postgres(settings, url, citus).await,
        None if citus => Err(Error::Invalid(
            "--citus needs a PostgreSQL database URL".to_owned(),
        )),
        None => migrate_sqlite(&settings.data_dir, clock).await,
    }
}

async fn migrate_postgres(
    settings: &Settings,
    url: &DatabaseUrl,
    citus: bool,
) -> Result<(), Error> {
    let app_password = match &settings.app_password_file {
        Some(path) => Some(first_line_of(path)?),
        None => None,
    };
    let options = MigrateOptions {
        app_role: settings.app_role.clone(),
        app_password,
        citus,
    };
    let report = bulkhead_store_postgres::migrate(url.expose(), &options)
        .await
        .map_err(|error| Error::Database {
            url: url.redacted(),
            message: error.to_string(),
        })?;
    let role = if report.role_created {
        "created"
    } else {
        "already existed"
    };
    output::line(format_args!(
        "postgresql database {url}: applied {} migration(s); runtime role {} {role}",
        report.applied, settings.app_role
    ))?;
    if citus {
        output::line(format_args!(
            "distributed {} table(s) with Citus",
            report.distributed_tables
        ))?;
    }
    email_collisions::warn_about(&report.email_key_collisions);
    Ok(())
}

async fn migrate_sqlite(data_dir: &Path, clock: &dyn Clock) -> Result<(), Error> {
    let store = database::open_sqlite(data_dir, clock.now())?;
    let result = signing_keys::ensure_signing_key(&store, clock).await;
    email_collisions::warn_if_any(&store).await;
    store.close().await;
    result?;
    output::line(format_args!(
        "sqlite database {} is up to date",
        database::sqlite_path(data_dir).display()
    ))
}

/// The first line of a secret file, without its line ending.
fn first_line_of(path: &Path) -> Result<String, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::ReadFile {
        what: "app password file",
        path: path.to_owned(),
        source,
    })?;
    let line = text.lines().next().unwrap_or_default();
    if line.is_empty() {
        return Err(Error::Invalid(format!(
            "app password file {} is empty",
            path.display()
        )));
    }
    Ok(line.to_owned())
}
