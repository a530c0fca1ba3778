//! The entities against the schema the migrations build, on SQLite and (when reachable)
//! PostgreSQL: every model round-trips, and the conditional UPDATE that single-use tokens
//! and refresh rotation rely on reports the rows it changed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::{
    audit_event, email_outbox, email_verification_token, password_reset_token, refresh_token, session, user,
};
use chrono::{DateTime, Duration, TimeZone, Utc};
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, Database, DatabaseConnection, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, sea_query::Expr,
};
use uuid::Uuid;

const POSTGRES_SERVER: &str = "postgres://postgres@127.0.0.1:5432";

#[tokio::test]
async fn entities_fit_the_migrated_schema_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("identity.db");
    let db = Database::connect(format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .unwrap();
    Migrator::up(&db, None).await.unwrap();

    exercise(&db).await;
}

#[tokio::test]
async fn entities_fit_the_migrated_schema_on_postgres() {
    let maintenance = match Database::connect(format!("{POSTGRES_SERVER}/postgres")).await {
        Ok(db) => db,
        Err(error) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("PostgreSQL at {POSTGRES_SERVER} is unreachable under CI=true: {error}")
        }
        Err(error) => {
            eprintln!("\n*** SKIPPED: PostgreSQL entity test, {POSTGRES_SERVER}: {error} ***\n");
            return;
        }
    };
    let name = format!("identity_entities_{}", Uuid::new_v4().simple());
    let create = format!("CREATE DATABASE \"{name}\"");
    maintenance.execute_unprepared(&create).await.unwrap();
    let db = Database::connect(format!("{POSTGRES_SERVER}/{name}"))
        .await
        .unwrap();
    Migrator::up(&db, None).await.unwrap();

    exercise(&db).await;

    db.close().await.unwrap();
    let drop = format!("DROP DATABASE \"{name}\"");
    maintenance.execute_unprepared(&drop).await.unwrap();
}

/// Microsecond precision: PostgreSQL keeps no more, so a model with nanoseconds would not
/// compare equal to itself after a round trip.
fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_795_000_000 + seconds, 123_456_000).unwrap()
}

async fn exercise(db: &DatabaseConnection) {
    let user = user::Model {
        id: Uuid::new_v4(),
        email: "ada@example.com".to_owned(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        is_verified: false,
        is_active: true,
        is_staff: false,
        is_superuser: false,
        date_joined: at(0),
        last_login: None,
        updated_at: at(0),
    };
    let inserted = user.clone().into_active_model().insert(db).await.unwrap();
    assert_eq!(inserted, user);
    let found = user::Entity::find_by_email("ada@example.com")
        .one(db)
        .await
        .unwrap();
    assert_eq!(found, Some(user.clone()));

    let verification = email_verification_token::Model {
        id: Uuid::new_v4(),
        user_id: user.id,
        token_hash: "a".repeat(64),
        created_at: at(0),
        expires_at: at(600),
        is_used: false,
        used_at: None,
    };
    round_trip(db, verification).await;
    let reset = password_reset_token::Model {
        id: Uuid::new_v4(),
        user_id: user.id,
        token_hash: "b".repeat(64),
        created_at: at(0),
        expires_at: at(900),
        is_used: false,
        used_at: None,
    };
    round_trip(db, reset).await;
    let session = session::Model {
        id: Uuid::new_v4(),
        user_id: user.id,
        created_at: at(0),
        last_used_at: at(0),
        expires_at: at(2_592_000),
        revoked_at: None,
        revoked_reason: None,
        user_agent: Some("grpc-rust/0.14".to_owned()),
        ip_address: Some("127.0.0.1".to_owned()),
        device_name: None,
        amr: Some("pwd otp".to_owned()),
    };
    round_trip(db, session.clone()).await;
    let refresh = refresh_token::Model {
        id: Uuid::new_v4(),
        session_id: session.id,
        token_hash: "c".repeat(64),
        issued_at: at(0),
        expires_at: at(2_592_000),
        consumed_at: None,
        parent_id: Some(Uuid::new_v4()),
    };
    round_trip(db, refresh.clone()).await;
    let event = audit_event::Model {
        id: Uuid::new_v4(),
        user_id: Some(user.id),
        kind: "signup".to_owned(),
        ip_address: None,
        user_agent: None,
        metadata: serde_json::json!({ "email_domain": "example.com" }),
        created_at: at(0),
    };
    round_trip(db, event).await;
    let outbox = email_outbox::Model {
        id: Uuid::new_v4(),
        kind: "verification".to_owned(),
        user_id: Some(user.id),
        recipient: user.email.clone(),
        payload: serde_json::json!({}),
        created_at: at(0),
        attempts: 0,
        next_attempt_at: at(0),
        claimed_until: None,
        sent_at: None,
        last_error: Some("550 mailbox unavailable".to_owned()),
    };
    round_trip(db, outbox).await;

    assert_conditional_update_has_one_winner(db, &refresh.token_hash).await;
    assert_time_comparisons_follow_instants(db, session.expires_at).await;
}

async fn round_trip<M, A>(db: &DatabaseConnection, model: M)
where
    M: IntoActiveModel<A> + Clone + PartialEq + std::fmt::Debug,
    A: ActiveModelTrait + sea_orm::ActiveModelBehavior + Send,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A> + Into<M>,
{
    let inserted: M = model.clone().into_active_model().insert(db).await.unwrap().into();
    assert_eq!(inserted, model);
}

/// `UPDATE … SET consumed_at = ? WHERE token_hash = ? AND consumed_at IS NULL`: the first
/// call changes one row, the second none, which is how rotation detects reuse.
async fn assert_conditional_update_has_one_winner(db: &DatabaseConnection, hash: &str) {
    let consume = || {
        refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::ConsumedAt, Expr::value(at(60)))
            .filter(refresh_token::Column::TokenHash.eq(hash))
            .filter(refresh_token::Column::ConsumedAt.is_null())
            .exec(db)
    };
    assert_eq!(consume().await.unwrap().rows_affected, 1);
    assert_eq!(consume().await.unwrap().rows_affected, 0);
}

/// SQLite stores times as RFC 3339 text with a variable-length fraction; comparisons must
/// still order by instant, including against values without a fraction.
async fn assert_time_comparisons_follow_instants(db: &DatabaseConnection, expires: DateTime<Utc>) {
    let whole_second = Utc.timestamp_opt(expires.timestamp(), 0).unwrap();
    let cases = [
        (whole_second, 0, "the same second, earlier fraction"),
        (expires, 0, "the exact instant"),
        (expires + Duration::microseconds(1), 1, "one microsecond later"),
        (whole_second + Duration::seconds(1), 1, "the next whole second"),
    ];
    for (now, expected, case) in cases {
        let expired = session::Entity::find()
            .filter(session::Column::ExpiresAt.lt(now))
            .count(db)
            .await
            .unwrap();
        assert_eq!(expired, expected, "{case}");
    }
}
