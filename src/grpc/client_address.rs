//! A tower layer on the gRPC server that settles, once per request, which address the
//! client has: the connection's peer, or behind a trusted proxy the address it
//! forwarded (`TrustedProxies::client_address`). `request_context::client_info` reads
//! the result, so every handler, and through `ClientInfo` every rate limit, session and
//! audit event, sees the same address.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::codegen::http;
use tonic::transport::server::TcpConnectInfo;
use tower::{Layer, Service};

use crate::domain::TrustedProxies;

/// The client's address as settled for this request, in the request's extensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

/// Adds [`ResolveClientAddress`] to a service.
#[derive(Clone, Debug)]
pub struct ClientAddressLayer {
    trusted: Arc<TrustedProxies>,
}

impl ClientAddressLayer {
    pub fn new(trusted: TrustedProxies) -> Self {
        Self {
            trusted: Arc::new(trusted),
        }
    }
}

impl<S> Layer<S> for ClientAddressLayer {
    type Service = ResolveClientAddress<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ResolveClientAddress {
            inner,
            trusted: Arc::clone(&self.trusted),
        }
    }
}

/// Puts the [`ClientAddress`] into each request, then calls the inner service.
#[derive(Clone, Debug)]
pub struct ResolveClientAddress<S> {
    inner: S,
    trusted: Arc<TrustedProxies>,
}

impl<S, Body> Service<http::Request<Body>> for ResolveClientAddress<S>
where
    S: Service<http::Request<Body>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        let peer = request
            .extensions()
            .get::<TcpConnectInfo>()
            .and_then(TcpConnectInfo::remote_addr)
            .as_ref()
            .map(SocketAddr::ip);
        if let Some(peer) = peer {
            let forwarded_for = request
                .headers()
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|value| value.to_str().ok());
            let client = self.trusted.client_address(peer, forwarded_for);
            request.extensions_mut().insert(ClientAddress(client));
        }
        self.inner.call(request)
    }
}
