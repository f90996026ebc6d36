//! Tests for settings precedence, parsing and redaction. Every input is
//! constructed; the process environment is never read or changed.

use super::*;

use std::num::NonZeroU32;
use std::time::Duration;

fn env(vars: &[(&str, &str)]) -> Layer {
    let (layer, _) = Layer::from_env(vars.iter().map(|(k, v)| (k.into(), v.into()))).unwrap();
    layer
}

fn file(text: &str) -> Layer {
    Layer::from_toml(text, Path::new("bulkhead.toml")).unwrap()
}

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

#[test]
fn with_nothing_given_the_defaults_apply() {
    let settings = merge(Layer::default(), Layer::default(), Layer::default()).unwrap();
    assert_eq!(settings.addr, addr("127.0.0.1:8080"));
    assert_eq!(settings.data_dir, PathBuf::from("bulkhead-data"));
    assert_eq!(settings.database_url, None);
    assert_eq!(settings.signing_key_file, None);
    assert_eq!(settings.log, "info");
    assert_eq!(settings.app_role, "bulkhead_app");
    assert_eq!(settings.app_password_file, None);
    assert_eq!(settings.cors_origins, []);
    assert_eq!(settings.header_read_timeout, Duration::from_secs(10));
    assert_eq!(settings.body_read_timeout, Duration::from_secs(30));
    assert_eq!(settings.max_connections, None);
}

#[test]
fn a_flag_beats_env_which_beats_the_file_which_beats_the_default() {
    let flags = Layer {
        addr: Some(addr("127.0.0.1:1")),
        ..Layer::default()
    };
    let env = env(&[
        ("BULKHEAD_ADDR", "127.0.0.1:2"),
        ("BULKHEAD_DATA_DIR", "/env/data"),
    ]);
    let file = file(
        r#"
        addr = "127.0.0.1:3"
        data_dir = "/file/data"
        log = "debug"
        "#,
    );

    let settings = merge(flags, env, file).unwrap();

    assert_eq!(settings.addr, addr("127.0.0.1:1"), "flag over env");
    assert_eq!(
        settings.data_dir,
        PathBuf::from("/env/data"),
        "env over file"
    );
    assert_eq!(settings.log, "debug", "file over default");
    assert_eq!(settings.app_role, "bulkhead_app", "default");
}

