//! What the transport knows about the caller: peer address and user agent.

use tonic::Request;

use crate::domain::ClientInfo;

/// Longest user agent kept; the rest is noise or an attempt to bloat the tables.
const MAX_USER_AGENT: usize = 256;

/// The caller as seen on the connection. Forwarded-for headers are not trusted: a
/// gateway that terminates connections should be configured to pass the peer through.
pub fn client_info<T>(request: &Request<T>) -> ClientInfo {
    let user_agent = request
        .metadata()
        .get("user-agent")
        .and_then(|value| value.to_str().ok())
        .map(|agent| agent.chars().take(MAX_USER_AGENT).collect());
    ClientInfo {
        ip_address: request.remote_addr().map(|addr| addr.ip().to_string()),
        user_agent,
    }
}
