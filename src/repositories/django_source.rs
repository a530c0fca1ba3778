//! Reading a Django project's database (SQLite or PostgreSQL) for `identity import-django`:
//! the custom user table of the original design, `auth_group`, `auth_permission` with
//! `django_content_type`, and the user's two many-to-many tables. Read only; nothing
//! here writes to Django's database.
//!
//! The two backends store the same model differently (SQLite: a UUID as 32 hex digits, a
//! datetime as naive UTC text; PostgreSQL: `uuid` and `timestamptz`), so each query casts
//! to text on PostgreSQL and every row is decoded by one path.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DbErr, QueryResult,
    Statement, Value,
};
use uuid::Uuid;

/// What `DjangoSource::open` could not accept.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("--table must be a plain SQL name (letters, digits, underscores): {0:?}")]
    TableName(String),
    #[error("the Django database has no table {0:?}; is --table right?")]
    NoSuchTable(String),
    #[error("a row of {table} could not be read: {detail}")]
    BadRow { table: String, detail: String },
    #[error(transparent)]
    Database(#[from] DbErr),
}

/// A row of the user table, as Django holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DjangoUser {
    pub id: Uuid,
    /// The key the next page starts after (the id as this backend orders it).
    pub key: String,
    pub email: String,
    pub password: String,
    pub is_verified: bool,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub date_joined: DateTime<Utc>,
    pub last_login: Option<DateTime<Utc>>,
}

/// A row of `auth_group` with its permissions as `<app_label>.<codename>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DjangoGroup {
    pub id: i64,
    pub name: String,
    pub permissions: Vec<String>,
}

/// A user's groups (Django ids) and direct permissions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DjangoAccess {
    pub groups: Vec<i64>,
    pub permissions: Vec<String>,
}

/// The user's many-to-many table and the column in it that names the user.
#[derive(Debug)]
struct LinkTable {
    table: String,
    user_column: String,
}

/// An open Django database.
#[derive(Debug)]
pub struct DjangoSource {
    db: DatabaseConnection,
    users: String,
    groups: Option<LinkTable>,
    permissions: Option<LinkTable>,
}

