//! The typed endpoint methods of [`Client`](crate::Client), one file per API
//! area, mirroring the modules of `bulkhead-api-types`. Each method is one
//! request; none retries, pages or remembers anything.

mod admin;
mod api_keys;
mod audit;
mod auth;
mod collections;
mod invitations;
mod ledger;
mod me;
mod members;
mod ops;
mod plans;
mod tenants;
