//! Groups and permissions through the real server: superusers change them, staff read
//! them; a user's effective permissions (groups ∪ direct grants) are on `User`, in the
//! access token's claims as at issue time (verified with the published keys), and current
//! in ValidateAccessToken and CheckPermission, where a revocation is seen at once.

use identity::entities::{audit_event, group_permission, user_group, user_permission};
use identity::proto;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use tonic::{Code, Status};

use crate::admin::{REGULAR, STAFF, SUPERUSER, delete_user, logged_in};
use crate::status_assertions::{assert_field_violation, assert_status};
use crate::test_app::{STRONG_PASSWORD, TestApp, bearer, spawn_app};
use crate::test_database::Backend;

async fn create_group(
    app: &TestApp,
    token: &str,
    name: &str,
    permissions: &[&str],
) -> Result<proto::Group, Status> {
    let request = proto::CreateGroupRequest {
        name: name.into(),
        permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
    };
    let response = app.admin.clone().create_group(bearer(token, request)).await?;
    Ok(response.into_inner().group.unwrap())
}

async fn update_group(
    app: &TestApp,
    token: &str,
    name: &str,
    add: &[&str],
    remove: &[&str],
) -> Result<proto::Group, Status> {
    let request = proto::UpdateGroupRequest {
        name: name.into(),
        add_permissions: add.iter().map(|p| (*p).to_owned()).collect(),
        remove_permissions: remove.iter().map(|p| (*p).to_owned()).collect(),
    };
    let response = app.admin.clone().update_group(bearer(token, request)).await?;
    Ok(response.into_inner().group.unwrap())
}

async fn delete_group(app: &TestApp, token: &str, name: &str) -> Result<(), Status> {
    let request = proto::DeleteGroupRequest { name: name.into() };
    app.admin
        .clone()
        .delete_group(bearer(token, request))
        .await
        .map(|_| ())
}

async fn join(app: &TestApp, token: &str, user_id: &str, group: &str) -> Result<proto::User, Status> {
    let request = proto::AddUserToGroupRequest {
        user_id: user_id.into(),
        group: group.into(),
    };
    let response = app
        .admin
        .clone()
        .add_user_to_group(bearer(token, request))
        .await?;
    Ok(response.into_inner().user.unwrap())
}

async fn leave(app: &TestApp, token: &str, user_id: &str, group: &str) -> Result<proto::User, Status> {
    let request = proto::RemoveUserFromGroupRequest {
        user_id: user_id.into(),
        group: group.into(),
    };
    let response = app
        .admin
        .clone()
        .remove_user_from_group(bearer(token, request))
        .await?;
    Ok(response.into_inner().user.unwrap())
}

async fn grant(app: &TestApp, token: &str, user_id: &str, permission: &str) -> Result<proto::User, Status> {
    let request = proto::GrantUserPermissionRequest {
        user_id: user_id.into(),
        permission: permission.into(),
    };
    let response = app
        .admin
        .clone()
        .grant_user_permission(bearer(token, request))
        .await?;
    Ok(response.into_inner().user.unwrap())
}

async fn revoke(app: &TestApp, token: &str, user_id: &str, permission: &str) -> Result<proto::User, Status> {
    let request = proto::RevokeUserPermissionRequest {
        user_id: user_id.into(),
        permission: permission.into(),
    };
    let response = app
        .admin
        .clone()
        .revoke_user_permission(bearer(token, request))
        .await?;
    Ok(response.into_inner().user.unwrap())
}

async fn check(app: &TestApp, access_token: &str, permission: &str) -> Result<bool, Status> {
    let request = proto::CheckPermissionRequest {
        access_token: access_token.into(),
        permission: permission.into(),
    };
    let response = app.tokens.clone().check_permission(request).await?;
    Ok(response.into_inner().allowed)
}

async fn own_account(app: &TestApp, access_token: &str) -> proto::User {
    let request = bearer(access_token, proto::GetAccountRequest {});
    let response = app.accounts.clone().get_account(request).await.unwrap();
    response.into_inner().user.unwrap()
}

