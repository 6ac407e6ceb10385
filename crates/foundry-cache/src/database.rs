//! The `database` store: tables `cache` and `cache_locks` (see [`crate::migrations`]) on a
//! `[database]` connection, SQLite or PostgreSQL.
//!
//! Every write is one statement, so atomicity comes from the database: `add` and lock
//! acquisition are `INSERT … ON CONFLICT DO UPDATE … WHERE <expired>` (a row is replaced only
//! when it has expired), `increment` is an upsert that adds in SQL and returns the new value.
//! Expirations are Unix milliseconds from the app's [`Clock`].

use std::collections::BTreeMap;
use std::time::Duration;

use foundry_core::{BoxFuture, Clock};
use foundry_db::schema::quote;
use foundry_db::{Backend, Db, DbError, Value};

use crate::error::{CacheError, CacheResult};
use crate::store::{Store, ttl_millis};

/// The database store.
pub struct DatabaseStore {
    name: String,
    db: Db,
    prefix: String,
    table: String,
    lock_table: String,
    clock: Clock,
}

impl std::fmt::Debug for DatabaseStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseStore")
            .field("name", &self.name)
            .field("table", &self.table)
            .field("lock_table", &self.lock_table)
            .finish_non_exhaustive()
    }
}

/// `key LIKE pattern ESCAPE '\'` pattern matching everything that starts with `prefix`.
fn like_prefix(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

impl DatabaseStore {
    /// A store named `name` on `db`, with tables `table` and `lock_table`.
    pub fn new(
        name: &str,
        db: Db,
        prefix: &str,
        table: &str,
        lock_table: &str,
        clock: Clock,
    ) -> Self {
        Self {
            name: name.to_owned(),
            db,
            prefix: prefix.to_owned(),
            table: quote(table),
            lock_table: quote(lock_table),
            clock,
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn now(&self) -> i64 {
        self.clock.unix_millis()
    }

    fn expiry(&self, ttl: Option<Duration>) -> Option<i64> {
        ttl.map(|ttl| self.now().saturating_add(ttl_millis(ttl)))
    }

    fn failed(&self, action: impl Into<String>) -> impl FnOnce(DbError) -> CacheError + '_ {
        let action = action.into();
        move |err| CacheError::Backend {
            store: self.name.clone(),
            driver: "database",
            action,
            reason: err.to_string(),
        }
    }

    /// SQL true when the row at `{table}` has expired; binds one `?` (now).
    fn expired(table: &str) -> String {
        format!("({table}.\"expiration\" IS NOT NULL AND {table}.\"expiration\" <= ?)")
    }

    /// SQL true when `{table}.value` is an integer in text form.
    fn is_integer(&self) -> String {
        let t = &self.table;
        match self.db.backend() {
            Backend::Sqlite => {
                format!("CAST(CAST({t}.\"value\" AS INTEGER) AS TEXT) = {t}.\"value\"")
            }
            Backend::Postgres => format!("{t}.\"value\" ~ '^-?[0-9]+$'"),
        }
    }

    async fn upsert(
        &self,
        entries: Vec<(String, String)>,
        ttl: Option<Duration>,
    ) -> CacheResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        // One statement per call; PostgreSQL refuses the same key twice in one upsert.
        let unique: BTreeMap<String, String> = entries.into_iter().collect();
        let expiration = self.expiry(ttl);
        let rows = vec!["(?, ?, ?)"; unique.len()].join(", ");
        let sql = format!(
            "INSERT INTO {t} (\"key\", \"value\", \"expiration\") VALUES {rows} \
             ON CONFLICT (\"key\") DO UPDATE SET \"value\" = excluded.\"value\", \
             \"expiration\" = excluded.\"expiration\"",
            t = self.table
        );
        let mut values = Vec::with_capacity(unique.len() * 3);
        let first = unique.keys().next().cloned().unwrap_or_default();
        for (key, value) in unique {
            values.push(Value::from(self.key(&key)));
            values.push(Value::from(value));
            values.push(Value::from(expiration));
        }
        self.db
            .statement(&sql, values)
            .await
            .map_err(self.failed(format!("writing `{first}`")))?;
        Ok(())
    }
}

impl Store for DatabaseStore {
    fn driver(&self) -> &'static str {
        "database"
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, CacheResult<Option<String>>> {
        Box::pin(async move {
            let sql = format!(
                "SELECT \"value\" FROM {t} WHERE \"key\" = ? AND NOT {expired}",
                t = self.table,
                expired = Self::expired(&self.table)
            );
            let rows: Vec<String> = self
                .db
                .select(&sql, vec![self.key(key).into(), self.now().into()])
                .await
                .map_err(self.failed(format!("reading `{key}`")))?;
            Ok(rows.into_iter().next())
        })
    }

    fn many<'a>(&'a self, keys: &'a [String]) -> BoxFuture<'a, CacheResult<Vec<Option<String>>>> {
        Box::pin(async move {
            if keys.is_empty() {
                return Ok(Vec::new());
            }
            let sql = format!(
                "SELECT \"key\", \"value\" FROM {t} WHERE \"key\" IN ({marks}) AND NOT {expired}",
                t = self.table,
                marks = vec!["?"; keys.len()].join(", "),
                expired = Self::expired(&self.table)
            );
            let mut values: Vec<Value> = keys.iter().map(|k| self.key(k).into()).collect();
            values.push(self.now().into());
            let rows: Vec<(String, String)> = self
                .db
                .select(&sql, values)
                .await
                .map_err(self.failed("reading many keys"))?;
            let found: BTreeMap<String, String> = rows.into_iter().collect();
            Ok(keys
                .iter()
                .map(|k| found.get(&self.key(k)).cloned())
                .collect())
        })
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: String,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, CacheResult<()>> {
        Box::pin(self.upsert(vec![(key.to_owned(), value)], ttl))
    }

    fn put_many<'a>(
        &'a self,
        entries: Vec<(String, String)>,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, CacheResult<()>> {
        Box::pin(self.upsert(entries, ttl))
    }

    fn add<'a>(
        &'a self,
        key: &'a str,
        value: String,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, CacheResult<bool>> {
        Box::pin(async move {
            let sql = format!(
                "INSERT INTO {t} (\"key\", \"value\", \"expiration\") VALUES (?, ?, ?) \
                 ON CONFLICT (\"key\") DO UPDATE SET \"value\" = excluded.\"value\", \
                 \"expiration\" = excluded.\"expiration\" WHERE {expired}",
                t = self.table,
                expired = Self::expired(&self.table)
            );
            let values = vec![
                self.key(key).into(),
                value.into(),
                self.expiry(ttl).into(),
                self.now().into(),
            ];
            let stored = self
                .db
                .statement(&sql, values)
                .await
                .map_err(self.failed(format!("adding `{key}`")))?;
            Ok(stored > 0)
        })
    }

    fn increment<'a>(&'a self, key: &'a str, by: i64) -> BoxFuture<'a, CacheResult<i64>> {
        Box::pin(async move {
            let t = &self.table;
            let expired = Self::expired(t);
            let sql = format!(
                "INSERT INTO {t} (\"key\", \"value\", \"expiration\") VALUES (?, ?, NULL) \
                 ON CONFLICT (\"key\") DO UPDATE SET \
                 \"value\" = CASE WHEN {expired} THEN excluded.\"value\" \
                 ELSE CAST(CAST({t}.\"value\" AS BIGINT) + ? AS TEXT) END, \
                 \"expiration\" = CASE WHEN {expired} THEN NULL ELSE {t}.\"expiration\" END \
                 WHERE {expired} OR {integer} RETURNING \"value\"",
                integer = self.is_integer()
            );
            let now = self.now();
            let values = vec![
                self.key(key).into(),
                by.to_string().into(),
                now.into(),
                by.into(),
                now.into(),
                now.into(),
            ];
            let rows: Vec<String> = self
                .db
                .select(&sql, values)
                .await
                .map_err(self.failed(format!("incrementing `{key}`")))?;
            rows.first()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| CacheError::NotAnInteger {
                    key: key.to_owned(),
                })
        })
    }

    fn forget<'a>(&'a self, key: &'a str) -> BoxFuture<'a, CacheResult<bool>> {
        Box::pin(async move {
            let sql = format!(
                "DELETE FROM {t} WHERE \"key\" = ? RETURNING \"expiration\"",
                t = self.table
            );
            let rows: Vec<Option<i64>> = self
                .db
                .select(&sql, vec![self.key(key).into()])
                .await
                .map_err(self.failed(format!("forgetting `{key}`")))?;
            let now = self.now();
            Ok(rows.iter().any(|at| at.is_none_or(|at| at > now)))
        })
    }

    fn flush(&self) -> BoxFuture<'_, CacheResult<()>> {
        Box::pin(async move {
            let sql = format!(
                "DELETE FROM {t} WHERE \"key\" LIKE ? ESCAPE '\\'",
                t = self.table
            );
            self.db
                .statement(&sql, vec![like_prefix(&self.prefix).into()])
                .await
                .map_err(self.failed("flushing"))?;
            Ok(())
        })
    }

    fn lock_acquire<'a>(
        &'a self,
        key: &'a str,
        owner: &'a str,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, CacheResult<bool>> {
        Box::pin(async move {
            let sql = format!(
                "INSERT INTO {t} (\"key\", \"owner\", \"expiration\") VALUES (?, ?, ?) \
                 ON CONFLICT (\"key\") DO UPDATE SET \"owner\" = excluded.\"owner\", \
                 \"expiration\" = excluded.\"expiration\" WHERE {expired}",
                t = self.lock_table,
                expired = Self::expired(&self.lock_table)
            );
            let values = vec![
                self.key(key).into(),
                owner.into(),
                self.expiry(ttl).into(),
                self.now().into(),
            ];
            let taken = self
                .db
                .statement(&sql, values)
                .await
                .map_err(self.failed(format!("acquiring the lock `{key}`")))?;
            Ok(taken > 0)
        })
    }

    fn lock_release<'a>(
        &'a self,
        key: &'a str,
        owner: &'a str,
    ) -> BoxFuture<'a, CacheResult<bool>> {
        Box::pin(async move {
            let sql = format!(
                "DELETE FROM {t} WHERE \"key\" = ? AND \"owner\" = ? AND NOT {expired}",
                t = self.lock_table,
                expired = Self::expired(&self.lock_table)
            );
            let values = vec![self.key(key).into(), owner.into(), self.now().into()];
            let released = self
                .db
                .statement(&sql, values)
                .await
                .map_err(self.failed(format!("releasing the lock `{key}`")))?;
            Ok(released > 0)
        })
    }

    fn lock_force_release<'a>(&'a self, key: &'a str) -> BoxFuture<'a, CacheResult<()>> {
        Box::pin(async move {
            let sql = format!("DELETE FROM {t} WHERE \"key\" = ?", t = self.lock_table);
            self.db
                .statement(&sql, vec![self.key(key).into()])
                .await
                .map_err(self.failed(format!("force-releasing the lock `{key}`")))?;
            Ok(())
        })
    }

    fn lock_owner<'a>(&'a self, key: &'a str) -> BoxFuture<'a, CacheResult<Option<String>>> {
        Box::pin(async move {
            let sql = format!(
                "SELECT \"owner\" FROM {t} WHERE \"key\" = ? AND NOT {expired}",
                t = self.lock_table,
                expired = Self::expired(&self.lock_table)
            );
            let rows: Vec<String> = self
                .db
                .select(&sql, vec![self.key(key).into(), self.now().into()])
                .await
                .map_err(self.failed(format!("reading the lock `{key}`")))?;
            Ok(rows.into_iter().next())
        })
    }

    fn ping(&self) -> BoxFuture<'_, CacheResult<()>> {
        Box::pin(async move { self.db.ping().await.map_err(self.failed("pinging")) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_prefix("a_b%c\\"), "a\\_b\\%c\\\\%");
    }
}
