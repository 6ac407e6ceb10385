//! Named middleware and middleware groups (`web`, `api`), resolved by [`Routes`](crate::Routes).
//!
//! As in Laravel, route middleware runs only for requests that matched a route: an unknown
//! path (404) or a wrong method (405) never enters a group's middleware. (They are applied with
//! axum's `route_layer`, which also keeps a group's layers off the app's fallback.)
//!
//! A name stands for a tower layer or for a group of other names. The framework registers
//! `api` and `web`; apps and components add their own:
//!
//! ```
//! use foundry_http::MiddlewareRegistry;
//! use tower::layer::util::Identity;
//!
//! let registry = MiddlewareRegistry::<()>::with_defaults()
//!     .register("noop", Identity::new())
//!     .group("admin", ["web", "noop"]);
//! assert!(registry.contains("admin"));
//! assert_eq!(registry.names(), ["admin", "api", "json_errors", "noop", "web"]);
//! ```
//!
//! A name can take parameters after a colon, as Laravel's `throttle:60,1`: register a factory
//! with [`MiddlewareRegistry::register_with_params`]; it gets the text after the colon (empty
//! when none) and builds the layer when the routes are built, so a bad parameter is a boot
//! error naming the route:
//!
//! ```
//! use foundry_http::MiddlewareRegistry;
//! use tower::layer::util::Identity;
//!
//! let registry = MiddlewareRegistry::<()>::with_defaults().register_with_params("cap", |params| {
//!     params.parse::<u32>().map(|_| Identity::new()).map_err(|_| format!("`{params}` is not a number"))
//! });
//! assert!(registry.contains("cap:10"));
//! ```

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, Route};
use tower::{Layer, Service};

use crate::routing::RouteError;

/// A property a middleware name gives the routes it is applied to, instead of wrapping them
/// in a layer. Flags are read once, when the router is built, so they add nothing to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RouteFlag {
    /// Error responses of the route render as JSON whatever the `Accept` header says.
    JsonErrors,
}

trait ApplyLayer<S>: Send + Sync {
    fn to_router(&self, router: Router<S>) -> Router<S>;
    fn to_route(&self, route: MethodRouter<S>) -> MethodRouter<S>;
}

struct LayerApply<L>(L);

impl<S, L> ApplyLayer<S> for LayerApply<L>
where
    S: Clone + Send + Sync + 'static,
    L: Layer<Route> + Clone + Send + Sync + 'static,
    L::Service: Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
    <L::Service as Service<Request>>::Response: IntoResponse + 'static,
    <L::Service as Service<Request>>::Future: Send + 'static,
{
    fn to_router(&self, router: Router<S>) -> Router<S> {
        router.route_layer(self.0.clone())
    }

    fn to_route(&self, route: MethodRouter<S>) -> MethodRouter<S> {
        route.route_layer(self.0.clone())
    }
}

type LayerFactory<S> = dyn Fn(&str) -> Result<Arc<dyn ApplyLayer<S>>, String> + Send + Sync;

#[derive(Clone)]
enum Entry<S> {
    Layer(Arc<dyn ApplyLayer<S>>),
    Group(Vec<String>),
    Flag(RouteFlag),
    WithParams(Arc<LayerFactory<S>>),
}

/// What a middleware name stands for once groups are expanded.
pub(crate) struct Resolved<S> {
    layers: Vec<Arc<dyn ApplyLayer<S>>>,
    pub(crate) flags: Vec<RouteFlag>,
}

impl<S: Clone + Send + Sync + 'static> Resolved<S> {
    /// Wrap `router`; the first layer listed ends up outermost.
    pub(crate) fn apply_to_router(&self, router: Router<S>) -> Router<S> {
        self.layers.iter().rev().fold(router, |r, l| l.to_router(r))
    }

    /// Wrap one route; the first layer listed ends up outermost.
    pub(crate) fn apply_to_route(&self, route: MethodRouter<S>) -> MethodRouter<S> {
        self.layers.iter().rev().fold(route, |r, l| l.to_route(r))
    }
}

