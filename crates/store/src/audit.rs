//! Sealing audit entries into a tenant's hash chain, and checking them.
//!
//! SQLite calls [`seal`] with the previous entry's sequence number and hash,
//! read under its one writer. PostgreSQL links an [`unlinked`] entry inside
//! the statement that numbers it, from its [`tail`], and checks the hash
//! it gets back against [`expected_hash`], so the chain logic is written
//! once.

use bulkhead_domain::TenantId;
use bulkhead_domain::audit::{
    ChainedFields, GENESIS_HASH, chain_hash, chain_tail, personal_digest,
};

use crate::model::{AuditDraft, AuditEntry, AuditPersonal};

/// Which hash chain: a tenant's audit log (bound to the transaction's
/// tenant) or the platform's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Log {
    Tenant(TenantId),
    Platform,
}

impl Log {
    /// The tenant whose log it is; `None` for the platform's.
    pub fn tenant(self) -> Option<TenantId> {
        match self {
            Log::Tenant(tenant) => Some(tenant),
            Log::Platform => None,
        }
    }
}

/// The scope the platform log's entries are hashed under.
const PLATFORM_SCOPE: uuid::Uuid = uuid::Uuid::nil();

/// Turns a draft into the next entry of a chain whose last entry is
/// `previous` (`None` for an empty chain).
pub fn seal(
    tenant: Option<TenantId>,
    previous: Option<(i64, [u8; 32])>,
    draft: AuditDraft,
) -> AuditEntry {
    let mut entry = unlinked(tenant, draft);
    let (seq, prev_hash) = match previous {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, GENESIS_HASH),
    };
    entry.seq = seq;
    entry.prev_hash = prev_hash;
    entry.hash = expected_hash(&entry);
    entry
}

/// A draft made an entry in all but its place in the chain: `seq`,
/// `prev_hash` and `hash` are zero until the entry is linked, by [`seal`]
/// or by a database that links it where it knows the predecessor (then
/// from [`tail`]).
pub fn unlinked(tenant: Option<TenantId>, draft: AuditDraft) -> AuditEntry {
    let salt: [u8; 16] = rand::random();
    let digest = personal_digest(&salt, draft.ip.as_deref(), draft.user_agent.as_deref());
    AuditEntry {
        tenant_id: tenant,
        seq: 0,
        id: draft.id,
        at: draft.at,
        actor_kind: draft.actor_kind,
        actor_id: draft.actor_id,
        action: draft.action,
        resource_type: draft.resource_type,
        resource_id: draft.resource_id,
        outcome: draft.outcome,
        request_id: draft.request_id,
        details: draft.details,
        personal: Some(AuditPersonal {
            salt,
            ip: draft.ip,
            user_agent: draft.user_agent,
        }),
        personal_digest: digest,
        prev_hash: [0; 32],
        hash: [0; 32],
    }
}

/// The bytes of `entry` its hash covers after `prev_hash` and `seq`
/// (see [`bulkhead_domain::audit::link_hash`]).
pub fn tail(entry: &AuditEntry) -> Vec<u8> {
    chain_tail(&chained_fields(entry))
}

/// The hash an entry must carry, given its own `prev_hash`.
pub fn expected_hash(entry: &AuditEntry) -> [u8; 32] {
    chain_hash(&entry.prev_hash, &chained_fields(entry))
}

fn chained_fields(entry: &AuditEntry) -> ChainedFields<'_> {
    ChainedFields {
        seq: entry.seq,
        id: entry.id.as_uuid(),
        tenant_id: entry
            .tenant_id
            .as_ref()
            .map_or(&PLATFORM_SCOPE, |id| id.as_uuid()),
        at: entry.at,
        actor_kind: entry.actor_kind,
        actor_id: entry.actor_id.as_ref(),
        action: &entry.action,
        resource_type: &entry.resource_type,
        resource_id: entry.resource_id.as_deref(),
        outcome: entry.outcome,
        request_id: entry.request_id.as_deref(),
        details: &entry.details,
        personal_digest: &entry.personal_digest,
    }
}

/// Where a chain first fails to verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainBreak {
    /// The entry's sequence number is not its predecessor's plus one.
    Gap { expected_seq: i64, found_seq: i64 },
    /// The entry does not point at its predecessor's hash.
    Link { seq: i64 },
    /// The entry's content does not match its hash.
    Content { seq: i64 },
    /// The personal fields still present do not match their digest.
    Personal { seq: i64 },
}

/// Checks entries in chain order, continuing from `previous` (the last
/// verified entry's sequence number and hash, or `None` at the start).
/// Returns the new last verified position.
pub fn verify(
    previous: Option<(i64, [u8; 32])>,
    entries: &[AuditEntry],
) -> Result<Option<(i64, [u8; 32])>, ChainBreak> {
    let mut last = previous;
    for entry in entries {
        let (expected_seq, expected_prev) = match last {
            Some((seq, hash)) => (seq + 1, hash),
            None => (1, GENESIS_HASH),
        };
        if entry.seq != expected_seq {
            return Err(ChainBreak::Gap {
                expected_seq,
                found_seq: entry.seq,
            });
        }
        if entry.prev_hash != expected_prev {
            return Err(ChainBreak::Link { seq: entry.seq });
        }
        if expected_hash(entry) != entry.hash {
            return Err(ChainBreak::Content { seq: entry.seq });
        }
        if let Some(personal) = &entry.personal {
            let digest = personal_digest(
                &personal.salt,
                personal.ip.as_deref(),
                personal.user_agent.as_deref(),
            );
            if digest != entry.personal_digest {
                return Err(ChainBreak::Personal { seq: entry.seq });
            }
        }
        last = Some((entry.seq, entry.hash));
    }
    Ok(last)
}
