//! Server lifecycle: graceful shutdown, and the RPCs later releases fill in.

use identity::proto;
use tonic::Code;

use crate::status_assertions::assert_status;
use crate::test_app::spawn_app;
use crate::test_database::Backend;

#[tokio::test]
async fn a_stopped_server_releases_its_port() {
    let app = spawn_app(Backend::Sqlite).await;
    let port = app.port;

    app.stop().await;

    let connect = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await;
    assert!(connect.is_err(), "nothing listens after a graceful stop");
}

#[tokio::test]
async fn rpcs_not_built_yet_answer_unimplemented_with_an_error_info() {
    let app = spawn_app(Backend::Sqlite).await;

    let request = proto::RequestPasswordResetRequest {
        email: "a@example.com".into(),
    };
    let status = app
        .accounts
        .clone()
        .request_password_reset(request)
        .await
        .unwrap_err();
    assert_status(&status, Code::Unimplemented, "NOT_IMPLEMENTED");
    let status = app
        .admin
        .clone()
        .list_users(proto::ListUsersRequest::default())
        .await
        .unwrap_err();
    assert_status(&status, Code::Unimplemented, "NOT_IMPLEMENTED");
}
