//! Service accounts through the real server on both databases: a token made with
//! `identity service-token create` acts on AdminService and EventService within its
//! scopes, never as a superuser, is audited as itself, and is refused at once when
//! revoked.

use identity::proto::event_service_client::EventServiceClient;
use identity::proto::get_user_request::Lookup;
use identity::proto::{self, UpdateUserRequest, WatchEventsRequest};
use secrecy::ExposeSecret;
use tonic::Code;

use crate::admin::{REGULAR, STAFF, get_user, list_users, logged_in, stored_events, update_user};
use crate::operator_cli::run_identity;
use crate::status_assertions::assert_status;
use crate::test_app::{TestApp, bearer, spawn_app};
use crate::test_database::Backend;

/// `identity service-token create` on the app's database; the token it printed.
async fn create_token(app: &TestApp, name: &str, scopes: &[&str]) -> String {
    let mut args = vec!["service-token", "create", "--name", name];
    for scope in scopes {
        args.extend(["--scope", scope]);
    }
    let run = run_identity(app.settings.database_url.expose_secret(), &args, None, &[]).await;
    assert!(run.status.success(), "{run:?}");
    let token = run.stdout.trim().to_owned();
    assert!(token.starts_with("ist_"), "{token}");
    token
}

async fn service_token(app: &TestApp, args: &[&str]) -> crate::operator_cli::CliRun {
    let mut all = vec!["service-token"];
    all.extend_from_slice(args);
    run_identity(app.settings.database_url.expose_secret(), &all, None, &[]).await
}

fn disable(id: &str) -> UpdateUserRequest {
    UpdateUserRequest {
        id: id.into(),
        is_active: Some(false),
        ..UpdateUserRequest::default()
    }
}

database_test!(a_service_token_acts_within_its_scopes_never_as_a_superuser_and_is_audited_as_itself);
async fn a_service_token_acts_within_its_scopes_never_as_a_superuser_and_is_audited_as_itself(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (member, _) = logged_in(&app, "member@example.com", REGULAR).await;
    let (staff, _) = logged_in(&app, "staff@example.com", STAFF).await;
    let reader = create_token(&app, "reporting", &["users.read", "events.watch"]).await;
    let writer = create_token(&app, "billing", &["users.write"]).await;

    let listed = list_users(&app, &reader, proto::ListUsersRequest::default())
        .await
        .unwrap();
    assert_eq!(listed.users.len(), 2);
    get_user(&app, &reader, Lookup::Email("member@example.com".into()))
        .await
        .unwrap();
    let request = bearer(&reader, WatchEventsRequest::default());
    EventServiceClient::new(app.channel.clone())
        .watch_events(request)
        .await
        .unwrap();
    let refused = update_user(&app, &reader, disable(&member.id.to_string()))
        .await
        .unwrap_err();
    assert_status(&refused, Code::PermissionDenied, "SCOPE_MISSING");
    let no_read = get_user(&app, &writer, Lookup::Email("member@example.com".into()))
        .await
        .unwrap_err();
    assert_status(&no_read, Code::PermissionDenied, "SCOPE_MISSING");
    let request = bearer(&writer, WatchEventsRequest::default());
    let no_watch = EventServiceClient::new(app.channel.clone())
        .watch_events(request)
        .await
        .unwrap_err();
    assert_status(&no_watch, Code::PermissionDenied, "SCOPE_MISSING");
    let groups = app
        .admin
        .clone()
        .list_groups(bearer(&reader, proto::ListGroupsRequest::default()))
        .await
        .unwrap_err();
    assert_status(&groups, Code::PermissionDenied, "NOT_STAFF");
    let reset = proto::ResetUserMfaRequest {
        user_id: member.id.to_string(),
    };
    let mfa = app
        .admin
        .clone()
        .reset_user_mfa(bearer(&writer, reset))
        .await
        .unwrap_err();
    assert_status(&mfa, Code::PermissionDenied, "NOT_STAFF");

    let disabled = update_user(&app, &writer, disable(&member.id.to_string()))
        .await
        .unwrap();
    assert!(!disabled.is_active);
    let privileged = update_user(&app, &writer, disable(&staff.id.to_string()))
        .await
        .unwrap_err();
    assert_status(&privileged, Code::PermissionDenied, "NOT_SUPERUSER");
    let promote = UpdateUserRequest {
        id: member.id.to_string(),
        is_staff: Some(true),
        ..UpdateUserRequest::default()
    };
    let escalation = update_user(&app, &writer, promote).await.unwrap_err();
    assert_status(&escalation, Code::PermissionDenied, "NOT_SUPERUSER");

    let listing = service_token(&app, &["list"]).await;
    let billing_id = listing
        .stdout
        .lines()
        .find(|line| line.starts_with("billing\t"))
        .and_then(|line| line.split('\t').nth(1))
        .unwrap()
        .to_owned();
    let updated = stored_events(&app, "admin_user_updated").await;
    assert_eq!(
        updated[0].metadata["operator_id"], billing_id,
        "audited as the service account"
    );
}

database_test!(a_revoked_service_token_is_refused_at_its_next_call);
async fn a_revoked_service_token_is_refused_at_its_next_call(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = create_token(&app, "reporting", &["users.read"]).await;
    list_users(&app, &token, proto::ListUsersRequest::default())
        .await
        .unwrap();

    let revoked = service_token(&app, &["revoke", "reporting"]).await;

    assert!(revoked.status.success(), "{revoked:?}");
    let refused = list_users(&app, &token, proto::ListUsersRequest::default())
        .await
        .unwrap_err();
    assert_status(&refused, Code::Unauthenticated, "TOKEN_INVALID");
    let again = service_token(&app, &["revoke", "reporting"]).await;
    assert_eq!(again.status.code(), Some(1), "{again:?}");
    let listing = service_token(&app, &["list"]).await;
    assert!(listing.stdout.contains("\trevoked "), "{}", listing.stdout);
    assert_eq!(stored_events(&app, "service_token_revoked").await.len(), 1);
}

database_test!(bad_names_scopes_duplicates_and_forged_tokens_are_refused);
async fn bad_names_scopes_duplicates_and_forged_tokens_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    create_token(&app, "reporting", &["users.read"]).await;

    let duplicate = service_token(&app, &["create", "--name", "reporting", "--scope", "users.read"]).await;
    let bad_name = service_token(&app, &["create", "--name", "Has Spaces", "--scope", "users.read"]).await;
    let bad_scope = service_token(&app, &["create", "--name", "other", "--scope", "users.admin"]).await;

    for (run, expected) in [
        (&duplicate, "exists"),
        (&bad_name, "--name"),
        (&bad_scope, "must be events.watch, users.read or users.write"),
    ] {
        assert_eq!(run.status.code(), Some(1), "{run:?}");
        assert!(run.stderr.contains(expected), "{expected}: {}", run.stderr);
    }
    for forged in [
        "ist_",
        "ist_not-a-token-at-all",
        "ist_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let refused = list_users(&app, forged, proto::ListUsersRequest::default())
            .await
            .unwrap_err();
        assert_status(&refused, Code::Unauthenticated, "TOKEN_INVALID");
    }
}
