//! An email address, normalised once at the edge, and the key accounts are
//! unique on.
//!
//! - [`characters`]: what an address part may contain (no invisible
//!   characters, no stray combining marks, one script per part).
//! - [`domain`]: the one ASCII form of a domain.
//! - [`key`]: [`EmailKey`], the case-folded form uniqueness is decided on.

mod characters;
mod domain;
mod key;

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

pub use key::EmailKey;

/// An email address accepted for an account or an invitation.
///
/// [`Email::parse`] trims, applies NFKC (so fullwidth `ｖ` is `v`), refuses
/// lookalike material (see [`characters`]) and writes the domain as
/// lower-case A-labels. The local part keeps its case for display; the
/// [`EmailKey`] folds it. Addresses read back from storage use
/// [`Email::from_stored`], which refuses nothing, because accounts created
/// under older rules must keep working.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email {
    address: String,
    /// Computed when first asked for: addresses read back from storage (a
    /// page of members, say) are mostly shown, not compared, and the key
    /// takes four normalisation and folding passes over the text.
    key: OnceLock<EmailKey>,
}

// The key is a function of the address, so the address alone decides.
impl PartialEq for Email {
    fn eq(&self, other: &Self) -> bool {
        self.address == other.address
    }
}

impl Eq for Email {}

impl Hash for Email {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.address.hash(state);
    }
}

/// Why a text is not an [`Email`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidEmail {
    #[error("email must not be empty")]
    Empty,
    #[error("email must be at most {max} characters", max = Email::MAX_LEN)]
    TooLong,
    #[error("email must have the form name@domain")]
    Malformed,
    #[error(
        "email must not contain invisible or formatting characters (found U+{:04X})",
        u32::from(*.0)
    )]
    InvisibleCharacter(char),
    #[error(
        "email must not contain U+{:04X}: outside ASCII only letters, marks and digits in current use are accepted",
        u32::from(*.0)
    )]
    DisallowedCharacter(char),
    #[error(
        "email must not contain the combining mark U+{:04X} here: write the accented letter itself",
        u32::from(*.0)
    )]
    StrayCombiningMark(char),
    #[error(
        "each part of an email must be written in one script (Latin may join Han, Kana or Hangul)"
    )]
    MixedScripts,
    #[error("email domain is not a valid internationalised domain name")]
    InvalidDomain,
}

impl Email {
    /// RFC 5321 caps a forward path at 256 octets, including the angle brackets.
    pub const MAX_LEN: usize = 254;
    const MAX_LOCAL_LEN: usize = 64;

    pub fn parse(text: &str) -> Result<Self, InvalidEmail> {
        let text = text.trim();
        if text.is_empty() {
            return Err(InvalidEmail::Empty);
        }
        if text.len() > Self::MAX_LEN {
            return Err(InvalidEmail::TooLong);
        }
        // NFKC before splitting: a fullwidth `＠` is an `@`.
        let normalized: String = text.nfkc().collect();
        if normalized
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(InvalidEmail::Malformed);
        }
        if let Some(character) = normalized.chars().find(|c| characters::is_invisible(*c)) {
            return Err(InvalidEmail::InvisibleCharacter(character));
        }
        let (local, domain) = normalized.rsplit_once('@').ok_or(InvalidEmail::Malformed)?;
        if local.is_empty() || local.len() > Self::MAX_LOCAL_LEN || local.contains('@') {
            return Err(InvalidEmail::Malformed);
        }
        if domain.is_empty() {
            return Err(InvalidEmail::Malformed);
        }
        let ascii_domain = domain::canonical(domain)?;
        characters::check_part(local)?;
        let address = format!("{local}@{ascii_domain}");
        if address.len() > Self::MAX_LEN {
            return Err(InvalidEmail::TooLong);
        }
        Ok(Self {
            key: OnceLock::from(EmailKey::from_parts(local, &ascii_domain)),
            address,
        })
    }

    /// An address as a store holds it, accepted by the rules of its day:
    /// nothing is refused and the text is kept as it is, so an account
    /// whose address today's rules would refuse still loads and logs in.
    pub fn from_stored(address: &str) -> Self {
        Self {
            key: OnceLock::new(),
            address: address.to_owned(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.address
    }

    /// What uniqueness and comparisons are decided on.
    pub fn key(&self) -> &EmailKey {
        self.key.get_or_init(|| EmailKey::of(&self.address))
    }
}

/// What a login looks an account up by: the key of the typed text, and the
/// text as an account created before keys existed would have stored it
/// (trimmed, domain lower-cased), which picks between old accounts that
/// share a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailLookup {
    pub key: EmailKey,
    pub as_stored_before_keys: String,
}

impl EmailLookup {
    pub fn of(text: &str) -> Self {
        let text = text.trim();
        let as_stored_before_keys = match text.rsplit_once('@') {
            Some((local, domain)) => format!("{local}@{}", domain.to_lowercase()),
            None => text.to_owned(),
        };
        Self {
            key: EmailKey::of(text),
            as_stored_before_keys,
        }
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.address)
    }
}

impl TryFrom<String> for Email {
    type Error = InvalidEmail;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<Email> for String {
    fn from(email: Email) -> Self {
        email.address
    }
}

#[cfg(test)]
mod tests;
