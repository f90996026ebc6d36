//! The one typed [`Settings`] struct, read once at start-up.
//!
//! Four sources, highest precedence first: command-line flags, `BULKHEAD_*`
//! environment variables, a TOML file (`--config` / `BULKHEAD_CONFIG`) and
//! defaults. Each source becomes a [`Layer`] of optional values, and the
//! pure function [`merge`] picks, per setting, the first layer that has it.
//! Only [`load`] touches the process: it reads the environment and the file.
//!
//! An empty environment variable counts as unset, so `BULKHEAD_DATABASE_URL=`
//! falls back to SQLite as if the variable were absent. Relative paths are
//! relative to the working directory, whichever source they come from.

mod database_url;
pub mod rate_limits;

use std::ffi::OsString;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bulkhead_domain::PlanName;
use bulkhead_http::ConnectionLimits;
use bulkhead_http::cors::CorsOrigin;
use bulkhead_http::edge::{IpNetwork, TenantHostPattern};
use serde::Deserialize;

pub use database_url::DatabaseUrl;
pub use rate_limits::{Cap, RateLimitLayer, RateLimitSettings};

/// Where the server listens unless told otherwise: loopback only, so a
/// fresh install is not reachable from the network.
pub const DEFAULT_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);
pub const DEFAULT_DATA_DIR: &str = "bulkhead-data";
pub const DEFAULT_LOG: &str = "info";
pub const DEFAULT_APP_ROLE: &str = "bulkhead_app";
/// The longest connection timeout accepted: beyond an hour a timeout no
/// longer protects the server from clients that hold connections.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);
/// How long a request waits for a PostgreSQL connection before answering
/// 503, unless set.
pub const DEFAULT_DATABASE_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// How many PostgreSQL connections the server keeps at most, unless set.
pub const DEFAULT_DATABASE_POOL_SIZE: u32 = 16;
/// Beyond this a pool no longer buys throughput: PostgreSQL runs a
/// process per connection, and each costs it memory whether busy or not.
pub const MAX_DATABASE_POOL_SIZE: u32 = 1000;
/// What every Redis key of this deployment starts with, unless set.
pub const DEFAULT_REDIS_KEY_PREFIX: &str = "bulkhead:";
/// How often metered use is written, unless set: what a crash can lose of
/// the request counts, and one transaction per active tenant this often.
pub const DEFAULT_METERING_FLUSH_INTERVAL: Duration = Duration::from_secs(60);

/// Everything the binary is configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    /// A PostgreSQL URL; `None` means SQLite in `data_dir`. Its `Debug`
    /// hides the password.
    pub database_url: Option<DatabaseUrl>,
    /// How long a request waits for a PostgreSQL connection before it
    /// answers 503 (while the server is known to be down, much less).
    pub database_acquire_timeout: Duration,
    /// The most PostgreSQL connections the server holds at once.
    pub database_pool_size: u32,
    pub signing_key_file: Option<PathBuf>,
    /// A tracing `EnvFilter` directive.
    pub log: String,
    pub app_role: String,
    pub app_password_file: Option<PathBuf>,
    /// Whether anyone may sign up.
    pub signup_open: bool,
    /// The plan new tenants start on.
    pub default_plan: PlanName,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNetwork>,
    /// `{slug}.example.com`: hosts that name a tenant.
    pub tenant_host: Option<String>,
    /// Pages allowed to call the API from a browser; none means no CORS.
    pub cors_origins: Vec<CorsOrigin>,
    /// How long a connection may take to send a request head, counted from
    /// its start or the end of its previous answer (so also how long a
    /// kept-alive connection may idle).
    pub header_read_timeout: Duration,
    /// The longest wait for the next chunk of a request body.
    pub body_read_timeout: Duration,
    /// Connections open at once; `None` derives it from the open-file
    /// limit when serving.
    pub max_connections: Option<usize>,
    /// The file holding the token a Prometheus scraper presents to
    /// `/metrics`; `None` turns metrics off.
    pub metrics_token_file: Option<PathBuf>,
    /// Whether request metrics carry a `tenant` label.
    pub metrics_tenant_labels: bool,
    /// Where rate limits and the login throttle are shared by every
    /// process; `None` keeps them in each process. Its `Debug` hides the
    /// password.
    pub redis_url: Option<DatabaseUrl>,
    /// What this deployment's Redis keys start with.
    pub redis_key_prefix: String,
    pub rate_limits: RateLimitSettings,
    /// How often each process writes the use it metered (requests, records
    /// created, active users); a crash loses at most this much of it.
    pub metering_flush_interval: Duration,
    /// `BULKHEAD_*` variables that name no setting (likely typos), to warn
    /// about once logging is up.
    pub unknown_env: Vec<String>,
}

