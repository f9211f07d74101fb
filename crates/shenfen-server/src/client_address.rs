//! The client's address, which per-client limits count against: the TCP
//! peer, unless the peer is one of the configured trusted proxies — then the
//! address that proxy saw, from `X-Forwarded-For` (read right to left,
//! skipping further trusted proxies). A header from anyone else is ignored,
//! so a client cannot pick its own bucket.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;

use crate::app::AppState;

/// The address a request is counted against; `None` when the server runs
/// without a socket (in-process tests), which all share one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientAddress(pub Option<IpAddr>);

impl ClientAddress {
    /// The key of this client's counters: an IPv4 address, or an IPv6
    /// address's /64 — what one subscriber is given, so that one client
    /// cannot spread its attempts over 2⁶⁴ addresses of its own.
    pub(crate) fn key(&self) -> String {
        match self.0 {
            None => "unknown".to_owned(),
            Some(IpAddr::V4(v4)) => v4.to_string(),
            Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => format!("{}/64", Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
            },
        }
    }
}

/// The client behind `peer`, trusting `X-Forwarded-For` only from `trusted` proxies.
pub(crate) fn client_address(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> ClientAddress {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let Some(peer) = peer else { return ClientAddress(None) };
    if !is_trusted(&peer) {
        return ClientAddress(Some(peer));
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .collect();
    // Right to left: the nearest hop was added by our own proxy; the first
    // untrusted one is the client as far as anyone we trust can tell. What
    // stands left of it (or of an unreadable hop) is the client's own say.
    let client = hops.iter().rev().map_while(|hop| hop.trim().parse::<IpAddr>().ok()).find(|ip| !is_trusted(ip));
    ClientAddress(Some(client.unwrap_or(peer)))
}

impl FromRequestParts<Arc<AppState>> for ClientAddress {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        Ok(client_address(peer, &parts.headers, &state.authority.policy.trusted_proxies))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn only_a_trusted_proxy_may_say_who_the_client_is() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
        let spoofed = forwarded(&["203.0.113.9"]);
        assert_eq!(client_address(Some(ip("198.51.100.7")), &spoofed, &trusted).0, Some(ip("198.51.100.7")));
        assert_eq!(client_address(Some(ip("10.1.2.3")), &spoofed, &trusted).0, Some(ip("203.0.113.9")));
        assert_eq!(client_address(Some(ip("10.1.2.3")), &forwarded(&[]), &trusted).0, Some(ip("10.1.2.3")));
        assert_eq!(client_address(Some(ip("198.51.100.7")), &spoofed, &[]).0, Some(ip("198.51.100.7")));
        assert_eq!(client_address(None, &spoofed, &trusted).key(), "unknown");
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64_and_a_mapped_ipv4_as_ipv4() {
        let key = |text: &str| ClientAddress(Some(ip(text))).key();
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff:ffff:ffff:ffff"), key("2001:db8:1:2::7"), "one subscriber, one bucket");
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
        assert_eq!(key("::ffff:198.51.100.7"), "198.51.100.7");
        assert_eq!(key("198.51.100.7"), "198.51.100.7");
    }

    #[test]
    fn the_rightmost_untrusted_hop_wins_over_what_the_client_prepended() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        // The client wrote "1.1.1.1" itself; our proxies appended the real address and their own.
        let chain = forwarded(&["1.1.1.1, 203.0.113.9", "10.0.0.2"]);
        assert_eq!(client_address(Some(ip("10.0.0.1")), &chain, &trusted).0, Some(ip("203.0.113.9")));
        let prepended = forwarded(&["not-an-address, 203.0.113.9"]);
        assert_eq!(client_address(Some(ip("10.0.0.1")), &prepended, &trusted).0, Some(ip("203.0.113.9")));
        let unreadable = forwarded(&["203.0.113.9, not-an-address"]);
        assert_eq!(client_address(Some(ip("10.0.0.1")), &unreadable, &trusted).0, Some(ip("10.0.0.1")));
    }
}
