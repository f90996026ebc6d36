//! One router per resource, merged by [`crate::router`]. File paths mirror
//! URL paths: `auth.rs` is `/v1/auth/*`, `tenants.rs` `/v1/tenants/{t}`,
//! `members.rs` `/v1/tenants/{t}/members/*`, and so on.

pub mod admin;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod collections;
pub mod events;
pub mod invitations;
pub mod ledger;
pub mod ledger_charges;
pub mod ledger_holds;
pub mod ledger_limits;
pub mod me;
pub mod members;
pub mod plans;
pub mod records;
pub mod tenants;

use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

/// Every `/v1` route, each documented in the OpenAPI document.
pub fn v1() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(auth::router())
        .merge(me::router())
        .merge(tenants::router())
        .merge(members::router())
        .merge(invitations::router())
        .merge(api_keys::router())
        .merge(audit::router())
        .merge(admin::router())
        .merge(collections::router())
        .merge(records::router())
        .merge(events::router())
        .merge(ledger::router())
        .merge(ledger_charges::router())
        .merge(ledger_holds::router())
        .merge(ledger_limits::router())
        .merge(plans::router())
}