#[test]
fn each_setting_follows_the_same_precedence() {
    let full = |tag: &str| Layer {
        addr: Some(addr(&format!("127.0.0.{tag}:80"))),
        data_dir: Some(format!("/{tag}/data").into()),
        database_url: Some(DatabaseUrl::new(format!("postgres://{tag}@db/x"))),
        database_acquire_timeout: Some(tag.parse().unwrap()),
        database_pool_size: Some(20 + tag.parse::<u32>().unwrap()),
        config: None,
        signing_key_file: Some(format!("/{tag}/key").into()),
        log: Some(format!("log{tag}")),
        app_role: Some(format!("role{tag}")),
        app_password_file: Some(format!("/{tag}/password").into()),
        signup_open: Some(tag == "1"),
        default_plan: Some(format!("plan{tag}")),
        trusted_proxies: Some(vec![format!("10.0.0.{tag}").parse().unwrap()]),
        tenant_host: Some(format!("{{slug}}.t{tag}.example.com")),
        cors_origins: Some(vec![format!("https://t{tag}.example.com").parse().unwrap()]),
        header_read_timeout: Some(Duration::from_secs(tag.parse().unwrap())),
        body_read_timeout: Some(Duration::from_secs(10 + tag.parse::<u64>().unwrap())),
        max_connections: Some(100 + tag.parse::<usize>().unwrap()),
        metrics_token_file: Some(format!("/{tag}/metrics").into()),
        metrics_tenant_labels: Some(tag == "1"),
        redis_url: Some(DatabaseUrl::new(format!("redis://r{tag}:6379"))),
        redis_key_prefix: Some(format!("p{tag}:")),
        metering_flush_interval: Some(Duration::from_secs(60 + tag.parse::<u64>().unwrap())),
        rate_limits: RateLimitLayer {
            auth_per_address: Some(cap(tag, 10)),
            per_principal: Some(cap(tag, 20)),
            per_tenant: Some(cap(tag, 30)),
            streams_per_principal: Some(cap(tag, 40)),
            streams_per_tenant: Some(cap(tag, 50)),
        },
    };
    let from = |tag: &str| Settings {
        addr: addr(&format!("127.0.0.{tag}:80")),
        data_dir: format!("/{tag}/data").into(),
        database_url: Some(DatabaseUrl::new(format!("postgres://{tag}@db/x"))),
        database_acquire_timeout: Duration::from_secs(tag.parse().unwrap()),
        database_pool_size: 20 + tag.parse::<u32>().unwrap(),
        signing_key_file: Some(format!("/{tag}/key").into()),
        log: format!("log{tag}"),
        app_role: format!("role{tag}"),
        app_password_file: Some(format!("/{tag}/password").into()),
        signup_open: tag == "1",
        default_plan: PlanName::parse(&format!("plan{tag}")).unwrap(),
        trusted_proxies: vec![format!("10.0.0.{tag}").parse().unwrap()],
        tenant_host: Some(format!("{{slug}}.t{tag}.example.com")),
        cors_origins: vec![format!("https://t{tag}.example.com").parse().unwrap()],
        header_read_timeout: Duration::from_secs(tag.parse().unwrap()),
        body_read_timeout: Duration::from_secs(10 + tag.parse::<u64>().unwrap()),
        max_connections: Some(100 + tag.parse::<usize>().unwrap()),
        metrics_token_file: Some(format!("/{tag}/metrics").into()),
        metrics_tenant_labels: tag == "1",
        redis_url: Some(DatabaseUrl::new(format!("redis://r{tag}:6379"))),
        redis_key_prefix: format!("p{tag}:"),
        metering_flush_interval: Duration::from_secs(60 + tag.parse::<u64>().unwrap()),
        rate_limits: RateLimitSettings {
            auth_per_address: cap(tag, 10).get(),
            per_principal: cap(tag, 20).get(),
            per_tenant: cap(tag, 30).get(),
            streams_per_principal: cap(tag, 40).get(),
            streams_per_tenant: cap(tag, 50).get(),
        },
        unknown_env: Vec::new(),
    };
    assert_eq!(merge(full("1"), full("2"), full("3")).unwrap(), from("1"));
    assert_eq!(
        merge(Layer::default(), full("2"), full("3")).unwrap(),
        from("2")
    );
    assert_eq!(
        merge(Layer::default(), Layer::default(), full("3")).unwrap(),
        from("3")
    );
}

