//! `TrustedProxies`: the networks whose `x-forwarded-for` is believed
//! (`IDENTITY_TRUSTED_PROXIES`), and the rule that picks the client address from it.
//!
//! A header is only as honest as whoever wrote it. Each proxy appends the address it
//! received the connection from, so reading from the right, every entry up to and
//! including the first one appended by an untrusted hop is the real path; anything left
//! of that is what the client wrote itself and may be invented. Hence: from a trusted peer
//! the client is the right-most address that is not itself a trusted proxy; from any other
//! peer the header is ignored, or a client could choose the address that its rate limits,
//! sessions and audit events are recorded under.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

/// The networks of the proxies in front of this service; empty trusts none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Whether no proxy is trusted (then `x-forwarded-for` is never read).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `address` belongs to a trusted proxy.
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.0.iter().any(|network| network.contains(&address))
    }

    /// The client's address for a connection from `peer` carrying these `x-forwarded-for`
    /// header values (in the order received; several headers read as one list).
    ///
    /// From an untrusted peer: the peer. From a trusted one: the right-most listed address
    /// that is not trusted; if every listed address is trusted, the left-most; with no
    /// usable list, the peer. An entry that is not an address ends the walk: the proxy
    /// that wrote it cannot be vouched for, so the nearest hop seen so far is the client.
    pub fn client_address<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl IntoIterator<Item = &'a str>,
    ) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.contains(peer) {
            return peer;
        }
        let entries: Vec<&str> = forwarded_for
            .into_iter()
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect();
        let mut nearest = peer;
        for entry in entries.iter().rev() {
            let Some(address) = parse_entry(entry) else {
                return nearest;
            };
            if !self.contains(address) {
                return address;
            }
            nearest = address;
        }
        nearest
    }
}

/// One `x-forwarded-for` entry: an address, optionally with a port (`1.2.3.4:80`,
/// `[2001:db8::1]:80`) as some proxies write it.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    if let Ok(address) = entry.parse::<IpAddr>() {
        return Some(address.to_canonical());
    }
    entry
        .parse::<std::net::SocketAddr>()
        .ok()
        .map(|socket| socket.ip().to_canonical())
}

impl FromStr for TrustedProxies {
    type Err = String;

    /// Comma-separated CIDRs (`10.0.0.0/8, fd00::/8`); a bare address is its own /32 or
    /// /128. Blank is none.
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        raw.split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| {
                part.parse::<IpNet>()
                    .or_else(|_| part.parse::<IpAddr>().map(IpNet::from))
                    .map(|network| network.trunc())
                    .map_err(|_| format!("`{part}` is not a CIDR such as 10.0.0.0/8 or fd00::/8"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }
}

impl fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ip(raw: &str) -> IpAddr {
        raw.parse().unwrap()
    }

    #[test]
    fn the_client_address_follows_the_forwarded_for_rule() {
        let trusted: TrustedProxies = "10.0.0.0/8, 192.168.1.1, fd00::/8".parse().unwrap();
        // (case, peer, x-forwarded-for values, expected client address)
        let cases: [(&str, &str, &[&str], &str); 14] = [
            ("untrusted peer, no header", "203.0.113.9", &[], "203.0.113.9"),
            (
                "untrusted peer: its header is ignored",
                "203.0.113.9",
                &["198.51.100.7"],
                "203.0.113.9",
            ),
            ("trusted peer, no header", "10.1.2.3", &[], "10.1.2.3"),
            (
                "trusted peer, one hop",
                "10.1.2.3",
                &["198.51.100.7"],
                "198.51.100.7",
            ),
            (
                "a client-written entry left of the real one is not believed",
                "10.1.2.3",
                &["1.1.1.1, 198.51.100.7"],
                "198.51.100.7",
            ),
            (
                "trusted hops on the right are skipped",
                "10.1.2.3",
                &["198.51.100.7, 10.9.9.9, 192.168.1.1"],
                "198.51.100.7",
            ),
            (
                "every entry trusted: the left-most",
                "10.1.2.3",
                &["10.4.4.4, 10.5.5.5"],
                "10.4.4.4",
            ),
            (
                "several header lines read as one list",
                "10.1.2.3",
                &["1.1.1.1", "198.51.100.7, 10.9.9.9"],
                "198.51.100.7",
            ),
            (
                "garbage from a trusted hop ends the walk at the nearest hop",
                "10.1.2.3",
                &["198.51.100.7, unknown, 10.9.9.9"],
                "10.9.9.9",
            ),
            ("empty header from a trusted peer", "10.1.2.3", &[""], "10.1.2.3"),
            (
                "entries with ports",
                "10.1.2.3",
                &["198.51.100.7:4711, [2001:db8::5]:443"],
                "2001:db8::5",
            ),
            (
                "IPv6 client behind an IPv6 proxy",
                "fd00::1",
                &["2001:db8:1:2::99"],
                "2001:db8:1:2::99",
            ),
            (
                "an IPv4-mapped peer is its IPv4 address",
                "::ffff:10.1.2.3",
                &["198.51.100.7"],
                "198.51.100.7",
            ),
            (
                "a bare trusted address is a /32",
                "192.168.1.2",
                &["198.51.100.7"],
                "192.168.1.2",
            ),
        ];
        for (case, peer, headers, expected) in cases {
            assert_eq!(
                trusted.client_address(ip(peer), headers.iter().copied()),
                ip(expected),
                "{case}"
            );
        }
    }

    #[test]
    fn with_no_trusted_proxy_the_header_is_never_read() {
        let none = TrustedProxies::default();
        assert!(none.is_empty());
        assert_eq!(
            none.client_address(ip("127.0.0.1"), ["198.51.100.7"]),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn a_list_of_cidrs_parses_and_prints_back() {
        let parsed: TrustedProxies = " 10.0.0.0/8 ,fd00::/8,127.0.0.1,".parse().unwrap();
        assert_eq!(parsed.to_string(), "10.0.0.0/8,fd00::/8,127.0.0.1/32");
        assert_eq!("".parse::<TrustedProxies>().unwrap(), TrustedProxies::default());
        assert_eq!(
            "10.1.2.3/8".parse::<TrustedProxies>().unwrap().to_string(),
            "10.0.0.0/8",
            "host bits are dropped"
        );
    }

    #[test]
    fn anything_but_a_cidr_is_refused_by_name() {
        for bad in ["10.0.0.0/33", "ten", "10.0.0.0/8;fd00::/8", "*"] {
            let error = bad.parse::<TrustedProxies>().unwrap_err();
            assert!(error.contains('`'), "{bad}: {error}");
        }
    }
}
