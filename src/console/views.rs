//! The console's pages: what each template (`page_templates`, HTML-escaped) is given,
//! and the display rows they show. Values are formatted here, so templates only lay out.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::page_templates;
use crate::domain::{Group, Permission, Session, User};
use crate::services::admin_service::AuditEvent;
use crate::services::service_account_service::ServiceAccount;

/// A page's values, and the template that lays them out.
pub trait Page: Serialize {
    const TEMPLATE: &'static str;
}

/// Renders a page, or a bare 500 if the template cannot be (a bug, logged once).
pub fn render<P: Page>(page: &P) -> Response {
    match page_templates::render(P::TEMPLATE, page) {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(%error, template = P::TEMPLATE, "console template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
        }
    }
}

/// What the header of every signed-in page shows.
#[derive(Serialize)]
pub struct Chrome {
    pub operator_email: String,
    pub is_superuser: bool,
    /// For the sign-out form.
    pub csrf_token: String,
}

#[derive(Serialize)]
pub struct SignInPage {
    pub csrf_token: String,
    pub email: String,
    pub error: Option<String>,
}

impl Page for SignInPage {
    const TEMPLATE: &'static str = "console/sign_in.html";
}

/// The sign-in's second step, for an operator with an authenticator app.
#[derive(Serialize)]
pub struct SecondFactorPage {
    pub csrf_token: String,
    pub mfa_token: String,
    pub error: Option<String>,
}

impl Page for SecondFactorPage {
    const TEMPLATE: &'static str = "console/sign_in_second_factor.html";
}

#[derive(Serialize)]
pub struct ErrorPage {
    pub status: u16,
    pub title: String,
    pub message: String,
}

impl Page for ErrorPage {
    const TEMPLATE: &'static str = "console/error.html";
}

/// The filters of the user list, as the operator set them.
#[derive(Default, Serialize)]
pub struct UserFilters {
    pub email: String,
    pub verified: String,
    pub active: String,
    pub staff: String,
    pub order: String,
}

#[derive(Serialize)]
pub struct UsersPage {
    pub chrome: Chrome,
    pub users: Vec<UserRow>,
    pub filters: UserFilters,
    pub next_page: Option<String>,
    pub notice: Option<&'static str>,
}

impl Page for UsersPage {
    const TEMPLATE: &'static str = "console/users.html";
}

#[derive(Serialize)]
pub struct NewUserPage {
    pub chrome: Chrome,
    pub email: String,
    pub errors: Vec<String>,
    pub is_verified: bool,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    /// Email the owner a link that sets the password.
    pub send_invite: bool,
}

impl Page for NewUserPage {
    const TEMPLATE: &'static str = "console/user_new.html";
}

#[derive(Serialize)]
pub struct UserDetailPage {
    pub chrome: Chrome,
    pub user: UserRow,
    /// What the account may do: its groups, its own grants, and all it holds.
    pub access: AccessSection,
    pub sessions: Vec<SessionRow>,
    pub events: Vec<EventRow>,
    /// The operator looking at their own account.
    pub is_self: bool,
    /// Whether the account has an authenticator app, and how many passkeys.
    pub totp: bool,
    pub passkeys: u64,
}

impl Page for UserDetailPage {
    const TEMPLATE: &'static str = "console/user_detail.html";
}

/// An account's groups and permissions, and the groups it could join.
#[derive(Serialize)]
pub struct AccessSection {
    pub groups: Vec<String>,
    pub direct_permissions: Vec<String>,
    pub effective_permissions: Vec<String>,
    pub other_groups: Vec<String>,
}

#[derive(Serialize)]
pub struct GroupsPage {
    pub chrome: Chrome,
    pub groups: Vec<GroupRow>,
    pub next_page: Option<String>,
    pub notice: Option<&'static str>,
}

impl Page for GroupsPage {
    const TEMPLATE: &'static str = "console/groups.html";
}

#[derive(Serialize)]
pub struct ServiceAccountsPage {
    pub chrome: Chrome,
    pub accounts: Vec<ServiceAccountRow>,
}

impl Page for ServiceAccountsPage {
    const TEMPLATE: &'static str = "console/service_accounts.html";
}

