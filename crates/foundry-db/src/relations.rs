//! Relations: `has_one`, `has_many`, `belongs_to`, `belongs_to_many` (pivot table),
//! `has_many_through`. Eager loading issues one query per relation and level (no N+1).
//!
//! A model declares its relations in [`crate::model::ModelHooks::relation`]:
//!
//! ```
//! use foundry_db::{Model, ModelHooks, Relation, Relations, belongs_to, belongs_to_many, has_many};
//!
//! #[derive(Model, Clone, Debug)]
//! struct User { id: i64, name: String }
//!
//! #[derive(Model, Clone, Debug)]
//! struct Comment { id: i64, post_id: i64, body: String }
//!
//! #[derive(Model, Clone, Debug)]
//! struct Tag { id: i64, name: String, relations: Relations }
//!
//! #[derive(Model, Clone, Debug)]
//! #[model(hooks)]
//! struct Post { id: i64, user_id: i64, title: String, relations: Relations }
//!
//! impl ModelHooks for Post {
//!     fn relation(name: &str) -> Option<Relation<Self>> {
//!         match name {
//!             "author" => Some(belongs_to::<Self, User>("user_id")),
//!             "comments" => Some(has_many::<Self, Comment>("post_id")),
//!             "tags" => Some(belongs_to_many::<Self, Tag>("post_tag", "post_id", "tag_id")),
//!             _ => None,
//!         }
//!     }
//! }
//! ```

use std::any::TypeId;
use std::collections::{HashMap, HashSet};
use std::marker::PhantomData;
use std::sync::{Arc, PoisonError};

use foundry_core::BoxFuture;
use sea_query::Values;
use serde_json::{Map, Value as Json};

use crate::connection::{Backend, Db};
use crate::error::{DbError, DbResult};
use crate::exec;
use crate::model::{Constraint, LoadedRelation, Model, ModelExt, ModelQuery};
use crate::query::{Query, Value};

/// A key as text, for matching parents and children.
pub(crate) fn key_text(value: &Value) -> Option<String> {
    match value {
        Value::BigInt(Some(i)) => Some(i.to_string()),
        Value::Int(Some(i)) => Some(i.to_string()),
        Value::SmallInt(Some(i)) => Some(i.to_string()),
        Value::String(Some(s)) => Some(s.clone()),
        _ => None,
    }
}

fn json_key_text(value: &Json) -> Option<String> {
    match value {
        Json::Number(n) => Some(n.to_string()),
        Json::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// A key for matching eager-loaded children to parents: integers as integers (no allocation
/// per row), other keys as text; a numeric string matches the same integer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum RelationKey {
    Int(i64),
    Text(String),
}

impl RelationKey {
    fn text(s: &str) -> Self {
        s.parse()
            .map_or_else(|_| RelationKey::Text(s.to_owned()), RelationKey::Int)
    }

    fn of(value: &Value) -> Option<Self> {
        match value {
            Value::BigInt(Some(i)) => Some(RelationKey::Int(*i)),
            Value::Int(Some(i)) => Some(RelationKey::Int(i64::from(*i))),
            Value::SmallInt(Some(i)) => Some(RelationKey::Int(i64::from(*i))),
            Value::String(Some(s)) => Some(RelationKey::text(s)),
            _ => None,
        }
    }

    fn of_json(value: &Json) -> Option<Self> {
        match value {
            Json::Number(n) => Some(
                n.as_i64()
                    .map_or_else(|| RelationKey::Text(n.to_string()), RelationKey::Int),
            ),
            Json::String(s) => Some(RelationKey::text(s)),
            _ => None,
        }
    }
}

/// Maps keyed by [`RelationKey`]: integer keys hash faster with foldhash than with SipHash, and
/// the keys come from our own database rows, not from clients.
type KeyMap<V> = HashMap<RelationKey, V, foldhash::fast::RandomState>;

fn key_map<V>(capacity: usize) -> KeyMap<V> {
    HashMap::with_capacity_and_hasher(capacity, foldhash::fast::RandomState::default())
}

fn qualified(table: &str, column: &str) -> String {
    format!("{table}.{column}")
}

/// What kind of relation, with its keys.
#[derive(Debug, Clone, PartialEq)]
pub enum RelationKind {
    /// Parent has one child whose `foreign_key` points to the parent's key.
    HasOne {
        /// The child's column.
        foreign_key: String,
    },
    /// Parent has many children.
    HasMany {
        /// The child's column.
        foreign_key: String,
    },
    /// Parent's `foreign_key` points to the related model's key.
    BelongsTo {
        /// The parent's column.
        foreign_key: String,
    },
    /// Many-to-many through a pivot table.
    BelongsToMany(PivotTable),
    /// Parent → through model (`first_key` on it) → related (`second_key` on it).
    HasManyThrough {
        /// The intermediate table.
        through_table: String,
        /// The intermediate table's key.
        through_key: String,
        /// The intermediate table's column pointing to the parent.
        first_key: String,
        /// The related table's column pointing to the intermediate model.
        second_key: String,
    },
}

/// A relation of parent model `P`, returned by `ModelHooks::relation`.
pub struct Relation<P: Model> {
    kind: RelationKind,
    imp: Arc<dyn RelationImpl<P>>,
}

impl<P: Model> std::fmt::Debug for Relation<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relation")
            .field("kind", &self.kind)
            .finish()
    }
}

