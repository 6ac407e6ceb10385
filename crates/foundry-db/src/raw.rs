//! Raw SQL, for what the builder cannot say. Values are always bound; `?` placeholders work on
//! both backends (rewritten to `$1, $2, …` for PostgreSQL outside quotes).

use crate::connection::{Backend, Db};
use crate::error::DbResult;
use crate::exec;
use crate::query::Value;
use crate::row::{FromDbRow, Record, Row};

/// Whether `sql` has a `$` outside string literals and quoted identifiers.
pub(crate) fn has_unquoted_dollar(sql: &str) -> bool {
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '$' => return true,
            None => {}
        }
    }
    false
}

/// How many `?` placeholders `sql` has outside quotes.
pub(crate) fn count_placeholders(sql: &str) -> usize {
    numbered_placeholders(sql).matches('$').count() - sql.matches('$').count()
}

/// Rewrite `?` placeholders to `$n` outside string literals and quoted identifiers.
pub(crate) fn numbered_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '?' => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
                continue;
            }
            None => {}
        }
        out.push(c);
    }
    out
}

impl Db {
    fn prepare_raw(&self, sql: &str) -> String {
        match self.backend() {
            Backend::Postgres if sql.contains('?') => numbered_placeholders(sql),
            _ => sql.to_owned(),
        }
    }

    /// Run raw SQL and decode every row as `T` (any type implementing sqlx's `FromRow` for
    /// both backends via [`crate::impl_from_db_row_via_sqlx`], a model, a scalar, or [`Record`]).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = foundry_db::Db::connect("sqlite::memory:").await.unwrap();
    /// let n: Vec<i64> = db.select("SELECT ? + 1", vec![41i64.into()]).await.unwrap();
    /// assert_eq!(n, [42]);
    /// # });
    /// ```
    pub async fn select<T: FromDbRow>(&self, sql: &str, values: Vec<Value>) -> DbResult<Vec<T>> {
        let rows = exec::fetch_all(self, self.prepare_raw(sql), sea_query::Values(values)).await?;
        rows.iter().map(T::from_db_row).collect()
    }

    /// Run raw SQL and return the rows.
    pub async fn select_rows(&self, sql: &str, values: Vec<Value>) -> DbResult<Vec<Row>> {
        exec::fetch_all(self, self.prepare_raw(sql), sea_query::Values(values)).await
    }

    /// Run raw SQL and return the rows as JSON records.
    pub async fn select_records(&self, sql: &str, values: Vec<Value>) -> DbResult<Vec<Record>> {
        self.select(sql, values).await
    }

    /// Run a raw statement (DDL, `UPDATE …`); returns rows affected.
    pub async fn statement(&self, sql: &str, values: Vec<Value>) -> DbResult<u64> {
        exec::execute(self, self.prepare_raw(sql), sea_query::Values(values)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_outside_quotes() {
        assert_eq!(
            numbered_placeholders("SELECT '?' , \"a?\" FROM t WHERE a = ? AND b = ?"),
            "SELECT '?' , \"a?\" FROM t WHERE a = $1 AND b = $2"
        );
    }
}
