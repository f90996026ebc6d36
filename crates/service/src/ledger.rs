//! The ledger area: a tenant's accounts in integer minor units and the
//! transfers between them.
//!
//! Who may do what: everyone sees the accounts they own, with their
//! postings; `ledger.read` (managers and up) sees every account of the
//! tenant. `ledger.transfer` (members and up) moves money out of one's own
//! accounts; `ledger.admin` opens accounts and moves money out of any. An
//! account the caller may not see does not exist (404, like an account of
//! another tenant).
//!
//! One file per use case: [`accounts`] (opening, reading, statements),
//! [`transfers`], [`grants`], [`holds`], [`charges`] and [`limits`]
//! (limit profiles); this one holds what they share. A write checks that
//! the caller may move money out of its source, claims its
//! `Idempotency-Key`, posts (the store checks funds, currencies, caps and
//! overflow under the accounts' locks), records its answer for replays and
//! appends its audit entry, all in one transaction. A transaction that
//! loses a race (a serialization failure or a deadlock) is run again, up to
//! [`MAX_ATTEMPTS`] times in all, after a short random pause, so contention
//! never reaches the caller as an error.

use std::sync::Arc;
use std::time::Duration;

use bulkhead_domain::Permission;
use bulkhead_domain::collection::format_datetime;
use bulkhead_domain::ledger::{Amount, Scale};
use bulkhead_store::ledger::{LedgerAccount, PostedTransfer};
use bulkhead_store::{IdempotencyClaim, StoreError};
use serde_json::{Value, json};

use crate::ServiceError;
use crate::context::TenantAccess;
use crate::shared::Core;

mod accounts;
mod charges;
mod grants;
mod holds;
mod limits;
mod transfers;

pub use accounts::{BalanceAt, OpenAccount, Statement};
pub use charges::{ChargeAnswer, ChargeRequest, charge_json};
pub use grants::GrantRequest;
pub use holds::{HoldAnswer, HoldRequest, MAX_HOLD_SECONDS, hold_json};
pub use limits::{DEFAULT_PROFILES, LimitProfile, ProfileChange};
use transfers::transfer_refused;
pub use transfers::{TransferAnswer, TransferRequest};

/// How many times a transaction that lost a race is tried in all.
pub const MAX_ATTEMPTS: u32 = 5;

/// The longest account name and memo accepted, in characters.
pub const MAX_NAME: usize = 100;
pub const MAX_MEMO: usize = 500;

/// Accounts and transfers.
#[derive(Debug, Clone)]
pub struct Ledger {
    pub(crate) core: Arc<Core>,
}

/// A transfer as clients are sent it (and as a replay sends it again).
pub fn transfer_json(transfer: &PostedTransfer, scale: Scale) -> Value {
    json!({
        "id": transfer.id.to_string(),
        "kind": transfer.kind.as_str(),
        "from": transfer.from.to_string(),
        "to": transfer.to.to_string(),
        "amount": Amount::from_minor(transfer.amount).format(scale),
        "memo": transfer.memo,
        "created_at": format_datetime(transfer.created_at),
    })
}

/// The scale an account stores, as the domain type.
pub fn scale_of(account: &LedgerAccount) -> Result<Scale, ServiceError> {
    Scale::new(account.scale).map_err(|e| ServiceError::Store(StoreError::internal(e)))
}

fn refused(code: &'static str, detail: impl Into<String>) -> ServiceError {
    ServiceError::Refused {
        code,
        detail: detail.into(),
    }
}

/// The request's amount: a decimal string at `scale`, above zero.
fn parse_amount(text: &str, scale: Scale) -> Result<Amount, ServiceError> {
    parse_positive(("amount", "invalid_amount"), text, scale)
}

