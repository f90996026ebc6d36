//! Tests of email parsing, normalisation and keys: each lookalike the outside
//! test found, ordinary and international addresses, and stored old ones.

use super::*;

fn key_of(text: &str) -> EmailKey {
    Email::parse(text).unwrap().key().clone()
}

#[test]
fn parsing_trims_and_lower_cases_only_the_domain() {
    let email = Email::parse("  Ada.Lovelace@Example.COM ").unwrap();
    assert_eq!(email.as_str(), "Ada.Lovelace@example.com");
    assert_eq!(email.key().as_str(), "ada.lovelace@example.com");
}

#[test]
fn addresses_differing_in_domain_case_are_equal() {
    assert_eq!(
        Email::parse("ada@EXAMPLE.com").unwrap(),
        Email::parse("ada@example.com").unwrap()
    );
}

#[test]
fn addresses_differing_in_local_case_share_a_key_but_keep_their_spelling() {
    let upper = Email::parse("Ada@example.com").unwrap();
    let lower = Email::parse("ada@example.com").unwrap();
    assert_ne!(upper.as_str(), lower.as_str());
    assert_eq!(upper.key(), lower.key());
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
        "ada@exa_mple.com",
        "ada@-example.com",
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

// The lookalikes of issue 17, against `victimX@example.com`.

#[test]
fn a_cyrillic_letter_in_the_domain_is_refused_as_mixed_scripts() {
    assert_eq!(
        Email::parse("victimX@ex\u{0430}mple.com"),
        Err(InvalidEmail::MixedScripts)
    );
}

#[test]
fn a_cyrillic_letter_in_the_local_part_is_refused_as_mixed_scripts() {
    assert_eq!(
        Email::parse("vi\u{0441}timX@example.com"),
        Err(InvalidEmail::MixedScripts)
    );
}

#[test]
fn the_punycode_of_a_mixed_script_label_is_refused_too() {
    let ascii = idna::domain_to_ascii("ex\u{0430}mple.com").unwrap();
    assert!(ascii.starts_with("xn--"), "{ascii}");
    assert_eq!(
        Email::parse(&format!("victimX@{ascii}")),
        Err(InvalidEmail::MixedScripts)
    );
}

#[test]
fn fullwidth_letters_are_the_address_they_look_like() {
    let plain = Email::parse("victimX@example.com").unwrap();
    for text in [
        "\u{ff56}ictimX@example.com",
        "\u{ff56}\u{ff49}\u{ff43}\u{ff54}\u{ff49}\u{ff4d}\u{ff38}\u{ff20}\u{ff45}\u{ff58}\u{ff41}\u{ff4d}\u{ff50}\u{ff4c}\u{ff45}\u{ff0e}\u{ff43}\u{ff4f}\u{ff4d}",
    ] {
        assert_eq!(Email::parse(text).unwrap(), plain, "{text:?}");
    }
}

#[test]
fn invisible_and_format_characters_are_refused() {
    for invisible in [
        '\u{200b}',  // zero-width space
        '\u{200c}',  // zero-width non-joiner
        '\u{200d}',  // zero-width joiner
        '\u{2060}',  // word joiner
        '\u{feff}',  // byte order mark
        '\u{00ad}',  // soft hyphen
        '\u{200e}',  // left-to-right mark
        '\u{202e}',  // right-to-left override
        '\u{2066}',  // left-to-right isolate
        '\u{fe0f}',  // variation selector 16
        '\u{e0041}', // tag latin capital letter a
        '\u{034f}',  // combining grapheme joiner
        '\u{180e}',  // Mongolian vowel separator
        '\u{115f}',  // Hangul choseong filler
        '\u{e000}',  // private use
    ] {
        let local = format!("victim{invisible}X@example.com");
        assert!(
            matches!(
                Email::parse(&local),
                Err(InvalidEmail::InvisibleCharacter(_))
            ),
            "U+{:04X} in the local part: {:?}",
            u32::from(invisible),
            Email::parse(&local)
        );
        let domain = format!("victimX@exam{invisible}ple.com");
        assert!(
            matches!(
                Email::parse(&domain),
                Err(InvalidEmail::InvisibleCharacter(_))
            ),
            "U+{:04X} in the domain: {:?}",
            u32::from(invisible),
            Email::parse(&domain)
        );
    }
}

#[test]
fn the_hangul_filler_is_refused_though_nfkc_maps_it() {
    // U+3164 is a letter by category and NFKC turns it into U+1160, which is
    // default-ignorable.
    assert!(matches!(
        Email::parse("victim\u{3164}X@example.com"),
        Err(InvalidEmail::InvisibleCharacter(_))
    ));
}

#[test]
fn a_combining_mark_on_a_latin_letter_without_a_precomposed_form_is_refused() {
    assert_eq!(
        Email::parse("victimX\u{0301}@example.com"),
        Err(InvalidEmail::StrayCombiningMark('\u{0301}'))
    );
    assert_eq!(
        Email::parse("victimX@ex\u{0301}ample.com"),
        Err(InvalidEmail::StrayCombiningMark('\u{0301}'))
    );
}

#[test]
fn a_combining_mark_with_no_letter_before_it_is_refused() {
    for text in [
        "\u{0301}ada@example.com",
        "ada.\u{0301}x@example.com",
        "ada1\u{0301}@example.com",
    ] {
        assert!(
            matches!(Email::parse(text), Err(InvalidEmail::StrayCombiningMark(_))),
            "{text:?}"
        );
    }
}

#[test]
fn a_combining_mark_that_composes_is_the_precomposed_letter() {
    assert_eq!(
        Email::parse("jose\u{0301}@example.com").unwrap(),
        Email::parse("jos\u{00e9}@example.com").unwrap()
    );
}

#[test]
fn marks_are_accepted_where_the_script_needs_them_but_not_stacked() {
    // Devanagari vowel signs and the virama are combining marks.
    let hindi = Email::parse("\u{0930}\u{093e}\u{092e}@example.com").unwrap();
    assert_eq!(hindi.as_str(), "\u{0930}\u{093e}\u{092e}@example.com");
    assert!(Email::parse("\u{0915}\u{094d}\u{0937}@example.com").is_ok());
    assert!(Email::parse("\u{0e19}\u{0e49}\u{0e33}@example.com").is_ok());
    assert!(matches!(
        Email::parse("\u{0930}\u{093e}\u{093e}@example.com"),
        Err(InvalidEmail::StrayCombiningMark(_))
    ));
}

#[test]
fn an_idn_domain_and_its_punycode_are_one_address() {
    let unicode = Email::parse("ada@b\u{00fc}cher.de").unwrap();
    assert_eq!(unicode.as_str(), "ada@xn--bcher-kva.de");
    for text in [
        "ada@xn--bcher-kva.de",
        "ada@XN--BCHER-KVA.DE",
        "ada@B\u{00dc}CHER.de",
        "ada@bu\u{0308}cher.de",
    ] {
        assert_eq!(Email::parse(text).unwrap(), unicode, "{text:?}");
    }
}

#[test]
fn invalid_punycode_is_refused() {
    assert_eq!(
        Email::parse("ada@xn--a.com"),
        Err(InvalidEmail::InvalidDomain)
    );
}

#[test]
fn plausible_non_latin_addresses_are_accepted() {
    for (text, stored) in [
        (
            "\u{0438}\u{0432}\u{0430}\u{043d}@\u{043f}\u{0440}\u{0438}\u{043c}\u{0435}\u{0440}.\u{0440}\u{0444}",
            "\u{0438}\u{0432}\u{0430}\u{043d}@xn--e1afmkfd.xn--p1ai",
        ),
        (
            "\u{7528}\u{6237}@example.com",
            "\u{7528}\u{6237}@example.com",
        ),
        (
            "taro\u{5c71}\u{7530}\u{305f}\u{308d}\u{3046}@example.jp",
            "taro\u{5c71}\u{7530}\u{305f}\u{308d}\u{3046}@example.jp",
        ),
        (
            "\u{03bd}\u{03af}\u{03ba}\u{03b7}@example.gr",
            "\u{03bd}\u{03af}\u{03ba}\u{03b7}@example.gr",
        ),
        ("first.last+tag@example.com", "first.last+tag@example.com"),
        ("o'brien@example.ie", "o'brien@example.ie"),
    ] {
        let email = Email::parse(text);
        assert_eq!(email.as_ref().map(Email::as_str), Ok(stored), "{text:?}");
    }
}

#[test]
fn symbols_and_emoji_are_refused_outside_ascii() {
    assert_eq!(
        Email::parse("ada\u{1f600}@example.com"),
        Err(InvalidEmail::DisallowedCharacter('\u{1f600}'))
    );
}

#[test]
fn case_folding_is_full_folding_not_lower_casing() {
    assert_eq!(
        key_of("stra\u{00df}e@example.com"),
        key_of("STRASSE@example.com")
    );
    assert_eq!(
        key_of("\u{03c3}\u{03bf}\u{03c6}\u{03bf}\u{03c2}@example.gr"),
        key_of("\u{03a3}\u{039f}\u{03a6}\u{039f}\u{03a3}@example.gr")
    );
    assert_eq!(
        key_of("\u{0418}\u{0432}\u{0430}\u{043d}@example.ru"),
        key_of("\u{0438}\u{0432}\u{0430}\u{043d}@example.ru")
    );
}

#[test]
fn the_key_of_any_text_equals_the_key_of_the_address_parsed_from_it() {
    for text in [
        " Ada.Lovelace@Example.COM ",
        "\u{ff56}ictimX@example.com",
        "ada@B\u{00dc}CHER.de",
        "ada@xn--bcher-kva.de",
        "STRASSE@example.com",
        "jose\u{0301}@example.com",
        "\u{0438}\u{0432}\u{0430}\u{043d}@\u{043f}\u{0440}\u{0438}\u{043c}\u{0435}\u{0440}.\u{0440}\u{0444}",
    ] {
        let email = Email::parse(text).unwrap();
        assert_eq!(&EmailKey::of(text), email.key(), "{text:?}");
        assert_eq!(&EmailKey::of(email.as_str()), email.key(), "{text:?}");
        assert_eq!(EmailKey::of(email.key().as_str()), *email.key(), "{text:?}");
    }
}

#[test]
fn stored_addresses_from_older_rules_load_and_key_like_what_they_show() {
    let zero_width = Email::from_stored("victim\u{200b}X@example.com");
    assert_eq!(zero_width.as_str(), "victim\u{200b}X@example.com");
    assert_eq!(zero_width.key(), &key_of("victimX@example.com"));
    let unicode_domain = Email::from_stored("ada@b\u{00fc}cher.de");
    assert_eq!(unicode_domain.as_str(), "ada@b\u{00fc}cher.de");
    assert_eq!(unicode_domain.key(), &key_of("ada@xn--bcher-kva.de"));
    assert_eq!(
        Email::from_stored("not an address").as_str(),
        "not an address"
    );
}

#[test]
fn a_lookup_carries_the_form_older_accounts_were_stored_in() {
    let lookup = EmailLookup::of("  Ada@B\u{00dc}CHER.de ");
    assert_eq!(lookup.as_stored_before_keys, "Ada@b\u{00fc}cher.de");
    assert_eq!(lookup.key, key_of("ada@xn--bcher-kva.de"));
}
