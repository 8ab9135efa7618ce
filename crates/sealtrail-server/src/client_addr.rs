//! Where a request comes from: the peer address, or — only when the peer is a proxy the
//! operator trusts — the client address that proxy reports in `X-Forwarded-For`.
//!
//! Believing `X-Forwarded-For` from anyone would let any client pick the address the IP
//! allowlist checks and the audit trail records, so it is ignored unless the operator lists the
//! proxies (`--trusted-proxy`); it is off by default.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use sealtrail_core::entry::Context;
use sealtrail_core::ip_allowlist::{canonical_ip, IpAllowlist};
use std::net::{IpAddr, SocketAddr};

/// The client's address and user agent, as recorded in audit entries.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    /// The address the allowlist checks.
    pub ip: IpAddr,
    /// The browser or tool, as it describes itself (bounded length).
    pub user_agent: Option<String>,
}

impl ClientInfo {
    /// The `context` of an audit entry about this request.
    pub fn context(&self) -> Context {
        Context {
            ip: Some(self.ip.to_string()),
            user_agent: self.user_agent.clone(),
            ..Context::default()
        }
    }
}

/// Longest user agent kept; longer ones are cut (they are self-descriptions, not evidence).
const MAX_USER_AGENT: usize = 256;

/// The client address: the rightmost `X-Forwarded-For` hop that is not a trusted proxy, when
/// the peer itself is trusted; otherwise the peer. Malformed headers fall back to the peer.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &IpAllowlist) -> IpAddr {
    let peer = canonical_ip(peer);
    if !trusted.contains(peer) {
        return peer;
    }
    let mut hops: Vec<IpAddr> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(text) = value.to_str() else {
            return peer;
        };
        for part in text.split(',') {
            match part.trim().parse::<IpAddr>() {
                Ok(ip) => hops.push(canonical_ip(ip)),
                Err(_) => return peer,
            }
        }
    }
    hops.iter()
        .rev()
        .find(|ip| !trusted.contains(**ip))
        .or(hops.first())
        .copied()
        .unwrap_or(peer)
}

impl FromRequestParts<AppState> for ClientInfo {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the server was started without peer addresses",
                )
            })?;
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(MAX_USER_AGENT).collect());
        Ok(ClientInfo {
            ip: client_ip(peer, &parts.headers, &state.trusted_proxies),
            user_agent,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn forwarded_for_is_ignored_unless_the_peer_is_trusted() {
        let none = IpAllowlist::default();
        assert_eq!(
            client_ip(ip("203.0.113.9"), &xff(&["10.9.9.9"]), &none),
            ip("203.0.113.9")
        );
        let proxies = IpAllowlist::parse(&["10.0.0.0/8"]).unwrap();
        assert_eq!(
            client_ip(ip("198.51.100.1"), &xff(&["1.2.3.4"]), &proxies),
            ip("198.51.100.1"),
            "an untrusted peer cannot choose its address"
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let proxies = IpAllowlist::parse(&["10.0.0.0/8"]).unwrap();
        let headers = xff(&["6.6.6.6, 198.51.100.7", "10.0.0.2"]);
        assert_eq!(
            client_ip(ip("10.0.0.1"), &headers, &proxies),
            ip("198.51.100.7"),
            "a client-supplied 6.6.6.6 on the left is not believed"
        );
        assert_eq!(
            client_ip(ip("10.0.0.1"), &xff(&["not-an-ip"]), &proxies),
            ip("10.0.0.1")
        );
        assert_eq!(
            client_ip(ip("::ffff:10.0.0.1"), &HeaderMap::new(), &proxies),
            ip("10.0.0.1")
        );
    }
}
