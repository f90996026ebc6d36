//! Invitations: a member with `members.manage` invites an email address
//! with a role; the signed-in user with that address accepts, once.

use bulkhead_domain::audit::Outcome;
use bulkhead_domain::{
    Email, EmailKey, EmailLookup, InvitationId, Permission, Role, TenantId, UserId,
};
use bulkhead_store::{
    Access, Invalidation, InvitationAcceptance, NewInvitation, NewMembership, Tenant,
};
use time::OffsetDateTime;

use crate::ServiceError;
use crate::context::{Principal, RequestContext, TenantAccess};
use crate::denials::Denial;
use crate::secrets::{self, INVITATION_PREFIX};
use crate::tenancy::Tenancy;

/// A new invitation; the token is shown this once.
#[derive(Debug, Clone)]
pub struct InvitationCreated {
    pub id: InvitationId,
    pub token: String,
    pub expires_at: OffsetDateTime,
}

/// The membership an accepted invitation created.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub tenant: Tenant,
    pub role: Role,
    pub joined_at: OffsetDateTime,
}

impl Tenancy {
    pub async fn create_invitation(
        &self,
        access: &TenantAccess,
        email: &str,
        role: Role,
        ctx: &RequestContext,
    ) -> Result<InvitationCreated, ServiceError> {
        let permit = self
            .core
            .permit(access, ctx, Permission::MembersManage, "invitation.create")
            .await?;
        let email = Email::parse(email)
            .map_err(|e| ServiceError::invalid("email", "invalid", e.to_string()))?;
        if role > access.role() || (role == Role::Owner && !access.may(Permission::OwnersManage)) {
            return Err(ServiceError::invalid(
                "role",
                "above_caller",
                "you cannot invite with a role above your own",
            ));
        }
        let id = InvitationId::new();
        let token = secrets::new_scoped_token(INVITATION_PREFIX, access.tenant_id(), id)?;
        let now = self.core.now();
        let expires_at = now + self.core.settings.invitation_ttl;
        let mut tx = permit.open(Access::Write).await?;
        tx.insert_invitation(NewInvitation {
            id,
            email,
            role,
            token_hash: secrets::sha256(&token),
            invited_by: access.principal().user(),
            expires_at,
            at: now,
        })
        .await?;
        tx.audit(
            "invitation.create",
            ("invitation", Some(id.to_string())),
            serde_json::json!({ "role": role.name() }),
        )
        .await?;
        tx.commit().await?;
        Ok(InvitationCreated {
            id,
            token,
            expires_at,
        })
    }

    /// Accepts an invitation for the signed-in user whose email it names.
    /// Of concurrent accepts of one invitation, exactly one succeeds.
    pub async fn accept_invitation(
        &self,
        principal: &Principal,
        token: &str,
        ctx: &RequestContext,
    ) -> Result<Accepted, ServiceError> {
        let Principal::User { user, .. } = *principal else {
            return Err(ServiceError::Forbidden);
        };
        let not_found = ServiceError::NotFound("invitation_not_found");
        let parsed: Option<(TenantId, InvitationId)> =
            secrets::parse_scoped_token(INVITATION_PREFIX, token);
        let Some((tenant, id)) = parsed else {
            return Err(not_found);
        };
        let me = self
            .core
            .user_state(user)
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        // Who the invitation is for is settled before the write transaction
        // opens, each step in a transaction of its own: a request never holds
        // a pooled connection while it waits for another, or concurrent
        // accepts as many as the pool could each hold one and wait forever
        // for a second.
        let invited = {
            let mut tx = self.core.store.tenant(tenant, Access::Read).await?;
            tx.invitation(id)
                .await?
                .ok_or(ServiceError::NotFound("invitation_not_found"))?
        };
        if !secrets::same_digest(&invited.token_hash, &secrets::sha256(token)) {
            return Err(not_found);
        }
        if !self.addressed_to(&invited.email, user, &me.email).await? {
            // Someone outside the tenant holding another person's token:
            // counted, not written into the tenant's log (see `denials`).
            let target = id.to_string();
            self.core.note_denial(Denial {
                actor: principal.actor(),
                action: "invitation.accept",
                reason: "email_mismatch",
                target: Some(&target),
                ctx,
            });
            return Err(ServiceError::Forbidden);
        }
        let now = self.core.now();
        let mut tx = self.core.store.tenant(tenant, Access::Write).await?;
        let Some(invitation) = tx.invitation(id).await? else {
            return Err(not_found);
        };
        let tenant_row = tx.tenant().await?.ok_or(ServiceError::TenantNotFound)?;
        if tenant_row.suspended_at.is_some() {
            return Err(ServiceError::TenantSuspended);
        }
        if invitation.accepted_at.is_some() {
            return Err(ServiceError::Conflict("invitation_used"));
        }
        if invitation.expires_at <= now {
            return Err(ServiceError::Conflict("invitation_expired"));
        }
        if tx.membership(user).await?.is_some() {
            return Err(ServiceError::Conflict("already_member"));
        }
        let acceptance = InvitationAcceptance {
            invitation: id,
            user,
            at: now,
        };
        if !tx.accept_invitation(acceptance).await? {
            return Err(ServiceError::Conflict("invitation_used"));
        }
        let membership = tx
            .insert_membership(NewMembership {
                user_id: user,
                role: invitation.role,
                at: now,
            })
            .await?;
        let draft = self.core.draft(
            ctx,
            principal.actor(),
            "invitation.accept",
            ("invitation", Some(id.to_string())),
            Outcome::Success,
            serde_json::json!({ "role": invitation.role.name() }),
        );
        tx.append_audit(draft).await?;
        tx.invalidate(Invalidation::Membership(tenant, user));
        tx.commit().await?;
        Ok(Accepted {
            tenant: tenant_row,
            role: membership.role,
            joined_at: membership.created_at,
        })
    }

    /// Whether an invitation to `invited` is for the signed-in `user`: the
    /// keys must match, and of accounts from before email keys that share
    /// one, only the account the invited address logs into may accept (so
    /// a lookalike made back then cannot take another's invitation).
    async fn addressed_to(
        &self,
        invited: &Email,
        user: UserId,
        my_email: &str,
    ) -> Result<bool, ServiceError> {
        if invited.key() != &EmailKey::of(my_email) {
            return Ok(false);
        }
        let mut tx = self.core.store.platform(Access::Read).await?;
        let account = tx.user_by_email(&EmailLookup::of(invited.as_str())).await?;
        Ok(account.is_some_and(|account| account.id == user))
    }
}
