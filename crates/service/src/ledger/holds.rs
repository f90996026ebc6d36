//! Holds: part of an account reserved before a payment whose size is not
//! known yet (an agent's run), then captured (fully or partly, to the
//! tenant's house account of the currency) or released; past its expiry a
//! hold lets go by itself.
//!
//! Who may: placing, capturing and releasing a hold are moving money out of
//! its account, so they take what a transfer from it takes: the account's
//! owner with `ledger.transfer`, or `ledger.admin`.
//!
//! Limits: a hold is checked against the account's single-payment cap when
//! it is placed (it could never be captured whole otherwise), and counts
//! toward the daily and monthly caps when it is captured, because those
//! caps count money paid out and a released hold paid nothing. A capture
//! past them is refused and leaves the hold open, to be released or
//! captured smaller.

use bulkhead_domain::collection::format_datetime;
use bulkhead_domain::ledger::{Amount, Scale};
use bulkhead_domain::{HoldId, LedgerAccountId, Permission, TransferId};
use bulkhead_store::Access;
use bulkhead_store::ledger::{
    Capture, Hold, HoldRefusal, LedgerAccount, NewHold, SettleHold, SettleRefusal,
};
use serde_json::{Value, json};
use time::Duration;

use super::{
    Ledger, claim, limit_exceeded, limits, parse_amount, refused, request_hash, retrying, scale_of,
    transfer_json, transfer_refused,
};
use crate::ServiceError;
use crate::context::{RequestContext, TenantAccess};
use crate::shared::Permit;

/// How long a hold lasts when the request does not say.
pub const DEFAULT_HOLD_SECONDS: u32 = 3_600;
/// The longest a hold may last: 30 days.
pub const MAX_HOLD_SECONDS: u32 = 30 * 86_400;

/// A hold as asked for; the amount is a decimal string at the account's
/// scale.
#[derive(Debug, Clone)]
pub struct HoldRequest<'a> {
    pub account: LedgerAccountId,
    pub amount: &'a str,
    pub expires_in_seconds: Option<u32>,
    pub memo: Option<&'a str>,
}

/// What placing a hold answers: the hold as JSON, placed now or replayed
/// from the first request with the same `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq)]
pub enum HoldAnswer {
    Placed(Value),
    Replayed(Value),
}

/// A hold as clients are sent it, its status as of `now`.
pub fn hold_json(hold: &Hold, scale: Scale, now: time::OffsetDateTime) -> Value {
    json!({
        "id": hold.id.to_string(),
        "account": hold.account_id.to_string(),
        "amount": Amount::from_minor(hold.amount).format(scale),
        "status": hold.status_at(now).as_str(),
        "captured": Amount::from_minor(hold.captured).format(scale),
        "transfer_id": hold.transfer_id.map(|id| id.to_string()),
        "memo": hold.memo,
        "expires_at": format_datetime(hold.expires_at),
        "created_at": format_datetime(hold.created_at),
    })
}

fn hold_refused(refusal: HoldRefusal) -> ServiceError {
    match refusal {
        HoldRefusal::AccountNotFound => ServiceError::NotFound("account_not_found"),
        HoldRefusal::InsufficientFunds => refused(
            "insufficient_funds",
            "The account's available balance is below the amount.",
        ),
        HoldRefusal::BalanceOverflow => refused(
            "balance_overflow",
            "The hold would take the account's held amount beyond what it can hold.",
        ),
        HoldRefusal::LimitExceeded(limit) => limit_exceeded(limit),
    }
}

impl Ledger {
    /// Reserves part of an account's available balance.
    pub async fn place_hold(
        &self,
        access: &TenantAccess,
        request: &HoldRequest<'_>,
        idempotency_key: &str,
        body: &Value,
        ctx: &RequestContext,
    ) -> Result<HoldAnswer, ServiceError> {
        super::check_memo(request.memo)?;
        let seconds = request.expires_in_seconds.unwrap_or(DEFAULT_HOLD_SECONDS);
        if !(1..=MAX_HOLD_SECONDS).contains(&seconds) {
            return Err(ServiceError::invalid(
                "expires_in_seconds",
                "out_of_range",
                format!("a hold lasts 1 to {MAX_HOLD_SECONDS} seconds"),
            ));
        }
        let permit = self
            .core
            .permit(access, ctx, Permission::LedgerTransfer, "ledger.hold")
            .await?;
        let hash = request_hash("ledger.hold", body);
        retrying(|| self.try_place_hold(permit, request, seconds, idempotency_key, &hash)).await
    }

