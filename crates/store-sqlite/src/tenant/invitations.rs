//! The tenant's invitations on SQLite.

use async_trait::async_trait;
use bulkhead_domain::InvitationId;
use bulkhead_store::{Invitation, InvitationAcceptance, Invitations, NewInvitation, Page, Result};
use rusqlite::{OptionalExtension, params};

use super::SqliteTenantTx;
use crate::codec::{Micros, id_param};
use crate::rows::{self, INVITATION_COLUMNS};

#[async_trait]
impl Invitations for SqliteTenantTx {
    async fn insert_invitation(&mut self, invitation: NewInvitation) -> Result<Invitation> {
        let sql = format!(
            "INSERT INTO invitations (tenant_id, id, email, role, token_hash, invited_by, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING {INVITATION_COLUMNS}"
        );
        let binds = params![
            self.t(),
            id_param(&invitation.id),
            invitation.email.as_str(),
            invitation.role.name(),
            invitation.token_hash,
            invitation.invited_by.as_ref().map(id_param),
            Micros(invitation.at),
            Micros(invitation.expires_at)
        ];
        let inserted = self
            .tx
            .statement(&sql, |s| s.query_row(binds, rows::invitation))?;
        self.usage.invited_at = Some(invitation.at);
        Ok(inserted)
    }

    async fn invitation(&mut self, id: InvitationId) -> Result<Option<Invitation>> {
        let sql = format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations WHERE tenant_id = ?1 AND id = ?2"
        );
        self.tx.statement(&sql, |s| {
            s.query_row(params![self.t(), id_param(&id)], rows::invitation)
                .optional()
        })
    }

    async fn list_invitations(&mut self, page: Page<InvitationId>) -> Result<Vec<Invitation>> {
        let sql = format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations
             WHERE tenant_id = ?1 AND (?2 IS NULL OR id > ?2) ORDER BY id LIMIT ?3"
        );
        let after = page.after.as_ref().map(id_param);
        self.tx.statement(&sql, |s| {
            s.query_map(params![self.t(), after, page.limit], rows::invitation)?
                .collect()
        })
    }

    async fn accept_invitation(&mut self, acceptance: InvitationAcceptance) -> Result<bool> {
        let sql = "UPDATE invitations SET accepted_at = ?4, accepted_by = ?3
                   WHERE tenant_id = ?1 AND id = ?2 AND accepted_at IS NULL AND expires_at > ?4";
        let binds = params![
            self.t(),
            id_param(&acceptance.invitation),
            id_param(&acceptance.user),
            Micros(acceptance.at)
        ];
        Ok(self.tx.statement(sql, |s| s.execute(binds))? > 0)
    }

    async fn delete_invitation(&mut self, id: InvitationId) -> Result<bool> {
        let sql = "DELETE FROM invitations WHERE tenant_id = ?1 AND id = ?2";
        let n = self
            .tx
            .statement(sql, |s| s.execute(params![self.t(), id_param(&id)]))?;
        Ok(n > 0)
    }
}
