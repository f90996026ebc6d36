//! Plans: what platform admins define and assign, what a tenant's members
//! see of their own limits and usage, and the lookup every tenant request's
//! limits come from.
//!
//! Quotas are not checked here: a tenant transaction checks them at its
//! commit (`bulkhead_store::plans`), so no use case can pass them by.

use std::sync::Arc;

use bulkhead_domain::Permission;
use bulkhead_domain::audit::Outcome;
use bulkhead_domain::ledger::Markup;
use bulkhead_domain::plan::{PlanLimits, PlanName, PlanTerms};
use bulkhead_store::metering::UsageDay;
use bulkhead_store::plans::{Plan, TenantUsage};
use bulkhead_store::{Access, ConflictKind, Invalidation, StoreError, Tenant};
use serde_json::json;

use crate::ServiceError;
use crate::context::{Principal, RequestContext, TenantAccess};
use crate::shared::Core;

/// Plans and usage.
#[derive(Debug, Clone)]
pub struct Plans {
    core: Arc<Core>,
}

/// A new plan, or a plan's new terms, as asked for: the markup is a decimal
/// string.
#[derive(Debug, Clone, Default)]
pub struct PlanRequest<'a> {
    pub limits: PlanLimits,
    pub ledger_markup: Option<&'a str>,
}

/// A change to a plan: what is `None` stays as it is.
#[derive(Debug, Clone, Default)]
pub struct PlanChange<'a> {
    /// The whole set of limits; an absent limit is unlimited.
    pub limits: Option<PlanLimits>,
    /// `Some(None)` removes the plan's markup (1 applies).
    pub ledger_markup: Option<Option<&'a str>>,
}

/// What a tenant's members see of its plan.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantUsageReport {
    pub plan: PlanName,
    pub limits: PlanLimits,
    pub usage: TenantUsage,
    /// The tenant's requests to this process in the current UTC minute
    /// (each process counts its own; see [`crate::metering`]).
    pub requests_this_minute: u64,
    /// The last days asked for, oldest first, today last: what is stored,
    /// with what this process counted and has not flushed yet added in
    /// (see [`crate::metering`] for days without a row).
    pub daily: Vec<UsageDay>,
}

fn parse_markup(markup: &str) -> Result<Markup, ServiceError> {
    Markup::parse(markup.trim())
        .map_err(|e| ServiceError::invalid("ledger_markup", "invalid_markup", e.to_string()))
}

/// Limits a plan may have: a rate of 0 requests a minute would lock its
/// tenants out (leaving it out is no limit). The other limits may be 0.
fn check_limits(limits: &PlanLimits) -> Result<(), ServiceError> {
    if limits.requests_per_minute == Some(0) {
        return Err(ServiceError::invalid(
            "limits.requests_per_minute",
            "invalid",
            "at least 1; leave it out for no limit",
        ));
    }
    Ok(())
}

fn parse_plan_name(field: &str, name: &str) -> Result<PlanName, ServiceError> {
    PlanName::parse(name).map_err(|e| ServiceError::invalid(field, "invalid", e.to_string()))
}

impl Core {
    /// A plan, from the cache or the store. Asked on every tenant request
    /// (its limits), so a hit costs a shared lock and a reference count.
    pub(crate) async fn plan(&self, name: &String) -> Result<Option<Arc<Plan>>, ServiceError> {
        if let Some(cached) = self.cache.plan(name) {
            return Ok(cached);
        }
        let epoch = self.cache.epoch();
        let plan = match PlanName::parse(name) {
            Ok(parsed) => {
                let mut tx = self.store.platform(Access::Read).await?;
                tx.plan(&parsed).await?.map(Arc::new)
            }
            Err(_) => None,
        };
        self.cache.put_plan(epoch, name.clone(), plan.clone());
        Ok(plan)
    }

