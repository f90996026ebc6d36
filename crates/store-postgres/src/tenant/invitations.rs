//! The tenant's invitations on PostgreSQL.

use async_trait::async_trait;
use bulkhead_domain::InvitationId;
use bulkhead_store::{Invitation, InvitationAcceptance, Invitations, NewInvitation, Page, Result};

use super::{PgTenantTx, after};
use crate::codec::{self, INVITATION_COLUMNS};

#[async_trait]
impl Invitations for PgTenantTx {
    async fn insert_invitation(&mut self, invitation: NewInvitation) -> Result<Invitation> {
        let sql = format!(
            "INSERT INTO invitations (tenant_id, id, email, role, token_hash, invited_by, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {INVITATION_COLUMNS}"
        );
        let statement = sqlx::query(&sql)
            .bind(self.t())
            .bind(invitation.id.as_uuid())
            .bind(invitation.email.as_str())
            .bind(invitation.role.name())
            .bind(&invitation.token_hash[..])
            .bind(invitation.invited_by.map(|id| *id.as_uuid()))
            .bind(invitation.at)
            .bind(invitation.expires_at);
        let inserted = self.tx.one(statement, codec::invitation).await?;
        self.usage.invited_at = Some(invitation.at);
        Ok(inserted)
    }

    async fn invitation(&mut self, id: InvitationId) -> Result<Option<Invitation>> {
        let sql = format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations WHERE tenant_id = $1 AND id = $2"
        );
        let statement = sqlx::query(&sql).bind(self.t()).bind(id.as_uuid());
        self.tx.optional(statement, codec::invitation).await
    }

    async fn list_invitations(&mut self, page: Page<InvitationId>) -> Result<Vec<Invitation>> {
        let sql = format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations
             WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3"
        );
        let statement = sqlx::query(&sql)
            .bind(self.t())
            .bind(after(&page))
            .bind(i64::from(page.limit));
        self.tx.all(statement, codec::invitation).await
    }

    async fn accept_invitation(&mut self, acceptance: InvitationAcceptance) -> Result<bool> {
        // One conditional UPDATE: under READ COMMITTED a concurrent accepter
        // waits for our row lock, re-checks accepted_at IS NULL, and loses.
        let statement = sqlx::query(
            "UPDATE invitations SET accepted_at = $4, accepted_by = $3
             WHERE tenant_id = $1 AND id = $2 AND accepted_at IS NULL AND expires_at > $4",
        )
        .bind(self.t())
        .bind(acceptance.invitation.as_uuid())
        .bind(acceptance.user.as_uuid())
        .bind(acceptance.at);
        Ok(self.tx.execute(statement).await? > 0)
    }

    async fn delete_invitation(&mut self, id: InvitationId) -> Result<bool> {
        let statement = sqlx::query("DELETE FROM invitations WHERE tenant_id = $1 AND id = $2")
            .bind(self.t())
            .bind(id.as_uuid());
        Ok(self.tx.execute(statement).await? > 0)
    }
}
