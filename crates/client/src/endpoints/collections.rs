//! `/v1/tenants/{t}/collections*`: collections and their records.
//!
//! Conditional writes take the expected version as `if_match` (sent as
//! `If-Match: "<version>"`); a stale one fails with 412 `version_mismatch`.
//! An `Idempotency-Key` goes on a copy of the client made with
//! [`Client::with_header`].

use reqwest::Method;
use reqwest::header::IF_MATCH;
use serde_json::Value;
use uuid::Uuid;

use crate::path::{segment, tenant_path};
use crate::types::{
    CollectionList, CollectionSpec, CollectionView, RecordList, RecordQuery, RecordView,
};
use crate::{Client, ClientError};

impl Client {
    /// `POST /v1/tenants/{t}/collections` (manager and above, 201): 422
    /// `validation_failed` naming every schema problem by its path, 409
    /// `collection_exists`.
    pub async fn create_collection(
        &self,
        tenant: &str,
        spec: &CollectionSpec,
    ) -> Result<CollectionView, ClientError> {
        self.call_with_body(Method::POST, &collections_path(tenant), spec)
            .await
    }

    /// `GET /v1/tenants/{t}/collections`: every collection, by name.
    pub async fn list_collections(&self, tenant: &str) -> Result<CollectionList, ClientError> {
        self.call(Method::GET, &collections_path(tenant)).await
    }

    /// `GET /v1/tenants/{t}/collections/{name}`.
    pub async fn get_collection(
        &self,
        tenant: &str,
        name: &str,
    ) -> Result<CollectionView, ClientError> {
        self.call(Method::GET, &collection_path(tenant, name)).await
    }

    /// `PATCH /v1/tenants/{t}/collections/{name}` (manager and above):
    /// replaces the definition; changes that could invalidate stored
    /// records are refused with 422.
    pub async fn update_collection(
        &self,
        tenant: &str,
        name: &str,
        spec: &CollectionSpec,
        if_match: Option<i64>,
    ) -> Result<CollectionView, ClientError> {
        self.conditional(if_match)
            .call_with_body(Method::PATCH, &collection_path(tenant, name), spec)
            .await
    }

    /// `DELETE /v1/tenants/{t}/collections/{name}` (manager and above): the
    /// collection and all its records.
    pub async fn delete_collection(&self, tenant: &str, name: &str) -> Result<(), ClientError> {
        self.call_for_nothing(Method::DELETE, &collection_path(tenant, name))
            .await
    }

    /// `POST /v1/tenants/{t}/collections/{name}/records` (member and above,
    /// 201): a record owned by the caller.
    pub async fn create_record(
        &self,
        tenant: &str,
        collection: &str,
        data: &Value,
    ) -> Result<RecordView, ClientError> {
        self.call_with_body(Method::POST, &records_path(tenant, collection), data)
            .await
    }

    /// `GET /v1/tenants/{t}/collections/{name}/records?filter=&sort=&limit=&cursor=`.
    pub async fn list_records(
        &self,
        tenant: &str,
        collection: &str,
        query: &RecordQuery,
    ) -> Result<RecordList, ClientError> {
        self.call_with_query(&records_path(tenant, collection), query)
            .await
    }

    /// `GET /v1/tenants/{t}/collections/{name}/records/{id}`: 404 for a
    /// record of another tenant or one the caller may not see.
    pub async fn get_record(
        &self,
        tenant: &str,
        collection: &str,
        id: Uuid,
    ) -> Result<RecordView, ClientError> {
        self.call(Method::GET, &record_path(tenant, collection, id))
            .await
    }

    /// `PUT …/records/{id}`: replaces the record's fields.
    pub async fn replace_record(
        &self,
        tenant: &str,
        collection: &str,
        id: Uuid,
        data: &Value,
        if_match: Option<i64>,
    ) -> Result<RecordView, ClientError> {
        self.conditional(if_match)
            .call_with_body(Method::PUT, &record_path(tenant, collection, id), data)
            .await
    }

    /// `PATCH …/records/{id}`: changes the fields given; `null` clears an
    /// optional one.
    pub async fn patch_record(
        &self,
        tenant: &str,
        collection: &str,
        id: Uuid,
        data: &Value,
        if_match: Option<i64>,
    ) -> Result<RecordView, ClientError> {
        self.conditional(if_match)
            .call_with_body(Method::PATCH, &record_path(tenant, collection, id), data)
            .await
    }

    /// `DELETE …/records/{id}`.
    pub async fn delete_record(
        &self,
        tenant: &str,
        collection: &str,
        id: Uuid,
        if_match: Option<i64>,
    ) -> Result<(), ClientError> {
        self.conditional(if_match)
            .call_for_nothing(Method::DELETE, &record_path(tenant, collection, id))
            .await
    }

    /// This client, sending `If-Match: "<version>"` when one is given.
    fn conditional(&self, if_match: Option<i64>) -> Client {
        match if_match {
            Some(version) => self.with_header(IF_MATCH, format!("\"{version}\"")),
            None => self.clone(),
        }
    }
}

fn collections_path(tenant: &str) -> String {
    format!("{}/collections", tenant_path(tenant))
}

fn collection_path(tenant: &str, name: &str) -> String {
    format!("{}/{}", collections_path(tenant), segment(name))
}

fn records_path(tenant: &str, collection: &str) -> String {
    format!("{}/records", collection_path(tenant, collection))
}

fn record_path(tenant: &str, collection: &str, id: Uuid) -> String {
    format!("{}/{id}", records_path(tenant, collection))
}
