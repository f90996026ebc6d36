//! Random secrets and the shapes of the tokens built from them.
//!
//! Every opaque token is 256 bits from the operating system's CSPRNG, and
//! only its SHA-256 is stored (a 256-bit secret needs no slow hash). Tokens
//! that must find their row without a cross-tenant lookup carry the row's
//! tenant and id in clear before the secret: an API key or invitation is
//! looked up inside its own tenant, by id, and then compared in constant
//! time.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bulkhead_domain::TenantId;
use bulkhead_domain::id::Id;
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::ServiceError;

/// 256 random bits.
pub fn random_secret() -> Result<[u8; 32], ServiceError> {
    let mut secret = [0u8; 32];
    OsRng
        .try_fill_bytes(&mut secret)
        .map_err(|error| ServiceError::Randomness(error.to_string()))?;
    Ok(secret)
}

pub fn sha256(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// Compares two digests in constant time.
pub fn same_digest(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.ct_eq(b).into()
}

/// A refresh token: just the secret, base64url. Found by its hash.
pub fn new_refresh_token() -> Result<String, ServiceError> {
    Ok(URL_SAFE_NO_PAD.encode(random_secret()?))
}

/// A token that names its tenant and row: `{prefix}{base64url(tenant ‖ id ‖ secret)}`.
pub fn new_scoped_token<K>(
    prefix: &str,
    tenant: TenantId,
    id: Id<K>,
) -> Result<String, ServiceError> {
    let mut bytes = Vec::with_capacity(64);
    bytes.extend_from_slice(tenant.as_bytes());
    bytes.extend_from_slice(id.as_bytes());
    bytes.extend_from_slice(&random_secret()?);
    Ok(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// Reads the tenant and row id out of a scoped token; `None` if it is not one.
pub fn parse_scoped_token<K>(prefix: &str, token: &str) -> Option<(TenantId, Id<K>)> {
    let encoded = token.strip_prefix(prefix)?;
    let bytes = URL_SAFE_NO_PAD.decode(encoded).ok()?;
    if bytes.len() != 64 {
        return None;
    }
    let tenant = Uuid::from_slice(&bytes[..16]).ok()?;
    let id = Uuid::from_slice(&bytes[16..32]).ok()?;
    Some((Id::from_uuid(tenant), Id::from_uuid(id)))
}

/// API keys start with this, so they are recognisable (and findable by
/// secret scanners) and never mistaken for a JWT.
pub const API_KEY_PREFIX: &str = "bk_";
/// Invitation tokens start with this.
pub const INVITATION_PREFIX: &str = "bki_";
/// How many leading characters of an API key are kept to tell keys apart.
pub const API_KEY_DISPLAY_LEN: usize = 12;

#[cfg(test)]
mod tests {
    use super::*;
    use bulkhead_domain::{ApiKeyId, TenantId};

    #[test]
    fn scoped_tokens_carry_their_tenant_and_id_and_differ_every_time() {
        let (tenant, key) = (TenantId::new(), ApiKeyId::new());
        let first = new_scoped_token(API_KEY_PREFIX, tenant, key).unwrap();
        let second = new_scoped_token(API_KEY_PREFIX, tenant, key).unwrap();
        assert_ne!(first, second);
        assert!(first.starts_with("bk_"));
        assert_eq!(
            parse_scoped_token(API_KEY_PREFIX, &first),
            Some((tenant, key))
        );
        let wrong_prefix: Option<(TenantId, ApiKeyId)> =
            parse_scoped_token(INVITATION_PREFIX, &first);
        assert_eq!(wrong_prefix, None);
        let short: Option<(TenantId, ApiKeyId)> = parse_scoped_token(API_KEY_PREFIX, "bk_short");
        assert_eq!(short, None);
    }

    #[test]
    fn refresh_tokens_carry_256_bits() {
        let token = new_refresh_token().unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(&token).unwrap().len(), 32);
    }

    #[test]
    fn digests_compare_by_value() {
        assert!(same_digest(&sha256("a"), &sha256("a")));
        assert!(!same_digest(&sha256("a"), &sha256("b")));
    }
}
