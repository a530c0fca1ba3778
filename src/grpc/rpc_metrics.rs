//! A tower layer on the gRPC server counting every RPC by status code and timing it:
//! `identity_grpc_requests_total{service, method, code}` and
//! `identity_grpc_request_duration_seconds{service, method}`.
//!
//! The code is read from the response headers: tonic answers an `Err(Status)` as a
//! trailers-only response (status in the headers) and a success with headers first and
//! `grpc-status: 0` in the trailers, so headers without a status mean OK. For unary RPCs
//! (all of this API) the headers leave when the handler is done, so the duration is the
//! handler's.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use tonic::Code;
use tonic::codegen::http;
use tower::{Layer, Service};

/// Adds [`RpcMetrics`] to a service.
#[derive(Clone, Copy, Debug, Default)]
pub struct RpcMetricsLayer;

impl<S> Layer<S> for RpcMetricsLayer {
    type Service = RpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcMetrics { inner }
    }
}

/// Records each request's outcome and latency, then passes the response on untouched.
#[derive(Clone, Debug)]
pub struct RpcMetrics<S> {
    inner: S,
}

impl<S, RequestBody, ResponseBody> Service<http::Request<RequestBody>> for RpcMetrics<S>
where
    S: Service<http::Request<RequestBody>, Response = http::Response<ResponseBody>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<RequestBody>) -> Self::Future {
        let path = request.uri().path().to_owned();
        let started = Instant::now();
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await;
            let code = match &response {
                Ok(response) => status_code(response.headers()),
                Err(_) => Code::Unknown,
            };
            record(&path, code, started.elapsed().as_secs_f64());
            response
        })
    }
}

fn status_code(headers: &http::HeaderMap) -> Code {
    headers
        .get("grpc-status")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<i32>().ok())
        .map_or(Code::Ok, Code::from_i32)
}

fn record(path: &str, code: Code, seconds: f64) {
    // Paths come from the caller: an unknown one (UNIMPLEMENTED) is not a label value,
    // or a scanner could grow the series without bound.
    let (service, method) = match path.trim_start_matches('/').split_once('/') {
        Some((service, method)) if code != Code::Unimplemented => (service.to_owned(), method.to_owned()),
        _ => ("unknown".to_owned(), "unknown".to_owned()),
    };
    metrics::counter!(
        "identity_grpc_requests_total",
        "service" => service.clone(),
        "method" => method.clone(),
        "code" => code_name(code),
    )
    .increment(1);
    metrics::histogram!(
        "identity_grpc_request_duration_seconds",
        "service" => service,
        "method" => method,
    )
    .record(seconds);
}

/// The canonical gRPC code names, as other gRPC servers label them.
#[must_use]
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_without_a_status_are_ok_and_a_status_header_is_read() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(status_code(&headers), Code::Ok);
        headers.insert("grpc-status", http::HeaderValue::from_static("16"));
        assert_eq!(status_code(&headers), Code::Unauthenticated);
    }
}
