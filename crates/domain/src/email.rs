//! An email address, normalised once at the edge.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A syntactically plausible email address.
///
/// Parsing trims surrounding whitespace and lower-cases the domain. The local
/// part keeps its case: RFC 5321 lets a mail server treat it case-sensitively,
/// so two addresses differing only there may belong to two people. Uniqueness
/// of accounts is decided on this normalised form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

/// Why a text is not an [`Email`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidEmail {
    #[error("email must not be empty")]
    Empty,
    #[error("email must be at most {max} characters", max = Email::MAX_LEN)]
    TooLong,
    #[error("email must have the form name@domain")]
    Malformed,
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
        let (local, domain) = text.rsplit_once('@').ok_or(InvalidEmail::Malformed)?;
        let domain_ok = !domain.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '.');
        let local_ok = !local.is_empty()
            && local.len() <= Self::MAX_LOCAL_LEN
            && !local.contains('@')
            && !local.chars().any(|c| c.is_whitespace() || c.is_control());
        if !domain_ok || !local_ok {
            return Err(InvalidEmail::Malformed);
        }
        Ok(Self(format!("{local}@{}", domain.to_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
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
        email.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing_trims_and_lower_cases_only_the_domain() {
        let email = Email::parse("  Ada.Lovelace@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "Ada.Lovelace@example.com");
    }

    #[test]
    fn addresses_differing_in_domain_case_are_equal() {
        assert_eq!(
            Email::parse("ada@EXAMPLE.com").unwrap(),
            Email::parse("ada@example.com").unwrap()
        );
    }

    #[test]
    fn malformed_addresses_are_rejected() {
        for text in [
            "",
            "   ",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "ada@.example.com",
            "ada@example..com",
            "a da@example.com",
            "ada@exa mple.com",
        ] {
            assert!(Email::parse(text).is_err(), "{text:?} was accepted");
        }
    }

    #[test]
    fn over_long_addresses_are_rejected() {
        let local = "a".repeat(64);
        let domain = format!("{}.com", "b".repeat(Email::MAX_LEN));
        assert_eq!(
            Email::parse(&format!("{local}@{domain}")),
            Err(InvalidEmail::TooLong)
        );
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert_eq!(Email::parse(&long_local), Err(InvalidEmail::Malformed));
    }
}