/// One source's settings: `None` where the source says nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layer {
    pub addr: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<DatabaseUrl>,
    /// In whole seconds.
    pub database_acquire_timeout: Option<u64>,
    pub database_pool_size: Option<u32>,
    pub config: Option<PathBuf>,
    pub signing_key_file: Option<PathBuf>,
    pub log: Option<String>,
    pub app_role: Option<String>,
    pub app_password_file: Option<PathBuf>,
    pub signup_open: Option<bool>,
    pub default_plan: Option<String>,
    pub trusted_proxies: Option<Vec<IpNetwork>>,
    pub tenant_host: Option<String>,
    pub cors_origins: Option<Vec<CorsOrigin>>,
    pub header_read_timeout: Option<Duration>,
    pub body_read_timeout: Option<Duration>,
    pub max_connections: Option<usize>,
    pub metrics_token_file: Option<PathBuf>,
    pub metrics_tenant_labels: Option<bool>,
    pub redis_url: Option<DatabaseUrl>,
    pub redis_key_prefix: Option<String>,
    pub rate_limits: RateLimitLayer,
    pub metering_flush_interval: Option<Duration>,
}

/// The config file's keys. Unknown keys are an error: a misspelt key would
/// otherwise be silently ignored.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    addr: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    database_acquire_timeout: Option<u64>,
    database_pool_size: Option<u32>,
    signing_key_file: Option<PathBuf>,
    log: Option<String>,
    app_role: Option<String>,
    signup_open: Option<bool>,
    default_plan: Option<String>,
    trusted_proxies: Option<Vec<String>>,
    tenant_host: Option<String>,
    cors_origins: Option<Vec<String>>,
    header_read_timeout: Option<Seconds>,
    body_read_timeout: Option<Seconds>,
    max_connections: Option<usize>,
    metrics_token_file: Option<PathBuf>,
    metrics_tenant_labels: Option<bool>,
    redis_url: Option<String>,
    redis_key_prefix: Option<String>,
    rate_limits: Option<rate_limits::RateLimitFile>,
    metering_flush_interval: Option<Seconds>,
}

/// A number of seconds in the config file: `10` or `0.5`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
enum Seconds {
    Whole(u64),
    Fraction(f64),
}

impl Seconds {
    fn duration(self) -> Result<Duration, String> {
        self.seconds().and_then(checked_timeout)
    }

    fn interval(self) -> Result<Duration, String> {
        self.seconds().and_then(checked_interval)
    }

    fn seconds(self) -> Result<Duration, String> {
        match self {
            Seconds::Whole(whole) => Ok(Duration::from_secs(whole)),
            Seconds::Fraction(fraction) => Duration::try_from_secs_f64(fraction)
                .map_err(|_| format!("{fraction} is not a number of seconds")),
        }
    }
}

/// Why the settings are unusable. Each message is one line.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read the config file {}: {}", path.display(), crate::error::describe_io(source))]
    ReadConfig {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {}: {message}", path.display())]
    ParseConfig { path: PathBuf, message: String },
    #[error("invalid {variable}: {message}")]
    Env { variable: String, message: String },
    #[error(
        "unsupported database URL {url}: use postgres:// or postgresql://, or leave it unset for SQLite"
    )]
    UnsupportedDatabase { url: DatabaseUrl },
    #[error("{setting} must not be empty")]
    Empty { setting: &'static str },
}