/// One service account as its row shows it.
#[derive(Serialize)]
pub struct ServiceAccountRow {
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

impl From<&ServiceAccount> for ServiceAccountRow {
    fn from(account: &ServiceAccount) -> Self {
        Self {
            name: account.name.clone(),
            scopes: account
                .scopes
                .iter()
                .map(|scope| scope.as_str().to_owned())
                .collect(),
            created_at: timestamp(account.created_at),
            revoked_at: account.revoked_at.map(timestamp),
        }
    }
}

#[derive(Serialize)]
pub struct GroupDetailPage {
    pub chrome: Chrome,
    pub group: GroupRow,
}

impl Page for GroupDetailPage {
    const TEMPLATE: &'static str = "console/group_detail.html";
}

#[derive(Serialize)]
pub struct DeleteGroupPage {
    pub chrome: Chrome,
    pub group: GroupRow,
}

impl Page for DeleteGroupPage {
    const TEMPLATE: &'static str = "console/group_delete.html";
}

/// One group, formatted.
#[derive(Serialize)]
pub struct GroupRow {
    pub name: String,
    pub permissions: Vec<String>,
    pub created_at: String,
}

impl From<&Group> for GroupRow {
    fn from(group: &Group) -> Self {
        Self {
            name: group.name.as_str().to_owned(),
            permissions: names(&group.permissions),
            created_at: timestamp(group.created_at),
        }
    }
}

/// Permissions as the pages list them.
pub fn names(permissions: &[Permission]) -> Vec<String> {
    permissions
        .iter()
        .map(|permission| permission.as_str().to_owned())
        .collect()
}

#[derive(Serialize)]
pub struct DeleteUserPage {
    pub chrome: Chrome,
    pub user: UserRow,
}

impl Page for DeleteUserPage {
    const TEMPLATE: &'static str = "console/user_delete.html";
}

#[derive(Serialize)]
pub struct AuditPage {
    pub chrome: Chrome,
    pub events: Vec<EventRow>,
    pub kind: String,
    pub user: String,
    pub next_page: Option<String>,
}

impl Page for AuditPage {
    const TEMPLATE: &'static str = "console/audit.html";
}

/// One account, formatted.
#[derive(Serialize)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub is_verified: bool,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub date_joined: String,
    pub last_login: String,
}

impl From<&User> for UserRow {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.to_string(),
            email: user.email.as_str().to_owned(),
            is_verified: user.is_verified,
            is_active: user.is_active,
            is_staff: user.is_staff,
            is_superuser: user.is_superuser,
            date_joined: timestamp(user.date_joined),
            last_login: user.last_login.map_or_else(|| "never".to_owned(), timestamp),
        }
    }
}

/// One live session, formatted.
#[derive(Serialize)]
pub struct SessionRow {
    pub id: String,
    pub device: String,
    pub ip_address: String,
    pub user_agent: String,
    pub created_at: String,
    pub last_used_at: String,
    pub expires_at: String,
}

impl From<&Session> for SessionRow {
    fn from(session: &Session) -> Self {
        let or_dash = |value: &Option<String>| value.clone().unwrap_or_else(|| "—".to_owned());
        Self {
            id: session.id.to_string(),
            device: or_dash(&session.device_name),
            ip_address: or_dash(&session.ip_address),
            user_agent: or_dash(&session.user_agent),
            created_at: timestamp(session.created_at),
            last_used_at: timestamp(session.last_used_at),
            expires_at: timestamp(session.expires_at),
        }
    }
}

/// One audit event, formatted.
#[derive(Serialize)]
pub struct EventRow {
    pub created_at: String,
    pub kind: String,
    pub user_id: Option<String>,
    pub ip_address: String,
    /// Compact JSON; never a secret.
    pub metadata: String,
}

impl From<&AuditEvent> for EventRow {
    fn from(event: &AuditEvent) -> Self {
        Self {
            created_at: timestamp(event.created_at),
            kind: event.kind.clone(),
            user_id: event.user_id.map(|id| id.to_string()),
            ip_address: event.ip_address.clone().unwrap_or_else(|| "—".to_owned()),
            metadata: event.metadata.to_string(),
        }
    }
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const HOSTILE: &str = r#"<script>alert("x")</script> & 'q'"#;
    const ESCAPED: &str = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;q&#x27;";

    fn html<P: Page>(page: &P) -> String {
        page_templates::render(P::TEMPLATE, page).unwrap()
    }

