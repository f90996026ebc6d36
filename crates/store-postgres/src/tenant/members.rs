//! The tenant's memberships on PostgreSQL.

use async_trait::async_trait;
use bulkhead_domain::{Role, UserId};
use bulkhead_store::{Member, Members, Membership, MembershipChange, NewMembership, Page, Result};
use sqlx::Row;

use super::{PgTenantTx, after};
use crate::codec::{self, MEMBER_COLUMNS, MEMBERSHIP_COLUMNS};

#[async_trait]
impl Members for PgTenantTx {
    async fn insert_membership(&mut self, membership: NewMembership) -> Result<Membership> {
        let sql = format!(
            "INSERT INTO memberships (tenant_id, user_id, role, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $4) RETURNING {MEMBERSHIP_COLUMNS}"
        );
        let statement = sqlx::query(&sql)
            .bind(self.t())
            .bind(membership.user_id.as_uuid())
            .bind(membership.role.name())
            .bind(membership.at);
        let inserted = self.tx.one(statement, codec::membership).await?;
        self.usage.members += 1;
        Ok(inserted)
    }

    async fn membership(&mut self, user: UserId) -> Result<Option<Membership>> {
        let sql = format!(
            "SELECT {MEMBERSHIP_COLUMNS} FROM memberships WHERE tenant_id = $1 AND user_id = $2"
        );
        let statement = sqlx::query(&sql).bind(self.t()).bind(user.as_uuid());
        self.tx.optional(statement, codec::membership).await
    }

    async fn list_memberships(&mut self, page: Page<UserId>) -> Result<Vec<Membership>> {
        let sql = format!(
            "SELECT {MEMBERSHIP_COLUMNS} FROM memberships
             WHERE tenant_id = $1 AND ($2::uuid IS NULL OR user_id > $2)
             ORDER BY user_id LIMIT $3"
        );
        let statement = sqlx::query(&sql)
            .bind(self.t())
            .bind(after(&page))
            .bind(i64::from(page.limit));
        self.tx.all(statement, codec::membership).await
    }

    async fn set_member_role(&mut self, change: MembershipChange) -> Result<Option<Membership>> {
        let sql = format!(
            "UPDATE memberships SET role = $3, updated_at = $4
             WHERE tenant_id = $1 AND user_id = $2 RETURNING {MEMBERSHIP_COLUMNS}"
        );
        let statement = sqlx::query(&sql)
            .bind(self.t())
            .bind(change.user_id.as_uuid())
            .bind(change.role.name())
            .bind(change.at);
        self.tx.optional(statement, codec::membership).await
    }

    async fn delete_membership(&mut self, user: UserId) -> Result<bool> {
        let statement =
            sqlx::query("DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2")
                .bind(self.t())
                .bind(user.as_uuid());
        let deleted = self.tx.execute(statement).await? > 0;
        if deleted {
            self.usage.members -= 1;
        }
        Ok(deleted)
    }

    async fn list_members(&mut self, page: Page<UserId>) -> Result<Vec<Member>> {
        let sql = format!(
            "SELECT {MEMBER_COLUMNS} FROM memberships m JOIN users u ON u.id = m.user_id
             WHERE m.tenant_id = $1 AND ($2::uuid IS NULL OR m.user_id > $2)
             ORDER BY m.user_id LIMIT $3"
        );
        let statement = sqlx::query(&sql)
            .bind(self.t())
            .bind(after(&page))
            .bind(i64::from(page.limit));
        self.tx.all(statement, codec::member).await
    }

    async fn count_members_with_role(&mut self, role: Role) -> Result<u64> {
        let statement =
            sqlx::query("SELECT count(*) FROM memberships WHERE tenant_id = $1 AND role = $2")
                .bind(self.t())
                .bind(role.name());
        let n: i64 = self.tx.one(statement, |row| row.try_get(0)).await?;
        Ok(n.unsigned_abs())
    }
}