/// The token's claims, after checking its signature with the published key set as a
/// service verifying locally would.
async fn verified_claims(app: &TestApp, access_token: &str) -> serde_json::Value {
    let set: JwkSet = serde_json::from_value(app.jwks().await).unwrap();
    let kid = jsonwebtoken::decode_header(access_token).unwrap().kid.unwrap();
    let key = DecodingKey::from_jwk(set.find(&kid).unwrap()).unwrap();
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&["identity"]);
    validation.set_audience(&["identity"]);
    jsonwebtoken::decode::<serde_json::Value>(access_token, &key, &validation)
        .unwrap()
        .claims
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|value| (*value).to_owned()).collect()
}

database_test!(a_group_and_a_direct_grant_reach_the_account_the_token_and_every_check);
async fn a_group_and_a_direct_grant_reach_the_account_the_token_and_every_check(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, root) = logged_in(&app, "root@example.com", SUPERUSER).await;
    let (clerk, _) = logged_in(&app, "clerk@example.com", REGULAR).await;
    let clerk_id = clerk.id.to_string();

    let group = create_group(
        &app,
        &root,
        "billing",
        &["billing.view_invoice", "billing.refund"],
    )
    .await
    .unwrap();
    assert_eq!(group.name, "billing");
    assert_eq!(
        group.permissions,
        strings(&["billing.refund", "billing.view_invoice"])
    );
    join(&app, &root, &clerk_id, "billing").await.unwrap();
    grant(&app, &root, &clerk_id, "reports.read").await.unwrap();
    // Given twice (a group and a grant), listed once.
    let answered = grant(&app, &root, &clerk_id, "billing.refund").await.unwrap();
    let expected_permissions = strings(&["billing.refund", "billing.view_invoice", "reports.read"]);
    assert_eq!(answered.groups, ["billing"]);
    assert_eq!(answered.permissions, expected_permissions);

    let access_token = app
        .login("clerk@example.com", STRONG_PASSWORD)
        .await
        .tokens
        .unwrap()
        .access_token;
    let account = own_account(&app, &access_token).await;
    assert_eq!(account.groups, ["billing"]);
    assert_eq!(account.permissions, expected_permissions);
    let claims = verified_claims(&app, &access_token).await;
    assert_eq!(claims["groups"], serde_json::json!(["billing"]));
    assert_eq!(claims["perms"], serde_json::json!(expected_permissions));
    let validated = app.validate(&access_token).await.unwrap();
    assert_eq!(validated.groups, ["billing"]);
    assert_eq!(validated.permissions, expected_permissions);
    assert!(check(&app, &access_token, "billing.view_invoice").await.unwrap());
    assert!(check(&app, &access_token, "reports.read").await.unwrap());
    assert!(
        !check(&app, &access_token, "billing.delete_invoice")
            .await
            .unwrap()
    );
}

