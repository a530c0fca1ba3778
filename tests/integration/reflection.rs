//! Server reflection, v1 and v1alpha, lists every identity.v1 service and Envoy's
//! external authorization.

use tokio_stream::StreamExt;
use tonic_reflection::pb::v1;
use tonic_reflection::pb::v1alpha;

use crate::test_app::spawn_app;
use crate::test_database::Backend;

const EXPECTED: [&str; 4] = [
    "identity.v1.AccountService",
    "identity.v1.TokenService",
    "identity.v1.AdminService",
    "envoy.service.auth.v3.Authorization",
];

#[tokio::test]
async fn reflection_v1_lists_every_service() {
    let app = spawn_app(Backend::Sqlite).await;
    let mut client = v1::server_reflection_client::ServerReflectionClient::new(app.channel.clone());
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };

    let mut responses = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();

    let response = responses.next().await.unwrap().unwrap();
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        response.message_response
    else {
        panic!("unexpected reflection response");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in EXPECTED {
        assert!(names.iter().any(|n| n == expected), "{expected} in {names:?}");
    }
}

#[tokio::test]
async fn reflection_v1alpha_lists_every_service() {
    let app = spawn_app(Backend::Sqlite).await;
    let mut client = v1alpha::server_reflection_client::ServerReflectionClient::new(app.channel.clone());
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1alpha::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };

    let mut responses = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();

    let response = responses.next().await.unwrap().unwrap();
    let Some(v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        response.message_response
    else {
        panic!("unexpected reflection response");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in EXPECTED {
        assert!(names.iter().any(|n| n == expected), "{expected} in {names:?}");
    }
}
