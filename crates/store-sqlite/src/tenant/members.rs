//! The tenant's memberships on SQLite.

use async_trait::async_trait;
use bulkhead_domain::{Role, UserId};
use bulkhead_store::{Member, Members, Membership, MembershipChange, NewMembership, Page, Result};
use rusqlite::{OptionalExtension, params};

use super::SqliteTenantTx;
use crate::codec::{Micros, id_param};
use crate::rows::{self, MEMBER_COLUMNS, MEMBERSHIP_COLUMNS};

#[async_trait]
impl Members for SqliteTenantTx {
    async fn insert_membership(&mut self, membership: NewMembership) -> Result<Membership> {
        let sql = format!(
            "INSERT INTO memberships (tenant_id, user_id, role, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?4) RETURNING {MEMBERSHIP_COLUMNS}"
        );
        let user = id_param(&membership.user_id);
        let role = membership.role.name();
        let at = Micros(membership.at);
        let inserted = self.tx.statement(&sql, |s| {
            s.query_row(params![self.t(), user, role, at], rows::membership)
        })?;
        self.usage.members += 1;
        Ok(inserted)
    }

    async fn membership(&mut self, user: UserId) -> Result<Option<Membership>> {
        let sql = format!(
            "SELECT {MEMBERSHIP_COLUMNS} FROM memberships WHERE tenant_id = ?1 AND user_id = ?2"
        );
        self.tx.statement(&sql, |s| {
            s.query_row(params![self.t(), id_param(&user)], rows::membership)
                .optional()
        })
    }

    async fn list_memberships(&mut self, page: Page<UserId>) -> Result<Vec<Membership>> {
        let sql = format!(
            "SELECT {MEMBERSHIP_COLUMNS} FROM memberships
             WHERE tenant_id = ?1 AND (?2 IS NULL OR user_id > ?2)
             ORDER BY user_id LIMIT ?3"
        );
        let after = page.after.as_ref().map(id_param);
        self.tx.statement(&sql, |s| {
            s.query_map(params![self.t(), after, page.limit], rows::membership)?
                .collect()
        })
    }

    async fn set_member_role(&mut self, change: MembershipChange) -> Result<Option<Membership>> {
        let sql = format!(
            "UPDATE memberships SET role = ?3, updated_at = ?4
             WHERE tenant_id = ?1 AND user_id = ?2 RETURNING {MEMBERSHIP_COLUMNS}"
        );
        let binds = params![
            self.t(),
            id_param(&change.user_id),
            change.role.name(),
            Micros(change.at)
        ];
        self.tx
            .statement(&sql, |s| s.query_row(binds, rows::membership).optional())
    }

    async fn delete_membership(&mut self, user: UserId) -> Result<bool> {
        let sql = "DELETE FROM memberships WHERE tenant_id = ?1 AND user_id = ?2";
        let n = self
            .tx
            .statement(sql, |s| s.execute(params![self.t(), id_param(&user)]))?;
        if n > 0 {
            self.usage.members -= 1;
        }
        Ok(n > 0)
    }

    async fn list_members(&mut self, page: Page<UserId>) -> Result<Vec<Member>> {
        let sql = format!(
            "SELECT {MEMBER_COLUMNS} FROM memberships m JOIN users u ON u.id = m.user_id
             WHERE m.tenant_id = ?1 AND (?2 IS NULL OR m.user_id > ?2)
             ORDER BY m.user_id LIMIT ?3"
        );
        let after = page.after.as_ref().map(id_param);
        self.tx.statement(&sql, |s| {
            s.query_map(params![self.t(), after, page.limit], rows::member)?
                .collect()
        })
    }

    async fn count_members_with_role(&mut self, role: Role) -> Result<u64> {
        let sql = "SELECT count(*) FROM memberships WHERE tenant_id = ?1 AND role = ?2";
        self.tx.statement(sql, |s| {
            s.query_row(params![self.t(), role.name()], |row| row.get(0))
        })
    }
}
