//! OpenTelemetry traces, exported over OTLP/gRPC when the standard
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; the
//! exporter reads the other standard `OTEL_*` variables itself. Unset, nothing is built
//! and [`continue_trace`] returns at once: no cost for those who do not collect traces.
//!
//! Each RPC's span continues the caller's trace when the request carries W3C
//! `traceparent` metadata, so a gateway's or client's trace runs through this service.

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::SpanExporter;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tonic::codegen::http::HeaderMap;
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

/// Setting either turns the export on.
const ENDPOINT_VARIABLES: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
];

static ENABLED: AtomicBool = AtomicBool::new(false);

/// The running export; [`OtlpTraces::shutdown`] flushes what is still buffered.
pub struct OtlpTraces {
    provider: SdkTracerProvider,
}

impl OtlpTraces {
    /// The export if an endpoint is configured. Call inside the Tokio runtime: the gRPC
    /// channel's worker is spawned on it.
    ///
    /// # Errors
    /// The endpoint or another `OTEL_EXPORTER_OTLP_*` variable is unusable.
    pub fn from_environment() -> anyhow::Result<Option<Self>> {
        let configured = ENDPOINT_VARIABLES
            .iter()
            .any(|name| std::env::var(name).is_ok_and(|value| !value.trim().is_empty()));
        if !configured {
            return Ok(None);
        }
        let exporter = SpanExporter::builder()
            .with_tonic()
            .build()
            .context("building the OTLP span exporter (OTEL_EXPORTER_OTLP_ENDPOINT)")?;
        let mut resource = Resource::builder();
        if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
            resource = resource.with_service_name("identity");
        }
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource.build())
            .build();
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        ENABLED.store(true, Ordering::Relaxed);
        Ok(Some(Self { provider }))
    }

    /// The `tracing` layer that turns spans into OpenTelemetry spans for this export.
    pub fn layer<S>(&self) -> impl Layer<S> + use<S>
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
    {
        tracing_opentelemetry::layer().with_tracer(self.provider.tracer("identity"))
    }

    /// Exports what is buffered and stops. Blocks until done or timed out.
    pub fn shutdown(self) {
        if let Err(error) = self.provider.shutdown() {
            tracing::warn!(%error, "flushing traces on shutdown failed");
        }
    }
}

/// Makes `span` (an RPC's) a child of the caller's span when the request carries W3C
/// `traceparent` metadata. Does nothing unless the export is on.
pub fn continue_trace(span: &tracing::Span, headers: &HeaderMap) {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&MetadataExtractor(headers))
    });
    // Fails only when the span is disabled by the filter: then there is nothing to link.
    let _ = span.set_parent(parent);
}

/// gRPC metadata travels as HTTP/2 headers.
struct MetadataExtractor<'a>(&'a HeaderMap);

impl Extractor for MetadataExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}