#[test]
fn environment_variables_map_to_settings() {
    let (layer, unknown) = Layer::from_env(
        [
            ("BULKHEAD_ADDR", "0.0.0.0:9000"),
            ("BULKHEAD_DATA_DIR", "/srv/bulkhead"),
            ("BULKHEAD_DATABASE_URL", "postgres://app@db/bulkhead"),
            ("BULKHEAD_DATABASE_ACQUIRE_TIMEOUT", "30"),
            ("BULKHEAD_DATABASE_POOL_SIZE", "40"),
            ("BULKHEAD_CONFIG", "/etc/bulkhead.toml"),
            ("BULKHEAD_SIGNING_KEY_FILE", "/run/secrets/key"),
            ("BULKHEAD_LOG", "warn"),
            ("BULKHEAD_APP_ROLE", "app"),
            ("BULKHEAD_APP_PASSWORD_FILE", "/run/secrets/app"),
            ("BULKHEAD_SIGNUP_OPEN", "false"),
            ("BULKHEAD_DEFAULT_PLAN", "professional"),
            ("BULKHEAD_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1"),
            ("BULKHEAD_TENANT_HOST", "{slug}.example.com"),
            (
                "BULKHEAD_CORS_ORIGINS",
                "https://app.example.com, http://localhost:5173",
            ),
            ("BULKHEAD_HEADER_READ_TIMEOUT", "0.5"),
            ("BULKHEAD_BODY_READ_TIMEOUT", "20"),
            ("BULKHEAD_MAX_CONNECTIONS", "2000"),
            ("BULKHEAD_METRICS_TOKEN_FILE", "/run/secrets/metrics"),
            ("BULKHEAD_METRICS_TENANT_LABELS", "true"),
            ("BULKHEAD_REDIS_URL", "redis://127.0.0.1:6379"),
            ("BULKHEAD_REDIS_KEY_PREFIX", "app1:"),
            ("BULKHEAD_METERING_FLUSH_INTERVAL", "0.25"),
            ("BULKHEAD_RATE_LIMIT_AUTH_PER_ADDRESS", "30"),
            ("BULKHEAD_RATE_LIMIT_PER_PRINCIPAL", "off"),
            ("BULKHEAD_RATE_LIMIT_PER_TENANT", "1200"),
            ("BULKHEAD_RATE_LIMIT_STREAMS_PER_PRINCIPAL", "4"),
            ("BULKHEAD_RATE_LIMIT_STREAMS_PER_TENANT", "unlimited"),
            ("BULKHEAD_DATABSE_URL", "typo"),
            ("HOME", "/root"),
        ]
        .map(|(k, v)| (k.into(), v.into())),
    )
    .unwrap();
    assert_eq!(
        layer,
        Layer {
            addr: Some(addr("0.0.0.0:9000")),
            data_dir: Some("/srv/bulkhead".into()),
            database_url: Some(DatabaseUrl::new("postgres://app@db/bulkhead")),
            database_acquire_timeout: Some(30),
            database_pool_size: Some(40),
            config: Some("/etc/bulkhead.toml".into()),
            signing_key_file: Some("/run/secrets/key".into()),
            log: Some("warn".into()),
            app_role: Some("app".into()),
            app_password_file: Some("/run/secrets/app".into()),
            signup_open: Some(false),
            default_plan: Some("professional".into()),
            trusted_proxies: Some(vec![
                "10.0.0.0/8".parse().unwrap(),
                "127.0.0.1".parse().unwrap()
            ]),
            tenant_host: Some("{slug}.example.com".into()),
            cors_origins: Some(vec![
                "https://app.example.com".parse().unwrap(),
                "http://localhost:5173".parse().unwrap()
            ]),
            header_read_timeout: Some(Duration::from_millis(500)),
            body_read_timeout: Some(Duration::from_secs(20)),
            max_connections: Some(2000),
            metrics_token_file: Some("/run/secrets/metrics".into()),
            metrics_tenant_labels: Some(true),
            redis_url: Some(DatabaseUrl::new("redis://127.0.0.1:6379")),
            redis_key_prefix: Some("app1:".into()),
            metering_flush_interval: Some(Duration::from_millis(250)),
            rate_limits: RateLimitLayer {
                auth_per_address: Some(Cap::At(NonZeroU32::new(30).unwrap())),
                per_principal: Some(Cap::Off),
                per_tenant: Some(Cap::At(NonZeroU32::new(1200).unwrap())),
                streams_per_principal: Some(Cap::At(NonZeroU32::new(4).unwrap())),
                streams_per_tenant: Some(Cap::Off),
            },
        }
    );
    assert_eq!(unknown, ["BULKHEAD_DATABSE_URL"]);
}

#[test]
fn an_empty_environment_variable_counts_as_unset() {
    let layer = env(&[("BULKHEAD_DATABASE_URL", ""), ("BULKHEAD_ADDR", "")]);
    assert_eq!(layer, Layer::default());
}

#[test]
fn a_malformed_address_in_the_environment_is_one_clear_error() {
    let error = Layer::from_env([("BULKHEAD_ADDR".into(), "localhost".into())]).unwrap_err();
    let message = error.to_string();
    assert!(message.starts_with("invalid BULKHEAD_ADDR: "), "{message}");
    assert!(!message.contains('\n'));
}