/// The environment variables that are settings, and what they set.
const ENV_VARS: [&str; 23] = [
    "BULKHEAD_ADDR",
    "BULKHEAD_DATA_DIR",
    "BULKHEAD_DATABASE_URL",
    "BULKHEAD_DATABASE_ACQUIRE_TIMEOUT",
    "BULKHEAD_DATABASE_POOL_SIZE",
    "BULKHEAD_CONFIG",
    "BULKHEAD_SIGNING_KEY_FILE",
    "BULKHEAD_LOG",
    "BULKHEAD_APP_ROLE",
    "BULKHEAD_APP_PASSWORD_FILE",
    "BULKHEAD_SIGNUP_OPEN",
    "BULKHEAD_DEFAULT_PLAN",
    "BULKHEAD_TRUSTED_PROXIES",
    "BULKHEAD_TENANT_HOST",
    "BULKHEAD_CORS_ORIGINS",
    "BULKHEAD_HEADER_READ_TIMEOUT",
    "BULKHEAD_BODY_READ_TIMEOUT",
    "BULKHEAD_MAX_CONNECTIONS",
    "BULKHEAD_METRICS_TOKEN_FILE",
    "BULKHEAD_METRICS_TENANT_LABELS",
    "BULKHEAD_REDIS_URL",
    "BULKHEAD_REDIS_KEY_PREFIX",
    "BULKHEAD_METERING_FLUSH_INTERVAL",
];

impl Layer {
    /// The layer given by environment variables, from any list of them:
    /// tests pass their own instead of changing the process environment.
    /// Variables without the `BULKHEAD_` prefix are ignored.
    pub fn from_env(
        vars: impl IntoIterator<Item = (OsString, OsString)>,
    ) -> Result<(Layer, Vec<String>), SettingsError> {
        let mut layer = Layer::default();
        let mut unknown = Vec::new();
        for (name, value) in vars {
            let Some(name) = name.to_str() else { continue };
            if !name.starts_with("BULKHEAD_") {
                continue;
            }
            if !ENV_VARS.contains(&name) && !rate_limits::ENV_VARS.contains(&name) {
                unknown.push(name.to_owned());
                continue;
            }
            let invalid = |message: &str| SettingsError::Env {
                variable: name.to_owned(),
                message: message.to_owned(),
            };
            let value = value
                .into_string()
                .map_err(|_| invalid("the value is not valid UTF-8"))?;
            if value.is_empty() {
                continue;
            }
            match name {
                "BULKHEAD_ADDR" => {
                    layer.addr = Some(value.parse().map_err(|_| {
                        invalid(&format!(
                            "{value:?} is not a socket address such as 127.0.0.1:8080"
                        ))
                    })?);
                }
                "BULKHEAD_DATA_DIR" => layer.data_dir = Some(value.into()),
                "BULKHEAD_DATABASE_URL" => layer.database_url = Some(DatabaseUrl::new(value)),
                "BULKHEAD_DATABASE_ACQUIRE_TIMEOUT" => {
                    layer.database_acquire_timeout = Some(value.trim().parse().map_err(|_| {
                        invalid(&format!("{value:?} is not a whole number of seconds"))
                    })?);
                }
                "BULKHEAD_DATABASE_POOL_SIZE" => {
                    layer.database_pool_size = Some(value.trim().parse().map_err(|_| {
                        invalid(&format!("{value:?} is not a whole number of connections"))
                    })?);
                }
                "BULKHEAD_CONFIG" => layer.config = Some(value.into()),
                "BULKHEAD_SIGNING_KEY_FILE" => layer.signing_key_file = Some(value.into()),
                "BULKHEAD_LOG" => layer.log = Some(value),
                "BULKHEAD_APP_ROLE" => layer.app_role = Some(value),
                "BULKHEAD_APP_PASSWORD_FILE" => layer.app_password_file = Some(value.into()),
                "BULKHEAD_SIGNUP_OPEN" => {
                    layer.signup_open = Some(
                        parse_bool(&value)
                            .ok_or_else(|| invalid(&format!("{value:?} is not true or false")))?,
                    );
                }
                "BULKHEAD_TRUSTED_PROXIES" => {
                    layer.trusted_proxies = Some(
                        parse_networks(value.split(',')).map_err(|message| invalid(&message))?,
                    );
                }
                "BULKHEAD_TENANT_HOST" => layer.tenant_host = Some(value),
                "BULKHEAD_DEFAULT_PLAN" => layer.default_plan = Some(value),
                "BULKHEAD_CORS_ORIGINS" => {
                    layer.cors_origins =
                        Some(parse_origins(value.split(',')).map_err(|message| invalid(&message))?);
                }
                "BULKHEAD_HEADER_READ_TIMEOUT" => {
                    layer.header_read_timeout =
                        Some(parse_seconds(&value).map_err(|message| invalid(&message))?);
                }
                "BULKHEAD_BODY_READ_TIMEOUT" => {
                    layer.body_read_timeout =
                        Some(parse_seconds(&value).map_err(|message| invalid(&message))?);
                }
                "BULKHEAD_MAX_CONNECTIONS" => {
                    layer.max_connections =
                        Some(parse_count(&value).map_err(|message| invalid(&message))?);
                }
                "BULKHEAD_METRICS_TOKEN_FILE" => layer.metrics_token_file = Some(value.into()),
                "BULKHEAD_METRICS_TENANT_LABELS" => {
                    layer.metrics_tenant_labels = Some(
                        parse_bool(&value)
                            .ok_or_else(|| invalid(&format!("{value:?} is not true or false")))?,
                    );
                }
                "BULKHEAD_REDIS_URL" => layer.redis_url = Some(DatabaseUrl::new(value)),
                "BULKHEAD_REDIS_KEY_PREFIX" => layer.redis_key_prefix = Some(value),
                "BULKHEAD_METERING_FLUSH_INTERVAL" => {
                    layer.metering_flush_interval =
                        Some(parse_interval(&value).map_err(|message| invalid(&message))?);
                }
                name if rate_limits::ENV_VARS.contains(&name) => layer
                    .rate_limits
                    .set_env(name, &value)
                    .map_err(|message| invalid(&message))?,
                _ => {}
            }
        }
        unknown.sort();
        Ok((layer, unknown))
    }

