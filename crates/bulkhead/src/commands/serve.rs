//! `bulkhead serve`: run the HTTP server until told to stop.

use std::sync::Arc;

use bulkhead_domain::Clock;
use std::time::Duration;

use bulkhead_http::prometheus::Metrics;
use bulkhead_http::{AppState, ConnectionLimits, EdgeSettings};
use bulkhead_service::rate_limits::TenantLimits;
use bulkhead_service::rate_limits::redis::RedisLink;
use bulkhead_service::signing_keys::KeyRing;
use bulkhead_service::{AuthSettings, Keys, RateLimitSettings, Services};
use bulkhead_store::Store;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;

use crate::commands::email_collisions;
use crate::settings::Settings;
use crate::shutdown::Shutdown;
use crate::{Error, database, open_files, output, prometheus};

/// Opens the store, serves until SIGINT or SIGTERM, lets in-flight requests
/// finish, and closes the store, on every path out.
pub async fn run(settings: &Settings, clock: Arc<dyn Clock>) -> Result<(), Error> {
    // Before the store opens, so an unusable token file stops the server
    // before it touches the database, and the store's first writes count.
    let metrics = prometheus::install(settings)?;
    let store = database::open(settings, clock.now()).await?;
    email_collisions::warn_if_any(store.as_ref()).await;
    let result = serve(settings, Arc::clone(&store), clock, metrics).await;
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
    metrics: Option<(Metrics, PrometheusHandle)>,
) -> Result<(), Error> {
    let keys = match &settings.signing_key_file {
        Some(path) => Keys::fixed(key_from_file(path, clock.as_ref())?),
        None => Keys::from_store(store.as_ref(), clock.as_ref()).await?,
    };
    let ring = keys.current();
    tracing::info!(kid = %ring.active.kid, n_verifying = ring.verifying.len(), "signing keys loaded");
    let auth = AuthSettings {
        signup_open: settings.signup_open,
        default_plan: settings.default_plan.clone(),
        ..AuthSettings::default()
    };
    let limits = rate_limits(settings, Arc::clone(&clock))?;
    let services = Services::with_limits(Arc::clone(&store), clock, keys, auth, limits)?;
    // A default plan that does not exist would fail every tenant creation.
    match services.plans.require(&settings.default_plan).await {
        Ok(()) => {}
        Err(bulkhead_service::ServiceError::Validation(_)) => {
            return Err(Error::Invalid(format!(
                "default_plan: no plan is named {:?} (GET /v1/admin/plans lists them)",
                settings.default_plan.as_str()
            )));
        }
        Err(other) => return Err(other.into()),
    }
    let edge = EdgeSettings {
        trusted_proxies: settings.trusted_proxies.clone(),
        tenant_host: match &settings.tenant_host {
            Some(pattern) => Some(pattern.parse().map_err(Error::Invalid)?),
            None => None,
        },
        cors_origins: settings.cors_origins.clone(),
    };
    let limits = connection_limits(settings);
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
    let mut state = AppState::new(Arc::clone(&services), edge);
    let mut upkeep = None;
    if let Some((metrics, handle)) = metrics {
        state = state.with_metrics(metrics);
        upkeep = Some(tokio::spawn(prometheus::upkeep(handle)));
    }
    let app = bulkhead_http::router(state);
    let background = tokio::spawn(background_work(Arc::clone(&services)));
    // Not aborted with the other chores: told to stop, it finishes a flush
    // it is in, then writes what the last requests counted.
    let (stop_metering, metering_stopped) = tokio::sync::oneshot::channel();
    let metering = tokio::spawn(metering_flushes(
        Arc::clone(&services),
        settings.metering_flush_interval,
        metering_stopped,
    ));
    // The announcement is the contract with whoever started us (tests,
    // scripts, people): the port is bound and requests are accepted.
    output::line(format_args!("listening on http://{addr}"))?;
    tracing::info!(%addr, "listening");
    bulkhead_http::server::serve(listener, app, limits, {
        let services = Arc::clone(&services);
        async move {
            shutdown.wait().await;
            // Event streams never end by themselves; end them so in-flight
            // requests can finish and the server can stop.
            services.close_streams();
        }
    })
    .await;
    // Every stream has ended: its places under the realtime caps shared
    // through Redis go back now, not when their leases run out, so clients
    // moving to another process are not refused meanwhile.
    services.rate_limits.close_streams().await;
    background.abort();
    if let Some(upkeep) = upkeep {
        upkeep.abort();
    }
    // Every request has been answered: what they counted is final.
    let _ = stop_metering.send(());
    if let Err(error) = metering.await {
        tracing::error!(%error, "the metering flushes ended abnormally");
    }
    // Last-use times noted since the last flush would otherwise be lost.
    if let Err(error) = services.flush_api_key_usage().await {
        tracing::warn!(%error, "could not record API key usage at shutdown");
    }
    // So are the denied attempts counted since the last summary.
    if let Err(error) = services.flush_denials().await {
        tracing::error!(%error, "could not record the denied attempts at shutdown");
    }
    Ok(())
}

