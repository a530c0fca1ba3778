//! What one client can ask of the gRPC server, as settings; `grpc::server_limits` builds the
//! tonic server from them.

use std::time::Duration;

/// The transport's limits, with defaults safe on the open internet.
#[derive(Clone, Debug)]
pub struct GrpcServerLimits {
    /// `IDENTITY_GRPC_MAX_MESSAGE_BYTES` (2 MiB): largest request or response message.
    /// Above a 1 MiB field on purpose, so an oversized password or email reaches
    /// validation and is refused as INVALID_ARGUMENT naming the field, before any hashing.
    pub max_message_bytes: usize,
    /// `IDENTITY_GRPC_CONCURRENCY_PER_CONNECTION` (64): requests served at once on one
    /// connection; more wait, so one client cannot occupy every worker.
    pub concurrency_per_connection: usize,
    /// `IDENTITY_GRPC_KEEPALIVE_INTERVAL_SECS` (60): HTTP/2 ping interval.
    pub keepalive_interval: Duration,
    /// `IDENTITY_GRPC_KEEPALIVE_TIMEOUT_SECS` (20): a peer that does not answer a ping
    /// within this is dropped.
    pub keepalive_timeout: Duration,
    /// `IDENTITY_GRPC_MAX_CONNECTION_AGE_SECS` (1800): connections are closed gracefully
    /// after this, so load balancers rebalance and no connection lives forever.
    pub max_connection_age: Duration,
    /// `IDENTITY_GRPC_REQUEST_TIMEOUT_SECS` (30): a request running longer is cancelled
    /// with DEADLINE_EXCEEDED; a shorter client `grpc-timeout` wins.
    pub request_timeout: Duration,
}

impl Default for GrpcServerLimits {
    fn default() -> Self {
        Self {
            max_message_bytes: 2 * 1024 * 1024,
            concurrency_per_connection: 64,
            keepalive_interval: Duration::from_secs(60),
            keepalive_timeout: Duration::from_secs(20),
            max_connection_age: Duration::from_secs(1800),
            request_timeout: Duration::from_secs(30),
        }
    }
}
