//! What protects the console, over plain HTTP: CSRF tokens on every POST, staff only,
//! the AdminService ladder, security headers, and the session cookie's attributes.

use identity::entities::session;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::console_client::ConsoleClient;
use super::{account, console_url, signed_in_client, spawn_console_app};
use crate::admin::{REGULAR, STAFF, SUPERUSER, stored_user};
use crate::test_app::{STRONG_PASSWORD, spawn_app, spawn_app_with};
use crate::test_database::Backend;

database_test!(a_post_without_the_csrf_token_is_refused_and_changes_nothing);
async fn a_post_without_the_csrf_token_is_refused_and_changes_nothing(backend: Backend) {
    let app = spawn_console_app(backend).await;
    account(&app, "ops@example.com", SUPERUSER).await;
    let target = account(&app, "target@example.com", REGULAR).await;
    let mut client = signed_in_client(&app, "ops@example.com").await;
    let page = client.get(&format!("/users/{}", target.id)).await;
    let token = page.csrf_token();
    let path = format!("/users/{}/flags", target.id);

    let missing = client
        .post(&path, &[("flag", "is_active"), ("value", "false")])
        .await;
    let forged = [
        ("flag", "is_active"),
        ("value", "false"),
        ("csrf_token", "forged"),
    ];
    let wrong = client.post(&path, &forged).await;
    let still_active = stored_user(&app, target.id).await.unwrap().is_active;
    let genuine = [
        ("flag", "is_active"),
        ("value", "false"),
        ("csrf_token", token.as_str()),
    ];
    let accepted = client.post(&path, &genuine).await;

    assert_eq!(missing.status, 403, "no token");
    assert_eq!(wrong.status, 403, "a wrong token");
    assert!(still_active, "a refused form changes nothing");
    assert_eq!(accepted.status, 303, "the page's own token: {}", accepted.body);
    assert!(!stored_user(&app, target.id).await.unwrap().is_active);
}

#[tokio::test]
async fn sign_in_without_its_csrf_pair_is_refused() {
    let app = spawn_console_app(Backend::Sqlite).await;
    account(&app, "ops@example.com", SUPERUSER).await;
    let mut client = ConsoleClient::new(console_url(&app));
    let fields = [("email", "ops@example.com"), ("password", STRONG_PASSWORD)];

    let no_token = client.post("/sign-in", &fields).await;
    client.get("/sign-in").await;
    let forged_fields = [
        ("email", "ops@example.com"),
        ("password", STRONG_PASSWORD),
        ("csrf_token", "x"),
    ];
    let forged = client.post("/sign-in", &forged_fields).await;

    for (case, response) in [("no token", no_token), ("a forged token", forged)] {
        assert_eq!(response.status, 403, "{case}");
        assert!(response.set_cookie("identity_console").is_none(), "{case}");
    }
}

database_test!(a_non_staff_account_is_refused_and_its_session_ended);
async fn a_non_staff_account_is_refused_and_its_session_ended(backend: Backend) {
    let app = spawn_console_app(backend).await;
    let regular = account(&app, "someone@example.com", REGULAR).await;
    let mut client = ConsoleClient::new(console_url(&app));

    let response = client.sign_in("someone@example.com", STRONG_PASSWORD).await;
    let after = client.get("/users").await;

    assert_eq!(response.status, 403);
    assert!(response.body.contains("staff accounts only"));
    assert!(response.set_cookie("identity_console").is_none());
    assert_eq!(after.status, 303);
    assert_eq!(after.location(), "/sign-in");
    let sessions = session::Entity::find()
        .filter(session::Column::UserId.eq(regular.id))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(sessions.len(), 1, "Login opened one session");
    assert!(sessions[0].revoked_at.is_some(), "and the console ended it");
}

