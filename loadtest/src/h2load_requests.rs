//! `--h2load-body FILE`: what `h2load` needs to send one scenario's request itself. The
//! bench tool takes about half of the two cores, which caps what it can measure of a
//! cheap RPC near its own ceiling; `h2load` (nghttp2) sends the same bytes for a fraction
//! of the CPU. This writes the request as gRPC frames it on the wire (a 5-byte prefix,
//! then the protobuf message), prints the URL to post it to, and first makes the same
//! call once and checks it succeeds: h2load sees HTTP 200 even for a gRPC error, which
//! travels in the trailers it does not read.

use std::path::Path;

use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use identity::proto;
use identity::proto::token_service_client::TokenServiceClient;
use prost::Message;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::ceiling;
use crate::driver::{Worker, channels};
use crate::options::{BenchOptions, Scenario};
use crate::preparation::{self, MailDir};
use crate::workers::{Check, CheckPermission, GetJwks, HealthCheck, Validate};

/// The permission `check-permission` asks about, with either client.
pub const ASKED_PERMISSION: &str = "billing.view_invoice";

/// `message` framed as a gRPC request body: uncompressed flag, big-endian length, bytes.
#[must_use]
pub fn grpc_frame(message: &impl Message) -> Vec<u8> {
    let bytes = message.encode_to_vec();
    let length = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    let mut frame = Vec::with_capacity(5 + bytes.len());
    frame.push(0);
    frame.extend_from_slice(&length.to_be_bytes());
    frame.extend_from_slice(&bytes);
    frame
}

/// Writes the scenario's request body to `out` and returns the URL h2load posts it to,
/// after one real call of it succeeded. For the ceilings the server is started here and
/// serves until this process is stopped, so the caller prints the URL and waits.
///
/// # Errors
/// A scenario h2load cannot drive, preparation failed, or the checking call failed.
pub async fn prepare(
    options: &BenchOptions,
    out: &Path,
) -> anyhow::Result<(String, Option<ceiling::CeilingServer>)> {
    let (target, ceiling, access_token) = match options.scenario {
        Scenario::Echo | Scenario::EchoVerify => {
            let server = ceiling::start(options.scenario == Scenario::EchoVerify).await?;
            let token = server.access_token.clone();
            (server.target(), Some(server), token)
        }
        _ => (options.target.clone(), None, String::new()),
    };
    let channel = channels(&target, 1)?
        .pop()
        .ok_or_else(|| anyhow::anyhow!("no connection"))?;
    let access_token = if needs_session(options.scenario) {
        session_token(options, &channel).await?
    } else {
        access_token
    };
    let (path, body, outcome) = match options.scenario {
        Scenario::Health => (
            "/grpc.health.v1.Health/Check",
            grpc_frame(&HealthCheckRequest::default()),
            HealthCheck(HealthClient::new(channel)).call().await,
        ),
        Scenario::GetJwks => (
            "/identity.v1.TokenService/GetJwks",
            grpc_frame(&proto::GetJwksRequest {}),
            GetJwks(TokenServiceClient::new(channel)).call().await,
        ),
        Scenario::Validate | Scenario::Echo | Scenario::EchoVerify => {
            let mut worker = Validate {
                client: TokenServiceClient::new(channel),
                access_token: access_token.clone(),
            };
            let request = proto::ValidateAccessTokenRequest { access_token };
            (
                "/identity.v1.TokenService/ValidateAccessToken",
                grpc_frame(&request),
                worker.call().await,
            )
        }
        Scenario::CheckPermission => {
            let mut worker = CheckPermission {
                client: TokenServiceClient::new(channel),
                access_token: access_token.clone(),
                permission: ASKED_PERMISSION.to_owned(),
            };
            let request = proto::CheckPermissionRequest {
                access_token,
                permission: ASKED_PERMISSION.to_owned(),
            };
            (
                "/identity.v1.TokenService/CheckPermission",
                grpc_frame(&request),
                worker.call().await,
            )
        }
        Scenario::Check => {
            let mut worker = Check::new(AuthorizationClient::new(channel), &access_token);
            (
                "/envoy.service.auth.v3.Authorization/Check",
                grpc_frame(&worker.request),
                worker.call().await,
            )
        }
        other => anyhow::bail!("h2load drives cheap RPCs only, not {}", other.name()),
    };
    match outcome {
        Some(Ok(())) => {}
        Some(Err(status)) => anyhow::bail!("the request h2load would send fails: {status}"),
        None => anyhow::bail!("the request h2load would send got no answer"),
    }
    tokio::fs::write(out, body).await?;
    Ok((format!("{target}{path}"), ceiling))
}

fn needs_session(scenario: Scenario) -> bool {
    matches!(
        scenario,
        Scenario::Validate | Scenario::Check | Scenario::CheckPermission
    )
}

/// An access token of a fresh account's session on the server under test.
async fn session_token(options: &BenchOptions, channel: &Channel) -> anyhow::Result<String> {
    let mail = MailDir {
        dir: options.mail_dir.clone(),
        timeout: options.mail_timeout,
    };
    let users = preparation::verified_users(channel, &mail, 1).await?;
    let pair = preparation::sessions(channel, &users, 1)
        .await?
        .pop()
        .ok_or_else(|| anyhow::anyhow!("no session"))?;
    Ok(pair.access_token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_is_a_zero_flag_the_big_endian_length_and_the_message() {
        let request = proto::ValidateAccessTokenRequest {
            access_token: "abc".to_owned(),
        };
        assert_eq!(grpc_frame(&request), [0, 0, 0, 0, 5, 0x0a, 3, b'a', b'b', b'c']);
        assert_eq!(grpc_frame(&proto::GetJwksRequest {}), [0, 0, 0, 0, 0]);
    }
}
