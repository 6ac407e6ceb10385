//! Factories: fake model data with counts, states, sequences and relations (Laravel's
//! `User::factory()->count(3)->has(Post::factory())->create()`).
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use foundry_db::{Db, Model, ModelExt};
//! use foundry_db::factory::{Factory, HasFactory, fake};
//! use fake::Fake;
//! use serde_json::json;
//!
//! #[derive(Model, Clone, Debug)]
//! struct User { id: i64, name: String, admin: bool }
//!
//! impl HasFactory for User {
//!     fn definition(_index: usize) -> serde_json::Value {
//!         json!({ "name": fake::faker::name::en::Name().fake::<String>(), "admin": false })
//!     }
//! }
//!
//! let db = Db::connect("sqlite::memory:").await.unwrap();
//! db.statement("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, admin BOOLEAN)", vec![]).await.unwrap();
//! let admins = User::factory().count(2).state(json!({"admin": true})).create(&db).await.unwrap();
//! assert!(admins.iter().all(|u| u.admin && u.id > 0));
//! let unsaved = User::factory().make().unwrap();
//! assert_eq!(unsaved[0].id, 0);
//! # });
//! ```

use std::sync::Arc;

use foundry_core::BoxFuture;
use serde_json::{Map, Value as Json};

pub use fake;

use crate::connection::Db;
use crate::error::{DbError, DbResult};
use crate::model::{Model, ModelExt};
use crate::query::Value;

/// A model with a factory definition.
pub trait HasFactory: Model {
    /// The attributes of the `index`-th model (use the `fake` crate for data).
    fn definition(index: usize) -> Json;

    /// A factory for this model.
    fn factory() -> Factory<Self> {
        Factory::new()
    }
}

type StateFn = Arc<dyn Fn(usize, Map<String, Json>) -> Map<String, Json> + Send + Sync>;

trait ChildFactory: Send + Sync {
    fn create_for<'a>(&'a self, db: &'a Db, parent_key: Value) -> BoxFuture<'a, DbResult<()>>;
}

enum Parent {
    Key(Value),
    Factory(Box<dyn ParentFactory>),
}

trait ParentFactory: Send + Sync {
    fn create_one<'a>(&'a self, db: &'a Db) -> BoxFuture<'a, DbResult<Value>>;
}

/// Builds models of `M` from [`HasFactory::definition`].
pub struct Factory<M: HasFactory> {
    count: usize,
    states: Vec<StateFn>,
    parents: Vec<(String, Parent)>,
    children: Vec<Arc<dyn ChildFactory>>,
    _model: std::marker::PhantomData<fn() -> M>,
}

impl<M: HasFactory> std::fmt::Debug for Factory<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Factory")
            .field("model", &M::NAME)
            .field("count", &self.count)
            .finish()
    }
}

fn object(value: Json) -> Map<String, Json> {
    match value {
        Json::Object(map) => map,
        _ => Map::new(),
    }
}

impl<M: HasFactory> Default for Factory<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: HasFactory> Factory<M> {
    /// One model.
    pub fn new() -> Self {
        Self {
            count: 1,
            states: Vec::new(),
            parents: Vec::new(),
            children: Vec::new(),
            _model: std::marker::PhantomData,
        }
    }

    /// How many models to build.
    pub fn count(mut self, n: usize) -> Self {
        self.count = n;
        self
    }

    /// Override attributes (a state).
    pub fn state(mut self, attrs: Json) -> Self {
        let attrs = object(attrs);
        self.states.push(Arc::new(move |_, mut map| {
            map.extend(attrs.clone());
            map
        }));
        self
    }

    /// A state computed from the index and the attributes so far.
    pub fn state_fn(
        mut self,
        f: impl Fn(usize, Map<String, Json>) -> Map<String, Json> + Send + Sync + 'static,
    ) -> Self {
        self.states.push(Arc::new(f));
        self
    }

    /// Cycle through these attribute sets (Laravel's `Sequence`).
    pub fn sequence(mut self, items: Vec<Json>) -> Self {
        let items: Vec<Map<String, Json>> = items.into_iter().map(object).collect();
        if items.is_empty() {
            return self;
        }
        self.states.push(Arc::new(move |i, mut map| {
            map.extend(items[i % items.len()].clone());
            map
        }));
        self
    }

    /// Belong to an existing parent: set `foreign_key` to its key.
    pub fn for_model<P: Model>(mut self, parent: &P, foreign_key: &str) -> Self {
        self.parents
            .push((foreign_key.to_owned(), Parent::Key(parent.key())));
        self
    }

