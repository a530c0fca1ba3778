//! `passkeys` and `webauthn_challenges`. A ceremony's state is taken by one conditional
//! UPDATE (single use, on any instance); a credential id is unique across accounts.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Condition, Expr, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder,
};
use uuid::Uuid;

use crate::entities::{passkey, webauthn_challenge};

/// A passkey about to be stored.
#[derive(Debug)]
pub struct NewPasskey<'a> {
    pub user_id: Uuid,
    pub credential_id: &'a str,
    pub name: &'a str,
    pub passkey_json: &'a str,
}

#[tracing::instrument(skip_all, fields(user_id = %new.user_id))]
pub async fn insert(
    db: &impl ConnectionTrait,
    new: NewPasskey<'_>,
    now: DateTime<Utc>,
) -> Result<passkey::Model, DbErr> {
    passkey::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(new.user_id),
        credential_id: Set(new.credential_id.to_owned()),
        name: Set(new.name.to_owned()),
        passkey: Set(new.passkey_json.to_owned()),
        created_at: Set(now),
        last_used_at: Set(None),
    }
    .insert(db)
    .await
}

/// The account's passkeys, oldest first.
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub async fn list_for_user(db: &impl ConnectionTrait, user_id: Uuid) -> Result<Vec<passkey::Model>, DbErr> {
    passkey::Entity::find()
        .filter(passkey::Column::UserId.eq(user_id))
        .order_by_asc(passkey::Column::CreatedAt)
        .order_by_asc(passkey::Column::Id)
        .all(db)
        .await
}

/// How many passkeys the account has.
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub async fn count_for_user(db: &impl ConnectionTrait, user_id: Uuid) -> Result<u64, DbErr> {
    passkey::Entity::find()
        .filter(passkey::Column::UserId.eq(user_id))
        .count(db)
        .await
}

/// The passkey with this credential id (base64url), whoever's it is.
#[tracing::instrument(skip_all)]
pub async fn find_by_credential_id(
    db: &impl ConnectionTrait,
    credential_id: &str,
) -> Result<Option<passkey::Model>, DbErr> {
    passkey::Entity::find()
        .filter(passkey::Column::CredentialId.eq(credential_id))
        .one(db)
        .await
}

/// Stores the credential's new state (its counter) after a login; only if the stored
/// one is still `previous`, so two racing logins cannot both move it: false when
/// another login updated it first.
#[tracing::instrument(skip_all, fields(passkey_id = %id))]
pub async fn record_use(
    db: &impl ConnectionTrait,
    id: Uuid,
    previous: &str,
    updated: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = passkey::Entity::update_many()
        .col_expr(passkey::Column::Passkey, Expr::value(updated.to_owned()))
        .col_expr(passkey::Column::LastUsedAt, Expr::value(Some(now)))
        .filter(passkey::Column::Id.eq(id))
        .filter(passkey::Column::Passkey.eq(previous))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Deletes the account's passkey: false when it has none of this id.
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub async fn delete(db: &impl ConnectionTrait, user_id: Uuid, id: Uuid) -> Result<bool, DbErr> {
    let result = passkey::Entity::delete_many()
        .filter(passkey::Column::Id.eq(id))
        .filter(passkey::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Deletes every passkey of the account; returns how many.
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub async fn delete_all_for_user(db: &impl ConnectionTrait, user_id: Uuid) -> Result<u64, DbErr> {
    let result = passkey::Entity::delete_many()
        .filter(passkey::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// A ceremony about to be stored.
#[derive(Debug)]
pub struct NewCeremony<'a> {
    pub user_id: Option<Uuid>,
    pub purpose: &'a str,
    pub state: &'a str,
    pub expires_at: DateTime<Utc>,
}

/// Stores a ceremony's state; a registration replaces the account's earlier unfinished
/// ones, so only the newest can be finished.
#[tracing::instrument(skip_all)]
pub async fn begin_ceremony(
    db: &impl ConnectionTrait,
    ceremony: NewCeremony<'_>,
    now: DateTime<Utc>,
) -> Result<Uuid, DbErr> {
    if let Some(user_id) = ceremony.user_id {
        webauthn_challenge::Entity::delete_many()
            .filter(webauthn_challenge::Column::UserId.eq(user_id))
            .filter(webauthn_challenge::Column::Purpose.eq(ceremony.purpose))
            .filter(webauthn_challenge::Column::ConsumedAt.is_null())
            .exec(db)
            .await?;
    }
    let id = Uuid::new_v4();
    webauthn_challenge::ActiveModel {
        id: Set(id),
        user_id: Set(ceremony.user_id),
        purpose: Set(ceremony.purpose.to_owned()),
        state: Set(ceremony.state.to_owned()),
        created_at: Set(now),
        expires_at: Set(ceremony.expires_at),
        consumed_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(id)
}

/// Takes the ceremony for finishing: returns its row if this call spent it (live,
/// unspent and of this purpose), `None` otherwise.
#[tracing::instrument(skip_all, fields(ceremony_id = %id))]
pub async fn take_ceremony(
    db: &impl ConnectionTrait,
    id: Uuid,
    purposes: &[&str],
    now: DateTime<Utc>,
) -> Result<Option<webauthn_challenge::Model>, DbErr> {
    let taken = webauthn_challenge::Entity::update_many()
        .col_expr(webauthn_challenge::Column::ConsumedAt, Expr::value(Some(now)))
        .filter(webauthn_challenge::Column::Id.eq(id))
        .filter(webauthn_challenge::Column::Purpose.is_in(purposes.iter().copied()))
        .filter(webauthn_challenge::Column::ConsumedAt.is_null())
        .filter(webauthn_challenge::Column::ExpiresAt.gt(now))
        .exec_with_returning(db)
        .await?;
    Ok(taken.into_iter().next())
}

/// Takes the account's unfinished registration for finishing (begin keeps one per
/// account): its row if live and this call spent it, `None` otherwise.
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub async fn take_registration(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<webauthn_challenge::Model>, DbErr> {
    let taken = webauthn_challenge::Entity::update_many()
        .col_expr(webauthn_challenge::Column::ConsumedAt, Expr::value(Some(now)))
        .filter(webauthn_challenge::Column::UserId.eq(user_id))
        .filter(webauthn_challenge::Column::Purpose.eq(REGISTRATION))
        .filter(webauthn_challenge::Column::ConsumedAt.is_null())
        .filter(webauthn_challenge::Column::ExpiresAt.gt(now))
        .exec_with_returning(db)
        .await?;
    Ok(taken.into_iter().next())
}

/// The purposes of a ceremony.
pub const REGISTRATION: &str = "registration";
pub const LOGIN: &str = "login";
pub const DISCOVERABLE: &str = "discoverable";

/// Deletes one batch of at most `limit` spent or expired ceremonies; returns how many.
#[tracing::instrument(skip_all)]
pub async fn purge_ceremonies(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<u64, DbErr> {
    let dead = Condition::any()
        .add(webauthn_challenge::Column::ConsumedAt.is_not_null())
        .add(webauthn_challenge::Column::ExpiresAt.lte(now));
    let batch = Query::select()
        .column(webauthn_challenge::Column::Id)
        .from(webauthn_challenge::Entity)
        .cond_where(dead)
        .limit(limit)
        .to_owned();
    let result = webauthn_challenge::Entity::delete_many()
        .filter(webauthn_challenge::Column::Id.in_subquery(batch))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
