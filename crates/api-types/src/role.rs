//! A member's role inside one tenant, as it appears on the wire.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A member's (or an API key's) role inside one tenant, from most to least
/// powerful: `owner`, `admin`, `manager`, `member`, `viewer`.
///
/// The variants are declared from least to most powerful, so the derived
/// `Ord` agrees with the domain's: `Role::Owner > Role::Viewer`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Member,
    Manager,
    Admin,
    Owner,
}

impl Role {
    /// Every role, from most to least powerful.
    pub const ALL: [Role; 5] = [
        Role::Owner,
        Role::Admin,
        Role::Manager,
        Role::Member,
        Role::Viewer,
    ];

    /// The role's name on the wire, e.g. `"owner"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Member => "member",
            Role::Viewer => "viewer",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