    /// The layer given by a config file's text.
    pub fn from_toml(text: &str, path: &Path) -> Result<Layer, SettingsError> {
        let file: FileSettings = toml::from_str(text).map_err(|error| {
            // The error's own Display spans several lines with a snippet;
            // keep the message and say where.
            let line = error
                .span()
                .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
            let reason = error
                .message()
                .lines()
                .map(str::trim)
                .filter(|part| !part.is_empty())
                .collect::<Vec<_>>()
                .join(", ");
            let message = match line {
                Some(line) => format!("line {line}: {reason}"),
                None => reason,
            };
            SettingsError::ParseConfig {
                path: path.to_owned(),
                message,
            }
        })?;
        let invalid = |key: &str, message: String| SettingsError::ParseConfig {
            path: path.to_owned(),
            message: format!("{key}: {message}"),
        };
        let timeout = |key: &str, seconds: Option<Seconds>| {
            seconds
                .map(|seconds| seconds.duration().map_err(|message| invalid(key, message)))
                .transpose()
        };
        Ok(Layer {
            addr: file.addr,
            data_dir: file.data_dir,
            database_url: file.database_url.map(DatabaseUrl::new),
            database_acquire_timeout: file.database_acquire_timeout,
            database_pool_size: file.database_pool_size,
            config: None,
            signing_key_file: file.signing_key_file,
            log: file.log,
            app_role: file.app_role,
            app_password_file: None,
            signup_open: file.signup_open,
            default_plan: file.default_plan,
            trusted_proxies: match file.trusted_proxies {
                Some(list) => Some(parse_networks(list.iter().map(String::as_str)).map_err(
                    |message| SettingsError::ParseConfig {
                        path: path.to_owned(),
                        message: format!("trusted_proxies: {message}"),
                    },
                )?),
                None => None,
            },
            tenant_host: file.tenant_host,
            cors_origins: match file.cors_origins {
                Some(list) => Some(
                    parse_origins(list.iter().map(String::as_str))
                        .map_err(|message| invalid("cors_origins", message))?,
                ),
                None => None,
            },
            header_read_timeout: timeout("header_read_timeout", file.header_read_timeout)?,
            body_read_timeout: timeout("body_read_timeout", file.body_read_timeout)?,
            max_connections: match file.max_connections {
                Some(0) => return Err(invalid("max_connections", "must be at least 1".into())),
                count => count,
            },
            metrics_token_file: file.metrics_token_file,
            metrics_tenant_labels: file.metrics_tenant_labels,
            redis_url: file.redis_url.map(DatabaseUrl::new),
            redis_key_prefix: file.redis_key_prefix,
            metering_flush_interval: file
                .metering_flush_interval
                .map(|seconds| {
                    seconds
                        .interval()
                        .map_err(|message| invalid("metering_flush_interval", message))
                })
                .transpose()?,
            rate_limits: match file.rate_limits {
                Some(table) => table
                    .layer()
                    .map_err(|message| SettingsError::ParseConfig {
                        path: path.to_owned(),
                        message,
                    })?,
                None => RateLimitLayer::default(),
            },
        })
    }