database_test!(a_revocation_is_refused_online_at_once_and_leaves_the_next_token);
async fn a_revocation_is_refused_online_at_once_and_leaves_the_next_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, root) = logged_in(&app, "root@example.com", SUPERUSER).await;
    let (clerk, _) = logged_in(&app, "clerk@example.com", REGULAR).await;
    let clerk_id = clerk.id.to_string();
    create_group(&app, &root, "support", &["tickets.close", "tickets.read"])
        .await
        .unwrap();
    join(&app, &root, &clerk_id, "support").await.unwrap();
    grant(&app, &root, &clerk_id, "reports.read").await.unwrap();
    let tokens = app
        .login("clerk@example.com", STRONG_PASSWORD)
        .await
        .tokens
        .unwrap();
    let access_token = tokens.access_token.clone();
    for permission in ["tickets.close", "tickets.read", "reports.read"] {
        assert!(
            check(&app, &access_token, permission).await.unwrap(),
            "{permission}"
        );
    }

    // Three ways to lose a permission, each seen by the very next check.
    revoke(&app, &root, &clerk_id, "reports.read").await.unwrap();
    assert!(!check(&app, &access_token, "reports.read").await.unwrap());
    update_group(&app, &root, "support", &[], &["tickets.close"])
        .await
        .unwrap();
    assert!(!check(&app, &access_token, "tickets.close").await.unwrap());
    assert!(check(&app, &access_token, "tickets.read").await.unwrap());
    let left = leave(&app, &root, &clerk_id, "support").await.unwrap();
    assert!(left.groups.is_empty() && left.permissions.is_empty(), "{left:?}");
    assert!(!check(&app, &access_token, "tickets.read").await.unwrap());
    let validated = app.validate(&access_token).await.unwrap();
    assert!(validated.groups.is_empty() && validated.permissions.is_empty());

    // The token still says what was true at issue: local verifiers trust it until it
    // expires. The next token, from a refresh, no longer does.
    let claims = verified_claims(&app, &access_token).await;
    assert_eq!(
        claims["perms"],
        serde_json::json!(["reports.read", "tickets.close", "tickets.read"])
    );
    let request = proto::RefreshTokenRequest {
        refresh_token: tokens.refresh_token,
    };
    let refreshed = app.tokens.clone().refresh_token(request).await.unwrap();
    let next = refreshed.into_inner().tokens.unwrap().access_token;
    let claims = verified_claims(&app, &next).await;
    assert_eq!(claims["groups"], serde_json::json!([]));
    assert_eq!(claims["perms"], serde_json::json!([]));
}

database_test!(a_superuser_holds_every_permission_staff_read_and_only_superusers_change);
async fn a_superuser_holds_every_permission_staff_read_and_only_superusers_change(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, root) = logged_in(&app, "root@example.com", SUPERUSER).await;
    let (_, staff) = logged_in(&app, "staff@example.com", STAFF).await;
    let (clerk, clerk_token) = logged_in(&app, "clerk@example.com", REGULAR).await;
    let clerk_id = clerk.id.to_string();
    create_group(&app, &root, "support", &["tickets.read"])
        .await
        .unwrap();

    assert!(check(&app, &root, "anything.at_all").await.unwrap());
    assert!(
        !check(&app, &staff, "tickets.read").await.unwrap(),
        "staff is not a permission"
    );

    let read = app
        .admin
        .clone()
        .get_group(bearer(
            &staff,
            proto::GetGroupRequest {
                name: "support".into(),
            },
        ))
        .await
        .unwrap();
    assert_eq!(read.into_inner().group.unwrap().permissions, ["tickets.read"]);
    let refusals = [
        create_group(&app, &staff, "mine", &["tickets.read"])
            .await
            .unwrap_err(),
        update_group(&app, &staff, "support", &["tickets.close"], &[])
            .await
            .unwrap_err(),
        delete_group(&app, &staff, "support").await.unwrap_err(),
        join(&app, &staff, &clerk_id, "support").await.unwrap_err(),
        leave(&app, &staff, &clerk_id, "support").await.unwrap_err(),
        grant(&app, &staff, &clerk_id, "tickets.read").await.unwrap_err(),
        revoke(&app, &staff, &clerk_id, "tickets.read").await.unwrap_err(),
    ];
    for status in &refusals {
        assert_status(status, Code::PermissionDenied, "NOT_SUPERUSER");
    }
    let not_staff = app
        .admin
        .clone()
        .list_groups(bearer(&clerk_token, proto::ListGroupsRequest::default()))
        .await
        .unwrap_err();
    assert_status(&not_staff, Code::PermissionDenied, "NOT_STAFF");
    let group = app
        .admin
        .clone()
        .get_group(bearer(
            &root,
            proto::GetGroupRequest {
                name: "support".into(),
            },
        ))
        .await
        .unwrap();
    assert_eq!(
        group.into_inner().group.unwrap().permissions,
        ["tickets.read"],
        "nothing changed"
    );
}

