//! Purging dead rows: rows seeded directly with the entities (dead and live side by
//! side in every table), purged through the library, through `identity purge-expired`,
//! and by `serve` on its interval. Exactly the dead rows go; every live row stays.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use identity::configuration::PurgeSettings;
use identity::entities::{
    audit_event, email_change_token, email_outbox, email_verification_token, mfa_challenge,
    password_reset_token, refresh_token, session, user, webauthn_challenge,
};
use identity::services::{MaintenanceService, PurgeReport};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseConnection, EntityTrait};
use uuid::Uuid;

use crate::operator_cli::{connect, run_identity};
use crate::test_app::spawn_app_with;
use crate::test_database::{Backend, TestDatabase};

/// Ids per table name.
type Tables = BTreeMap<&'static str, BTreeSet<Uuid>>;

const DAY_SECS: u64 = 24 * 60 * 60;

/// Small retentions and a batch of 2, so that every table needs several batches.
fn purge_settings() -> PurgeSettings {
    PurgeSettings {
        interval: Duration::from_secs(3600),
        session_retention: Duration::from_secs(DAY_SECS),
        audit_retention: Duration::from_secs(10 * DAY_SECS),
        event_retention: Duration::from_secs(5 * DAY_SECS),
        outbox_retention: Duration::from_secs(2 * DAY_SECS),
        unverified_account_ttl: Duration::from_secs(3 * DAY_SECS),
        batch_size: 2,
    }
}

/// The same settings as `IDENTITY_*` variables, for the binary.
fn purge_env() -> Vec<(&'static str, String)> {
    let settings = purge_settings();
    vec![
        (
            "IDENTITY_SESSION_RETENTION_SECS",
            settings.session_retention.as_secs().to_string(),
        ),
        (
            "IDENTITY_AUDIT_RETENTION_SECS",
            settings.audit_retention.as_secs().to_string(),
        ),
        (
            "IDENTITY_EVENT_RETENTION_SECS",
            settings.event_retention.as_secs().to_string(),
        ),
        (
            "IDENTITY_OUTBOX_RETENTION_SECS",
            settings.outbox_retention.as_secs().to_string(),
        ),
        (
            "IDENTITY_UNVERIFIED_ACCOUNT_TTL_SECS",
            settings.unverified_account_ttl.as_secs().to_string(),
        ),
        ("IDENTITY_PURGE_BATCH_SIZE", settings.batch_size.to_string()),
    ]
}

fn hours(n: i64) -> TimeDelta {
    TimeDelta::hours(n)
}

/// Every id left in every table the purge touches.
async fn remaining(db: &DatabaseConnection) -> Tables {
    macro_rules! ids {
        ($entity:ident) => {
            $entity::Entity::find()
                .all(db)
                .await
                .expect("query")
                .into_iter()
                .map(|row| row.id)
                .collect::<BTreeSet<Uuid>>()
        };
    }
    BTreeMap::from([
        ("email_verification_tokens", ids!(email_verification_token)),
        ("password_reset_tokens", ids!(password_reset_token)),
        ("email_change_tokens", ids!(email_change_token)),
        ("mfa_challenges", ids!(mfa_challenge)),
        ("webauthn_challenges", ids!(webauthn_challenge)),
        ("refresh_tokens", ids!(refresh_token)),
        ("sessions", ids!(session)),
        ("email_outbox", ids!(email_outbox)),
        ("audit_events", ids!(audit_event)),
        ("events", stream_ids(db).await),
        ("users", ids!(user)),
    ])
}

/// Inserts a single-use token into any token table (same shape, different entity).
macro_rules! insert_token {
    ($entity:ident, $db:expr, $user_id:expr, $expires_at:expr, $used:expr) => {{
        let id = Uuid::new_v4();
        let used: bool = $used;
        $entity::ActiveModel {
            id: Set(id),
            user_id: Set($user_id),
            token_hash: Set(Uuid::new_v4().simple().to_string()),
            created_at: Set(Utc::now() - hours(2)),
            expires_at: Set($expires_at),
            is_used: Set(used),
            used_at: Set(used.then(Utc::now)),
        }
        .insert($db)
        .await
        .expect("insert a single-use token");
        id
    }};
}

