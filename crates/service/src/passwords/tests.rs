//! Tests for password hashing and generation.

use super::*;

fn password(text: &str) -> Password {
    Password::parse(text).unwrap()
}

#[test]
fn a_hash_records_argon2id_with_the_owasp_parameters() {
    let hash = hash_password(&password("correct horse battery")).unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
}

#[test]
fn two_hashes_of_one_password_differ_by_salt() {
    let text = password("correct horse battery");
    assert_ne!(hash_password(&text).unwrap(), hash_password(&text).unwrap());
}

#[test]
fn the_right_password_verifies_and_a_wrong_one_does_not() {
    let hash = hash_password(&password("correct horse battery")).unwrap();
    assert_eq!(
        verify_password(&hash, "correct horse battery"),
        Verification::Valid {
            needs_rehash: false
        }
    );
    assert_eq!(
        verify_password(&hash, "correct horse battery "),
        Verification::Invalid
    );
    assert_eq!(verify_password(&hash, ""), Verification::Invalid);
}

#[test]
fn a_hash_with_weaker_parameters_verifies_and_asks_for_a_rehash() {
    let weak = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(8_192, 1, 1, None).unwrap(),
    );
    let salt = SaltString::encode_b64(&[7u8; 16]).unwrap();
    let hash = weak
        .hash_password(b"correct horse battery", &salt)
        .unwrap()
        .to_string();
    assert!(hash.starts_with("$argon2id$v=19$m=8192,t=1,p=1$"), "{hash}");
    assert_eq!(
        verify_password(&hash, "correct horse battery"),
        Verification::Valid { needs_rehash: true }
    );
    assert_eq!(
        verify_password(&hash, "wrong password!"),
        Verification::Invalid
    );
}

#[test]
fn an_argon2i_hash_asks_for_a_rehash() {
    let other = Argon2::new(
        Algorithm::Argon2i,
        Version::V0x13,
        Params::new(MEMORY_KIB, TIME_COST, PARALLELISM, None).unwrap(),
    );
    let salt = SaltString::encode_b64(&[7u8; 16]).unwrap();
    let hash = other
        .hash_password(b"correct horse battery", &salt)
        .unwrap()
        .to_string();
    assert_eq!(
        verify_password(&hash, "correct horse battery"),
        Verification::Valid { needs_rehash: true }
    );
}

#[test]
fn a_corrupt_hash_never_verifies() {
    assert_eq!(
        verify_password("not a hash", "anything at all"),
        Verification::Invalid
    );
    assert_eq!(verify_password("", ""), Verification::Invalid);
}

#[test]
fn generated_passwords_use_the_unambiguous_alphabet_and_differ() {
    let first = generate_password().unwrap();
    let second = generate_password().unwrap();
    assert_eq!(first.expose().len(), GENERATED_LEN);
    assert!(first.expose().bytes().all(|b| ALPHABET.contains(&b)));
    assert!(!first.expose().contains(['0', 'O', 'o', '1', 'l', 'I']));
    assert_ne!(first.expose(), second.expose());
}

#[test]
fn generated_passwords_carry_at_least_128_bits() {
    let bits = GENERATED_LEN as f64 * (ALPHABET.len() as f64).log2();
    assert!(bits >= 128.0, "{bits}");
}
