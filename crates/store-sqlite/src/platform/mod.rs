//! The system path on SQLite: platform tables only (users, the tenant
//! registry, plans, sessions, signing keys, the platform's audit log), one file
//! per area of [`PlatformTx`]. Nothing here reads a tenant-owned table,
//! except [`memberships_of_user`], which is bound to one user.

mod audit;
mod plans;
mod sessions;
mod signing_keys;
mod tenant_registry;
mod users;

use async_trait::async_trait;
use bulkhead_domain::UserId;
use bulkhead_store::{Invalidation, PlatformTx, Result, UserMembership};

use crate::codec::{id_param, role_col, time_col};
use crate::rows;
use crate::tx::Tx;

pub struct SqlitePlatformTx {
    tx: Tx,
}

impl SqlitePlatformTx {
    pub fn new(tx: Tx) -> Self {
        Self { tx }
    }
}

/// One user's memberships with their tenants, oldest first.
pub fn memberships_of_user(tx: &Tx, user: UserId) -> Result<Vec<UserMembership>> {
    let sql = format!(
        "SELECT {}, m.role, m.created_at FROM memberships m JOIN tenants t ON t.id = m.tenant_id
         WHERE m.user_id = ?1 ORDER BY m.created_at, t.id",
        rows::TENANT_COLUMNS
            .split(", ")
            .map(|column| format!("t.{column}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    tx.statement(&sql, |s| {
        s.query_map([id_param(&user)], |row| {
            Ok(UserMembership {
                tenant: rows::tenant(row)?,
                // After the tenant's eight columns.
                role: role_col(row, 8)?,
                joined_at: time_col(row, 9)?,
            })
        })?
        .collect()
    })
}

#[async_trait]
impl PlatformTx for SqlitePlatformTx {
    fn invalidate(&mut self, invalidation: Invalidation) {
        self.tx.invalidate(invalidation);
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        self.tx.commit().await
    }
}