database_test!(bad_names_and_unknown_groups_are_refused_with_their_field_and_write_nothing);
async fn bad_names_and_unknown_groups_are_refused_with_their_field_and_write_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, root) = logged_in(&app, "root@example.com", SUPERUSER).await;
    let (clerk, clerk_token) = logged_in(&app, "clerk@example.com", REGULAR).await;
    let clerk_id = clerk.id.to_string();

    let status = create_group(&app, &root, "Billing Admins", &["billing.view", "billing"])
        .await
        .unwrap_err();
    assert_field_violation(&status, "name", "GROUP_NAME_INVALID");
    assert_field_violation(&status, "permissions", "PERMISSION_INVALID");
    let status = grant(&app, &root, &clerk_id, "Billing.View").await.unwrap_err();
    assert_field_violation(&status, "permission", "PERMISSION_INVALID");
    let status = join(&app, &root, &clerk_id, "").await.unwrap_err();
    assert_field_violation(&status, "group", "FIELD_REQUIRED");
    let status = check(&app, &clerk_token, "no_dot").await.unwrap_err();
    assert_field_violation(&status, "permission", "PERMISSION_INVALID");

    for status in [
        delete_group(&app, &root, "nobody").await.unwrap_err(),
        join(&app, &root, &clerk_id, "nobody").await.unwrap_err(),
        update_group(&app, &root, "nobody", &["a.b"], &[])
            .await
            .unwrap_err(),
        app.admin
            .clone()
            .get_group(bearer(
                &root,
                proto::GetGroupRequest {
                    name: "nobody".into(),
                },
            ))
            .await
            .unwrap_err(),
    ] {
        assert_status(&status, Code::NotFound, "GROUP_NOT_FOUND");
    }
    let status = grant(&app, &root, "not-a-uuid", "a.b").await.unwrap_err();
    assert_status(&status, Code::NotFound, "USER_NOT_FOUND");
    create_group(&app, &root, "support", &[]).await.unwrap();
    let status = create_group(&app, &root, "support", &["a.b"]).await.unwrap_err();
    assert_status(&status, Code::AlreadyExists, "GROUP_EXISTS");

    let permissions = group_permission::Entity::find().count(&app.db).await.unwrap();
    let grants = user_permission::Entity::find().count(&app.db).await.unwrap();
    let memberships = user_group::Entity::find().count(&app.db).await.unwrap();
    assert_eq!(
        (permissions, grants, memberships),
        (0, 0, 0),
        "no refused change was written"
    );
    let changes = audit_event::Entity::find()
        .filter(audit_event::Column::Kind.starts_with("admin_"))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(changes, 1, "only the one group created is audited");
}

database_test!(deleting_a_group_or_a_user_takes_their_rows_and_every_change_is_audited);
async fn deleting_a_group_or_a_user_takes_their_rows_and_every_change_is_audited(backend: Backend) {
    let app = spawn_app(backend).await;
    let (root_row, root) = logged_in(&app, "root@example.com", SUPERUSER).await;
    let (clerk, clerk_token) = logged_in(&app, "clerk@example.com", REGULAR).await;
    let clerk_id = clerk.id.to_string();
    create_group(&app, &root, "support", &["tickets.read"])
        .await
        .unwrap();
    create_group(&app, &root, "billing", &["billing.refund"])
        .await
        .unwrap();
    join(&app, &root, &clerk_id, "support").await.unwrap();
    join(&app, &root, &clerk_id, "billing").await.unwrap();
    grant(&app, &root, &clerk_id, "reports.read").await.unwrap();

    let granted = crate::admin::stored_events(&app, "admin_permission_granted").await;
    assert_eq!(
        granted[0].user_id,
        Some(clerk.id),
        "the event is about the account"
    );
    assert_eq!(granted[0].metadata["permission"], "reports.read");

    delete_group(&app, &root, "support").await.unwrap();
    assert!(!check(&app, &clerk_token, "tickets.read").await.unwrap());
    assert_eq!(own_account(&app, &clerk_token).await.groups, ["billing"]);
    delete_user(&app, &root, &clerk_id).await.unwrap();
    let permissions = group_permission::Entity::find().count(&app.db).await.unwrap();
    let grants = user_permission::Entity::find().count(&app.db).await.unwrap();
    let memberships = user_group::Entity::find().count(&app.db).await.unwrap();
    assert_eq!(
        (permissions, grants, memberships),
        (1, 0, 0),
        "billing's own permission stays"
    );

    let events = audit_event::Entity::find()
        .filter(audit_event::Column::Kind.starts_with("admin_"))
        .all(&app.db)
        .await
        .unwrap();
    let kinds = |kind: &str| events.iter().filter(|event| event.kind == kind).count();
    assert_eq!(kinds("admin_group_created"), 2);
    assert_eq!(kinds("admin_user_group_added"), 2);
    assert_eq!(kinds("admin_permission_granted"), 1);
    assert_eq!(kinds("admin_group_deleted"), 1);
    for event in &events {
        assert_eq!(
            event.metadata["operator_id"],
            root_row.id.to_string(),
            "{} names its operator",
            event.kind
        );
    }
}

