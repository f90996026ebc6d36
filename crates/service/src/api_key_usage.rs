//! API keys' `last_used_at`, kept without a write per request.
//!
//! Each use is noted in memory; [`ApiKeyUsage::flush`] writes the latest
//! time of each key once, periodically and at shutdown. A crash loses at
//! most one period of last-use times, never a key or a permission.

use std::collections::HashMap;
use std::sync::Mutex;

use bulkhead_domain::{ApiKeyId, TenantId};
use bulkhead_store::{Access, Store};
use time::OffsetDateTime;

use crate::ServiceError;

#[derive(Debug, Default)]
pub struct ApiKeyUsage {
    pending: Mutex<HashMap<(TenantId, ApiKeyId), OffsetDateTime>>,
}

impl ApiKeyUsage {
    pub fn note(&self, tenant: TenantId, key: ApiKeyId, at: OffsetDateTime) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let latest = pending.entry((tenant, key)).or_insert(at);
        *latest = (*latest).max(at);
    }

    pub async fn flush(&self, store: &dyn Store) -> Result<(), ServiceError> {
        let pending = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        let mut by_tenant: HashMap<TenantId, Vec<(ApiKeyId, OffsetDateTime)>> = HashMap::new();
        for ((tenant, key), at) in pending {
            by_tenant.entry(tenant).or_default().push((key, at));
        }
        for (tenant, keys) in by_tenant {
            let mut tx = store.tenant(tenant, Access::Write).await?;
            for (key, at) in keys {
                tx.touch_api_key(key, at).await?;
            }
            tx.commit().await?;
        }
        Ok(())
    }
}