    /// The terms of a tenant's plan. Every tenant's plan exists (a foreign
    /// key on PostgreSQL, the store's check on SQLite), so a missing one is
    /// a fault, not "unlimited".
    pub(crate) async fn plan_of(&self, tenant: &Tenant) -> Result<PlanTerms, ServiceError> {
        let plan = self.plan(&tenant.plan).await?.ok_or_else(|| {
            StoreError::Internal(format!("the plan of tenant {} does not exist", tenant.id))
        })?;
        Ok(plan.terms)
    }
}

impl Plans {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    /// The limits of the tenant a request is in (its rate limits and
    /// stream caps).
    pub async fn tenant_limits(&self, access: &TenantAccess) -> Result<PlanLimits, ServiceError> {
        Ok(self.core.plan_of(access.tenant()).await?.limits)
    }

    /// The tenant's plan, its limits, what it holds, and its metered use
    /// over the last `days` UTC days (`usage.read`).
    pub async fn usage(
        &self,
        access: &TenantAccess,
        days: u32,
        ctx: &RequestContext,
    ) -> Result<TenantUsageReport, ServiceError> {
        let permit = self
            .core
            .permit(access, ctx, Permission::UsageRead, "usage.read")
            .await?;
        let meter = &self.core.meter;
        // Before the transaction: a flush waited for holds no connection.
        let flushes = meter.hold_flushes().await;
        let mut tx = permit.open(Access::Read).await?;
        let now = self.core.now();
        let usage = tx.usage().await?;
        let daily = meter
            .daily(&mut *tx, now, days, usage.storage_bytes)
            .await?;
        drop(tx);
        drop(flushes);
        let tenant = access.tenant();
        Ok(TenantUsageReport {
            plan: parse_plan_name("plan", &tenant.plan)?,
            limits: self.core.plan_of(tenant).await?.limits,
            usage,
            requests_this_minute: meter.requests_this_minute(tenant.id, now),
            daily,
        })
    }

