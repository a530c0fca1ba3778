//! `users`: identity only; everything temporary hangs off it in its own table.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Normalised by the domain type before it is stored; unique.
    #[sea_orm(unique)]
    pub email: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    pub is_verified: bool,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub date_joined: DateTimeUtc,
    pub last_login: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
    #[sea_orm(has_many)]
    pub email_verification_tokens: HasMany<super::email_verification_token::Entity>,
    #[sea_orm(has_many)]
    pub password_reset_tokens: HasMany<super::password_reset_token::Entity>,
    #[sea_orm(has_many)]
    pub sessions: HasMany<super::session::Entity>,
    #[sea_orm(has_many)]
    pub email_outbox: HasMany<super::email_outbox::Entity>,
    #[sea_orm(has_many)]
    pub user_groups: HasMany<super::user_group::Entity>,
    #[sea_orm(has_many)]
    pub user_permissions: HasMany<super::user_permission::Entity>,
    #[sea_orm(has_many)]
    pub email_change_tokens: HasMany<super::email_change_token::Entity>,
    #[sea_orm(has_many)]
    pub pending_email_changes: HasMany<super::pending_email_change::Entity>,
    #[sea_orm(has_many)]
    pub django_user_imports: HasMany<super::django_user_import::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