    /// This layer, with gaps filled from `lower`.
    fn or(self, lower: Layer) -> Layer {
        Layer {
            addr: self.addr.or(lower.addr),
            data_dir: self.data_dir.or(lower.data_dir),
            database_url: self.database_url.or(lower.database_url),
            database_acquire_timeout: self
                .database_acquire_timeout
                .or(lower.database_acquire_timeout),
            database_pool_size: self.database_pool_size.or(lower.database_pool_size),
            config: self.config.or(lower.config),
            signing_key_file: self.signing_key_file.or(lower.signing_key_file),
            log: self.log.or(lower.log),
            app_role: self.app_role.or(lower.app_role),
            app_password_file: self.app_password_file.or(lower.app_password_file),
            signup_open: self.signup_open.or(lower.signup_open),
            default_plan: self.default_plan.or(lower.default_plan),
            trusted_proxies: self.trusted_proxies.or(lower.trusted_proxies),
            tenant_host: self.tenant_host.or(lower.tenant_host),
            cors_origins: self.cors_origins.or(lower.cors_origins),
            header_read_timeout: self.header_read_timeout.or(lower.header_read_timeout),
            body_read_timeout: self.body_read_timeout.or(lower.body_read_timeout),
            max_connections: self.max_connections.or(lower.max_connections),
            metrics_token_file: self.metrics_token_file.or(lower.metrics_token_file),
            metrics_tenant_labels: self.metrics_tenant_labels.or(lower.metrics_tenant_labels),
            redis_url: self.redis_url.or(lower.redis_url),
            redis_key_prefix: self.redis_key_prefix.or(lower.redis_key_prefix),
            rate_limits: self.rate_limits.or(lower.rate_limits),
            metering_flush_interval: self
                .metering_flush_interval
                .or(lower.metering_flush_interval),
        }
    }
}

/// Flags over environment over file over defaults. Pure: no IO.
pub fn merge(flags: Layer, env: Layer, file: Layer) -> Result<Settings, SettingsError> {
    let layer = flags.or(env).or(file);
    let database_url = match layer.database_url {
        Some(url) if url.is_postgres() => Some(url),
        Some(url) => return Err(SettingsError::UnsupportedDatabase { url }),
        None => None,
    };
    let app_role = layer
        .app_role
        .unwrap_or_else(|| DEFAULT_APP_ROLE.to_owned());
    if app_role.is_empty() {
        return Err(SettingsError::Empty {
            setting: "app_role",
        });
    }
    let database_acquire_timeout = match layer.database_acquire_timeout {
        Some(0) => {
            return Err(SettingsError::Env {
                variable: "database_acquire_timeout".into(),
                message: "it must be at least 1 second".into(),
            });
        }
        Some(seconds) => Duration::from_secs(seconds),
        None => DEFAULT_DATABASE_ACQUIRE_TIMEOUT,
    };
    let database_pool_size = match layer.database_pool_size {
        Some(size @ 1..=MAX_DATABASE_POOL_SIZE) => size,
        Some(_) => {
            return Err(SettingsError::Env {
                variable: "database_pool_size".into(),
                message: format!("it must be from 1 to {MAX_DATABASE_POOL_SIZE} connections"),
            });
        }
        None => DEFAULT_DATABASE_POOL_SIZE,
    };
    Ok(Settings {
        addr: layer.addr.unwrap_or(DEFAULT_ADDR),
        data_dir: layer
            .data_dir
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
        database_url,
        database_acquire_timeout,
        database_pool_size,
        signing_key_file: layer.signing_key_file,
        log: layer.log.unwrap_or_else(|| DEFAULT_LOG.to_owned()),
        app_role,
        app_password_file: layer.app_password_file,
        signup_open: layer.signup_open.unwrap_or(true),
        default_plan: match layer.default_plan {
            Some(name) => PlanName::parse(name.trim()).map_err(|e| SettingsError::Env {
                variable: "default_plan".into(),
                message: e.to_string(),
            })?,
            None => PlanName::free(),
        },
        trusted_proxies: layer.trusted_proxies.unwrap_or_default(),
        tenant_host: match layer.tenant_host {
            Some(pattern) => {
                pattern
                    .parse::<TenantHostPattern>()
                    .map_err(|message| SettingsError::Env {
                        variable: "tenant_host".into(),
                        message,
                    })?;
                Some(pattern)
            }
            None => None,
        },
        cors_origins: layer.cors_origins.unwrap_or_default(),
        header_read_timeout: layer
            .header_read_timeout
            .unwrap_or(ConnectionLimits::DEFAULT_HEADER_READ_TIMEOUT),
        body_read_timeout: layer
            .body_read_timeout
            .unwrap_or(ConnectionLimits::DEFAULT_BODY_READ_TIMEOUT),
        max_connections: layer.max_connections,
        metrics_token_file: layer.metrics_token_file,
        metrics_tenant_labels: layer.metrics_tenant_labels.unwrap_or(false),
        redis_url: match layer.redis_url {
            Some(url) if url.expose().starts_with("redis://") => Some(url),
            Some(url) => {
                return Err(SettingsError::Env {
                    variable: "redis_url".into(),
                    message: format!("{url:?} is not a redis:// URL"),
                });
            }
            None => None,
        },
        redis_key_prefix: layer
            .redis_key_prefix
            .unwrap_or_else(|| DEFAULT_REDIS_KEY_PREFIX.to_owned()),
        rate_limits: layer.rate_limits.resolve(),
        metering_flush_interval: layer
            .metering_flush_interval
            .unwrap_or(DEFAULT_METERING_FLUSH_INTERVAL),
        unknown_env: Vec::new(),
    })
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn parse_networks<'a>(items: impl Iterator<Item = &'a str>) -> Result<Vec<IpNetwork>, String> {
    items
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::parse)
        .collect()
}

