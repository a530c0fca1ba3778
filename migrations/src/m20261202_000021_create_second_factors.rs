//! Second factors and passkeys.
//!
//! - `totp_factors`: one per account. The RFC 6238 secret is stored encrypted
//!   (`secret_ciphertext`, under the key named by `key_id`); `confirmed_at` is null until
//!   the first code is proven; `last_used_step` is the newest 30 s step that was accepted,
//!   so a code is never accepted twice.
//! - `recovery_codes`: the hex SHA-256 of each single-use code.
//! - `mfa_challenges`: a login that passed its password and waits for its second factor;
//!   only the token's hash is kept, with what the session will be opened with.
//! - `passkeys`: WebAuthn credentials; `credential_id` is base64url and unique across
//!   accounts; `passkey` is the library's serialised credential (public key, counter).
//! - `webauthn_challenges`: a registration or login ceremony between its begin and its
//!   finish, so any instance can finish what another began; single use.
//! - `sessions.amr`: how the session's login was proven (RFC 8176 values, space-separated).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn user_fk(
    name: &str,
    table: impl IntoIden + 'static,
    column: impl IntoIden + 'static,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, column)
        .to(Users::Table, Users::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TotpFactors::Table)
                    .col(pk_uuid(TotpFactors::UserId))
                    .col(string_len(TotpFactors::KeyId, 64))
                    .col(string_len(TotpFactors::SecretCiphertext, 200))
                    .col(timestamp_with_time_zone(TotpFactors::CreatedAt))
                    .col(timestamp_with_time_zone_null(TotpFactors::ConfirmedAt))
                    .col(big_integer_null(TotpFactors::LastUsedStep))
                    .foreign_key(&mut user_fk(
                        "fk_totp_factors_user_id",
                        TotpFactors::Table,
                        TotpFactors::UserId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RecoveryCodes::Table)
                    .col(pk_uuid(RecoveryCodes::Id))
                    .col(uuid(RecoveryCodes::UserId))
                    .col(string_len_uniq(RecoveryCodes::CodeHash, 64))
                    .col(timestamp_with_time_zone(RecoveryCodes::CreatedAt))
                    .col(timestamp_with_time_zone_null(RecoveryCodes::UsedAt))
                    .foreign_key(&mut user_fk(
                        "fk_recovery_codes_user_id",
                        RecoveryCodes::Table,
                        RecoveryCodes::UserId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_recovery_codes_user_id")
                    .table(RecoveryCodes::Table)
                    .col(RecoveryCodes::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MfaChallenges::Table)
                    .col(pk_uuid(MfaChallenges::Id))
                    .col(uuid(MfaChallenges::UserId))
                    .col(string_len_uniq(MfaChallenges::TokenHash, 64))
                    .col(timestamp_with_time_zone(MfaChallenges::CreatedAt))
                    .col(timestamp_with_time_zone(MfaChallenges::ExpiresAt))
                    .col(integer(MfaChallenges::FailedAttempts).default(0))
                    .col(timestamp_with_time_zone_null(MfaChallenges::ConsumedAt))
                    .col(string_null(MfaChallenges::DeviceName))
                    .col(string_null(MfaChallenges::IpAddress))
                    .col(string_null(MfaChallenges::UserAgent))
                    .col(text_null(MfaChallenges::RehashedPassword))
                    .foreign_key(&mut user_fk(
                        "fk_mfa_challenges_user_id",
                        MfaChallenges::Table,
                        MfaChallenges::UserId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Passkeys::Table)
                    .col(pk_uuid(Passkeys::Id))
                    .col(uuid(Passkeys::UserId))
                    .col(string_len_uniq(Passkeys::CredentialId, 1400))
                    .col(string_len(Passkeys::Name, 64))
                    .col(text(Passkeys::Passkey))
                    .col(timestamp_with_time_zone(Passkeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(Passkeys::LastUsedAt))
                    .foreign_key(&mut user_fk(
                        "fk_passkeys_user_id",
                        Passkeys::Table,
                        Passkeys::UserId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_passkeys_user_id")
                    .table(Passkeys::Table)
                    .col(Passkeys::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebauthnChallenges::Table)
                    .col(pk_uuid(WebauthnChallenges::Id))
                    .col(uuid_null(WebauthnChallenges::UserId))
                    .col(string_len(WebauthnChallenges::Purpose, 16))
                    .col(text(WebauthnChallenges::State))
                    .col(timestamp_with_time_zone(WebauthnChallenges::CreatedAt))
                    .col(timestamp_with_time_zone(WebauthnChallenges::ExpiresAt))
                    .col(timestamp_with_time_zone_null(WebauthnChallenges::ConsumedAt))
                    .foreign_key(&mut user_fk(
                        "fk_webauthn_challenges_user_id",
                        WebauthnChallenges::Table,
                        WebauthnChallenges::UserId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .add_column(string_len_null(Sessions::Amr, 32))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .drop_column(Sessions::Amr)
                    .to_owned(),
            )
            .await?;
        for table in [
            WebauthnChallenges::Table.into_iden(),
            Passkeys::Table.into_iden(),
            MfaChallenges::Table.into_iden(),
            RecoveryCodes::Table.into_iden(),
            TotpFactors::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum TotpFactors {
    Table,
    UserId,
    KeyId,
    SecretCiphertext,
    CreatedAt,
    ConfirmedAt,
    LastUsedStep,
}

#[derive(DeriveIden)]
enum RecoveryCodes {
    Table,
    Id,
    UserId,
    CodeHash,
    CreatedAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum MfaChallenges {
    Table,
    Id,
    UserId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    FailedAttempts,
    ConsumedAt,
    DeviceName,
    IpAddress,
    UserAgent,
    RehashedPassword,
}

#[derive(DeriveIden)]
enum Passkeys {
    Table,
    Id,
    UserId,
    CredentialId,
    Name,
    Passkey,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum WebauthnChallenges {
    Table,
    Id,
    UserId,
    Purpose,
    State,
    CreatedAt,
    ExpiresAt,
    ConsumedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Amr,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
