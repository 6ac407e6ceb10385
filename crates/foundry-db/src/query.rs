//! The query builder: Laravel's `DB::table(…)` on top of sea-query, usable without models.
//!
//! Identifiers (tables, columns) are always quoted and escaped; values are always bound as
//! parameters. `where_raw`/`select_raw` exist for what the builder cannot say: their SQL text
//! is the app's own, their values are still bound.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use foundry_db::Db;
//! use serde_json::json;
//! let db = Db::connect("sqlite::memory:").await.unwrap();
//! db.statement("CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT, votes INTEGER)", vec![]).await.unwrap();
//! db.table("posts").insert(json!({"title": "Hello", "votes": 3})).await.unwrap();
//! let popular = db.table("posts").where_op("votes", ">", 2).order_by_desc("id").get().await.unwrap();
//! assert_eq!(popular[0]["title"], "Hello");
//! assert_eq!(
//!     db.table("posts").where_eq("title", "x").to_sql(),
//!     r#"SELECT * FROM "posts" WHERE "title" = ?"#
//! );
//! # });
//! ```

use std::future::Future;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use sea_query::{
    Alias, ColumnRef, Condition, DeleteStatement, DynIden, Expr, ExprTrait, InsertStatement,
    JoinType, Keyword, LockType, OnConflict, Order, PostgresQueryBuilder, QueryStatementBuilder,
    SelectStatement, SqliteQueryBuilder, UpdateStatement, Values,
};
use serde_json::Value as Json;

use crate::connection::{Backend, Db};
use crate::error::{DbError, DbResult};
use crate::exec;
use crate::row::{FromDbRow, Record, Row};

pub use sea_query::Value;

/// A quoted identifier. Always owned, so sea-query escapes embedded quotes.
pub fn iden(name: &str) -> DynIden {
    DynIden::from(name.to_owned())
}

/// A column reference from `"col"`, `"table.col"`, `"*"` or `"table.*"`.
pub fn col_ref(name: &str) -> ColumnRef {
    let name = name.trim();
    match name.rsplit_once('.') {
        Some((table, "*")) => ColumnRef::Asterisk(Some(iden(table).into())),
        Some((table, column)) => (iden(table), iden(column)).into(),
        None if name == "*" => ColumnRef::Asterisk(None),
        None => iden(name).into(),
    }
}

/// An expression for a column (see [`col_ref`]).
pub fn col(name: &str) -> Expr {
    Expr::col(col_ref(name))
}

/// Build SQL and values for `backend`.
pub(crate) fn build<S: QueryStatementBuilder>(backend: Backend, stmt: &S) -> (String, Values) {
    match backend {
        Backend::Sqlite => stmt.build_any(&SqliteQueryBuilder),
        Backend::Postgres => stmt.build_any(&PostgresQueryBuilder),
    }
}

/// Render a SELECT with its trailing `LIMIT`/`OFFSET` written as literals. Bound, they cost a
/// plan on every execution: SQLite (built with STAT4, as the bundled library is) flags the
/// prepared statement as depending on the value and re-prepares it each time, and PostgreSQL
/// finds the generic plan of `LIMIT $1` dearer than a custom one and so re-plans each time
/// (`pg_prepared_statements.custom_plans` grows with every call). The values are our own
/// `u64`s, so writing them into the SQL is safe.
pub(crate) fn build_select(backend: Backend, select: &SelectStatement) -> (String, Values) {
    let (mut sql, mut values) = build(backend, select);
    inline_trailing_limits(&mut sql, &mut values);
    (sql, values)
}