    /// Belong to a new parent made by `factory` (one parent shared by all models).
    pub fn for_<P: HasFactory>(mut self, factory: Factory<P>, foreign_key: &str) -> Self {
        self.parents
            .push((foreign_key.to_owned(), Parent::Factory(Box::new(factory))));
        self
    }

    /// Give each model children made by `factory`, linked by their `foreign_key`.
    pub fn has<C: HasFactory>(mut self, factory: Factory<C>, foreign_key: &str) -> Self {
        self.children.push(Arc::new(ChildSpec {
            factory,
            foreign_key: foreign_key.to_owned(),
        }));
        self
    }

    fn attributes(&self, index: usize) -> Map<String, Json> {
        let mut attrs = object(M::definition(index));
        for state in &self.states {
            attrs = state(index, attrs);
        }
        attrs
    }

    /// Build the models without saving them (keys stay unset; parents given by factory are
    /// not created, so their foreign keys stay unset too).
    pub fn make(&self) -> DbResult<Vec<M>> {
        (0..self.count)
            .map(|i| {
                let mut attrs = self.attributes(i);
                for (fk, parent) in &self.parents {
                    if let Parent::Key(key) = parent {
                        attrs.insert(fk.clone(), crate::query::value_json(key));
                    }
                }
                M::from_attributes(attrs)
            })
            .collect()
    }

    /// Build and insert the models (bypassing mass-assignment guards, like Laravel), then their
    /// children.
    pub async fn create(&self, db: &Db) -> DbResult<Vec<M>> {
        let mut parent_keys = Vec::new();
        for (fk, parent) in &self.parents {
            let key = match parent {
                Parent::Key(key) => key.clone(),
                Parent::Factory(f) => f.create_one(db).await?,
            };
            parent_keys.push((fk.clone(), crate::query::value_json(&key)));
        }
        let mut out = Vec::with_capacity(self.count);
        for i in 0..self.count {
            let mut attrs = self.attributes(i);
            attrs.extend(parent_keys.iter().cloned());
            let model = M::force_create(db, Json::Object(attrs)).await?;
            for child in &self.children {
                child.create_for(db, model.key()).await?;
            }
            out.push(model);
        }
        Ok(out)
    }

    /// Create exactly one model.
    pub async fn create_one(&self, db: &Db) -> DbResult<M> {
        let mut one = Self {
            count: 1,
            states: self.states.clone(),
            parents: Vec::new(),
            children: self.children.clone(),
            _model: std::marker::PhantomData,
        };
        for (fk, parent) in &self.parents {
            if let Parent::Key(k) = parent {
                one.parents.push((fk.clone(), Parent::Key(k.clone())));
            }
        }
        if one.parents.len() != self.parents.len() {
            return Err(DbError::InvalidQuery(
                "create_one cannot share a factory-made parent; use create".into(),
            ));
        }
        one.create(db)
            .await?
            .pop()
            .ok_or_else(|| DbError::InvalidQuery("factory created nothing".into()))
    }
}

struct ChildSpec<C: HasFactory> {
    factory: Factory<C>,
    foreign_key: String,
}

impl<C: HasFactory> ChildFactory for ChildSpec<C> {
    fn create_for<'a>(&'a self, db: &'a Db, parent_key: Value) -> BoxFuture<'a, DbResult<()>> {
        Box::pin(async move {
            let key = crate::query::value_json(&parent_key);
            for i in 0..self.factory.count {
                let mut attrs = self.factory.attributes(i);
                attrs.insert(self.foreign_key.clone(), key.clone());
                let child = C::force_create(db, Json::Object(attrs)).await?;
                for grandchild in &self.factory.children {
                    grandchild.create_for(db, child.key()).await?;
                }
            }
            Ok(())
        })
    }
}

impl<P: HasFactory> ParentFactory for Factory<P> {
    fn create_one<'a>(&'a self, db: &'a Db) -> BoxFuture<'a, DbResult<Value>> {
        Box::pin(async move {
            let mut made = Factory::<P> {
                count: 1,
                states: self.states.clone(),
                parents: Vec::new(),
                children: self.children.clone(),
                _model: std::marker::PhantomData,
            }
            .create(db)
            .await?;
            made.pop().map(|m| m.key()).ok_or_else(|| {
                DbError::InvalidQuery(format!("factory for {} created nothing", P::NAME))
            })
        })
    }
}
