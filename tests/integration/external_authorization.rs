//! `envoy.service.auth.v3.Authorization/Check`, called as Envoy's `ext_authz` filter
//! calls it: a live bearer is allowed and the upstream told who it is (over whatever
//! the client claimed); anything else is denied with 401 and `www-authenticate: Bearer`.

use std::collections::HashMap;

use envoy_types::ext_authz::v3::pb::{CheckRequest, CheckResponse, HttpResponse};
use envoy_types::pb::envoy::config::core::v3::header_value_option::HeaderAppendAction;
use envoy_types::pb::envoy::service::auth::v3::AttributeContext;
use envoy_types::pb::envoy::service::auth::v3::attribute_context::{HttpRequest, Request};
use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use identity::proto::LogoutRequest;
use prost_reflect::DescriptorPool;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_reflection::pb::v1;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

use crate::test_app::{STRONG_PASSWORD, TestApp, spawn_app};
use crate::test_database::Backend;

/// Check of an HTTP request carrying `headers`, as Envoy sends it.
pub async fn check(app: &TestApp, headers: &[(&str, &str)]) -> CheckResponse {
    let http = HttpRequest {
        method: "GET".to_owned(),
        path: "/api/orders".to_owned(),
        headers: headers
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect(),
        ..HttpRequest::default()
    };
    let request = CheckRequest {
        attributes: Some(AttributeContext {
            request: Some(Request {
                http: Some(http),
                ..Request::default()
            }),
            ..AttributeContext::default()
        }),
    };
    let mut client = AuthorizationClient::new(app.channel.clone());
    client.check(request).await.unwrap().into_inner()
}

/// Asserts a denial with `http_status`, the gRPC `code` and a challenge starting `Bearer`.
fn assert_denied(response: &CheckResponse, code: Code, http_status: i32, case: &str) {
    assert_eq!(response.status.as_ref().unwrap().code, code as i32, "{case}");
    let Some(HttpResponse::DeniedResponse(denied)) = &response.http_response else {
        panic!("{case}: not denied: {response:?}");
    };
    assert_eq!(denied.status.as_ref().unwrap().code, http_status, "{case}");
    let challenge = denied
        .headers
        .iter()
        .filter_map(|option| option.header.as_ref())
        .find(|header| header.key == "www-authenticate")
        .map(|header| header.value.as_str());
    assert!(
        challenge.is_some_and(|value| value.starts_with("Bearer")),
        "{case}: {challenge:?}"
    );
}

database_test!(check_allows_a_live_bearer_and_replaces_the_clients_identity_headers);
async fn check_allows_a_live_bearer_and_replaces_the_clients_identity_headers(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.verified_user("upstream@example.com", STRONG_PASSWORD).await;
    let tokens = app
        .login("upstream@example.com", STRONG_PASSWORD)
        .await
        .tokens
        .unwrap();
    let authorization = format!("Bearer {}", tokens.access_token);

    let response = check(
        &app,
        &[
            ("authorization", &authorization),
            ("x-identity-user-id", "00000000-0000-0000-0000-000000000000"),
            ("x-identity-is-staff", "true"),
            ("x-identity-role", "admin"),
        ],
    )
    .await;

    assert_eq!(response.status.as_ref().unwrap().code, Code::Ok as i32);
    let Some(HttpResponse::OkResponse(ok)) = response.http_response else {
        panic!("not allowed: {:?}", response.http_response);
    };
    let set: HashMap<&str, &str> = ok
        .headers
        .iter()
        .map(|option| {
            assert_eq!(
                option.append_action,
                HeaderAppendAction::OverwriteIfExistsOrAdd as i32,
                "{option:?} overwrites what the client sent"
            );
            let header = option.header.as_ref().unwrap();
            (header.key.as_str(), header.value.as_str())
        })
        .collect();
    let expected = HashMap::from([
        ("x-identity-user-id", user.id.as_str()),
        ("x-identity-session-id", tokens.session_id.as_str()),
        ("x-identity-email", "upstream@example.com"),
        ("x-identity-is-staff", "false"),
        ("x-identity-permissions", ""),
    ]);
    assert_eq!(set, expected);
    assert_eq!(
        ok.headers_to_remove,
        ["x-identity-role"],
        "the client's other x-identity-* headers go"
    );
}

database_test!(check_denies_a_revoked_session_a_missing_bearer_and_a_forged_one_with_401);
async fn check_denies_a_revoked_session_a_missing_bearer_and_a_forged_one_with_401(backend: Backend) {
    let app = spawn_app(backend).await;
    let revoked = app.logged_in_user("revoked@example.com", STRONG_PASSWORD).await;
    app.tokens
        .clone()
        .logout(LogoutRequest {
            refresh_token: revoked.refresh_token.clone(),
        })
        .await
        .unwrap();
    let live = app
        .login("revoked@example.com", STRONG_PASSWORD)
        .await
        .tokens
        .unwrap();
    let mut forged = live.access_token.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let cases: [(&str, Vec<(&str, String)>); 5] = [
        (
            "a revoked session",
            vec![("authorization", format!("Bearer {}", revoked.access_token))],
        ),
        ("no authorization header", vec![]),
        (
            "another scheme",
            vec![("authorization", "Basic dXNlcjpwYXNz".to_owned())],
        ),
        (
            "a forged signature",
            vec![("authorization", format!("Bearer {forged}"))],
        ),
        (
            "not a token at all",
            vec![("authorization", "Bearer not.a.jwt".to_owned())],
        ),
    ];

    for (case, headers) in cases {
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        let response = check(&app, &headers).await;
        assert_denied(&response, Code::Unauthenticated, 401, case);
    }
}

/// The files reflection answers `message_request` with.
async fn reflect(app: &TestApp, message_request: MessageRequest) -> Vec<prost_types::FileDescriptorProto> {
    let mut client = v1::server_reflection_client::ServerReflectionClient::new(app.channel.clone());
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(message_request),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses.next().await.unwrap().unwrap();
    let Some(MessageResponse::FileDescriptorResponse(files)) = response.message_response else {
        panic!("unexpected reflection response: {response:?}");
    };
    files
        .file_descriptor_proto
        .iter()
        .map(|bytes| prost::Message::decode(bytes.as_slice()).unwrap())
        .collect()
}

#[tokio::test]
async fn reflection_describes_the_authorization_service_and_every_file_it_imports() {
    let app = spawn_app(Backend::Sqlite).await;
    let symbol = MessageRequest::FileContainingSymbol("envoy.service.auth.v3.Authorization".to_owned());
    let mut files = reflect(&app, symbol).await;

    // As grpcurl does: fetch every import by name until the set is closed.
    let mut next = 0;
    while next < files.len() {
        for dependency in files[next].dependency.clone() {
            if !files.iter().any(|file| file.name() == dependency) {
                files.extend(reflect(&app, MessageRequest::FileByFilename(dependency)).await);
            }
        }
        next += 1;
    }

    let mut pool = DescriptorPool::new();
    pool.add_file_descriptor_protos(files).unwrap();
    let service = pool
        .get_service_by_name("envoy.service.auth.v3.Authorization")
        .unwrap();
    let methods: Vec<String> = service.methods().map(|method| method.name().to_owned()).collect();
    assert_eq!(methods, ["Check"]);
}
