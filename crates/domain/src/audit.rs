//! The tamper-evident shape of an audit entry.
//!
//! Each tenant's audit log is a hash chain: entry `n` stores
//! `hash_n = SHA-256(hash_{n-1} ‖ canonical(entry_n))`, with 32 zero bytes
//! before the first entry. Changing, removing or reordering any entry changes
//! every hash after it, which `bulkhead audit verify` detects.
//!
//! Personal data (the client's IP address and user agent) is not hashed
//! directly. It is kept beside the entry with a random salt, and the chain
//! covers only `personal_digest = SHA-256(salt ‖ ip ‖ user_agent)`. Erasing a
//! person's data deletes the salt and the values; the digest stays, so the
//! chain still verifies, and without the salt the digest cannot be used to
//! guess the erased values back.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// The hash that precedes a tenant's first audit entry.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// Who did it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    User,
    ApiKey,
    System,
    Anonymous,
}

impl ActorKind {
    pub const fn name(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::ApiKey => "api_key",
            ActorKind::System => "system",
            ActorKind::Anonymous => "anonymous",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::User, Self::ApiKey, Self::System, Self::Anonymous]
            .into_iter()
            .find(|kind| kind.name() == text)
    }
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Denied,
    Failure,
}

impl Outcome {
    pub const fn name(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
            Outcome::Failure => "failure",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Success, Self::Denied, Self::Failure]
            .into_iter()
            .find(|outcome| outcome.name() == text)
    }
}

/// The fields of an audit entry that the chain covers directly.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainedFields<'a> {
    pub seq: i64,
    pub id: &'a uuid::Uuid,
    pub tenant_id: &'a uuid::Uuid,
    pub at: OffsetDateTime,
    pub actor_kind: ActorKind,
    pub actor_id: Option<&'a uuid::Uuid>,
    pub action: &'a str,
    pub resource_type: &'a str,
    pub resource_id: Option<&'a str>,
    pub outcome: Outcome,
    pub request_id: Option<&'a str>,
    pub details: &'a serde_json::Value,
    pub personal_digest: &'a [u8; 32],
}

/// Computes an entry's hash from its predecessor's.
pub fn chain_hash(previous: &[u8; 32], fields: &ChainedFields<'_>) -> [u8; 32] {
    link_hash(previous, fields.seq, &chain_tail(fields))
}

/// `SHA-256(previous ‖ seq ‖ tail)`, where `tail` is [`chain_tail`]. Split
/// out because PostgreSQL links an entry inside the statement that numbers
/// it, as `sha256(prev_hash || int8send(seq) || tail)`: only the database
/// knows the predecessor then, and the tail needs neither.
pub fn link_hash(previous: &[u8; 32], seq: i64, tail: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(previous);
    hasher.update(seq.to_be_bytes());
    hasher.update(tail);
    hasher.finalize().into()
}

/// The bytes an entry contributes to its hash after its number: every
/// chained field but `seq`, in a fixed order.
pub fn chain_tail(fields: &ChainedFields<'_>) -> Vec<u8> {
    let mut tail = Vec::with_capacity(256);
    tail.extend_from_slice(fields.id.as_bytes());
    tail.extend_from_slice(fields.tenant_id.as_bytes());
    // Microsecond precision: both backends store exactly that.
    let micros = fields.at.unix_timestamp_nanos() / 1_000;
    tail.extend_from_slice(&micros.to_be_bytes());
    put_text(&mut tail, fields.actor_kind.name());
    match fields.actor_id {
        Some(id) => {
            tail.push(1);
            tail.extend_from_slice(id.as_bytes());
        }
        None => tail.push(0),
    }
    put_text(&mut tail, fields.action);
    put_text(&mut tail, fields.resource_type);
    put_optional_text(&mut tail, fields.resource_id);
    put_text(&mut tail, fields.outcome.name());
    put_optional_text(&mut tail, fields.request_id);
    // serde_json writes object keys in sorted order (no `preserve_order`), so
    // this is canonical for the values we store and read back.
    put_text(&mut tail, &fields.details.to_string());
    tail.extend_from_slice(fields.personal_digest);
    tail
}

/// The digest of an entry's personal fields under its salt.
pub fn personal_digest(salt: &[u8; 16], ip: Option<&str>, user_agent: Option<&str>) -> [u8; 32] {
    let mut bytes = salt.to_vec();
    put_optional_text(&mut bytes, ip);
    put_optional_text(&mut bytes, user_agent);
    Sha256::digest(&bytes).into()
}

