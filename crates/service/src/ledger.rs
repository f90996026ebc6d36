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
//! A transfer checks that the caller may move money out of its source,
//! claims its `Idempotency-Key`, posts (the store checks funds,
//! currencies and overflow under the accounts' locks), records its answer
//! for replays and appends its audit entry, all in one transaction. A
//! transaction that loses a race (a serialization failure or a deadlock) is
//! run again, up to [`MAX_ATTEMPTS`] times in all, after a short random
//! pause, so contention never reaches the caller as an error.

use std::sync::Arc;
use std::time::Duration;

use bulkhead_domain::collection::format_datetime;
use bulkhead_domain::ledger::{Amount, Currency, Scale};
use bulkhead_domain::{LedgerAccountId, Permission, TransferId, UserId};
use bulkhead_store::ledger::{
    LedgerAccount, LedgerAccountQuery, NewLedgerAccount, NewTransfer, PostedTransfer, Posting,
    PostingQuery, TransferKind, TransferRefusal,
};
use bulkhead_store::{Access, IdempotencyClaim, StoreError};
use serde_json::{Value, json};

use crate::ServiceError;
use crate::context::{RequestContext, TenantAccess};
use crate::page::Paged;
use crate::shared::{Core, Permit};

mod charges;
mod grants;
mod holds;
mod limits;

pub use charges::{ChargeAnswer, ChargeRequest, charge_json};
pub use grants::GrantRequest;
pub use holds::{HoldAnswer, HoldRequest, MAX_HOLD_SECONDS, hold_json};
pub use limits::{DEFAULT_PROFILES, LimitProfile, ProfileChange};

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

/// An account to open.
#[derive(Debug, Clone)]
pub struct OpenAccount<'a> {
    pub name: &'a str,
    pub currency: &'a str,
    pub scale: u8,
    pub owner_id: Option<UserId>,
    pub allow_negative: bool,
    pub unlimited: bool,
    /// The name of a default or tenant limit profile.
    pub limit_profile: Option<&'a str>,
}

/// A transfer as asked for: the amount is a decimal string at the accounts'
/// scale.
#[derive(Debug, Clone)]
pub struct TransferRequest<'a> {
    pub from: LedgerAccountId,
    pub to: LedgerAccountId,
    pub amount: &'a str,
    pub memo: Option<&'a str>,
}

/// What a transfer answers: the transfer as JSON, posted now or replayed
/// from the first request with the same `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq)]
pub enum TransferAnswer {
    Posted(Value),
    Replayed(Value),
}

/// An account's postings, newest first, with the account (whose scale the
/// amounts are at).
#[derive(Debug, Clone)]
pub struct Statement {
    pub account: LedgerAccount,
    pub postings: Paged<Posting>,
}

/// An account's balance as of `at`: after its newest posting made by then
/// (number `seq`), or zero (and `seq` 0) before its first.
#[derive(Debug, Clone)]
pub struct BalanceAt {
    pub account: LedgerAccount,
    pub at: time::OffsetDateTime,
    pub seq: i64,
    pub balance: i64,
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

    fn may_debit(access: &TenantAccess, account: &LedgerAccount) -> bool {
        access.may(Permission::LedgerAdmin)
            || (access.may(Permission::LedgerTransfer)
                && account
                    .owner_id
                    .is_some_and(|owner| access.principal().user() == Some(owner)))
    }

