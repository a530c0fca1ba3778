//! What the transport knows about the caller: its address and user agent.

use tonic::Request;

use super::client_address::ClientAddress;
use crate::domain::ClientInfo;

/// The caller: the address `client_address` settled for this request (the peer, or the
/// one a trusted proxy forwarded), and its user agent.
pub fn client_info<T>(request: &Request<T>) -> ClientInfo {
    let user_agent = request
        .metadata()
        .get("user-agent")
        .and_then(|value| value.to_str().ok());
    let address = request
        .extensions()
        .get::<ClientAddress>()
        .map(|client| client.0)
        .or_else(|| request.remote_addr().map(|addr| addr.ip()));
    ClientInfo::new(address, user_agent)
}