/// Seeds dead and live rows in every table, records the live ones in `kept`, and returns
/// the counts a purge must report.
async fn seed(db: &DatabaseConnection, label: &str, kept: &mut Tables) -> PurgeReport {
    let now = Utc::now();
    let user_id = insert_user(db, &format!("{label}@example.com"), now).await;
    let mut keep = |table: &'static str, id: Uuid| {
        kept.entry(table).or_default().insert(id);
    };
    keep("users", user_id);

    // Accounts, with three days to verify: only old, unverified, unprivileged ones go.
    let unverified = |name: &str| format!("{label}-{name}@example.com");
    for name in ["abandoned-1", "abandoned-2", "abandoned-3"] {
        insert_account(db, &unverified(name), now - hours(24 * 4), Privileges::None).await;
    }
    keep(
        "users",
        insert_account(db, &unverified("recent"), now - hours(24 * 2), Privileges::None).await,
    );
    keep(
        "users",
        insert_account(db, &unverified("staff"), now - hours(24 * 30), Privileges::Staff).await,
    );
    keep(
        "users",
        insert_account(
            db,
            &unverified("root"),
            now - hours(24 * 30),
            Privileges::Superuser,
        )
        .await,
    );
    macro_rules! single_use_tokens {
        ($entity:ident, $table:literal) => {{
            // Dead: expired unused, used unexpired. Live: unused, unexpired.
            insert_token!($entity, db, user_id, now - hours(1), false);
            insert_token!($entity, db, user_id, now + hours(1), true);
            keep($table, insert_token!($entity, db, user_id, now + hours(1), false));
        }};
    }
    single_use_tokens!(email_verification_token, "email_verification_tokens");
    single_use_tokens!(password_reset_token, "password_reset_tokens");
    single_use_tokens!(email_change_token, "email_change_tokens");

    // Logins waiting for a second factor, and passkey ceremonies: spent or expired go.
    for (expires_at, consumed) in [
        (now - hours(1), false),
        (now + hours(1), true),
        (now + hours(1), false),
    ] {
        let id = Uuid::new_v4();
        mfa_challenge::ActiveModel {
            id: Set(id),
            user_id: Set(user_id),
            token_hash: Set(Uuid::new_v4().simple().to_string()),
            created_at: Set(now - hours(2)),
            expires_at: Set(expires_at),
            failed_attempts: Set(0),
            consumed_at: Set(consumed.then_some(now)),
            device_name: Set(None),
            ip_address: Set(None),
            user_agent: Set(None),
            rehashed_password: Set(None),
        }
        .insert(db)
        .await
        .expect("insert an mfa challenge");
        let ceremony = Uuid::new_v4();
        webauthn_challenge::ActiveModel {
            id: Set(ceremony),
            user_id: Set(None),
            purpose: Set("discoverable".to_owned()),
            state: Set("{}".to_owned()),
            created_at: Set(now - hours(2)),
            expires_at: Set(expires_at),
            consumed_at: Set(consumed.then_some(now)),
        }
        .insert(db)
        .await
        .expect("insert a passkey ceremony");
        if expires_at > now && !consumed {
            keep("mfa_challenges", id);
            keep("webauthn_challenges", ceremony);
        }
    }

    // Sessions, with a retention of one day after they ended.
    let live = insert_session(db, user_id, now + hours(24), None).await;
    let recently_revoked = insert_session(db, user_id, now + hours(24), Some(now - hours(1))).await;
    let recently_expired = insert_session(db, user_id, now - hours(1), None).await;
    let long_revoked = insert_session(db, user_id, now + hours(240), Some(now - hours(48))).await;
    let long_expired = insert_session(db, user_id, now - hours(48), None).await;
    insert_session(db, user_id, now - hours(72), None).await;
    for id in [live, recently_revoked, recently_expired] {
        keep("sessions", id);
    }

    // Refresh tokens: expired ones go whatever their session; live ones stay unless
    // their session goes (by cascade, not counted as refresh tokens).
    insert_refresh_token(db, live, now - hours(1), None).await;
    insert_refresh_token(db, long_expired, now - hours(48), None).await;
    insert_refresh_token(db, recently_expired, now - hours(1), None).await;
    insert_refresh_token(db, long_revoked, now + hours(24), None).await;
    keep(
        "refresh_tokens",
        insert_refresh_token(db, live, now + hours(24), None).await,
    );
    keep(
        "refresh_tokens",
        insert_refresh_token(db, live, now + hours(24), Some(now - hours(1))).await,
    );
    keep(
        "refresh_tokens",
        insert_refresh_token(db, recently_revoked, now + hours(24), None).await,
    );

    // Outbox, with a retention of two days after sending; unsent rows always stay.
    for _ in 0..3 {
        insert_email(db, user_id, now - hours(100), Some(now - hours(72))).await;
    }
    keep(
        "email_outbox",
        insert_email(db, user_id, now - hours(2), Some(now - hours(1))).await,
    );
    keep(
        "email_outbox",
        insert_email(db, user_id, now - hours(720), None).await,
    );
    keep("email_outbox", insert_email(db, user_id, now, None).await);

    // Audit events, with a retention of ten days.
    for _ in 0..5 {
        insert_event(db, Some(user_id), now - hours(480)).await;
    }
    keep(
        "audit_events",
        insert_event(db, Some(user_id), now - hours(24)).await,
    );
    keep("audit_events", insert_event(db, None, now - hours(216)).await);

    // Events of the stream, kept five days.
    for _ in 0..3 {
        insert_stream_event(db, user_id, now - hours(24 * 6)).await;
    }
    keep(
        "events",
        insert_stream_event(db, user_id, now - hours(24 * 4)).await,
    );

    PurgeReport {
        verification_tokens: 2,
        reset_tokens: 2,
        email_change_tokens: 2,
        mfa_challenges: 2,
        passkey_ceremonies: 2,
        refresh_tokens: 3,
        sessions: 3,
        sent_emails: 3,
        audit_events: 5,
        events: 3,
        unverified_accounts: 3,
    }
}

