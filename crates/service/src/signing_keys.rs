//! The keys that sign access tokens.
//!
//! Every server process of a deployment must sign with the same key and
//! accept the same keys, so keys live in the database, not in process memory.
//! The first process to start creates one; `bulkhead keys rotate` adds a new
//! one and retires the rest. A retired key keeps verifying until every token
//! it could have signed has expired, so rotation never logs anyone out.

use bulkhead_domain::Clock;
use bulkhead_store::{Access, SigningKey, Store};
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::ServiceError;

/// How long an access token is valid.
pub const ACCESS_TOKEN_TTL: Duration = Duration::minutes(15);
/// Clock skew tolerated when checking a token's expiry.
pub const LEEWAY: Duration = Duration::seconds(30);
/// The shortest secret accepted: 256 bits, the size of the HMAC-SHA-256 output.
pub const MIN_SECRET_LEN: usize = 32;
/// Length of a kid, in hex characters (64 bits: unique among a deployment's keys).
const KID_LEN: usize = 16;

/// The key to sign with, and every key a token may still be signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRing {
    pub active: SigningKey,
    /// The active key first, then retired keys whose tokens may still be
    /// valid, newest first.
    pub verifying: Vec<SigningKey>,
}

impl KeyRing {
    /// A ring of one key supplied by the operator (a secret file) instead of
    /// the database. Its kid is derived from the secret, so every process
    /// given the same file agrees on it without talking to each other.
    pub fn from_file_secret(
        secret: &[u8],
        loaded_at: OffsetDateTime,
    ) -> Result<Self, ServiceError> {
        if secret.len() < MIN_SECRET_LEN {
            return Err(ServiceError::InvalidKey(format!(
                "the secret has {} bytes; at least {MIN_SECRET_LEN} are required",
                secret.len()
            )));
        }
        let digest = hex::encode(Sha256::digest(secret));
        let key = SigningKey {
            kid: digest[..KID_LEN].to_owned(),
            secret: secret.to_vec(),
            created_at: loaded_at,
            retired_at: None,
        };
        Ok(Self {
            verifying: vec![key.clone()],
            active: key,
        })
    }

    /// The ring as of `now`, from the store's keys (newest first).
    fn from_keys(keys: Vec<SigningKey>, now: OffsetDateTime) -> Result<Self, ServiceError> {
        let active = keys
            .iter()
            .find(|key| key.retired_at.is_none())
            .cloned()
            .ok_or_else(|| ServiceError::InvalidKey("the store holds no active key".into()))?;
        let verifying = keys
            .into_iter()
            .filter(|key| match key.retired_at {
                None => true,
                // A token signed just before retirement lives for the TTL,
                // and is accepted for LEEWAY more.
                Some(retired_at) => retired_at + ACCESS_TOKEN_TTL + LEEWAY > now,
            })
            .collect::<Vec<_>>();
        let (mut verifying, others): (Vec<_>, Vec<_>) =
            verifying.into_iter().partition(|key| key.kid == active.kid);
        verifying.extend(others);
        Ok(Self { active, verifying })
    }

    /// The key with this kid, if tokens signed with it are still accepted.
    pub fn verifying_key(&self, kid: &str) -> Option<&SigningKey> {
        self.verifying.iter().find(|key| key.kid == kid)
    }
}

/// Makes sure an active signing key exists and returns the ring.
///
/// Safe to call from several processes at once: the key table is locked for
/// the transaction, so exactly one of them creates the key.
pub async fn ensure_signing_key(
    store: &dyn Store,
    clock: &dyn Clock,
) -> Result<KeyRing, ServiceError> {
    let mut tx = store.platform(Access::Write).await?;
    tx.lock_signing_keys().await?;
    let mut keys = tx.signing_keys().await?;
    let now = clock.now();
    if !keys.iter().any(|key| key.retired_at.is_none()) {
        let key = new_key(now)?;
        tx.insert_signing_key(key.clone()).await?;
        tracing::info!(kid = %key.kid, "created the first signing key");
        keys.insert(0, key);
    }
    tx.commit().await?;
    KeyRing::from_keys(keys, now)
}

/// Creates a new active key and retires every other one.
pub async fn rotate_signing_key(
    store: &dyn Store,
    clock: &dyn Clock,
) -> Result<KeyRing, ServiceError> {
    let now = clock.now();
    let key = new_key(now)?;
    let mut tx = store.platform(Access::Write).await?;
    tx.lock_signing_keys().await?;
    tx.insert_signing_key(key.clone()).await?;
    let n_retired = tx.retire_signing_keys(&key.kid, now).await?;
    let keys = tx.signing_keys().await?;
    tx.commit().await?;
    tracing::info!(kid = %key.kid, n_retired, "rotated the signing key");
    KeyRing::from_keys(keys, now)
}

/// A fresh key: a random kid and 32 random bytes from the OS CSPRNG.
fn new_key(now: OffsetDateTime) -> Result<SigningKey, ServiceError> {
    let mut kid = [0u8; KID_LEN / 2];
    let mut secret = vec![0u8; MIN_SECRET_LEN];
    OsRng
        .try_fill_bytes(&mut kid)
        .and_then(|()| OsRng.try_fill_bytes(&mut secret))
        .map_err(|error| ServiceError::Randomness(error.to_string()))?;
    Ok(SigningKey {
        kid: hex::encode(kid),
        secret,
        created_at: now,
        retired_at: None,
    })
}

#[cfg(test)]
mod tests;