    /// Opens an account (`ledger.admin`). Its owner, if any, must be a
    /// member of the tenant.
    pub async fn open_account(
        &self,
        access: &TenantAccess,
        request: &OpenAccount<'_>,
        ctx: &RequestContext,
    ) -> Result<LedgerAccount, ServiceError> {
        let mut problems = Vec::new();
        let name = request.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control)
        {
            problems.push(crate::FieldError {
                field: "name".into(),
                code: "invalid_name",
                message: format!(
                    "a name is 1 to {MAX_NAME} characters, none of them a control character"
                ),
            });
        }
        let currency = Currency::parse(request.currency).map_err(|e| e.to_string());
        if let Err(message) = &currency {
            problems.push(crate::FieldError {
                field: "currency".into(),
                code: "invalid_currency",
                message: message.clone(),
            });
        }
        if let Err(e) = Scale::new(request.scale) {
            problems.push(crate::FieldError {
                field: "scale".into(),
                code: "invalid_scale",
                message: e.to_string(),
            });
        }
        let (Ok(currency), true) = (currency, problems.is_empty()) else {
            return Err(ServiceError::Validation(problems));
        };
        let mut tx = self
            .core
            .tenant_work(
                access,
                ctx,
                Permission::LedgerAdmin,
                "ledger.account.open",
                Access::Write,
            )
            .await?;
        if let Some(owner) = request.owner_id
            && tx.membership(owner).await?.is_none()
        {
            return Err(ServiceError::invalid(
                "owner_id",
                "not_found",
                format!("no member {owner} in this tenant"),
            ));
        }
        if let Some(name) = request.limit_profile
            && limits::find_profile(&mut *tx, name).await?.is_none()
        {
            return Err(ServiceError::invalid(
                "limit_profile",
                "not_found",
                format!("no limit profile {name:?} in this tenant"),
            ));
        }
        let account = tx
            .insert_ledger_account(NewLedgerAccount {
                id: LedgerAccountId::new(),
                name: name.to_owned(),
                currency: currency.as_str().to_owned(),
                scale: request.scale,
                owner_id: request.owner_id,
                allow_negative: request.allow_negative,
                unlimited: request.unlimited,
                limit_profile: request.limit_profile.map(str::to_owned),
                house: false,
                at: self.core.now(),
            })
            .await?;
        tx.audit(
            "ledger.account.open",
            ("ledger_account", Some(account.id.to_string())),
            json!({
                "name": account.name,
                "currency": account.currency,
                "scale": account.scale,
                "owner_id": account.owner_id.map(|owner| owner.to_string()),
                "allow_negative": account.allow_negative,
                "unlimited": account.unlimited,
                "limit_profile": account.limit_profile,
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(account)
    }

    /// One account, if the caller may see it.
    pub async fn account(
        &self,
        access: &TenantAccess,
        id: LedgerAccountId,
        ctx: &RequestContext,
    ) -> Result<LedgerAccount, ServiceError> {
        let mut tx = self
            .core
            .member_permit(access, ctx)
            .open(Access::Read)
            .await?;
        match tx.ledger_account(id, self.core.now()).await? {
            Some(account) if Self::may_see(access, &account) => Ok(account),
            _ => Err(ServiceError::NotFound("account_not_found")),
        }
    }

    /// The accounts the caller may see, oldest first, a page at a time.
    pub async fn accounts(
        &self,
        access: &TenantAccess,
        after: Option<LedgerAccountId>,
        limit: u32,
        ctx: &RequestContext,
    ) -> Result<Paged<LedgerAccount>, ServiceError> {
        let owner = if access.may(Permission::LedgerRead) {
            None
        } else {
            match access.principal().user() {
                Some(user) => Some(user),
                // An API key owns nothing.
                None => return Ok(Paged::empty()),
            }
        };
        let mut tx = self
            .core
            .member_permit(access, ctx)
            .open(Access::Read)
            .await?;
        let query = LedgerAccountQuery {
            owner,
            after,
            limit,
            now: self.core.now(),
        };
        let accounts = tx.ledger_accounts(&query).await?;
        Ok(Paged::new(accounts, limit, |account| {
            account.id.to_string()
        }))
    }

    /// An account's postings, newest first, a page at a time (the cursor
    /// is the number of the last posting seen).
    pub async fn statement(
        &self,
        access: &TenantAccess,
        id: LedgerAccountId,
        before_seq: Option<i64>,
        limit: u32,
        ctx: &RequestContext,
    ) -> Result<Statement, ServiceError> {
        let mut tx = self
            .core
            .member_permit(access, ctx)
            .open(Access::Read)
            .await?;
        let account = match tx.ledger_account(id, self.core.now()).await? {
            Some(account) if Self::may_see(access, &account) => account,
            _ => return Err(ServiceError::NotFound("account_not_found")),
        };
        let query = PostingQuery {
            account: id,
            before_seq,
            limit,
        };
        let postings = tx.ledger_postings(&query).await?;
        Ok(Statement {
            account,
            postings: Paged::new(postings, limit, |posting| posting.seq.to_string()),
        })
    }

    /// The account's balance as of `at` (now if `None`).
    pub async fn balance_at(
        &self,
        access: &TenantAccess,
        id: LedgerAccountId,
        at: Option<time::OffsetDateTime>,
        ctx: &RequestContext,
    ) -> Result<BalanceAt, ServiceError> {
        let at = at.unwrap_or_else(|| self.core.now());
        let mut tx = self
            .core
            .member_permit(access, ctx)
            .open(Access::Read)
            .await?;
        let account = match tx.ledger_account(id, self.core.now()).await? {
            Some(account) if Self::may_see(access, &account) => account,
            _ => return Err(ServiceError::NotFound("account_not_found")),
        };
        let (seq, balance) = tx.ledger_balance_at(id, at).await?;
        Ok(BalanceAt {
            account,
            at,
            seq,
            balance,
        })
    }

    /// Moves `amount` from one account to another of the same currency.
    /// `body` is the request as sent, which the key is bound to.
    pub async fn transfer(
        &self,
        access: &TenantAccess,
        request: &TransferRequest<'_>,
        idempotency_key: &str,
        body: &Value,
        ctx: &RequestContext,
    ) -> Result<TransferAnswer, ServiceError> {
        if request.from == request.to {
            return Err(refused(
                "same_account",
                "A transfer needs two different accounts.",
            ));
        }
        check_memo(request.memo)?;
        let permit = self
            .core
            .permit(access, ctx, Permission::LedgerTransfer, "ledger.transfer")
            .await?;
        let hash = request_hash("ledger.transfer", body);
        retrying(|| self.try_transfer(permit, request, idempotency_key, &hash)).await
    }

    /// One attempt at a transfer, in one transaction.
    async fn try_transfer(
        &self,
        permit: Permit<'_>,
        request: &TransferRequest<'_>,
        idempotency_key: &str,
        hash: &[u8; 32],
    ) -> Result<TransferAnswer, ServiceError> {
        let access = permit.access;
        let now = self.core.now();
        let mut tx = permit.open(Access::Write).await?;
        // Who may move money out of the source is settled before the key is
        // looked at: keys are the tenant's, so another member sending the
        // same key and body must get the answer their own request gets, not
        // the first caller's transfer.
        let source = match tx.ledger_account(request.from, now).await? {
            Some(account) if Self::may_see(access, &account) => account,
            _ => return Err(ServiceError::NotFound("account_not_found")),
        };
        if !Self::may_debit(access, &source) {
            return Err(tx
                .deny(
                    "ledger.transfer",
                    ("ledger_account", Some(source.id.to_string())),
                    json!({ "reason": "not_owner" }),
                )
                .await);
        }
        if let Some(first) = claim(&mut *tx, idempotency_key, hash, now).await? {
            return Ok(TransferAnswer::Replayed(first));
        }
        let scale = scale_of(&source)?;
        let amount = parse_amount(request.amount, scale)?;
        let caps = limits::caps_of(&mut *tx, &source).await?;
        let transfer = NewTransfer {
            id: TransferId::new(),
            kind: TransferKind::Transfer,
            from: request.from,
            to: request.to,
            amount: amount.minor(),
            memo: request.memo.map(str::to_owned),
            at: now,
            caps,
        };
        let posted = match tx.post_transfer(transfer).await? {
            Ok(posted) => posted,
            Err(refusal) => return Err(transfer_refused(refusal, &source)),
        };
        let answer = transfer_json(&posted, scale);
        tx.complete_idempotency_key(idempotency_key, 201, &answer)
            .await?;
        // Last before the commit: the audit append holds the tenant's chain
        // from here to the commit.
        tx.audit(
            "ledger.transfer",
            ("transfer", Some(posted.id.to_string())),
            json!({
                "from": posted.from.to_string(),
                "to": posted.to.to_string(),
                "amount": answer["amount"],
                "currency": source.currency,
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(TransferAnswer::Posted(answer))
    }
}

/// What a refused transfer answers.
fn transfer_refused(refusal: TransferRefusal, source: &LedgerAccount) -> ServiceError {
    match refusal {
        TransferRefusal::FromNotFound => ServiceError::NotFound("account_not_found"),
        TransferRefusal::ToNotFound => {
            ServiceError::invalid("to", "not_found", "no such account in this tenant")
        }
        TransferRefusal::CurrencyMismatch => refused(
            "currency_mismatch",
            format!(
                "The accounts differ in currency or scale; the source holds {} at scale {}.",
                source.currency, source.scale
            ),
        ),
        TransferRefusal::InsufficientFunds => refused(
            "insufficient_funds",
            "The source account's available balance is below the amount.",
        ),
        TransferRefusal::BalanceOverflow => refused(
            "balance_overflow",
            "The transfer would take a balance beyond what an account can hold.",
        ),
        TransferRefusal::LimitExceeded(limit) => limit_exceeded(limit),
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