// Every variable-length field is length-prefixed so that no two different
// entries can serialise to the same bytes.
fn put_text(bytes: &mut Vec<u8>, text: &str) {
    bytes.extend_from_slice(&(text.len() as u64).to_be_bytes());
    bytes.extend_from_slice(text.as_bytes());
}

fn put_optional_text(bytes: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => {
            bytes.push(1);
            put_text(bytes, text);
        }
        None => bytes.push(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn sample<'a>(
        id: &'a uuid::Uuid,
        tenant: &'a uuid::Uuid,
        details: &'a serde_json::Value,
        digest: &'a [u8; 32],
    ) -> ChainedFields<'a> {
        ChainedFields {
            seq: 1,
            id,
            tenant_id: tenant,
            at: datetime!(2026-01-01 12:00 UTC),
            actor_kind: ActorKind::User,
            actor_id: None,
            action: "tenant.create",
            resource_type: "tenant",
            resource_id: Some("acme"),
            outcome: Outcome::Success,
            request_id: None,
            details,
            personal_digest: digest,
        }
    }

    #[test]
    fn every_field_changes_the_hash() {
        let (id, tenant) = (uuid::Uuid::nil(), uuid::Uuid::max());
        let details = serde_json::json!({"name": "Acme"});
        let digest = personal_digest(&[7; 16], Some("10.0.0.1"), None);
        let base = sample(&id, &tenant, &details, &digest);
        let reference = chain_hash(&GENESIS_HASH, &base);

        let other_details = serde_json::json!({"name": "Acme2"});
        let other_digest = personal_digest(&[7; 16], Some("10.0.0.2"), None);
        let variants = [
            ChainedFields {
                seq: 2,
                ..base.clone()
            },
            ChainedFields {
                action: "tenant.delete",
                ..base.clone()
            },
            ChainedFields {
                resource_id: None,
                ..base.clone()
            },
            ChainedFields {
                resource_id: Some("acme2"),
                ..base.clone()
            },
            ChainedFields {
                outcome: Outcome::Denied,
                ..base.clone()
            },
            ChainedFields {
                actor_id: Some(&id),
                ..base.clone()
            },
            ChainedFields {
                details: &other_details,
                ..base.clone()
            },
            ChainedFields {
                personal_digest: &other_digest,
                ..base.clone()
            },
            ChainedFields {
                at: datetime!(2026-01-01 12:00:00.000001 UTC),
                ..base.clone()
            },
        ];
        for variant in variants {
            assert_ne!(
                chain_hash(&GENESIS_HASH, &variant),
                reference,
                "{variant:?}"
            );
        }
        assert_ne!(chain_hash(&[1; 32], &base), reference);
    }

    #[test]
    fn field_boundaries_cannot_be_shifted() {
        let (id, tenant) = (uuid::Uuid::nil(), uuid::Uuid::nil());
        let details = serde_json::Value::Null;
        let digest = [0; 32];
        let a = ChainedFields {
            action: "ab",
            resource_type: "c",
            ..sample(&id, &tenant, &details, &digest)
        };
        let b = ChainedFields {
            action: "a",
            resource_type: "bc",
            ..a.clone()
        };
        assert_ne!(chain_hash(&GENESIS_HASH, &a), chain_hash(&GENESIS_HASH, &b));
    }

    #[test]
    fn the_personal_digest_depends_on_the_salt() {
        let ip = Some("192.0.2.1");
        assert_ne!(
            personal_digest(&[0; 16], ip, None),
            personal_digest(&[1; 16], ip, None)
        );
    }

    /// The chain's format is what every stored hash was made with: an
    /// entry hashed by an earlier release must hash the same today.
    #[test]
    fn the_hash_of_an_entry_is_pinned() {
        let (id, tenant) = (uuid::Uuid::from_u128(1), uuid::Uuid::from_u128(2));
        let details = serde_json::json!({"collection": "notes", "version": 1});
        let digest = personal_digest(&[7; 16], Some("192.0.2.1"), Some("curl/8"));
        let fields = ChainedFields {
            seq: 42,
            at: datetime!(2026-12-06 12:34:56.789012 UTC),
            actor_id: Some(&id),
            action: "record.create",
            resource_type: "record",
            resource_id: Some("r1"),
            request_id: Some("req-1"),
            ..sample(&id, &tenant, &details, &digest)
        };
        let hash = chain_hash(&[9; 32], &fields);
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "874dde58479d61a56c36ae89799c0adc4a01bf5b8523d030e23e61d4734d6f02"
        );
    }
}