database_test!(a_staff_operator_cannot_grant_staff_as_admin_service_rules);
async fn a_staff_operator_cannot_grant_staff_as_admin_service_rules(backend: Backend) {
    let app = spawn_console_app(backend).await;
    account(&app, "staff@example.com", STAFF).await;
    let target = account(&app, "target@example.com", REGULAR).await;
    let mut client = signed_in_client(&app, "staff@example.com").await;
    let page = client.get(&format!("/users/{}", target.id)).await;
    let token = page.csrf_token();

    let fields = [
        ("flag", "is_staff"),
        ("value", "true"),
        ("csrf_token", token.as_str()),
    ];
    let response = client.post(&format!("/users/{}/flags", target.id), &fields).await;

    assert_eq!(response.status, 403);
    assert!(response.body.contains("Only a superuser"));
    assert!(
        !page.body.contains("toggle-is_staff"),
        "no button for what is refused"
    );
    assert!(!stored_user(&app, target.id).await.unwrap().is_staff);
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_console_app(Backend::Sqlite).await;
    account(&app, "ops@example.com", SUPERUSER).await;
    let mut client = signed_in_client(&app, "ops@example.com").await;

    for path in ["/sign-in", "/console.css", "/users", "/audit", "/users/not-an-id"] {
        let response = client.get(path).await;
        let header = |name: &str| response.headers.get(name).unwrap().to_str().unwrap().to_owned();
        let policy = header("content-security-policy");
        assert!(policy.contains("default-src 'self'"), "{path}: {policy}");
        assert!(policy.contains("frame-ancestors 'none'"), "{path}: {policy}");
        assert!(!policy.contains("unsafe-inline"), "{path}: {policy}");
        assert_eq!(header("referrer-policy"), "no-referrer", "{path}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert!(!response.body.contains("<script"), "{path}: no script at all");
    }
}

#[tokio::test]
async fn the_session_cookie_is_http_only_strict_and_secure_only_when_the_browser_used_https() {
    // The links' public URL is https in both: it says nothing about the console.
    let direct = spawn_app_with(Backend::Sqlite, |settings| {
        settings.console_addr = Some("127.0.0.1:0".parse().unwrap());
        settings.email.public_url = "https://identity.example.com".parse().unwrap();
    })
    .await;
    let behind_tls = spawn_app_with(Backend::Sqlite, |settings| {
        settings.console_addr = Some("127.0.0.1:0".parse().unwrap());
        settings.trusted_proxies = "127.0.0.1/32".parse().unwrap();
    })
    .await;
    for app in [&direct, &behind_tls] {
        account(app, "ops@example.com", SUPERUSER).await;
    }
    let session_cookie = |app: &crate::test_app::TestApp, forwarded: bool| {
        let mut client = ConsoleClient::new(console_url(app));
        if forwarded {
            client.headers.push(("x-forwarded-proto", "https"));
        }
        async move {
            client
                .sign_in("ops@example.com", STRONG_PASSWORD)
                .await
                .set_cookie("identity_console")
                .unwrap()
        }
    };

    let plain = session_cookie(&direct, false).await;
    let claimed_by_the_client = session_cookie(&direct, true).await;
    let through_the_proxy = session_cookie(&behind_tls, true).await;

    for cookie in [&plain, &claimed_by_the_client, &through_the_proxy] {
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    }
    assert!(!plain.contains("Secure"), "{plain}");
    assert!(
        !claimed_by_the_client.contains("Secure"),
        "an untrusted peer cannot claim https: {claimed_by_the_client}"
    );
    assert!(through_the_proxy.contains("Secure"), "{through_the_proxy}");
}

#[tokio::test]
async fn the_console_is_off_unless_configured() {
    let app = spawn_app(Backend::Sqlite).await;
    assert_eq!(app.console_port, None);
}

database_test!(a_guesser_cannot_lock_an_operator_out_of_the_console);
async fn a_guesser_cannot_lock_an_operator_out_of_the_console(backend: Backend) {
    let app = spawn_app_with(backend, |settings| {
        settings.console_addr = Some("127.0.0.1:0".parse().unwrap());
        crate::rate_limits::limits_on(settings, |limits| {
            limits.login_failures = identity::rate_limit::RateLimitSettings::default().login_failures;
        });
    })
    .await;
    account(&app, "ops@example.com", SUPERUSER).await;
    signed_in_client(&app, "ops@example.com").await;
    let mut attacker = crate::rate_limits::tokens_from(&app, std::net::Ipv4Addr::new(127, 0, 0, 2)).await;
    for _ in 0..10 {
        crate::rate_limits::login_with(&mut attacker, "ops@example.com", "a guess")
            .await
            .unwrap_err();
    }

    let mut next_morning = ConsoleClient::new(console_url(&app));
    let signed_in = next_morning.sign_in("ops@example.com", STRONG_PASSWORD).await;

    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    assert_eq!(signed_in.location(), "/users");
}