database_test!(groups_are_listed_a_page_at_a_time_oldest_first);
async fn groups_are_listed_a_page_at_a_time_oldest_first(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, root) = logged_in(&app, "root@example.com", SUPERUSER).await;
    let names = ["alpha", "bravo", "charlie", "delta", "echo"];
    for name in names {
        create_group(&app, &root, name, &["a.b"]).await.unwrap();
        app.clock.advance(std::time::Duration::from_secs(1));
    }
    let mut seen = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = proto::ListGroupsRequest {
            page_size: 2,
            page_token: page_token.clone(),
        };
        let page = app
            .admin
            .clone()
            .list_groups(bearer(&root, request))
            .await
            .unwrap()
            .into_inner();
        assert!(page.groups.len() <= 2);
        seen.extend(page.groups.into_iter().map(|group| group.name));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(seen, names);
}

database_test!(a_token_past_the_claims_limit_says_so_and_stays_small);
async fn a_token_past_the_claims_limit_says_so_and_stays_small(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, root) = logged_in(&app, "root@example.com", SUPERUSER).await;
    let (clerk, _) = logged_in(&app, "clerk@example.com", REGULAR).await;
    // 40 permissions of 80 characters: past the 2 KiB the claims may take.
    let many: Vec<String> = (0..40)
        .map(|n| format!("warehouse.{}_{n:02}", "inventory_adjustment".repeat(3)))
        .collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    create_group(&app, &root, "warehouse", &many).await.unwrap();
    join(&app, &root, &clerk.id.to_string(), "warehouse")
        .await
        .unwrap();

    let access_token = app
        .login("clerk@example.com", STRONG_PASSWORD)
        .await
        .tokens
        .unwrap()
        .access_token;
    assert!(access_token.len() < 1024, "{} bytes", access_token.len());
    let claims = verified_claims(&app, &access_token).await;
    assert_eq!(claims["perms_omitted"], true);
    assert!(claims.get("perms").is_none() && claims.get("groups").is_none());
    assert!(
        check(&app, &access_token, many[39]).await.unwrap(),
        "online checks still answer"
    );
    assert_eq!(app.validate(&access_token).await.unwrap().permissions.len(), 40);
}

