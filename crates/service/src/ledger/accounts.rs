//! Accounts: opening one (`ledger.admin`), reading one or a page of them,
//! an account's postings (its statement) and its balance at a point in
//! time. Everyone sees the accounts they own; `ledger.read` sees every
//! account.

use bulkhead_domain::ledger::{Currency, Scale};
use bulkhead_domain::{LedgerAccountId, Permission, UserId};
use bulkhead_store::Access;
use bulkhead_store::ledger::{
    LedgerAccount, LedgerAccountQuery, NewLedgerAccount, Posting, PostingQuery,
};
use serde_json::json;

use super::{Ledger, MAX_NAME, limits};
use crate::ServiceError;
use crate::context::{RequestContext, TenantAccess};
use crate::page::Paged;

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

impl Ledger {
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
        Self::visible_account(&mut *tx, access, id, self.core.now()).await
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
        let account = Self::visible_account(&mut *tx, access, id, self.core.now()).await?;
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
        let account = Self::visible_account(&mut *tx, access, id, self.core.now()).await?;
        let (seq, balance) = tx.ledger_balance_at(id, at).await?;
        Ok(BalanceAt {
            account,
            at,
            seq,
            balance,
        })
    }
}
