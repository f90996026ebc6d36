//! Who is asking, from where, and with what standing in a tenant.

use bulkhead_domain::audit::ActorKind;
use bulkhead_domain::{ApiKeyId, Permission, Role, SessionId, TenantId, UserId};
use bulkhead_store::Tenant;

/// Where a request came from, for the audit log. Filled in by the transport.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

/// An authenticated caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    /// A signed-in user, through a session's access token.
    User { user: UserId, session: SessionId },
    /// An API key: acts inside its one tenant with its role.
    ApiKey {
        tenant: TenantId,
        key: ApiKeyId,
        role: Role,
    },
}

impl Principal {
    pub fn actor(&self) -> Actor {
        match self {
            Principal::User { user, .. } => Actor::user(*user),
            Principal::ApiKey { key, .. } => Actor {
                kind: ActorKind::ApiKey,
                id: Some(*key.as_uuid()),
            },
        }
    }

    pub fn user(&self) -> Option<UserId> {
        match self {
            Principal::User { user, .. } => Some(*user),
            Principal::ApiKey { .. } => None,
        }
    }
}

/// Who did something, as the audit log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub kind: ActorKind,
    pub id: Option<uuid::Uuid>,
}

impl Actor {
    pub const ANONYMOUS: Actor = Actor {
        kind: ActorKind::Anonymous,
        id: None,
    };

    /// A signed-in user.
    pub fn user(user: UserId) -> Actor {
        Actor {
            kind: ActorKind::User,
            id: Some(*user.as_uuid()),
        }
    }
}

/// A principal's standing in one tenant, established by
/// [`Tenancy::tenant_access`](crate::Tenancy::tenant_access): the only way
/// to reach a tenant's use cases. Nothing else can make one.
#[derive(Debug, Clone)]
pub struct TenantAccess {
    tenant: Tenant,
    role: Role,
    principal: Principal,
}

impl TenantAccess {
    /// Only tenant resolution calls this.
    pub(crate) fn new(tenant: Tenant, role: Role, principal: Principal) -> Self {
        Self {
            tenant,
            role,
            principal,
        }
    }

    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    pub fn tenant_id(&self) -> TenantId {
        self.tenant.id
    }

    pub fn may(&self, permission: Permission) -> bool {
        self.role.has(permission)
    }

    pub fn actor(&self) -> Actor {
        self.principal.actor()
    }
}
