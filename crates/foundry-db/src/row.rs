//! [`Row`]: one result row from either backend, typed access by column name, and conversion
//! to a JSON [`Record`] for builder queries that have no Rust type.

use serde_json::{Map, Value as Json};
use sqlx::{Column as _, Row as _, TypeInfo as _, ValueRef as _};

use crate::error::{DbError, DbResult};

/// A row as a JSON object (column name → value), what untyped builder queries return.
pub type Record = Map<String, Json>;

/// One result row.
#[derive(Debug)]
pub struct Row(pub(crate) RowInner);

#[derive(Debug)]
pub(crate) enum RowInner {
    Sqlite(sqlx::sqlite::SqliteRow),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::postgres::PgRow),
}

/// A type sqlx can decode from SQLite.
pub trait SqliteDecode: for<'r> sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite> {}
impl<T> SqliteDecode for T where T: for<'r> sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>
{}

/// A type sqlx can decode from PostgreSQL (every type, when the `postgres` feature is off).
#[cfg(feature = "postgres")]
pub trait PgDecode: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> {}
#[cfg(feature = "postgres")]
impl<T> PgDecode for T where T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>
{}
/// A type sqlx can decode from PostgreSQL (every type, when the `postgres` feature is off).
#[cfg(not(feature = "postgres"))]
pub trait PgDecode {}
#[cfg(not(feature = "postgres"))]
impl<T> PgDecode for T {}

/// A column type readable from every enabled backend: `i64`, `i32`, `String`, `bool`, `f64`,
/// `Vec<u8>`, chrono date-times, `uuid::Uuid`, `sqlx::types::Json<T>`, and `Option` of these.
pub trait DbDecode: SqliteDecode + PgDecode {}
impl<T: SqliteDecode + PgDecode> DbDecode for T {}

/// A type built from a whole row, for raw SQL ([`crate::Db::select`]).
///
/// Implemented for every type that implements sqlx's `FromRow` for both backends (for
/// example with `#[derive(sqlx::FromRow)]`), for [`Record`], and by `#[derive(Model)]`.
pub trait FromDbRow: Sized {
    /// Build `Self` from `row`.
    fn from_db_row(row: &Row) -> DbResult<Self>;
}

impl FromDbRow for Record {
    fn from_db_row(row: &Row) -> DbResult<Self> {
        row.to_record()
    }
}

/// Implement [`FromDbRow`] for types that implement sqlx's `FromRow` for every backend.
#[macro_export]
macro_rules! impl_from_db_row_via_sqlx {
    ($($t:ty),* $(,)?) => {$(
        impl $crate::FromDbRow for $t {
            fn from_db_row(row: &$crate::Row) -> $crate::DbResult<Self> {
                row.decode_with_sqlx()
            }
        }
    )*};
}

macro_rules! scalar_from_row {
    ($($t:ty),*) => {$(
        impl FromDbRow for $t {
            fn from_db_row(row: &Row) -> DbResult<Self> {
                row.get_index(0)
            }
        }
    )*};
}
scalar_from_row!(
    i64,
    i32,
    f64,
    bool,
    String,
    Option<i64>,
    Option<f64>,
    Option<String>
);

macro_rules! tuple_from_row {
    ($($t:ident: $i:tt),+) => {
        impl<$($t: DbDecode),+> FromDbRow for ($($t,)+) {
            fn from_db_row(row: &Row) -> DbResult<Self> {
                Ok(($(row.get_index::<$t>($i)?,)+))
            }
        }
    };
}
tuple_from_row!(A: 0);
tuple_from_row!(A: 0, B: 1);
tuple_from_row!(A: 0, B: 1, C: 2);
tuple_from_row!(A: 0, B: 1, C: 2, D: 3);
tuple_from_row!(A: 0, B: 1, C: 2, D: 3, E: 4);
tuple_from_row!(A: 0, B: 1, C: 2, D: 3, E: 4, F: 5);

