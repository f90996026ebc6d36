//! `bulkhead admin create`: make a platform administrator.
//!
//! The password is never a flag (it would show in `ps` and shell history):
//! it comes from standard input, or is generated and shown exactly once.

use std::io::{BufRead as _, IsTerminal as _};

use bulkhead_domain::{Clock, Email, Password};
use bulkhead_service::{ServiceError, accounts, passwords};

use crate::settings::Settings;
use crate::{Error, database, output};

/// The first line of standard input as the password, if stdin is a pipe or
/// file with a non-empty first line. A terminal is not read: there is no
/// prompt, and the password is generated instead.
pub fn password_from_stdin() -> Result<Option<Password>, Error> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok(None);
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line).map_err(|error| {
        Error::Invalid(format!(
            "cannot read the password from standard input: {error}"
        ))
    })?;
    // Only the line ending goes: spaces are part of a password.
    let text = line
        .strip_suffix('\n')
        .map(|text| text.strip_suffix('\r').unwrap_or(text))
        .unwrap_or(&line);
    if text.is_empty() {
        return Ok(None);
    }
    Password::parse(text)
        .map(Some)
        .map_err(|error| Error::Invalid(format!("password from standard input: {error}")))
}

pub async fn create(
    settings: &Settings,
    clock: &dyn Clock,
    email: &str,
    password: Option<Password>,
) -> Result<(), Error> {
    let email = Email::parse(email)
        .map_err(|error| Error::Invalid(format!("invalid email address {email:?}: {error}")))?;
    let (password, generated) = match password {
        Some(password) => (password, false),
        None => (passwords::generate_password()?, true),
    };
    let store = database::open(settings, clock.now()).await?;
    let result =
        accounts::create_platform_admin(store.as_ref(), clock, email.clone(), &password).await;
    store.close().await;
    let user = result.map_err(|error| match error {
        ServiceError::EmailTaken => Error::Invalid(format!(
            "a user with the email address {email} already exists"
        )),
        other => other.into(),
    })?;
    tracing::info!(user_id = %user.id, "created a platform administrator");
    output::line(format_args!(
        "created platform administrator {} ({})",
        user.email, user.id
    ))?;
    if generated {
        output::line(format_args!("generated password: {}", password.expose()))?;
    }
    Ok(())
}
