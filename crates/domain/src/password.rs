//! A password that passed the length policy and never prints.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

/// A candidate password that satisfies the policy: 12 to 128 characters
/// (Unicode scalar values) and not a commonly used password. No composition
/// rules, no case folding, no trimming and no truncation: the bytes hashed
/// are exactly the bytes typed (ASVS v5 6.2).
///
/// `Debug` and `Display` print a placeholder, so a password cannot end up in
/// a log line by accident.
pub struct Password(SecretString);

/// Why a text is not an acceptable [`Password`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPassword {
    #[error("password must be at least {min} characters", min = Password::MIN_CHARS)]
    TooShort,
    #[error("password must be at most {max} characters", max = Password::MAX_CHARS)]
    TooLong,
    #[error("password is too common; choose one that is not on lists of leaked passwords")]
    Common,
}

/// Common passwords long enough to pass the length rule (see the file's header).
const COMMON: &str = include_str!("../data/common-passwords.txt");

fn is_common(text: &str) -> bool {
    let lowered = text.to_lowercase();
    COMMON
        .lines()
        .filter(|line| !line.starts_with('#'))
        .any(|common| common == lowered)
}

impl Password {
    pub const MIN_CHARS: usize = 12;
    pub const MAX_CHARS: usize = 128;

    pub fn parse(text: &str) -> Result<Self, InvalidPassword> {
        let n_chars = text.chars().count();
        if n_chars < Self::MIN_CHARS {
            return Err(InvalidPassword::TooShort);
        }
        if n_chars > Self::MAX_CHARS {
            return Err(InvalidPassword::TooLong);
        }
        if is_common(text) {
            return Err(InvalidPassword::Common);
        }
        Ok(Self(SecretString::from(text)))
    }

    /// The password's text, for the hasher and nothing else.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_length_policy_has_sharp_edges() {
        assert_eq!(
            Password::parse(&"a".repeat(11)).unwrap_err(),
            InvalidPassword::TooShort
        );
        assert!(Password::parse(&"a".repeat(12)).is_ok());
        assert!(Password::parse(&"a".repeat(64)).is_ok());
        assert!(Password::parse(&"a".repeat(128)).is_ok());
        assert_eq!(
            Password::parse(&"a".repeat(129)).unwrap_err(),
            InvalidPassword::TooLong
        );
    }

    #[test]
    fn length_counts_characters_and_keeps_every_byte() {
        let text = "🔐🦀密码パスワー".repeat(8);
        assert_eq!(text.chars().count(), 64);
        let password = Password::parse(&text).unwrap();
        assert_eq!(password.expose().as_bytes(), text.as_bytes());
    }

    #[test]
    fn common_passwords_are_rejected_whatever_their_case() {
        for text in [
            "password123456",
            "Password123456",
            "qwerty123456",
            "1q2w3e4r5t6y",
        ] {
            assert_eq!(
                Password::parse(text).unwrap_err(),
                InvalidPassword::Common,
                "{text}"
            );
        }
        assert!(Password::parse("correct horse battery staple").is_ok());
    }

    #[test]
    fn surrounding_spaces_are_part_of_the_password() {
        let password = Password::parse("  correct horse  ").unwrap();
        assert_eq!(password.expose(), "  correct horse  ");
    }

    #[test]
    fn debug_output_never_shows_the_password() {
        let password = Password::parse("hunter2hunter2hunter2").unwrap();
        assert!(!format!("{password:?}").contains("hunter2"));
    }
}
