//! `totp_factors`: an account's authenticator-app secret, encrypted at rest.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "totp_factors")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    /// The `kid` of the signing key whose derived key encrypted the secret.
    pub key_id: String,
    pub secret_ciphertext: String,
    pub created_at: DateTimeUtc,
    /// Null while enrollment waits for its first code.
    pub confirmed_at: Option<DateTimeUtc>,
    /// The newest accepted 30-second step: no code of it or before is accepted again.
    pub last_used_step: Option<i64>,
}

impl ActiveModelBehavior for ActiveModel {}
