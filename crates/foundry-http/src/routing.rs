//! [`Routes`]: axum routing with names, groups and named middleware, recorded for `route:list`.
//!
//! Handlers are plain axum handlers and the result is a plain `axum::Router`; what this adds
//! is what Laravel users reach for first — route names, groups with a path prefix, a name
//! prefix and middleware — and a record of every route for `route:list` and URL generation.
//!
//! ```
//! use foundry_http::{Routes, MiddlewareRegistry};
//!
//! async fn home() -> &'static str { "home" }
//! async fn show() -> &'static str { "post" }
//!
//! let routes = Routes::<()>::new(MiddlewareRegistry::with_defaults())
//!     .get("/", home).name("home")
//!     .group(|g| g.prefix("/api").name("api.").middleware("api"), |r| {
//!         r.get("/posts/{post}", show).name("posts.show")
//!     });
//! let list = routes.list();
//! assert_eq!(list[1].path, "/api/posts/{post}");
//! assert_eq!(list[1].name.as_deref(), Some("api.posts.show"));
//! assert_eq!(list[1].middleware, ["api"]);
//! let router: axum::Router<()> = routes.into_router().unwrap();
//! ```

use std::fmt;

use axum::Router;
use axum::handler::Handler;
use axum::routing::{MethodFilter, MethodRouter, on};
use http::Method;
use serde::Serialize;

use crate::constraint::{self, Constraint, Constraints};
use crate::middleware::{MiddlewareRegistry, RouteFlag};
use crate::resource::{Action, Resource};

/// One registered route, as `route:list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteInfo {
    /// Methods the route answers (`GET` also answers `HEAD`).
    pub methods: Vec<String>,
    /// The full path template, e.g. `/api/posts/{post}`.
    pub path: String,
    /// The full name, e.g. `api.posts.show`.
    pub name: Option<String>,
    /// Names of the middleware that run for it, outermost first.
    pub middleware: Vec<String>,
    /// Flags its middleware names gave it (see [`RouteFlag`]).
    #[serde(skip)]
    pub flags: Vec<RouteFlag>,
}

impl RouteInfo {
    /// Whether the route has `flag`.
    pub fn has_flag(&self, flag: RouteFlag) -> bool {
        self.flags.contains(&flag)
    }
}

/// A mistake in route definitions, reported when the router is built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    /// A middleware name nobody registered.
    #[error("unknown middleware `{name}` on {target}; registered middleware: {known}")]
    UnknownMiddleware {
        /// The unknown name.
        name: String,
        /// The route or group it was given to.
        target: String,
        /// Every registered name, comma-separated.
        known: String,
    },
    /// A parameterised middleware (`throttle:60,1`) whose parameters are wrong.
    #[error("middleware `{name}` on {target} cannot be built: {message}")]
    InvalidMiddleware {
        /// The name with its parameters.
        name: String,
        /// The route or group it was given to.
        target: String,
        /// What is wrong.
        message: String,
    },
    /// A middleware group that contains itself.
    #[error("middleware group `{name}` contains itself ({chain}) on {target}")]
    MiddlewareCycle {
        /// The group.
        name: String,
        /// The path through the groups, e.g. `a -> b -> a`.
        chain: String,
        /// The route or group it was given to.
        target: String,
    },
    /// Two routes with the same name.
    #[error("route name `{name}` is used twice: by {first} and by {second}")]
    DuplicateName {
        /// The name.
        name: String,
        /// The first route with it.
        first: String,
        /// The second route with it.
        second: String,
    },
    /// `.name()` or `.middleware()` with no route before it.
    #[error("`.{call}(\"{arg}\")` was called before any route was added")]
    NothingToModify {
        /// The method called.
        call: &'static str,
        /// Its argument.
        arg: String,
    },
    /// A constraint that cannot apply.
    #[error("invalid constraint on `{parameter}` of route {path}: {reason}")]
    InvalidConstraint {
        /// The route's path.
        path: String,
        /// The parameter.
        parameter: String,
        /// Why.
        reason: String,
    },
    /// `only`/`except` named an action resources do not have.
    #[error(
        "unknown resource action `{action}` for `{resource}`; actions are index, create, store, show, edit, update, destroy"
    )]
    UnknownAction {
        /// The resource name.
        resource: String,
        /// The unknown action.
        action: String,
    },
    /// A path that axum cannot route.
    #[error("invalid route path `{path}`: {reason}")]
    InvalidPath {
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
}

