//! `ClientInfo`: who is on the other end of a request, as far as the transport can tell.

/// Request metadata recorded on sessions and audit events. Every field is what the
/// client sent or the socket reported: informational, never trusted for a decision.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// The peer address of the connection.
    pub ip_address: Option<String>,
    /// The `user-agent` metadata, truncated.
    pub user_agent: Option<String>,
}