impl DjangoSource {
    /// Connects to `url` (`sqlite:///abs/path` or `postgres://…`) and finds the user table
    /// `table` and its two link tables (absent for a user model without
    /// `PermissionsMixin`: then nobody has groups or permissions).
    ///
    /// # Errors
    /// A bad table name, a missing table, or the database.
    pub async fn open(url: &str, table: &str) -> Result<Self, SourceError> {
        if table.is_empty() || !table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(SourceError::TableName(table.to_owned()));
        }
        let mut options = ConnectOptions::new(url.to_owned());
        options.max_connections(1).sqlx_logging(false);
        let db = Database::connect(options).await?;
        let mut source = Self {
            db,
            users: table.to_owned(),
            groups: None,
            permissions: None,
        };
        if source.columns_of(table).await?.is_empty() {
            return Err(SourceError::NoSuchTable(table.to_owned()));
        }
        source.groups = source.link_table(&format!("{table}_groups"), "group_id").await?;
        source.permissions = source
            .link_table(&format!("{table}_user_permissions"), "permission_id")
            .await?;
        Ok(source)
    }

    /// How many users the table holds, for the progress bar.
    ///
    /// # Errors
    /// The database.
    pub async fn count_users(&self) -> Result<u64, SourceError> {
        let sql = format!(r#"SELECT COUNT(*) AS n FROM "{}""#, self.users);
        let row = self.query_one(&sql, Vec::new()).await?;
        let count: i64 = row.map(|row| row.try_get("", "n")).transpose()?.unwrap_or(0);
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// Up to `limit` users in id order after `after` (a `DjangoUser::key`), the emails
    /// only: the first pass, which finds emails that collide once normalised.
    ///
    /// # Errors
    /// The database, or a row whose id is not a UUID.
    pub async fn emails_page(
        &self,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<(Uuid, String, String)>, SourceError> {
        let rows = self.page("email", after, limit).await?;
        rows.iter()
            .map(|row| {
                let key: String = row.try_get("", "user_key")?;
                Ok((self.uuid(&key)?, key, row.try_get("", "email")?))
            })
            .collect()
    }

    /// Up to `limit` whole users in id order after `after`.
    ///
    /// # Errors
    /// The database, or a row that does not decode.
    pub async fn users_page(&self, after: Option<&str>, limit: u64) -> Result<Vec<DjangoUser>, SourceError> {
        let flags = "email, password, is_verified, is_active, is_staff, is_superuser";
        let dates = match self.backend() {
            DatabaseBackend::Postgres => {
                "to_char(date_joined AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS date_joined, \
                 to_char(last_login AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS last_login"
            }
            _ => "date_joined, last_login",
        };
        let rows = self.page(&format!("{flags}, {dates}"), after, limit).await?;
        rows.iter().map(|row| self.user(row)).collect()
    }

    /// Every group with its permissions.
    ///
    /// # Errors
    /// The database.
    pub async fn groups(&self) -> Result<Vec<DjangoGroup>, SourceError> {
        let rows = self
            .query_all(
                "SELECT CAST(id AS BIGINT) AS id, name FROM auth_group ORDER BY id",
                Vec::new(),
            )
            .await?;
        let mut groups = Vec::with_capacity(rows.len());
        for row in rows {
            groups.push(DjangoGroup {
                id: row.try_get("", "id")?,
                name: row.try_get("", "name")?,
                permissions: Vec::new(),
            });
        }
        let sql = "SELECT CAST(gp.group_id AS BIGINT) AS owner, ct.app_label AS app_label, p.codename AS codename \
             FROM auth_group_permissions gp \
             JOIN auth_permission p ON p.id = gp.permission_id \
             JOIN django_content_type ct ON ct.id = p.content_type_id \
             ORDER BY gp.group_id, ct.app_label, p.codename";
        let mut by_group: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for row in self.query_all(sql, Vec::new()).await? {
            let owner: i64 = row.try_get("", "owner")?;
            by_group.entry(owner).or_default().push(permission_name(&row)?);
        }
        for group in &mut groups {
            group.permissions = by_group.remove(&group.id).unwrap_or_default();
        }
        Ok(groups)
    }

    /// The groups and direct permissions of the users whose keys lie in `first..=last`
    /// (one page of `users_page`, which is such a range).
    ///
    /// # Errors
    /// The database.
    pub async fn access_of(
        &self,
        first: &str,
        last: &str,
    ) -> Result<BTreeMap<Uuid, DjangoAccess>, SourceError> {
        let mut access: BTreeMap<Uuid, DjangoAccess> = BTreeMap::new();
        let range = |column: &str| match self.backend() {
            DatabaseBackend::Postgres => format!("{column} BETWEEN CAST($1 AS uuid) AND CAST($2 AS uuid)"),
            _ => format!("{column} BETWEEN ? AND ?"),
        };
        let bounds = || vec![Value::from(first.to_owned()), Value::from(last.to_owned())];
        if let Some(link) = &self.groups {
            let user = self.key_expression(&format!("l.{}", link.user_column));
            let sql = format!(
                r#"SELECT {user} AS owner, CAST(l.group_id AS BIGINT) AS group_id FROM "{}" l WHERE {} ORDER BY l.group_id"#,
                link.table,
                range(&format!("l.{}", link.user_column)),
            );
            for row in self.query_all(&sql, bounds()).await? {
                let owner = self.uuid(&row.try_get::<String>("", "owner")?)?;
                access
                    .entry(owner)
                    .or_default()
                    .groups
                    .push(row.try_get("", "group_id")?);
            }
        }
        if let Some(link) = &self.permissions {
            let user = self.key_expression(&format!("l.{}", link.user_column));
            let sql = format!(
                r#"SELECT {user} AS owner, ct.app_label AS app_label, p.codename AS codename FROM "{}" l
                   JOIN auth_permission p ON p.id = l.permission_id
                   JOIN django_content_type ct ON ct.id = p.content_type_id
                   WHERE {} ORDER BY ct.app_label, p.codename"#,
                link.table,
                range(&format!("l.{}", link.user_column)),
            );
            for row in self.query_all(&sql, bounds()).await? {
                let owner = self.uuid(&row.try_get::<String>("", "owner")?)?;
                let permission = permission_name(&row)?;
                access.entry(owner).or_default().permissions.push(permission);
            }
        }
        Ok(access)
    }

    async fn page(
        &self,
        columns: &str,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<QueryResult>, SourceError> {
        let id = self.key_expression("id");
        let (condition, values) = match (after, self.backend()) {
            (None, _) => (String::new(), Vec::new()),
            (Some(after), DatabaseBackend::Postgres) => (
                "WHERE id > CAST($1 AS uuid)".to_owned(),
                vec![Value::from(after.to_owned())],
            ),
            (Some(after), _) => ("WHERE id > ?".to_owned(), vec![Value::from(after.to_owned())]),
        };
        let sql = format!(
            r#"SELECT {id} AS user_key, {columns} FROM "{table}" {condition} ORDER BY "{table}".id LIMIT {limit}"#,
            table = self.users
        );
        self.query_all(&sql, values).await
    }

    fn user(&self, row: &QueryResult) -> Result<DjangoUser, SourceError> {
        let key: String = row.try_get("", "user_key")?;
        let last_login: Option<String> = row.try_get("", "last_login")?;
        Ok(DjangoUser {
            id: self.uuid(&key)?,
            email: row.try_get("", "email")?,
            password: row.try_get("", "password")?,
            is_verified: row.try_get("", "is_verified")?,
            is_active: row.try_get("", "is_active")?,
            is_staff: row.try_get("", "is_staff")?,
            is_superuser: row.try_get("", "is_superuser")?,
            date_joined: self.datetime(&row.try_get::<String>("", "date_joined")?)?,
            last_login: last_login
                .as_deref()
                .map(|text| self.datetime(text))
                .transpose()?,
            key,
        })
    }

    /// The id as text: PostgreSQL's `uuid` cast, SQLite's stored hex as it is.
    fn key_expression(&self, column: &str) -> String {
        match self.backend() {
            DatabaseBackend::Postgres => format!("CAST({column} AS TEXT)"),
            _ => column.to_owned(),
        }
    }

    fn uuid(&self, key: &str) -> Result<Uuid, SourceError> {
        Uuid::parse_str(key).map_err(|error| self.bad_row(format!("id {key:?} is not a UUID: {error}")))
    }

    /// Django's datetimes in UTC, with or without microseconds.
    fn datetime(&self, text: &str) -> Result<DateTime<Utc>, SourceError> {
        let text = text.trim_end_matches("+00:00");
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
            .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f"))
            .map(|naive| naive.and_utc())
            .map_err(|error| self.bad_row(format!("datetime {text:?}: {error}")))
    }

    fn bad_row(&self, detail: String) -> SourceError {
        SourceError::BadRow {
            table: self.users.clone(),
            detail,
        }
    }

    /// The link table `table` with its user column (the one column ending in `_id` that is
    /// neither `id` nor `other`), or `None` when there is no such table.
    async fn link_table(&self, table: &str, other: &str) -> Result<Option<LinkTable>, SourceError> {
        let columns = self.columns_of(table).await?;
        Ok(columns
            .into_iter()
            .find(|column| column.ends_with("_id") && column != other)
            .map(|user_column| LinkTable {
                table: table.to_owned(),
                user_column,
            }))
    }

    async fn columns_of(&self, table: &str) -> Result<Vec<String>, SourceError> {
        let (sql, values) = match self.backend() {
            DatabaseBackend::Postgres => (
                "SELECT column_name::text AS name FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1",
                vec![Value::from(table.to_owned())],
            ),
            _ => (
                "SELECT name FROM pragma_table_info(?)",
                vec![Value::from(table.to_owned())],
            ),
        };
        let rows = self.query_all(sql, values).await?;
        rows.iter()
            .map(|row| row.try_get("", "name").map_err(SourceError::from))
            .collect()
    }

    fn backend(&self) -> DatabaseBackend {
        self.db.get_database_backend()
    }

    async fn query_all(&self, sql: &str, values: Vec<Value>) -> Result<Vec<QueryResult>, SourceError> {
        let statement = Statement::from_sql_and_values(self.backend(), sql, values);
        Ok(self.db.query_all_raw(statement).await?)
    }

    async fn query_one(&self, sql: &str, values: Vec<Value>) -> Result<Option<QueryResult>, SourceError> {
        let statement = Statement::from_sql_and_values(self.backend(), sql, values);
        Ok(self.db.query_one_raw(statement).await?)
    }
}

fn permission_name(row: &QueryResult) -> Result<String, DbErr> {
    let app_label: String = row.try_get("", "app_label")?;
    let codename: String = row.try_get("", "codename")?;
    Ok(format!("{app_label}.{codename}"))
}
