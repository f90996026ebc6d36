//! [`Client`]: where the server is, the connection pool, the headers sent
//! with every request, and the plumbing every endpoint method goes through.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, RequestBuilder};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::observer::{Exchange, Observer};
use crate::path::normalize_base_url;
use crate::{ClientError, RawResponse};

/// How long [`Client::new`] lets one request take, from connecting to the
/// last byte of the answer, before failing it with
/// [`ClientError::Transport`]. Long enough for a slow CI machine; short
/// enough that a hung server fails a test instead of stalling it.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A client for one Bulkhead server.
///
/// Cloning is cheap and clones share one connection pool; so do the copies
/// made by [`Client::with_token`] and [`Client::with_header`], which differ
/// only in the headers they send.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    /// Without a trailing slash; paths (`/v1/…`) are appended to it.
    base_url: Arc<str>,
    /// Sent with every request.
    headers: HeaderMap,
    /// Why a header given to `with_token` or `with_header` could not be
    /// used. Every request fails with it rather than going out without the
    /// header, so a test never passes by talking to the server anonymously.
    invalid_header: Option<Arc<str>>,
    /// Shown every answer; see [`Client::with_observer`].
    pub(crate) observer: Option<Observer>,
}

impl Client {
    /// A client for the server at `base_url` (e.g. `http://127.0.0.1:8080`),
    /// with [`DEFAULT_TIMEOUT`] and no proxy: system proxy settings are
    /// ignored, so requests to a loopback test server go straight to it.
    pub fn new(base_url: &str) -> Result<Client, ClientError> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(DEFAULT_TIMEOUT)
            .build()
            .map_err(|error| ClientError::Transport(crate::error::chain(&error)))?;
        Client::with_http_client(base_url, http)
    }

    /// A client for the server at `base_url` that sends its requests through
    /// `http`, for callers who want their own timeouts, pool or proxy.
    pub fn with_http_client(base_url: &str, http: reqwest::Client) -> Result<Client, ClientError> {
        Ok(Client {
            http,
            base_url: normalize_base_url(base_url)?.into(),
            headers: HeaderMap::new(),
            invalid_header: None,
            observer: None,
        })
    }

    /// The server's base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// A copy of this client that authenticates every request with
    /// `Authorization: Bearer <token>`; `token` is an access token or an API
    /// key. It replaces any token this client had.
    pub fn with_token(&self, token: impl AsRef<str>) -> Client {
        let value = format!("Bearer {}", token.as_ref());
        match HeaderValue::try_from(value) {
            Ok(mut value) => {
                value.set_sensitive(true);
                self.with_valid_header(AUTHORIZATION, value)
            }
            Err(_) => self.with_invalid_header("the token is not a valid header value".into()),
        }
    }

    /// A copy of this client that sends `name: value` with every request,
    /// replacing any value this client sent under that name (for example
    /// `User-Agent` or `X-Forwarded-For` in tests).
    ///
    /// Takes header names and values as strings or as
    /// [`reqwest::header`] types. If either is invalid, every request the
    /// copy makes fails with [`ClientError::InvalidRequest`].
    pub fn with_header<N, V>(&self, name: N, value: V) -> Client
    where
        N: TryInto<HeaderName>,
        N::Error: std::fmt::Display,
        V: TryInto<HeaderValue>,
        V::Error: std::fmt::Display,
    {
        let name = match name.try_into() {
            Ok(name) => name,
            Err(error) => return self.with_invalid_header(format!("invalid header name: {error}")),
        };
        match value.try_into() {
            Ok(value) => self.with_valid_header(name, value),
            Err(error) => self.with_invalid_header(format!("invalid value for {name}: {error}")),
        }
    }

    fn with_valid_header(&self, name: HeaderName, value: HeaderValue) -> Client {
        let mut client = self.clone();
        client.headers.insert(name, value);
        client
    }

    fn with_invalid_header(&self, reason: String) -> Client {
        let mut client = self.clone();
        client.invalid_header = Some(reason.into());
        client
    }

    /// The headers sent with every request.
    #[cfg(test)]
    pub(crate) fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The full URL of `path`, an absolute path such as `/v1/me`.
    pub(crate) fn url(&self, path: &str) -> String {
        if path.starts_with('/') {
            format!("{}{path}", self.base_url)
        } else {
            format!("{}/{path}", self.base_url)
        }
    }

    /// A request to `path` carrying this client's headers.
    pub(crate) fn request(
        &self,
        method: Method,
        path: &str,
    ) -> Result<RequestBuilder, ClientError> {
        if let Some(reason) = &self.invalid_header {
            return Err(ClientError::InvalidRequest(reason.to_string()));
        }
        Ok(self
            .http
            .request(method, self.url(path))
            .headers(self.headers.clone()))
    }

    /// Sends `request` and reads the whole answer, whatever its status,
    /// showing it to the observer if there is one. Every method goes
    /// through here, so an observer sees every answer.
    pub(crate) async fn exchange(
        &self,
        request: RequestBuilder,
    ) -> Result<RawResponse, ClientError> {
        let request = request.build().map_err(ClientError::from_reqwest)?;
        let sent = self.observer.as_ref().map(|_| {
            (
                request.method().clone(),
                request.url().clone(),
                request.headers().clone(),
            )
        });
        let response = self
            .http
            .execute(request)
            .await
            .map_err(ClientError::from_reqwest)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(ClientError::from_reqwest)?;
        if let (Some(observer), Some((method, url, request_headers))) = (&self.observer, sent) {
            observer.observe(&Exchange {
                method: &method,
                url: &url,
                request_headers: &request_headers,
                status,
                headers: &headers,
                body: &body,
            });
        }
        Ok(RawResponse {
            status,
            headers,
            body,
        })
    }

    /// `method path` with no body, expecting a JSON answer.
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
    ) -> Result<T, ClientError> {
        let response = self.exchange(self.request(method, path)?).await?;
        decode(response)
    }

    /// `GET path?query`, expecting a JSON answer.
    pub(crate) async fn call_with_query<T, Q>(
        &self,
        path: &str,
        query: &Q,
    ) -> Result<T, ClientError>
    where
        T: DeserializeOwned,
        Q: Serialize + ?Sized,
    {
        let response = self
            .exchange(self.request(Method::GET, path)?.query(query))
            .await?;
        decode(response)
    }

    /// `method path` with a JSON body, expecting a JSON answer.
    pub(crate) async fn call_with_body<T, B>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError>
    where
        T: DeserializeOwned,
        B: Serialize + ?Sized,
    {
        let response = self
            .exchange(self.request(method, path)?.json(body))
            .await?;
        decode(response)
    }

    /// `method path` with no body, expecting an answer without content.
    pub(crate) async fn call_for_nothing(
        &self,
        method: Method,
        path: &str,
    ) -> Result<(), ClientError> {
        let response = self.exchange(self.request(method, path)?).await?;
        expect_success(response)
    }

    /// `method path` with a JSON body, expecting an answer without content.
    pub(crate) async fn call_with_body_for_nothing<B>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<(), ClientError>
    where
        B: Serialize + ?Sized,
    {
        let response = self
            .exchange(self.request(method, path)?.json(body))
            .await?;
        expect_success(response)
    }
}

/// The JSON body of a successful answer, or the error a failed one carries.
fn decode<T: DeserializeOwned>(response: RawResponse) -> Result<T, ClientError> {
    let response = response.error_for_status()?;
    serde_json::from_slice(&response.body)
        .map_err(|error| ClientError::decode(response.status, &error, &response.body))
}

/// Nothing, for a successful answer (its body, if any, is ignored), or the
/// error a failed one carries.
fn expect_success(response: RawResponse) -> Result<(), ClientError> {
    response.error_for_status().map(|_| ())
}
