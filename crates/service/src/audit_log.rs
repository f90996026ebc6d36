//! Reading and verifying audit logs.

use bulkhead_domain::{Permission, TenantId};
use bulkhead_store::audit::{ChainBreak, verify};
use bulkhead_store::{Access, AuditEntry, AuditQuery, Page, Store};

use crate::ServiceError;
use crate::context::{RequestContext, TenantAccess};
use crate::page::Paged;
use crate::tenancy::Tenancy;

/// How many entries verification reads at a time.
const VERIFY_BATCH: u32 = 1000;

/// The outcome of verifying one chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// `None` for the platform's log.
    pub tenant: Option<TenantId>,
    pub n_entries: i64,
    pub first_break: Option<ChainBreak>,
}

impl Tenancy {
    /// A page of the tenant's audit log, newest first (admin and up).
    pub async fn list_audit(
        &self,
        access: &TenantAccess,
        query: AuditQuery,
        ctx: &RequestContext,
    ) -> Result<Paged<AuditEntry>, ServiceError> {
        let mut tx = self
            .core
            .tenant_work(
                access,
                ctx,
                Permission::AuditRead,
                "audit.read",
                Access::Read,
            )
            .await?;
        let limit = query.limit;
        let entries = tx.list_audit(query).await?;
        Ok(Paged::new(entries, limit, |last| last.seq.to_string()))
    }
}

/// Recomputes one tenant's chain, or the platform's, and reports the first
/// broken link.
pub async fn verify_chain(
    store: &dyn Store,
    tenant: Option<TenantId>,
) -> Result<ChainReport, ServiceError> {
    let mut last = None;
    let mut n_entries = 0;
    loop {
        let after = last.map_or(0, |(seq, _)| seq);
        let batch = match tenant {
            Some(tenant) => {
                store
                    .tenant(tenant, Access::Read)
                    .await?
                    .audit_chain(after, VERIFY_BATCH)
                    .await?
            }
            None => {
                store
                    .platform(Access::Read)
                    .await?
                    .platform_audit_chain(after, VERIFY_BATCH)
                    .await?
            }
        };
        if batch.is_empty() {
            return Ok(ChainReport {
                tenant,
                n_entries,
                first_break: None,
            });
        }
        match verify(last, &batch) {
            Ok(next) => {
                last = next;
                n_entries += i64::try_from(batch.len()).unwrap_or(i64::MAX);
            }
            Err(chain_break) => {
                return Ok(ChainReport {
                    tenant,
                    n_entries,
                    first_break: Some(chain_break),
                });
            }
        }
    }
}

/// Verifies every tenant's chain and the platform's.
pub async fn verify_all(store: &dyn Store) -> Result<Vec<ChainReport>, ServiceError> {
    let mut reports = vec![verify_chain(store, None).await?];
    let mut after = None;
    loop {
        let tenants = store
            .platform(Access::Read)
            .await?
            .list_tenants(None, Page { after, limit: 100 })
            .await?;
        let Some(last) = tenants.last() else { break };
        after = Some(last.id);
        for tenant in &tenants {
            reports.push(verify_chain(store, Some(tenant.id)).await?);
        }
    }
    Ok(reports)
}
