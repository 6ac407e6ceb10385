//! Eloquent-style models: `#[derive(Model)]` implements [`Model`]; [`ModelExt`] gives every
//! model `find`, `create`, `save`, `delete`, …; [`ModelQuery`] is a model's query builder with
//! global scopes, soft deletes and eager loading.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use foundry_core::BoxFuture;
use sea_query::{Expr, ExprTrait, InsertStatement, UpdateStatement};
use serde_json::{Map, Value as Json};

use crate::connection::Db;
use crate::error::{DbError, DbResult};
use crate::exec;
use crate::query::{Query, Value, build, build_select, col, iden};
use crate::row::Row;

/// How a model's primary key is generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// An auto-incrementing integer (`i64`, 0 until saved).
    Increment,
    /// A random UUID v4 string, generated on insert when empty.
    Uuid,
    /// A ULID string (sortable by time), generated on insert when empty.
    Ulid,
}

/// A global scope: a named filter applied to every query of a model.
#[derive(Clone, Copy)]
pub struct GlobalScope {
    /// The name `without_global_scope` removes it by.
    pub name: &'static str,
    /// The filter.
    pub apply: fn(Query) -> Query,
}

impl std::fmt::Debug for GlobalScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlobalScope")
            .field("name", &self.name)
            .finish()
    }
}

/// The model events (Laravel's `creating`, `created`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModelEvent {
    /// Before the first save.
    Creating,
    /// After the first save.
    Created,
    /// Before saving an existing model.
    Updating,
    /// After saving an existing model.
    Updated,
    /// Before any save.
    Saving,
    /// After any save.
    Saved,
    /// Before delete (soft or hard).
    Deleting,
    /// After delete.
    Deleted,
    /// Before a soft-deleted model is restored.
    Restoring,
    /// After restore.
    Restored,
}

impl ModelEvent {
    /// The event's name (`"creating"`).
    pub fn name(self) -> &'static str {
        match self {
            ModelEvent::Creating => "creating",
            ModelEvent::Created => "created",
            ModelEvent::Updating => "updating",
            ModelEvent::Updated => "updated",
            ModelEvent::Saving => "saving",
            ModelEvent::Saved => "saved",
            ModelEvent::Deleting => "deleting",
            ModelEvent::Deleted => "deleted",
            ModelEvent::Restoring => "restoring",
            ModelEvent::Restored => "restored",
        }
    }

    /// Whether an error from this hook cancels the operation (the "-ing" events).
    pub fn cancels(self) -> bool {
        matches!(
            self,
            ModelEvent::Creating
                | ModelEvent::Updating
                | ModelEvent::Saving
                | ModelEvent::Deleting
                | ModelEvent::Restoring
        )
    }
}

/// What an app may customise per model: event hooks, global scopes and relations.
///
/// `#[derive(Model)]` implements it with no hooks; with `#[model(hooks)]` the app writes the
/// impl itself and overrides what it needs.
pub trait ModelHooks: Sized + Send + Sync {
    /// Called for every [`ModelEvent`]. An error from an "-ing" event cancels the operation
    /// (returned as [`DbError::Cancelled`]); errors from the others are returned as is.
    fn on_event<'a>(
        &'a mut self,
        event: ModelEvent,
        db: &'a Db,
    ) -> BoxFuture<'a, Result<(), String>> {
        let _ = (event, db);
        Box::pin(async { Ok(()) })
    }

    /// Whether [`ModelHooks::on_event`] does anything (skips the call when not).
    const HAS_EVENTS: bool = false;

    /// Filters applied to every query of this model.
    fn global_scopes() -> Vec<GlobalScope> {
        Vec::new()
    }

    /// The relation called `name`, for eager loading (`with`), `where_has` and `load`.
    fn relation(name: &str) -> Option<crate::relations::Relation<Self>>
    where
        Self: Model,
    {
        let _ = name;
        None
    }
}

/// Loaded relations and counts of one model instance (a field of type `Relations` on the
/// struct; it is not a column).
#[derive(Default, Clone)]
pub struct Relations {
    // A model has few relations loaded at once: a short inline list beats a hash map (no
    // allocation per model for one or two relations), and eager loading shares one name
    // between every parent instead of allocating it per model.
    loaded: smallvec::SmallVec<[NamedRelation; 2]>,
    extra: Map<String, Json>,
}

impl std::fmt::Debug for Relations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relations")
            .field(
                "loaded",
                &self.loaded.iter().map(|(k, _)| &**k).collect::<Vec<_>>(),
            )
            .field("extra", &self.extra)
            .finish()
    }
}

impl PartialEq for Relations {
    fn eq(&self, other: &Self) -> bool {
        self.extra == other.extra && self.loaded.len() == other.loaded.len()
    }
}

/// A loaded relation under its name.
type NamedRelation = (Arc<str>, Arc<dyn LoadedRelation>);

/// A loaded relation value (`Option<M>` or `Vec<M>`), type-erased.
pub trait LoadedRelation: Send + Sync {
    /// For downcasting to `Option<M>` / `Vec<M>`.
    fn as_any(&self) -> &dyn Any;
    /// For serialization.
    fn to_json(&self) -> Json;
}

impl<M: Model> LoadedRelation for Option<M> {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn to_json(&self) -> Json {
        match self {
            Some(m) => m.to_json(),
            None => Json::Null,
        }
    }
}

impl<M: Model> LoadedRelation for Vec<M> {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn to_json(&self) -> Json {
        Json::Array(self.iter().map(Model::to_json).collect())
    }
}

impl Relations {
    /// Store a loaded relation.
    pub fn set(&mut self, name: &str, value: Arc<dyn LoadedRelation>) {
        self.set_shared(Arc::from(name), value);
    }

    /// Store a loaded relation under a name shared with other models (eager loading).
    pub(crate) fn set_shared(&mut self, name: Arc<str>, value: Arc<dyn LoadedRelation>) {
        match self.loaded.iter_mut().find(|(k, _)| **k == *name) {
            Some(slot) => slot.1 = value,
            None => self.loaded.push((name, value)),
        }
    }

    /// Whether nothing is loaded or counted.
    pub fn is_empty(&self) -> bool {
        self.loaded.is_empty() && self.extra.is_empty()
    }