trait RelationImpl<P: Model>: Send + Sync {
    fn exists_query(&self, kind: &RelationKind) -> Query;
    fn eager<'a>(
        &'a self,
        kind: &'a RelationKind,
        db: &'a Db,
        name: &'a str,
        parents: &'a mut [P],
        nested: Vec<String>,
        constraint: Option<Constraint>,
    ) -> BoxFuture<'a, DbResult<()>>;
}

struct Typed<P, R>(PhantomData<fn() -> (P, R)>);

fn scoped_related<R: Model>() -> Query {
    // A detached copy of R's global scopes and soft-delete filter for subqueries.
    let mut q = Query::new(R::TABLE);
    for scope in R::global_scopes() {
        q = (scope.apply)(q);
    }
    if R::SOFT_DELETES {
        q = q.where_null(&qualified(R::TABLE, "deleted_at"));
    }
    q
}

fn set_rel<P: Model>(
    parent: &mut P,
    name: &Arc<str>,
    value: Arc<dyn LoadedRelation>,
) -> DbResult<()> {
    match parent.relations_mut() {
        Some(rel) => {
            rel.set_shared(Arc::clone(name), value);
            Ok(())
        }
        None => Err(DbError::InvalidQuery(format!(
            "model {} has no `Relations` field to hold relation `{name}`; add `pub relations: Relations`",
            P::NAME
        ))),
    }
}

impl<P: Model, R: Model + ModelExt> RelationImpl<P> for Typed<P, R> {
    fn exists_query(&self, kind: &RelationKind) -> Query {
        let q = scoped_related::<R>().select_raw("1");
        match kind {
            RelationKind::HasOne { foreign_key } | RelationKind::HasMany { foreign_key } => q
                .where_column(
                    &qualified(R::TABLE, foreign_key),
                    "=",
                    &qualified(P::TABLE, P::PRIMARY_KEY),
                ),
            RelationKind::BelongsTo { foreign_key } => q.where_column(
                &qualified(R::TABLE, R::PRIMARY_KEY),
                "=",
                &qualified(P::TABLE, foreign_key),
            ),
            RelationKind::BelongsToMany(p) => q
                .join(
                    &p.table,
                    &qualified(&p.table, &p.related_key),
                    "=",
                    &qualified(R::TABLE, R::PRIMARY_KEY),
                )
                .where_column(
                    &qualified(&p.table, &p.parent_key),
                    "=",
                    &qualified(P::TABLE, P::PRIMARY_KEY),
                ),
            RelationKind::HasManyThrough {
                through_table,
                through_key,
                first_key,
                second_key,
            } => q
                .join(
                    through_table,
                    &qualified(through_table, through_key),
                    "=",
                    &qualified(R::TABLE, second_key),
                )
                .where_column(
                    &qualified(through_table, first_key),
                    "=",
                    &qualified(P::TABLE, P::PRIMARY_KEY),
                ),
        }
    }

