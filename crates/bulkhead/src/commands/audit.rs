//! `bulkhead audit verify`: recompute the audit hash chains.

use bulkhead_domain::{Clock, TenantId, TenantSlug};
use bulkhead_service::audit_log::{ChainReport, verify_all, verify_chain};
use bulkhead_store::audit::ChainBreak;
use bulkhead_store::{Access, Store};

use crate::settings::Settings;
use crate::{Error, database, output};

/// Prints one line per chain; fails if any chain is broken.
pub async fn verify(
    settings: &Settings,
    clock: &dyn Clock,
    tenant: Option<&str>,
) -> Result<(), Error> {
    let store = database::open(settings, clock.now()).await?;
    let result = reports(store.as_ref(), tenant).await;
    store.close().await;
    let reports = result?;
    let mut n_broken = 0;
    for report in &reports {
        let name = match report.tenant {
            Some(tenant) => format!("tenant {tenant}"),
            None => "platform".to_owned(),
        };
        match &report.first_break {
            None => output::line(format_args!("ok {name}: {} entries", report.n_entries))?,
            Some(chain_break) => {
                n_broken += 1;
                output::line(format_args!("BROKEN {name}: {}", describe(chain_break)))?;
            }
        }
    }
    if n_broken > 0 {
        return Err(Error::Invalid(format!(
            "{n_broken} audit chain(s) are broken"
        )));
    }
    Ok(())
}

async fn reports(store: &dyn Store, tenant: Option<&str>) -> Result<Vec<ChainReport>, Error> {
    let Some(reference) = tenant else {
        return Ok(verify_all(store).await?);
    };
    let id = match reference.parse::<TenantId>() {
        Ok(id) => id,
        Err(_) => {
            let slug = TenantSlug::parse(reference)
                .map_err(|error| Error::Invalid(format!("--tenant {reference:?}: {error}")))?;
            let mut tx = store
                .platform(Access::Read)
                .await
                .map_err(bulkhead_service::ServiceError::from)?;
            tx.tenant_by_slug(&slug)
                .await
                .map_err(bulkhead_service::ServiceError::from)?
                .ok_or_else(|| Error::Invalid(format!("no tenant {reference:?}")))?
                .id
        }
    };
    Ok(vec![verify_chain(store, Some(id)).await?])
}

fn describe(chain_break: &ChainBreak) -> String {
    match chain_break {
        ChainBreak::Gap {
            expected_seq,
            found_seq,
        } => {
            format!("entry {expected_seq} is missing (found {found_seq} in its place)")
        }
        ChainBreak::Link { seq } => format!("entry {seq} does not link to its predecessor"),
        ChainBreak::Content { seq } => format!("entry {seq} was changed after it was written"),
        ChainBreak::Personal { seq } => format!("the personal fields of entry {seq} were changed"),
    }
}