impl Row {
    /// The value of column `name`.
    pub fn get<T: DbDecode>(&self, name: &str) -> DbResult<T> {
        // A linear scan of a handful of names beats the driver's SipHash map lookup; rows
        // decoded into models read every column this way.
        let result = match &self.0 {
            RowInner::Sqlite(r) => match r.columns().iter().position(|c| c.name() == name) {
                Some(index) => r.try_get::<T, _>(index),
                None => r.try_get::<T, _>(name),
            },
            #[cfg(feature = "postgres")]
            RowInner::Postgres(r) => match r.columns().iter().position(|c| c.name() == name) {
                Some(index) => r.try_get::<T, _>(index),
                None => r.try_get::<T, _>(name),
            },
        };
        result.map_err(|e| decode_error(name, &e))
    }

    /// The value of the column at `index` (0-based).
    pub fn get_index<T: DbDecode>(&self, index: usize) -> DbResult<T> {
        let result = match &self.0 {
            RowInner::Sqlite(r) => r.try_get::<T, _>(index),
            #[cfg(feature = "postgres")]
            RowInner::Postgres(r) => r.try_get::<T, _>(index),
        };
        result.map_err(|e| decode_error(&format!("#{index}"), &e))
    }

    /// Whether the row has a column called `name`.
    pub fn has_column(&self, name: &str) -> bool {
        self.column_names().iter().any(|c| c == name)
    }

    /// The column names, in order.
    pub fn column_names(&self) -> Vec<String> {
        match &self.0 {
            RowInner::Sqlite(r) => r.columns().iter().map(|c| c.name().to_owned()).collect(),
            #[cfg(feature = "postgres")]
            RowInner::Postgres(r) => r.columns().iter().map(|c| c.name().to_owned()).collect(),
        }
    }

    /// Decode with sqlx's `FromRow` (see [`impl_from_db_row_via_sqlx`]).
    #[cfg(feature = "postgres")]
    pub fn decode_with_sqlx<T>(&self) -> DbResult<T>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
    {
        let result = match &self.0 {
            RowInner::Sqlite(r) => T::from_row(r),
            RowInner::Postgres(r) => T::from_row(r),
        };
        result.map_err(|e| decode_error("(row)", &e))
    }

    /// Decode with sqlx's `FromRow` (see [`impl_from_db_row_via_sqlx`]).
    #[cfg(not(feature = "postgres"))]
    pub fn decode_with_sqlx<T>(&self) -> DbResult<T>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>,
    {
        let RowInner::Sqlite(r) = &self.0;
        T::from_row(r).map_err(|e| decode_error("(row)", &e))
    }

    /// One column as JSON (see [`Row::to_record`]).
    pub fn json(&self, name: &str) -> DbResult<Json> {
        let missing = || DbError::Decode {
            column: name.to_owned(),
            message: "no such column in the result".into(),
        };
        match &self.0 {
            RowInner::Sqlite(r) => {
                let (i, c) = r
                    .columns()
                    .iter()
                    .enumerate()
                    .find(|(_, c)| c.name() == name)
                    .ok_or_else(missing)?;
                sqlite_json(r, i, c.type_info().name())
            }
            #[cfg(feature = "postgres")]
            RowInner::Postgres(r) => {
                let (i, c) = r
                    .columns()
                    .iter()
                    .enumerate()
                    .find(|(_, c)| c.name() == name)
                    .ok_or_else(missing)?;
                pg_json(r, i, c.type_info().name())
            }
        }
    }

    /// The row as JSON: integers, floats, strings, booleans (declared `BOOLEAN` columns on
    /// SQLite), JSON columns as JSON, date-times as RFC 3339 strings, blobs as arrays of bytes.
    pub fn to_record(&self) -> DbResult<Record> {
        let mut map = Map::new();
        match &self.0 {
            RowInner::Sqlite(r) => {
                for (i, column) in r.columns().iter().enumerate() {
                    map.insert(
                        column.name().to_owned(),
                        sqlite_json(r, i, column.type_info().name())?,
                    );
                }
            }
            #[cfg(feature = "postgres")]
            RowInner::Postgres(r) => {
                for (i, column) in r.columns().iter().enumerate() {
                    map.insert(
                        column.name().to_owned(),
                        pg_json(r, i, column.type_info().name())?,
                    );
                }
            }
        }
        Ok(map)
    }
}