database_test!(purge_expired_deletes_exactly_the_dead_rows);
async fn purge_expired_deletes_exactly_the_dead_rows(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let db = connect(&database.url).await;
    let service = MaintenanceService::new(db.clone(), purge_settings(), identity::clock::Clock::system());
    let mut kept = Tables::new();

    // Through the library.
    let expected = seed(&db, "first", &mut kept).await;
    let report = service.purge_expired().await.expect("purge");
    assert_eq!(report, expected);
    assert_eq!(remaining(&db).await, kept);

    // Through the binary, with its settings from the environment.
    let expected = seed(&db, "second", &mut kept).await;
    let env = purge_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = run_identity(&database.url, &["purge-expired"], None, &env).await;
    assert!(run.status.success(), "{run:#?}");
    let printed: Vec<(String, u64)> = run
        .stdout
        .lines()
        .map(|line| {
            let (table, count) = line
                .split_once(": ")
                .unwrap_or_else(|| panic!("`table: count`, got {line}"));
            (table.to_owned(), count.parse().expect("a count"))
        })
        .collect();
    let expected_lines: Vec<(String, u64)> = expected
        .by_table()
        .iter()
        .map(|(table, count)| ((*table).to_owned(), *count))
        .collect();
    assert_eq!(printed, expected_lines, "{run:#?}");
    assert_eq!(remaining(&db).await, kept);

    // Nothing dead is left: a second purge finds nothing.
    assert_eq!(
        service.purge_expired().await.expect("purge"),
        PurgeReport::default()
    );
    assert_eq!(remaining(&db).await, kept);
}

database_test!(serve_purges_on_its_interval);
async fn serve_purges_on_its_interval(backend: Backend) {
    let app = spawn_app_with(backend, |settings| {
        settings.purge = PurgeSettings {
            interval: Duration::from_millis(200),
            ..purge_settings()
        };
    })
    .await;
    let now = Utc::now();
    let old = insert_event(&app.db, None, now - hours(480)).await;
    let recent = insert_event(&app.db, None, now).await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while audit_event::Entity::find_by_id(old)
        .one(&app.db)
        .await
        .expect("query")
        .is_some()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the old event was never purged"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let recent_row = audit_event::Entity::find_by_id(recent)
        .one(&app.db)
        .await
        .expect("query");
    assert!(recent_row.is_some(), "a live event was purged");
}

/// What an unverified account seeded for the purge may hold.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Privileges {
    None,
    Staff,
    Superuser,
}

async fn insert_user(db: &DatabaseConnection, email: &str, now: DateTime<Utc>) -> Uuid {
    insert_any_user(db, email, now, true, Privileges::None).await
}

/// An unverified account that joined at `joined`.
async fn insert_account(
    db: &DatabaseConnection,
    email: &str,
    joined: DateTime<Utc>,
    privileges: Privileges,
) -> Uuid {
    insert_any_user(db, email, joined, false, privileges).await
}