/// The rate limits as set, shared through Redis if one is configured.
fn rate_limits(settings: &Settings, clock: Arc<dyn Clock>) -> Result<RateLimitSettings, Error> {
    let limits = settings.rate_limits;
    let redis = match &settings.redis_url {
        Some(url) => Some(Arc::new(
            RedisLink::new(url.expose(), &settings.redis_key_prefix, clock).map_err(|error| {
                Error::Invalid(format!("redis url {}: {error}", url.redacted()))
            })?,
        )),
        None => None,
    };
    tracing::info!(
        auth_per_address = ?limits.auth_per_address,
        per_principal = ?limits.per_principal,
        per_tenant = ?limits.per_tenant,
        streams_per_principal = ?limits.streams_per_principal,
        streams_per_tenant = ?limits.streams_per_tenant,
        redis = ?settings.redis_url,
        "rate limits (per minute; streams open at once)"
    );
    Ok(RateLimitSettings {
        auth_per_address: limits.auth_per_address,
        per_principal: limits.per_principal,
        realtime_per_principal: limits.streams_per_principal,
        tenant_defaults: TenantLimits {
            requests_per_minute: limits.per_tenant.map(std::num::NonZeroU32::get),
            realtime_connections: limits.streams_per_tenant.map(std::num::NonZeroU32::get),
        },
        redis,
    })
}

/// The timeouts as set, and the connection cap as set or derived from the
/// open-file limit. A cap set above half the limit is honoured, with a
/// warning: clients can then take the descriptors the server needs.
fn connection_limits(settings: &Settings) -> ConnectionLimits {
    let open_file_limit = open_files::soft_limit();
    let max_connections = settings
        .max_connections
        .unwrap_or_else(|| open_files::default_max_connections(open_file_limit));
    let over_half = open_file_limit
        .is_some_and(|limit| u64::try_from(max_connections).unwrap_or(u64::MAX) > limit / 2);
    if over_half {
        tracing::warn!(
            max_connections,
            open_file_limit,
            "max_connections is above half the open-file limit: clients may exhaust the descriptors the server needs"
        );
    }
    let limits = ConnectionLimits {
        header_read_timeout: settings.header_read_timeout,
        body_read_timeout: settings.body_read_timeout,
        max_connections,
    };
    tracing::info!(
        max_connections,
        open_file_limit,
        header_read_timeout = ?limits.header_read_timeout,
        body_read_timeout = ?limits.body_read_timeout,
        "connection limits"
    );
    limits
}

/// How often API keys' last-use times are written.
const USAGE_FLUSH_INTERVAL: Duration = Duration::from_secs(30);
/// How often the summaries of outsiders' denied attempts are written: the
/// window of `Services::flush_denials`, and so at most one platform audit
/// entry per actor, action and reason this often.
const DENIAL_FLUSH_INTERVAL: Duration = Duration::from_secs(60);
/// How often signing keys are re-read, so a rotation reaches every process.
const KEY_RELOAD_INTERVAL: Duration = Duration::from_secs(60);
/// How often expired idempotency keys are swept: they are kept at least
/// `IDEMPOTENCY_KEY_RETENTION`, and at most this much longer.
const IDEMPOTENCY_SWEEP_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// Writes the metered use every `every`, until told to stop; then once
/// more, so that a graceful shutdown loses nothing. A crash loses what was
/// counted since the last flush (see `bulkhead_service::metering`).
async fn metering_flushes(
    services: Arc<Services>,
    every: Duration,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let mut flush = tokio::time::interval(every);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is at once, with nothing counted yet.
    flush.tick().await;
    loop {
        tokio::select! {
            _ = flush.tick() => flush_metering(&services).await,
            _ = &mut stop => break,
        }
    }
    flush_metering(&services).await;
}

async fn flush_metering(services: &Services) {
    match services.metering.flush().await {
        Ok(report) if report.written + report.dropped > 0 => {
            tracing::debug!(
                written = report.written,
                dropped = report.dropped,
                "metered use flushed"
            );
        }
        Ok(_) => {}
        // Each tenant that failed was logged, and its counts were kept.
        Err(error) => tracing::warn!(%error, "could not flush all metered use"),
    }
}

/// Periodic chores of a running server, until aborted at shutdown.
async fn background_work(services: Arc<Services>) {
    // The sweep walks every tenant and may take a while; beside the other
    // chores rather than among them, so it never delays a heartbeat.
    tokio::join!(
        frequent_chores(Arc::clone(&services)),
        idempotency_sweeps(services)
    );
}

/// Deletes expired idempotency keys every [`IDEMPOTENCY_SWEEP_INTERVAL`],
/// the first time at start.
async fn idempotency_sweeps(services: Arc<Services>) {
    let mut sweep = tokio::time::interval(IDEMPOTENCY_SWEEP_INTERVAL);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        sweep.tick().await;
        if let Err(error) = services.sweep_idempotency_keys().await {
            tracing::error!(%error, "could not sweep expired idempotency keys");
        }
    }
}

/// Key-usage and denial flushes, realtime catch-up and key reloads, each on
/// its own interval.
async fn frequent_chores(services: Arc<Services>) {
    let mut flush = tokio::time::interval(USAGE_FLUSH_INTERVAL);
    let mut reload = tokio::time::interval(KEY_RELOAD_INTERVAL);
    let mut denials = tokio::time::interval(DENIAL_FLUSH_INTERVAL);
    let mut realtime = tokio::time::interval(bulkhead_service::realtime::HEARTBEAT);
    loop {
        tokio::select! {
            _ = flush.tick() => {
                if let Err(error) = services.flush_api_key_usage().await {
                    tracing::warn!(%error, "could not record API key usage");
                }
            }
            _ = denials.tick() => {
                if let Err(error) = services.flush_denials().await {
                    tracing::error!(%error, "could not record the denied attempts");
                }
            }
            _ = realtime.tick() => services.catch_up_realtime(),
            _ = reload.tick() => {
                if let Err(error) = services.reload_keys().await {
                    tracing::warn!(%error, "could not reload signing keys");
                }
            }
        }
    }
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