    fn eager<'a>(
        &'a self,
        kind: &'a RelationKind,
        db: &'a Db,
        name: &'a str,
        parents: &'a mut [P],
        nested: Vec<String>,
        constraint: Option<Constraint>,
    ) -> BoxFuture<'a, DbResult<()>> {
        Box::pin(async move {
            let name: Arc<str> = Arc::from(name);
            let name = &name;
            let constrain = |q: ModelQuery<R>| match &constraint {
                Some(c) => {
                    let c = c.clone();
                    q.tap(move |inner| c(inner))
                }
                None => q,
            };
            match kind {
                RelationKind::BelongsTo { foreign_key } => {
                    let keys: Vec<Value> =
                        unique_keys(parents.iter().filter_map(|p| p.column_value(foreign_key)));
                    let related = if keys.is_empty() {
                        Vec::new()
                    } else {
                        related_in::<R>(db, R::PRIMARY_KEY, keys, nested, constraint.as_ref())
                            .await?
                    };
                    // Parents pointing at the same row share one loaded value, as in Laravel.
                    let mut by_key: KeyMap<Arc<dyn LoadedRelation>> = key_map(related.len());
                    for r in related {
                        if let Some(k) = RelationKey::of(&r.key()) {
                            by_key.insert(k, Arc::new(Some(r)));
                        }
                    }
                    let missing: Arc<dyn LoadedRelation> = Arc::new(None::<R>);
                    assign(parents, name, &by_key, &missing, |p| {
                        p.column_value(foreign_key)
                            .and_then(|v| RelationKey::of(&v))
                    })?;
                }
                RelationKind::HasOne { foreign_key } | RelationKind::HasMany { foreign_key } => {
                    let keys: Vec<Value> = unique_keys(parents.iter().map(Model::key));
                    let children =
                        related_in::<R>(db, foreign_key, keys, nested, constraint.as_ref()).await?;
                    let mut groups: KeyMap<Vec<R>> = key_map(parents.len());
                    for child in children {
                        if let Some(k) = child
                            .column_value(foreign_key)
                            .and_then(|v| RelationKey::of(&v))
                        {
                            groups.entry(k).or_default().push(child);
                        }
                    }
                    let (shared, empty) =
                        share_groups(groups, matches!(kind, RelationKind::HasOne { .. }));
                    assign(parents, name, &shared, &empty, |p| {
                        RelationKey::of(&p.key())
                    })?;
                }
                RelationKind::BelongsToMany(pivot) => {
                    let keys: Vec<Value> = unique_keys(parents.iter().map(Model::key));
                    let mut extra = vec![pivot.parent_key.clone(), pivot.related_key.clone()];
                    extra.extend(pivot.columns.iter().cloned());
                    let q = R::query(db)
                        .tap(|q| {
                            q.join(
                                &pivot.table,
                                &qualified(&pivot.table, &pivot.related_key),
                                "=",
                                &qualified(R::TABLE, R::PRIMARY_KEY),
                            )
                            .where_in(&qualified(&pivot.table, &pivot.parent_key), keys)
                        })
                        .with(&nested)
                        .attach_extra("pivot", &pivot.table, extra);
                    let related = constrain(q).get().await?;
                    group_by_extra(parents, name, related, "pivot", &pivot.parent_key)?;
                }
                RelationKind::HasManyThrough {
                    through_table,
                    through_key,
                    first_key,
                    second_key,
                } => {
                    let keys: Vec<Value> = unique_keys(parents.iter().map(Model::key));
                    let q = R::query(db)
                        .tap(|q| {
                            q.join(
                                through_table,
                                &qualified(through_table, through_key),
                                "=",
                                &qualified(R::TABLE, second_key),
                            )
                            .where_in(&qualified(through_table, first_key), keys)
                        })
                        .with(&nested)
                        .attach_extra("through", through_table, vec![first_key.clone()]);
                    let related = constrain(q).get().await?;
                    group_by_extra(parents, name, related, "through", first_key)?;
                }
            }
            Ok(())
        })
    }
}

