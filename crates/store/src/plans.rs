//! Plans and the usage their quotas are checked against.
//!
//! A tenant transaction counts what its writes add to and take from its
//! tenant's [`TenantUsage`] in a [`UsageDelta`]. Its commit adds the delta
//! to the tenant's usage row under that row's lock and refuses the whole
//! transaction if a quota that grew is now past the plan's limit
//! ([`StoreError::QuotaExceeded`](crate::StoreError::QuotaExceeded)). The
//! check and the write are one atomic step, and no use case can pass by it.

use bulkhead_domain::plan::{PlanLimits, PlanName, PlanTerms, Quota};
use time::OffsetDateTime;

/// A plan as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub name: PlanName,
    pub terms: PlanTerms,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// What a tenant holds of what a plan may cap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TenantUsage {
    pub members: u64,
    pub records: u64,
    pub storage_bytes: u64,
    pub collections: u64,
    pub api_keys: u64,
}

impl TenantUsage {
    pub const fn of(&self, quota: Quota) -> u64 {
        match quota {
            Quota::Members => self.members,
            Quota::Records => self.records,
            Quota::StorageBytes => self.storage_bytes,
            Quota::Collections => self.collections,
            Quota::ApiKeys => self.api_keys,
        }
    }
}

/// What one transaction's writes change in its tenant's usage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageDelta {
    pub members: i64,
    pub records: i64,
    pub storage_bytes: i64,
    pub collections: i64,
    pub api_keys: i64,
    /// When the transaction sent an invitation: the members quota then
    /// counts the invitations still open at that time as members to be.
    pub invited_at: Option<OffsetDateTime>,
}

impl UsageDelta {
    /// Nothing to apply.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    pub const fn of(&self, quota: Quota) -> i64 {
        match quota {
            Quota::Members => self.members,
            Quota::Records => self.records,
            Quota::StorageBytes => self.storage_bytes,
            Quota::Collections => self.collections,
            Quota::ApiKeys => self.api_keys,
        }
    }

    /// Whether any quota may be exceeded, so the plan must be read.
    pub fn grows(&self) -> bool {
        self.invited_at.is_some() || Quota::ALL.iter().any(|q| self.of(*q) > 0)
    }

    /// The first quota this delta took past its limit, given the usage
    /// with the delta applied and the invitations open (when it invited).
    /// A quota the delta did not grow is never refused, so a tenant over a
    /// lowered limit can always delete.
    pub fn exceeded(
        &self,
        after: &TenantUsage,
        limits: &PlanLimits,
        open_invitations: u64,
    ) -> Option<Quota> {
        Quota::ALL.into_iter().find(|quota| {
            let Some(limit) = limits.of(*quota) else {
                return false;
            };
            let held = after.of(*quota);
            match quota {
                Quota::Members if self.invited_at.is_some() => {
                    held.saturating_add(open_invitations) > limit
                }
                _ => self.of(*quota) > 0 && held > limit,
            }
        })
    }
}

/// What a record's document counts toward the storage quota: the bytes of
/// its compact JSON text, counted without building the text.
pub fn document_size(document: &serde_json::Value) -> i64 {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing a Value to a sink that never fails cannot fail.
    let _ = serde_json::to_writer(&mut counter, document);
    i64::try_from(counter.0).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> PlanLimits {
        PlanLimits {
            members: Some(3),
            records: Some(5),
            storage_bytes: Some(100),
            ..PlanLimits::UNLIMITED
        }
    }

    #[test]
    fn a_grown_quota_past_its_limit_is_named() {
        let delta = UsageDelta {
            records: 1,
            storage_bytes: 10,
            ..UsageDelta::default()
        };
        let at_edge = TenantUsage {
            records: 5,
            storage_bytes: 100,
            ..TenantUsage::default()
        };
        assert_eq!(delta.exceeded(&at_edge, &limits(), 0), None);
        let past = TenantUsage {
            records: 6,
            ..at_edge
        };
        assert_eq!(delta.exceeded(&past, &limits(), 0), Some(Quota::Records));
        let too_big = TenantUsage {
            storage_bytes: 101,
            ..at_edge
        };
        assert_eq!(
            delta.exceeded(&too_big, &limits(), 0),
            Some(Quota::StorageBytes)
        );
    }

    #[test]
    fn a_quota_that_did_not_grow_is_never_refused() {
        let delete = UsageDelta {
            records: -1,
            storage_bytes: -10,
            ..UsageDelta::default()
        };
        let over = TenantUsage {
            records: 50,
            storage_bytes: 5_000,
            members: 9,
            ..TenantUsage::default()
        };
        assert_eq!(delete.exceeded(&over, &limits(), 0), None);
        assert!(!delete.grows());
    }

    #[test]
    fn an_invitation_counts_the_open_ones_as_members() {
        let invite = UsageDelta {
            invited_at: Some(OffsetDateTime::UNIX_EPOCH),
            ..UsageDelta::default()
        };
        let two_members = TenantUsage {
            members: 2,
            ..TenantUsage::default()
        };
        assert!(invite.grows());
        assert_eq!(invite.exceeded(&two_members, &limits(), 1), None);
        assert_eq!(
            invite.exceeded(&two_members, &limits(), 2),
            Some(Quota::Members)
        );
    }

    #[test]
    fn a_documents_size_is_its_compact_json_text() {
        let document = serde_json::json!({"title": "héllo", "n": [1, 2]});
        let text = serde_json::to_string(&document).unwrap();
        assert_eq!(document_size(&document), text.len() as i64);
    }

    #[test]
    fn unlimited_is_never_exceeded() {
        let delta = UsageDelta {
            records: 1_000,
            ..UsageDelta::default()
        };
        let usage = TenantUsage {
            records: u64::MAX,
            ..TenantUsage::default()
        };
        assert_eq!(delta.exceeded(&usage, &PlanLimits::UNLIMITED, 0), None);
    }
}
