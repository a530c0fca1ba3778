//! An operator with an authenticator app signs in to the console in a real Chromium:
//! the password alone sets no session cookie, the second step with the app's code does;
//! a wrong code keeps them out. The operator then sees a user's second factors and
//! resets them.

use std::time::Duration;

use identity::proto;

use super::browser::Browser;
use super::{account, console_url, spawn_console_app};
use crate::admin::{REGULAR, SUPERUSER};
use crate::second_factors::{code_now, enroll};
use crate::test_app::STRONG_PASSWORD;
use crate::test_database::Backend;

database_test!(an_operator_with_an_authenticator_app_signs_in_with_its_code_in_a_real_browser);
async fn an_operator_with_an_authenticator_app_signs_in_with_its_code_in_a_real_browser(backend: Backend) {
    let app = spawn_console_app(backend).await;
    account(&app, "ops@example.com", SUPERUSER).await;
    let member = account(&app, "member@example.com", REGULAR).await;
    let ops_token = app
        .login("ops@example.com", STRONG_PASSWORD)
        .await
        .tokens
        .unwrap()
        .access_token;
    let ops = enroll(&app, &ops_token).await;
    let member_token = app
        .login("member@example.com", STRONG_PASSWORD)
        .await
        .tokens
        .unwrap()
        .access_token;
    enroll(&app, &member_token).await;
    let Some(browser) = Browser::start(&console_url(&app), module_path!()).await else {
        return;
    };

    browser.open("/sign-in").await;
    browser.fill("#email", "ops@example.com").await;
    browser.fill("#password", STRONG_PASSWORD).await;
    browser.click("#sign-in").await;
    browser.find("#code").await;
    let cookies = browser.client.get_all_cookies().await.unwrap();
    assert!(
        cookies.iter().all(|cookie| cookie.name() != "identity_console"),
        "no session before the second factor"
    );
    browser.fill("#code", "000000").await;
    browser.click("#verify").await;
    let error = browser.text("#error").await;
    assert!(
        error.contains("not valid") || code_now(&app, &ops.secret, 0) == "000000",
        "{error}"
    );

    app.clock.advance(Duration::from_secs(30));
    browser.fill("#code", &code_now(&app, &ops.secret, 0)).await;
    browser.click("#verify").await;
    browser.wait_for_path("/users").await;
    assert_eq!(browser.text("#operator").await, "ops@example.com");

    browser.open(&format!("/users/{}", member.id)).await;
    assert_eq!(browser.text("#totp").await, "on");
    browser.click("#reset-mfa").await;
    browser.wait_for_path(&format!("/users/{}", member.id)).await;
    assert_eq!(browser.text("#totp").await, "off");
    let plain = app.login("member@example.com", STRONG_PASSWORD).await;
    assert!(plain.tokens.is_some(), "the member's second factor is gone");
    let validated = app
        .tokens
        .clone()
        .validate_access_token(proto::ValidateAccessTokenRequest {
            access_token: plain.tokens.unwrap().access_token,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(validated.amr, ["pwd"]);
    browser.close().await;
}
