//! Signing keys on SQLite.

use async_trait::async_trait;
use bulkhead_store::{Result, SigningKey, SigningKeys};
use rusqlite::params;
use time::OffsetDateTime;

use super::SqlitePlatformTx;
use crate::codec::{Micros, opt_micros};
use crate::rows::{self, SIGNING_KEY_COLUMNS};

#[async_trait]
impl SigningKeys for SqlitePlatformTx {
    async fn lock_signing_keys(&mut self) -> Result<()> {
        // Write transactions already hold SQLite's only write lock.
        Ok(())
    }

    async fn signing_keys(&mut self) -> Result<Vec<SigningKey>> {
        let sql = format!(
            "SELECT {SIGNING_KEY_COLUMNS} FROM signing_keys ORDER BY created_at DESC, kid DESC"
        );
        self.tx
            .statement(&sql, |s| s.query_map([], rows::signing_key)?.collect())
    }

    async fn insert_signing_key(&mut self, key: SigningKey) -> Result<()> {
        let sql = "INSERT INTO signing_keys (kid, secret, created_at, retired_at)
                   VALUES (?1, ?2, ?3, ?4)";
        let binds = params![
            key.kid,
            key.secret,
            Micros(key.created_at),
            opt_micros(key.retired_at)
        ];
        self.tx.statement(sql, |s| s.execute(binds))?;
        Ok(())
    }

    async fn retire_signing_keys(&mut self, except_kid: &str, at: OffsetDateTime) -> Result<u64> {
        let sql = "UPDATE signing_keys SET retired_at = ?2 WHERE kid <> ?1 AND retired_at IS NULL";
        let binds = params![except_kid, Micros(at)];
        Ok(self.tx.statement(sql, |s| s.execute(binds))? as u64)
    }
}