#[test]
fn the_file_accepts_every_documented_key() {
    let layer = file(
        r#"
        addr = "127.0.0.1:9000"
        data_dir = "/srv/data"
        database_url = "postgres://app@db/bulkhead"
        signing_key_file = "/run/key"
        log = "warn"
        app_role = "app"
        database_pool_size = 32
        metrics_token_file = "/run/metrics-token"
        metrics_tenant_labels = true
        metering_flush_interval = 30
        "#,
    );
    assert_eq!(layer.metering_flush_interval, Some(Duration::from_secs(30)));
    assert_eq!(layer.metrics_token_file, Some("/run/metrics-token".into()));
    assert_eq!(layer.metrics_tenant_labels, Some(true));
    assert_eq!(layer.addr, Some(addr("127.0.0.1:9000")));
    assert_eq!(layer.database_pool_size, Some(32));
    assert_eq!(layer.data_dir, Some("/srv/data".into()));
    assert_eq!(layer.signing_key_file, Some("/run/key".into()));
    assert_eq!(layer.app_role.as_deref(), Some("app"));
}

/// The limits of a layer tagged `tag`: `base` plus the tag.
fn cap(tag: &str, base: u32) -> Cap {
    Cap::At(NonZeroU32::new(base + tag.parse::<u32>().unwrap()).unwrap())
}

#[test]
fn rate_limits_default_to_the_documented_values_and_off_turns_one_off() {
    let settings = merge(Layer::default(), Layer::default(), Layer::default()).unwrap();
    let n = |n| NonZeroU32::new(n);
    assert_eq!(
        settings.rate_limits,
        RateLimitSettings {
            auth_per_address: n(60),
            per_principal: n(600),
            per_tenant: None,
            streams_per_principal: n(16),
            streams_per_tenant: None,
        }
    );
    assert_eq!(settings.redis_url, None);
    assert_eq!(settings.redis_key_prefix, "bulkhead:");
    assert_eq!(settings.metering_flush_interval, Duration::from_secs(60));
    let file = file(
        r#"
        redis_url = "redis://cache:6379/2"
        [rate_limits]
        per_principal = "off"
        per_tenant = 6000
        "#,
    );
    let settings = merge(Layer::default(), Layer::default(), file).unwrap();
    assert_eq!(settings.rate_limits.per_principal, None);
    assert_eq!(settings.rate_limits.per_tenant, n(6000));
    assert_eq!(settings.rate_limits.auth_per_address, n(60), "default kept");
    assert_eq!(
        settings.redis_url,
        Some(DatabaseUrl::new("redis://cache:6379/2"))
    );
}

#[test]
fn a_bad_rate_limit_or_redis_url_is_one_clear_error() {
    for value in ["0", "-1", "lots"] {
        let error = Layer::from_env([("BULKHEAD_RATE_LIMIT_PER_PRINCIPAL".into(), value.into())])
            .unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with("invalid BULKHEAD_RATE_LIMIT_PER_PRINCIPAL: "),
            "{message}"
        );
        assert!(message.contains("or off"), "{message}");
    }
    let error = Layer::from_toml(
        "[rate_limits]
per_tenant = 0
",
        Path::new("b.toml"),
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("rate_limits.per_tenant"),
        "{error}"
    );
    let error = Layer::from_toml(
        "[rate_limits]
per_tenantt = 5
",
        Path::new("b.toml"),
    )
    .unwrap_err();
    assert!(error.to_string().contains("unknown field"), "{error}");
    let flags = Layer {
        redis_url: Some(DatabaseUrl::new("http://user:secret@cache")),
        ..Layer::default()
    };
    let error = merge(flags, Layer::default(), Layer::default()).unwrap_err();
    assert!(error.to_string().contains("redis://"), "{error}");
    assert!(!error.to_string().contains("secret"), "{error}");
}

#[test]
fn an_unknown_key_in_the_file_is_refused_with_its_line() {
    let error = Layer::from_toml(
        "log = \"info\"\ndatabase = \"postgres://x\"\n",
        Path::new("/etc/bulkhead.toml"),
    )
    .unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with("invalid config file /etc/bulkhead.toml: line 2: "),
        "{message}"
    );
    assert!(message.contains("unknown field `database`"), "{message}");
    assert!(!message.contains('\n'), "{message}");
}