database_test!(the_command_line_sets_up_groups_and_grants_as_a_named_superuser);
async fn the_command_line_sets_up_groups_and_grants_as_a_named_superuser(backend: Backend) {
    use secrecy::ExposeSecret;

    use crate::operator_cli::run_identity;

    let app = spawn_app(backend).await;
    let (root, _) = logged_in(&app, "root@example.com", SUPERUSER).await;
    logged_in(&app, "staff@example.com", STAFF).await;
    let (_, clerk_token) = logged_in(&app, "clerk@example.com", REGULAR).await;
    let url = app.settings.database_url.expose_secret().to_owned();
    let identity = |args: Vec<&'static str>| {
        let url = url.clone();
        async move { run_identity(&url, &args, None, &[]).await }
    };

    let created = identity(vec![
        "groups",
        "create",
        "billing",
        "--permission",
        "billing.view_invoice",
        "--permission",
        "billing.refund",
        "--as",
        "root@example.com",
    ])
    .await;
    assert!(created.status.success(), "{created:#?}");
    assert_eq!(created.stdout, "billing: billing.refund billing.view_invoice\n");
    let granted = identity(vec![
        "users",
        "grant",
        "clerk@example.com",
        "reports.read",
        "--as",
        "root@example.com",
    ])
    .await;
    assert!(granted.status.success(), "{granted:#?}");
    assert!(
        check(&app, &clerk_token, "reports.read").await.unwrap(),
        "seen by the server at once"
    );
    let listed = identity(vec!["groups", "list", "--as", "staff@example.com"]).await;
    assert_eq!(
        listed.stdout, "billing: billing.refund billing.view_invoice\n",
        "{listed:#?}"
    );

    let refused = identity(vec!["groups", "delete", "billing", "--as", "staff@example.com"]).await;
    assert_eq!(refused.status.code(), Some(1), "{refused:#?}");
    assert!(refused.stderr.contains("only a superuser"), "{refused:#?}");
    let refused = identity(vec!["groups", "create", "Bad Name", "--as", "root@example.com"]).await;
    assert_eq!(refused.status.code(), Some(1), "{refused:#?}");
    assert!(refused.stderr.contains("group name"), "{refused:#?}");

    let revoked = identity(vec![
        "users",
        "revoke",
        "clerk@example.com",
        "reports.read",
        "--as",
        "root@example.com",
    ])
    .await;
    assert!(revoked.status.success(), "{revoked:#?}");
    assert!(!check(&app, &clerk_token, "reports.read").await.unwrap());
    let deleted = identity(vec!["groups", "delete", "billing", "--as", "root@example.com"]).await;
    assert!(deleted.status.success(), "{deleted:#?}");
    assert_eq!(group_permission::Entity::find().count(&app.db).await.unwrap(), 0);
    let by_root = audit_event::Entity::find()
        .filter(audit_event::Column::Kind.starts_with("admin_"))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(by_root.len(), 4, "{by_root:?}");
    assert!(
        by_root
            .iter()
            .all(|event| event.metadata["operator_id"] == root.id.to_string())
    );
}

database_test!(the_gateway_check_passes_the_current_permissions_upstream);
async fn the_gateway_check_passes_the_current_permissions_upstream(backend: Backend) {
    use envoy_types::ext_authz::v3::pb::HttpResponse;

    let app = spawn_app(backend).await;
    let (_, root) = logged_in(&app, "root@example.com", SUPERUSER).await;
    let (clerk, clerk_token) = logged_in(&app, "clerk@example.com", REGULAR).await;
    let clerk_id = clerk.id.to_string();
    create_group(&app, &root, "support", &["tickets.read"])
        .await
        .unwrap();
    join(&app, &root, &clerk_id, "support").await.unwrap();
    grant(&app, &root, &clerk_id, "reports.read").await.unwrap();
    let authorization = format!("Bearer {clerk_token}");
    let permissions_header = || async {
        let response = crate::external_authorization::check(&app, &[("authorization", &authorization)]).await;
        let Some(HttpResponse::OkResponse(ok)) = response.http_response else {
            panic!("not allowed: {response:?}");
        };
        ok.headers
            .iter()
            .filter_map(|option| option.header.as_ref())
            .find(|header| header.key == "x-identity-permissions")
            .map(|header| header.value.clone())
            .unwrap()
    };

    assert_eq!(permissions_header().await, "reports.read,tickets.read");
    revoke(&app, &root, &clerk_id, "reports.read").await.unwrap();
    assert_eq!(
        permissions_header().await,
        "tickets.read",
        "a revocation is seen at once"
    );
}
