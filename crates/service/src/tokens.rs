//! JWT access tokens.
//!
//! One algorithm, HS256, pinned on both sides: a token naming any other
//! (`none` included) fails verification. The header's `kid` picks the key
//! from the [`Keys`] ring; header-supplied keys (`jwk`, `jku`, `x5u`) are
//! never consulted. Every claim is required and checked: `iss`, `aud`,
//! `sub`, `sid`, `exp` (at most 15 minutes after `iat`), `iat`, `jti` and
//! `typ = "access"`, with an explicit 30-second leeway.

use std::collections::HashMap;
use std::sync::RwLock;

use bulkhead_domain::{SessionId, UserId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ServiceError;
use crate::keys::Keys;
use crate::signing_keys::{ACCESS_TOKEN_TTL, LEEWAY};

const ALGORITHM: Algorithm = Algorithm::HS256;
const TOKEN_TYPE: &str = "access";

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub sid: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub typ: String,
}

/// Who a verified access token speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedToken {
    pub user: UserId,
    pub session: SessionId,
    pub expires_at: i64,
}

/// Above this many remembered tokens the memory is cleared (a crude bound).
const MAX_REMEMBERED: usize = 100_000;

/// Issues and verifies access tokens for one deployment.
#[derive(Debug)]
pub struct AccessTokens {
    issuer: String,
    audience: String,
    /// Tokens that passed [`AccessTokens::verify`], by their exact text, with
    /// the kid that signed them. A client sends the same token on every
    /// request for up to 15 minutes; decoding and checking it again cost a
    /// tenth of a record read's CPU. Expiry and the key are checked on every
    /// use, so a remembered token fails when a fresh one would.
    remembered: RwLock<HashMap<Box<str>, (VerifiedToken, String)>>,
}

impl AccessTokens {
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            remembered: RwLock::default(),
        }
    }

    /// A token for `user` in `session`, valid for [`ACCESS_TOKEN_TTL`].
    pub fn issue(
        &self,
        keys: &Keys,
        user: UserId,
        session: SessionId,
        now: OffsetDateTime,
    ) -> Result<String, ServiceError> {
        let ring = keys.current();
        let iat = now.unix_timestamp();
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user.to_string(),
            sid: session.to_string(),
            exp: iat + ACCESS_TOKEN_TTL.whole_seconds(),
            iat,
            jti: uuid::Uuid::now_v7().to_string(),
            typ: TOKEN_TYPE.into(),
        };
        let header = Header {
            kid: Some(ring.active.kid.clone()),
            typ: Some("at+jwt".into()),
            ..Header::new(ALGORITHM)
        };
        jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_secret(&ring.active.secret),
        )
        .map_err(|error| ServiceError::InvalidKey(error.to_string()))
    }

    /// Verifies a token's signature and every claim at time `now`.
    pub fn verify(&self, keys: &Keys, token: &str, now: OffsetDateTime) -> Option<VerifiedToken> {
        let remembered = self
            .remembered
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .cloned();
        if let Some((verified, kid)) = remembered {
            let live = now.unix_timestamp() <= verified.expires_at + LEEWAY.whole_seconds();
            return (live && keys.current().verifying_key(&kid).is_some()).then_some(verified);
        }
        let (verified, kid) = self.verify_afresh(keys, token, now)?;
        let mut remembered = self.remembered.write().unwrap_or_else(|p| p.into_inner());
        if remembered.len() >= MAX_REMEMBERED {
            remembered.clear();
        }
        remembered.insert(token.into(), (verified, kid));
        Some(verified)
    }

    /// [`AccessTokens::verify`] without the memory: decodes and checks it
    /// all. Returns the kid too.
    fn verify_afresh(
        &self,
        keys: &Keys,
        token: &str,
        now: OffsetDateTime,
    ) -> Option<(VerifiedToken, String)> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.alg != ALGORITHM {
            return None;
        }
        let kid = header.kid?;
        let key = keys.verifying_key(&kid)?;
        let mut validation = Validation::new(ALGORITHM);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY.whole_seconds().unsigned_abs();
        validation.validate_exp = false; // checked below against our clock
        validation.validate_nbf = false;
        let data = jsonwebtoken::decode::<AccessClaims>(
            token,
            &DecodingKey::from_secret(&key.secret),
            &validation,
        )
        .ok()?;
        let claims = data.claims;
        let now = now.unix_timestamp();
        let leeway = LEEWAY.whole_seconds();
        let lifetime = claims.exp - claims.iat;
        if claims.typ != TOKEN_TYPE
            || now > claims.exp + leeway
            || claims.iat > now + leeway
            || lifetime <= 0
            || lifetime > ACCESS_TOKEN_TTL.whole_seconds()
            || claims.jti.is_empty()
        {
            return None;
        }
        let verified = VerifiedToken {
            user: claims.sub.parse().ok()?,
            session: claims.sid.parse().ok()?,
            expires_at: claims.exp,
        };
        Some((verified, kid))
    }
}

#[cfg(test)]
mod tests;
