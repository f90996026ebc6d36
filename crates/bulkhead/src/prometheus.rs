//! The process's metrics recorder: Prometheus, installed by `serve` only
//! when a metrics token file is set, with Bulkhead's histogram buckets and
//! every crate's descriptions of what it records.
//!
//! The recorder is built without the exporter's own HTTP listener: the API's
//! router serves `/metrics` behind the token (`bulkhead_http::prometheus`
//! says why). Without a listener nothing drains the recorder's histogram
//! samples between scrapes, so [`upkeep`] does, as the listener would.

use std::path::Path;
use std::time::Duration;

use bulkhead_http::middleware::metrics::{DURATION_BUCKETS, REQUEST_DURATION};
use bulkhead_http::prometheus::Metrics;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::Error;
use crate::settings::Settings;

/// How often histogram samples are folded in between scrapes: the
/// exporter's own default, which bounds the memory they take.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The metrics endpoint and its recorder's handle, if the settings turn
/// metrics on; the recorder is then the process's.
pub fn install(settings: &Settings) -> Result<Option<(Metrics, PrometheusHandle)>, Error> {
    let Some(path) = &settings.metrics_token_file else {
        if settings.metrics_tenant_labels {
            tracing::warn!(
                "metrics_tenant_labels is set but metrics are off: no metrics token file"
            );
        }
        return Ok(None);
    };
    let token = read_token(path)?;
    let recorder = builder()?.build_recorder();
    let handle = recorder.handle();
    let metrics =
        Metrics::new(handle.clone(), &token, settings.metrics_tenant_labels).map_err(|error| {
            Error::Invalid(format!("metrics token file {}: {error}", path.display()))
        })?;
    metrics::set_global_recorder(recorder)
        .map_err(|error| Error::Invalid(format!("cannot install the metrics recorder: {error}")))?;
    bulkhead_http::middleware::metrics::describe();
    bulkhead_http::prometheus::describe();
    bulkhead_service::describe_metrics();
    bulkhead_store_sqlite::describe_metrics();
    tracing::info!(
        tenant_labels = settings.metrics_tenant_labels,
        "metrics on: GET /metrics with the metrics token"
    );
    Ok(Some((metrics, handle)))
}

/// The recorder's configuration: histograms with explicit buckets (the
/// exporter would otherwise write summaries, which cannot be aggregated
/// across processes).
fn builder() -> Result<PrometheusBuilder, Error> {
    let invalid = |error: metrics_exporter_prometheus::BuildError| {
        Error::Invalid(format!("metrics buckets: {error}"))
    };
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(REQUEST_DURATION.to_owned()),
            &DURATION_BUCKETS,
        )
        .map_err(invalid)?
        .set_buckets_for_metric(
            Matcher::Full(bulkhead_store_sqlite::GROUP_COMMIT_TRANSACTIONS.to_owned()),
            &bulkhead_store_sqlite::GROUP_COMMIT_BUCKETS,
        )
        .map_err(invalid)
}

/// Reads the token: the file's content without surrounding whitespace, so
/// a trailing newline is not part of it.
fn read_token(path: &Path) -> Result<String, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::ReadFile {
        what: "metrics token file",
        path: path.to_owned(),
        source,
    })?;
    Ok(text.trim().to_owned())
}

/// Folds histogram samples in every [`UPKEEP_INTERVAL`], until aborted.
pub async fn upkeep(handle: PrometheusHandle) {
    let mut interval = tokio::time::interval(UPKEEP_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        handle.run_upkeep();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The buckets are what the exporter renders: without them it writes
    /// summaries (`quantile=`), which Prometheus cannot sum across replicas.
    #[test]
    fn durations_and_group_commits_are_histograms_with_their_buckets() {
        let recorder = builder().unwrap().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            metrics::histogram!(REQUEST_DURATION, "route" => "/healthz").record(0.003);
            metrics::histogram!(bulkhead_store_sqlite::GROUP_COMMIT_TRANSACTIONS).record(5.0);
        });
        let text = handle.render();
        assert!(
            text.contains(
                r#"bulkhead_http_request_duration_seconds_bucket{route="/healthz",le="0.005"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"bulkhead_http_request_duration_seconds_bucket{route="/healthz",le="0.0025"} 0"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"bulkhead_sqlite_group_commit_transactions_bucket{le="8"} 1"#),
            "{text}"
        );
        assert!(!text.contains("quantile="), "{text}");
    }
}
