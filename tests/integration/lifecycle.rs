//! Server lifecycle: graceful shutdown.

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
