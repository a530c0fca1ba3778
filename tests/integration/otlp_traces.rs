//! OTLP traces through the real binary: with `OTEL_EXPORTER_OTLP_ENDPOINT` pointing at an
//! in-process collector, an RPC carrying W3C `traceparent` metadata is exported as a
//! server span in the caller's trace, the caller's span as its parent.

use std::process::Stdio;
use std::sync::{Arc, Mutex};

use identity::proto::GetJwksRequest;
use identity::proto::token_service_client::TokenServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::trace::v1::Span;
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;

use crate::test_app::{connect_when_ready, free_port, serve_command, temporary_dir};
use crate::test_database::{Backend, TestDatabase};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN_ID: &str = "00f067aa0ba902b7";

#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Span>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans = request
            .into_inner()
            .resource_spans
            .into_iter()
            .flat_map(|resource| resource.scope_spans)
            .flat_map(|scope| scope.spans);
        self.spans.lock().unwrap().extend(spans);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rpc_with_a_traceparent_is_exported_as_a_child_span_of_the_callers_trace() {
    let collector = Collector::default();
    let collector_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector_port = collector_listener.local_addr().unwrap().port();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming(TcpIncoming::from(collector_listener)),
    );
    let database = TestDatabase::create(Backend::Sqlite).await;
    let dir = temporary_dir("identity-otlp-");
    let grpc_port = free_port();

    let mut server = serve_command(&database.url, dir.path(), grpc_port)
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{collector_port}"),
        )
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the identity binary");

    let mut client = TokenServiceClient::new(connect_when_ready(grpc_port).await);
    let mut request = tonic::Request::new(GetJwksRequest {});
    let traceparent = format!("00-{TRACE_ID}-{PARENT_SPAN_ID}-01");
    request
        .metadata_mut()
        .insert("traceparent", traceparent.parse().unwrap());
    client.get_jwks(request).await.unwrap();

    // SIGTERM: a graceful stop flushes the buffered spans before exiting.
    // The shell's builtin `kill`: no procps package needed.
    let terminated = std::process::Command::new("sh")
        .args(["-c", "kill -TERM \"$0\"", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    let output = tokio::task::spawn_blocking(move || {
        let status = server.wait().expect("wait for the identity binary");
        let mut stderr = String::new();
        std::io::Read::read_to_string(server.stderr.as_mut().unwrap(), &mut stderr).unwrap();
        (status, stderr)
    })
    .await
    .unwrap();
    assert!(output.0.success(), "{}", output.1);

    let spans = collector.spans.lock().unwrap().clone();
    let described: Vec<String> = spans
        .iter()
        .map(|span| {
            format!(
                "{} trace {} parent {}",
                span.name,
                hex(&span.trace_id),
                hex(&span.parent_span_id)
            )
        })
        .collect();
    let rpc = spans
        .iter()
        .find(|span| {
            span.name.ends_with("TokenService/GetJwks") && hex(&span.parent_span_id) == PARENT_SPAN_ID
        })
        .unwrap_or_else(|| panic!("no GetJwks span with the caller's span as parent: {described:#?}"));
    assert_eq!(hex(&rpc.trace_id), TRACE_ID, "{described:#?}");
}
