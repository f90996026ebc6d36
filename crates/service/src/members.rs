//! A tenant's members: listing them, changing roles, removing them.
//!
//! Rules beyond the permission table: nobody hands out or takes away a role
//! above their own; only an owner grants or removes `owner`; the last owner
//! can neither leave nor be demoted; anyone may leave.

use bulkhead_domain::{Email, Permission, Role, UserId};
use bulkhead_store::{Access, Invalidation, Member, MembershipChange, Page};

use crate::ServiceError;
use crate::context::{Principal, RequestContext, TenantAccess};
use crate::page::Paged;
use crate::shared::TenantWork;
use crate::tenancy::Tenancy;

impl Tenancy {
    pub async fn list_members(
        &self,
        access: &TenantAccess,
        page: Page<UserId>,
        ctx: &RequestContext,
    ) -> Result<Paged<Member>, ServiceError> {
        let mut tx = self
            .core
            .tenant_work(
                access,
                ctx,
                Permission::MembersRead,
                "member.list",
                Access::Read,
            )
            .await?;
        let limit = page.limit;
        let members = tx.list_members(page).await?;
        Ok(Paged::new(members, limit, |last| {
            last.membership.user_id.to_string()
        }))
    }

    pub async fn change_member_role(
        &self,
        access: &TenantAccess,
        user: UserId,
        role: Role,
        ctx: &RequestContext,
    ) -> Result<Member, ServiceError> {
        let mut tx = self
            .core
            .tenant_work(
                access,
                ctx,
                Permission::MembersManage,
                "member.role_change",
                Access::Write,
            )
            .await?;
        let target = tx
            .membership(user)
            .await?
            .ok_or(ServiceError::NotFound("member_not_found"))?;
        let touches_owner = role == Role::Owner || target.role == Role::Owner;
        if (touches_owner && !access.may(Permission::OwnersManage))
            || role > access.role()
            || target.role > access.role()
        {
            return Err(deny_member_change(tx, user, "member.role_change").await);
        }
        if target.role == Role::Owner
            && role != Role::Owner
            && tx.count_members_with_role(Role::Owner).await? <= 1
        {
            return Err(ServiceError::Conflict("last_owner"));
        }
        let changed = tx
            .set_member_role(MembershipChange {
                user_id: user,
                role,
                at: self.core.now(),
            })
            .await?
            .ok_or(ServiceError::NotFound("member_not_found"))?;
        tx.audit(
            "member.role_change",
            ("member", Some(user.to_string())),
            serde_json::json!({ "from": target.role.name(), "to": role.name() }),
        )
        .await?;
        tx.invalidate(Invalidation::Membership(access.tenant_id(), user));
        tx.commit().await?;
        let profile = self
            .core
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
        let leaving = matches!(*access.principal(), Principal::User { user: me, .. } if me == user);
        let permit = if leaving {
            self.core.member_permit(access, ctx)
        } else {
            self.core
                .permit(access, ctx, Permission::MembersManage, "member.remove")
                .await?
        };
        let mut tx = permit.open(Access::Write).await?;
        let target = tx
            .membership(user)
            .await?
            .ok_or(ServiceError::NotFound("member_not_found"))?;
        if !leaving
            && ((target.role == Role::Owner && !access.may(Permission::OwnersManage))
                || target.role > access.role())
        {
            return Err(deny_member_change(tx, user, "member.remove").await);
        }
        if target.role == Role::Owner && tx.count_members_with_role(Role::Owner).await? <= 1 {
            return Err(ServiceError::Conflict("last_owner"));
        }
        tx.delete_membership(user).await?;
        tx.audit(
            if leaving {
                "member.leave"
            } else {
                "member.remove"
            },
            ("member", Some(user.to_string())),
            serde_json::json!({ "role": target.role.name() }),
        )
        .await?;
        tx.invalidate(Invalidation::Membership(access.tenant_id(), user));
        tx.commit().await?;
        Ok(())
    }
}

/// Refuses a change to a member whose role is above the caller's.
async fn deny_member_change(tx: TenantWork<'_>, user: UserId, action: &str) -> ServiceError {
    let role = tx.permit.access.role();
    tx.deny(
        action,
        ("member", Some(user.to_string())),
        serde_json::json!({ "reason": "role_above_caller", "role": role.name() }),
    )
    .await
}
