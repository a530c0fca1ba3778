//! The `user_groups` and `user_permissions` tables, and the read every authorization
//! answer is made of: the groups and effective permissions of any number of users, in one
//! query whatever the number of groups or permissions.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, Query, SelectStatement, UnionType};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};
use uuid::Uuid;

use crate::domain::Permission;
use crate::entities::{group, group_permission, session, user, user_group, user_permission};

/// One fact about a user's access, as the access query returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccessFact {
    /// Member of the group with this name.
    Group(String),
    /// Holds this permission, through a group or directly.
    Permission(String),
}

/// Makes the user a member of the group; already one, nothing changes.
#[tracing::instrument(skip_all, fields(user_id = %user_id, group_id = %group_id))]
pub async fn add_to_group(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    group_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    add_memberships(db, &[(user_id, group_id)], now).await
}

/// Ends the membership; `false` when there was none.
#[tracing::instrument(skip_all, fields(user_id = %user_id, group_id = %group_id))]
pub async fn remove_from_group(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    group_id: Uuid,
) -> Result<bool, DbErr> {
    let result = user_group::Entity::delete_many()
        .filter(user_group::Column::UserId.eq(user_id))
        .filter(user_group::Column::GroupId.eq(group_id))
        .exec(db)
        .await?;
    Ok(result.rows_affected > 0)
}

/// Grants the permission to the user directly; already granted, nothing changes.
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub async fn grant(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    permission: &Permission,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    grant_many(db, &[(user_id, permission.clone())], now).await
}

/// Revokes the user's direct grant; `false` when there was none.
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub async fn revoke(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    permission: &Permission,
) -> Result<bool, DbErr> {
    let result = user_permission::Entity::delete_many()
        .filter(user_permission::Column::UserId.eq(user_id))
        .filter(user_permission::Column::Permission.eq(permission.as_str()))
        .exec(db)
        .await?;
    Ok(result.rows_affected > 0)
}

/// The user's direct grants, sorted.
#[tracing::instrument(skip_all, fields(user_id = %user_id))]
pub async fn direct_of(db: &impl ConnectionTrait, user_id: Uuid) -> Result<Vec<String>, DbErr> {
    let rows = user_permission::Entity::find()
        .filter(user_permission::Column::UserId.eq(user_id))
        .order_by_asc(user_permission::Column::Permission)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|row| row.permission).collect())
}

/// Every group and effective permission of `user_ids`, in one query: the groups, the
/// groups' permissions and the direct grants, each read through a primary key.
/// Permissions may come more than once (a group and a grant); the caller dedups.
#[tracing::instrument(skip_all, fields(users = user_ids.len()))]
pub async fn access_of(
    db: &impl ConnectionTrait,
    user_ids: &[Uuid],
) -> Result<Vec<(Uuid, AccessFact)>, DbErr> {
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids = || user_ids.iter().copied();
    let mut query = memberships("g", (group::Entity, group::Column::Name))
        .and_where(Expr::col((user_group::Entity, user_group::Column::UserId)).is_in(ids()))
        .to_owned();
    let through_groups = memberships(
        "p",
        (group_permission::Entity, group_permission::Column::Permission),
    )
    .inner_join(
        group_permission::Entity,
        Expr::col((group_permission::Entity, group_permission::Column::GroupId))
            .equals((user_group::Entity, user_group::Column::GroupId)),
    )
    .and_where(Expr::col((user_group::Entity, user_group::Column::UserId)).is_in(ids()))
    .to_owned();
    let direct = Query::select()
        .expr_as(Expr::col(user_permission::Column::UserId), Alias::new("user_id"))
        .expr_as(Expr::val("p"), Alias::new("kind"))
        .expr_as(
            Expr::col(user_permission::Column::Permission),
            Alias::new("value"),
        )
        .from(user_permission::Entity)
        .and_where(Expr::col(user_permission::Column::UserId).is_in(ids()))
        .to_owned();
    query
        .union(UnionType::All, through_groups)
        .union(UnionType::All, direct);
    let rows = db.query_all(&query).await?;
    rows.iter()
        .map(|row| {
            let user_id: Uuid = row.try_get("", "user_id")?;
            let kind: String = row.try_get("", "kind")?;
            let value: String = row.try_get("", "value")?;
            Ok(match kind.as_str() {
                "g" => (user_id, AccessFact::Group(value)),
                _ => (user_id, AccessFact::Permission(value)),
            })
        })
        .collect()
}

