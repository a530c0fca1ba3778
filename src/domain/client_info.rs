//! `ClientInfo`: who is on the other end of a request, as far as the transport can tell.

use std::net::IpAddr;

/// Request metadata recorded on sessions and audit events. Every field is what the
/// client sent or the socket reported: informational, never trusted for a decision.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client's address: the connection's peer, or, behind a trusted proxy, the
    /// address it forwarded (`TrustedProxies::client_address`).
    pub ip_address: Option<String>,
    /// The `user-agent` metadata, truncated.
    pub user_agent: Option<String>,
}

/// Bits of an IPv6 address that name one subscriber: providers hand each customer a
/// /64 (RFC 6177), so a single client can use 2^64 addresses of its own.
const IPV6_SUBSCRIBER_PREFIX: u8 = 64;

/// Longest user agent kept; the rest is noise or an attempt to bloat the tables.
const MAX_USER_AGENT_CHARS: usize = 256;

impl ClientInfo {
    /// The caller as a transport saw it: its address and its user agent, the latter cut
    /// to 256 characters whatever the transport (gRPC metadata, the console's header).
    pub fn new(address: Option<IpAddr>, user_agent: Option<&str>) -> Self {
        Self {
            ip_address: address.map(|address| address.to_string()),
            user_agent: user_agent.map(|agent| agent.chars().take(MAX_USER_AGENT_CHARS).collect()),
        }
    }

    /// The key of per-address rate limits: an IPv4 address as is, an IPv6 address as
    /// its /64 network. Keyed on the full IPv6 address, one client could rotate through
    /// its /64 and never run out of budget.
    pub fn rate_limit_address(&self) -> Option<String> {
        let raw = self.ip_address.as_deref()?;
        match raw.parse::<IpAddr>().map(|address| address.to_canonical()) {
            Ok(IpAddr::V6(address)) => ipnet::Ipv6Net::new(address, IPV6_SUBSCRIBER_PREFIX).map_or_else(
                |_| Some(raw.to_owned()),
                |network| Some(network.trunc().to_string()),
            ),
            Ok(IpAddr::V4(address)) => Some(address.to_string()),
            Err(_) => Some(raw.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_agent_is_kept_to_256_characters() {
        let long = "é".repeat(300);
        let client = ClientInfo::new(Some(IpAddr::from([192, 0, 2, 1])), Some(&long));
        assert_eq!(client.user_agent.map(|agent| agent.chars().count()), Some(256));
        assert_eq!(client.ip_address.as_deref(), Some("192.0.2.1"));
    }

    fn from(address: Option<&str>) -> ClientInfo {
        ClientInfo {
            ip_address: address.map(str::to_owned),
            user_agent: None,
        }
    }

    #[test]
    fn rate_limits_key_ipv4_by_address_and_ipv6_by_its_64() {
        let cases = [
            ("IPv4 as is", Some("198.51.100.7"), Some("198.51.100.7")),
            (
                "IPv6 by /64",
                Some("2001:db8:1:2:aaaa::1"),
                Some("2001:db8:1:2::/64"),
            ),
            (
                "another address of the same /64 shares the key",
                Some("2001:db8:1:2:ffff:ffff:ffff:ffff"),
                Some("2001:db8:1:2::/64"),
            ),
            (
                "IPv4-mapped IPv6 is IPv4",
                Some("::ffff:198.51.100.7"),
                Some("198.51.100.7"),
            ),
            ("no address", None, None),
            (
                "not an address: kept as recorded",
                Some("unknown"),
                Some("unknown"),
            ),
        ];
        for (case, address, expected) in cases {
            assert_eq!(from(address).rate_limit_address().as_deref(), expected, "{case}");
        }
    }
}
