//! `/v1/tenants/{t}/ledger/*`: accounts, their postings, and transfers.
//!
//! Transfers, grants, charges and holds take their `Idempotency-Key` as an argument,
//! since the server requires one: send the same key again to retry safely.

use reqwest::Method;
use uuid::Uuid;

use crate::path::{segment, tenant_path};
use crate::types::{
    AccountList, AccountView, BalanceQuery, BalanceView, CaptureHoldRequest, ChargeView,
    CreateAccountRequest, CreateChargeRequest, CreateGrantRequest, CreateHoldRequest,
    CreateTransferRequest, HoldView, LimitProfileList, LimitProfileRequest, LimitProfileView,
    PageQuery, PostingList, SettledHoldView, TransferView,
};
use crate::{Client, ClientError};

fn ledger_path(tenant: &str) -> String {
    format!("{}/ledger", tenant_path(tenant))
}

impl Client {
    /// `POST /v1/tenants/{t}/ledger/accounts` (`ledger.admin`, 201).
    pub async fn open_ledger_account(
        &self,
        tenant: &str,
        request: &CreateAccountRequest,
    ) -> Result<AccountView, ClientError> {
        let path = format!("{}/accounts", ledger_path(tenant));
        self.call_with_body(Method::POST, &path, request).await
    }

    /// `GET /v1/tenants/{t}/ledger/accounts`: the accounts the caller may
    /// see, oldest first.
    pub async fn list_ledger_accounts(
        &self,
        tenant: &str,
        page: &PageQuery,
    ) -> Result<AccountList, ClientError> {
        let path = format!("{}/accounts", ledger_path(tenant));
        self.call_with_query(&path, page).await
    }

    /// `GET /v1/tenants/{t}/ledger/accounts/{id}`: 404 for an account of
    /// another tenant or one the caller may not see.
    pub async fn get_ledger_account(
        &self,
        tenant: &str,
        account: Uuid,
    ) -> Result<AccountView, ClientError> {
        let path = format!("{}/accounts/{account}", ledger_path(tenant));
        self.call(Method::GET, &path).await
    }

    /// `GET /v1/tenants/{t}/ledger/accounts/{id}/entries`: postings, newest
    /// first.
    pub async fn ledger_entries(
        &self,
        tenant: &str,
        account: Uuid,
        page: &PageQuery,
    ) -> Result<PostingList, ClientError> {
        let path = format!("{}/accounts/{account}/entries", ledger_path(tenant));
        self.call_with_query(&path, page).await
    }

    /// `POST /v1/tenants/{t}/ledger/transfers` (201) with `Idempotency-Key:
    /// idempotency_key`: a replay answers the first transfer again.
    pub async fn create_transfer(
        &self,
        tenant: &str,
        idempotency_key: &str,
        request: &CreateTransferRequest,
    ) -> Result<TransferView, ClientError> {
        let path = format!("{}/transfers", ledger_path(tenant));
        self.with_header("idempotency-key", idempotency_key)
            .call_with_body(Method::POST, &path, request)
            .await
    }
}

impl Client {
    /// `POST /v1/tenants/{t}/ledger/holds` (201) with `Idempotency-Key:
    /// idempotency_key`.
    pub async fn place_hold(
        &self,
        tenant: &str,
        idempotency_key: &str,
        request: &CreateHoldRequest,
    ) -> Result<HoldView, ClientError> {
        let path = format!("{}/holds", ledger_path(tenant));
        self.with_header("idempotency-key", idempotency_key)
            .call_with_body(Method::POST, &path, request)
            .await
    }

    /// `GET /v1/tenants/{t}/ledger/holds/{id}`.
    pub async fn get_hold(&self, tenant: &str, hold: Uuid) -> Result<HoldView, ClientError> {
        let path = format!("{}/holds/{hold}", ledger_path(tenant));
        self.call(Method::GET, &path).await
    }

    /// `POST …/ledger/holds/{id}/capture`: all of the hold, or `amount`.
    pub async fn capture_hold(
        &self,
        tenant: &str,
        hold: Uuid,
        request: &CaptureHoldRequest,
    ) -> Result<SettledHoldView, ClientError> {
        let path = format!("{}/holds/{hold}/capture", ledger_path(tenant));
        self.call_with_body(Method::POST, &path, request).await
    }

    /// `POST …/ledger/holds/{id}/release`.
    pub async fn release_hold(
        &self,
        tenant: &str,
        hold: Uuid,
    ) -> Result<SettledHoldView, ClientError> {
        let path = format!("{}/holds/{hold}/release", ledger_path(tenant));
        self.call(Method::POST, &path).await
    }

    /// `POST /v1/tenants/{t}/ledger/charges` (201) with
    /// `Idempotency-Key: idempotency_key`: `cost` times the tenant's markup
    /// debited to the house.
    pub async fn create_charge(
        &self,
        tenant: &str,
        idempotency_key: &str,
        request: &CreateChargeRequest,
    ) -> Result<ChargeView, ClientError> {
        let path = format!("{}/charges", ledger_path(tenant));
        self.with_header("idempotency-key", idempotency_key)
            .call_with_body(Method::POST, &path, request)
            .await
    }

    /// `POST /v1/tenants/{t}/ledger/grants` (`ledger.admin`, 201) with
    /// `Idempotency-Key: idempotency_key`.
    pub async fn create_grant(
        &self,
        tenant: &str,
        idempotency_key: &str,
        request: &CreateGrantRequest,
    ) -> Result<TransferView, ClientError> {
        let path = format!("{}/grants", ledger_path(tenant));
        self.with_header("idempotency-key", idempotency_key)
            .call_with_body(Method::POST, &path, request)
            .await
    }

    /// `GET /v1/tenants/{t}/ledger/limit-profiles` (`ledger.admin`).
    pub async fn list_limit_profiles(&self, tenant: &str) -> Result<LimitProfileList, ClientError> {
        let path = format!("{}/limit-profiles", ledger_path(tenant));
        self.call(Method::GET, &path).await
    }

    /// `POST /v1/tenants/{t}/ledger/limit-profiles` (`ledger.admin`, 201).
    pub async fn create_limit_profile(
        &self,
        tenant: &str,
        request: &LimitProfileRequest,
    ) -> Result<LimitProfileView, ClientError> {
        let path = format!("{}/limit-profiles", ledger_path(tenant));
        self.call_with_body(Method::POST, &path, request).await
    }

    /// `PATCH /v1/tenants/{t}/ledger/limit-profiles/{name}` (`ledger.admin`).
    pub async fn update_limit_profile(
        &self,
        tenant: &str,
        name: &str,
        request: &LimitProfileRequest,
    ) -> Result<LimitProfileView, ClientError> {
        let path = format!("{}/limit-profiles/{}", ledger_path(tenant), segment(name));
        self.call_with_body(Method::PATCH, &path, request).await
    }
}

impl Client {
    /// `GET /v1/tenants/{t}/ledger/accounts/{id}/balance?at=`: the balance
    /// as of a time (now without one).
    pub async fn ledger_balance_at(
        &self,
        tenant: &str,
        account: Uuid,
        query: &BalanceQuery,
    ) -> Result<BalanceView, ClientError> {
        let path = format!("{}/accounts/{account}/balance", ledger_path(tenant));
        self.call_with_query(&path, query).await
    }
}