    fn chrome(is_superuser: bool) -> Chrome {
        Chrome {
            operator_email: HOSTILE.to_owned(),
            is_superuser,
            csrf_token: "token".to_owned(),
        }
    }

    fn user() -> UserRow {
        UserRow {
            id: "3f1c".to_owned(),
            email: HOSTILE.to_owned(),
            is_verified: true,
            is_active: false,
            is_staff: true,
            is_superuser: false,
            date_joined: "2025-01-02 03:04:05 UTC".to_owned(),
            last_login: "never".to_owned(),
        }
    }

    fn session() -> SessionRow {
        SessionRow {
            id: "5e55".to_owned(),
            device: HOSTILE.to_owned(),
            ip_address: "203.0.113.7".to_owned(),
            user_agent: HOSTILE.to_owned(),
            created_at: "c".to_owned(),
            last_used_at: "l".to_owned(),
            expires_at: "e".to_owned(),
        }
    }

    fn event(user_id: Option<&str>) -> EventRow {
        EventRow {
            created_at: "t".to_owned(),
            kind: HOSTILE.to_owned(),
            user_id: user_id.map(str::to_owned),
            ip_address: "—".to_owned(),
            metadata: r#"{"note":"<b>"}"#.to_owned(),
        }
    }

    fn hostile_list(full: bool) -> Vec<String> {
        if full {
            vec![HOSTILE.to_owned()]
        } else {
            Vec::new()
        }
    }

    fn group(full: bool) -> GroupRow {
        GroupRow {
            name: HOSTILE.to_owned(),
            permissions: hostile_list(full),
            created_at: "c".to_owned(),
        }
    }

    fn detail(is_self: bool, is_superuser: bool, sessions: Vec<SessionRow>) -> String {
        let full = !sessions.is_empty();
        html(&UserDetailPage {
            chrome: chrome(is_superuser),
            user: user(),
            access: AccessSection {
                groups: hostile_list(full),
                direct_permissions: hostile_list(full),
                effective_permissions: hostile_list(full),
                other_groups: hostile_list(full),
            },
            sessions,
            events: vec![event(Some("3f1c"))],
            is_self,
            totp: full,
            passkeys: u64::from(full),
        })
    }

    /// Every page, through every branch of its template.
    fn every_page() -> Vec<String> {
        let mut pages = Vec::new();
        for full in [false, true] {
            pages.push(html(&SignInPage {
                csrf_token: HOSTILE.to_owned(),
                email: HOSTILE.to_owned(),
                error: full.then(|| HOSTILE.to_owned()),
            }));
            pages.push(html(&SecondFactorPage {
                csrf_token: HOSTILE.to_owned(),
                mfa_token: HOSTILE.to_owned(),
                error: full.then(|| HOSTILE.to_owned()),
            }));
            pages.push(html(&UsersPage {
                chrome: chrome(full),
                users: if full { vec![user()] } else { Vec::new() },
                filters: UserFilters {
                    email: HOSTILE.to_owned(),
                    verified: "yes".to_owned(),
                    ..UserFilters::default()
                },
                next_page: full.then(|| "/users?email=a&after=b".to_owned()),
                notice: full.then_some("The account was deleted."),
            }));
            pages.push(html(&NewUserPage {
                chrome: chrome(full),
                email: HOSTILE.to_owned(),
                errors: if full {
                    vec![HOSTILE.to_owned()]
                } else {
                    Vec::new()
                },
                is_verified: full,
                is_active: !full,
                is_staff: full,
                is_superuser: full,
                send_invite: full,
            }));
            pages.push(html(&AuditPage {
                chrome: chrome(full),
                events: if full {
                    vec![event(Some(HOSTILE)), event(None)]
                } else {
                    Vec::new()
                },
                kind: HOSTILE.to_owned(),
                user: HOSTILE.to_owned(),
                next_page: full.then(|| "/audit?kind=a&after=b".to_owned()),
            }));
            pages.push(html(&DeleteUserPage {
                chrome: chrome(full),
                user: user(),
            }));
            pages.push(html(&GroupsPage {
                chrome: chrome(full),
                groups: if full { vec![group(full)] } else { Vec::new() },
                next_page: full.then(|| "/groups?after=b".to_owned()),
                notice: full.then_some("The group was deleted."),
            }));
            pages.push(html(&GroupDetailPage {
                chrome: chrome(full),
                group: group(full),
            }));
            pages.push(html(&ServiceAccountsPage {
                chrome: chrome(full),
                accounts: if full {
                    vec![ServiceAccountRow {
                        name: HOSTILE.to_owned(),
                        scopes: hostile_list(full),
                        created_at: "c".to_owned(),
                        revoked_at: Some("r".to_owned()),
                    }]
                } else {
                    Vec::new()
                },
            }));
            pages.push(html(&DeleteGroupPage {
                chrome: chrome(full),
                group: group(full),
            }));
            for is_self in [false, true] {
                pages.push(detail(
                    is_self,
                    full,
                    if full { vec![session()] } else { Vec::new() },
                ));
            }
        }
        pages.push(html(&ErrorPage {
            status: 404,
            title: HOSTILE.to_owned(),
            message: HOSTILE.to_owned(),
        }));
        pages
    }

