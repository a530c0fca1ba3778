//! Every RPC runs in a span named after its method with a fresh request id, and that same
//! id is what an INTERNAL or UNAVAILABLE answer hands the client in `RequestInfo`
//! (`status_mapping`): a client's bug report then finds the server's log lines.
//!
//! The span is made here, in a layer, rather than by the server's `trace_fn`, because a
//! layer can also keep the id for the request's handler: a task-local scoped around the
//! call, read back by [`current_request_id`].

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tonic::codegen::http;
use tower::{Layer, Service};
use tracing::Instrument;
use uuid::Uuid;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being handled; a fresh one outside any request.
#[must_use]
pub fn current_request_id() -> String {
    REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| Uuid::new_v4().to_string())
}

/// Adds [`RequestSpan`] to a service.
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestSpanLayer;

impl<S> Layer<S> for RequestSpanLayer {
    type Service = RequestSpan<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestSpan { inner }
    }
}

/// Runs each request in its span, with its id at hand.
#[derive(Clone, Debug)]
pub struct RequestSpan<S> {
    inner: S,
}

impl<S, RequestBody> Service<http::Request<RequestBody>> for RequestSpan<S>
where
    S: Service<http::Request<RequestBody>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<RequestBody>) -> Self::Future {
        let request_id = Uuid::new_v4().to_string();
        let path = request.uri().path();
        let span = tracing::info_span!(
            "grpc",
            method = %path,
            request_id = %request_id,
            otel.name = %path.trim_start_matches('/'),
            otel.kind = "server",
        );
        crate::observability::otlp_traces::continue_trace(&span, request.headers());
        // The inner service may do work in `call` itself, before its future runs.
        let response =
            span.in_scope(|| REQUEST_ID.sync_scope(request_id.clone(), || self.inner.call(request)));
        Box::pin(REQUEST_ID.scope(request_id, response.instrument(span)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::sync::{Arc, Mutex};

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id};
    use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt};

    use super::*;

    /// Keeps the `request_id` field of every span opened.
    #[derive(Clone, Default)]
    struct SpanIds(Arc<Mutex<Vec<String>>>);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for SpanIds {
        fn on_new_span(&self, attributes: &Attributes<'_>, _: &Id, _: LayerContext<'_, S>) {
            attributes.record(&mut self.clone());
        }
    }

    impl Visit for SpanIds {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            if field.name() == "request_id" {
                self.0.lock().unwrap().push(format!("{value:?}"));
            }
        }
    }

    /// A handler that answers with the request id it sees.
    struct AnswersItsRequestId;

    impl Service<http::Request<()>> for AnswersItsRequestId {
        type Response = String;
        type Error = std::convert::Infallible;
        type Future = std::future::Ready<Result<String, Self::Error>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: http::Request<()>) -> Self::Future {
            std::future::ready(Ok(current_request_id()))
        }
    }

    #[tokio::test]
    async fn the_handler_sees_the_request_id_of_its_span() {
        let spans = SpanIds::default();
        let subscriber = tracing_subscriber::registry().with(spans.clone());
        let _default = tracing::subscriber::set_default(subscriber);
        let mut service = RequestSpanLayer.layer(AnswersItsRequestId);

        let request = http::Request::builder()
            .uri("/identity.v1.TokenService/Login")
            .body(())
            .unwrap();
        let seen_by_handler = service.call(request).await.unwrap();

        assert_eq!(*spans.0.lock().unwrap(), vec![seen_by_handler]);
    }
}
