//! A tenant's audit log: `GET /v1/tenants/{t}/audit`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// Who did it. `kind` is one of `user`, `api_key`, `system` or `anonymous`
/// (a string rather than an enum so that a client keeps working when a kind
/// is added); `id` is the user's or key's id, absent for `system` and
/// `anonymous`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ActorView {
    pub kind: String,
    pub id: Option<Uuid>,
}

/// One audit entry: a mutation or a denial, recorded in the transaction that
/// made (or refused) it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntryView {
    pub id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor: ActorView,
    /// A dotted name such as `member.role_changed`.
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    /// `success` or `denied` (or another outcome the server adds).
    pub outcome: String,
    /// `null` once the personal data of the entry has been erased.
    pub ip: Option<String>,
    pub request_id: Option<String>,
    /// Action-specific data, a JSON object.
    pub details: serde_json::Value,
}

/// `GET /v1/tenants/{t}/audit`: one page of entries, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditList {
    pub items: Vec<AuditEntryView>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}
