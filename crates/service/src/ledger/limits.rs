//! Limit profiles: caps on what an account pays out in one transfer, one
//! UTC day and one UTC month (`ledger.admin` manages them).
//!
//! Caps are decimal text in the account's unit ("500" dollars, "0.25"
//! credits), so one profile serves accounts of any scale: at an account's
//! scale a cap is its minor units, with digits beyond the scale dropped
//! (the cap only ever gets stricter) and capped at what an `i64` holds.
//! Every tenant has the four default profiles, the wallet tiers, until it
//! writes its own under the same name.

use bulkhead_domain::Permission;
use bulkhead_domain::ledger::Scale;
use bulkhead_store::TenantTx;
use bulkhead_store::ledger::{Caps, LedgerAccount, LimitProfileRow};
use time::OffsetDateTime;

use super::{Ledger, scale_of};
use crate::ServiceError;
use crate::context::{RequestContext, TenantAccess};

/// `(name, single, daily, monthly)`: Bronze and Platinum are the wallet's
/// tiers; Silver and Gold sit between them.
pub const DEFAULT_PROFILES: [(&str, &str, &str, &str); 4] = [
    ("bronze", "500", "1000", "10000"),
    ("silver", "2500", "5000", "50000"),
    ("gold", "10000", "20000", "200000"),
    ("platinum", "25000", "50000", "500000"),
];

/// The longest profile name and cap text accepted.
const MAX_NAME: usize = 40;
const MAX_CAP: usize = 40;

/// A limit profile as answered: the tenant's own, or a default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitProfile {
    pub row: LimitProfileRow,
    /// One of [`DEFAULT_PROFILES`], never written by the tenant.
    pub default: bool,
}

/// A change of a profile's caps: `None` keeps a cap, `Some(None)` removes
/// it, `Some(Some(text))` sets it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileChange<'a> {
    pub single: Option<Option<&'a str>>,
    pub daily: Option<Option<&'a str>>,
    pub monthly: Option<Option<&'a str>>,
}

fn default_profile(name: &str) -> Option<LimitProfileRow> {
    DEFAULT_PROFILES
        .iter()
        .find(|(default, ..)| *default == name)
        .map(|(name, single, daily, monthly)| LimitProfileRow {
            name: (*name).to_owned(),
            single: Some((*single).to_owned()),
            daily: Some((*daily).to_owned()),
            monthly: Some((*monthly).to_owned()),
            updated_at: OffsetDateTime::UNIX_EPOCH,
        })
}

/// The profile of this name as the tenant has it.
pub(super) async fn find_profile(
    tx: &mut dyn TenantTx,
    name: &str,
) -> Result<Option<LimitProfile>, ServiceError> {
    if let Some(row) = tx.limit_profile(name).await? {
        return Ok(Some(LimitProfile {
            row,
            default: false,
        }));
    }
    Ok(default_profile(name).map(|row| LimitProfile { row, default: true }))
}

/// A cap's text at `scale`, in minor units.
fn minor_units(cap: &str, scale: Scale) -> Option<i64> {
    let (whole, fraction) = cap.split_once('.').unwrap_or((cap, ""));
    let digits = usize::from(scale.get());
    let kept: String = fraction
        .chars()
        .chain(std::iter::repeat('0'))
        .take(digits)
        .collect();
    let value: i128 = format!("{whole}{kept}").parse().ok()?;
    Some(i64::try_from(value).unwrap_or(i64::MAX))
}

/// The caps of the account's profile at its scale (none without one).
pub(super) async fn caps_of(
    tx: &mut dyn TenantTx,
    account: &LedgerAccount,
) -> Result<Caps, ServiceError> {
    let Some(name) = &account.limit_profile else {
        return Ok(Caps::NONE);
    };
    let Some(profile) = find_profile(tx, name).await? else {
        // The profile an account names is gone: no cap is safer than a
        // refusal nobody can explain, and the account's audit entry says
        // which profile it had.
        tracing::warn!(account = %account.id, profile = %name, "an account names a missing limit profile");
        return Ok(Caps::NONE);
    };
    let scale = scale_of(account)?;
    let cap = |text: &Option<String>| text.as_deref().and_then(|text| minor_units(text, scale));
    Ok(Caps {
        single: cap(&profile.row.single),
        daily: cap(&profile.row.daily),
        monthly: cap(&profile.row.monthly),
    })
}