#[test]
fn a_file_that_is_not_toml_is_refused_in_one_line() {
    let error = Layer::from_toml("addr = = 1\n", Path::new("x.toml")).unwrap_err();
    assert!(!error.to_string().contains('\n'), "{error}");
}

#[test]
fn a_database_url_that_is_not_postgres_is_refused() {
    for url in ["mysql://x", "sqlite://bulkhead.db", "bulkhead.db"] {
        let flags = Layer {
            database_url: Some(DatabaseUrl::new(url)),
            ..Layer::default()
        };
        let error = merge(flags, Layer::default(), Layer::default()).unwrap_err();
        assert!(
            matches!(error, SettingsError::UnsupportedDatabase { .. }),
            "{url}"
        );
        assert!(error.to_string().contains("postgres://"), "{error}");
    }
    for url in ["postgres://db/x", "postgresql://db/x"] {
        let flags = Layer {
            database_url: Some(DatabaseUrl::new(url)),
            ..Layer::default()
        };
        let settings = merge(flags, Layer::default(), Layer::default()).unwrap();
        assert_eq!(settings.database_url, Some(DatabaseUrl::new(url)));
    }
}

#[test]
fn debug_output_of_settings_hides_the_database_password() {
    let flags = Layer {
        database_url: Some(DatabaseUrl::new(
            "postgres://app:s3cr3t-pw@db.internal:5432/bulkhead?sslmode=require&password=0ther-pw",
        )),
        ..Layer::default()
    };
    let settings = merge(flags, Layer::default(), Layer::default()).unwrap();
    let debug = format!("{settings:?}");
    assert!(!debug.contains("s3cr3t-pw"), "{debug}");
    assert!(!debug.contains("0ther-pw"), "{debug}");
    assert!(
        debug.contains("postgres://app:***@db.internal:5432/bulkhead?sslmode=require&password=***"),
        "{debug}"
    );
}

#[test]
fn redaction_keeps_what_helps_and_hides_what_hurts() {
    let cases = [
        ("postgres://db/x", "postgres://db/x"),
        ("postgres://app@db/x", "postgres://app@db/x"),
        ("postgres://app:pw@db/x", "postgres://app:***@db/x"),
        ("postgres://app:p@ss@db/x", "postgres://app:***@db/x"),
        ("postgres://app:pw@db", "postgres://app:***@db"),
        ("postgres://app:@db/x", "postgres://app:***@db/x"),
        (
            "postgres://db/x?Password=pw#f",
            "postgres://db/x?Password=***#f",
        ),
        ("mysql://root:pw@x", "mysql://root:***@x"),
        ("no scheme pw", "<unparseable URL>"),
    ];
    for (url, expected) in cases {
        assert_eq!(DatabaseUrl::new(url).redacted(), expected, "{url}");
        assert_eq!(DatabaseUrl::new(url).to_string(), expected, "{url}");
    }
}

#[test]
fn invalid_network_settings_are_refused_with_their_name() {
    let error =
        Layer::from_env([("BULKHEAD_TRUSTED_PROXIES".into(), "10.0.0.0/99".into())]).unwrap_err();
    assert!(
        error.to_string().contains("BULKHEAD_TRUSTED_PROXIES"),
        "{error}"
    );
    let error = Layer::from_env([("BULKHEAD_SIGNUP_OPEN".into(), "maybe".into())]).unwrap_err();
    assert!(
        error.to_string().contains("BULKHEAD_SIGNUP_OPEN"),
        "{error}"
    );
    let flags = Layer {
        tenant_host: Some("example.com".into()),
        ..Layer::default()
    };
    assert!(merge(flags, Layer::default(), Layer::default()).is_err());
}