/// The request's `field`: a decimal string at `scale`, above zero (else
/// `code`).
fn parse_positive(
    (field, code): (&str, &'static str),
    text: &str,
    scale: Scale,
) -> Result<Amount, ServiceError> {
    let amount = Amount::parse(text, scale)
        .map_err(|e| ServiceError::invalid(field, e.code(), e.to_string()))?;
    if !amount.is_positive() {
        return Err(ServiceError::invalid(
            field,
            code,
            format!("the {field} must be greater than zero"),
        ));
    }
    Ok(amount)
}

/// A memo: at most [`MAX_MEMO`] characters. Line breaks and tabs are text;
/// other control characters (NUL, which PostgreSQL cannot store, among
/// them) are not.
fn check_memo(memo: Option<&str>) -> Result<(), ServiceError> {
    let unprintable = |c: char| c.is_control() && c != '\n' && c != '\t';
    if memo.is_some_and(|memo| memo.chars().count() > MAX_MEMO || memo.chars().any(unprintable)) {
        return Err(ServiceError::invalid(
            "memo",
            "invalid_memo",
            format!(
                "a memo is at most {MAX_MEMO} characters, with no control characters but line breaks and tabs"
            ),
        ));
    }
    Ok(())
}

/// The hash an `Idempotency-Key` is bound to: the operation and its body.
fn request_hash(operation: &str, body: &Value) -> [u8; 32] {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    hasher.update(operation.as_bytes());
    hasher.update([0]);
    hasher.update(body.to_string().as_bytes());
    hasher.finalize().into()
}

/// Claims an `Idempotency-Key` for this request: `None` when it is new
/// (and now this transaction's), the first answer when it is a replay.
///
/// Only money that moved is kept under a key. A refused request (short of
/// funds, past a limit, an invalid amount) commits nothing, its claim
/// included, so the same key and body sent again are judged afresh: a
/// payment retried after a top-up goes through, and it can still happen at
/// most once. (Stripe stores refusals too; a ledger client retrying a
/// declined payment wants it judged again, and nothing was done to replay.)
async fn claim(
    tx: &mut dyn bulkhead_store::TenantTx,
    key: &str,
    hash: &[u8; 32],
    now: time::OffsetDateTime,
) -> Result<Option<Value>, ServiceError> {
    match tx.claim_idempotency_key(key, hash, now).await? {
        IdempotencyClaim::New => Ok(None),
        IdempotencyClaim::Replay { body, .. } => Ok(Some(body)),
        IdempotencyClaim::Mismatch => Err(ServiceError::IdempotencyKeyReused),
        IdempotencyClaim::InFlight => Err(ServiceError::IdempotencyKeyInFlight),
    }
}

/// A short random pause before trying a transaction again: up to 2, 4, 8…
/// milliseconds, so that the racers do not meet again at once.
async fn back_off(attempt: u32) {
    use rand::Rng as _;
    let ceiling = 1u64 << attempt.min(6);
    let micros = rand::thread_rng().gen_range(0..ceiling * 1_000);
    tokio::time::sleep(Duration::from_micros(micros)).await;
}

fn is_contention(error: &ServiceError) -> bool {
    matches!(error, ServiceError::Store(StoreError::Contention(_)))
}

/// Runs `attempt` (one transaction) until it does not lose a race, at most
/// [`MAX_ATTEMPTS`] times.
async fn retrying<T, Attempt, Fut>(mut attempt: Attempt) -> Result<T, ServiceError>
where
    Attempt: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ServiceError>>,
{
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(error) if is_contention(&error) && tries < MAX_ATTEMPTS => {
                tracing::debug!(tries, %error, "a ledger transaction lost a race; trying again");
                back_off(tries).await;
                tries += 1;
            }
            answer => return answer,
        }
    }
}

impl Ledger {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    fn may_see(access: &TenantAccess, account: &LedgerAccount) -> bool {
        access.may(Permission::LedgerRead)
            || account
                .owner_id
                .is_some_and(|owner| access.principal().user() == Some(owner))
    }

    /// The account `id` if the caller may see it; an account they may not
    /// see is as absent as one that never existed (404).
    async fn visible_account(
        tx: &mut dyn bulkhead_store::TenantTx,
        access: &TenantAccess,
        id: bulkhead_domain::LedgerAccountId,
        now: time::OffsetDateTime,
    ) -> Result<LedgerAccount, ServiceError> {
        match tx.ledger_account(id, now).await? {
            Some(account) if Self::may_see(access, &account) => Ok(account),
            _ => Err(ServiceError::NotFound("account_not_found")),
        }
    }

    fn may_debit(access: &TenantAccess, account: &LedgerAccount) -> bool {
        access.may(Permission::LedgerAdmin)
            || (access.may(Permission::LedgerTransfer)
                && account
                    .owner_id
                    .is_some_and(|owner| access.principal().user() == Some(owner)))
    }
}

/// A refusal by the source's limit profile, naming the cap.
fn limit_exceeded(limit: bulkhead_store::ledger::Limit) -> ServiceError {
    refused(
        "limit_exceeded",
        format!(
            "The source account's {} limit does not allow this amount.",
            limit.as_str()
        ),
    )
}
