//! Accounts from before email keys whose addresses share one: warned about
//! at `migrate` and `serve`, listed by `bulkhead admin email-collisions`.
//!
//! Nothing is merged or disabled: each account keeps logging in with its own
//! address, and the operator decides (a support conversation, then
//! deactivating or renaming one of them).

use bulkhead_domain::Clock;
use bulkhead_service::accounts;
use bulkhead_store::{EmailKeyCollision, Store};

use crate::settings::Settings;
use crate::{Error, database, output};

/// Logs one warning per group with the account ids (ids only: addresses
/// are personal data, and the command shows them to whoever may run it).
pub fn warn_about(collisions: &[EmailKeyCollision]) {
    for collision in collisions {
        let accounts: Vec<String> = collision
            .users
            .iter()
            .map(|user| user.id.to_string())
            .collect();
        tracing::warn!(
            accounts = %accounts.join(","),
            "accounts made before email keys share one key; each still logs in with its own \
             address and the first holds the key; `bulkhead admin email-collisions` lists them"
        );
    }
}

/// Looks the collisions up and warns about them; a failed look-up is
/// itself only a warning, since it must not keep the server from starting.
pub async fn warn_if_any(store: &dyn Store) {
    match accounts::email_key_collisions(store).await {
        Ok(collisions) => warn_about(&collisions),
        Err(error) => tracing::warn!(%error, "could not look for colliding email keys"),
    }
}

/// `bulkhead admin email-collisions`: one line per account, tab-separated
/// (key, user id, the address it logs in with), each group oldest first.
pub async fn list(settings: &Settings, clock: &dyn Clock) -> Result<(), Error> {
    let store = database::open(settings, clock.now()).await?;
    let result = accounts::email_key_collisions(store.as_ref()).await;
    store.close().await;
    let collisions = result?;
    if collisions.is_empty() {
        return output::line("no accounts share an email key");
    }
    for collision in &collisions {
        for user in &collision.users {
            output::line(format_args!(
                "{}\t{}\t{}",
                collision.key, user.id, user.email
            ))?;
        }
    }
    Ok(())
}