    /// Whether `name` is loaded.
    pub fn is_loaded(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// A loaded relation.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn LoadedRelation>> {
        self.loaded
            .iter()
            .find_map(|(k, v)| (**k == *name).then_some(v))
    }

    /// Extra serialized attributes: `*_count` from `with_count`, `pivot` from many-to-many.
    pub fn extra(&self) -> &Map<String, Json> {
        &self.extra
    }

    /// Set an extra attribute.
    pub fn set_extra(&mut self, key: &str, value: Json) {
        self.extra.insert(key.to_owned(), value);
    }

    /// Write loaded relations and extras into a JSON object.
    pub fn write_json(&self, map: &mut Map<String, Json>) {
        for (k, v) in &self.extra {
            map.insert(k.clone(), v.clone());
        }
        for (k, v) in &self.loaded {
            map.insert(k.to_string(), v.to_json());
        }
    }
}

/// A database model. Implemented by `#[derive(Model)]`; see the crate's `docs/models.md`.
pub trait Model: ModelHooks + Clone + Send + Sync + 'static {
    /// The type's name, for messages.
    const NAME: &'static str;
    /// The table.
    const TABLE: &'static str;
    /// The primary key column.
    const PRIMARY_KEY: &'static str;
    /// How the key is generated.
    const KEY_KIND: KeyKind;
    /// Every column, in field order.
    const COLUMNS: &'static [&'static str];
    /// Columns mass assignment may set (empty: every column not in `GUARDED`).
    const FILLABLE: &'static [&'static str];
    /// Columns mass assignment may never set.
    const GUARDED: &'static [&'static str];
    /// Columns left out of serialization.
    const HIDDEN: &'static [&'static str];
    /// Whether `created_at`/`updated_at` are maintained.
    const TIMESTAMPS: bool;
    /// Whether deletes are soft (`deleted_at`).
    const SOFT_DELETES: bool;

    /// Build a model from a row (columns by name).
    fn from_row(row: &Row) -> DbResult<Self>;
    /// The value of `column` for writing.
    fn column_value(&self, column: &str) -> Option<Value>;
    /// Convert a JSON attribute to the column's SQL value (typed by the field).
    fn json_to_value(column: &str, value: Json) -> DbResult<Value>;
    /// Build an unsaved model from attributes (missing `Option` fields are `None`, a missing
    /// key is unset; other missing fields are an error naming them).
    fn from_attributes(attrs: Map<String, Json>) -> DbResult<Self>;
    /// Set one field from JSON.
    fn set_attribute(&mut self, column: &str, value: Json) -> DbResult<()>;
    /// Set a date-time column (`created_at`, `updated_at`, `deleted_at`) if the model has it.
    fn set_timestamp(&mut self, column: &str, at: Option<DateTime<Utc>>);
    /// The primary key as a value.
    fn key(&self) -> Value;
    /// Whether the key has been set (non-zero / non-empty).
    fn key_is_set(&self) -> bool;
    /// Set a generated string key.
    fn set_string_key(&mut self, key: String);
    /// The loaded relations, if the struct has a `Relations` field.
    fn relations(&self) -> Option<&Relations>;
    /// The loaded relations, mutably.
    fn relations_mut(&mut self) -> Option<&mut Relations>;
    /// The model as JSON (hidden columns left out, loaded relations and counts added).
    fn to_json(&self) -> Json;
    /// The soft-delete timestamp.
    fn deleted_at(&self) -> Option<DateTime<Utc>>;
}

/// Whether mass assignment may set `column` on `M`.
pub fn is_fillable<M: Model>(column: &str) -> DbResult<()> {
    if !M::COLUMNS.contains(&column) {
        return Err(DbError::MassAssignment {
            model: M::NAME,
            message: format!(
                "unknown attribute `{column}`; columns are {}",
                M::COLUMNS.join(", ")
            ),
        });
    }
    let allowed = if M::FILLABLE.is_empty() {
        !M::GUARDED.contains(&column)
    } else {
        M::FILLABLE.contains(&column)
    };
    if allowed {
        Ok(())
    } else {
        Err(DbError::MassAssignment {
            model: M::NAME,
            message: format!(
                "attribute `{column}` is guarded; add it to `fillable` to allow mass assignment"
            ),
        })
    }
}

fn attributes(attrs: Json, model: &'static str) -> DbResult<Map<String, Json>> {
    match attrs {
        Json::Object(map) => Ok(map),
        other => Err(DbError::MassAssignment {
            model,
            message: format!("attributes must be a JSON object, got `{other}`"),
        }),
    }
}

/// A ULID: 48-bit millisecond timestamp + 80 random bits, Crockford base32 (26 chars).
pub fn new_ulid() -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let millis = std::cmp::max(Utc::now().timestamp_millis(), 0) as u128;
    let mut random = [0u8; 10];
    // A failing OS RNG leaves zeros: still unique enough with the timestamp, never a panic.
    let _ = getrandom::fill(&mut random);
    let mut value: u128 = millis << 80;
    for (i, b) in random.iter().enumerate() {
        value |= u128::from(*b) << (8 * (9 - i));
    }
    (0..26)
        .rev()
        .map(|i| ALPHABET[((value >> (5 * i)) & 31) as usize] as char)
        .collect()
}

/// An observer of model `M`'s events, registered with [`Db::observe`] (Laravel's observers).
/// Like the model's own hook, an error from an "-ing" event cancels the operation.
pub trait Observer<M: Model>: Send + Sync + 'static {
    /// Called for every event, after the model's own hook.
    fn on_event<'a>(
        &'a self,
        event: ModelEvent,
        model: &'a mut M,
        db: &'a Db,
    ) -> BoxFuture<'a, Result<(), String>>;
}

/// Observers per model type, shared by every clone of a [`Db`].
#[derive(Default)]
pub(crate) struct ObserverRegistry {
    by_model: std::sync::RwLock<HashMap<std::any::TypeId, Vec<Arc<dyn Any + Send + Sync>>>>,
}