    async fn try_place_hold(
        &self,
        permit: Permit<'_>,
        request: &HoldRequest<'_>,
        seconds: u32,
        idempotency_key: &str,
        hash: &[u8; 32],
    ) -> Result<HoldAnswer, ServiceError> {
        let now = self.core.now();
        let mut tx = permit.open(Access::Write).await?;
        let account = self.debitable(&mut tx, permit, request.account).await?;
        let account = match account {
            Ok(account) => account,
            Err(denied) => return Err(tx.deny("ledger.hold", denied.0, denied.1).await),
        };
        if let Some(first) = claim(&mut *tx, idempotency_key, hash, now).await? {
            return Ok(HoldAnswer::Replayed(first));
        }
        let scale = scale_of(&account)?;
        let amount = parse_amount(request.amount, scale)?;
        let caps = limits::caps_of(&mut *tx, &account).await?;
        let new = NewHold {
            id: HoldId::new(),
            account: account.id,
            amount: amount.minor(),
            memo: request.memo.map(str::to_owned),
            expires_at: now + Duration::seconds(i64::from(seconds)),
            at: now,
            single_cap: caps.single,
        };
        let hold = tx.place_hold(new).await?.map_err(hold_refused)?;
        let answer = hold_json(&hold, scale, now);
        tx.complete_idempotency_key(idempotency_key, 201, &answer)
            .await?;
        tx.audit(
            "ledger.hold",
            ("hold", Some(hold.id.to_string())),
            json!({
                "account": account.id.to_string(),
                "amount": answer["amount"],
                "currency": account.currency,
                "expires_at": answer["expires_at"],
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(HoldAnswer::Placed(answer))
    }

    /// The account `id` if the caller may move money out of it; otherwise
    /// 404 (not visible) or the denial to record (visible, not theirs).
    pub(super) async fn debitable(
        &self,
        tx: &mut crate::shared::TenantWork<'_>,
        permit: Permit<'_>,
        id: LedgerAccountId,
    ) -> Result<Result<LedgerAccount, Denied>, ServiceError> {
        let access = permit.access;
        match tx.ledger_account(id, self.core.now()).await? {
            Some(account) if Self::may_see(access, &account) => {
                if Self::may_debit(access, &account) {
                    Ok(Ok(account))
                } else {
                    Ok(Err(Denied(
                        ("ledger_account", Some(account.id.to_string())),
                        json!({ "reason": "not_owner" }),
                    )))
                }
            }
            _ => Err(ServiceError::NotFound("account_not_found")),
        }
    }

    /// One hold, if the caller may see its account.
    pub async fn hold(
        &self,
        access: &TenantAccess,
        id: HoldId,
        ctx: &RequestContext,
    ) -> Result<Value, ServiceError> {
        let mut tx = self
            .core
            .member_permit(access, ctx)
            .open(Access::Read)
            .await?;
        let now = self.core.now();
        let Some(hold) = tx.ledger_hold(id).await? else {
            return Err(ServiceError::NotFound("hold_not_found"));
        };
        match tx.ledger_account(hold.account_id, now).await? {
            Some(account) if Self::may_see(access, &account) => {
                Ok(hold_json(&hold, scale_of(&account)?, now))
            }
            _ => Err(ServiceError::NotFound("hold_not_found")),
        }
    }

    /// Captures `amount` of a hold (all of it if `None`) to the tenant's
    /// house account of its currency, releasing the rest; or, with
    /// `capture == false`, releases it all. Answers the hold, and the
    /// capture's transfer.
    pub async fn settle_hold(
        &self,
        access: &TenantAccess,
        id: HoldId,
        capture: bool,
        amount: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<Value, ServiceError> {
        let action = if capture {
            "ledger.hold.capture"
        } else {
            "ledger.hold.release"
        };
        let permit = self
            .core
            .permit(access, ctx, Permission::LedgerTransfer, action)
            .await?;
        retrying(|| self.try_settle_hold(permit, id, capture, amount, action)).await
    }

    async fn try_settle_hold(
        &self,
        permit: Permit<'_>,
        id: HoldId,
        capture: bool,
        amount: Option<&str>,
        action: &str,
    ) -> Result<Value, ServiceError> {
        let now = self.core.now();
        let mut tx = permit.open(Access::Write).await?;
        let Some(hold) = tx.ledger_hold(id).await? else {
            return Err(ServiceError::NotFound("hold_not_found"));
        };
        let account = match self.debitable(&mut tx, permit, hold.account_id).await {
            Ok(Ok(account)) => account,
            Ok(Err(denied)) => return Err(tx.deny(action, denied.0, denied.1).await),
            Err(ServiceError::NotFound(_)) => {
                return Err(ServiceError::NotFound("hold_not_found"));
            }
            Err(error) => return Err(error),
        };
        let scale = scale_of(&account)?;
        let capture = if capture {
            let amount = amount
                .map(|amount| parse_amount(amount, scale))
                .transpose()?;
            let house = tx
                .house_account(&account.currency, account.scale, now)
                .await?;
            Some(Capture {
                amount: amount.map(Amount::minor),
                transfer: TransferId::new(),
                to: house.id,
                memo: None,
                caps: limits::caps_of(&mut *tx, &account).await?,
            })
        } else {
            None
        };
        let settle = SettleHold {
            hold: id,
            at: now,
            capture,
        };
        let settled = match tx.settle_hold(settle).await? {
            Ok(settled) => settled,
            Err(SettleRefusal::HoldNotFound) => {
                return Err(ServiceError::NotFound("hold_not_found"));
            }
            Err(SettleRefusal::Expired) => return Err(ServiceError::Conflict("hold_expired")),
            Err(SettleRefusal::Settled) => return Err(ServiceError::Conflict("hold_settled")),
            Err(SettleRefusal::CaptureExceedsHold) => {
                return Err(ServiceError::invalid(
                    "amount",
                    "exceeds_hold",
                    "a capture is at most the held amount",
                ));
            }
            Err(SettleRefusal::Transfer(refusal)) => {
                return Err(transfer_refused(refusal, &account));
            }
        };
        let mut answer = hold_json(&settled.hold, scale, now);
        answer["transfer"] = settled
            .transfer
            .as_ref()
            .map_or(Value::Null, |transfer| transfer_json(transfer, scale));
        tx.audit(
            action,
            ("hold", Some(id.to_string())),
            json!({
                "account": account.id.to_string(),
                "captured": answer["captured"],
                "currency": account.currency,
                "transfer_id": answer["transfer_id"],
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(answer)
    }
}

/// A refusal to record: the resource and the details of the audit entry.
pub(super) struct Denied(pub(super) (&'static str, Option<String>), pub(super) Value);