async fn insert_any_user(
    db: &DatabaseConnection,
    email: &str,
    now: DateTime<Utc>,
    is_verified: bool,
    privileges: Privileges,
) -> Uuid {
    let id = Uuid::new_v4();
    user::ActiveModel {
        id: Set(id),
        email: Set(email.to_owned()),
        password_hash: Set("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned()),
        is_verified: Set(is_verified),
        is_active: Set(true),
        is_staff: Set(privileges == Privileges::Staff),
        is_superuser: Set(privileges == Privileges::Superuser),
        date_joined: Set(now),
        last_login: Set(None),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .expect("insert a user");
    id
}

async fn insert_session(
    db: &DatabaseConnection,
    user_id: Uuid,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
) -> Uuid {
    let id = Uuid::new_v4();
    let created_at = expires_at.min(Utc::now()) - hours(24);
    session::ActiveModel {
        id: Set(id),
        user_id: Set(user_id),
        created_at: Set(created_at),
        last_used_at: Set(created_at),
        expires_at: Set(expires_at),
        revoked_at: Set(revoked_at),
        revoked_reason: Set(revoked_at.map(|_| "logout".to_owned())),
        user_agent: Set(None),
        ip_address: Set(None),
        device_name: Set(None),
        amr: Set(None),
    }
    .insert(db)
    .await
    .expect("insert a session");
    id
}

async fn insert_refresh_token(
    db: &DatabaseConnection,
    session_id: Uuid,
    expires_at: DateTime<Utc>,
    consumed_at: Option<DateTime<Utc>>,
) -> Uuid {
    let id = Uuid::new_v4();
    refresh_token::ActiveModel {
        id: Set(id),
        session_id: Set(session_id),
        token_hash: Set(Uuid::new_v4().simple().to_string()),
        issued_at: Set(expires_at.min(Utc::now()) - hours(24)),
        expires_at: Set(expires_at),
        consumed_at: Set(consumed_at),
        parent_id: Set(None),
    }
    .insert(db)
    .await
    .expect("insert a refresh token");
    id
}

async fn insert_email(
    db: &DatabaseConnection,
    user_id: Uuid,
    created_at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
) -> Uuid {
    let id = Uuid::new_v4();
    let attempts = if sent_at.is_some() { 1 } else { 5 };
    email_outbox::ActiveModel {
        id: Set(id),
        kind: Set("notice".to_owned()),
        user_id: Set(Some(user_id)),
        recipient: Set("someone@example.com".to_owned()),
        payload: Set(serde_json::json!({})),
        created_at: Set(created_at),
        attempts: Set(attempts),
        // Far in the future: a server's sender (if one runs) leaves the row alone.
        next_attempt_at: Set(Utc::now() + hours(1000)),
        claimed_until: Set(None),
        sent_at: Set(sent_at),
        last_error: Set(sent_at.is_none().then(|| "connection refused".to_owned())),
    }
    .insert(db)
    .await
    .expect("insert an outbox row");
    id
}

async fn insert_event(db: &DatabaseConnection, user_id: Option<Uuid>, created_at: DateTime<Utc>) -> Uuid {
    let id = Uuid::new_v4();
    audit_event::ActiveModel {
        id: Set(id),
        user_id: Set(user_id),
        kind: Set("login_succeeded".to_owned()),
        ip_address: Set(Some("127.0.0.1".to_owned())),
        user_agent: Set(None),
        metadata: Set(serde_json::json!({})),
        created_at: Set(created_at),
    }
    .insert(db)
    .await
    .expect("insert an audit event");
    id
}

/// An event of the stream; its bigint id as a `Uuid`, so `Tables` holds every table.
async fn insert_stream_event(db: &DatabaseConnection, user_id: Uuid, occurred_at: DateTime<Utc>) -> Uuid {
    let row = identity::entities::event::ActiveModel {
        kind: Set("session.created".to_owned()),
        user_id: Set(Some(user_id)),
        data: Set(serde_json::json!({})),
        occurred_at: Set(occurred_at),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("insert an event");
    stream_id(row.id)
}

fn stream_id(id: i64) -> Uuid {
    Uuid::from_u128(u128::try_from(id).expect("ids are positive"))
}

async fn stream_ids(db: &DatabaseConnection) -> BTreeSet<Uuid> {
    identity::entities::event::Entity::find()
        .all(db)
        .await
        .expect("query")
        .into_iter()
        .map(|row| stream_id(row.id))
        .collect()
}
