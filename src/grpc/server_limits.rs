//! What one client can ask of the gRPC server: message size, requests in flight per
//! connection, how long a request may run, how long a connection may live, and the
//! HTTP/2 pings that find dead peers. Each an `IDENTITY_GRPC_*` setting; the values live in
//! `configuration`, the tonic builder here.

use tonic::transport::Server;

use crate::configuration::GrpcServerLimits;

/// A server builder with `limits`.
pub fn server(limits: &GrpcServerLimits) -> Server {
    Server::builder()
        .concurrency_limit_per_connection(limits.concurrency_per_connection)
        .timeout(limits.request_timeout)
        .http2_keepalive_interval(Some(limits.keepalive_interval))
        .http2_keepalive_timeout(Some(limits.keepalive_timeout))
        .max_connection_age(limits.max_connection_age)
}