/// `?` (SQLite) or `$n` (PostgreSQL).
fn is_placeholder(word: &str) -> bool {
    word == "?"
        || word
            .strip_prefix('$')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn inline_trailing_limits(sql: &mut String, values: &mut Values) {
    use std::fmt::Write as _;
    // Only a clause that ends the statement: " LIMIT ?", " LIMIT $3 OFFSET $4", " OFFSET ?".
    // Matched without allocating: every model query with a limit passes here.
    let Some(start) = sql.rfind(" LIMIT ").or_else(|| sql.rfind(" OFFSET ")) else {
        return;
    };
    let mut words = sql[start..].split_whitespace();
    let keywords: &[&str] = match (
        words.next(),
        words.next(),
        words.next(),
        words.next(),
        words.next(),
    ) {
        (Some("LIMIT"), Some(l), None, None, None) if is_placeholder(l) => &["LIMIT"],
        (Some("OFFSET"), Some(o), None, None, None) if is_placeholder(o) => &["OFFSET"],
        (Some("LIMIT"), Some(l), Some("OFFSET"), Some(o), None)
            if is_placeholder(l) && is_placeholder(o) =>
        {
            &["LIMIT", "OFFSET"]
        }
        _ => return,
    };
    let Some(tail) = values.0.len().checked_sub(keywords.len()) else {
        return;
    };
    let mut numbers = [0u64; 2];
    for (number, value) in numbers.iter_mut().zip(&values.0[tail..]) {
        match value {
            // Larger numbers stay bound: the executor saturates them to i64.
            Value::BigUnsigned(Some(n)) if i64::try_from(*n).is_ok() => *number = *n,
            _ => return,
        }
    }
    values.0.truncate(tail);
    sql.truncate(start);
    for (keyword, number) in keywords.iter().zip(numbers) {
        let _ = write!(sql, " {keyword} {number}");
    }
}

/// Convert a JSON value to a bound SQL value (`null` becomes the `NULL` keyword so it fits any
/// column type on PostgreSQL).
pub fn json_to_expr(value: Json) -> Expr {
    match value {
        Json::Null => Expr::Keyword(Keyword::Null),
        Json::Bool(b) => Expr::val(b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Expr::val(i),
            None => Expr::val(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Expr::val(s),
        other => Expr::val(other),
    }
}

/// Convert a JSON scalar to a bound value (`null` → a null string value).
pub fn json_value(value: Json) -> Value {
    match value {
        Json::Null => Value::String(None),
        Json::Bool(b) => Value::from(b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::from(i),
            None => Value::from(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::from(s),
        other => Value::Json(Some(Box::new(other))),
    }
}

/// Convert a key-like bound value back to JSON (integers and strings; anything else `null`).
pub fn value_json(value: &Value) -> Json {
    match value {
        Value::BigInt(Some(i)) => Json::from(*i),
        Value::Int(Some(i)) => Json::from(*i),
        Value::SmallInt(Some(i)) => Json::from(*i),
        Value::String(Some(s)) => Json::from(s.clone()),
        _ => Json::Null,
    }
}

/// Values for one row of an insert or update: implemented for a JSON object, a [`Record`], and
/// lists of `(column, Value)` pairs.
pub trait IntoRow {
    /// The `(column, value)` pairs.
    fn into_row(self) -> DbResult<Vec<(String, Expr)>>;
}

impl IntoRow for Json {
    fn into_row(self) -> DbResult<Vec<(String, Expr)>> {
        match self {
            Json::Object(map) => map.into_row(),
            other => Err(DbError::InvalidQuery(format!(
                "a row must be a JSON object of column → value, got `{other}`"
            ))),
        }
    }
}

impl IntoRow for Record {
    fn into_row(self) -> DbResult<Vec<(String, Expr)>> {
        Ok(self
            .into_iter()
            .map(|(k, v)| (k, json_to_expr(v)))
            .collect())
    }
}

impl<K: Into<String>> IntoRow for Vec<(K, Value)> {
    fn into_row(self) -> DbResult<Vec<(String, Expr)>> {
        Ok(self
            .into_iter()
            .map(|(k, v)| (k.into(), Expr::val(v)))
            .collect())
    }
}

impl<K: Into<String>, const N: usize> IntoRow for [(K, Value); N] {
    fn into_row(self) -> DbResult<Vec<(String, Expr)>> {
        Ok(self
            .into_iter()
            .map(|(k, v)| (k.into(), Expr::val(v)))
            .collect())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bool {
    And,
    Or,
}

/// One WHERE/HAVING item, rendered once the dialect is known (raw SQL placeholders and
/// subqueries depend on it).
#[derive(Debug, Clone)]
enum Cond {
    Expr(Expr),
    /// App-written SQL with `?` placeholders, already checked against the value count.
    Raw(String, Vec<Value>),
    Group(Vec<(Bool, Cond)>),
    Exists(Box<Query>, bool),
    InSub(String, Box<Query>),
}

impl Cond {
    fn to_expr(&self, backend: Backend) -> DbResult<Expr> {
        Ok(match self {
            Cond::Expr(e) => e.clone(),
            Cond::Raw(sql, values) => {
                let sql = match backend {
                    Backend::Postgres => crate::raw::numbered_placeholders(sql),
                    Backend::Sqlite => sql.clone(),
                };
                Expr::cust_with_values(sql, values.clone())
            }
            Cond::Group(items) => {
                fold_conditions(items, backend)?.map_or_else(|| Expr::cust("1 = 1"), Expr::from)
            }
            Cond::Exists(sub, negated) => {
                let e = Expr::exists(sub.to_select_for(backend)?);
                if *negated { e.not() } else { e }
            }
            Cond::InSub(column, sub) => col(column).in_subquery(sub.to_select_for(backend)?),
        })
    }
}

fn fold_conditions(items: &[(Bool, Cond)], backend: Backend) -> DbResult<Option<Condition>> {
    if items.is_empty() {
        return Ok(None);
    }
    let mut groups: Vec<Condition> = vec![Condition::all()];
    for (bool, cond) in items {
        if *bool == Bool::Or && !groups.last().is_some_and(Condition::is_empty) {
            groups.push(Condition::all());
        }
        let expr = cond.to_expr(backend)?;
        if let Some(last) = groups.pop() {
            groups.push(last.add(expr));
        }
    }
    Ok(if groups.len() == 1 {
        groups.pop()
    } else {
        Some(groups.into_iter().fold(Condition::any(), Condition::add))
    })
}

/// Check a raw fragment: its `?` placeholders must match the values given.
fn raw_cond(sql: &str, values: Vec<Value>) -> DbResult<Cond> {
    // `$n` is PostgreSQL's placeholder syntax: the fragment is rendered with numbered
    // placeholders there, so a stray `$` (or `$$` quoting) would be misread.
    if crate::raw::has_unquoted_dollar(sql) {
        return Err(DbError::InvalidQuery(format!(
            "raw SQL fragment `{sql}` contains `$` outside quotes; use `?` placeholders (or db.select for full raw SQL)"
        )));
    }
    let placeholders = crate::raw::count_placeholders(sql);
    if placeholders != values.len() {
        return Err(DbError::InvalidQuery(format!(
            "raw SQL `{sql}` has {placeholders} `?` placeholder(s) but {} value(s) were given",
            values.len()
        )));
    }
    Ok(Cond::Raw(sql.to_owned(), values))
}

/// Comparison operators accepted by [`Query::where_op`] (anything else is an error).
fn compare(column: Expr, op: &str, value: Expr) -> DbResult<Expr> {
    Ok(match op.trim().to_ascii_lowercase().as_str() {
        "=" | "==" => column.eq(value),
        "!=" | "<>" => column.ne(value),
        "<" => column.lt(value),
        "<=" => column.lte(value),
        ">" => column.gt(value),
        ">=" => column.gte(value),
        "like" => column.binary(sea_query::BinOper::Like, value),
        "not like" => column.binary(sea_query::BinOper::NotLike, value),
        other => {
            return Err(DbError::InvalidQuery(format!(
                "unknown operator `{other}`; use one of =, !=, <>, <, <=, >, >=, like, not like"
            )));
        }
    })
}

/// A query on one table. Build it with [`Db::table`] (or [`Query::new`] for a detached
/// subquery), chain filters, then run it with a terminal method (`get`, `first`, `count`, …).
#[derive(Debug, Clone)]
pub struct Query {
    db: Option<Db>,
    table: String,
    columns: Vec<Expr>,
    distinct: bool,
    wheres: Vec<(Bool, Cond)>,
    joins: Vec<(JoinType, String, Expr)>,
    orders: Vec<(Expr, Order)>,
    groups: Vec<Expr>,
    havings: Vec<Cond>,
    limit: Option<u64>,
    offset: Option<u64>,
    lock: Option<LockType>,
    error: Option<String>,
}

impl Db {
    /// A query on `table` (Laravel's `DB::table`).
    pub fn table(&self, table: &str) -> Query {
        let mut q = Query::new(table);
        q.db = Some(self.clone());
        q
    }
}

impl Query {
    /// A detached query on `table` (for subqueries; run queries from [`Db::table`]).
    pub fn new(table: &str) -> Self {
        Self {
            db: None,
            table: table.to_owned(),
            columns: Vec::new(),
            distinct: false,
            wheres: Vec::new(),
            joins: Vec::new(),
            orders: Vec::new(),
            groups: Vec::new(),
            havings: Vec::new(),
            limit: None,
            offset: None,
            lock: None,
            error: None,
        }
    }

    /// The table this query reads.
    pub fn table_name(&self) -> &str {
        &self.table
    }

    /// The connection this query runs on, if attached.
    pub fn db(&self) -> Option<&Db> {
        self.db.as_ref()
    }

    fn fail(mut self, message: String) -> Self {
        self.error.get_or_insert(message);
        self
    }

    fn push(self, bool: Bool, expr: DbResult<Expr>) -> Self {
        self.push_cond(bool, expr.map(Cond::Expr))
    }

    fn push_cond(mut self, bool: Bool, cond: DbResult<Cond>) -> Self {
        match cond {
            Ok(cond) => {
                self.wheres.push((bool, cond));
                self
            }
            Err(e) => self.fail(e.to_string()),
        }
    }

    // ---- select list ----

    /// Select these columns (`"id"`, `"posts.title"`, `"title as heading"`).
    pub fn select<I, S>(mut self, columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.columns.clear();
        self.add_select(columns)
    }

    /// Add columns to the select list.
    pub fn add_select<I, S>(mut self, columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for c in columns {
            let c = c.as_ref();
            let lower = c.to_ascii_lowercase();
            match lower.find(" as ") {
                Some(at) => {
                    let (name, alias) = (&c[..at], &c[at + 4..]);
                    self.columns.push(
                        col(name).binary(sea_query::BinOper::As, Expr::col(iden(alias.trim()))),
                    );
                }
                None => self.columns.push(col(c)),
            }
        }
        self
    }

    /// Replace the select list with `exprs`, moved in rather than pushed one by one.
    pub(crate) fn select_exprs(mut self, exprs: Vec<Expr>) -> Self {
        self.columns = exprs;
        self
    }

    /// Add a raw expression to the select list (`"COUNT(*) AS n"`); the text is the app's own.
    pub fn select_raw(mut self, sql: &str) -> Self {
        self.columns.push(Expr::cust(sql.to_owned()));
        self
    }

    /// Add an arbitrary sea-query expression to the select list.
    pub fn select_expr(mut self, expr: Expr) -> Self {
        self.columns.push(expr);
        self
    }

    /// `SELECT DISTINCT`.
    pub fn distinct(mut self) -> Self {
        self.distinct = true;
        self
    }

    // ---- where ----

    /// `column = value`.
    pub fn where_eq(self, column: &str, value: impl Into<Value>) -> Self {
        self.push(Bool::And, Ok(col(column).eq(Expr::val(value.into()))))
    }

    /// `OR column = value`.
    pub fn or_where_eq(self, column: &str, value: impl Into<Value>) -> Self {
        self.push(Bool::Or, Ok(col(column).eq(Expr::val(value.into()))))
    }

    /// `column <op> value` with op one of `=, !=, <>, <, <=, >, >=, like, not like`.
    pub fn where_op(self, column: &str, op: &str, value: impl Into<Value>) -> Self {
        let expr = compare(col(column), op, Expr::val(value.into()));
        self.push(Bool::And, expr)
    }

    /// `OR column <op> value`.
    pub fn or_where_op(self, column: &str, op: &str, value: impl Into<Value>) -> Self {
        let expr = compare(col(column), op, Expr::val(value.into()));
        self.push(Bool::Or, expr)
    }

    /// `column LIKE pattern`.
    pub fn where_like(self, column: &str, pattern: &str) -> Self {
        self.where_op(column, "like", pattern)
    }

    /// `first <op> second`, comparing two columns.
    pub fn where_column(self, first: &str, op: &str, second: &str) -> Self {
        let expr = compare(col(first), op, col(second));
        self.push(Bool::And, expr)
    }

    /// `column IN (…)`; an empty list matches nothing.
    pub fn where_in<I, V>(self, column: &str, values: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: Into<Value>,
    {
        let values: Vec<Value> = values.into_iter().map(Into::into).collect();
        let expr = if values.is_empty() {
            Expr::cust("1 = 0")
        } else {
            col(column).is_in(values)
        };
        self.push(Bool::And, Ok(expr))
    }

    /// `OR column IN (…)`.
    pub fn or_where_in<I, V>(self, column: &str, values: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: Into<Value>,
    {
        let values: Vec<Value> = values.into_iter().map(Into::into).collect();
        let expr = if values.is_empty() {
            Expr::cust("1 = 0")
        } else {
            col(column).is_in(values)
        };
        self.push(Bool::Or, Ok(expr))
    }

    /// `column NOT IN (…)`; an empty list matches everything.
    pub fn where_not_in<I, V>(self, column: &str, values: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: Into<Value>,
    {
        let values: Vec<Value> = values.into_iter().map(Into::into).collect();
        let expr = if values.is_empty() {
            Expr::cust("1 = 1")
        } else {
            col(column).is_not_in(values)
        };
        self.push(Bool::And, Ok(expr))
    }

    /// `column IN (subquery)`.
    pub fn where_in_sub(self, column: &str, sub: Query) -> Self {
        let cond = sub
            .check()
            .map(|()| Cond::InSub(column.to_owned(), Box::new(sub)));
        self.push_cond(Bool::And, cond)
    }

    /// `column IS NULL`.
    pub fn where_null(self, column: &str) -> Self {
        self.push(Bool::And, Ok(col(column).is_null()))
    }

    /// `OR column IS NULL`.
    pub fn or_where_null(self, column: &str) -> Self {
        self.push(Bool::Or, Ok(col(column).is_null()))
    }

    /// `column IS NOT NULL`.
    pub fn where_not_null(self, column: &str) -> Self {
        self.push(Bool::And, Ok(col(column).is_not_null()))
    }

    /// `OR column IS NOT NULL`.
    pub fn or_where_not_null(self, column: &str) -> Self {
        self.push(Bool::Or, Ok(col(column).is_not_null()))
    }

    /// `column BETWEEN low AND high`.
    pub fn where_between(
        self,
        column: &str,
        low: impl Into<Value>,
        high: impl Into<Value>,
    ) -> Self {
        let expr = col(column).between(Expr::val(low.into()), Expr::val(high.into()));
        self.push(Bool::And, Ok(expr))
    }

    /// `column NOT BETWEEN low AND high`.
    pub fn where_not_between(
        self,
        column: &str,
        low: impl Into<Value>,
        high: impl Into<Value>,
    ) -> Self {
        let expr = col(column).not_between(Expr::val(low.into()), Expr::val(high.into()));
        self.push(Bool::And, Ok(expr))
    }

    /// `EXISTS (subquery)`.
    pub fn where_exists(self, sub: Query) -> Self {
        let cond = sub.check().map(|()| Cond::Exists(Box::new(sub), false));
        self.push_cond(Bool::And, cond)
    }

    /// `NOT EXISTS (subquery)`.
    pub fn where_not_exists(self, sub: Query) -> Self {
        let cond = sub.check().map(|()| Cond::Exists(Box::new(sub), true));
        self.push_cond(Bool::And, cond)
    }

    /// A parenthesised group: `AND (…)`, built by `f` on an empty query.
    pub fn where_group(self, f: impl FnOnce(Query) -> Query) -> Self {
        let group = f(Query::new(&self.table));
        let cond = group.check().map(|()| Cond::Group(group.wheres));
        self.push_cond(Bool::And, cond)
    }

    /// A parenthesised group joined with `OR`.
    pub fn or_where_group(self, f: impl FnOnce(Query) -> Query) -> Self {
        let group = f(Query::new(&self.table));
        let cond = group.check().map(|()| Cond::Group(group.wheres));
        self.push_cond(Bool::Or, cond)
    }

    /// A raw condition (`"lower(email) = ?"`); the SQL text is the app's own, values are bound.
    pub fn where_raw<I, V>(self, sql: &str, values: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: Into<Value>,
    {
        let cond = raw_cond(sql, values.into_iter().map(Into::into).collect());
        self.push_cond(Bool::And, cond)
    }

    /// Any sea-query condition expression.
    pub fn where_expr(self, expr: Expr) -> Self {
        self.push(Bool::And, Ok(expr))
    }

    /// Apply `f` only when `condition` holds (Laravel's `when`).
    pub fn when(self, condition: bool, f: impl FnOnce(Query) -> Query) -> Self {
        if condition { f(self) } else { self }
    }

    // ---- joins, order, group, limit ----

    /// `INNER JOIN table ON first op second`.
    pub fn join(self, table: &str, first: &str, op: &str, second: &str) -> Self {
        self.join_kind(JoinType::InnerJoin, table, first, op, second)
    }

    /// `LEFT JOIN table ON first op second`.
    pub fn left_join(self, table: &str, first: &str, op: &str, second: &str) -> Self {
        self.join_kind(JoinType::LeftJoin, table, first, op, second)
    }

    fn join_kind(
        mut self,
        kind: JoinType,
        table: &str,
        first: &str,
        op: &str,
        second: &str,
    ) -> Self {
        match compare(col(first), op, col(second)) {
            Ok(on) => {
                self.joins.push((kind, table.to_owned(), on));
                self
            }
            Err(e) => self.fail(e.to_string()),
        }
    }

    /// `ORDER BY column <direction>` with direction `asc` or `desc`.
    pub fn order_by(mut self, column: &str, direction: &str) -> Self {
        let order = match direction.trim().to_ascii_lowercase().as_str() {
            "asc" => Order::Asc,
            "desc" => Order::Desc,
            other => {
                return self.fail(format!(
                    "unknown order direction `{other}`; use asc or desc"
                ));
            }
        };
        self.orders.push((col(column), order));
        self
    }

    /// `ORDER BY column ASC`.
    pub fn order_by_asc(self, column: &str) -> Self {
        self.order_by(column, "asc")
    }

    /// `ORDER BY column DESC`.
    pub fn order_by_desc(self, column: &str) -> Self {
        self.order_by(column, "desc")
    }

    /// Newest first by `column` (Laravel's `latest`).
    pub fn latest(self, column: &str) -> Self {
        self.order_by_desc(column)
    }

    /// Oldest first by `column`.
    pub fn oldest(self, column: &str) -> Self {
        self.order_by_asc(column)
    }

    /// Remove every ordering.
    pub fn reorder(mut self) -> Self {
        self.orders.clear();
        self
    }

    /// `GROUP BY` these columns.
    pub fn group_by<I, S>(mut self, columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.groups
            .extend(columns.into_iter().map(|c| col(c.as_ref())));
        self
    }

    /// `HAVING column op value` (column may be an alias from the select list).
    pub fn having(mut self, column: &str, op: &str, value: impl Into<Value>) -> Self {
        match compare(col(column), op, Expr::val(value.into())) {
            Ok(e) => {
                self.havings.push(Cond::Expr(e));
                self
            }
            Err(e) => self.fail(e.to_string()),
        }
    }

    /// A raw `HAVING` condition (`"COUNT(*) > ?"`), values bound.
    pub fn having_raw<I, V>(mut self, sql: &str, values: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: Into<Value>,
    {
        match raw_cond(sql, values.into_iter().map(Into::into).collect()) {
            Ok(cond) => {
                self.havings.push(cond);
                self
            }
            Err(e) => self.fail(e.to_string()),
        }
    }

    /// `LIMIT n`.
    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    /// `OFFSET n`.
    pub fn offset(mut self, n: u64) -> Self {
        self.offset = Some(n);
        self
    }

    /// Alias of [`Query::limit`].
    pub fn take(self, n: u64) -> Self {
        self.limit(n)
    }

    /// Alias of [`Query::offset`].
    pub fn skip(self, n: u64) -> Self {
        self.offset(n)
    }

    /// `FOR UPDATE` on PostgreSQL (SQLite locks the whole database on write; nothing to add).
    pub fn lock_for_update(mut self) -> Self {
        self.lock = Some(LockType::Update);
        self
    }

    /// `FOR SHARE` on PostgreSQL.
    pub fn shared_lock(mut self) -> Self {
        self.lock = Some(LockType::Share);
        self
    }

    // ---- rendering ----

    pub(crate) fn check(&self) -> DbResult<()> {
        match &self.error {
            Some(e) => Err(DbError::InvalidQuery(e.clone())),
            None => Ok(()),
        }
    }

    fn backend(&self) -> Backend {
        self.db.as_ref().map_or(Backend::Sqlite, Db::backend)
    }

    fn need_db(&self) -> DbResult<&Db> {
        self.check()?;
        self.db.as_ref().ok_or_else(|| {
            DbError::InvalidQuery(format!(
                "query on `{}` has no connection; start it with db.table(…)",
                self.table
            ))
        })
    }

    /// The WHERE clause as one condition: AND within groups, OR between them (SQL precedence).
    pub(crate) fn condition(&self, backend: Backend) -> DbResult<Option<Condition>> {
        fold_conditions(&self.wheres, backend)
    }

    /// The sea-query SELECT statement in this connection's dialect (SQLite when detached).
    pub fn to_select(&self) -> DbResult<SelectStatement> {
        self.to_select_for(self.backend())
    }

    /// The sea-query SELECT statement for `backend`.
    pub fn to_select_for(&self, backend: Backend) -> DbResult<SelectStatement> {
        self.check()?;
        let mut s = SelectStatement::new();
        if self.columns.is_empty() {
            s.column(ColumnRef::Asterisk(None));
        } else {
            s.exprs(self.columns.clone());
        }
        self.finish_select(s, backend)
    }

    /// Like [`Query::to_select_for`], moving the select list instead of cloning it.
    fn into_select_for(mut self, backend: Backend) -> DbResult<SelectStatement> {
        self.check()?;
        let mut s = SelectStatement::new();
        if self.columns.is_empty() {
            s.column(ColumnRef::Asterisk(None));
        } else {
            s.exprs(std::mem::take(&mut self.columns));
        }
        // Moved here rather than cloned by `finish_select` (clause order in the text is
        // sea-query's, not the order of these calls).
        let orders = std::mem::take(&mut self.orders);
        let mut s = self.finish_select(s, backend)?;
        for (e, o) in orders {
            s.order_by_expr(e, o);
        }
        Ok(s)
    }

    fn finish_select(&self, mut s: SelectStatement, backend: Backend) -> DbResult<SelectStatement> {
        s.from(iden(&self.table));
        if self.distinct {
            s.distinct();
        }
        for (kind, table, on) in &self.joins {
            s.join(*kind, iden(table), on.clone());
        }
        if let Some(cond) = self.condition(backend)? {
            s.cond_where(cond);
        }
        for g in &self.groups {
            s.add_group_by([g.clone()]);
        }
        for h in &self.havings {
            s.and_having(h.to_expr(backend)?);
        }
        for (e, o) in &self.orders {
            s.order_by_expr(e.clone(), o.clone());
        }
        if let Some(l) = self.limit {
            s.limit(l);
        }
        if let Some(o) = self.offset {
            s.offset(o);
        }
        if let Some(lock) = self.lock {
            s.lock(lock);
        }
        Ok(s)
    }

    /// The SELECT with `?`/`$n` placeholders, in this connection's dialect (SQLite when
    /// detached). Invalid queries render as `-- invalid query: …`.
    pub fn to_sql(&self) -> String {
        self.to_sql_with_values().0
    }

    /// The SELECT and its bound values.
    pub fn to_sql_with_values(&self) -> (String, Values) {
        match self.to_select() {
            Ok(s) => build_select(self.backend(), &s),
            Err(e) => (format!("-- {e}"), Values(Vec::new())),
        }
    }

    /// The SELECT in `backend`'s dialect.
    pub fn to_sql_for(&self, backend: Backend) -> String {
        match self.to_select_for(backend) {
            Ok(s) => build_select(backend, &s).0,
            Err(e) => format!("-- {e}"),
        }
    }

    // ---- reading ----

    /// Run the SELECT and return the raw rows.
    pub async fn fetch_rows(&self) -> DbResult<Vec<Row>> {
        let db = self.need_db()?;
        let (sql, values) = build_select(db.backend(), &self.to_select()?);
        exec::fetch_all(db, sql, values).await
    }

    /// [`Query::fetch_rows`] consuming the query (no copy of the select list).
    pub(crate) async fn fetch_rows_owned(self) -> DbResult<Vec<Row>> {
        let db = self.need_db()?.clone();
        let (sql, values) = build_select(db.backend(), &self.into_select_for(db.backend())?);
        exec::fetch_all(&db, sql, values).await
    }

    /// Every matching row as JSON records.
    pub async fn get(&self) -> DbResult<Vec<Record>> {
        self.get_as().await
    }

    /// Every matching row decoded as `T`.
    pub async fn get_as<T: FromDbRow>(&self) -> DbResult<Vec<T>> {
        self.fetch_rows()
            .await?
            .iter()
            .map(T::from_db_row)
            .collect()
    }

    /// The first matching row.
    pub async fn first(&self) -> DbResult<Option<Record>> {
        self.first_as().await
    }

    /// The first matching row decoded as `T`.
    pub async fn first_as<T: FromDbRow>(&self) -> DbResult<Option<T>> {
        let db = self.need_db()?;
        let (sql, values) = build_select(db.backend(), &self.clone().limit(1).to_select()?);
        match exec::fetch_optional(db, sql, values).await? {
            Some(row) => T::from_db_row(&row).map(Some),
            None => Ok(None),
        }
    }

    /// The first matching row, or [`DbError::NotFound`] (a 404 over HTTP).
    pub async fn first_or_fail(&self) -> DbResult<Record> {
        self.first().await?.ok_or_else(|| DbError::NotFound {
            model: self.table.clone(),
            key: "matching the query".into(),
        })
    }

    /// The values of one column.
    pub async fn pluck(&self, column: &str) -> DbResult<Vec<Json>> {
        let rows = self.clone().select([column]).fetch_rows().await?;
        rows.iter()
            .map(|r| {
                r.to_record()
                    .map(|rec| rec.into_iter().next().map_or(Json::Null, |(_, v)| v))
            })
            .collect()
    }

    /// The values of one column decoded as `T`.
    pub async fn pluck_as<T: crate::DbDecode>(&self, column: &str) -> DbResult<Vec<T>> {
        let rows = self.clone().select([column]).fetch_rows().await?;
        rows.iter().map(|r| r.get_index(0)).collect()
    }

    /// Whether any row matches.
    pub async fn exists(&self) -> DbResult<bool> {
        let db = self.need_db()?;
        let inner = self
            .clone()
            .reorder()
            .select_raw("1")
            .limit(1)
            .to_select()?;
        let mut s = SelectStatement::new();
        s.expr_as(Expr::exists(inner), Alias::new("found"));
        let (sql, values) = build(db.backend(), &s);
        let row = exec::fetch_optional(db, sql, values).await?;
        Ok(row
            .map(|r| r.get_index::<bool>(0))
            .transpose()?
            .unwrap_or(false))
    }

    /// Whether no row matches.
    pub async fn doesnt_exist(&self) -> DbResult<bool> {
        Ok(!self.exists().await?)
    }

    async fn aggregate(&self, expr: Expr) -> DbResult<Row> {
        let db = self.need_db()?;
        let mut q = self.clone().reorder();
        q.limit = None;
        q.offset = None;
        let s = if q.groups.is_empty() && !q.distinct {
            q.columns = vec![expr];
            q.to_select()?
        } else {
            // Aggregate over the grouped/distinct result.
            let mut outer = SelectStatement::new();
            outer
                .expr(expr)
                .from_subquery(q.to_select()?, Alias::new("aggregate_source"));
            outer
        };
        let (sql, values) = build(db.backend(), &s);
        exec::fetch_optional(db, sql, values)
            .await?
            .ok_or_else(|| DbError::InvalidQuery("aggregate returned no row".into()))
    }

    /// `COUNT(*)`.
    pub async fn count(&self) -> DbResult<i64> {
        self.aggregate(Expr::cust("COUNT(*)")).await?.get_index(0)
    }

    /// `SUM(column)` as a float (`None` when no rows match).
    pub async fn sum(&self, column: &str) -> DbResult<Option<f64>> {
        let expr = col(column).sum().cast_as(Alias::new("DOUBLE PRECISION"));
        self.aggregate(expr).await?.get_index(0)
    }

    /// `AVG(column)` (`None` when no rows match).
    pub async fn avg(&self, column: &str) -> DbResult<Option<f64>> {
        let expr = col(column).avg().cast_as(Alias::new("DOUBLE PRECISION"));
        self.aggregate(expr).await?.get_index(0)
    }

    /// `MIN(column)` as JSON (`null` when no rows match).
    pub async fn min(&self, column: &str) -> DbResult<Json> {
        let rec = self.aggregate(col(column).min()).await?.to_record()?;
        Ok(rec.into_iter().next().map_or(Json::Null, |(_, v)| v))
    }

    /// `MAX(column)` as JSON (`null` when no rows match).
    pub async fn max(&self, column: &str) -> DbResult<Json> {
        let rec = self.aggregate(col(column).max()).await?.to_record()?;
        Ok(rec.into_iter().next().map_or(Json::Null, |(_, v)| v))
    }

    /// Process matching rows in chunks of `size`, paging by `id_column` (`WHERE id > last`),
    /// which stays correct when the callback updates rows. Stops early when `f` returns
    /// `Ok(false)`.
    pub async fn chunk_by_id<F, Fut>(&self, size: u64, id_column: &str, mut f: F) -> DbResult<()>
    where
        F: FnMut(Vec<Record>) -> Fut,
        Fut: Future<Output = DbResult<bool>>,
    {
        let size = std::cmp::max(size, 1);
        let key = id_column.rsplit('.').next().unwrap_or(id_column).to_owned();
        let mut last: Option<i64> = None;
        loop {
            let mut q = self.clone().reorder().order_by_asc(id_column).limit(size);
            if let Some(last) = last {
                q = q.where_op(id_column, ">", last);
            }
            let rows = q.get().await?;
            let n = rows.len() as u64;
            let Some(next) = rows.last().and_then(|r| r.get(&key)).and_then(Json::as_i64) else {
                return Ok(());
            };
            last = Some(next);
            if !f(rows).await? || n < size {
                return Ok(());
            }
        }
    }

    /// Stream matching rows one by one without loading them all (Laravel's `cursor`).
    pub fn cursor(&self) -> BoxStream<'static, DbResult<Record>> {
        match self
            .need_db()
            .and_then(|db| Ok((db.clone(), self.to_select()?)))
        {
            Ok((db, s)) => {
                let (sql, values) = build_select(db.backend(), &s);
                exec::fetch_stream(&db, sql, values)
                    .map(|row| row.and_then(|r| r.to_record()))
                    .boxed()
            }
            Err(e) => futures_util::stream::once(async move { Err(e) }).boxed(),
        }
    }

    // ---- writing ----

    fn insert_statement<R: IntoRow>(&self, rows: Vec<R>) -> DbResult<InsertStatement> {
        self.check()?;
        let mut stmt = InsertStatement::new();
        stmt.into_table(iden(&self.table));
        let mut columns: Option<Vec<String>> = None;
        for row in rows {
            let row = row.into_row()?;
            let names: Vec<String> = row.iter().map(|(c, _)| c.clone()).collect();
            match &columns {
                None => {
                    stmt.columns(names.iter().map(|c| iden(c)));
                    columns = Some(names);
                }
                Some(first) if *first != names => {
                    return Err(DbError::InvalidQuery(format!(
                        "every row of a batch insert into `{}` needs the same columns in the same order: {first:?} vs {names:?}",
                        self.table
                    )));
                }
                Some(_) => {}
            }
            stmt.values(row.into_iter().map(|(_, v)| v))
                .map_err(|e| DbError::InvalidQuery(e.to_string()))?;
        }
        match columns {
            Some(c) if !c.is_empty() => Ok(stmt),
            Some(_) => {
                stmt.or_default_values();
                Ok(stmt)
            }
            None => Err(DbError::InvalidQuery(format!(
                "nothing to insert into `{}`",
                self.table
            ))),
        }
    }

    /// Insert one row; returns the number of rows inserted.
    pub async fn insert(&self, row: impl IntoRow) -> DbResult<u64> {
        self.insert_many(vec![row]).await
    }

    /// Insert several rows in one statement.
    pub async fn insert_many<R: IntoRow>(&self, rows: Vec<R>) -> DbResult<u64> {
        let db = self.need_db()?;
        if rows.is_empty() {
            return Ok(0);
        }
        let (sql, values) = build(db.backend(), &self.insert_statement(rows)?);
        exec::execute(db, sql, values).await
    }

    /// Insert one row and return its `id`.
    pub async fn insert_get_id(&self, row: impl IntoRow) -> DbResult<i64> {
        let db = self.need_db()?;
        let mut stmt = self.insert_statement(vec![row])?;
        stmt.returning_col(iden("id"));
        let (sql, values) = build(db.backend(), &stmt);
        let row = exec::fetch_optional(db, sql, values)
            .await?
            .ok_or_else(|| DbError::InvalidQuery("insert returned no id".into()))?;
        row.get_index(0)
    }

    /// Insert rows, or update `update_columns` of the rows that collide on `unique_by`.
    pub async fn upsert<R: IntoRow>(
        &self,
        rows: Vec<R>,
        unique_by: &[&str],
        update_columns: &[&str],
    ) -> DbResult<u64> {
        let db = self.need_db()?;
        if rows.is_empty() {
            return Ok(0);
        }
        if unique_by.is_empty() {
            return Err(DbError::InvalidQuery(
                "upsert needs at least one unique_by column".into(),
            ));
        }
        let mut stmt = self.insert_statement(rows)?;
        let mut on = OnConflict::columns(unique_by.iter().map(|c| iden(c)));
        if update_columns.is_empty() {
            on.do_nothing();
        } else {
            on.update_columns(update_columns.iter().map(|c| iden(c)));
        }
        stmt.on_conflict(on);
        let (sql, values) = build(db.backend(), &stmt);
        exec::execute(db, sql, values).await
    }

    /// Update matching rows; returns the number of rows changed.
    pub async fn update(&self, row: impl IntoRow) -> DbResult<u64> {
        let row = row.into_row()?;
        self.update_exprs(row).await
    }

    /// Update matching rows with expressions (`col = col + 1`, …).
    pub async fn update_exprs(&self, row: Vec<(String, Expr)>) -> DbResult<u64> {
        let db = self.need_db()?;
        if row.is_empty() {
            return Err(DbError::InvalidQuery(format!(
                "update of `{}` with no columns",
                self.table
            )));
        }
        let mut stmt = UpdateStatement::new();
        stmt.table(iden(&self.table));
        stmt.values(row.into_iter().map(|(c, v)| (iden(&c), v)));
        if let Some(cond) = self.condition(db.backend())? {
            stmt.cond_where(cond);
        }
        let (sql, values) = build(db.backend(), &stmt);
        exec::execute(db, sql, values).await
    }

    /// `column = column + by` on matching rows.
    pub async fn increment(&self, column: &str, by: i64) -> DbResult<u64> {
        self.update_exprs(vec![(column.to_owned(), col(column).add(by))])
            .await
    }

    /// `column = column - by` on matching rows.
    pub async fn decrement(&self, column: &str, by: i64) -> DbResult<u64> {
        self.update_exprs(vec![(column.to_owned(), col(column).sub(by))])
            .await
    }

    /// Delete matching rows; returns how many.
    pub async fn delete(&self) -> DbResult<u64> {
        let db = self.need_db()?;
        let mut stmt = DeleteStatement::new();
        stmt.from_table(iden(&self.table));
        if let Some(cond) = self.condition(db.backend())? {
            stmt.cond_where(cond);
        }
        let (sql, values) = build(db.backend(), &stmt);
        exec::execute(db, sql, values).await
    }
}