fn decode_error(column: &str, e: &sqlx::Error) -> DbError {
    DbError::Decode {
        column: column.to_owned(),
        message: e.to_string(),
    }
}

fn sqlite_json(r: &sqlx::sqlite::SqliteRow, i: usize, declared: &str) -> DbResult<Json> {
    let raw = r
        .try_get_raw(i)
        .map_err(|e| decode_error(&format!("#{i}"), &e))?;
    if raw.is_null() {
        return Ok(Json::Null);
    }
    let storage = raw.type_info().name().to_owned();
    let declared = declared.to_ascii_uppercase();
    let err = |e: sqlx::Error| decode_error(&format!("#{i}"), &e);
    Ok(match storage.as_str() {
        "INTEGER" | "BOOLEAN" | "INT8" => {
            let n: i64 = r.try_get_unchecked(i).map_err(err)?;
            if declared.contains("BOOL") {
                Json::Bool(n != 0)
            } else {
                Json::from(n)
            }
        }
        "REAL" | "NUMERIC" => {
            let f: f64 = r.try_get_unchecked(i).map_err(err)?;
            serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number)
        }
        "BLOB" => {
            let b: Vec<u8> = r.try_get_unchecked(i).map_err(err)?;
            Json::from(b)
        }
        _ => {
            let s: String = r.try_get_unchecked(i).map_err(err)?;
            if declared.contains("JSON") {
                serde_json::from_str(&s).unwrap_or(Json::String(s))
            } else {
                Json::String(s)
            }
        }
    })
}

#[cfg(feature = "postgres")]
fn pg_json(r: &sqlx::postgres::PgRow, i: usize, ty: &str) -> DbResult<Json> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
    let raw = r
        .try_get_raw(i)
        .map_err(|e| decode_error(&format!("#{i}"), &e))?;
    if raw.is_null() {
        return Ok(Json::Null);
    }
    let err = |e: sqlx::Error| decode_error(&format!("#{i}"), &e);
    Ok(match ty {
        "BOOL" => Json::Bool(r.try_get(i).map_err(err)?),
        "INT2" => Json::from(r.try_get::<i16, _>(i).map_err(err)?),
        "INT4" => Json::from(r.try_get::<i32, _>(i).map_err(err)?),
        "INT8" => Json::from(r.try_get::<i64, _>(i).map_err(err)?),
        "FLOAT4" => Json::from(f64::from(r.try_get::<f32, _>(i).map_err(err)?)),
        "FLOAT8" => serde_json::Number::from_f64(r.try_get::<f64, _>(i).map_err(err)?)
            .map_or(Json::Null, Json::Number),
        "JSON" | "JSONB" => r.try_get::<Json, _>(i).map_err(err)?,
        "TIMESTAMPTZ" => Json::String(r.try_get::<DateTime<Utc>, _>(i).map_err(err)?.to_rfc3339()),
        "TIMESTAMP" => Json::String(r.try_get::<NaiveDateTime, _>(i).map_err(err)?.to_string()),
        "DATE" => Json::String(r.try_get::<NaiveDate, _>(i).map_err(err)?.to_string()),
        "TIME" => Json::String(r.try_get::<NaiveTime, _>(i).map_err(err)?.to_string()),
        "UUID" => Json::String(r.try_get::<uuid::Uuid, _>(i).map_err(err)?.to_string()),
        "BYTEA" => Json::from(r.try_get::<Vec<u8>, _>(i).map_err(err)?),
        "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "CHAR" => {
            Json::String(r.try_get::<String, _>(i).map_err(err)?)
        }
        other => {
            return Err(DbError::Decode {
                column: format!("#{i}"),
                message: format!(
                    "cannot read PostgreSQL type {other} into JSON; cast it in the query (e.g. `::text` or `::float8`)"
                ),
            });
        }
    })
}