    #[test]
    fn every_page_renders_through_every_branch_of_its_template() {
        for page in every_page() {
            assert!(page.starts_with("<!doctype html>"), "{page}");
            assert!(page.ends_with("</html>"), "{page}");
        }
    }

    #[test]
    fn a_rendered_page_is_an_html_response() {
        let response = render(&ErrorPage {
            status: 404,
            title: "Not Found".to_owned(),
            message: String::new(),
        });

        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response.headers().get(axum::http::header::CONTENT_TYPE).unwrap();
        assert_eq!(content_type, "text/html; charset=utf-8");
    }

    #[test]
    fn a_value_with_a_script_tag_is_escaped_on_every_page() {
        for page in every_page() {
            assert!(!page.contains("<script"), "{page}");
            assert!(!page.contains("<b>"), "{page}");
            assert!(page.contains(ESCAPED), "{page}");
        }
    }

    #[test]
    fn a_value_cannot_close_the_attribute_it_is_written_in() {
        let page = html(&SignInPage {
            csrf_token: r#"x" autofocus onfocus="alert(1)"#.to_owned(),
            email: "a'b".to_owned(),
            error: None,
        });

        assert!(
            page.contains(r#"value="x&quot; autofocus onfocus=&quot;alert(1)">"#),
            "{page}"
        );
        assert!(page.contains(r#"value="a&#x27;b""#), "{page}");
    }

    #[test]
    fn links_keep_their_slashes_and_escape_their_ampersands() {
        let page = html(&AuditPage {
            chrome: chrome(false),
            events: Vec::new(),
            kind: String::new(),
            user: String::new(),
            next_page: Some("/audit?kind=a&after=b".to_owned()),
        });

        assert!(
            page.contains(r#"<a id="next-page" href="/audit?kind=a&amp;after=b">"#),
            "{page}"
        );
    }

    #[test]
    fn optional_parts_appear_only_when_set() {
        let without = html(&SignInPage {
            csrf_token: String::new(),
            email: String::new(),
            error: None,
        });
        let audit = html(&AuditPage {
            chrome: chrome(false),
            events: vec![event(Some("3f1c")), event(None)],
            kind: String::new(),
            user: String::new(),
            next_page: None,
        });

        assert!(!without.contains(r#"id="error""#), "{without}");
        assert!(!audit.contains("next-page"), "{audit}");
        assert!(
            audit.contains(r#"<a href="/users/3f1c"><code>3f1c</code></a>"#),
            "{audit}"
        );
        assert!(audit.contains("<td>—</td>"), "an event of no account: {audit}");
    }

    #[test]
    fn the_operators_own_page_offers_no_lockout_and_privileges_need_a_superuser() {
        let own = detail(true, true, Vec::new());
        let other_as_staff = detail(false, false, vec![session()]);
        let other_as_superuser = detail(false, true, vec![session()]);

        assert!(
            !own.contains("delete-user") && !own.contains("toggle-is_active"),
            "{own}"
        );
        assert!(!own.contains("revoke-all"), "no session, no button: {own}");
        assert!(other_as_staff.contains("toggle-is_active"), "{other_as_staff}");
        assert!(!other_as_staff.contains("toggle-is_staff"), "{other_as_staff}");
        assert!(other_as_staff.contains("revoke-all"), "{other_as_staff}");
        assert!(
            other_as_superuser.contains("toggle-is_superuser"),
            "{other_as_superuser}"
        );
    }
}
