//! Signing keys on PostgreSQL.

use async_trait::async_trait;
use bulkhead_store::{Result, SigningKey, SigningKeys};
use time::OffsetDateTime;

use super::PgPlatformTx;
use crate::codec::{self, SIGNING_KEY_COLUMNS};

/// The first key of the advisory lock that serialises signing-key bootstrap
/// and rotation ("keys").
const SIGNING_KEYS_LOCK: i64 = 0x6b65_7973;

#[async_trait]
impl SigningKeys for PgPlatformTx {
    async fn lock_signing_keys(&mut self) -> Result<()> {
        let statement = sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(SIGNING_KEYS_LOCK);
        self.tx.execute(statement).await?;
        Ok(())
    }

    async fn signing_keys(&mut self) -> Result<Vec<SigningKey>> {
        let sql = format!(
            "SELECT {SIGNING_KEY_COLUMNS} FROM signing_keys ORDER BY created_at DESC, kid DESC"
        );
        self.tx.all(sqlx::query(&sql), codec::signing_key).await
    }

    async fn insert_signing_key(&mut self, key: SigningKey) -> Result<()> {
        let statement = sqlx::query(
            "INSERT INTO signing_keys (kid, secret, created_at, retired_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&key.kid)
        .bind(&key.secret)
        .bind(key.created_at)
        .bind(key.retired_at);
        self.tx.execute(statement).await?;
        Ok(())
    }

    async fn retire_signing_keys(&mut self, except_kid: &str, at: OffsetDateTime) -> Result<u64> {
        let statement = sqlx::query(
            "UPDATE signing_keys SET retired_at = $2 WHERE kid <> $1 AND retired_at IS NULL",
        )
        .bind(except_kid)
        .bind(at);
        self.tx.execute(statement).await
    }
}