/// Settings of a route group; built in the first closure of [`Routes::group`].
#[derive(Debug, Clone, Default)]
pub struct Group {
    prefix: String,
    name: String,
    middleware: Vec<String>,
}

impl Group {
    /// Prefix every path in the group (`/api`).
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.trim_end_matches('/').to_owned();
        self
    }

    /// Prefix every route name in the group (`api.`).
    pub fn name(mut self, prefix: &str) -> Self {
        self.name = prefix.to_owned();
        self
    }

    /// Run the named middleware (or middleware group) for every route in the group.
    pub fn middleware(mut self, name: &str) -> Self {
        self.middleware.push(name.to_owned());
        self
    }
}

struct Pending<S> {
    path: String,
    method_router: MethodRouter<S>,
    info: RouteInfo,
    own_middleware: Vec<String>,
    constraints: Vec<(String, Constraint)>,
}

type FallbackFn<S> = Box<dyn FnOnce(Router<S>) -> Router<S> + Send>;

/// The routes builder apps fill in `App::routes`.
pub struct Routes<S = foundry_core::AppContext> {
    router: Router<S>,
    routes: Vec<RouteInfo>,
    pending: Option<Pending<S>>,
    prefix: String,
    name_prefix: String,
    inherited_middleware: Vec<String>,
    inherited_flags: Vec<RouteFlag>,
    registry: MiddlewareRegistry<S>,
    errors: Vec<RouteError>,
    fallback: Option<FallbackFn<S>>,
}

