//! A `Services` over a fresh SQLite file and a manual clock.

use std::sync::Arc;

use bulkhead_domain::{Clock, ManualClock};
use bulkhead_service::signing_keys::KeyRing;
use bulkhead_service::{AuthSettings, Keys, RequestContext, Services};
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
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(datetime!(2026-06-01 12:00 UTC)));
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.path().join(DATABASE_FILE), clock.now()).unwrap());
        let keys = Keys::fixed(KeyRing::from_file_secret(&[9; 32], clock.now()).unwrap());
        let services = Services::new(
            Arc::clone(&store),
            clock.clone(),
            keys,
            AuthSettings::default(),
        )
        .unwrap();
        Self {
            services,
            clock,
            store,
            _dir: dir,
        }
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
