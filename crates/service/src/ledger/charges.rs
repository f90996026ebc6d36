//! Charges: a metered cost (an agent's run, a model's tokens) debited to
//! an account marked up by the tenant's markup, which only a platform admin
//! sets (1 until then). The debit is a transfer of kind `charge` to the
//! tenant's house account of the currency, so the account's caps apply as
//! to any payout. An unlimited account is recorded, not debited, and so is
//! a charge whose marked-up amount rounds to nothing.
//!
//! Who may: a charge moves money out of its account, so it takes what a
//! transfer from it takes: the account's owner with `ledger.transfer`, or
//! `ledger.admin`.

use bulkhead_domain::collection::format_datetime;
use bulkhead_domain::ledger::{Amount, Markup, Scale};
use bulkhead_domain::{ChargeId, LedgerAccountId, Permission, TransferId};
use bulkhead_store::Access;
use bulkhead_store::ledger::{Charge, NewCharge};
use serde_json::{Value, json};

use super::{
    Ledger, check_memo, claim, limits, parse_positive, refused, request_hash, retrying, scale_of,
    transfer_refused,
};
use crate::ServiceError;
use crate::context::{RequestContext, TenantAccess};
use crate::shared::Permit;

/// A charge as asked for; the cost is a decimal string at the account's
/// scale.
#[derive(Debug, Clone)]
pub struct ChargeRequest<'a> {
    pub account: LedgerAccountId,
    pub cost: &'a str,
    pub memo: Option<&'a str>,
}

/// What a charge answers: the charge as JSON, recorded now or replayed
/// from the first request with the same `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq)]
pub enum ChargeAnswer {
    Charged(Value),
    Replayed(Value),
}

/// A charge as clients are sent it (and as a replay sends it again).
pub fn charge_json(charge: &Charge, markup: Markup, scale: Scale) -> Value {
    json!({
        "id": charge.id.to_string(),
        "account": charge.account_id.to_string(),
        "cost": Amount::from_minor(charge.cost).format(scale),
        "markup": markup.format(),
        "amount": Amount::from_minor(charge.amount).format(scale),
        "debited": charge.transfer_id.is_some(),
        "transfer_id": charge.transfer_id.map(|id| id.to_string()),
        "memo": charge.memo,
        "created_at": format_datetime(charge.created_at),
    })
}

impl Ledger {
    /// Charges `cost × markup` (rounded half up to a minor unit) to an
    /// account, paid to the tenant's house account of its currency.
    pub async fn charge(
        &self,
        access: &TenantAccess,
        request: &ChargeRequest<'_>,
        idempotency_key: &str,
        body: &Value,
        ctx: &RequestContext,
    ) -> Result<ChargeAnswer, ServiceError> {
        check_memo(request.memo)?;
        let permit = self
            .core
            .permit(access, ctx, Permission::LedgerTransfer, "ledger.charge")
            .await?;
        let hash = request_hash("ledger.charge", body);
        // The plan's markup, for a tenant without one of its own; read
        // before the transaction opens (a request never holds two).
        let plan_markup = self.core.plan_of(access.tenant()).await?.ledger_markup;
        retrying(|| self.try_charge(permit, request, idempotency_key, &hash, plan_markup)).await
    }

    async fn try_charge(
        &self,
        permit: Permit<'_>,
        request: &ChargeRequest<'_>,
        idempotency_key: &str,
        hash: &[u8; 32],
        plan_markup: Option<Markup>,
    ) -> Result<ChargeAnswer, ServiceError> {
        let now = self.core.now();
        let mut tx = permit.open(Access::Write).await?;
        // As for a transfer, who may debit the account is settled before the
        // key is looked at.
        let account = match self.debitable(&mut tx, permit, request.account).await? {
            Ok(account) => account,
            Err(denied) => return Err(tx.deny("ledger.charge", denied.0, denied.1).await),
        };
        if let Some(first) = claim(&mut *tx, idempotency_key, hash, now).await? {
            return Ok(ChargeAnswer::Replayed(first));
        }
        let scale = scale_of(&account)?;
        let cost = parse_positive(("cost", "invalid_cost"), request.cost, scale)?;
        // The tenant's own markup is read in this transaction, so a charge
        // and a change of it are ordered like any other two writes.
        let markup = tx
            .tenant()
            .await?
            .ok_or(ServiceError::TenantNotFound)?
            .charge_markup
            .or(plan_markup)
            .unwrap_or(Markup::ONE);
        let Some(amount) = markup.apply(cost) else {
            return Err(refused(
                "amount_out_of_range",
                "The cost times the tenant's markup is beyond what an account can hold.",
            ));
        };
        if account.house {
            return Err(ServiceError::invalid(
                "account",
                "house_account",
                "the house account receives charges; it cannot be charged",
            ));
        }
        let house = tx
            .house_account(&account.currency, account.scale, now)
            .await?;
        let new = NewCharge {
            id: ChargeId::new(),
            account: account.id,
            cost: cost.minor(),
            markup_millionths: markup.millionths(),
            amount: amount.minor(),
            memo: request.memo.map(str::to_owned),
            at: now,
            transfer: TransferId::new(),
            house: house.id,
            caps: limits::caps_of(&mut *tx, &account).await?,
        };
        let charge = match tx.record_charge(new).await? {
            Ok(charge) => charge,
            Err(refusal) => return Err(transfer_refused(refusal, &account)),
        };
        let answer = charge_json(&charge, markup, scale);
        tx.complete_idempotency_key(idempotency_key, 201, &answer)
            .await?;
        // Last before the commit: the audit append holds the tenant's chain
        // from here to the commit.
        tx.audit(
            "ledger.charge",
            ("charge", Some(charge.id.to_string())),
            json!({
                "account": account.id.to_string(),
                "cost": answer["cost"],
                "markup": answer["markup"],
                "amount": answer["amount"],
                "currency": account.currency,
                "debited": answer["debited"],
                "transfer_id": answer["transfer_id"],
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(ChargeAnswer::Charged(answer))
    }
}
