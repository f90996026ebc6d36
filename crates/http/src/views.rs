//! Store and service values into wire types.

use bulkhead_api_types as api;
use bulkhead_domain::Role;
use bulkhead_service::Paged;
use bulkhead_service::auth::Tokens;
use bulkhead_store::{ApiKey, AuditEntry, Member, Session, Tenant, User, UserMembership};

mod record_json;
pub use record_json::{record_bytes, record_page_bytes};

/// A page as a list answer's `items` and `next_cursor`, each item through
/// `view`: every list is made this way (records write theirs by hand, in
/// [`record_page_bytes`], from the same page).
pub fn page<T, V>(page: &Paged<T>, view: impl Fn(&T) -> V) -> (Vec<V>, Option<String>) {
    (
        page.items.iter().map(view).collect(),
        page.next_cursor.clone(),
    )
}

pub fn role(role: Role) -> api::Role {
    match role {
        Role::Viewer => api::Role::Viewer,
        Role::Member => api::Role::Member,
        Role::Manager => api::Role::Manager,
        Role::Admin => api::Role::Admin,
        Role::Owner => api::Role::Owner,
    }
}

pub fn domain_role(role: api::Role) -> Role {
    match role {
        api::Role::Viewer => Role::Viewer,
        api::Role::Member => Role::Member,
        api::Role::Manager => Role::Manager,
        api::Role::Admin => Role::Admin,
        api::Role::Owner => Role::Owner,
    }
}

pub fn user(user: &User) -> api::UserView {
    api::UserView {
        id: *user.id.as_uuid(),
        email: user.email.to_string(),
        display_name: user.display_name.clone(),
        created_at: user.created_at,
    }
}

pub fn tokens(tokens: Tokens) -> api::TokenResponse {
    api::TokenResponse::bearer(
        user(&tokens.user),
        tokens.access_token,
        tokens.refresh_token,
        tokens.expires_in,
    )
}

pub fn tenant(tenant: &Tenant) -> api::TenantView {
    api::TenantView {
        id: *tenant.id.as_uuid(),
        slug: tenant.slug.to_string(),
        name: tenant.name.clone(),
        plan: tenant.plan.clone(),
        created_at: tenant.created_at,
    }
}

pub fn tenant_ref(tenant: &Tenant) -> api::TenantRef {
    api::TenantRef {
        id: *tenant.id.as_uuid(),
        slug: tenant.slug.to_string(),
        name: tenant.name.clone(),
    }
}

pub fn membership(membership: &UserMembership) -> api::MembershipView {
    api::MembershipView {
        tenant: tenant_ref(&membership.tenant),
        role: role(membership.role),
    }
}

pub fn tenant_with_role(membership: &UserMembership) -> api::TenantWithRole {
    api::TenantWithRole {
        tenant: tenant(&membership.tenant),
        role: role(membership.role),
    }
}

pub fn admin_tenant(tenant: &Tenant) -> api::AdminTenantView {
    api::AdminTenantView {
        id: *tenant.id.as_uuid(),
        slug: tenant.slug.to_string(),
        name: tenant.name.clone(),
        plan: tenant.plan.clone(),
        created_at: tenant.created_at,
        suspended_at: tenant.suspended_at,
        charge_markup: tenant.charge_markup.map(|m| m.format()),
    }
}

pub fn session(session: &Session, current: bool) -> api::SessionView {
    api::SessionView {
        id: *session.id.as_uuid(),
        created_at: session.created_at,
        last_used_at: session.last_used_at,
        expires_at: session.expires_at,
        ip: session.ip.clone(),
        user_agent: session.user_agent.clone(),
        current,
    }
}

pub fn member(member: &Member) -> api::MemberView {
    api::MemberView {
        user: api::MemberUser {
            id: *member.membership.user_id.as_uuid(),
            email: member.email.to_string(),
            display_name: member.display_name.clone(),
        },
        role: role(member.membership.role),
        joined_at: member.membership.created_at,
    }
}

pub fn api_key(key: &ApiKey) -> api::ApiKeyView {
    api::ApiKeyView {
        id: *key.id.as_uuid(),
        name: key.name.clone(),
        prefix: key.prefix.clone(),
        role: role(key.role),
        created_at: key.created_at,
        expires_at: key.expires_at,
        revoked_at: key.revoked_at,
        last_used_at: key.last_used_at,
    }
}

pub fn audit_entry(entry: &AuditEntry) -> api::AuditEntryView {
    api::AuditEntryView {
        id: *entry.id.as_uuid(),
        at: entry.at,
        actor: api::ActorView {
            kind: entry.actor_kind.name().to_owned(),
            id: entry.actor_id,
        },
        action: entry.action.clone(),
        resource_type: entry.resource_type.clone(),
        resource_id: entry.resource_id.clone(),
        outcome: entry.outcome.name().to_owned(),
        ip: entry.personal.as_ref().and_then(|p| p.ip.clone()),
        request_id: entry.request_id.clone(),
        details: entry.details.clone(),
    }
}
