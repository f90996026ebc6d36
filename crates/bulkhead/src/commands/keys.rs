//! `bulkhead keys rotate`: start signing with a new key.

use bulkhead_domain::Clock;
use bulkhead_service::signing_keys;

use crate::settings::Settings;
use crate::{Error, database, output};

pub async fn rotate(settings: &Settings, clock: &dyn Clock) -> Result<(), Error> {
    if let Some(path) = &settings.signing_key_file {
        return Err(Error::Invalid(format!(
            "the signing key comes from the file {}; replace that file to rotate it",
            path.display()
        )));
    }
    let store = database::open(settings, clock.now()).await?;
    let result = signing_keys::rotate_signing_key(store.as_ref(), clock).await;
    store.close().await;
    let ring = result?;
    output::line(format_args!(
        "new signing key {}; {} key(s) verify tokens; running servers sign with it after a restart",
        ring.active.kid,
        ring.verifying.len()
    ))
}
