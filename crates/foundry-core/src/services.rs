//! The typed service registry: the app's own services, bound by type with a lifetime.
//!
//! Three lifetimes, as in Laravel's container:
//! - **singleton**: one instance for the whole app ([`ServicesBuilder::singleton`]);
//! - **scoped**: one instance per request, built on first use in that request
//!   ([`ServicesBuilder::scoped`]);
//! - **transient**: a new instance every time it is resolved ([`ServicesBuilder::transient`]).
//!
//! Handlers resolve services with the [`Service`] extractor. The framework's own services
//! (config, database, cache, …) are typed fields of [`AppContext`](crate::AppContext) instead;
//! the registry is for what the app and plugins add. The registry is built once at boot and
//! is read-only afterwards, so resolving takes no lock except the per-request scope's.
//!
//! ```
//! use foundry_core::services::ServicesBuilder;
//!
//! struct Greeter { greeting: String }
//! let mut builder = ServicesBuilder::new();
//! builder.singleton(Greeter { greeting: "hello".into() });
//! builder.transient(|services| {
//!     let greeter = services.get::<Greeter>()?;
//!     Ok(format!("{}, world", greeter.greeting))
//! });
//! let services = builder.build();
//! assert_eq!(*services.get::<String>().unwrap(), "hello, world");
//! ```

use std::any::{Any, TypeId, type_name};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use axum_core::extract::{FromRef, FromRequestParts};
use http::request::Parts;

use crate::context::AppContext;
use crate::error::{Error, Result};

type AnyArc = Arc<dyn Any + Send + Sync>;
/// Maps keyed by `TypeId`, looked up on every `Service<T>` extraction: foldhash hashes the
/// id in a few instructions where SipHash takes ~100.
type TypeMap<V> = HashMap<TypeId, V, foldhash::fast::FixedState>;
type Factory = Arc<dyn Fn(&Services) -> Result<AnyArc> + Send + Sync>;

#[derive(Clone)]
enum Binding {
    Singleton(AnyArc),
    Scoped(Factory),
    Transient(Factory),
}

impl Binding {
    fn lifetime(&self) -> Lifetime {
        match self {
            Binding::Singleton(_) => Lifetime::Singleton,
            Binding::Scoped(_) => Lifetime::Scoped,
            Binding::Transient(_) => Lifetime::Transient,
        }
    }
}

/// How long a resolved service lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// One instance for the app.
    Singleton,
    /// One instance per request.
    Scoped,
    /// A new instance on every resolution.
    Transient,
}

struct Entry {
    name: &'static str,
    binding: Binding,
}

/// Collects bindings during service providers' `register` phase.
#[derive(Default)]
pub struct ServicesBuilder {
    entries: TypeMap<Entry>,
}

impl ServicesBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bind one shared instance of `T`. A later binding of the same type replaces it.
    pub fn singleton<T: Send + Sync + 'static>(&mut self, value: T) -> &mut Self {
        self.insert::<T>(Binding::Singleton(Arc::new(value)))
    }

    /// Bind `T` to a factory run once per request, on first use.
    pub fn scoped<T, F>(&mut self, factory: F) -> &mut Self
    where
        T: Send + Sync + 'static,
        F: Fn(&Services) -> Result<T> + Send + Sync + 'static,
    {
        self.insert::<T>(Binding::Scoped(erase(factory)))
    }

    /// Bind `T` to a factory run on every resolution.
    pub fn transient<T, F>(&mut self, factory: F) -> &mut Self
    where
        T: Send + Sync + 'static,
        F: Fn(&Services) -> Result<T> + Send + Sync + 'static,
    {
        self.insert::<T>(Binding::Transient(erase(factory)))
    }

    /// Whether `T` is bound.
    pub fn contains<T: 'static>(&self) -> bool {
        self.entries.contains_key(&TypeId::of::<T>())
    }

    fn insert<T: 'static>(&mut self, binding: Binding) -> &mut Self {
        self.entries.insert(
            TypeId::of::<T>(),
            Entry {
                name: type_name::<T>(),
                binding,
            },
        );
        self
    }

    /// Freeze the bindings.
    pub fn build(self) -> Services {
        Services {
            entries: Arc::new(self.entries),
        }
    }
}

