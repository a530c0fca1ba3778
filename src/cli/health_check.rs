//! `identity health-check`: asks a running server over the standard gRPC health
//! protocol (`grpc.health.v1.Health/Check`) whether it serves, for container
//! HEALTHCHECKs and probes that can only run a command. A client of the server, not a
//! part of it: it opens no database and reads no key.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use anyhow::Context;
use tonic::transport::Endpoint;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// Where to reach a server that listens on `listen`: an unspecified address (`0.0.0.0`,
/// `[::]`, as in containers) accepts loopback connections, and a probe runs beside it.
#[must_use]
pub fn probe_address(listen: SocketAddr) -> SocketAddr {
    match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::new(Ipv4Addr::LOCALHOST.into(), listen.port()),
        IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::new(Ipv6Addr::LOCALHOST.into(), listen.port()),
        _ => listen,
    }
}

/// The serving status that the server at `addr` reports for `service` (`""`: the
/// server as a whole), with `timeout` for connecting and for the answer.
///
/// # Errors
/// The server cannot be reached in time or answers with an error status (e.g.
/// `NOT_FOUND` for a service it does not know).
pub async fn check(addr: SocketAddr, service: &str, timeout: Duration) -> anyhow::Result<ServingStatus> {
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .context("building the server address")?
        .connect_timeout(timeout)
        .timeout(timeout)
        .connect()
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .map_err(|status| anyhow::anyhow!("{}: {}", status.code(), status.message()))
        .with_context(|| format!("asking {addr} for the health of {service:?}"))?;
    Ok(response.into_inner().status())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, reason = "a test fails loudly")]

    use super::probe_address;

    #[test]
    fn probe_address_turns_unspecified_addresses_into_loopback() {
        let cases = [
            ("0.0.0.0:50051", "127.0.0.1:50051"),
            ("[::]:50051", "[::1]:50051"),
            ("10.1.2.3:7000", "10.1.2.3:7000"),
            ("127.0.0.1:50051", "127.0.0.1:50051"),
        ];
        for (listen, expected) in cases {
            let listen = listen.parse().expect("a socket address");
            assert_eq!(probe_address(listen).to_string(), expected, "{listen}");
        }
    }
}