/// `R` rows whose `column` is one of `keys`, with `nested` relations eager loaded, as
/// `R::query(db).where_in(column, keys).with(nested)` (constrained) returns them.
async fn related_in<R: Model + ModelExt>(
    db: &Db,
    column: &str,
    keys: Vec<Value>,
    nested: Vec<String>,
    constraint: Option<&Constraint>,
) -> DbResult<Vec<R>> {
    if constraint.is_none()
        && let Some(sql) = in_list_sql::<R>(db, column, keys.len())
    {
        let rows = exec::fetch_all(db, sql, Values(keys)).await?;
        let mut models = rows.iter().map(R::from_row).collect::<DbResult<Vec<R>>>()?;
        drop(rows); // decoded: not held across the nested loads
        if !nested.is_empty() && !models.is_empty() {
            let eager: Vec<(String, Option<Constraint>)> =
                nested.into_iter().map(|n| (n, None)).collect();
            eager_load(db, &mut models, &eager).await?;
        }
        return Ok(models);
    }
    let q = R::query(db).where_in(column, keys).with(&nested);
    match constraint {
        Some(c) => {
            let c = c.clone();
            q.tap(move |inner| c(inner))
        }
        None => q,
    }
    .get()
    .await
}

/// An eager-load query rendered once, split around its `IN (…)` placeholder list.
struct InListSql {
    prefix: Box<str>,
    suffix: Box<str>,
}

impl InListSql {
    /// Split `sql`, rendered with one bound value in `column IN (…)` and no other, around
    /// that placeholder; `None` when it does not occur exactly once.
    fn split(sql: &str, backend: Backend) -> Option<Self> {
        let placeholder = match backend {
            Backend::Sqlite => " IN (?)",
            Backend::Postgres => " IN ($1)",
        };
        let mut found = sql.match_indices(placeholder);
        let (at, _) = found.next()?;
        if found.next().is_some() {
            return None;
        }
        let list = at + " IN (".len();
        let end = at + placeholder.len() - 1;
        Some(Self {
            prefix: sql[..list].into(),
            suffix: sql[end..].into(),
        })
    }

    /// The SQL for `n` placeholders, as sea-query writes them (`?, ?` / `$1, $2`).
    fn render(&self, n: usize, backend: Backend) -> String {
        use std::fmt::Write as _;
        let mut sql = String::with_capacity(self.prefix.len() + self.suffix.len() + n * 6);
        sql.push_str(&self.prefix);
        for i in 1..=n {
            if i > 1 {
                sql.push_str(", ");
            }
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => {
                    let _ = write!(sql, "${i}");
                }
            }
        }
        sql.push_str(&self.suffix);
        sql
    }
}

/// Templates by related model, dialect and key column (`None`: this query cannot use one).
type InListCache = std::sync::RwLock<
    HashMap<(TypeId, Backend), Vec<(Box<str>, Option<InListSql>)>, foldhash::fast::FixedState>,
>;

/// The SQL of `R::query(db).where_in(column, <n keys>)` without building it through the query
/// builder each time: eager loading runs this query on every page, and rendering it cost more
/// than decoding its rows. Only for models without global scopes, whose filters may depend on
/// more than the model (the soft-delete filter is fixed and stays in the text).
fn in_list_sql<R: Model + ModelExt>(db: &Db, column: &str, n: usize) -> Option<String> {
    static CACHE: std::sync::OnceLock<InListCache> = std::sync::OnceLock::new();
    if n == 0 || !R::global_scopes().is_empty() {
        return None;
    }
    let cache = CACHE.get_or_init(Default::default);
    let backend = db.backend();
    let key = (TypeId::of::<R>(), backend);
    let lookup = |map: &HashMap<_, Vec<(Box<str>, Option<InListSql>)>, _>| {
        map.get(&key)
            .and_then(|columns| columns.iter().find(|(c, _)| **c == *column))
            .map(|(_, template)| template.as_ref().map(|t| t.render(n, backend)))
    };
    if let Some(sql) = lookup(&cache.read().unwrap_or_else(PoisonError::into_inner)) {
        return sql;
    }
    // Rendered by the query builder itself, so the text is the same either way.
    let template = R::query(db)
        .where_in(column, [Value::BigInt(Some(0))])
        .select_query()
        .ok()
        .map(|q| q.to_sql_with_values())
        .filter(|(_, values)| values.0.len() == 1)
        .and_then(|(sql, _)| InListSql::split(&sql, backend));
    let sql = template.as_ref().map(|t| t.render(n, backend));
    cache
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(key)
        .or_default()
        .push((column.into(), template));
    sql
}