impl<S> fmt::Debug for Routes<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Routes")
            .field("routes", &self.routes)
            .finish_non_exhaustive()
    }
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    /// An empty builder resolving middleware names in `registry`.
    pub fn new(registry: MiddlewareRegistry<S>) -> Self {
        Self {
            router: Router::new(),
            routes: Vec::new(),
            pending: None,
            prefix: String::new(),
            name_prefix: String::new(),
            inherited_middleware: Vec::new(),
            inherited_flags: Vec::new(),
            registry,
            errors: Vec::new(),
            fallback: None,
        }
    }

    /// A `GET` (and `HEAD`) route.
    pub fn get<H, T>(self, path: &str, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.add(&[Method::GET], path, handler)
    }

    /// A `POST` route.
    pub fn post<H, T>(self, path: &str, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.add(&[Method::POST], path, handler)
    }

    /// A `PUT` route.
    pub fn put<H, T>(self, path: &str, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.add(&[Method::PUT], path, handler)
    }

    /// A `PATCH` route.
    pub fn patch<H, T>(self, path: &str, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.add(&[Method::PATCH], path, handler)
    }

    /// A `DELETE` route.
    pub fn delete<H, T>(self, path: &str, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.add(&[Method::DELETE], path, handler)
    }

    /// A route answering every method.
    pub fn any<H, T>(self, path: &str, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.add(
            &[
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
                Method::OPTIONS,
            ],
            path,
            handler,
        )
    }

    /// A route answering the given methods (Laravel's `Route::match`).
    pub fn on_methods<H, T>(self, methods: &[Method], path: &str, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.add(methods, path, handler)
    }

    fn add<H, T>(mut self, methods: &[Method], path: &str, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.flush();
        let full_path = join_paths(&self.prefix, path);
        let mut filter: Option<MethodFilter> = None;
        let mut names = Vec::new();
        for method in methods {
            match MethodFilter::try_from(method.clone()) {
                Ok(f) => filter = Some(filter.map_or(f, |acc| acc.or(f))),
                Err(e) => self.errors.push(RouteError::InvalidPath {
                    path: full_path.clone(),
                    reason: e.to_string(),
                }),
            }
            names.push(method.as_str().to_owned());
            if *method == Method::GET {
                names.push("HEAD".to_owned());
            }
        }
        if let Some(filter) = filter {
            self.push_pending(full_path, names, on(filter, handler));
        }
        self
    }

    fn push_pending(&mut self, path: String, methods: Vec<String>, method_router: MethodRouter<S>) {
        self.pending = Some(Pending {
            path: path.clone(),
            method_router,
            info: RouteInfo {
                methods,
                path,
                name: None,
                middleware: self.inherited_middleware.clone(),
                flags: self.inherited_flags.clone(),
            },
            own_middleware: Vec::new(),
            constraints: Vec::new(),
        });
    }

    /// The handler for requests no route matches (instead of the 404 page).
    pub fn fallback<H, T>(mut self, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.flush();
        self.fallback = Some(Box::new(move |router: Router<S>| router.fallback(handler)));
        self.routes.push(RouteInfo {
            methods: vec!["ANY".to_owned()],
            path: "{fallback}".to_owned(),
            name: None,
            middleware: Vec::new(),
            flags: Vec::new(),
        });
        self
    }

    /// Laravel's resource routes for `name` (`"posts"`, or `"posts.comments"` for a nested
    /// resource): the actions the [`Resource`] has, named `posts.index` … `posts.destroy`.
    pub fn resource(mut self, name: &str, resource: Resource<S>) -> Self {
        self.flush();
        let plan = match resource.plan(name, &self.prefix) {
            Ok(plan) => plan,
            Err(err) => {
                self.errors.push(err);
                return self;
            }
        };
        for route in plan {
            self.push_pending(route.path, route.methods, route.method_router);
            self = self.name(&route.name);
            for (parameter, constraint) in route.constraints {
                self = self.constrain(&parameter, Ok(constraint));
            }
            self.flush();
        }
        self
    }

    /// [`Routes::resource`] without the HTML form actions (`create`, `edit`).
    pub fn api_resource(self, name: &str, resource: Resource<S>) -> Self {
        self.resource(name, resource.without(&[Action::Create, Action::Edit]))
    }

    /// Require a parameter of the route added last to be digits; otherwise 404.
    pub fn where_number(self, parameter: &str) -> Self {
        self.constrain(parameter, Ok(Constraint::Number))
    }

    /// Require a parameter of the route added last to be letters; otherwise 404.
    pub fn where_alpha(self, parameter: &str) -> Self {
        self.constrain(parameter, Ok(Constraint::Alpha))
    }

    /// Require a parameter of the route added last to be letters and digits; otherwise 404.
    pub fn where_alpha_numeric(self, parameter: &str) -> Self {
        self.constrain(parameter, Ok(Constraint::AlphaNumeric))
    }

    /// Require a parameter of the route added last to be a UUID; otherwise 404.
    pub fn where_uuid(self, parameter: &str) -> Self {
        self.constrain(parameter, Ok(Constraint::Uuid))
    }

    /// Require a parameter of the route added last to be a ULID; otherwise 404.
    pub fn where_ulid(self, parameter: &str) -> Self {
        self.constrain(parameter, Ok(Constraint::Ulid))
    }

    /// Require a parameter of the route added last to be one of `values`; otherwise 404.
    pub fn where_in(self, parameter: &str, values: &[&str]) -> Self {
        let values = values.iter().map(|v| (*v).to_owned()).collect();
        self.constrain(parameter, Ok(Constraint::In(values)))
    }

    /// Require a parameter of the route added last to match a regular expression (the whole
    /// value); otherwise 404. An invalid expression is reported when the router is built.
    pub fn where_pattern(self, parameter: &str, expression: &str) -> Self {
        let constraint = Constraint::pattern(expression).map_err(|e| e.to_string());
        self.constrain(parameter, constraint)
    }

    fn constrain(mut self, parameter: &str, constraint: Result<Constraint, String>) -> Self {
        let Some(pending) = &mut self.pending else {
            self.errors.push(RouteError::NothingToModify {
                call: "where",
                arg: parameter.to_owned(),
            });
            return self;
        };
        let has_parameter = pending.path.contains(&format!("{{{parameter}}}"))
            || pending.path.contains(&format!("{{*{parameter}}}"));
        match constraint {
            Ok(_) if !has_parameter => self.errors.push(RouteError::InvalidConstraint {
                path: pending.path.clone(),
                parameter: parameter.to_owned(),
                reason: "the path has no such parameter".into(),
            }),
            Ok(constraint) => pending.constraints.push((parameter.to_owned(), constraint)),
            Err(reason) => self.errors.push(RouteError::InvalidConstraint {
                path: pending.path.clone(),
                parameter: parameter.to_owned(),
                reason,
            }),
        }
        self
    }

    /// Name the route added last; the group's name prefix is prepended.
    pub fn name(mut self, name: &str) -> Self {
        match &mut self.pending {
            Some(pending) => pending.info.name = Some(format!("{}{name}", self.name_prefix)),
            None => self.errors.push(RouteError::NothingToModify {
                call: "name",
                arg: name.to_owned(),
            }),
        }
        self
    }

    /// Run the named middleware for the route added last.
    pub fn middleware(mut self, name: &str) -> Self {
        match &mut self.pending {
            Some(pending) => {
                pending.info.middleware.push(name.to_owned());
                pending.own_middleware.push(name.to_owned());
            }
            None => self.errors.push(RouteError::NothingToModify {
                call: "middleware",
                arg: name.to_owned(),
            }),
        }
        self
    }

    /// Run a tower layer (middleware by value) for the route added last. It runs inside the
    /// route's named middleware; `route:list` shows it as `(layer)`.
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: tower::Layer<axum::routing::Route> + Clone + Send + Sync + 'static,
        L::Service: tower::Service<axum::extract::Request, Error = std::convert::Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Response:
            axum::response::IntoResponse + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Future: Send + 'static,
    {
        match self.pending.take() {
            Some(mut pending) => {
                pending.method_router = pending.method_router.route_layer(layer);
                pending.info.middleware.push("(layer)".to_owned());
                self.pending = Some(pending);
            }
            None => self.errors.push(RouteError::NothingToModify {
                call: "layer",
                arg: std::any::type_name::<L>().to_owned(),
            }),
        }
        self
    }

    /// A group of routes sharing a prefix, a name prefix and middleware.
    pub fn group(
        mut self,
        settings: impl FnOnce(Group) -> Group,
        routes: impl FnOnce(Self) -> Self,
    ) -> Self {
        self.flush();
        let group = settings(Group::default());
        let target = format!("group `{}`", join_paths(&self.prefix, &group.prefix));
        // Resolve the group's middleware first: its flags belong to every route inside.
        let resolved: Vec<_> = group
            .middleware
            .iter()
            .filter_map(|name| match self.registry.resolve(name, &target) {
                Ok(resolved) => Some(resolved),
                Err(err) => {
                    self.errors.push(err);
                    None
                }
            })
            .collect();
        let mut inherited = self.inherited_middleware.clone();
        inherited.extend(group.middleware.iter().cloned());
        let mut flags = self.inherited_flags.clone();
        flags.extend(resolved.iter().flat_map(|r| r.flags.iter().copied()));
        let child = Routes {
            router: Router::new(),
            routes: Vec::new(),
            pending: None,
            prefix: join_paths(&self.prefix, &group.prefix),
            name_prefix: format!("{}{}", self.name_prefix, group.name),
            inherited_middleware: inherited,
            inherited_flags: flags,
            registry: self.registry.clone(),
            errors: Vec::new(),
            fallback: None,
        };
        let mut child = routes(child);
        child.flush();
        // The first middleware listed runs first, so it must be the outermost layer: apply
        // the list backwards.
        let router = resolved
            .iter()
            .rev()
            .fold(child.router, |router, r| r.apply_to_router(router));
        if self.add_to_router(&target, |parent| parent.merge(router)) {
            self.routes.extend(child.routes);
        }
        self.errors.extend(child.errors);
        if child.fallback.is_some() {
            self.fallback = child.fallback;
        }
        self
    }

    fn flush(&mut self) {
        let Some(mut pending) = self.pending.take() else {
            return;
        };
        let target = format!("route {} {}", pending.info.methods[0], pending.path);
        let mut method_router = pending.method_router;
        for name in pending.own_middleware.iter().rev() {
            match self.registry.resolve(name, &target) {
                Ok(resolved) => {
                    method_router = resolved.apply_to_route(method_router);
                    pending.info.flags.extend(resolved.flags);
                }
                Err(err) => self.errors.push(err),
            }
        }
        if !pending.constraints.is_empty() {
            // Outermost, so an unmatched parameter is a 404 before any middleware runs.
            let constraints: Constraints = std::sync::Arc::new(pending.constraints);
            method_router = method_router.route_layer(axum::middleware::from_fn_with_state(
                constraints,
                constraint::check,
            ));
        }
        if !pending.path.starts_with('/') {
            self.errors.push(RouteError::InvalidPath {
                path: pending.path,
                reason: "paths must start with `/`".into(),
            });
            return;
        }
        let path = pending.path.clone();
        if self.add_to_router(&path, |router| router.route(&path, method_router)) {
            self.routes.push(pending.info);
        }
    }

    /// Apply `change` to the router. axum panics on a route it cannot take (the same method
    /// and path twice, a conflicting path); that becomes a reported mistake instead, naming
    /// `target`, and the router stays as it was. Returns whether the change was made.
    fn add_to_router(&mut self, target: &str, change: impl FnOnce(Router<S>) -> Router<S>) -> bool {
        let before = self.router.clone();
        let router = std::mem::take(&mut self.router);
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| change(router))) {
            Ok(router) => {
                self.router = router;
                true
            }
            Err(payload) => {
                let reason = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "axum refused the route".to_owned());
                self.errors.push(RouteError::InvalidPath {
                    path: target.to_owned(),
                    reason,
                });
                self.router = before;
                false
            }
        }
    }

    /// Every route added so far, in order.
    pub fn list(&self) -> Vec<RouteInfo> {
        let mut list = self.routes.clone();
        if let Some(pending) = &self.pending {
            list.push(pending.info.clone());
        }
        list
    }

    /// The middleware registry names are resolved in.
    pub fn registry(&self) -> &MiddlewareRegistry<S> {
        &self.registry
    }

    /// Finish: the axum router and the route table, or every definition mistake found.
    pub fn build(mut self) -> Result<(Router<S>, Vec<RouteInfo>), Vec<RouteError>> {
        self.flush();
        let mut seen: Vec<(&str, &RouteInfo)> = Vec::new();
        for route in &self.routes {
            if let Some(name) = &route.name {
                if let Some((_, first)) = seen.iter().find(|(n, _)| n == name) {
                    self.errors.push(RouteError::DuplicateName {
                        name: name.clone(),
                        first: format!("{} {}", first.methods[0], first.path),
                        second: format!("{} {}", route.methods[0], route.path),
                    });
                } else {
                    seen.push((name, route));
                }
            }
        }
        if self.errors.is_empty() {
            let router = match self.fallback {
                Some(apply) => apply(self.router),
                None => self.router,
            };
            Ok((router, self.routes))
        } else {
            Err(self.errors)
        }
    }

    /// Finish and keep only the router.
    pub fn into_router(self) -> Result<Router<S>, Vec<RouteError>> {
        self.build().map(|(router, _)| router)
    }
}

