//! The operational endpoints: `/healthz`, `/readyz` and `/openapi.json`.

use reqwest::Method;

use crate::types::HealthStatus;
use crate::{Client, ClientError};

impl Client {
    /// `GET /healthz`: the process is alive.
    pub async fn healthz(&self) -> Result<HealthStatus, ClientError> {
        self.call(Method::GET, "/healthz").await
    }

    /// `GET /readyz`: the server can serve (its database answers); 503
    /// `not_ready` otherwise.
    pub async fn readyz(&self) -> Result<HealthStatus, ClientError> {
        self.call(Method::GET, "/readyz").await
    }

    /// `GET /openapi.json`: the server's OpenAPI document.
    pub async fn openapi(&self) -> Result<serde_json::Value, ClientError> {
        self.call(Method::GET, "/openapi.json").await
    }
}