fn group_by_extra<P: Model, R: Model>(
    parents: &mut [P],
    name: &Arc<str>,
    related: Vec<R>,
    extra: &str,
    parent_column: &str,
) -> DbResult<()> {
    let mut groups: KeyMap<Vec<R>> = key_map(parents.len());
    for r in related {
        let key = r
            .relations()
            .and_then(|rel| rel.extra().get(extra))
            .and_then(|p| p.get(parent_column))
            .and_then(RelationKey::of_json);
        if let Some(k) = key {
            groups.entry(k).or_default().push(r);
        }
    }
    let (shared, empty) = share_groups(groups, false);
    assign(parents, name, &shared, &empty, |p| {
        RelationKey::of(&p.key())
    })
}

/// One loaded value per key (`Option<R>` for has-one, `Vec<R>` otherwise), plus the value of
/// parents without related rows.
fn share_groups<R: Model>(
    groups: KeyMap<Vec<R>>,
    one: bool,
) -> (KeyMap<Arc<dyn LoadedRelation>>, Arc<dyn LoadedRelation>) {
    let mut shared: KeyMap<Arc<dyn LoadedRelation>> = key_map(groups.len());
    for (key, children) in groups {
        let value: Arc<dyn LoadedRelation> = if one {
            Arc::new(children.into_iter().next())
        } else {
            Arc::new(children)
        };
        shared.insert(key, value);
    }
    let empty: Arc<dyn LoadedRelation> = if one {
        Arc::new(None::<R>)
    } else {
        Arc::new(Vec::<R>::new())
    };
    (shared, empty)
}

/// Give each parent the loaded value of its key: shared, not cloned per parent.
fn assign<P: Model>(
    parents: &mut [P],
    name: &Arc<str>,
    by_key: &KeyMap<Arc<dyn LoadedRelation>>,
    missing: &Arc<dyn LoadedRelation>,
    key_of: impl Fn(&P) -> Option<RelationKey>,
) -> DbResult<()> {
    for parent in parents.iter_mut() {
        let value = key_of(parent)
            .and_then(|k| by_key.get(&k))
            .unwrap_or(missing);
        set_rel(parent, name, Arc::clone(value))?;
    }
    Ok(())
}

fn unique_keys(values: impl Iterator<Item = Value>) -> Vec<Value> {
    let capacity = values.size_hint().1.unwrap_or(0);
    let mut seen = key_map(capacity);
    let mut keys = Vec::with_capacity(capacity);
    for value in values {
        if let Some(key) = RelationKey::of(&value)
            && seen.insert(key, ()).is_none()
        {
            keys.push(value);
        }
    }
    keys
}

impl<P: Model> Relation<P> {
    fn new<R: Model>(kind: RelationKind) -> Self {
        Self {
            kind,
            imp: Arc::new(Typed::<P, R>(PhantomData)),
        }
    }

    /// The relation's kind and keys.
    pub fn kind(&self) -> &RelationKind {
        &self.kind
    }

    /// A correlated subquery selecting related rows of the outer parent row (for
    /// `where_has`, `doesnt_have` and `with_count`).
    pub fn exists_query(&self) -> Query {
        self.imp.exists_query(&self.kind)
    }

    /// The pivot table of a many-to-many relation.
    pub fn pivot(&self) -> Option<&PivotTable> {
        match &self.kind {
            RelationKind::BelongsToMany(p) => Some(p),
            _ => None,
        }
    }

    /// Extra pivot columns to load into each related model's `pivot` (many-to-many only).
    pub fn with_pivot<I, S>(mut self, columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        if let RelationKind::BelongsToMany(p) = &mut self.kind {
            p.columns.extend(columns.into_iter().map(Into::into));
        }
        self
    }
}

/// `P` has one `R` whose `foreign_key` column holds `P`'s key.
pub fn has_one<P: Model, R: Model>(foreign_key: &str) -> Relation<P> {
    Relation::new::<R>(RelationKind::HasOne {
        foreign_key: foreign_key.to_owned(),
    })
}

/// `P` has many `R` whose `foreign_key` column holds `P`'s key.
pub fn has_many<P: Model, R: Model>(foreign_key: &str) -> Relation<P> {
    Relation::new::<R>(RelationKind::HasMany {
        foreign_key: foreign_key.to_owned(),
    })
}

/// `P`'s `foreign_key` column holds an `R` key.
pub fn belongs_to<P: Model, R: Model>(foreign_key: &str) -> Relation<P> {
    Relation::new::<R>(RelationKind::BelongsTo {
        foreign_key: foreign_key.to_owned(),
    })
}

