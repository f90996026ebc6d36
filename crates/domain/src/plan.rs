//! Plans: what a tenant may hold (its quotas) and how fast it may ask (its
//! rate limits), named and assigned one per tenant by a platform admin.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ledger::Markup;

/// A plan's name: 1–63 characters of `a-z`, `0-9` and `-`, starting with a
/// letter. It is the plan's key, so it never changes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PlanName(String);

/// Why a text is not a [`PlanName`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a plan name is 1 to 63 characters of a-z, 0-9 and '-', starting with a letter")]
pub struct InvalidPlanName;

impl PlanName {
    pub const MAX_LEN: usize = 63;

    pub fn parse(text: &str) -> Result<Self, InvalidPlanName> {
        let mut bytes = text.bytes();
        let starts_with_letter = bytes.next().is_some_and(|b| b.is_ascii_lowercase());
        let rest_allowed = bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if starts_with_letter && rest_allowed && text.len() <= Self::MAX_LEN {
            Ok(Self(text.to_owned()))
        } else {
            Err(InvalidPlanName)
        }
    }

    /// The plan every tenant is on until a platform admin says otherwise.
    pub fn free() -> Self {
        Self("free".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PlanName {
    type Error = InvalidPlanName;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<PlanName> for String {
    fn from(name: PlanName) -> Self {
        name.0
    }
}

impl fmt::Display for PlanName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a tenant holds that its plan may cap. A write that would take one
/// past the plan's limit is refused; one that lowers it never is, so a
/// tenant over a lowered limit can always clean up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Quota {
    /// Members, counting invitations still open when one is sent.
    Members,
    Records,
    /// The size of the tenant's records' documents, in bytes.
    StorageBytes,
    Collections,
    /// API keys not revoked.
    ApiKeys,
}

impl Quota {
    pub const ALL: [Quota; 5] = [
        Self::Members,
        Self::Records,
        Self::StorageBytes,
        Self::Collections,
        Self::ApiKeys,
    ];

    /// The quota's name on the wire (`quota` of a `quota_exceeded` answer).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Members => "members",
            Self::Records => "records",
            Self::StorageBytes => "storage_bytes",
            Self::Collections => "collections",
            Self::ApiKeys => "api_keys",
        }
    }
}

/// A plan's limits; `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct PlanLimits {
    pub members: Option<u64>,
    pub records: Option<u64>,
    pub storage_bytes: Option<u64>,
    pub collections: Option<u64>,
    pub api_keys: Option<u64>,
    pub requests_per_minute: Option<u64>,
    /// Event streams open at once across the tenant.
    pub realtime_connections: Option<u64>,
}

impl PlanLimits {
    /// No limit at all.
    pub const UNLIMITED: PlanLimits = PlanLimits {
        members: None,
        records: None,
        storage_bytes: None,
        collections: None,
        api_keys: None,
        requests_per_minute: None,
        realtime_connections: None,
    };

    /// The limit of one quota.
    pub const fn of(&self, quota: Quota) -> Option<u64> {
        match quota {
            Quota::Members => self.members,
            Quota::Records => self.records,
            Quota::StorageBytes => self.storage_bytes,
            Quota::Collections => self.collections,
            Quota::ApiKeys => self.api_keys,
        }
    }
}

/// A plan as a platform admin defines it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanTerms {
    pub limits: PlanLimits,
    /// What the plan's tenants' charges multiply a metered cost by, unless
    /// a platform admin set a tenant's own; 1 when `None`.
    pub ledger_markup: Option<Markup>,
}

/// The plans every deployment starts with, from the catalogue product's
/// tiers. A platform admin may change them and add others.
pub fn default_plans() -> Vec<(PlanName, PlanTerms)> {
    let plan = |name: &str, members, records| {
        let limits = PlanLimits {
            members,
            records,
            ..PlanLimits::UNLIMITED
        };
        let name = PlanName(name.to_owned());
        (
            name,
            PlanTerms {
                limits,
                ledger_markup: None,
            },
        )
    };
    vec![
        plan("free", Some(3), Some(1_000)),
        plan("starter", Some(1), Some(1_000)),
        plan("professional", Some(10), Some(50_000)),
        plan("enterprise", None, None),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_names_are_lowercase_words_with_dashes() {
        for good in ["free", "pro-2026", "a", &"a".repeat(63)] {
            assert_eq!(PlanName::parse(good).unwrap().as_str(), good);
        }
        for bad in ["", "Free", "2fast", "-x", "a b", "é", &"a".repeat(64)] {
            assert_eq!(PlanName::parse(bad), Err(InvalidPlanName), "{bad:?}");
        }
    }

    #[test]
    fn the_default_plans_are_the_catalogues_tiers() {
        let plans = default_plans();
        let names: Vec<&str> = plans.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["free", "starter", "professional", "enterprise"]);
        let free = &plans[0].1.limits;
        assert_eq!((free.members, free.records), (Some(3), Some(1_000)));
        assert_eq!(plans[3].1.limits, PlanLimits::UNLIMITED);
        assert_eq!(PlanName::free(), plans[0].0);
    }

    #[test]
    fn each_quota_reads_its_own_limit() {
        let limits = PlanLimits {
            members: Some(1),
            records: Some(2),
            storage_bytes: Some(3),
            collections: Some(4),
            api_keys: Some(5),
            ..PlanLimits::UNLIMITED
        };
        let read: Vec<Option<u64>> = Quota::ALL.iter().map(|q| limits.of(*q)).collect();
        assert_eq!(read, [Some(1), Some(2), Some(3), Some(4), Some(5)]);
    }
}
