//! The one form of an email domain: lower-case A-labels (punycode).
//!
//! `bücher.de`, `BÜCHER.de` and `xn--bcher-kva.de` are one domain; storing
//! and comparing the ASCII form makes them one account. UTS #46 processing
//! (the `idna` crate, non-transitional, STD3 rules, DNS lengths) maps the
//! Unicode form, and each label's Unicode form is then held to the same
//! character rules as the local part.

use super::{InvalidEmail, characters};

/// The canonical ASCII form of `domain` (already NFKC), or why it is refused.
pub(super) fn canonical(domain: &str) -> Result<String, InvalidEmail> {
    let shape_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || characters::is_mark(c) || c == '-' || c == '.');
    if !shape_ok {
        return Err(InvalidEmail::Malformed);
    }
    let ascii = idna::domain_to_ascii_strict(domain).map_err(|_| InvalidEmail::InvalidDomain)?;
    let (unicode, decoded) = idna::domain_to_unicode(&ascii);
    decoded.map_err(|_| InvalidEmail::InvalidDomain)?;
    for label in unicode.split('.') {
        characters::check_part(label)?;
    }
    Ok(ascii)
}

/// The ASCII form of any stored or typed domain, without refusing anything:
/// UTS #46 when it applies, the lower-cased text when it does not. Used for
/// keys of addresses accepted before today's rules.
pub(super) fn lenient(domain: &str) -> String {
    idna::domain_to_ascii(domain).unwrap_or_else(|_| domain.to_lowercase())
}