fn valid_name(name: &str) -> bool {
    (1..=MAX_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// A cap: digits, optionally a point and up to 18 more.
fn valid_cap(text: &str) -> bool {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    text.len() <= MAX_CAP
        && !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.len() <= usize::from(Scale::MAX)
        && (!text.contains('.') || !fraction.is_empty())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

fn check_caps(change: &ProfileChange<'_>) -> Result<(), ServiceError> {
    let problems: Vec<crate::FieldError> = [
        ("single", change.single),
        ("daily", change.daily),
        ("monthly", change.monthly),
    ]
    .into_iter()
    .filter_map(|(field, value)| match value {
        Some(Some(text)) if !valid_cap(text) => Some(crate::FieldError {
            field: field.into(),
            code: "invalid_amount",
            message: "a cap is a decimal string such as \"500\" or \"0.25\"".into(),
        }),
        _ => None,
    })
    .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ServiceError::Validation(problems))
    }
}

fn changed(
    row: LimitProfileRow,
    change: &ProfileChange<'_>,
    at: OffsetDateTime,
) -> LimitProfileRow {
    let apply = |current: Option<String>, change: Option<Option<&str>>| match change {
        None => current,
        Some(value) => value.map(str::to_owned),
    };
    LimitProfileRow {
        single: apply(row.single, change.single),
        daily: apply(row.daily, change.daily),
        monthly: apply(row.monthly, change.monthly),
        updated_at: at,
        name: row.name,
    }
}

impl Ledger {
    /// The tenant's profiles: the defaults, then its own, by name.
    pub async fn limit_profiles(
        &self,
        access: &TenantAccess,
        ctx: &RequestContext,
    ) -> Result<Vec<LimitProfile>, ServiceError> {
        let mut tx = self
            .core
            .tenant_work(
                access,
                ctx,
                Permission::LedgerAdmin,
                "ledger.limit_profile.list",
                bulkhead_store::Access::Read,
            )
            .await?;
        let own = tx.limit_profiles().await?;
        let defaults: Vec<LimitProfile> = DEFAULT_PROFILES
            .iter()
            .filter(|(name, ..)| !own.iter().any(|row| row.name == *name))
            .filter_map(|(name, ..)| default_profile(name))
            .map(|row| LimitProfile { row, default: true })
            .collect();
        let mut profiles: Vec<LimitProfile> = defaults
            .into_iter()
            .chain(own.into_iter().map(|row| LimitProfile {
                row,
                default: false,
            }))
            .collect();
        profiles.sort_by(|a, b| a.row.name.cmp(&b.row.name));
        Ok(profiles)
    }

    /// Creates a profile (`create`; 409 if the name is taken, defaults
    /// included) or changes one (404 if there is none of that name).
    pub async fn write_limit_profile(
        &self,
        access: &TenantAccess,
        name: &str,
        change: &ProfileChange<'_>,
        create: bool,
        ctx: &RequestContext,
    ) -> Result<LimitProfile, ServiceError> {
        if !valid_name(name) {
            if !create {
                return Err(ServiceError::NotFound("limit_profile_not_found"));
            }
            return Err(ServiceError::invalid(
                "name",
                "invalid_name",
                format!("a profile name is 1 to {MAX_NAME} characters of a-z, 0-9, '-' and '_'"),
            ));
        }
        check_caps(change)?;
        let action = if create {
            "ledger.limit_profile.create"
        } else {
            "ledger.limit_profile.update"
        };
        let mut tx = self
            .core
            .tenant_work(
                access,
                ctx,
                Permission::LedgerAdmin,
                action,
                bulkhead_store::Access::Write,
            )
            .await?;
        let now = self.core.now();
        let current = find_profile(&mut *tx, name).await?;
        let base = match (create, current) {
            (true, Some(_)) => return Err(ServiceError::Conflict("limit_profile_exists")),
            (true, None) => LimitProfileRow {
                name: name.to_owned(),
                single: None,
                daily: None,
                monthly: None,
                updated_at: now,
            },
            (false, None) => return Err(ServiceError::NotFound("limit_profile_not_found")),
            (false, Some(profile)) => profile.row,
        };
        let row = changed(base, change, now);
        tx.put_limit_profile(row.clone()).await?;
        tx.audit(
            action,
            ("limit_profile", Some(row.name.clone())),
            serde_json::json!({
                "single": row.single,
                "daily": row.daily,
                "monthly": row.monthly,
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(LimitProfile {
            row,
            default: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cap_at_a_scale_drops_digits_beyond_it_and_saturates() {
        let at = |digits| Scale::new(digits).unwrap();
        assert_eq!(minor_units("500", at(2)), Some(50_000));
        assert_eq!(minor_units("0.25", at(2)), Some(25));
        assert_eq!(minor_units("0.259", at(2)), Some(25));
        assert_eq!(minor_units("1.5", at(0)), Some(1));
        assert_eq!(minor_units("1", at(18)), Some(1_000_000_000_000_000_000));
        assert_eq!(minor_units("100", at(18)), Some(i64::MAX));
    }

    #[test]
    fn caps_are_plain_decimals() {
        for good in ["0", "500", "0.25", "1000000.123456789012345678"] {
            assert!(valid_cap(good), "{good}");
        }
        for bad in [
            "",
            ".5",
            "5.",
            "-1",
            "1e3",
            " 1",
            "1,000",
            "0.1234567890123456789",
        ] {
            assert!(!valid_cap(bad), "{bad}");
        }
    }

    #[test]
    fn the_default_profiles_are_the_wallet_tiers() {
        let bronze = default_profile("bronze").unwrap();
        assert_eq!(
            (
                bronze.single.as_deref(),
                bronze.daily.as_deref(),
                bronze.monthly.as_deref()
            ),
            (Some("500"), Some("1000"), Some("10000"))
        );
        let platinum = default_profile("platinum").unwrap();
        assert_eq!(platinum.monthly.as_deref(), Some("500000"));
        assert!(default_profile("diamond").is_none());
    }
}
