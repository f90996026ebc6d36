//! The probes' answer: `GET /healthz` and `GET /readyz`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `{"status": "ok"}` from `/healthz`, `{"status": "ready"}` from `/readyz`.
/// A `/readyz` that cannot serve answers 503 with a problem instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HealthStatus {
    pub status: String,
}