/// The sessions with these ids, each with its user and everything that user may do, in
/// one statement: `find_many_with_user`'s query with three indexed subqueries per row,
/// so an online permission answer costs one round trip, as a bearer check does. Names
/// never hold a comma (`GroupName`, `Permission`), so each list travels as one string.
#[tracing::instrument(skip_all, fields(sessions = ids.len()))]
pub async fn find_sessions_with_access(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<Vec<(session::Model, user::Model, Vec<AccessFact>)>, DbErr> {
    let aggregate = match db.get_database_backend() {
        DbBackend::Postgres => "string_agg",
        _ => "group_concat",
    };
    // One comma-joined list per row: `value` of the rows of `from` that are the session's
    // user's.
    let list = |value: &str, from: &str, owner: &str| {
        Expr::cust(format!(
            r#"(SELECT {aggregate}({value}, ',') FROM {from} WHERE {owner} = "sessions"."user_id")"#
        ))
    };
    let query = session::Entity::find()
        .filter(session::Column::Id.is_in(ids.iter().copied()))
        .find_also_related(user::Entity)
        .expr_as(
            list(
                r#""groups"."name""#,
                r#""user_groups" JOIN "groups" ON "groups"."id" = "user_groups"."group_id""#,
                r#""user_groups"."user_id""#,
            ),
            "access_groups",
        )
        .expr_as(
            list(
                r#""group_permissions"."permission""#,
                r#""user_groups" JOIN "group_permissions" ON "group_permissions"."group_id" = "user_groups"."group_id""#,
                r#""user_groups"."user_id""#,
            ),
            "access_given",
        )
        .expr_as(
            list(
                r#""user_permissions"."permission""#,
                r#""user_permissions""#,
                r#""user_permissions"."user_id""#,
            ),
            "access_granted",
        )
        .build(db.get_database_backend());
    let rows = db.query_all_raw(query).await?;
    let mut found = Vec::with_capacity(rows.len());
    for row in &rows {
        let Some(user) = user::Model::from_query_result_optional(row, "B_")? else {
            continue;
        };
        let session = session::Model::from_query_result(row, "A_")?;
        let names = |column: &str| -> Result<Vec<String>, DbErr> {
            let joined: Option<String> = row.try_get("", column)?;
            Ok(joined
                .map(|joined| joined.split(',').map(str::to_owned).collect())
                .unwrap_or_default())
        };
        let mut facts: Vec<AccessFact> = names("access_groups")?
            .into_iter()
            .map(AccessFact::Group)
            .collect();
        for column in ["access_given", "access_granted"] {
            facts.extend(names(column)?.into_iter().map(AccessFact::Permission));
        }
        found.push((session, user, facts));
    }
    Ok(found)
}

/// `user_id, kind, value` rows of `user_groups` joined to `groups`, `value` taken from
/// `column`.
fn memberships<C>(kind: &str, column: C) -> SelectStatement
where
    C: sea_orm::sea_query::IntoColumnRef,
{
    Query::select()
        .expr_as(
            Expr::col((user_group::Entity, user_group::Column::UserId)),
            Alias::new("user_id"),
        )
        .expr_as(Expr::val(kind), Alias::new("kind"))
        .expr_as(Expr::col(column), Alias::new("value"))
        .from(user_group::Entity)
        .inner_join(
            group::Entity,
            Expr::col((group::Entity, group::Column::Id))
                .equals((user_group::Entity, user_group::Column::GroupId)),
        )
        .to_owned()
}

/// Adds each `(user, group)` membership; one that exists is left as it is.
#[tracing::instrument(skip_all, fields(memberships = memberships.len()))]
pub async fn add_memberships(
    db: &impl ConnectionTrait,
    memberships: &[(Uuid, Uuid)],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if memberships.is_empty() {
        return Ok(());
    }
    let rows = memberships
        .iter()
        .map(|&(user_id, group_id)| user_group::ActiveModel {
            user_id: Set(user_id),
            group_id: Set(group_id),
            created_at: Set(now),
        });
    let keep = OnConflict::columns([user_group::Column::UserId, user_group::Column::GroupId])
        .do_nothing()
        .to_owned();
    user_group::Entity::insert_many(rows)
        .on_conflict(keep)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Grants each `(user, permission)` directly; one already granted is left as it is.
#[tracing::instrument(skip_all, fields(grants = grants.len()))]
pub async fn grant_many(
    db: &impl ConnectionTrait,
    grants: &[(Uuid, Permission)],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if grants.is_empty() {
        return Ok(());
    }
    let rows = grants
        .iter()
        .map(|(user_id, permission)| user_permission::ActiveModel {
            user_id: Set(*user_id),
            permission: Set(permission.as_str().to_owned()),
            created_at: Set(now),
        });
    let keep = OnConflict::columns([
        user_permission::Column::UserId,
        user_permission::Column::Permission,
    ])
    .do_nothing()
    .to_owned();
    user_permission::Entity::insert_many(rows)
        .on_conflict(keep)
        .exec_without_returning(db)
        .await?;
    Ok(())
}