/// Exact origins, comma-separated in the environment; `*` is refused by
/// [`CorsOrigin`]'s parser.
fn parse_origins<'a>(items: impl Iterator<Item = &'a str>) -> Result<Vec<CorsOrigin>, String> {
    items
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::parse)
        .collect()
}

/// A timeout in seconds, `10` or `0.5`: more than zero, at most
/// [`MAX_TIMEOUT`].
fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    let duration = Duration::try_from_secs_f64(seconds)
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    checked_timeout(duration)
}

/// The longest flush interval accepted: beyond an hour, a crash would
/// take an hour's metered requests with it.
pub const MAX_FLUSH_INTERVAL: Duration = Duration::from_secs(3600);

fn parse_interval(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    let duration = Duration::try_from_secs_f64(seconds)
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    checked_interval(duration)
}

fn checked_interval(duration: Duration) -> Result<Duration, String> {
    if duration.is_zero() || duration > MAX_FLUSH_INTERVAL {
        return Err(format!(
            "an interval must be more than 0 and at most {} seconds",
            MAX_FLUSH_INTERVAL.as_secs()
        ));
    }
    Ok(duration)
}

fn checked_timeout(duration: Duration) -> Result<Duration, String> {
    if duration.is_zero() {
        return Err("a timeout must be more than 0 seconds".into());
    }
    if duration > MAX_TIMEOUT {
        return Err(format!(
            "a timeout must be at most {} seconds",
            MAX_TIMEOUT.as_secs()
        ));
    }
    Ok(duration)
}

fn parse_count(text: &str) -> Result<usize, String> {
    text.trim()
        .parse::<usize>()
        .ok()
        .filter(|count| *count > 0)
        .ok_or_else(|| format!("{text:?} is not a whole number of at least 1"))
}

/// Reads the environment and the config file, and merges them under `flags`.
pub fn load(flags: Layer) -> Result<Settings, SettingsError> {
    // The one read of the process environment.
    let (env, unknown_env) = Layer::from_env(std::env::vars_os())?;
    let file = match flags.config.as_ref().or(env.config.as_ref()) {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|source| SettingsError::ReadConfig {
                    path: path.clone(),
                    source,
                })?;
            Layer::from_toml(&text, path)?
        }
        None => Layer::default(),
    };
    let mut settings = merge(flags, env, file)?;
    settings.unknown_env = unknown_env;
    Ok(settings)
}

#[cfg(test)]
mod tests;