fn erase<T, F>(factory: F) -> Factory
where
    T: Send + Sync + 'static,
    F: Fn(&Services) -> Result<T> + Send + Sync + 'static,
{
    Arc::new(move |services| factory(services).map(|value| Arc::new(value) as AnyArc))
}

/// The frozen registry; cheap to clone.
#[derive(Clone, Default)]
pub struct Services {
    entries: Arc<TypeMap<Entry>>,
}

impl fmt::Debug for Services {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<_> = self
            .entries
            .values()
            .map(|e| (e.name, e.binding.lifetime()))
            .collect();
        names.sort_unstable_by_key(|(name, _)| *name);
        f.debug_map().entries(names).finish()
    }
}

impl Services {
    /// Resolve a singleton or transient service.
    ///
    /// Scoped services need a request: resolve them with the [`Service`] extractor or
    /// [`Services::get_scoped`].
    pub fn get<T: Send + Sync + 'static>(&self) -> Result<Arc<T>> {
        self.resolve(self.entry::<T>()?)
    }

    /// Resolve a singleton or transient `entry` (bound for `T`).
    fn resolve<T: Send + Sync + 'static>(&self, entry: &Entry) -> Result<Arc<T>> {
        match &entry.binding {
            Binding::Singleton(value) => Ok(downcast(value.clone())),
            Binding::Transient(factory) => factory(self).map(downcast),
            Binding::Scoped(_) => Err(Error::internal(ServiceError::ScopedOutsideRequest {
                name: entry.name,
            })),
        }
    }

    /// Resolve any service, caching scoped ones in `scope`.
    pub fn get_scoped<T: Send + Sync + 'static>(&self, scope: &RequestScope) -> Result<Arc<T>> {
        let entry = self.entry::<T>()?;
        let Binding::Scoped(factory) = &entry.binding else {
            return self.resolve(entry);
        };
        self.resolve_scoped(factory, scope)
    }

    /// A scoped service's instance for the request of `scope`, built by `factory` on first use.
    fn resolve_scoped<T: Send + Sync + 'static>(
        &self,
        factory: &Factory,
        scope: &RequestScope,
    ) -> Result<Arc<T>> {
        let id = TypeId::of::<T>();
        if let Some(value) = scope.lock().get(&id) {
            return Ok(downcast(value.clone()));
        }
        // Build outside the lock: the factory may resolve other scoped services.
        let value = factory(self)?;
        let value = scope.lock().entry(id).or_insert(value).clone();
        Ok(downcast(value))
    }

    /// The lifetime `T` is bound with, if it is bound.
    pub fn lifetime_of<T: 'static>(&self) -> Option<Lifetime> {
        self.entries
            .get(&TypeId::of::<T>())
            .map(|e| e.binding.lifetime())
    }

    /// Number of bindings.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is bound.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn entry<T: 'static>(&self) -> Result<&Entry> {
        self.entries.get(&TypeId::of::<T>()).ok_or_else(|| {
            Error::internal(ServiceError::NotBound {
                name: type_name::<T>(),
            })
        })
    }
}

fn downcast<T: Send + Sync + 'static>(value: AnyArc) -> Arc<T> {
    match value.downcast::<T>() {
        Ok(value) => value,
        // Bindings are keyed by `TypeId::of::<T>()` and always store a `T`.
        Err(_) => unreachable!(
            "service registry holds a value of the wrong type for {}",
            type_name::<T>()
        ),
    }
}

/// Why a service could not be resolved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// Nothing is bound for the type.
    #[error(
        "no service is bound for type `{name}`; bind it in a service provider's `register` \
         (services.singleton(…), .scoped(…) or .transient(…))"
    )]
    NotBound {
        /// The type's name.
        name: &'static str,
    },
    /// A scoped service was asked for outside a request.
    #[error(
        "service `{name}` is scoped to a request and cannot be resolved outside one; \
         resolve it with the `Service<T>` extractor"
    )]
    ScopedOutsideRequest {
        /// The type's name.
        name: &'static str,
    },
}

