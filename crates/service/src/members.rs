//! A tenant's members: listing them, changing roles, removing them.
//!
//! Rules beyond the permission table: nobody hands out or takes away a role
//! above their own; only an owner grants or removes `owner`; the last owner
//! can neither leave nor be demoted; anyone may leave.

use bulkhead_domain::audit::Outcome;
use bulkhead_domain::{Email, Permission, Role, UserId};
use bulkhead_store::{Access, Invalidation, Member, Page};

use crate::context::{Principal, RequestContext, TenantAccess};
use crate::{ServiceError, Services};

impl Services {
    pub async fn list_members(
        &self,
        access: &TenantAccess,
        page: Page<UserId>,
        ctx: &RequestContext,
    ) -> Result<Vec<Member>, ServiceError> {
        self.authorize(access, Permission::MembersRead, "member.list", ctx)
            .await?;
        let mut tx = self.store.tenant(access.tenant_id(), Access::Read).await?;
        Ok(tx.list_members(page).await?)
    }

    pub async fn change_member_role(
        &self,
        access: &TenantAccess,
        user: UserId,
        role: Role,
        ctx: &RequestContext,
    ) -> Result<Member, ServiceError> {
        self.authorize(access, Permission::MembersManage, "member.role_change", ctx)
            .await?;
        let mut tx = self.store.tenant(access.tenant_id(), Access::Write).await?;
        let target = tx
            .membership(user)
            .await?
            .ok_or(ServiceError::NotFound("member_not_found"))?;
        let touches_owner = role == Role::Owner || target.role == Role::Owner;
        if (touches_owner && !access.may(Permission::OwnersManage))
            || role > access.role
            || target.role > access.role
        {
            drop(tx);
            return Err(self
                .deny_member_change(access, user, "member.role_change", ctx)
                .await);
        }
        if target.role == Role::Owner
            && role != Role::Owner
            && tx.count_members_with_role(Role::Owner).await? <= 1
        {
            return Err(ServiceError::Conflict("last_owner"));
        }
        let changed = tx
            .set_member_role(user, role, self.now())
            .await?
            .ok_or(ServiceError::NotFound("member_not_found"))?;
        let draft = self.draft(
            ctx,
            access.actor(),
            "member.role_change",
            ("member", Some(user.to_string())),
            Outcome::Success,
            serde_json::json!({ "from": target.role.name(), "to": role.name() }),
        );
        tx.append_audit(draft).await?;
        tx.invalidate(Invalidation::Membership(access.tenant_id(), user));
        tx.commit().await?;
        let profile = self
            .user_state(user)
            .await?
            .ok_or(ServiceError::NotFound("member_not_found"))?;
        Ok(Member {
            membership: changed,
            email: Email::from_stored(&profile.email),
            display_name: profile.display_name,
        })
    }

    pub async fn remove_member(
        &self,
        access: &TenantAccess,
        user: UserId,
        ctx: &RequestContext,
    ) -> Result<(), ServiceError> {
        let leaving = matches!(access.principal, Principal::User { user: me, .. } if me == user);
        if !leaving {
            self.authorize(access, Permission::MembersManage, "member.remove", ctx)
                .await?;
        }
        let mut tx = self.store.tenant(access.tenant_id(), Access::Write).await?;
        let target = tx
            .membership(user)
            .await?
            .ok_or(ServiceError::NotFound("member_not_found"))?;
        if !leaving
            && ((target.role == Role::Owner && !access.may(Permission::OwnersManage))
                || target.role > access.role)
        {
            drop(tx);
            return Err(self
                .deny_member_change(access, user, "member.remove", ctx)
                .await);
        }
        if target.role == Role::Owner && tx.count_members_with_role(Role::Owner).await? <= 1 {
            return Err(ServiceError::Conflict("last_owner"));
        }
        tx.delete_membership(user).await?;
        let draft = self.draft(
            ctx,
            access.actor(),
            if leaving {
                "member.leave"
            } else {
                "member.remove"
            },
            ("member", Some(user.to_string())),
            Outcome::Success,
            serde_json::json!({ "role": target.role.name() }),
        );
        tx.append_audit(draft).await?;
        tx.invalidate(Invalidation::Membership(access.tenant_id(), user));
        tx.commit().await?;
        Ok(())
    }

    async fn deny_member_change(
        &self,
        access: &TenantAccess,
        user: UserId,
        action: &str,
        ctx: &RequestContext,
    ) -> ServiceError {
        let draft = self.draft(
            ctx,
            access.actor(),
            action,
            ("member", Some(user.to_string())),
            Outcome::Denied,
            serde_json::json!({ "reason": "role_above_caller", "role": access.role.name() }),
        );
        self.record_denial(Some(access.tenant_id()), draft).await;
        ServiceError::Forbidden
    }
}
