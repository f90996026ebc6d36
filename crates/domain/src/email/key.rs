//! The key that decides whether two addresses belong to one account.

use std::fmt;

use icu_casemap::CaseMapper;
use unicode_normalization::UnicodeNormalization;

use super::{characters, domain};

/// An address reduced to what a reader can tell apart: the local part under
/// NFKC and full Unicode case folding, `@`, the domain's lower-case
/// A-labels. Accounts are unique on it.
///
/// Folding the local part goes against RFC 5321, which lets a mail server
/// treat `Ada` and `ada` as two mailboxes; no mainstream provider does, and
/// two accounts whose addresses differ only in case look like one person to
/// every member list. The stored address keeps the case it was typed in.
///
/// Full case folding (CaseFolding.txt, status C and F, through ICU4X) rather
/// than `str::to_lowercase`: lower-casing leaves `ß`/`ss`, final `ς`/`σ` and
/// the Greek iota subscript apart, and maps title-case and Cherokee letters
/// differently from the caseless matching Unicode defines. The sequence is
/// the compatibility caseless match of Unicode section 3.13 (D146), ending in
/// NFKC rather than NFKD so the key stays readable.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailKey(String);

impl EmailKey {
    /// The key of any text, refusing nothing: for addresses stored before
    /// today's rules and for what a user types at login. Default-ignorable
    /// characters are dropped, as NFKC_Casefold does, so an old address with
    /// a zero-width space has the key of the address without it. On an
    /// address [`super::Email::parse`] accepts it equals that address's key.
    pub fn of(text: &str) -> Self {
        let visible: String = text
            .trim()
            .chars()
            .filter(|c| !characters::is_default_ignorable(*c))
            .collect();
        let normalized: String = visible.nfkc().collect();
        match normalized.rsplit_once('@') {
            Some((local, domain)) => Self::from_parts(local, &domain::lenient(domain)),
            None => Self(fold(&normalized)),
        }
    }

    /// The key of an address already split and checked: `local` in NFKC,
    /// `ascii_domain` canonical.
    pub(super) fn from_parts(local: &str, ascii_domain: &str) -> Self {
        Self(format!("{}@{ascii_domain}", fold(local)))
    }

    /// The key as stored beside the address (`users.email_key`).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// NFKC(fold(NFKD(fold(NFD(text))))): folding twice because decomposition
/// can expose characters that fold again (U+0345 under a Greek vowel).
fn fold(text: &str) -> String {
    let case_mapper = CaseMapper::new();
    let decomposed: String = text.nfd().collect();
    let once: String = case_mapper.fold_string(&decomposed).nfkd().collect();
    case_mapper.fold_string(&once).nfkc().collect()
}