/// `P` and `R` through `pivot_table(parent_key, related_key)`. Laravel names the table after
/// both singulars in alphabetical order (`post_tag`).
pub fn belongs_to_many<P: Model, R: Model>(
    pivot_table: &str,
    parent_key: &str,
    related_key: &str,
) -> Relation<P> {
    Relation::new::<R>(RelationKind::BelongsToMany(PivotTable {
        table: pivot_table.to_owned(),
        parent_key: parent_key.to_owned(),
        related_key: related_key.to_owned(),
        columns: Vec::new(),
    }))
}

/// `P` has many `R` through `T`: `T.first_key` holds `P`'s key, `R.second_key` holds `T`'s.
pub fn has_many_through<P: Model, R: Model, T: Model>(
    first_key: &str,
    second_key: &str,
) -> Relation<P> {
    Relation::new::<R>(RelationKind::HasManyThrough {
        through_table: T::TABLE.to_owned(),
        through_key: T::PRIMARY_KEY.to_owned(),
        first_key: first_key.to_owned(),
        second_key: second_key.to_owned(),
    })
}

/// A many-to-many pivot table and its write operations.
#[derive(Debug, Clone, PartialEq)]
pub struct PivotTable {
    /// The table (`post_tag`).
    pub table: String,
    /// Its column holding the parent's key (`post_id`).
    pub parent_key: String,
    /// Its column holding the related key (`tag_id`).
    pub related_key: String,
    /// Extra columns loaded with `with_pivot`.
    pub columns: Vec<String>,
}

/// What [`PivotTable::sync`] and [`PivotTable::toggle`] changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncChanges {
    /// Keys attached.
    pub attached: Vec<String>,
    /// Keys detached.
    pub detached: Vec<String>,
}

impl PivotTable {
    async fn current(&self, db: &Db, parent: &Value) -> DbResult<Vec<(String, Value)>> {
        let rows = db
            .table(&self.table)
            .where_eq(&self.parent_key, parent.clone())
            .select([self.related_key.as_str()])
            .get()
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| r.get(&self.related_key).cloned())
            .filter_map(|j| json_key_text(&j).map(|k| (k, crate::query::json_value(j))))
            .collect())
    }

    /// Attach related keys (skips ones already attached).
    pub async fn attach<I, V>(
        &self,
        db: &Db,
        parent: impl Into<Value>,
        related: I,
    ) -> DbResult<Vec<String>>
    where
        I: IntoIterator<Item = V>,
        V: Into<Value>,
    {
        self.attach_with(db, parent, related, Map::new()).await
    }

    /// Attach with extra pivot columns.
    pub async fn attach_with<I, V>(
        &self,
        db: &Db,
        parent: impl Into<Value>,
        related: I,
        extra: Map<String, Json>,
    ) -> DbResult<Vec<String>>
    where
        I: IntoIterator<Item = V>,
        V: Into<Value>,
    {
        let parent = parent.into();
        let existing: HashSet<String> = self
            .current(db, &parent)
            .await?
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        let mut attached = Vec::new();
        let mut rows = Vec::new();
        let mut seen = HashSet::new();
        for id in related {
            let id = id.into();
            let Some(k) = key_text(&id) else { continue };
            if existing.contains(&k) || !seen.insert(k.clone()) {
                continue;
            }
            let mut row: Vec<(String, sea_query::Expr)> = vec![
                (
                    self.parent_key.clone(),
                    sea_query::Expr::val(parent.clone()),
                ),
                (self.related_key.clone(), sea_query::Expr::val(id)),
            ];
            for (c, v) in &extra {
                row.push((c.clone(), crate::query::json_to_expr(v.clone())));
            }
            rows.push(RawRow(row));
            attached.push(k);
        }
        if !rows.is_empty() {
            db.table(&self.table).insert_many(rows).await?;
        }
        Ok(attached)
    }

    /// Detach these related keys, or all when `related` is `None`; returns how many.
    pub async fn detach(
        &self,
        db: &Db,
        parent: impl Into<Value>,
        related: Option<Vec<Value>>,
    ) -> DbResult<u64> {
        let mut q = db
            .table(&self.table)
            .where_eq(&self.parent_key, parent.into());
        if let Some(ids) = related {
            q = q.where_in(&self.related_key, ids);
        }
        q.delete().await
    }

    /// Make the attached set exactly `related`.
    pub async fn sync<I, V>(
        &self,
        db: &Db,
        parent: impl Into<Value>,
        related: I,
    ) -> DbResult<SyncChanges>
    where
        I: IntoIterator<Item = V>,
        V: Into<Value>,
    {
        let parent = parent.into();
        let wanted: Vec<Value> = related.into_iter().map(Into::into).collect();
        let wanted_keys: HashSet<String> = wanted.iter().filter_map(key_text).collect();
        let current = self.current(db, &parent).await?;
        let remove: Vec<(String, Value)> = current
            .into_iter()
            .filter(|(k, _)| !wanted_keys.contains(k))
            .collect();
        if !remove.is_empty() {
            self.detach(
                db,
                parent.clone(),
                Some(remove.iter().map(|(_, v)| v.clone()).collect()),
            )
            .await?;
        }
        let attached = self.attach(db, parent, wanted).await?;
        Ok(SyncChanges {
            attached,
            detached: remove.into_iter().map(|(k, _)| k).collect(),
        })
    }

    /// Attach the keys not attached, detach the ones that are.
    pub async fn toggle<I, V>(
        &self,
        db: &Db,
        parent: impl Into<Value>,
        related: I,
    ) -> DbResult<SyncChanges>
    where
        I: IntoIterator<Item = V>,
        V: Into<Value>,
    {
        let parent = parent.into();
        let current: HashMap<String, Value> =
            self.current(db, &parent).await?.into_iter().collect();
        let mut changes = SyncChanges::default();
        let mut add = Vec::new();
        let mut remove = Vec::new();
        for id in related {
            let id = id.into();
            let Some(k) = key_text(&id) else { continue };
            if current.contains_key(&k) {
                remove.push(id);
                changes.detached.push(k);
            } else {
                add.push(id);
            }
        }
        if !remove.is_empty() {
            self.detach(db, parent.clone(), Some(remove)).await?;
        }
        changes.attached = self.attach(db, parent, add).await?;
        Ok(changes)
    }
}

