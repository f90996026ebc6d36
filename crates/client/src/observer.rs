//! [`Exchange`] and [`Client::with_observer`]: a look at every answer the
//! client receives, for callers that check answers wholesale (the
//! end-to-end tests check each one against the OpenAPI document) rather
//! than one call at a time.

use std::fmt;
use std::sync::Arc;

use reqwest::header::HeaderMap;
use reqwest::{Method, Url};

use crate::Client;

/// One request and the answer it got, as the client saw them.
#[derive(Debug)]
pub struct Exchange<'a> {
    pub method: &'a Method,
    pub url: &'a Url,
    /// The headers the client sent (its own, not those reqwest adds on the
    /// wire such as `Host`, unless a caller set them).
    pub request_headers: &'a HeaderMap,
    pub status: u16,
    pub headers: &'a HeaderMap,
    /// The whole body, read before the observer is called.
    pub body: &'a [u8],
}

/// A function shown every [`Exchange`]; cheap to clone, shared by the
/// copies of a client.
#[derive(Clone)]
pub(crate) struct Observer(Arc<dyn Fn(&Exchange<'_>) + Send + Sync>);

impl Observer {
    pub(crate) fn observe(&self, exchange: &Exchange<'_>) {
        (self.0)(exchange);
    }
}

impl fmt::Debug for Observer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Observer")
    }
}

impl Client {
    /// A copy of this client that shows every answer it receives, with its
    /// request, to `observer` before returning it, whatever its status.
    /// Copies made from it (`with_token`, `with_header`) keep the observer;
    /// a second call replaces it. An observer that panics fails the call
    /// that it was shown, which is what a test wants of a bad answer.
    pub fn with_observer(
        &self,
        observer: impl Fn(&Exchange<'_>) + Send + Sync + 'static,
    ) -> Client {
        let mut client = self.clone();
        client.observer = Some(Observer(Arc::new(observer)));
        client
    }
}
