//! Logging: one function builds the subscriber, one installs it. Spans carry the RPC
//! method and request id; no password or token is ever a span field or log value. With
//! an OTLP endpoint configured (`otlp_traces`), the same spans are exported as traces.

use std::io::IsTerminal;

use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{EnvFilter, Registry};

use crate::configuration::LogFormat;
use crate::observability::otlp_traces::OtlpTraces;

/// A subscriber writing to `sink`, filtered by `RUST_LOG` (else `default_filter`).
/// `format` `None` picks pretty on a terminal and JSON otherwise (log collectors).
pub fn subscriber<Sink>(
    format: Option<LogFormat>,
    default_filter: &str,
    sink: Sink,
) -> Box<dyn Subscriber + Send + Sync>
where
    Sink: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    subscriber_with_traces(format, default_filter, sink, None)
}

/// [`subscriber`], its spans also exported by `traces` when given.
pub fn subscriber_with_traces<Sink>(
    format: Option<LogFormat>,
    default_filter: &str,
    sink: Sink,
    traces: Option<&OtlpTraces>,
) -> Box<dyn Subscriber + Send + Sync>
where
    Sink: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let format = format.unwrap_or(if std::io::stderr().is_terminal() {
        LogFormat::Pretty
    } else {
        LogFormat::Json
    });
    let registry = Registry::default()
        .with(filter)
        .with(traces.map(OtlpTraces::layer));
    match format {
        LogFormat::Pretty => Box::new(registry.with(tracing_subscriber::fmt::layer().with_writer(sink))),
        LogFormat::Json => Box::new(
            registry.with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_writer(sink),
            ),
        ),
    }
}

/// Installs `subscriber` as the process-wide default.
///
/// # Errors
/// A subscriber was already installed.
pub fn install(subscriber: Box<dyn Subscriber + Send + Sync>) -> anyhow::Result<()> {
    tracing::subscriber::set_global_default(subscriber)?;
    Ok(())
}
