//! Re-normalises every stored email to the stricter normal form (`identity_parsers::email`:
//! NFC, lower case, IDNA A-label domains). Before it, `café@…` typed two ways and
//! `u@bücher.example` beside `u@xn--bcher-kva.example` could be two accounts.
//!
//! Nothing is merged or deleted: a row whose new form another row already holds, or that
//! the stricter rules refuse (a hidden character inside), is left as it is and reported
//! in the log for an operator to settle, since which of two accounts is the owner's is
//! not the migration's to decide. Rows are read in batches, so memory stays bounded.

use identity_parsers::email::normalise;
use sea_orm_migration::prelude::*;

/// Rows read per query.
const BATCH: u64 = 500;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let mut after = String::new();
        loop {
            let batch = Query::select()
                .column(Users::Email)
                .from(Users::Table)
                .and_where(Expr::col(Users::Email).gt(after.as_str()))
                .order_by(Users::Email, Order::Asc)
                .limit(BATCH)
                .to_owned();
            let rows = db.query_all(&batch).await?;
            let emails = rows
                .iter()
                .map(|row| row.try_get::<String>("", "email"))
                .collect::<Result<Vec<_>, _>>()?;
            for stored in &emails {
                renormalise(db, stored).await?;
            }
            match emails.last() {
                Some(last) if emails.len() as u64 == BATCH => after.clone_from(last),
                _ => return Ok(()),
            }
        }
    }

    /// The old forms are gone; the new ones are valid under the old rules too.
    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}

async fn renormalise(db: &SchemaManagerConnection<'_>, stored: &str) -> Result<(), DbErr> {
    let normalised = match normalise(stored) {
        Ok(normalised) if normalised == stored => return Ok(()),
        Ok(normalised) => normalised,
        Err(rejection) => {
            tracing::warn!(
                email = stored,
                %rejection,
                "stored email is not valid under the current rules; left as it is"
            );
            return Ok(());
        }
    };
    let taken = Query::select()
        .column(Users::Email)
        .from(Users::Table)
        .and_where(Expr::col(Users::Email).eq(normalised.as_str()))
        .to_owned();
    if db.query_one(&taken).await?.is_some() {
        tracing::warn!(
            email = stored,
            normalised,
            "stored email normalises to another account's; both left as they are"
        );
        return Ok(());
    }
    let update = Query::update()
        .table(Users::Table)
        .value(Users::Email, normalised.as_str())
        .and_where(Expr::col(Users::Email).eq(stored))
        .to_owned();
    db.execute(&update).await?;
    Ok(())
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Email,
}