/// Middleware by name.
pub struct MiddlewareRegistry<S> {
    entries: Arc<BTreeMap<String, Entry<S>>>,
}

impl<S> Clone for MiddlewareRegistry<S> {
    fn clone(&self) -> Self {
        Self {
            entries: self.entries.clone(),
        }
    }
}

impl<S> fmt::Debug for MiddlewareRegistry<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.entries.keys()).finish()
    }
}

impl<S: Clone + Send + Sync + 'static> MiddlewareRegistry<S> {
    /// A registry with nothing in it.
    pub fn empty() -> Self {
        Self {
            entries: Arc::new(BTreeMap::new()),
        }
    }

    /// The framework's names: `json_errors` (the [`RouteFlag::JsonErrors`] flag), and the
    /// groups `api` (`json_errors`) and `web` (empty until sessions and CSRF arrive).
    pub fn with_defaults() -> Self {
        Self::empty()
            .register_flag("json_errors", RouteFlag::JsonErrors)
            .group("api", ["json_errors"])
            .group("web", Vec::<String>::new())
    }

    /// Register a tower layer under `name`, replacing what was there.
    pub fn register<L>(mut self, name: &str, layer: L) -> Self
    where
        L: Layer<Route> + Clone + Send + Sync + 'static,
        L::Service: Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
        <L::Service as Service<Request>>::Response: IntoResponse + 'static,
        <L::Service as Service<Request>>::Future: Send + 'static,
    {
        Arc::make_mut(&mut self.entries)
            .insert(name.to_owned(), Entry::Layer(Arc::new(LayerApply(layer))));
        self
    }

    /// Register a parameterised middleware: `name:params` on a route calls `factory(params)`
    /// (`name` alone calls it with `""`) when the routes are built; an `Err` is a route error.
    pub fn register_with_params<L, F>(mut self, name: &str, factory: F) -> Self
    where
        F: Fn(&str) -> Result<L, String> + Send + Sync + 'static,
        L: Layer<Route> + Clone + Send + Sync + 'static,
        L::Service: Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
        <L::Service as Service<Request>>::Response: IntoResponse + 'static,
        <L::Service as Service<Request>>::Future: Send + 'static,
    {
        let factory = move |params: &str| {
            factory(params).map(|layer| Arc::new(LayerApply(layer)) as Arc<dyn ApplyLayer<S>>)
        };
        Arc::make_mut(&mut self.entries)
            .insert(name.to_owned(), Entry::WithParams(Arc::new(factory)));
        self
    }

    /// Register a flag under `name`, replacing what was there.
    pub fn register_flag(mut self, name: &str, flag: RouteFlag) -> Self {
        Arc::make_mut(&mut self.entries).insert(name.to_owned(), Entry::Flag(flag));
        self
    }

    /// Register (or replace) a group: running it runs its members in order.
    pub fn group<I, N>(mut self, name: &str, members: I) -> Self
    where
        I: IntoIterator<Item = N>,
        N: Into<String>,
    {
        let members = members.into_iter().map(Into::into).collect();
        Arc::make_mut(&mut self.entries).insert(name.to_owned(), Entry::Group(members));
        self
    }

    /// Append members to a group (creating it if needed).
    pub fn append_to_group(mut self, name: &str, member: &str) -> Self {
        let entries = Arc::make_mut(&mut self.entries);
        match entries.get_mut(name) {
            Some(Entry::Group(members)) => members.push(member.to_owned()),
            _ => {
                entries.insert(name.to_owned(), Entry::Group(vec![member.to_owned()]));
            }
        }
        self
    }

    /// Whether `name` is registered (`base:params` when `base` takes parameters).
    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
            || name.split_once(':').is_some_and(|(base, _)| {
                matches!(self.entries.get(base), Some(Entry::WithParams(_)))
            })
    }

    /// Every registered name, sorted.
    pub fn names(&self) -> Vec<String> {
        self.entries.keys().cloned().collect()
    }

    /// Turn every layer `names` stand for into a pass-through, for tests (`without_middleware`
    /// in `foundry-testing`). A group's member layers are skipped wherever they are used; flags
    /// (such as `json_errors`) are kept, because they decide how errors render rather than
    /// run code. A name that is not registered is an error listing the registered ones.
    ///
    /// ```
    /// use foundry_http::MiddlewareRegistry;
    /// use tower::layer::util::Identity;
    ///
    /// let registry = MiddlewareRegistry::<()>::with_defaults()
    ///     .register("auth", Identity::new())
    ///     .without(["auth"])
    ///     .unwrap();
    /// assert!(registry.contains("auth"));
    /// assert!(MiddlewareRegistry::<()>::with_defaults().without(["nope"]).is_err());
    /// ```
    pub fn without<I, N>(mut self, names: I) -> Result<Self, String>
    where
        I: IntoIterator<Item = N>,
        N: AsRef<str>,
    {
        let (mut layers, mut factories) = (Vec::new(), Vec::new());
        // `throttle:60,1` names the `throttle` entry.
        let mut pending: Vec<String> = names
            .into_iter()
            .map(|n| n.as_ref().split(':').next().unwrap_or_default().to_owned())
            .collect();
        let mut seen = Vec::new();
        while let Some(name) = pending.pop() {
            if seen.contains(&name) {
                continue;
            }
            match self.entries.get(&name) {
                Some(Entry::Layer(_)) => layers.push(name.clone()),
                Some(Entry::WithParams(_)) => factories.push(name.clone()),
                Some(Entry::Group(members)) => pending.extend(
                    members
                        .iter()
                        .map(|m| m.split(':').next().unwrap_or_default().to_owned()),
                ),
                Some(Entry::Flag(_)) => {}
                None => {
                    return Err(format!(
                        "no middleware named `{name}`; registered: {}",
                        self.names().join(", ")
                    ));
                }
            }
            seen.push(name);
        }
        for name in layers {
            self = self.register(&name, tower::layer::util::Identity::new());
        }
        for name in factories {
            self = self.register_with_params(&name, |_| {
                Ok::<_, String>(tower::layer::util::Identity::new())
            });
        }
        Ok(self)
    }

    /// Check that `name` is registered and expands without a cycle; `target` says where it
    /// was named (a route, a group, a configuration key) in the error.
    pub fn check(&self, name: &str, target: &str) -> Result<(), RouteError> {
        self.resolve(name, target).map(|_| ())
    }

    /// Expand `name` into its layers (outermost first) and flags. `target` names the route
    /// or group in errors.
    pub(crate) fn resolve(&self, name: &str, target: &str) -> Result<Resolved<S>, RouteError> {
        let mut resolved = Resolved {
            layers: Vec::new(),
            flags: Vec::new(),
        };
        self.expand(name, target, &mut Vec::new(), &mut resolved)?;
        Ok(resolved)
    }

    /// `stack` holds the groups being expanded, to catch a group that contains itself.
    fn expand(
        &self,
        name: &str,
        target: &str,
        stack: &mut Vec<String>,
        into: &mut Resolved<S>,
    ) -> Result<(), RouteError> {
        if stack.iter().any(|n| n == name) {
            stack.push(name.to_owned());
            return Err(RouteError::MiddlewareCycle {
                name: name.to_owned(),
                chain: stack.join(" -> "),
                target: target.to_owned(),
            });
        }
        let (entry, params) = match self.entries.get(name) {
            Some(entry) => (entry, ""),
            None => name
                .split_once(':')
                .and_then(|(base, params)| match self.entries.get(base) {
                    Some(entry @ Entry::WithParams(_)) => Some((entry, params)),
                    _ => None,
                })
                .ok_or_else(|| RouteError::UnknownMiddleware {
                    name: name.to_owned(),
                    target: target.to_owned(),
                    known: self.names().join(", "),
                })?,
        };
        match entry {
            Entry::Layer(layer) => into.layers.push(layer.clone()),
            Entry::WithParams(factory) => {
                let layer = factory(params).map_err(|message| RouteError::InvalidMiddleware {
                    name: name.to_owned(),
                    target: target.to_owned(),
                    message,
                })?;
                into.layers.push(layer);
            }
            Entry::Flag(flag) => into.flags.push(*flag),
            Entry::Group(members) => {
                stack.push(name.to_owned());
                for member in members {
                    self.expand(member, target, stack, into)?;
                }
                stack.pop();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Routes;
    use axum::body::Body;
    use http::{HeaderValue, Request as HttpRequest};
    use tower::ServiceExt;
    use tower::layer::util::Identity;

    /// Appends `tag` to an `x-trace` response header, to observe the order layers run in.
    fn tag(
        tag: &'static str,
    ) -> tower::util::MapResponseLayer<
        impl Fn(axum::response::Response) -> axum::response::Response + Clone,
    > {
        tower::util::MapResponseLayer::new(move |mut response: axum::response::Response| {
            let before = response
                .headers()
                .get("x-trace")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let value = HeaderValue::from_str(&format!("{before}{tag}")).unwrap();
            response.headers_mut().insert("x-trace", value);
            response
        })
    }

    async fn ok() -> &'static str {
        "ok"
    }

    #[tokio::test]
    async fn groups_run_members_in_order_outermost_first() {
        let registry = MiddlewareRegistry::<()>::empty()
            .register("a", tag("a"))
            .register("b", tag("b"))
            .register("c", tag("c"))
            .group("ab", ["a", "b"]);
        let router = Routes::new(registry)
            .group(|g| g.middleware("ab"), |r| r.get("/", ok).middleware("c"))
            .into_router()
            .unwrap();
        let response = router
            .oneshot(HttpRequest::get("/").body(Body::empty()).unwrap())
            .await
            .unwrap();
        // Responses pass the innermost layer first: c, then b, then a (the outermost).
        assert_eq!(response.headers()["x-trace"], "cba");
    }

    #[test]
    fn cyclic_groups_are_errors_not_hangs() {
        let registry = MiddlewareRegistry::<()>::empty()
            .register("noop", Identity::new())
            .group("loop", ["noop", "loop"]);
        let err = Routes::new(registry)
            .get("/", ok)
            .middleware("loop")
            .into_router()
            .unwrap_err();
        assert_eq!(
            err[0].to_string(),
            "middleware group `loop` contains itself (loop -> loop) on route GET /"
        );
    }

    #[tokio::test]
    async fn parameterised_names_build_their_layer_from_the_parameters() {
        let registry =
            MiddlewareRegistry::<()>::empty().register_with_params("tag", |params| match params {
                "" => Ok(tag("none")),
                "a" => Ok(tag("a")),
                other => Err(format!("unknown tag `{other}`")),
            });
        let router = Routes::new(registry.clone())
            .get("/a", ok)
            .middleware("tag:a")
            .get("/plain", ok)
            .middleware("tag")
            .into_router()
            .unwrap();
        let response = router
            .clone()
            .oneshot(HttpRequest::get("/a").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.headers()["x-trace"], "a");
        let response = router
            .oneshot(HttpRequest::get("/plain").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.headers()["x-trace"], "none");
        let err = Routes::new(registry.clone())
            .get("/", ok)
            .middleware("tag:zzz")
            .into_router()
            .unwrap_err();
        assert_eq!(
            err[0].to_string(),
            "middleware `tag:zzz` on route GET / cannot be built: unknown tag `zzz`"
        );
        let err = Routes::new(registry)
            .get("/", ok)
            .middleware("nope:1")
            .into_router()
            .unwrap_err();
        assert!(matches!(err[0], RouteError::UnknownMiddleware { .. }));
    }

    #[test]
    fn append_to_group_extends_or_creates() {
        let registry = MiddlewareRegistry::<()>::with_defaults()
            .register("noop", Identity::new())
            .append_to_group("web", "noop")
            .append_to_group("fresh", "noop");
        assert!(registry.contains("fresh"));
        let web = registry.resolve("web", "t").ok().unwrap();
        assert_eq!(web.layers.len(), 1);
        let api = registry.resolve("api", "t").ok().unwrap();
        assert_eq!(
            (api.layers.len(), api.flags.as_slice()),
            (0, &[RouteFlag::JsonErrors][..])
        );
    }
}
