//! Grants: credits issued by an admin (`ledger.admin`) from the tenant's
//! house account of the currency, with a reason for the audit log, so that
//! postings still sum to zero.

use bulkhead_domain::{LedgerAccountId, Permission, TransferId};
use bulkhead_store::Access;
use bulkhead_store::ledger::{Caps, NewTransfer, TransferKind};
use serde_json::{Value, json};

use super::{
    Ledger, TransferAnswer, claim, parse_amount, request_hash, retrying, scale_of, transfer_json,
    transfer_refused,
};
use crate::ServiceError;
use crate::context::{RequestContext, TenantAccess};
use crate::shared::Permit;

/// The longest reason accepted, in characters.
pub const MAX_REASON: usize = 500;

/// A grant as asked for; the amount is a decimal string at the account's
/// scale.
#[derive(Debug, Clone)]
pub struct GrantRequest<'a> {
    pub account: LedgerAccountId,
    pub amount: &'a str,
    pub reason: &'a str,
}

impl Ledger {
    /// Credits an account from the tenant's house account of its currency.
    pub async fn grant(
        &self,
        access: &TenantAccess,
        request: &GrantRequest<'_>,
        idempotency_key: &str,
        body: &Value,
        ctx: &RequestContext,
    ) -> Result<TransferAnswer, ServiceError> {
        let reason = request.reason.trim();
        if reason.is_empty()
            || reason.chars().count() > MAX_REASON
            || reason.chars().any(|c| c.is_control() && c != '\n')
        {
            return Err(ServiceError::invalid(
                "reason",
                "invalid_reason",
                format!("a reason is 1 to {MAX_REASON} characters"),
            ));
        }
        let permit = self
            .core
            .permit(access, ctx, Permission::LedgerAdmin, "ledger.grant")
            .await?;
        let hash = request_hash("ledger.grant", body);
        retrying(|| self.try_grant(permit, request, reason, idempotency_key, &hash)).await
    }

    async fn try_grant(
        &self,
        permit: Permit<'_>,
        request: &GrantRequest<'_>,
        reason: &str,
        idempotency_key: &str,
        hash: &[u8; 32],
    ) -> Result<TransferAnswer, ServiceError> {
        let now = self.core.now();
        let mut tx = permit.open(Access::Write).await?;
        let Some(account) = tx.ledger_account(request.account, now).await? else {
            return Err(ServiceError::NotFound("account_not_found"));
        };
        if let Some(first) = claim(&mut *tx, idempotency_key, hash, now).await? {
            return Ok(TransferAnswer::Replayed(first));
        }
        let scale = scale_of(&account)?;
        let amount = parse_amount(request.amount, scale)?;
        let house = tx
            .house_account(&account.currency, account.scale, now)
            .await?;
        if house.id == account.id {
            return Err(ServiceError::invalid(
                "account",
                "house_account",
                "the house account issues grants; it cannot receive one",
            ));
        }
        let transfer = NewTransfer {
            id: TransferId::new(),
            kind: TransferKind::Grant,
            from: house.id,
            to: account.id,
            amount: amount.minor(),
            memo: Some(reason.to_owned()),
            at: now,
            caps: Caps::NONE,
        };
        let posted = match tx.post_transfer(transfer).await? {
            Ok(posted) => posted,
            Err(refusal) => return Err(transfer_refused(refusal, &house)),
        };
        let answer = transfer_json(&posted, scale);
        tx.complete_idempotency_key(idempotency_key, 201, &answer)
            .await?;
        tx.audit(
            "ledger.grant",
            ("transfer", Some(posted.id.to_string())),
            json!({
                "account": account.id.to_string(),
                "amount": answer["amount"],
                "currency": account.currency,
                "reason": reason,
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(TransferAnswer::Posted(answer))
    }
}