impl ObserverRegistry {
    fn of<M: Model>(&self) -> Vec<Arc<dyn Observer<M>>> {
        let map = self
            .by_model
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(&std::any::TypeId::of::<M>())
            .map(|list| {
                list.iter()
                    .filter_map(|o| o.downcast_ref::<Arc<dyn Observer<M>>>().cloned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Db {
    /// Register an observer of `M`'s events on this connection (and all its clones).
    pub fn observe<M: Model>(&self, observer: impl Observer<M>) {
        let observer: Arc<dyn Observer<M>> = Arc::new(observer);
        self.shared
            .observers
            .by_model
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(std::any::TypeId::of::<M>())
            .or_default()
            .push(Arc::new(observer));
    }

    pub(crate) fn has_observers<M: Model>(&self) -> bool {
        self.shared
            .observers
            .by_model
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains_key(&std::any::TypeId::of::<M>())
    }
}

pub(crate) async fn fire<M: Model>(model: &mut M, event: ModelEvent, db: &Db) -> DbResult<()> {
    let wrap = |message: String| {
        if event.cancels() {
            DbError::Cancelled {
                model: M::NAME,
                event: event.name(),
                message,
            }
        } else {
            DbError::Other(message.into())
        }
    };
    if M::HAS_EVENTS {
        model.on_event(event, db).await.map_err(wrap)?;
    }
    if db.has_observers::<M>() {
        for observer in db.shared.observers.of::<M>() {
            observer.on_event(event, model, db).await.map_err(wrap)?;
        }
    }
    Ok(())
}

fn key_string(value: &Value) -> String {
    match value {
        Value::BigInt(Some(i)) => i.to_string(),
        Value::Int(Some(i)) => i.to_string(),
        Value::String(Some(s)) => s.clone(),
        other => format!("{other:?}"),
    }
}

/// The qualified column list of `M` (`"posts"."id", …`) for SELECT and RETURNING.
pub(crate) fn select_columns<M: Model>() -> Vec<Expr> {
    // `&'static str` identifiers stay borrowed (no allocation) when they are plain
    // `[A-Za-z_][A-Za-z0-9_]*`; anything else is copied and escaped by sea-query.
    M::COLUMNS
        .iter()
        .map(|c| {
            Expr::col((
                sea_query::DynIden::from(M::TABLE),
                sea_query::DynIden::from(*c),
            ))
        })
        .collect()
}

/// The API every model gets.
pub trait ModelExt: Model {
    /// A query on this model's table with its global scopes.
    fn query(db: &Db) -> ModelQuery<Self> {
        ModelQuery::new(db)
    }

    /// Every row.
    fn all(db: &Db) -> impl Future<Output = DbResult<Vec<Self>>> + Send {
        async move { Self::query(db).get().await }
    }

    /// The model with this key, if any.
    fn find(
        db: &Db,
        key: impl Into<Value> + Send,
    ) -> impl Future<Output = DbResult<Option<Self>>> + Send {
        let key = key.into();
        async move {
            // Hot path: the SQL of `find` depends only on the model and the dialect, so it is
            // built once and reused (models with global scopes take the general path).
            if Self::global_scopes().is_empty() {
                let sql = cached_find_sql::<Self>(db)?;
                let values = sea_query::Values(vec![key]);
                return match exec::fetch_optional(db, sql, values).await? {
                    Some(row) => Self::from_row(&row).map(Some),
                    None => Ok(None),
                };
            }
            Self::query(db).where_key(key).first().await
        }
    }

    /// The model with this key, or [`DbError::NotFound`] (404 over HTTP).
    fn find_or_fail(
        db: &Db,
        key: impl Into<Value> + Send,
    ) -> impl Future<Output = DbResult<Self>> + Send {
        let key = key.into();
        async move {
            // The key's text only for the error: an integer key clones without allocating.
            let wanted = key.clone();
            Self::find(db, key).await?.ok_or_else(|| DbError::NotFound {
                model: Self::NAME.to_owned(),
                key: key_string(&wanted),
            })
        }
    }

    /// Insert a new row from attributes (mass assignment rules apply) and return the model.
    fn create(db: &Db, attrs: Json) -> impl Future<Output = DbResult<Self>> + Send {
        async move {
            let attrs = attributes(attrs, Self::NAME)?;
            let mut values = Vec::with_capacity(attrs.len() + 2);
            for (column, value) in attrs {
                is_fillable::<Self>(&column)?;
                let value = Self::json_to_value(&column, value)?;
                values.push((column, value));
            }
            if !Self::HAS_EVENTS && !db.has_observers::<Self>() {
                return insert_values::<Self>(db, values, None).await;
            }
            // Hooks need an instance: insert inside a transaction, run `saving`/`creating` on
            // the new model, write back what they changed, and roll everything back if a hook
            // cancels. Observably the same as Laravel's new + fill + save.
            db.transaction(|tx| {
                let values = values.clone();
                async move {
                    let mut model = insert_values::<Self>(&tx, values, None).await?;
                    let before: Vec<Option<Value>> = Self::COLUMNS
                        .iter()
                        .map(|c| model.column_value(c))
                        .collect();
                    fire(&mut model, ModelEvent::Saving, &tx).await?;
                    fire(&mut model, ModelEvent::Creating, &tx).await?;
                    let after: Vec<Option<Value>> = Self::COLUMNS
                        .iter()
                        .map(|c| model.column_value(c))
                        .collect();
                    if before != after {
                        update_row(&tx, &model).await?;
                    }
                    fire(&mut model, ModelEvent::Created, &tx).await?;
                    fire(&mut model, ModelEvent::Saved, &tx).await?;
                    Ok::<_, DbError>(model)
                }
            })
            .await
        }
    }

    /// Like [`ModelExt::create`] but without the mass-assignment guard (Laravel's
    /// `forceCreate`; factories and seeders use it). Unknown columns are still errors.
    fn force_create(db: &Db, attrs: Json) -> impl Future<Output = DbResult<Self>> + Send {
        async move {
            let attrs = attributes(attrs, Self::NAME)?;
            let mut values = Vec::with_capacity(attrs.len() + 2);
            for (column, value) in attrs {
                let value = Self::json_to_value(&column, value)?;
                values.push((column, value));
            }
            insert_values::<Self>(db, values, None).await
        }
    }

    /// The first model matching `search`, or a new one created from `search` + `values`.
    fn first_or_create(
        db: &Db,
        search: Json,
        values: Json,
    ) -> impl Future<Output = DbResult<Self>> + Send {
        async move {
            let search_map = attributes(search, Self::NAME)?;
            let mut q = Self::query(db);
            for (column, value) in &search_map {
                q = q.where_eq(column, Self::json_to_value(column, value.clone())?);
            }
            if let Some(found) = q.first().await? {
                return Ok(found);
            }
            let mut all = search_map;
            all.extend(attributes(values, Self::NAME)?);
            Self::create(db, Json::Object(all)).await
        }
    }

    /// Update the first model matching `search` with `values`, or create it.
    fn update_or_create(
        db: &Db,
        search: Json,
        values: Json,
    ) -> impl Future<Output = DbResult<Self>> + Send {
        async move {
            let search_map = attributes(search, Self::NAME)?;
            let mut q = Self::query(db);
            for (column, value) in &search_map {
                q = q.where_eq(column, Self::json_to_value(column, value.clone())?);
            }
            match q.first().await? {
                Some(mut found) => {
                    found.update(db, values).await?;
                    Ok(found)
                }
                None => {
                    let mut all = search_map;
                    all.extend(attributes(values, Self::NAME)?);
                    Self::create(db, Json::Object(all)).await
                }
            }
        }
    }

    /// Set attributes from JSON (mass assignment rules apply) without saving.
    fn fill(&mut self, attrs: Json) -> DbResult<()> {
        for (column, value) in attributes(attrs, Self::NAME)? {
            is_fillable::<Self>(&column)?;
            self.set_attribute(&column, value)?;
        }
        Ok(())
    }

    /// Fill and save.
    fn update(&mut self, db: &Db, attrs: Json) -> impl Future<Output = DbResult<()>> + Send {
        let filled = self.fill(attrs);
        async move {
            filled?;
            self.save(db).await
        }
    }

    /// Insert (when new) or update every column (when it exists), firing events and
    /// maintaining timestamps.
    fn save(&mut self, db: &Db) -> impl Future<Output = DbResult<()>> + Send {
        async move {
            let now = db.fresh_timestamp();
            fire(self, ModelEvent::Saving, db).await?;
            let exists = self.key_is_set();
            if exists {
                fire(self, ModelEvent::Updating, db).await?;
                if Self::TIMESTAMPS {
                    self.set_timestamp("updated_at", Some(now));
                }
                let changed = update_row(db, self).await?;
                if changed > 0 || Self::KEY_KIND == KeyKind::Increment {
                    if changed == 0 {
                        return Err(DbError::NotFound {
                            model: Self::NAME.to_owned(),
                            key: key_string(&self.key()),
                        });
                    }
                    fire(self, ModelEvent::Updated, db).await?;
                    return fire(self, ModelEvent::Saved, db).await;
                }
                // A string key set by hand on a new model: insert it.
            }
            fire(self, ModelEvent::Creating, db).await?;
            if Self::TIMESTAMPS {
                self.set_timestamp("created_at", Some(now));
                self.set_timestamp("updated_at", Some(now));
            }
            match Self::KEY_KIND {
                KeyKind::Uuid if !self.key_is_set() => {
                    self.set_string_key(uuid::Uuid::new_v4().to_string());
                }
                KeyKind::Ulid if !self.key_is_set() => self.set_string_key(new_ulid()),
                _ => {}
            }
            let values = Self::COLUMNS
                .iter()
                .filter(|c| !(Self::KEY_KIND == KeyKind::Increment && **c == Self::PRIMARY_KEY))
                .filter_map(|c| self.column_value(c).map(|v| ((*c).to_owned(), v)))
                .collect();
            let relations = self.relations().cloned();
            let mut fresh = insert_values::<Self>(db, values, Some(now)).await?;
            if let (Some(rel), Some(target)) = (relations, fresh.relations_mut()) {
                *target = rel;
            }
            *self = fresh;
            fire(self, ModelEvent::Created, db).await?;
            fire(self, ModelEvent::Saved, db).await
        }
    }

    /// Delete: sets `deleted_at` on soft-deleting models, removes the row otherwise.
    fn delete(&mut self, db: &Db) -> impl Future<Output = DbResult<()>> + Send {
        async move {
            fire(self, ModelEvent::Deleting, db).await?;
            if Self::SOFT_DELETES {
                let now = db.fresh_timestamp();
                self.set_timestamp("deleted_at", Some(now));
                db.table(Self::TABLE)
                    .where_eq(Self::PRIMARY_KEY, self.key())
                    .update(vec![("deleted_at", Value::from(now))])
                    .await?;
            } else {
                db.table(Self::TABLE)
                    .where_eq(Self::PRIMARY_KEY, self.key())
                    .delete()
                    .await?;
            }
            fire(self, ModelEvent::Deleted, db).await
        }
    }

    /// Remove the row even on soft-deleting models.
    fn force_delete(&mut self, db: &Db) -> impl Future<Output = DbResult<()>> + Send {
        async move {
            fire(self, ModelEvent::Deleting, db).await?;
            db.table(Self::TABLE)
                .where_eq(Self::PRIMARY_KEY, self.key())
                .delete()
                .await?;
            fire(self, ModelEvent::Deleted, db).await
        }
    }

    /// Undo a soft delete.
    fn restore(&mut self, db: &Db) -> impl Future<Output = DbResult<()>> + Send {
        async move {
            if !Self::SOFT_DELETES {
                return Err(DbError::InvalidQuery(format!(
                    "{} does not use soft deletes",
                    Self::NAME
                )));
            }
            fire(self, ModelEvent::Restoring, db).await?;
            self.set_timestamp("deleted_at", None);
            db.table(Self::TABLE)
                .where_eq(Self::PRIMARY_KEY, self.key())
                .update_exprs(vec![(
                    "deleted_at".to_owned(),
                    Expr::Keyword(sea_query::Keyword::Null),
                )])
                .await?;
            fire(self, ModelEvent::Restored, db).await
        }
    }

    /// Whether this model is soft-deleted.
    fn trashed(&self) -> bool {
        self.deleted_at().is_some()
    }

    /// Reload every column from the database (keeps loaded relations).
    fn refresh(&mut self, db: &Db) -> impl Future<Output = DbResult<()>> + Send {
        async move {
            let key = self.key();
            let fresh = Self::query(db)
                .with_trashed()
                .where_key(key.clone())
                .first()
                .await?;
            let mut fresh = fresh.ok_or_else(|| DbError::NotFound {
                model: Self::NAME.to_owned(),
                key: key_string(&key),
            })?;
            if let (Some(rel), Some(target)) = (self.relations().cloned(), fresh.relations_mut()) {
                *target = rel;
            }
            *self = fresh;
            Ok(())
        }
    }

    /// Delete the models with these keys (fires events for each); returns how many.
    fn destroy<I, V>(db: &Db, keys: I) -> impl Future<Output = DbResult<u64>> + Send
    where
        I: IntoIterator<Item = V> + Send,
        V: Into<Value>,
    {
        let keys: Vec<Value> = keys.into_iter().map(Into::into).collect();
        async move {
            let models = Self::query(db)
                .where_in(Self::PRIMARY_KEY, keys)
                .get()
                .await?;
            let mut n = 0;
            for mut m in models {
                m.delete(db).await?;
                n += 1;
            }
            Ok(n)
        }
    }
}

impl<M: Model> ModelExt for M {}

/// Keyed by model and dialect; foldhash, because this lookup runs on every `find`.
type SqlCache = std::sync::RwLock<
    HashMap<(std::any::TypeId, crate::Backend), Arc<str>, foldhash::fast::FixedState>,
>;

/// `SELECT <columns> FROM <table> WHERE <pk> = ? [AND deleted_at IS NULL]`, built once
/// per model and dialect.
fn cached_find_sql<M: Model>(db: &Db) -> DbResult<Arc<str>> {
    static CACHE: std::sync::OnceLock<SqlCache> = std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (std::any::TypeId::of::<M>(), db.backend());
    if let Some(sql) = cache
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&key)
    {
        return Ok(Arc::clone(sql));
    }
    // No LIMIT: a primary key matches at most one row.
    let query = ModelQuery::<M>::new(db)
        .where_key(Value::BigInt(Some(0)))
        .select_query()?;
    let (sql, values) = query.to_sql_with_values();
    if values.0.len() != 1 {
        return Err(DbError::InvalidQuery(format!(
            "unexpected find query for {}: {sql}",
            M::NAME
        )));
    }
    let sql: Arc<str> = Arc::from(sql);
    cache
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(key, Arc::clone(&sql));
    Ok(sql)
}

async fn insert_values<M: Model>(
    db: &Db,
    mut values: Vec<(String, Value)>,
    now: Option<DateTime<Utc>>,
) -> DbResult<M> {
    if M::TIMESTAMPS {
        let now = now.unwrap_or_else(|| db.fresh_timestamp());
        for column in ["created_at", "updated_at"] {
            if !values.iter().any(|(c, _)| c == column) {
                values.push((column.to_owned(), Value::from(now)));
            }
        }
    }
    if !values.iter().any(|(c, _)| c == M::PRIMARY_KEY) {
        match M::KEY_KIND {
            KeyKind::Uuid => values.push((
                M::PRIMARY_KEY.to_owned(),
                Value::from(uuid::Uuid::new_v4().to_string()),
            )),
            KeyKind::Ulid => values.push((M::PRIMARY_KEY.to_owned(), Value::from(new_ulid()))),
            KeyKind::Increment => {}
        }
    }
    let mut stmt = InsertStatement::new();
    stmt.into_table(iden(M::TABLE));
    if values.is_empty() {
        stmt.or_default_values();
    } else {
        stmt.columns(values.iter().map(|(c, _)| iden(c)));
        stmt.values(values.into_iter().map(|(_, v)| Expr::val(v)))
            .map_err(|e| DbError::InvalidQuery(e.to_string()))?;
    }
    stmt.returning(
        sea_query::Query::returning().exprs(M::COLUMNS.iter().map(|c| Expr::col(iden(c)))),
    );
    let (sql, values) = build(db.backend(), &stmt);
    let row = exec::fetch_optional(db, sql, values)
        .await?
        .ok_or_else(|| {
            DbError::InvalidQuery(format!("insert into `{}` returned no row", M::TABLE))
        })?;
    M::from_row(&row)
}

async fn update_row<M: Model>(db: &Db, model: &M) -> DbResult<u64> {
    let mut stmt = UpdateStatement::new();
    stmt.table(iden(M::TABLE));
    let values: Vec<(sea_query::DynIden, Expr)> = M::COLUMNS
        .iter()
        .filter(|c| **c != M::PRIMARY_KEY)
        .filter_map(|c| model.column_value(c).map(|v| (iden(c), Expr::val(v))))
        .collect();
    if values.is_empty() {
        return Ok(1);
    }
    stmt.values(values);
    stmt.and_where(col(M::PRIMARY_KEY).eq(Expr::val(model.key())));
    let (sql, values) = build(db.backend(), &stmt);
    exec::execute(db, sql, values).await
}

/// Which soft-deleted rows a query sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trashed {
    Without,
    With,
    Only,
}

/// A constrained eager load: `("comments", |q| q.where_eq("approved", true))`.
pub type Constraint = Arc<dyn Fn(Query) -> Query + Send + Sync>;

/// A model's query builder (`Post::query(&db)`).
pub struct ModelQuery<M: Model> {
    pub(crate) query: Query,
    trashed: Trashed,
    without_scopes: Vec<String>,
    pub(crate) eager: Vec<(String, Option<Constraint>)>,
    counts: Vec<String>,
    extras: Vec<(String, String, Vec<String>)>,
    error: Option<DbError>,
    _model: std::marker::PhantomData<fn() -> M>,
}

impl<M: Model> Clone for ModelQuery<M> {
    fn clone(&self) -> Self {
        Self {
            query: self.query.clone(),
            trashed: self.trashed,
            without_scopes: self.without_scopes.clone(),
            eager: self.eager.clone(),
            counts: self.counts.clone(),
            extras: self.extras.clone(),
            error: None,
            _model: std::marker::PhantomData,
        }
    }
}

impl<M: Model> std::fmt::Debug for ModelQuery<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelQuery")
            .field("model", &M::NAME)
            .field("sql", &self.to_sql())
            .finish()
    }
}

macro_rules! forward {
    ($($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) $(where $($w:tt)*)?;)*) => {$(
        $(#[$doc])*
        pub fn $name(mut self, $($arg: $ty),*) -> Self $(where $($w)*)? {
            self.query = self.query.$name($($arg),*);
            self
        }
    )*};
}

macro_rules! forward_checked {
    ($($(#[$doc:meta])* fn $name:ident(column: &str $(, $arg:ident: $ty:ty)*) $(<$($g:ident: $b:path),*>)?;)*) => {$(
        $(#[$doc])*
        pub fn $name$(<$($g: $b),*>)?(mut self, column: &str $(, $arg: $ty)*) -> Self {
            self.check_column(column);
            self.query = self.query.$name(column $(, $arg)*);
            self
        }
    )*};
}

impl<M: Model> ModelQuery<M> {
    /// A query on `M`'s table.
    pub fn new(db: &Db) -> Self {
        Self {
            query: db.table(M::TABLE),
            trashed: Trashed::Without,
            without_scopes: Vec::new(),
            eager: Vec::new(),
            counts: Vec::new(),
            extras: Vec::new(),
            error: None,
            _model: std::marker::PhantomData,
        }
    }

    /// A column name must belong to the model unless qualified with a table (`"users.name"`).
    fn check_column(&mut self, column: &str) {
        if !column.contains('.') && !M::COLUMNS.contains(&column) && self.error.is_none() {
            self.error = Some(DbError::UnknownColumn {
                model: M::NAME,
                column: column.to_owned(),
            });
        }
    }

    forward_checked! {
        /// `column = value`.
        fn where_eq(column: &str, value: impl Into<Value>);
        /// `OR column = value`.
        fn or_where_eq(column: &str, value: impl Into<Value>);
        /// `column <op> value`.
        fn where_op(column: &str, op: &str, value: impl Into<Value>);
        /// `OR column <op> value`.
        fn or_where_op(column: &str, op: &str, value: impl Into<Value>);
        /// `column LIKE pattern`.
        fn where_like(column: &str, pattern: &str);
        /// `column IS NULL`.
        fn where_null(column: &str);
        /// `column IS NOT NULL`.
        fn where_not_null(column: &str);
        /// `column BETWEEN low AND high`.
        fn where_between(column: &str, low: impl Into<Value>, high: impl Into<Value>);
        /// `ORDER BY column <direction>`.
        fn order_by(column: &str, direction: &str);
        /// `ORDER BY column ASC`.
        fn order_by_asc(column: &str);
        /// `ORDER BY column DESC`.
        fn order_by_desc(column: &str);
        /// Newest first.
        fn latest(column: &str);
        /// Oldest first.
        fn oldest(column: &str);
    }

    forward! {
        /// A parenthesised group.
        fn where_group(f: impl FnOnce(Query) -> Query);
        /// An OR'ed parenthesised group.
        fn or_where_group(f: impl FnOnce(Query) -> Query);
        /// `EXISTS (subquery)`.
        fn where_exists(sub: Query);
        /// `NOT EXISTS (subquery)`.
        fn where_not_exists(sub: Query);
        /// `LIMIT n`.
        fn limit(n: u64);
        /// `OFFSET n`.
        fn offset(n: u64);
        /// `FOR UPDATE` (PostgreSQL).
        fn lock_for_update();
        /// `INNER JOIN`.
        fn join(table: &str, first: &str, op: &str, second: &str);
        /// `LEFT JOIN`.
        fn left_join(table: &str, first: &str, op: &str, second: &str);
        /// Remove ordering.
        fn reorder();
    }

    /// `column IN (…)`.
    pub fn where_in<I, V>(mut self, column: &str, values: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: Into<Value>,
    {
        self.check_column(column);
        self.query = self.query.where_in(column, values);
        self
    }

    /// `column NOT IN (…)`.
    pub fn where_not_in<I, V>(mut self, column: &str, values: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: Into<Value>,
    {
        self.check_column(column);
        self.query = self.query.where_not_in(column, values);
        self
    }

    /// A raw condition; values bound.
    pub fn where_raw<I, V>(mut self, sql: &str, values: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: Into<Value>,
    {
        self.query = self.query.where_raw(sql, values);
        self
    }

    /// `primary key = key`.
    pub fn where_key(self, key: impl Into<Value>) -> Self {
        self.where_eq(M::PRIMARY_KEY, key)
    }

    /// Apply a local scope: `Post::query(&db).scope(Post::published)`.
    pub fn scope(self, f: impl FnOnce(Self) -> Self) -> Self {
        f(self)
    }

    /// Apply `f` only when `condition` holds.
    pub fn when(self, condition: bool, f: impl FnOnce(Self) -> Self) -> Self {
        if condition { f(self) } else { self }
    }

    /// Edit the underlying [`Query`] (anything the model query does not forward).
    pub fn tap(mut self, f: impl FnOnce(Query) -> Query) -> Self {
        self.query = f(self.query);
        self
    }

    /// Leave out the global scope called `name`.
    pub fn without_global_scope(mut self, name: &str) -> Self {
        self.without_scopes.push(name.to_owned());
        self
    }

    /// Leave out every global scope.
    pub fn without_global_scopes(mut self) -> Self {
        self.without_scopes
            .extend(M::global_scopes().iter().map(|s| s.name.to_owned()));
        self
    }

    /// Include soft-deleted rows.
    pub fn with_trashed(mut self) -> Self {
        self.trashed = Trashed::With;
        self
    }

    /// Only soft-deleted rows.
    pub fn only_trashed(mut self) -> Self {
        self.trashed = Trashed::Only;
        self
    }

    /// Eager load relations by name; nested with dots (`"comments.author"`).
    pub fn with<I, S>(mut self, relations: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.eager
            .extend(relations.into_iter().map(|r| (r.as_ref().to_owned(), None)));
        self
    }

    /// Eager load one relation with a constraint on its query.
    pub fn with_constrained(
        mut self,
        relation: &str,
        constraint: impl Fn(Query) -> Query + Send + Sync + 'static,
    ) -> Self {
        self.eager
            .push((relation.to_owned(), Some(Arc::new(constraint))));
        self
    }

    /// Select `table.column` for each column and keep them on each model as the JSON object
    /// `extra[name]` (used for `pivot` and through keys).
    pub(crate) fn attach_extra(mut self, name: &str, table: &str, columns: Vec<String>) -> Self {
        self.extras
            .push((name.to_owned(), table.to_owned(), columns));
        self
    }

    /// Add `{relation}_count` to each model (one subquery, no extra round trip).
    pub fn with_count(mut self, relation: &str) -> Self {
        self.counts.push(relation.to_owned());
        self
    }

    /// Only models with at least one related row (optionally constrained).
    pub fn where_has(self, relation: &str, constraint: impl FnOnce(Query) -> Query) -> Self {
        self.has_impl(relation, constraint, false)
    }

    /// Only models with no related row.
    pub fn doesnt_have(self, relation: &str) -> Self {
        self.has_impl(relation, |q| q, true)
    }

    fn has_impl(
        mut self,
        relation: &str,
        constraint: impl FnOnce(Query) -> Query,
        negate: bool,
    ) -> Self {
        match M::relation(relation) {
            Some(rel) => {
                let sub = constraint(rel.exists_query());
                self.query = if negate {
                    self.query.where_not_exists(sub)
                } else {
                    self.query.where_exists(sub)
                };
            }
            None => {
                self.error.get_or_insert(DbError::UnknownRelation {
                    model: M::NAME,
                    relation: relation.to_owned(),
                });
            }
        }
        self
    }

    /// The query with scopes and the soft-delete filter applied.
    /// Now, by the clock of the connection this query runs on.
    fn fresh_timestamp(&self) -> DateTime<Utc> {
        match self.query.db() {
            Some(db) => db.fresh_timestamp(),
            None => foundry_core::Clock::system().now().trunc_subsecs(0),
        }
    }

    pub(crate) fn scoped(&self) -> DbResult<Query> {
        if let Some(e) = &self.error {
            return Err(DbError::InvalidQuery(e.to_string()));
        }
        let mut q = self.query.clone();
        for scope in M::global_scopes() {
            if !self.without_scopes.iter().any(|n| n == scope.name) {
                q = (scope.apply)(q);
            }
        }
        if M::SOFT_DELETES {
            let deleted = format!("{}.deleted_at", M::TABLE);
            q = match self.trashed {
                Trashed::Without => q.where_null(&deleted),
                Trashed::Only => q.where_not_null(&deleted),
                Trashed::With => q,
            };
        }
        Ok(q)
    }

    pub(crate) fn select_query(&self) -> DbResult<Query> {
        let mut q = self.scoped()?.select_exprs(select_columns::<M>());
        for (name, table, columns) in &self.extras {
            for c in columns {
                q = q.select_expr(Expr::col((iden(table), iden(c))).binary(
                    sea_query::BinOper::As,
                    Expr::col(iden(&format!("__{name}__{c}"))),
                ));
            }
        }
        for relation in &self.counts {
            let rel = M::relation(relation).ok_or_else(|| DbError::UnknownRelation {
                model: M::NAME,
                relation: relation.clone(),
            })?;
            let sub = rel
                .exists_query()
                .select(Vec::<String>::new())
                .select_raw("COUNT(*)");
            let select = sub.to_select_for(q.db().map_or(crate::Backend::Sqlite, Db::backend))?;
            q = q.select_expr(Expr::SubQuery(None, Box::new(select.into())).binary(
                sea_query::BinOper::As,
                Expr::col(iden(&format!("{relation}_count"))),
            ));
        }
        Ok(q)
    }

    /// The SELECT this query runs.
    pub fn to_sql(&self) -> String {
        match self.select_query() {
            Ok(q) => q.to_sql(),
            Err(e) => format!("-- {e}"),
        }
    }

    /// Every matching model, with eager loads.
    pub async fn get(&self) -> DbResult<Vec<M>> {
        self.get_limited(None).await
    }

    async fn get_limited(&self, limit: Option<u64>) -> DbResult<Vec<M>> {
        let mut q = self.select_query()?;
        if let Some(n) = limit {
            q = q.limit(n);
        }
        let rows = q.fetch_rows_owned().await?;
        let mut models = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut m = M::from_row(row)?;
            if !self.counts.is_empty()
                && let Some(rel) = m.relations_mut()
            {
                for relation in &self.counts {
                    let key = format!("{relation}_count");
                    let n: i64 = row.get(&key)?;
                    rel.set_extra(&key, Json::from(n));
                }
            }
            if !self.extras.is_empty() {
                let Some(rel) = m.relations_mut() else {
                    return Err(DbError::InvalidQuery(format!(
                        "model {} needs a `Relations` field to be loaded through a pivot or intermediate table",
                        M::NAME
                    )));
                };
                for (name, _, columns) in &self.extras {
                    let mut obj = Map::new();
                    for c in columns {
                        obj.insert(c.clone(), row.json(&format!("__{name}__{c}"))?);
                    }
                    rel.set_extra(name, Json::Object(obj));
                }
            }
            models.push(m);
        }
        if !self.eager.is_empty() && !models.is_empty() {
            let db = self
                .query
                .db()
                .cloned()
                .ok_or_else(|| DbError::InvalidQuery("query has no connection".into()))?;
            crate::relations::eager_load(&db, &mut models, &self.eager).await?;
        }
        Ok(models)
    }

    /// Stream matching models one by one without loading them all (no eager loading).
    pub fn cursor(&self) -> futures_util::stream::BoxStream<'static, DbResult<M>> {
        use futures_util::StreamExt;
        let built = self.select_query().and_then(|q| {
            let db = q
                .db()
                .cloned()
                .ok_or_else(|| DbError::InvalidQuery("query has no connection".into()))?;
            let select = q.to_select_for(db.backend())?;
            Ok((db, select))
        });
        match built {
            Ok((db, select)) => {
                let (sql, values) = build_select(db.backend(), &select);
                exec::fetch_stream(&db, sql, values)
                    .map(|row| row.and_then(|r| M::from_row(&r)))
                    .boxed()
            }
            Err(e) => futures_util::stream::once(async move { Err(e) }).boxed(),
        }
    }

    /// Process matching models in chunks of `size`, paging by primary key (`WHERE id > last`),
    /// with eager loads applied per chunk. Stops early when `f` returns `Ok(false)`.
    pub async fn chunk_by_id<F, Fut>(&self, size: u64, mut f: F) -> DbResult<()>
    where
        F: FnMut(Vec<M>) -> Fut,
        Fut: Future<Output = DbResult<bool>>,
    {
        let size = std::cmp::max(size, 1);
        let pk = format!("{}.{}", M::TABLE, M::PRIMARY_KEY);
        let mut last: Option<Value> = None;
        loop {
            let mut q = self.clone().reorder().order_by_asc(&pk).limit(size);
            if let Some(key) = last.take() {
                q = q.where_op(&pk, ">", key);
            }
            let models = q.get().await?;
            let n = models.len() as u64;
            let Some(next) = models.last().map(Model::key) else {
                return Ok(());
            };
            last = Some(next);
            if !f(models).await? || n < size {
                return Ok(());
            }
        }
    }

    /// The first matching model.
    pub async fn first(&self) -> DbResult<Option<M>> {
        Ok(self.get_limited(Some(1)).await?.into_iter().next())
    }

    /// The first matching model or [`DbError::NotFound`].
    pub async fn first_or_fail(&self) -> DbResult<M> {
        self.first().await?.ok_or_else(|| DbError::NotFound {
            model: M::NAME.to_owned(),
            key: "matching the query".into(),
        })
    }

    /// The model with this key.
    pub async fn find(&self, key: impl Into<Value>) -> DbResult<Option<M>> {
        self.clone().where_key(key).first().await
    }

    /// How many models match.
    pub async fn count(&self) -> DbResult<i64> {
        self.scoped()?.count().await
    }

    /// Whether any model matches.
    pub async fn exists(&self) -> DbResult<bool> {
        self.scoped()?.exists().await
    }

    /// The values of one column.
    pub async fn pluck<T: crate::DbDecode>(&self, column: &str) -> DbResult<Vec<T>> {
        let mut q = self.clone();
        q.check_column(column);
        q.scoped()?.pluck_as(column).await
    }

    /// Update matching rows without loading them (no events, Laravel's mass update).
    pub async fn update(&self, attrs: Json) -> DbResult<u64> {
        let mut values = Vec::new();
        for (column, value) in attributes(attrs, M::NAME)? {
            if !M::COLUMNS.contains(&column.as_str()) {
                return Err(DbError::UnknownColumn {
                    model: M::NAME,
                    column,
                });
            }
            values.push((column.clone(), Expr::val(M::json_to_value(&column, value)?)));
        }
        if M::TIMESTAMPS && !values.iter().any(|(c, _)| c == "updated_at") {
            values.push((
                "updated_at".into(),
                Expr::val(Value::from(self.fresh_timestamp())),
            ));
        }
        self.scoped()?.update_exprs(values).await
    }

    /// Delete matching rows without loading them (soft on soft-deleting models; no events).
    pub async fn delete(&self) -> DbResult<u64> {
        let q = self.scoped()?;
        if M::SOFT_DELETES {
            q.update(vec![("deleted_at", Value::from(self.fresh_timestamp()))])
                .await
        } else {
            q.delete().await
        }
    }

    /// Remove matching rows even on soft-deleting models.
    pub async fn force_delete(&self) -> DbResult<u64> {
        self.scoped()?.delete().await
    }

    /// Undo soft deletes of matching rows.
    pub async fn restore(&self) -> DbResult<u64> {
        let q = self.clone().only_trashed().scoped()?;
        q.update_exprs(vec![(
            "deleted_at".to_owned(),
            Expr::Keyword(sea_query::Keyword::Null),
        )])
        .await
    }

    /// The underlying query with scopes applied (for aggregates and the like).
    pub fn to_query(&self) -> DbResult<Query> {
        self.scoped()
    }
}

/// Helpers the derive's generated code calls.
#[doc(hidden)]
pub mod codegen {
    use super::*;

    pub fn decode<T: crate::DbDecode>(row: &Row, column: &str) -> DbResult<T> {
        row.get(column)
    }

    pub fn decode_json<T: serde::de::DeserializeOwned>(row: &Row, column: &str) -> DbResult<T> {
        let raw: Option<sqlx::types::Json<Json>> = row.get(column)?;
        serde_json::from_value(raw.map_or(Json::Null, |j| j.0)).map_err(|e| DbError::Decode {
            column: column.to_owned(),
            message: e.to_string(),
        })
    }

    pub fn decode_enum<T: serde::de::DeserializeOwned>(row: &Row, column: &str) -> DbResult<T> {
        let raw: Option<String> = row.get(column)?;
        serde_json::from_value(raw.map_or(Json::Null, Json::String)).map_err(|e| DbError::Decode {
            column: column.to_owned(),
            message: e.to_string(),
        })
    }

    pub fn encode_json<T: serde::Serialize>(value: &T) -> Value {
        match serde_json::to_value(value) {
            Ok(Json::Null) | Err(_) => Value::Json(None),
            Ok(j) => Value::Json(Some(Box::new(j))),
        }
    }

    pub fn encode_enum<T: serde::Serialize>(value: &T) -> Value {
        match serde_json::to_value(value) {
            Ok(Json::String(s)) => Value::String(Some(s)),
            _ => Value::String(None),
        }
    }

    pub fn from_json<T: serde::de::DeserializeOwned>(
        model: &'static str,
        column: &str,
        value: Json,
    ) -> DbResult<T> {
        serde_json::from_value(value).map_err(|e| DbError::MassAssignment {
            model,
            message: format!("attribute `{column}`: {e}"),
        })
    }

    pub fn to_json<T: serde::Serialize>(value: &T) -> Json {
        serde_json::to_value(value).unwrap_or(Json::Null)
    }

    pub fn key_is_set_i64(key: i64) -> bool {
        key != 0
    }

    pub fn key_is_set_str(key: &str) -> bool {
        !key.is_empty()
    }
}