#[test]
fn the_file_sets_origins_timeouts_and_the_connection_cap() {
    let layer = file(
        r#"
        cors_origins = ["https://app.example.com"]
        header_read_timeout = 5
        body_read_timeout = 2.5
        max_connections = 300
        "#,
    );
    assert_eq!(
        layer.cors_origins,
        Some(vec!["https://app.example.com".parse().unwrap()])
    );
    assert_eq!(layer.header_read_timeout, Some(Duration::from_secs(5)));
    assert_eq!(layer.body_read_timeout, Some(Duration::from_millis(2500)));
    assert_eq!(layer.max_connections, Some(300));
}

#[test]
fn a_wildcard_cors_origin_is_refused_in_the_environment_and_the_file() {
    for value in ["*", "https://app.example.com, *", "https://*.example.com"] {
        let error = Layer::from_env([("BULKHEAD_CORS_ORIGINS".into(), value.into())]).unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with("invalid BULKHEAD_CORS_ORIGINS: "),
            "{message}"
        );
        assert!(message.contains("`*` is not allowed"), "{message}");
    }
    let error = Layer::from_toml("cors_origins = [\"*\"]\n", Path::new("b.toml")).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("cors_origins: "), "{message}");
    assert!(message.contains("`*` is not allowed"), "{message}");
}

#[test]
fn timeouts_and_the_connection_cap_must_be_positive_and_bounded() {
    for (variable, value) in [
        ("BULKHEAD_HEADER_READ_TIMEOUT", "0"),
        ("BULKHEAD_HEADER_READ_TIMEOUT", "-1"),
        ("BULKHEAD_HEADER_READ_TIMEOUT", "ten"),
        ("BULKHEAD_HEADER_READ_TIMEOUT", "10s"),
        ("BULKHEAD_BODY_READ_TIMEOUT", "3601"),
        ("BULKHEAD_BODY_READ_TIMEOUT", "NaN"),
        ("BULKHEAD_MAX_CONNECTIONS", "0"),
        ("BULKHEAD_MAX_CONNECTIONS", "-5"),
        ("BULKHEAD_MAX_CONNECTIONS", "1.5"),
    ] {
        let error = Layer::from_env([(variable.into(), value.into())]).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with(&format!("invalid {variable}: ")),
            "{variable}={value}: {error}"
        );
    }
    for text in [
        "header_read_timeout = 0",
        "body_read_timeout = -1.0",
        "body_read_timeout = 7200",
        "max_connections = 0",
    ] {
        assert!(
            Layer::from_toml(text, Path::new("b.toml")).is_err(),
            "{text} was accepted"
        );
    }
}

#[test]
fn a_database_pool_of_no_connections_or_too_many_is_refused() {
    for size in [0, MAX_DATABASE_POOL_SIZE + 1] {
        let layer = Layer {
            database_pool_size: Some(size),
            ..Layer::default()
        };
        let message = merge(layer, Layer::default(), Layer::default())
            .unwrap_err()
            .to_string();
        assert!(message.contains("database_pool_size"), "{message}");
    }
    let settings = merge(Layer::default(), Layer::default(), Layer::default()).unwrap();
    assert_eq!(settings.database_pool_size, DEFAULT_DATABASE_POOL_SIZE);
}

#[test]
fn metrics_are_off_and_unlabelled_by_tenant_unless_set() {
    let settings = merge(Layer::default(), Layer::default(), Layer::default()).unwrap();
    assert_eq!(settings.metrics_token_file, None);
    assert!(!settings.metrics_tenant_labels);
    let error = Layer::from_env([("BULKHEAD_METRICS_TENANT_LABELS".into(), "maybe".into())])
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("invalid BULKHEAD_METRICS_TENANT_LABELS: "),
        "{error}"
    );
}

#[test]
fn a_flush_interval_must_be_more_than_nothing_and_at_most_an_hour() {
    for bad in ["0", "3601", "soon", "-1"] {
        let error =
            Layer::from_env([("BULKHEAD_METERING_FLUSH_INTERVAL".into(), bad.into())]).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("invalid BULKHEAD_METERING_FLUSH_INTERVAL: "),
            "{bad}: {error}"
        );
    }
    let error = Layer::from_toml("metering_flush_interval = 0", Path::new("x.toml")).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("metering_flush_interval: an interval must be"),
        "{error}"
    );
}
