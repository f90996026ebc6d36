//! The Bulkhead binary as a library: the thin layer that turns a command
//! line into running code.
//!
//! - [`cli`]: the command line (clap).
//! - [`settings`]: the one typed [`Settings`](settings::Settings), merged
//!   from flags, `BULKHEAD_*` variables, a TOML file and defaults.
//! - [`telemetry`]: logging setup.
//! - [`database`]: opening the configured store (SQLite or PostgreSQL).
//! - [`open_files`]: the open-file limit and the connection cap it allows.
//! - [`prometheus`]: the metrics recorder `serve` installs when metrics are on.
//! - [`commands`]: `serve`, `migrate`, `admin create`, `admin email-collisions`
//!   and `keys rotate`.
//! - [`Error`]: every way a command can fail, each printed as one line.

pub mod cli;
pub mod commands;
pub mod database;
mod error;
pub mod open_files;
mod output;
pub mod prometheus;
pub mod settings;
mod shutdown;
pub mod telemetry;

use std::sync::Arc;

use bulkhead_domain::{Clock, SystemClock};

use crate::cli::{AdminCommand, AuditCommand, Cli, Command, KeysCommand};

pub use crate::error::Error;

/// Runs one command line to completion: reads the settings once, sets up
/// logging, then hands over to the command.
pub fn run(cli: Cli) -> Result<(), Error> {
    let settings = settings::load(cli.settings_layer())?;
    telemetry::init(&settings.log)?;
    for name in &settings.unknown_env {
        tracing::warn!(variable = %name, "ignoring unknown BULKHEAD_ environment variable");
    }
    tracing::debug!(?settings, "settings");
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // Read stdin before any async work: it blocks, and it should fail before
    // the database is touched.
    let password = match &cli.command {
        Command::Admin(AdminCommand::Create(_)) => commands::admin::password_from_stdin()?,
        _ => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    runtime.block_on(async {
        match cli.command {
            Command::Serve(_) => commands::serve::run(&settings, clock).await,
            Command::Migrate(args) => {
                commands::migrate::run(&settings, clock.as_ref(), args.citus).await
            }
            Command::Admin(AdminCommand::Create(args)) => {
                commands::admin::create(&settings, clock.as_ref(), &args.email, password).await
            }
            Command::Admin(AdminCommand::EmailCollisions(_)) => {
                commands::email_collisions::list(&settings, clock.as_ref()).await
            }
            Command::Keys(KeysCommand::Rotate(_)) => {
                commands::keys::rotate(&settings, clock.as_ref()).await
            }
            Command::Audit(AuditCommand::Verify(args)) => {
                commands::audit::verify(&settings, clock.as_ref(), args.tenant.as_deref()).await
            }
        }
    })
}
