//! The negative token set of RELIABILITY B4, at the unit level (the same set
//! runs over HTTP in the end-to-end tests).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::Duration;
use time::macros::datetime;

use super::*;
use crate::signing_keys::KeyRing;

fn keys() -> Keys {
    Keys::fixed(KeyRing::from_file_secret(&[7u8; 32], datetime!(2026-01-01 0:00 UTC)).unwrap())
}

fn now() -> OffsetDateTime {
    datetime!(2026-06-01 12:00 UTC)
}

fn tokens() -> AccessTokens {
    AccessTokens::new("bulkhead", "bulkhead-api")
}

fn sign(claims: &serde_json::Value, header: Header, secret: &[u8]) -> String {
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
}

fn valid_claims() -> serde_json::Value {
    let iat = now().unix_timestamp();
    serde_json::json!({
        "iss": "bulkhead", "aud": "bulkhead-api",
        "sub": UserId::new().to_string(), "sid": SessionId::new().to_string(),
        "exp": iat + 900, "iat": iat, "jti": "j", "typ": "access",
    })
}

fn header(keys: &Keys) -> Header {
    Header {
        kid: Some(keys.current().active.kid.clone()),
        ..Header::new(Algorithm::HS256)
    }
}

#[test]
fn an_issued_token_verifies_until_it_expires_plus_leeway() {
    let keys = keys();
    let (user, session) = (UserId::new(), SessionId::new());
    let token = tokens().issue(&keys, user, session, now()).unwrap();
    let verified = tokens().verify(&keys, &token, now()).unwrap();
    assert_eq!((verified.user, verified.session), (user, session));
    assert!(
        tokens()
            .verify(&keys, &token, now() + Duration::seconds(900 + 30))
            .is_some()
    );
    assert!(
        tokens()
            .verify(&keys, &token, now() + Duration::seconds(900 + 31))
            .is_none()
    );
}

/// A token verified once is remembered, but expiry and its key are checked
/// again on every use.
#[test]
fn a_remembered_token_expires_and_dies_with_its_key() {
    let keys = keys();
    let tokens = tokens();
    let token = tokens
        .issue(&keys, UserId::new(), SessionId::new(), now())
        .unwrap();
    assert!(tokens.verify(&keys, &token, now()).is_some());
    assert!(
        tokens
            .verify(&keys, &token, now() + Duration::seconds(900 + 30))
            .is_some()
    );
    assert!(
        tokens
            .verify(&keys, &token, now() + Duration::seconds(900 + 31))
            .is_none()
    );
    // A ring without the signing key (rotated out): refused, remembered or not.
    let other =
        Keys::fixed(KeyRing::from_file_secret(&[8u8; 32], datetime!(2026-01-01 0:00 UTC)).unwrap());
    assert!(
        other
            .current()
            .verifying_key(&header(&keys).kid.unwrap())
            .is_none()
    );
    assert!(tokens.verify(&other, &token, now()).is_none());
    assert!(tokens.verify(&keys, &token, now()).is_some());
}

#[test]
fn every_forged_or_foreign_token_is_refused() {
    let keys = keys();
    let secret = keys.current().active.secret.clone();
    let good = sign(&valid_claims(), header(&keys), &secret);
    assert!(
        tokens().verify(&keys, &good, now()).is_some(),
        "the control token must pass"
    );

    let mut cases: Vec<(&str, String)> = Vec::new();
    let with = |field: &str, value: serde_json::Value| {
        let mut claims = valid_claims();
        claims[field] = value;
        sign(&claims, header(&keys), &secret)
    };
    cases.push(("wrong aud", with("aud", "someone-else".into())));
    cases.push(("wrong iss", with("iss", "evil".into())));
    cases.push(("refresh typ", with("typ", "refresh".into())));
    cases.push((
        "expired by 31 s",
        with("exp", (now().unix_timestamp() - 31).into()),
    ));
    cases.push((
        "lifetime over 15 min",
        with("exp", (now().unix_timestamp() + 3600).into()),
    ));
    cases.push((
        "issued in the future",
        with("iat", (now().unix_timestamp() + 120).into()),
    ));
    let mut missing = valid_claims();
    missing.as_object_mut().unwrap().remove("sid");
    cases.push(("no sid", sign(&missing, header(&keys), &secret)));
    cases.push((
        "other secret",
        sign(&valid_claims(), header(&keys), &[8u8; 32]),
    ));
    let unknown_kid = Header {
        kid: Some("unknown".into()),
        ..Header::new(Algorithm::HS256)
    };
    cases.push(("unknown kid", sign(&valid_claims(), unknown_kid, &secret)));
    let no_kid = Header::new(Algorithm::HS256);
    cases.push(("no kid", sign(&valid_claims(), no_kid, &secret)));
    let hs512 = Header {
        kid: Some(keys.current().active.kid.clone()),
        ..Header::new(Algorithm::HS512)
    };
    cases.push(("other algorithm", sign(&valid_claims(), hs512, &secret)));
    // alg "none": a header and payload with an empty signature.
    let none_header = URL_SAFE_NO_PAD.encode(
        serde_json::json!({"alg": "none", "typ": "JWT", "kid": keys.current().active.kid})
            .to_string(),
    );
    let payload = URL_SAFE_NO_PAD.encode(valid_claims().to_string());
    cases.push(("alg none", format!("{none_header}.{payload}.")));
    // A valid token with one signature byte changed.
    let mut tampered = good.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    cases.push(("tampered signature", String::from_utf8(tampered).unwrap()));
    cases.push(("garbage", "not.a.jwt".into()));
    cases.push((
        "opaque refresh token",
        crate::secrets::new_refresh_token().unwrap(),
    ));

    for (name, token) in cases {
        assert!(
            tokens().verify(&keys, &token, now()).is_none(),
            "{name} was accepted"
        );
    }
}
