//! Facts about the request that depend on the deployment: the client's
//! address behind trusted proxies, the tenant named by a subdomain, and the
//! browser origins allowed to call the API.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request};
use axum::http::Uri;
use axum::http::header::HOST;
use bulkhead_domain::TenantSlug;

use crate::cors::CorsOrigin;

/// How this deployment sits on the network.
#[derive(Debug, Clone, Default)]
pub struct EdgeSettings {
    /// Peers whose `X-Forwarded-For` is believed. Anyone else's is ignored,
    /// so a client cannot choose the address it is throttled and audited by.
    pub trusted_proxies: Vec<IpNetwork>,
    /// `{slug}.example.com`: requests to such a host address that tenant,
    /// as if `/v1/tenants/{slug}` led their path.
    pub tenant_host: Option<TenantHostPattern>,
    /// Pages that may call the API from a browser; none means no CORS.
    pub cors_origins: Vec<CorsOrigin>,
}

/// An address range, `192.0.2.0/24` or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNetwork {
    address: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for IpNetwork {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address
            .trim()
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or network"))?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?} has an invalid prefix length"))?,
            None => max,
        };
        Ok(Self { address, prefix })
    }
}

impl IpNetwork {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.address, ip) {
            (IpAddr::V4(network), IpAddr::V4(ip)) => {
                masked(u128::from(u32::from(network)), 32, self.prefix)
                    == masked(u128::from(u32::from(ip)), 32, self.prefix)
            }
            (IpAddr::V6(network), IpAddr::V6(ip)) => {
                masked(u128::from(network), 128, self.prefix)
                    == masked(u128::from(ip), 128, self.prefix)
            }
            _ => false,
        }
    }
}

fn masked(bits: u128, width: u32, prefix: u8) -> u128 {
    let host_bits = width - u32::from(prefix);
    if host_bits >= 128 {
        0
    } else {
        bits >> host_bits
    }
}

/// `{slug}.domain`: the subdomain names a tenant.
#[derive(Debug, Clone)]
pub struct TenantHostPattern {
    /// The part after `{slug}`, e.g. `.example.com`.
    suffix: String,
}

impl std::str::FromStr for TenantHostPattern {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let suffix = text
            .strip_prefix("{slug}")
            .filter(|rest| rest.starts_with('.') && rest.len() > 1)
            .ok_or_else(|| format!("{text:?} must look like {{slug}}.example.com"))?;
        Ok(Self {
            suffix: suffix.to_ascii_lowercase(),
        })
    }
}

impl TenantHostPattern {
    /// The slug a host names, if it matches the pattern.
    pub fn slug(&self, host: &str) -> Option<TenantSlug> {
        let host = host.split(':').next()?.to_ascii_lowercase();
        let slug = host.strip_suffix(&self.suffix)?;
        TenantSlug::parse(slug).ok()
    }
}

/// Paths under `/v1` that are not about one tenant. `invitations` alone is
/// tenant-scoped (`POST /v1/invitations` on a tenant host invites into it);
/// only `invitations/accept` is global.
const GLOBAL_PREFIXES: &[&str] = &["auth", "me", "tenants", "admin"];

/// Rewrites `/v1/<rest>` on a tenant host into `/v1/tenants/<slug>/<rest>`,
/// before routing. The tenant comes from the host the client connected to,
/// never from a header of its choosing; membership is checked as for any
/// other path.
pub fn rewrite_tenant_host(edge: &EdgeSettings, mut request: Request) -> Request {
    let Some(pattern) = &edge.tenant_host else {
        return request;
    };
    let host = request
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| request.uri().host())
        .map(str::to_owned);
    let Some(slug) = host.as_deref().and_then(|host| pattern.slug(host)) else {
        return request;
    };
    let path = request.uri().path();
    let Some(rest) = path.strip_prefix("/v1/") else {
        return request;
    };
    let first = rest.split('/').next().unwrap_or_default();
    if rest.is_empty()
        || GLOBAL_PREFIXES.contains(&first)
        || rest == "invitations/accept"
        || rest.starts_with("invitations/accept/")
    {
        return request;
    }
    let query = request
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    if let Ok(uri) = format!("/v1/tenants/{slug}/{rest}{query}").parse::<Uri>() {
        *request.uri_mut() = uri;
    }
    request
}

/// The client's address: the peer, or, when the peer is a trusted proxy,
/// the nearest address in `X-Forwarded-For` that is not one.
pub fn client_ip(edge: &EdgeSettings, parts: &axum::http::request::Parts) -> Option<IpAddr> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())?;
    let trusted = |ip: IpAddr| edge.trusted_proxies.iter().any(|net| net.contains(ip));
    if !trusted(peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|part| part.trim().parse().ok())
        .collect();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !trusted(*ip))
            .unwrap_or(peer),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_contain_what_they_should() {
        let net: IpNetwork = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains("10.1.2.3".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        let one: IpNetwork = "127.0.0.1".parse().unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        let v6: IpNetwork = "::1".parse().unwrap();
        assert!(v6.contains("::1".parse().unwrap()));
        assert!(!v6.contains("127.0.0.1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<IpNetwork>().is_err());
        assert!("example".parse::<IpNetwork>().is_err());
    }

    #[test]
    fn tenant_hosts_name_their_slug() {
        let pattern: TenantHostPattern = "{slug}.example.com".parse().unwrap();
        assert_eq!(
            pattern.slug("acme.example.com:8080").unwrap().as_str(),
            "acme"
        );
        assert_eq!(pattern.slug("ACME.Example.com").unwrap().as_str(), "acme");
        assert!(pattern.slug("example.com").is_none());
        assert!(pattern.slug("a.b.example.com").is_none());
        assert!(
            pattern.slug("admin.example.com").is_none(),
            "reserved slugs are not tenants"
        );
        assert!("example.com".parse::<TenantHostPattern>().is_err());
    }
}
