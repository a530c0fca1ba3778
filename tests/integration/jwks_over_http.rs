//! `GET /.well-known/jwks.json` on the HTTP port: the key set where API gateways look for
//! it, verifying access tokens with an ordinary JWT library, cacheable for a while.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::test_app::{STRONG_PASSWORD, spawn_app};
use crate::test_database::Backend;

/// One HTTP/1.1 GET: status, lower-cased headers, body.
pub async fn http_get_with_headers(port: u16, path: &str) -> (u16, Vec<(String, String)>, String) {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(candidate, _)| candidate == name)
        .map(|(_, value)| value.as_str())
}

database_test!(the_jwks_document_from_the_http_port_verifies_an_access_token);
async fn the_jwks_document_from_the_http_port_verifies_an_access_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let tokens = app.logged_in_user("gateway@example.com", STRONG_PASSWORD).await;

    let (status, headers, body) =
        http_get_with_headers(app.metrics_port.unwrap(), "/.well-known/jwks.json").await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    // Half the default access-token lifetime (900 s), capped at five minutes.
    assert_eq!(header(&headers, "cache-control"), Some("public, max-age=300"));
    let document: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(document, app.jwks().await, "the same keys as GetJwks");
    let set: JwkSet = serde_json::from_str(&body).unwrap();
    let kid = jsonwebtoken::decode_header(&tokens.access_token)
        .unwrap()
        .kid
        .unwrap();
    let jwk = set.find(&kid).expect("the token's key is published");
    let key = DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&["identity"]);
    validation.set_audience(&["identity"]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(&tokens.access_token, &key, &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["sid"], tokens.session_id.as_str());
}