fn join_paths(prefix: &str, path: &str) -> String {
    let path = path.trim();
    // A group without a prefix (or with `/`) leaves the paths inside as they are.
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() {
        return if path.is_empty() {
            "/".into()
        } else {
            path.to_owned()
        };
    }
    match path.trim_start_matches('/') {
        "" => prefix.to_owned(),
        rest => format!("{prefix}/{rest}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use http::{Request, StatusCode};
    use tower::ServiceExt;

    async fn ok() -> &'static str {
        "ok"
    }

    fn routes() -> Routes<()> {
        Routes::new(MiddlewareRegistry::with_defaults())
    }

    async fn status(router: &Router, method: Method, path: &str) -> StatusCode {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .unwrap();
        router.clone().oneshot(request).await.unwrap().status()
    }

    #[tokio::test]
    async fn groups_prefix_paths_names_and_middleware() {
        let built = routes()
            .get("/", ok)
            .name("home")
            .group(
                |g| g.prefix("/api/").name("api.").middleware("api"),
                |r| {
                    r.get("/", ok).name("index").group(
                        |g| g.prefix("v1").name("v1."),
                        |r| r.post("/posts", ok).name("posts.store").middleware("web"),
                    )
                },
            )
            .put("/x", ok);
        let (router, list) = built.build().unwrap();
        let shown: Vec<_> = list
            .iter()
            .map(|r| {
                (
                    r.methods.join("|"),
                    r.path.as_str(),
                    r.name.clone(),
                    r.middleware.join(","),
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                ("GET|HEAD".into(), "/", Some("home".into()), String::new()),
                (
                    "GET|HEAD".into(),
                    "/api",
                    Some("api.index".into()),
                    "api".into()
                ),
                (
                    "POST".into(),
                    "/api/v1/posts",
                    Some("api.v1.posts.store".into()),
                    "api,web".into()
                ),
                ("PUT".into(), "/x", None, String::new()),
            ]
        );
        assert_eq!(status(&router, Method::GET, "/api").await, StatusCode::OK);
        assert_eq!(
            status(&router, Method::POST, "/api/v1/posts").await,
            StatusCode::OK
        );
        assert_eq!(
            status(&router, Method::GET, "/api/v1/posts").await,
            StatusCode::METHOD_NOT_ALLOWED
        );
        assert_eq!(status(&router, Method::HEAD, "/").await, StatusCode::OK);
    }

    #[tokio::test]
    async fn a_group_without_a_prefix_keeps_its_paths() {
        let built = routes()
            .group(
                |g| g.middleware("api"),
                |r| {
                    r.get("/json", ok)
                        .group(|g| g.prefix("/"), |r| r.get("/nested", ok))
                },
            )
            .group(|g| g.prefix("/"), |r| r.get("/", ok));
        let (router, list) = built.build().unwrap();
        let paths: Vec<_> = list.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["/json", "/nested", "/"]);
        for path in paths {
            assert_eq!(
                status(&router, Method::GET, path).await,
                StatusCode::OK,
                "{path}"
            );
        }
        assert_eq!(
            status(&router, Method::GET, "//json").await,
            StatusCode::NOT_FOUND
        );
    }

    #[tokio::test]
    async fn on_methods_and_any() {
        let router = routes()
            .on_methods(&[Method::GET, Method::POST], "/both", ok)
            .any("/all", ok)
            .into_router()
            .unwrap();
        assert_eq!(status(&router, Method::POST, "/both").await, StatusCode::OK);
        assert_eq!(
            status(&router, Method::DELETE, "/both").await,
            StatusCode::METHOD_NOT_ALLOWED
        );
        assert_eq!(status(&router, Method::PATCH, "/all").await, StatusCode::OK);
    }

    #[test]
    fn mistakes_are_reported_together() {
        let errors = routes()
            .name("orphan")
            .get("/a", ok)
            .name("same")
            .middleware("thrtle")
            .get("/b", ok)
            .name("same")
            .group(|g| g.middleware("nope"), |r| r.get("/c", ok))
            .get("relative", ok)
            .build()
            .unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 5, "{text:#?}");
        assert!(text[0].contains("`.name(\"orphan\")` was called before any route"));
        assert!(text[1].contains("unknown middleware `thrtle` on route GET /a"));
        assert!(
            text[1].contains("api, json_errors, web"),
            "lists what exists: {}",
            text[1]
        );
        assert!(
            text[2].contains("unknown middleware `nope` on group `/`"),
            "{}",
            text[2]
        );
        assert!(text[3].contains("invalid route path `relative`"));
        assert!(text[4].contains("route name `same` is used twice: by GET /a and by GET /b"));
    }

    #[tokio::test]
    async fn constraints_404_and_fallback_answers_the_rest() {
        let router = routes()
            .get("/users/{id}", ok)
            .where_uuid("id")
            .get("/tags/{slug}", ok)
            .where_pattern("slug", "[a-z-]+")
            .get("/status/{state}", ok)
            .where_in("state", &["draft", "live"])
            .fallback(|| async { (StatusCode::IM_A_TEAPOT, "fallback") })
            .into_router()
            .unwrap();
        let uuid = "/users/67e55044-10b1-426f-9247-bb680e5fe0c8";
        assert_eq!(status(&router, Method::GET, uuid).await, StatusCode::OK);
        assert_eq!(
            status(&router, Method::GET, "/users/42").await,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            status(&router, Method::GET, "/tags/rust-lang").await,
            StatusCode::OK
        );
        assert_eq!(
            status(&router, Method::GET, "/tags/Rust").await,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            status(&router, Method::GET, "/status/live").await,
            StatusCode::OK
        );
        assert_eq!(
            status(&router, Method::GET, "/status/gone").await,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            status(&router, Method::GET, "/no/route").await,
            StatusCode::IM_A_TEAPOT
        );
    }

    #[test]
    fn bad_constraints_are_reported() {
        let errors = routes()
            .get("/tags/{slug}", ok)
            .where_pattern("slug", "(")
            .get("/users/{id}", ok)
            .where_number("user")
            .build()
            .unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(
            text[0].starts_with(
                "invalid constraint on `slug` of route /tags/{slug}: regex parse error"
            ),
            "{}",
            text[0]
        );
        assert_eq!(
            text[1],
            "invalid constraint on `user` of route /users/{id}: the path has no such parameter"
        );
    }

    #[test]
    fn routes_axum_refuses_are_reported_not_panics() {
        let errors = routes()
            .get("/twice", ok)
            .get("/twice", ok)
            .group(|g| g.prefix("/g"), |r| r.get("/x", ok))
            .group(|g| g.prefix("/g"), |r| r.get("/x", ok))
            .build()
            .unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 2, "{text:#?}");
        assert!(
            text[0].starts_with("invalid route path `/twice`: Overlapping method route"),
            "{}",
            text[0]
        );
        assert!(
            text[1].starts_with("invalid route path `group `/g``"),
            "{}",
            text[1]
        );
    }

    #[test]
    fn the_fallback_is_listed() {
        let list = routes().get("/", ok).fallback(ok).list();
        assert_eq!(list[1].methods, ["ANY"]);
        assert_eq!(list[1].path, "{fallback}");
    }
}