/// The cache of scoped services for one request; lives in the request's extensions.
#[derive(Clone, Default)]
pub struct RequestScope(Arc<Mutex<TypeMap<AnyArc>>>);

impl RequestScope {
    fn lock(&self) -> std::sync::MutexGuard<'_, TypeMap<AnyArc>> {
        // A factory that panicked cannot leave the map half-written: inserts are single calls.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Extractor resolving a service from the registry, whatever its lifetime.
///
/// ```
/// use foundry_core::services::Service;
///
/// struct Mailer;
/// impl Mailer { fn name(&self) -> &'static str { "smtp" } }
///
/// async fn handler(Service(mailer): Service<Mailer>) -> &'static str {
///     mailer.name()
/// }
/// ```
///
/// A type nobody bound becomes a 500 whose private message names the type.
pub struct Service<T>(pub Arc<T>);

impl<T> std::ops::Deref for Service<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T, S> FromRequestParts<S> for Service<T>
where
    T: Send + Sync + 'static,
    S: Send + Sync,
    AppContext: FromRef<S>,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ctx = AppContext::from_ref(state);
        let services = ctx.services();
        // One lookup: singletons (the common case) never touch the request's scope.
        let entry = services.entry::<T>()?;
        let Binding::Scoped(factory) = &entry.binding else {
            return services.resolve(entry).map(Service);
        };
        let scope = parts
            .extensions
            .get_or_insert_default::<RequestScope>()
            .clone();
        services.resolve_scoped(factory, &scope).map(Service)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Debug)]
    struct Counter(usize);

    #[test]
    fn singleton_is_shared() {
        let mut b = ServicesBuilder::new();
        b.singleton(Counter(7));
        let s = b.build();
        let a = s.get::<Counter>().unwrap();
        let b = s.get::<Counter>().unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.0, 7);
    }

    #[test]
    fn transient_builds_every_time() {
        let built = Arc::new(AtomicUsize::new(0));
        let seen = built.clone();
        let mut b = ServicesBuilder::new();
        b.transient(move |_| Ok(Counter(seen.fetch_add(1, Ordering::SeqCst))));
        let s = b.build();
        let first = s.get::<Counter>().unwrap();
        let second = s.get::<Counter>().unwrap();
        assert_eq!((first.0, second.0), (0, 1));
        assert_eq!(built.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn scoped_is_one_per_scope() {
        let built = Arc::new(AtomicUsize::new(0));
        let seen = built.clone();
        let mut b = ServicesBuilder::new();
        b.scoped(move |_| Ok(Counter(seen.fetch_add(1, Ordering::SeqCst))));
        let s = b.build();
        let request_a = RequestScope::default();
        let request_b = RequestScope::default();
        let a1 = s.get_scoped::<Counter>(&request_a).unwrap();
        let a2 = s.get_scoped::<Counter>(&request_a).unwrap();
        let b1 = s.get_scoped::<Counter>(&request_b).unwrap();
        assert!(Arc::ptr_eq(&a1, &a2), "same request, same instance");
        assert!(!Arc::ptr_eq(&a1, &b1), "another request, another instance");
        assert_eq!(built.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn scoped_outside_a_request_and_unbound_types_are_clear_errors() {
        let mut b = ServicesBuilder::new();
        b.scoped(|_| Ok(Counter(0)));
        let s = b.build();
        let err = s.get::<Counter>().unwrap_err();
        assert!(err.chain()[1].contains("scoped to a request"), "{err}");
        assert!(err.chain()[1].contains("Counter"), "{err}");

        let err = s.get::<String>().unwrap_err();
        assert!(err.chain()[1].contains("no service is bound for type `alloc::string::String`"));
    }

    #[test]
    fn factories_can_resolve_other_services_and_fail() {
        let mut b = ServicesBuilder::new();
        b.singleton(Counter(2));
        b.transient(|s| Ok(s.get::<Counter>()?.0 * 10));
        b.transient::<u8, _>(|_| Err(Error::unavailable("down")));
        let s = b.build();
        assert_eq!(*s.get::<usize>().unwrap(), 20);
        assert_eq!(s.get::<u8>().unwrap_err().status().as_u16(), 503);
    }
}
