//! `/v1/tenants/{t}/ledger/*`: accounts, their postings, and transfers.
//!
//! A transfer takes its `Idempotency-Key` as an argument, since the server
//! requires one: send the same key again to retry safely.

use reqwest::Method;
use uuid::Uuid;

use crate::path::tenant_path;
use crate::types::{
    AccountList, AccountView, CreateAccountRequest, CreateTransferRequest, PageQuery, PostingList,
    TransferView,
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
