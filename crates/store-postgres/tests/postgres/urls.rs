//! The URLs of the PostgreSQL server that the tests and the isolation
//! benchmark make their databases on (the benchmark includes this file by
//! path, so that both spell them one way).

/// The server used when no URL is given: a local superuser, trust
/// authentication.
pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// `url` with its password hidden, for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => "<unparseable url>".into(),
    }
}

/// `url` with another user (and no password) and another database.
pub fn with_user_and_database(url: &str, user: Option<&str>, database: &str) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    if let Some(user) = user {
        parsed.set_username(user).unwrap();
        parsed.set_password(None).unwrap();
    }
    parsed.set_path(database);
    parsed.to_string()
}
