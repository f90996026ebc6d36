//! A tenant's URL name.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A tenant slug: 3–63 characters of `a-z`, `0-9` and `-`, neither starting
/// nor ending with a dash, and not one of the [reserved](TenantSlug::RESERVED)
/// names. 63 is a DNS label's limit, so a slug always fits a subdomain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantSlug(String);

/// Why a text is not a [`TenantSlug`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSlug {
    #[error("slug must be 3 to 63 characters long")]
    Length,
    #[error("slug may contain only a-z, 0-9 and '-'")]
    Characters,
    #[error("slug must not start or end with '-'")]
    EdgeDash,
    #[error("slug is reserved")]
    Reserved,
}

impl TenantSlug {
    pub const MIN_LEN: usize = 3;
    pub const MAX_LEN: usize = 63;

    /// Names that would collide with our own routes or subdomains, or that a
    /// phisher would love to own.
    pub const RESERVED: &'static [&'static str] = &[
        "admin",
        "administrator",
        "api",
        "app",
        "assets",
        "auth",
        "billing",
        "bulkhead",
        "console",
        "dashboard",
        "docs",
        "help",
        "internal",
        "login",
        "logout",
        "mail",
        "me",
        "metrics",
        "new",
        "null",
        "platform",
        "root",
        "security",
        "settings",
        "signup",
        "static",
        "status",
        "support",
        "system",
        "undefined",
        "www",
    ];

    pub fn parse(text: &str) -> Result<Self, InvalidSlug> {
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&text.len()) {
            return Err(InvalidSlug::Length);
        }
        if !text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(InvalidSlug::Characters);
        }
        if text.starts_with('-') || text.ends_with('-') {
            return Err(InvalidSlug::EdgeDash);
        }
        if Self::RESERVED.contains(&text) {
            return Err(InvalidSlug::Reserved);
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for TenantSlug {
    type Error = InvalidSlug;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<TenantSlug> for String {
    fn from(slug: TenantSlug) -> Self {
        slug.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_slugs_are_accepted() {
        for text in ["acme", "a-1", "abc", "x".repeat(63).as_str(), "team-42-eu"] {
            assert!(TenantSlug::parse(text).is_ok(), "{text:?} was rejected");
        }
    }

    #[test]
    fn each_rule_has_its_own_error() {
        let cases = [
            ("ab", InvalidSlug::Length),
            (&"x".repeat(64), InvalidSlug::Length),
            ("Acme", InvalidSlug::Characters),
            ("ac_me", InvalidSlug::Characters),
            ("acmé", InvalidSlug::Characters),
            ("-acme", InvalidSlug::EdgeDash),
            ("acme-", InvalidSlug::EdgeDash),
            ("admin", InvalidSlug::Reserved),
            ("api", InvalidSlug::Reserved),
            ("www", InvalidSlug::Reserved),
        ];
        for (text, expected) in cases {
            assert_eq!(TenantSlug::parse(text), Err(expected), "{text:?}");
        }
    }
}
