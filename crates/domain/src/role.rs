//! Tenant roles and the permissions they grant.
//!
//! Services ask "may this principal do X?" with a [`Permission`], never with a
//! role name, so a new role or a moved permission changes one table here and
//! nothing else.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A member's role inside one tenant. Ordered: `Owner > Admin > Manager >
/// Member > Viewer`, so "at least manager" is `role >= Role::Manager`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Member,
    Manager,
    Admin,
    Owner,
}

/// Something a principal may be allowed to do inside a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Permission {
    /// Read the tenant's profile and its records visible to every member.
    #[serde(rename = "records.read")]
    RecordsRead,
    /// Create records and change or delete one's own.
    #[serde(rename = "records.write.own")]
    RecordsWriteOwn,
    /// Change or delete anyone's records, and read owner-only records.
    #[serde(rename = "records.write.any")]
    RecordsWriteAny,
    #[serde(rename = "collections.manage")]
    CollectionsManage,
    #[serde(rename = "members.read")]
    MembersRead,
    /// Invite members, change roles below owner, remove members.
    #[serde(rename = "members.manage")]
    MembersManage,
    /// Grant or remove the owner role.
    #[serde(rename = "owners.manage")]
    OwnersManage,
    #[serde(rename = "api_keys.manage")]
    ApiKeysManage,
    #[serde(rename = "audit.read")]
    AuditRead,
    #[serde(rename = "usage.read")]
    UsageRead,
    /// See every ledger account of the tenant and its postings (everyone
    /// sees the accounts they own).
    #[serde(rename = "ledger.read")]
    LedgerRead,
    /// Move money out of one's own accounts.
    #[serde(rename = "ledger.transfer")]
    LedgerTransfer,
    /// Open accounts, move money out of any account, grant and adjust.
    #[serde(rename = "ledger.admin")]
    LedgerAdmin,
    #[serde(rename = "tenant.update")]
    TenantUpdate,
    #[serde(rename = "tenant.delete")]
    TenantDelete,
}

impl Permission {
    pub const ALL: [Permission; 15] = [
        Permission::RecordsRead,
        Permission::RecordsWriteOwn,
        Permission::RecordsWriteAny,
        Permission::CollectionsManage,
        Permission::MembersRead,
        Permission::MembersManage,
        Permission::OwnersManage,
        Permission::ApiKeysManage,
        Permission::AuditRead,
        Permission::UsageRead,
        Permission::LedgerRead,
        Permission::LedgerTransfer,
        Permission::LedgerAdmin,
        Permission::TenantUpdate,
        Permission::TenantDelete,
    ];

    /// The stable name used in the API, docs and audit entries.
    pub const fn name(self) -> &'static str {
        match self {
            Permission::RecordsRead => "records.read",
            Permission::RecordsWriteOwn => "records.write.own",
            Permission::RecordsWriteAny => "records.write.any",
            Permission::CollectionsManage => "collections.manage",
            Permission::MembersRead => "members.read",
            Permission::MembersManage => "members.manage",
            Permission::OwnersManage => "owners.manage",
            Permission::ApiKeysManage => "api_keys.manage",
            Permission::AuditRead => "audit.read",
            Permission::UsageRead => "usage.read",
            Permission::LedgerRead => "ledger.read",
            Permission::LedgerTransfer => "ledger.transfer",
            Permission::LedgerAdmin => "ledger.admin",
            Permission::TenantUpdate => "tenant.update",
            Permission::TenantDelete => "tenant.delete",
        }
    }

    /// The least role that holds this permission. Roles are cumulative: each
    /// role has every permission of the roles below it.
    pub const fn minimum_role(self) -> Role {
        match self {
            Permission::RecordsRead | Permission::MembersRead => Role::Viewer,
            Permission::RecordsWriteOwn | Permission::LedgerTransfer => Role::Member,
            Permission::RecordsWriteAny
            | Permission::CollectionsManage
            | Permission::UsageRead
            | Permission::LedgerRead => Role::Manager,
            Permission::MembersManage
            | Permission::ApiKeysManage
            | Permission::AuditRead
            | Permission::LedgerAdmin
            | Permission::TenantUpdate => Role::Admin,
            Permission::OwnersManage | Permission::TenantDelete => Role::Owner,
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Viewer,
        Role::Member,
        Role::Manager,
        Role::Admin,
        Role::Owner,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Member => "member",
            Role::Manager => "manager",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    pub fn has(self, permission: Permission) -> bool {
        self >= permission.minimum_role()
    }

    pub fn permissions(self) -> impl Iterator<Item = Permission> {
        Permission::ALL.into_iter().filter(move |p| self.has(*p))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The text names no role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}; expected one of owner, admin, manager, member, viewer")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.name() == text)
            .ok_or_else(|| UnknownRole(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_from_owner_down_to_viewer() {
        assert!(Role::Owner > Role::Admin);
        assert!(Role::Admin > Role::Manager);
        assert!(Role::Manager > Role::Member);
        assert!(Role::Member > Role::Viewer);
    }

    #[test]
    fn each_role_holds_every_permission_of_the_roles_below_it() {
        for pair in Role::ALL.windows(2) {
            let (lower, higher) = (pair[0], pair[1]);
            for permission in lower.permissions() {
                assert!(higher.has(permission), "{higher} lacks {permission}");
            }
        }
    }

    #[test]
    fn the_permission_table_matches_the_documented_one() {
        let table: Vec<(Role, Vec<&str>)> = Role::ALL
            .into_iter()
            .map(|role| (role, role.permissions().map(Permission::name).collect()))
            .collect();
        let viewer = vec!["records.read", "members.read"];
        assert_eq!(table[0], (Role::Viewer, viewer));
        assert!(!Role::Member.has(Permission::RecordsWriteAny));
        assert!(Role::Manager.has(Permission::CollectionsManage));
        assert!(!Role::Manager.has(Permission::MembersManage));
        assert!(Role::Admin.has(Permission::AuditRead));
        assert!(!Role::Admin.has(Permission::TenantDelete));
        assert!(!Role::Admin.has(Permission::OwnersManage));
        assert_eq!(Role::Owner.permissions().count(), Permission::ALL.len());
    }

    #[test]
    fn role_names_round_trip_through_text_and_json() {
        for role in Role::ALL {
            assert_eq!(role.name().parse::<Role>().unwrap(), role);
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{}\"", role.name()));
        }
        assert!("superuser".parse::<Role>().is_err());
    }

    #[test]
    fn permission_names_in_json_match_name() {
        for permission in Permission::ALL {
            let json = serde_json::to_string(&permission).unwrap();
            assert_eq!(json, format!("\"{}\"", permission.name()));
        }
    }
}