struct RawRow(Vec<(String, sea_query::Expr)>);

impl crate::query::IntoRow for RawRow {
    fn into_row(self) -> DbResult<Vec<(String, sea_query::Expr)>> {
        Ok(self.0)
    }
}

/// Load `eager` (`"author"`, `"comments.author"`, with optional constraints) onto `models`.
pub(crate) async fn eager_load<P: Model>(
    db: &Db,
    models: &mut [P],
    eager: &[(String, Option<Constraint>)],
) -> DbResult<()> {
    // Group by first segment, keeping order: nested paths go down one level.
    let mut order: Vec<String> = Vec::new();
    let mut nested: HashMap<String, Vec<String>> = HashMap::new();
    let mut constraints: HashMap<String, Constraint> = HashMap::new();
    for (path, constraint) in eager {
        let (head, rest) = match path.split_once('.') {
            Some((h, r)) => (h.to_owned(), Some(r.to_owned())),
            None => (path.clone(), None),
        };
        if !order.contains(&head) {
            order.push(head.clone());
        }
        let entry = nested.entry(head.clone()).or_default();
        match rest {
            Some(rest) => entry.push(rest),
            None => {
                if let Some(c) = constraint {
                    constraints.insert(head, c.clone());
                }
            }
        }
    }
    for name in order {
        let relation = P::relation(&name).ok_or_else(|| DbError::UnknownRelation {
            model: P::NAME,
            relation: name.clone(),
        })?;
        let inner = nested.remove(&name).unwrap_or_default();
        relation
            .imp
            .eager(
                &relation.kind,
                db,
                &name,
                models,
                inner,
                constraints.get(&name).cloned(),
            )
            .await?;
    }
    Ok(())
}

/// Relation access on model instances.
pub trait RelationExt: Model {
    /// Load relations onto this model now (Laravel's `load`; always allowed).
    fn load(&mut self, db: &Db, relations: &[&str]) -> impl Future<Output = DbResult<()>> + Send {
        let eager: Vec<(String, Option<Constraint>)> =
            relations.iter().map(|r| ((*r).to_owned(), None)).collect();
        async move { eager_load(db, std::slice::from_mut(self), &eager).await }
    }

