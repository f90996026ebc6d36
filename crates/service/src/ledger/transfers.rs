//! Transfers: an amount moved from one account to another of the same
//! currency and scale, out of one's own account (`ledger.transfer`) or any
//! (`ledger.admin`), once per `Idempotency-Key`.

use bulkhead_domain::{LedgerAccountId, Permission, TransferId};
use bulkhead_store::Access;
use bulkhead_store::ledger::{LedgerAccount, NewTransfer, TransferKind, TransferRefusal};
use serde_json::{Value, json};

use super::{
    Ledger, check_memo, claim, limit_exceeded, limits, parse_amount, refused, request_hash,
    retrying, scale_of, transfer_json,
};
use crate::ServiceError;
use crate::context::{RequestContext, TenantAccess};
use crate::shared::Permit;

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

impl Ledger {
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
        let source = Self::visible_account(&mut *tx, access, request.from, now).await?;
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
        // Money an admin takes out of someone else's account is an
        // adjustment, and like a grant it says why.
        let adjusts_another = source
            .owner_id
            .is_some_and(|owner| access.principal().user() != Some(owner));
        if adjusts_another && request.memo.is_none_or(|memo| memo.trim().is_empty()) {
            return Err(ServiceError::invalid(
                "memo",
                "reason_required",
                "a transfer out of an account someone else owns is an adjustment: give its reason as the memo",
            ));
        }
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
pub(super) fn transfer_refused(refusal: TransferRefusal, source: &LedgerAccount) -> ServiceError {
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
