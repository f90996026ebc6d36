//! `GET /v1/tenants/{t}/audit`.

use crate::path::tenant_path;
use crate::types::{AuditList, AuditQuery};
use crate::{Client, ClientError};

impl Client {
    /// `GET /v1/tenants/{t}/audit` (admin and above): one page of the
    /// tenant's audit log, filtered by `query`.
    pub async fn list_audit(
        &self,
        tenant: &str,
        query: &AuditQuery,
    ) -> Result<AuditList, ClientError> {
        self.call_with_query(&format!("{}/audit", tenant_path(tenant)), query)
            .await
    }
}
