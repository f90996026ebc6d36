//! A `Services` over a fresh SQLite file and a manual clock.

use std::sync::Arc;

use bulkhead_domain::{Clock, ManualClock};
use bulkhead_service::auth::Tokens;
use bulkhead_service::signing_keys::KeyRing;
use bulkhead_service::{
    AuthSettings, Keys, Principal, RateLimitSettings, RequestContext, ServiceError, Services,
};
use bulkhead_store::Store;
use bulkhead_store_sqlite::{DATABASE_FILE, SqliteStore};
use time::macros::datetime;

pub struct World {
    pub services: std::sync::Arc<Services>,
    pub clock: Arc<ManualClock>,
    pub store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

impl World {
    pub fn new() -> Self {
        Self::with_limits(RateLimitSettings::default())
    }

    pub fn with_limits(limits: RateLimitSettings) -> Self {
        Self::build(limits, |store| store)
    }

    /// Services over the store as `wrap` wraps it (to inject faults).
    pub fn with_store(wrap: impl FnOnce(Arc<dyn Store>) -> Arc<dyn Store>) -> Self {
        Self::build(RateLimitSettings::default(), wrap)
    }

    fn build(
        limits: RateLimitSettings,
        wrap: impl FnOnce(Arc<dyn Store>) -> Arc<dyn Store>,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(datetime!(2026-06-01 12:00 UTC)));
        let store: Arc<dyn Store> = wrap(Arc::new(
            SqliteStore::open(&dir.path().join(DATABASE_FILE), clock.now()).unwrap(),
        ));
        let keys = Keys::fixed(KeyRing::from_file_secret(&[9; 32], clock.now()).unwrap());
        let services = Services::with_limits(
            Arc::clone(&store),
            clock.clone(),
            keys,
            AuthSettings::default(),
            limits,
        )
        .unwrap();
        Self {
            services,
            clock,
            store,
            _dir: dir,
        }
    }

    pub fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }

    /// Signs `email` up from `ip` with [`PASSWORD`].
    pub async fn signup(&self, email: &str, ip: &str) -> Tokens {
        let identity = &self.services.identity;
        identity
            .signup(email, PASSWORD, None, &ctx(ip))
            .await
            .unwrap()
    }

    pub async fn login(
        &self,
        email: &str,
        password: &str,
        ip: &str,
    ) -> Result<Tokens, ServiceError> {
        self.services
            .identity
            .login(email, password, &ctx(ip))
            .await
    }

    pub async fn refresh(&self, tokens: &Tokens, ip: &str) -> Result<Tokens, ServiceError> {
        let identity = &self.services.identity;
        identity.refresh(&tokens.refresh_token, &ctx(ip)).await
    }

    pub async fn authenticate(&self, tokens: &Tokens) -> Result<Principal, ServiceError> {
        self.services
            .identity
            .authenticate(&tokens.access_token)
            .await
    }
}

/// The failure a wrong password and an unknown email share.
pub fn assert_invalid_credentials<T: std::fmt::Debug>(result: Result<T, ServiceError>) {
    assert!(
        matches!(result, Err(ServiceError::InvalidCredentials)),
        "{result:?}"
    );
}

/// How long a throttled login is told to wait.
pub fn throttled_secs(result: Result<Tokens, ServiceError>) -> u64 {
    match result {
        Err(ServiceError::Throttled { retry_after_secs }) => retry_after_secs,
        other => panic!("expected a 429: {other:?}"),
    }
}

pub fn ctx(ip: &str) -> RequestContext {
    RequestContext {
        ip: Some(ip.into()),
        user_agent: Some("tests".into()),
        request_id: None,
    }
}

pub const PASSWORD: &str = "correct horse battery";