    /// A loaded to-many relation, or an error if it was not loaded (never queries).
    fn loaded_many<R: Model>(&self, name: &str) -> DbResult<&[R]> {
        let loaded =
            self.relations()
                .and_then(|r| r.get(name))
                .ok_or_else(|| DbError::LazyLoading {
                    model: Self::NAME,
                    relation: name.to_owned(),
                })?;
        loaded
            .as_any()
            .downcast_ref::<Vec<R>>()
            .map(Vec::as_slice)
            .ok_or_else(|| {
                DbError::InvalidQuery(format!(
                    "relation `{name}` of {} does not hold a list of {}",
                    Self::NAME,
                    R::NAME
                ))
            })
    }

    /// A loaded to-one relation, or an error if it was not loaded (never queries).
    fn loaded_one<R: Model>(&self, name: &str) -> DbResult<Option<&R>> {
        let loaded =
            self.relations()
                .and_then(|r| r.get(name))
                .ok_or_else(|| DbError::LazyLoading {
                    model: Self::NAME,
                    relation: name.to_owned(),
                })?;
        loaded
            .as_any()
            .downcast_ref::<Option<R>>()
            .map(Option::as_ref)
            .ok_or_else(|| {
                DbError::InvalidQuery(format!(
                    "relation `{name}` of {} does not hold one {}",
                    Self::NAME,
                    R::NAME
                ))
            })
    }

    /// A to-many relation, lazy loading it when it was not eager loaded, unless the connection
    /// prevents lazy loading (then an error naming the relation).
    fn get_many<R: Model>(
        &mut self,
        db: &Db,
        name: &str,
    ) -> impl Future<Output = DbResult<Vec<R>>> + Send {
        let name = name.to_owned();
        async move {
            self.lazy(db, &name).await?;
            self.loaded_many::<R>(&name).map(<[R]>::to_vec)
        }
    }

    /// A to-one relation, lazy loading it (see [`RelationExt::get_many`]).
    fn get_one<R: Model>(
        &mut self,
        db: &Db,
        name: &str,
    ) -> impl Future<Output = DbResult<Option<R>>> + Send {
        let name = name.to_owned();
        async move {
            self.lazy(db, &name).await?;
            self.loaded_one::<R>(&name).map(|r| r.cloned())
        }
    }

    #[doc(hidden)]
    fn lazy(&mut self, db: &Db, name: &str) -> impl Future<Output = DbResult<()>> + Send {
        let name = name.to_owned();
        async move {
            if self.relations().is_some_and(|r| r.is_loaded(&name)) {
                return Ok(());
            }
            if db.prevents_lazy_loading() {
                return Err(DbError::LazyLoading {
                    model: Self::NAME,
                    relation: name,
                });
            }
            self.load(db, &[&name]).await
        }
    }

    /// The pivot table of the many-to-many relation `name` (for attach/detach/sync/toggle).
    fn pivot(name: &str) -> DbResult<PivotTable> {
        Self::relation(name)
            .and_then(|r| r.pivot().cloned())
            .ok_or_else(|| DbError::UnknownRelation {
                model: Self::NAME,
                relation: format!("{name} (a belongs_to_many relation)"),
            })
    }
}

impl<M: Model> RelationExt for M {}

#[cfg(test)]
mod tests {
    use super::*;

    /// The template renders exactly what the query builder renders, for any number of keys.
    #[test]
    fn in_list_sql_matches_the_builder() {
        let query = |keys: Vec<i64>| {
            Query::new("users")
                .select(["users.id", "users.name"])
                .where_in("id", keys)
                .where_null("users.deleted_at")
        };
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let template = InListSql::split(&query(vec![0]).to_sql_for(backend), backend)
                .expect("one IN list");
            for n in 1..=12 {
                let keys: Vec<i64> = (1..=n).collect();
                assert_eq!(
                    template.render(keys.len(), backend),
                    query(keys).to_sql_for(backend),
                    "{backend:?}, {n} keys"
                );
            }
        }
    }

    #[test]
    fn in_list_sql_needs_one_list() {
        let sql = Query::new("users")
            .where_in("id", [1i64])
            .where_in("team_id", [2i64])
            .to_sql_for(Backend::Sqlite);
        assert!(InListSql::split(&sql, Backend::Sqlite).is_none());
        assert!(InListSql::split(r#"SELECT * FROM "users""#, Backend::Sqlite).is_none());
    }
}
