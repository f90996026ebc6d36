//! Password hashing: Argon2id with OWASP's minimum parameters, stored as a
//! PHC string so old hashes keep verifying after the parameters go up.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use bulkhead_domain::Password;
use rand::RngCore;
use rand::rngs::OsRng;

use crate::ServiceError;

/// Memory cost in KiB (19 MiB): OWASP's minimum for Argon2id with t = 2.
pub const MEMORY_KIB: u32 = 19_456;
/// Number of passes over memory.
pub const TIME_COST: u32 = 2;
/// Lanes. One, so a hash costs the same on every machine.
pub const PARALLELISM: u32 = 1;
/// Salt length in bytes; 16 is what Kanidm and the PHC reference use.
const SALT_LEN: usize = 16;

/// The outcome of checking a candidate password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The password matches. When `needs_rehash` is set, the stored hash was
    /// made with weaker parameters than today's and should be replaced by
    /// [`hash_password`] of the same password while it is at hand.
    Valid {
        needs_rehash: bool,
    },
    Invalid,
}

fn hasher() -> Result<Argon2<'static>, ServiceError> {
    let params = Params::new(MEMORY_KIB, TIME_COST, PARALLELISM, None)
        .map_err(|error| ServiceError::Hashing(error.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password with a fresh random salt, returning a PHC string such
/// as `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`.
///
/// This takes tens of milliseconds of CPU on purpose; async callers on a
/// request path should run it on a blocking thread.
pub fn hash_password(password: &Password) -> Result<String, ServiceError> {
    let mut salt = [0u8; SALT_LEN];
    OsRng
        .try_fill_bytes(&mut salt)
        .map_err(|error| ServiceError::Randomness(error.to_string()))?;
    let salt =
        SaltString::encode_b64(&salt).map_err(|error| ServiceError::Hashing(error.to_string()))?;
    let hash = hasher()?
        .hash_password(password.expose().as_bytes(), &salt)
        .map_err(|error| ServiceError::Hashing(error.to_string()))?;
    Ok(hash.to_string())
}

/// Checks `candidate` against a stored PHC string, using the parameters
/// recorded in the hash itself.
///
/// The candidate is a plain string rather than a [`Password`]: whatever
/// someone types at login is checked, even if it would fail today's length
/// policy, and simply does not match.
pub fn verify_password(hash: &str, candidate: &str) -> Verification {
    let parsed = match PasswordHash::new(hash) {
        Ok(parsed) => parsed,
        Err(error) => {
            // A stored hash that does not parse is corruption, not a wrong
            // password; say so in the log but never let it authenticate.
            tracing::error!(%error, "stored password hash is not a valid PHC string");
            return Verification::Invalid;
        }
    };
    // `Argon2::default()` only supplies the verifier; the algorithm, version
    // and costs come from `parsed`.
    match Argon2::default().verify_password(candidate.as_bytes(), &parsed) {
        Ok(()) => Verification::Valid {
            needs_rehash: is_weaker_than_current(&parsed),
        },
        Err(_) => Verification::Invalid,
    }
}

/// Whether a hash was made with another algorithm, an older version or
/// lower costs than [`hash_password`] uses now.
fn is_weaker_than_current(hash: &PasswordHash<'_>) -> bool {
    if hash.algorithm != Algorithm::Argon2id.ident() {
        return true;
    }
    if hash
        .version
        .is_some_and(|version| version < Version::V0x13 as u32)
    {
        return true;
    }
    match Params::try_from(hash) {
        Ok(params) => params.m_cost() < MEMORY_KIB || params.t_cost() < TIME_COST,
        Err(_) => true,
    }
}

/// Characters of generated passwords: letters and digits without the ones
/// people confuse when reading them aloud or copying by hand (0/O/o, 1/l/I).
const ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz";
/// 24 characters of a 56-letter alphabet carry 24 × log2(56) ≈ 139 bits.
pub const GENERATED_LEN: usize = 24;

/// A random password for an account whose owner did not choose one, drawn
/// from the operating system's CSPRNG.
pub fn generate_password() -> Result<Password, ServiceError> {
    // Rejection sampling keeps every character equally likely: bytes at or
    // above the largest multiple of the alphabet size are discarded.
    let limit = (256 / ALPHABET.len() * ALPHABET.len()) as u8;
    let mut text = String::with_capacity(GENERATED_LEN);
    let mut buffer = [0u8; 64];
    while text.len() < GENERATED_LEN {
        OsRng
            .try_fill_bytes(&mut buffer)
            .map_err(|error| ServiceError::Randomness(error.to_string()))?;
        for byte in buffer.iter().filter(|byte| **byte < limit) {
            if text.len() == GENERATED_LEN {
                break;
            }
            text.push(char::from(ALPHABET[usize::from(*byte) % ALPHABET.len()]));
        }
    }
    Password::parse(&text).map_err(|error| ServiceError::Hashing(error.to_string()))
}

#[cfg(test)]
mod tests;
