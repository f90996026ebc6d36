//! The command line.
//!
//! Flags are parsed here and nowhere else; each one also has a `BULKHEAD_*`
//! environment variable and most have a config-file key, which
//! [`settings`](crate::settings) merges with these flags (flags win).
//! The environment is read by the settings module rather than by clap so
//! that precedence is one pure, tested function.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::settings::{DatabaseUrl, Layer};

/// Bulkhead: a multi-tenant backend in one binary.
#[derive(Debug, Parser)]
#[command(name = "bulkhead", version, about, propagate_version = true)]
pub struct Cli {
    /// Log filter, e.g. `info` or `info,bulkhead_http=debug`
    /// [env: BULKHEAD_LOG] [default: info]
    #[arg(long, global = true, value_name = "FILTER")]
    pub log: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server until SIGINT or SIGTERM.
    Serve(ServeArgs),
    /// Create or upgrade the database schema (and, on PostgreSQL, the runtime role).
    Migrate(MigrateArgs),
    /// Manage platform administrators.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Manage the keys that sign access tokens.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Check the audit logs.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chains and report the first broken link of each.
    Verify(AuditVerifyArgs),
}

#[derive(Debug, Args)]
pub struct AuditVerifyArgs {
    /// Only this tenant (slug or id); without it, every tenant and the platform log
    #[arg(long, value_name = "TENANT")]
    pub tenant: Option<String>,

    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Where the data lives; shared by every command.
#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// Directory of the SQLite database, used when no database URL is set
    /// [env: BULKHEAD_DATA_DIR] [default: ./bulkhead-data]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// PostgreSQL URL (postgres://…); unset means SQLite in the data directory
    /// [env: BULKHEAD_DATABASE_URL]
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,

    /// TOML settings file [env: BULKHEAD_CONFIG]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port
    /// [env: BULKHEAD_ADDR] [default: 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR")]
    pub addr: Option<SocketAddr>,

    /// File holding the token-signing secret (at least 32 bytes) instead of
    /// keys kept in the database [env: BULKHEAD_SIGNING_KEY_FILE]
    #[arg(long, value_name = "FILE")]
    pub signing_key_file: Option<PathBuf>,

    /// File holding the token (at least 16 characters) that Prometheus
    /// presents to GET /metrics as a bearer token; without one, metrics are
    /// off [env: BULKHEAD_METRICS_TOKEN_FILE]
    #[arg(long, value_name = "FILE")]
    pub metrics_token_file: Option<PathBuf>,
    /// Redis (redis://…) through which every server process shares its rate
    /// limits and login throttling; unset keeps them per process
    /// [env: BULKHEAD_REDIS_URL]
    #[arg(long, value_name = "URL")]
    pub redis_url: Option<String>,

    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// PostgreSQL runtime role to create and grant to
    /// [env: BULKHEAD_APP_ROLE] [default: bulkhead_app]
    #[arg(long, value_name = "ROLE")]
    pub app_role: Option<String>,

    /// File whose first line is the runtime role's password
    /// [env: BULKHEAD_APP_PASSWORD_FILE]
    #[arg(long, value_name = "FILE")]
    pub app_password_file: Option<PathBuf>,

    /// Also distribute the tables with Citus (PostgreSQL only)
    #[arg(long)]
    pub citus: bool,

    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a platform administrator. The password is the first line of
    /// standard input; with none, one is generated and printed once.
    Create(AdminCreateArgs),
    /// List accounts from before email keys whose addresses share one key
    /// (kept, each logging in with its own address), one per line: key,
    /// user id, address.
    EmailCollisions(AdminEmailCollisionsArgs),
}

#[derive(Debug, Args)]
pub struct AdminEmailCollisionsArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Args)]
pub struct AdminCreateArgs {
    /// The administrator's email address
    #[arg(long)]
    pub email: String,

    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a new signing key and retire the others (they keep verifying
    /// tokens until those expire).
    Rotate(KeysRotateArgs),
}

#[derive(Debug, Args)]
pub struct KeysRotateArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
}

impl Cli {
    /// The settings given as flags: the highest-precedence layer.
    pub fn settings_layer(&self) -> Layer {
        let mut layer = Layer {
            log: self.log.clone(),
            ..Layer::default()
        };
        let database = match &self.command {
            Command::Serve(args) => {
                layer.addr = args.addr;
                layer.signing_key_file.clone_from(&args.signing_key_file);
                layer
                    .metrics_token_file
                    .clone_from(&args.metrics_token_file);
                layer.redis_url = args.redis_url.clone().map(DatabaseUrl::new);
                &args.database
            }
            Command::Migrate(args) => {
                layer.app_role.clone_from(&args.app_role);
                layer.app_password_file.clone_from(&args.app_password_file);
                &args.database
            }
            Command::Admin(AdminCommand::Create(args)) => &args.database,
            Command::Admin(AdminCommand::EmailCollisions(args)) => &args.database,
            Command::Keys(KeysCommand::Rotate(args)) => &args.database,
            Command::Audit(AuditCommand::Verify(args)) => &args.database,
        };
        layer.data_dir.clone_from(&database.data_dir);
        layer.database_url = database.database_url.clone().map(DatabaseUrl::new);
        layer.config.clone_from(&database.config);
        layer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_flags_become_the_flag_layer() {
        let cli = Cli::try_parse_from([
            "bulkhead",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--data-dir",
            "/tmp/data",
            "--log",
            "debug",
        ])
        .unwrap();
        let layer = cli.settings_layer();
        assert_eq!(layer.addr, Some("127.0.0.1:0".parse().unwrap()));
        assert_eq!(layer.data_dir, Some(PathBuf::from("/tmp/data")));
        assert_eq!(layer.log.as_deref(), Some("debug"));
        assert_eq!(layer.database_url, None);
    }

    #[test]
    fn migrate_flags_become_the_flag_layer() {
        let cli = Cli::try_parse_from([
            "bulkhead",
            "migrate",
            "--database-url",
            "postgres://owner@localhost/bulkhead",
            "--app-role",
            "app",
            "--citus",
        ])
        .unwrap();
        let layer = cli.settings_layer();
        assert_eq!(layer.app_role.as_deref(), Some("app"));
        assert_eq!(
            layer.database_url,
            Some(DatabaseUrl::new("postgres://owner@localhost/bulkhead"))
        );
        assert!(matches!(
            cli.command,
            Command::Migrate(MigrateArgs { citus: true, .. })
        ));
    }
}
