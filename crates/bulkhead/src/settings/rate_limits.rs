//! The rate-limit settings: five limits, each a whole number or `off`.
//!
//! | environment | config file (`[rate_limits]`) | default |
//! |---|---|---|
//! | `BULKHEAD_RATE_LIMIT_AUTH_PER_ADDRESS` | `auth_per_address` | 60 requests a minute per client address on `/v1/auth/*` |
//! | `BULKHEAD_RATE_LIMIT_PER_PRINCIPAL` | `per_principal` | 600 requests a minute per user or API key |
//! | `BULKHEAD_RATE_LIMIT_PER_TENANT` | `per_tenant` | off: requests a minute per tenant, until plans set it |
//! | `BULKHEAD_RATE_LIMIT_STREAMS_PER_PRINCIPAL` | `streams_per_principal` | 16 open event streams per principal |
//! | `BULKHEAD_RATE_LIMIT_STREAMS_PER_TENANT` | `streams_per_tenant` | off: open event streams per tenant, until plans set it |
//!
//! The defaults and why are in `bulkhead_service::rate_limits`.

use std::num::NonZeroU32;

use bulkhead_service::rate_limits::{
    DEFAULT_AUTH_PER_ADDRESS, DEFAULT_PER_PRINCIPAL, DEFAULT_REALTIME_PER_PRINCIPAL,
};
use serde::Deserialize;

/// The environment variables of this group.
pub const ENV_VARS: [&str; 5] = [
    "BULKHEAD_RATE_LIMIT_AUTH_PER_ADDRESS",
    "BULKHEAD_RATE_LIMIT_PER_PRINCIPAL",
    "BULKHEAD_RATE_LIMIT_PER_TENANT",
    "BULKHEAD_RATE_LIMIT_STREAMS_PER_PRINCIPAL",
    "BULKHEAD_RATE_LIMIT_STREAMS_PER_TENANT",
];

/// A limit as set: a whole number of at least 1, or no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    Off,
    At(NonZeroU32),
}

impl Cap {
    pub fn get(self) -> Option<NonZeroU32> {
        match self {
            Cap::Off => None,
            Cap::At(n) => Some(n),
        }
    }
}

impl std::str::FromStr for Cap {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if ["off", "none", "unlimited"]
            .iter()
            .any(|word| text.eq_ignore_ascii_case(word))
        {
            return Ok(Cap::Off);
        }
        text.parse::<NonZeroU32>()
            .map(Cap::At)
            .map_err(|_| format!("{text:?} is not a whole number of at least 1, or off"))
    }
}

/// The limits in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSettings {
    pub auth_per_address: Option<NonZeroU32>,
    pub per_principal: Option<NonZeroU32>,
    pub per_tenant: Option<NonZeroU32>,
    pub streams_per_principal: Option<NonZeroU32>,
    pub streams_per_tenant: Option<NonZeroU32>,
}

/// One source's limits: `None` where it says nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimitLayer {
    pub auth_per_address: Option<Cap>,
    pub per_principal: Option<Cap>,
    pub per_tenant: Option<Cap>,
    pub streams_per_principal: Option<Cap>,
    pub streams_per_tenant: Option<Cap>,
}

impl RateLimitLayer {
    /// Sets the limit the environment variable `name` names.
    pub(super) fn set_env(&mut self, name: &str, value: &str) -> Result<(), String> {
        let cap = Some(value.parse()?);
        match name {
            "BULKHEAD_RATE_LIMIT_AUTH_PER_ADDRESS" => self.auth_per_address = cap,
            "BULKHEAD_RATE_LIMIT_PER_PRINCIPAL" => self.per_principal = cap,
            "BULKHEAD_RATE_LIMIT_PER_TENANT" => self.per_tenant = cap,
            "BULKHEAD_RATE_LIMIT_STREAMS_PER_PRINCIPAL" => self.streams_per_principal = cap,
            "BULKHEAD_RATE_LIMIT_STREAMS_PER_TENANT" => self.streams_per_tenant = cap,
            _ => {}
        }
        Ok(())
    }

    pub(super) fn or(self, lower: Self) -> Self {
        Self {
            auth_per_address: self.auth_per_address.or(lower.auth_per_address),
            per_principal: self.per_principal.or(lower.per_principal),
            per_tenant: self.per_tenant.or(lower.per_tenant),
            streams_per_principal: self.streams_per_principal.or(lower.streams_per_principal),
            streams_per_tenant: self.streams_per_tenant.or(lower.streams_per_tenant),
        }
    }

    /// The limits, with the defaults where no source set one.
    pub(super) fn resolve(self) -> RateLimitSettings {
        let or_default = |cap: Option<Cap>, default: Option<NonZeroU32>| match cap {
            Some(cap) => cap.get(),
            None => default,
        };
        RateLimitSettings {
            auth_per_address: or_default(self.auth_per_address, Some(DEFAULT_AUTH_PER_ADDRESS)),
            per_principal: or_default(self.per_principal, Some(DEFAULT_PER_PRINCIPAL)),
            per_tenant: or_default(self.per_tenant, None),
            streams_per_principal: or_default(
                self.streams_per_principal,
                Some(DEFAULT_REALTIME_PER_PRINCIPAL),
            ),
            streams_per_tenant: or_default(self.streams_per_tenant, None),
        }
    }
}

/// A limit in the config file: `600` or `"off"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum CapValue {
    Number(u64),
    Text(String),
}

impl CapValue {
    fn cap(self) -> Result<Cap, String> {
        match self {
            CapValue::Number(n) => n.to_string().parse(),
            CapValue::Text(text) => text.parse(),
        }
    }
}

/// The config file's `[rate_limits]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RateLimitFile {
    auth_per_address: Option<CapValue>,
    per_principal: Option<CapValue>,
    per_tenant: Option<CapValue>,
    streams_per_principal: Option<CapValue>,
    streams_per_tenant: Option<CapValue>,
}

impl RateLimitFile {
    /// The layer, or the key that is wrong and why.
    pub(super) fn layer(self) -> Result<RateLimitLayer, String> {
        let cap = |key: &str, value: Option<CapValue>| {
            value
                .map(|value| {
                    value
                        .cap()
                        .map_err(|message| format!("rate_limits.{key}: {message}"))
                })
                .transpose()
        };
        Ok(RateLimitLayer {
            auth_per_address: cap("auth_per_address", self.auth_per_address)?,
            per_principal: cap("per_principal", self.per_principal)?,
            per_tenant: cap("per_tenant", self.per_tenant)?,
            streams_per_principal: cap("streams_per_principal", self.streams_per_principal)?,
            streams_per_tenant: cap("streams_per_tenant", self.streams_per_tenant)?,
        })
    }
}
