//! Behind a gateway: `x-forwarded-for` names the client only when the connection comes
//! from `IDENTITY_TRUSTED_PROXIES`, and then that address is the one rate limits,
//! sessions and audit events use. The tests call from other loopback addresses
//! (127.0.0.2 plays the gateway) so that trusted and untrusted peers share one machine.

use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;
use std::time::Duration;

use identity::entities::audit_event;
use identity::proto::token_service_client::TokenServiceClient;
use identity::proto::{ListSessionsRequest, LoginRequest};
use identity::rate_limit::RateQuota;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use crate::rate_limits::{assert_rate_limited, limits_on};
use crate::status_assertions::assert_status;
use crate::test_app::{STRONG_PASSWORD, TestApp, bearer, spawn_app_with};
use crate::test_database::Backend;

/// A per-address budget of two logins a minute.
fn two_a_minute() -> RateQuota {
    RateQuota {
        burst: NonZeroU32::new(2).unwrap(),
        period: Duration::from_secs(60),
    }
}

const GATEWAY: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const STRANGER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

/// A TokenService client whose connection comes from `source`.
async fn tokens_from(app: &TestApp, source: Ipv4Addr) -> TokenServiceClient<Channel> {
    let channel = Endpoint::from_shared(format!("http://127.0.0.1:{}", app.port))
        .unwrap()
        .local_address(Some(IpAddr::V4(source)))
        .connect()
        .await
        .unwrap();
    TokenServiceClient::new(channel)
}

/// Login through `client`, with `x-forwarded-for: forwarded_for` when given.
async fn login_forwarded(
    client: &mut TokenServiceClient<Channel>,
    email: &str,
    forwarded_for: Option<&str>,
) -> Result<identity::proto::TokenPair, Status> {
    let mut request = tonic::Request::new(LoginRequest {
        email: email.into(),
        password: STRONG_PASSWORD.into(),
        device_name: None,
    });
    if let Some(forwarded_for) = forwarded_for {
        request
            .metadata_mut()
            .insert("x-forwarded-for", forwarded_for.parse().unwrap());
    }
    let response = client.login(request).await?;
    Ok(response.into_inner().tokens.unwrap())
}

/// The address ListSessions shows for the session of `tokens`.
async fn session_address(app: &TestApp, tokens: &identity::proto::TokenPair) -> String {
    let request = bearer(&tokens.access_token, ListSessionsRequest::default());
    let sessions = app
        .tokens
        .clone()
        .list_sessions(request)
        .await
        .unwrap()
        .into_inner();
    let session = sessions
        .sessions
        .into_iter()
        .find(|session| session.id == tokens.session_id)
        .unwrap();
    session.ip_address
}

database_test!(a_forwarded_address_is_used_only_from_a_trusted_peer);
async fn a_forwarded_address_is_used_only_from_a_trusted_peer(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.trusted_proxies = "127.0.0.2/32".parse().unwrap()).await;
    app.verified_user("roamer@example.com", STRONG_PASSWORD).await;
    let gateway = tokens_from(&app, GATEWAY).await;
    let stranger = tokens_from(&app, STRANGER).await;
    // (case, client, x-forwarded-for, address recorded)
    let cases = [
        (
            "a trusted gateway names the client",
            gateway.clone(),
            Some("198.51.100.7"),
            "198.51.100.7",
        ),
        (
            "an address the client wrote before the gateway's is not believed",
            gateway.clone(),
            Some("203.0.113.66, 198.51.100.8"),
            "198.51.100.8",
        ),
        (
            "a trusted gateway without the header is the client",
            gateway,
            None,
            "127.0.0.2",
        ),
        (
            "anyone else cannot choose its address",
            stranger,
            Some("198.51.100.9"),
            "127.0.0.3",
        ),
    ];

    for (case, mut client, forwarded_for, expected) in cases {
        let tokens = login_forwarded(&mut client, "roamer@example.com", forwarded_for)
            .await
            .unwrap();
        assert_eq!(session_address(&app, &tokens).await, expected, "{case}");
    }
}

database_test!(two_users_behind_one_trusted_gateway_have_separate_per_address_budgets);
async fn two_users_behind_one_trusted_gateway_have_separate_per_address_budgets(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.trusted_proxies = "127.0.0.2/32".parse().unwrap();
        limits_on(s, |l| l.login_ip = two_a_minute());
    })
    .await;
    let mut gateway = tokens_from(&app, GATEWAY).await;
    let invalid = |result: Result<_, Status>| {
        assert_status(&result.unwrap_err(), Code::Unauthenticated, "INVALID_CREDENTIALS");
    };
    for n in 0..2 {
        let email = format!("nobody{n}@example.com");
        invalid(login_forwarded(&mut gateway, &email, Some("198.51.100.7")).await);
    }

    let first_user_again = login_forwarded(&mut gateway, "nobody2@example.com", Some("198.51.100.7")).await;
    let second_user = login_forwarded(&mut gateway, "nobody3@example.com", Some("198.51.100.8")).await;

    assert_rate_limited(&first_user_again.unwrap_err(), Duration::from_secs(60));
    invalid(second_user);
}

database_test!(ipv6_clients_behind_a_gateway_share_a_budget_per_64);
async fn ipv6_clients_behind_a_gateway_share_a_budget_per_64(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.trusted_proxies = "127.0.0.2/32".parse().unwrap();
        limits_on(s, |l| l.login_ip = two_a_minute());
    })
    .await;
    let mut gateway = tokens_from(&app, GATEWAY).await;
    for address in ["2001:db8:1:2::1", "2001:db8:1:2::2"] {
        let status = login_forwarded(&mut gateway, "nobody@example.com", Some(address))
            .await
            .unwrap_err();
        assert_status(&status, Code::Unauthenticated, "INVALID_CREDENTIALS");
    }

    let same_64 = login_forwarded(&mut gateway, "nobody@example.com", Some("2001:db8:1:2:ffff::9")).await;
    let next_64 = login_forwarded(&mut gateway, "nobody@example.com", Some("2001:db8:1:3::1")).await;

    assert_rate_limited(&same_64.unwrap_err(), Duration::from_secs(60));
    assert_status(
        &next_64.unwrap_err(),
        Code::Unauthenticated,
        "INVALID_CREDENTIALS",
    );
}

database_test!(the_session_list_and_the_audit_trail_show_the_end_users_address);
async fn the_session_list_and_the_audit_trail_show_the_end_users_address(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.trusted_proxies = "127.0.0.0/30".parse().unwrap()).await;
    let user = app.verified_user("behind@example.com", STRONG_PASSWORD).await;
    let mut gateway = tokens_from(&app, GATEWAY).await;

    let tokens = login_forwarded(&mut gateway, "behind@example.com", Some("2001:db8::77"))
        .await
        .unwrap();

    assert_eq!(session_address(&app, &tokens).await, "2001:db8::77");
    let logins = audit_event::Entity::find()
        .filter(audit_event::Column::Kind.eq("login_succeeded"))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(logins.len(), 1);
    assert_eq!(logins[0].ip_address.as_deref(), Some("2001:db8::77"));
    assert_eq!(logins[0].user_id.map(|id| id.to_string()), Some(user.id));
}
