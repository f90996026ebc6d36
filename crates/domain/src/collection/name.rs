//! Names of collections and of their fields.
//!
//! Both follow one rule, `[a-z][a-z0-9_]{0,62}`, so a name is safe to use as
//! a JSON key, in a URL path and (quoted or not) as an identifier in either
//! database, and never needs escaping in the filter language.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest name: 63 bytes, PostgreSQL's identifier limit.
pub const MAX_NAME_LEN: usize = 63;

/// The fields every record has, kept by the server rather than written by
/// clients. A [`FieldName`] may not take one of these names.
pub const SYSTEM_FIELDS: [&str; 5] = ["id", "owner_id", "version", "created_at", "updated_at"];

/// Why a text is not a [`CollectionName`] or a [`FieldName`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidName {
    #[error("name must be 1 to {MAX_NAME_LEN} characters long")]
    Length,
    #[error("name must start with a-z")]
    Start,
    #[error("name may contain only a-z, 0-9 and '_'")]
    Characters,
    #[error("'{0}' is a system field")]
    SystemField(String),
}

/// Checks the shared rule `[a-z][a-z0-9_]{0,62}`.
fn check_name(text: &str) -> Result<(), InvalidName> {
    if text.is_empty() || text.len() > MAX_NAME_LEN {
        return Err(InvalidName::Length);
    }
    if !text.as_bytes()[0].is_ascii_lowercase() {
        return Err(InvalidName::Start);
    }
    if !text
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(InvalidName::Characters);
    }
    Ok(())
}

/// The name of a collection within a tenant, such as `orders`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CollectionName(String);

impl CollectionName {
    pub fn parse(text: &str) -> Result<Self, InvalidName> {
        check_name(text)?;
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The name of a data field of a collection, such as `total`: a valid
/// collection name that is not one of the [`SYSTEM_FIELDS`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FieldName(String);

impl FieldName {
    pub fn parse(text: &str) -> Result<Self, InvalidName> {
        check_name(text)?;
        if SYSTEM_FIELDS.contains(&text) {
            return Err(InvalidName::SystemField(text.to_owned()));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! string_conversions {
    ($name:ident) => {
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidName;
            fn try_from(text: String) -> Result<Self, Self::Error> {
                Self::parse(&text)
            }
        }

        impl From<$name> for String {
            fn from(name: $name) -> Self {
                name.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_conversions!(CollectionName);
string_conversions!(FieldName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_are_accepted() {
        let longest = format!("a{}", "b".repeat(62));
        for text in ["a", "orders", "line_items", "x9", "a_", longest.as_str()] {
            assert!(CollectionName::parse(text).is_ok(), "{text:?}");
            assert!(FieldName::parse(text).is_ok(), "{text:?}");
        }
    }

    #[test]
    fn each_rule_has_its_own_error() {
        let too_long = "a".repeat(64);
        let cases = [
            ("", InvalidName::Length),
            (too_long.as_str(), InvalidName::Length),
            ("9lives", InvalidName::Start),
            ("_private", InvalidName::Start),
            ("Orders", InvalidName::Start),
            ("line-items", InvalidName::Characters),
            ("lineItems", InvalidName::Characters),
            ("café", InvalidName::Characters),
        ];
        for (text, expected) in cases {
            assert_eq!(
                CollectionName::parse(text),
                Err(expected.clone()),
                "{text:?}"
            );
            assert_eq!(FieldName::parse(text), Err(expected), "{text:?}");
        }
    }

    #[test]
    fn system_fields_are_collection_names_but_not_field_names() {
        for text in SYSTEM_FIELDS {
            assert!(CollectionName::parse(text).is_ok());
            assert_eq!(
                FieldName::parse(text),
                Err(InvalidName::SystemField(text.to_owned()))
            );
        }
    }

    #[test]
    fn names_deserialize_only_when_valid() {
        let name: FieldName = serde_json::from_str("\"total\"").unwrap();
        assert_eq!(name.as_str(), "total");
        assert!(serde_json::from_str::<FieldName>("\"id\"").is_err());
        assert!(serde_json::from_str::<CollectionName>("\"Bad\"").is_err());
    }
}