    /// Every plan (platform admins only).
    pub async fn list(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<Vec<Plan>, ServiceError> {
        self.core
            .require_platform_admin(principal, "admin.plans.list", ctx)
            .await?;
        let mut tx = self.core.store.platform(Access::Read).await?;
        Ok(tx.plans().await?)
    }

    /// One plan (platform admins only).
    pub async fn get(
        &self,
        principal: &Principal,
        name: &str,
        ctx: &RequestContext,
    ) -> Result<Plan, ServiceError> {
        self.core
            .require_platform_admin(principal, "admin.plans.read", ctx)
            .await?;
        let name = PlanName::parse(name).map_err(|_| ServiceError::NotFound("plan_not_found"))?;
        let mut tx = self.core.store.platform(Access::Read).await?;
        tx.plan(&name)
            .await?
            .ok_or(ServiceError::NotFound("plan_not_found"))
    }

    /// Adds a plan; audited.
    pub async fn create(
        &self,
        principal: &Principal,
        name: &str,
        request: &PlanRequest<'_>,
        ctx: &RequestContext,
    ) -> Result<Plan, ServiceError> {
        const ACTION: &str = "admin.plan.create";
        self.core
            .require_platform_admin(principal, ACTION, ctx)
            .await?;
        let name = parse_plan_name("name", name)?;
        check_limits(&request.limits)?;
        let terms = PlanTerms {
            limits: request.limits,
            ledger_markup: request.ledger_markup.map(parse_markup).transpose()?,
        };
        let now = self.core.now();
        let plan = Plan {
            name,
            terms,
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.core.store.platform(Access::Write).await?;
        match tx.insert_plan(&plan).await {
            Ok(()) => {}
            Err(StoreError::Conflict(ConflictKind::Plan)) => {
                return Err(ServiceError::Conflict("plan_exists"));
            }
            Err(error) => return Err(error.into()),
        }
        let draft = self.core.draft(
            ctx,
            principal.actor(),
            ACTION,
            ("plan", Some(plan.name.to_string())),
            Outcome::Success,
            terms_json(&plan.terms),
        );
        tx.append_platform_audit(draft).await?;
        tx.invalidate(Invalidation::Plans);
        tx.commit().await?;
        Ok(plan)
    }

    /// Changes a plan's terms; audited. Its tenants get the new limits on
    /// their next request.
    pub async fn update(
        &self,
        principal: &Principal,
        name: &str,
        change: &PlanChange<'_>,
        ctx: &RequestContext,
    ) -> Result<Plan, ServiceError> {
        const ACTION: &str = "admin.plan.update";
        self.core
            .require_platform_admin(principal, ACTION, ctx)
            .await?;
        let name = PlanName::parse(name).map_err(|_| ServiceError::NotFound("plan_not_found"))?;
        if let Some(limits) = &change.limits {
            check_limits(limits)?;
        }
        let markup = match change.ledger_markup {
            Some(Some(markup)) => Some(Some(parse_markup(markup)?)),
            Some(None) => Some(None),
            None => None,
        };
        let now = self.core.now();
        let mut tx = self.core.store.platform(Access::Write).await?;
        let before = tx
            .plan(&name)
            .await?
            .ok_or(ServiceError::NotFound("plan_not_found"))?;
        let terms = PlanTerms {
            limits: change.limits.unwrap_or(before.terms.limits),
            ledger_markup: markup.unwrap_or(before.terms.ledger_markup),
        };
        if !tx.update_plan(&name, &terms, now).await? {
            return Err(ServiceError::NotFound("plan_not_found"));
        }
        let draft = self.core.draft(
            ctx,
            principal.actor(),
            ACTION,
            ("plan", Some(name.to_string())),
            Outcome::Success,
            json!({ "from": terms_json(&before.terms), "to": terms_json(&terms) }),
        );
        tx.append_platform_audit(draft).await?;
        tx.invalidate(Invalidation::Plans);
        tx.commit().await?;
        Ok(Plan {
            terms,
            updated_at: now,
            ..before
        })
    }

    /// Puts a tenant on a plan; audited. It takes effect on the tenant's
    /// next request, and quotas already past the new limits stay as they
    /// are: writes that would grow them are refused until they are back
    /// under.
    pub async fn assign(
        &self,
        principal: &Principal,
        reference: &str,
        plan: &str,
        ctx: &RequestContext,
    ) -> Result<Tenant, ServiceError> {
        const ACTION: &str = "admin.tenant.plan";
        self.core
            .require_platform_admin(principal, ACTION, ctx)
            .await?;
        let plan = parse_plan_name("plan", plan)?;
        let tenant = self
            .core
            .find_tenant(reference)
            .await?
            .ok_or(ServiceError::TenantNotFound)?;
        let now = self.core.now();
        let mut tx = self.core.store.platform(Access::Write).await?;
        match tx.set_tenant_plan(tenant.id, &plan, now).await {
            Ok(_) => {}
            Err(StoreError::MissingReference) => {
                return Err(ServiceError::invalid(
                    "plan",
                    "not_found",
                    "no plan has this name",
                ));
            }
            Err(error) => return Err(error.into()),
        }
        let details =
            json!({ "slug": tenant.slug.as_str(), "from": tenant.plan, "to": plan.as_str() });
        self.core
            .finish_tenant_change(tx, &tenant, principal, ctx, ACTION, details)
            .await
    }

    /// Fails unless `plan` exists: for checking a setting at start-up.
    pub async fn require(&self, plan: &PlanName) -> Result<(), ServiceError> {
        match self.core.plan(&plan.to_string()).await? {
            Some(_) => Ok(()),
            None => Err(ServiceError::invalid(
                "default_plan",
                "not_found",
                format!("no plan is named {plan}"),
            )),
        }
    }
}

/// A plan's terms in an audit entry.
fn terms_json(terms: &PlanTerms) -> serde_json::Value {
    let l = &terms.limits;
    json!({
        "members": l.members,
        "records": l.records,
        "storage_bytes": l.storage_bytes,
        "collections": l.collections,
        "api_keys": l.api_keys,
        "requests_per_minute": l.requests_per_minute,
        "realtime_connections": l.realtime_connections,
        "ledger_markup": terms.ledger_markup.map(Markup::format),
    })
}
