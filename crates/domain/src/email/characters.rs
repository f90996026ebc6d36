//! Which characters an address part may contain, so that no two accepted
//! addresses look alike while their keys differ.
//!
//! Applied to the NFKC form of the local part and to the Unicode form of
//! each domain label:
//!
//! - No invisible or formatting character anywhere: General_Category Cf
//!   (zero-width space and joiners, bidirectional controls, soft hyphen, …),
//!   controls, separators, private use, unassigned code points, and every
//!   Default_Ignorable_Code_Point (variation selectors, Hangul fillers,
//!   combining grapheme joiner, tags). They render as nothing, so an address
//!   with one looks exactly like the address without it.
//! - Outside ASCII, only characters whose UTS #39 Identifier_Status is
//!   Allowed: letters and marks of the scripts in modern use, no symbols,
//!   emoji or historic scripts.
//! - Each part in one script, or in a combination UTS #39 calls "highly
//!   restrictive" (Latin with Han and Kana, Han and Bopomofo, or Han and
//!   Hangul). Latin mixed with Cyrillic or Greek, the classic lookalike
//!   (`exаmple` with a Cyrillic `а`), is refused.
//! - A combining mark that NFKC left standing must sit on a letter of a script
//!   whose writing needs such marks. See [`check_marks`] for the rule.

use icu_properties::props::{
    DefaultIgnorableCodePoint, GeneralCategory, GeneralCategoryGroup, Script,
};
use icu_properties::{CodePointMapData, CodePointSetData};
use unicode_security::{GeneralSecurityProfile, RestrictionLevel, RestrictionLevelDetection};

use super::InvalidEmail;

/// Longest run of combining marks on one base (UTS #39 section 5.4 suggests
/// refusing more than four nonspacing marks in a row).
const MAX_MARKS_PER_BASE: usize = 4;

/// Scripts in which a combining mark left after NFKC is a lookalike rather
/// than spelling: their alphabets have a precomposed code point for every
/// letter with a diacritic that their orthographies use, which NFKC
/// produces, so `e` + U+0301 becomes `é`. A mark that stays separate (on
/// `X`, say) adds nothing a reader can rely on seeing: it can render as a
/// faint dot or overlap the letter. Common covers digits and shared
/// letters such as `ª`.
const SCRIPTS_WITHOUT_STANDALONE_MARKS: &[Script] = &[
    Script::Latin,
    Script::Greek,
    Script::Cyrillic,
    Script::Armenian,
    Script::Georgian,
    Script::Common,
    Script::Inherited,
];

/// Whether `character` renders as nothing, or only changes how its
/// neighbours render.
pub(super) fn is_invisible(character: char) -> bool {
    let category = CodePointMapData::<GeneralCategory>::new().get(character);
    matches!(
        category,
        GeneralCategory::Format
            | GeneralCategory::Control
            | GeneralCategory::PrivateUse
            | GeneralCategory::Surrogate
            | GeneralCategory::Unassigned
            | GeneralCategory::SpaceSeparator
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    ) || is_default_ignorable(character)
}

/// Characters that render as nothing unless a font chooses to show them.
pub(super) fn is_default_ignorable(character: char) -> bool {
    CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(character)
}

pub(super) fn is_mark(character: char) -> bool {
    GeneralCategoryGroup::Mark.contains(CodePointMapData::<GeneralCategory>::new().get(character))
}

fn is_letter(character: char) -> bool {
    GeneralCategoryGroup::Letter.contains(CodePointMapData::<GeneralCategory>::new().get(character))
}

/// Checks one part (the local part, or one domain label) in its NFKC form.
pub(super) fn check_part(part: &str) -> Result<(), InvalidEmail> {
    if let Some(character) = part.chars().find(|c| is_invisible(*c)) {
        return Err(InvalidEmail::InvisibleCharacter(character));
    }
    check_marks(part)?;
    if let Some(character) = part
        .chars()
        .find(|c| !c.is_ascii() && !c.identifier_allowed())
    {
        return Err(InvalidEmail::DisallowedCharacter(character));
    }
    // ASCII punctuation (`.`, `+`, `_`, …) belongs to no script, and UTS #39
    // does not count most of it as identifier characters; leave it out so
    // the level describes the letters and digits.
    let letters: String = part.chars().filter(|c| !c.is_ascii_punctuation()).collect();
    if letters.as_str().detect_restriction_level() > RestrictionLevel::HighlyRestrictive {
        return Err(InvalidEmail::MixedScripts);
    }
    Ok(())
}

/// The rule for combining marks that NFKC did not compose: a mark must
/// follow a letter (or that letter's earlier marks, at most
/// [`MAX_MARKS_PER_BASE`] of them, never the same mark twice in a row), and
/// the letter must belong to a script outside
/// [`SCRIPTS_WITHOUT_STANDALONE_MARKS`]. So Devanagari, Bengali, Thai,
/// Arabic or Hebrew addresses, whose vowel signs and viramas are marks, are
/// accepted, while `victimX` + U+0301 is refused. The price: the rare Latin
/// spellings that have no precomposed letter (Yoruba `ẹ́`, Lithuanian
/// accented `i̇́`) cannot be used in an address.
pub(super) fn check_marks(part: &str) -> Result<(), InvalidEmail> {
    let scripts = CodePointMapData::<Script>::new();
    let mut base_allows_marks = false;
    let mut marks_on_base = 0;
    let mut previous_mark = None;
    for character in part.chars() {
        if !is_mark(character) {
            base_allows_marks = is_letter(character)
                && !SCRIPTS_WITHOUT_STANDALONE_MARKS.contains(&scripts.get(character));
            marks_on_base = 0;
            previous_mark = None;
            continue;
        }
        marks_on_base += 1;
        if !base_allows_marks
            || marks_on_base > MAX_MARKS_PER_BASE
            || previous_mark == Some(character)
        {
            return Err(InvalidEmail::StrayCombiningMark(character));
        }
        previous_mark = Some(character);
    }
    Ok(())
}
