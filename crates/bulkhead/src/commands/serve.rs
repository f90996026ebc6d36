//! `bulkhead serve`: run the HTTP server until told to stop.

use std::sync::Arc;

use bulkhead_domain::Clock;
use bulkhead_http::AppState;
use bulkhead_service::signing_keys::{self, KeyRing};
use bulkhead_store::Store;
use tokio::net::TcpListener;

use crate::settings::Settings;
use crate::shutdown::Shutdown;
use crate::{Error, database, output};

/// Opens the store, serves until SIGINT or SIGTERM, lets in-flight requests
/// finish, and closes the store, on every path out.
pub async fn run(settings: &Settings, clock: Arc<dyn Clock>) -> Result<(), Error> {
    let store = database::open(settings, clock.now()).await?;
    let result = serve(settings, Arc::clone(&store), clock).await;
    store.close().await;
    if result.is_ok() {
        tracing::info!("stopped");
    }
    result
}

async fn serve(
    settings: &Settings,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
) -> Result<(), Error> {
    let keys = match &settings.signing_key_file {
        Some(path) => key_from_file(path, clock.as_ref())?,
        None => signing_keys::ensure_signing_key(store.as_ref(), clock.as_ref()).await?,
    };
    tracing::info!(kid = %keys.active.kid, n_verifying = keys.verifying.len(), "signing keys loaded");
    let shutdown = Shutdown::listen()?;
    let listener = TcpListener::bind(settings.addr)
        .await
        .map_err(|source| Error::Listen {
            addr: settings.addr,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| Error::Listen {
        addr: settings.addr,
        source,
    })?;
    let app = bulkhead_http::router(AppState::new(store, clock, keys));
    // The announcement is the contract with whoever started us (tests,
    // scripts, people): the port is bound and requests are accepted.
    output::line(format_args!("listening on http://{addr}"))?;
    tracing::info!(%addr, "listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.wait())
        .await
        .map_err(Error::Serve)
}

/// Reads the operator's secret file. A text file (say, `openssl rand -hex
/// 32` output) is taken without surrounding whitespace, so a trailing
/// newline does not become part of the key.
fn key_from_file(path: &std::path::Path, clock: &dyn Clock) -> Result<KeyRing, Error> {
    let bytes = std::fs::read(path).map_err(|source| Error::ReadFile {
        what: "signing key file",
        path: path.to_owned(),
        source,
    })?;
    let secret = match std::str::from_utf8(&bytes) {
        Ok(text) => text.trim().as_bytes().to_vec(),
        Err(_) => bytes,
    };
    KeyRing::from_file_secret(&secret, clock.now())
        .map_err(|error| Error::Invalid(format!("signing key file {}: {error}", path.display())))
}
