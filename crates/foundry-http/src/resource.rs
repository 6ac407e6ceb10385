//! Resource routes: Laravel's seven actions for a collection, from one definition.
//!
//! | action | method | path | name |
//! |---|---|---|---|
//! | index | GET | `/posts` | `posts.index` |
//! | create | GET | `/posts/create` | `posts.create` |
//! | store | POST | `/posts` | `posts.store` |
//! | show | GET | `/posts/{post}` | `posts.show` |
//! | edit | GET | `/posts/{post}/edit` | `posts.edit` |
//! | update | PUT, PATCH | `/posts/{post}` | `posts.update` |
//! | destroy | DELETE | `/posts/{post}` | `posts.destroy` |
//!
//! ```
//! use foundry_http::{MiddlewareRegistry, Resource, Routes};
//! use axum::extract::Path;
//!
//! async fn index() -> &'static str { "all posts" }
//! async fn show(Path(post): Path<u64>) -> String { format!("post {post}") }
//! async fn comments(Path(post): Path<u64>) -> String { format!("comments of {post}") }
//!
//! let routes = Routes::<()>::new(MiddlewareRegistry::with_defaults())
//!     .resource("posts", Resource::new().index(index).show(show).where_number())
//!     .resource("posts.comments", Resource::new().index(comments));
//! let list = routes.list();
//! assert_eq!(list[1].path, "/posts/{post}");
//! assert_eq!(list[2].path, "/posts/{post}/comments");
//! assert_eq!(list[2].name.as_deref(), Some("posts.comments.index"));
//! ```
//!
//! A resource only has the actions given handlers; `only` and `except` narrow that further
//! (handy when one definition is shared). `api_resource` leaves out `create` and `edit`.
//! A nested resource's parents become path parameters; `shallow()` drops them from the
//! member routes (`/comments/{comment}`, named `comments.show`), as Laravel does.

use std::fmt;

use axum::handler::Handler;
use axum::routing::{MethodFilter, MethodRouter, delete, get, on, post};

use crate::constraint::Constraint;
use crate::routing::RouteError;

/// One of the seven resource actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `GET /posts`
    Index,
    /// `GET /posts/create`
    Create,
    /// `POST /posts`
    Store,
    /// `GET /posts/{post}`
    Show,
    /// `GET /posts/{post}/edit`
    Edit,
    /// `PUT|PATCH /posts/{post}`
    Update,
    /// `DELETE /posts/{post}`
    Destroy,
}

impl Action {
    /// In the order routes are registered.
    pub const ALL: [Action; 7] = [
        Action::Index,
        Action::Create,
        Action::Store,
        Action::Show,
        Action::Edit,
        Action::Update,
        Action::Destroy,
    ];

    /// The action's name (`index`, …), as used in route names and `only`/`except`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Index => "index",
            Action::Create => "create",
            Action::Store => "store",
            Action::Show => "show",
            Action::Edit => "edit",
            Action::Update => "update",
            Action::Destroy => "destroy",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }

    fn is_member(self) -> bool {
        matches!(
            self,
            Action::Show | Action::Edit | Action::Update | Action::Destroy
        )
    }

    fn methods(self) -> Vec<String> {
        let names: &[&str] = match self {
            Action::Index | Action::Create | Action::Show | Action::Edit => &["GET", "HEAD"],
            Action::Store => &["POST"],
            Action::Update => &["PUT", "PATCH"],
            Action::Destroy => &["DELETE"],
        };
        names.iter().map(|m| (*m).to_owned()).collect()
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The handlers of a resource and how to route them.
pub struct Resource<S = foundry_core::AppContext> {
    handlers: Vec<(Action, MethodRouter<S>)>,
    only: Option<Vec<String>>,
    except: Vec<String>,
    without: Vec<Action>,
    parameter: Option<String>,
    shallow: bool,
    number: bool,
}

impl<S> fmt::Debug for Resource<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resource")
            .field(
                "actions",
                &self.handlers.iter().map(|(a, _)| *a).collect::<Vec<_>>(),
            )
            .field("only", &self.only)
            .field("except", &self.except)
            .finish_non_exhaustive()
    }
}

impl<S: Clone + Send + Sync + 'static> Default for Resource<S> {
    fn default() -> Self {
        Self::new()
    }
}

/// A route a resource turns into.
pub(crate) struct PlannedRoute<S> {
    pub(crate) path: String,
    pub(crate) methods: Vec<String>,
    pub(crate) method_router: MethodRouter<S>,
    pub(crate) name: String,
    pub(crate) constraints: Vec<(String, Constraint)>,
}

impl<S: Clone + Send + Sync + 'static> Resource<S> {
    /// A resource with no actions yet.
    pub fn new() -> Self {
        Self {
            handlers: Vec::new(),
            only: None,
            except: Vec::new(),
            without: Vec::new(),
            parameter: None,
            shallow: false,
            number: false,
        }
    }

    fn with(mut self, action: Action, route: MethodRouter<S>) -> Self {
        self.handlers.retain(|(a, _)| *a != action);
        self.handlers.push((action, route));
        self
    }

    /// `GET /posts`
    pub fn index<H: Handler<T, S>, T: 'static>(self, handler: H) -> Self {
        self.with(Action::Index, get(handler))
    }

    /// `GET /posts/create`
    pub fn create<H: Handler<T, S>, T: 'static>(self, handler: H) -> Self {
        self.with(Action::Create, get(handler))
    }

    /// `POST /posts`
    pub fn store<H: Handler<T, S>, T: 'static>(self, handler: H) -> Self {
        self.with(Action::Store, post(handler))
    }

    /// `GET /posts/{post}`
    pub fn show<H: Handler<T, S>, T: 'static>(self, handler: H) -> Self {
        self.with(Action::Show, get(handler))
    }

    /// `GET /posts/{post}/edit`
    pub fn edit<H: Handler<T, S>, T: 'static>(self, handler: H) -> Self {
        self.with(Action::Edit, get(handler))
    }

    /// `PUT|PATCH /posts/{post}`
    pub fn update<H: Handler<T, S>, T: 'static>(self, handler: H) -> Self {
        self.with(
            Action::Update,
            on(MethodFilter::PUT.or(MethodFilter::PATCH), handler),
        )
    }

    /// `DELETE /posts/{post}`
    pub fn destroy<H: Handler<T, S>, T: 'static>(self, handler: H) -> Self {
        self.with(Action::Destroy, delete(handler))
    }

    /// Register only these actions (by name: `"index"`, `"show"`, …).
    pub fn only(mut self, actions: &[&str]) -> Self {
        self.only = Some(actions.iter().map(|a| (*a).to_owned()).collect());
        self
    }

    /// Register every action but these.
    pub fn except(mut self, actions: &[&str]) -> Self {
        self.except.extend(actions.iter().map(|a| (*a).to_owned()));
        self
    }

    pub(crate) fn without(mut self, actions: &[Action]) -> Self {
        self.without.extend_from_slice(actions);
        self
    }

    /// Name the member parameter (default: the singular of the resource, `post` for `posts`).
    pub fn parameter(mut self, name: &str) -> Self {
        self.parameter = Some(name.to_owned());
        self
    }

    /// Member routes without the parent parameters (`/comments/{comment}`).
    pub fn shallow(mut self) -> Self {
        self.shallow = true;
        self
    }

    /// Require the member parameter (and parents') to be a number; otherwise 404.
    pub fn where_number(mut self) -> Self {
        self.number = true;
        self
    }

    /// The routes for resource `name` under path `prefix`.
    pub(crate) fn plan(self, name: &str, prefix: &str) -> Result<Vec<PlannedRoute<S>>, RouteError> {
        for action in self.only.iter().flatten().chain(&self.except) {
            if Action::parse(action).is_none() {
                return Err(RouteError::UnknownAction {
                    resource: name.to_owned(),
                    action: action.clone(),
                });
            }
        }
        let segments: Vec<&str> = name.split('.').filter(|s| !s.is_empty()).collect();
        let Some((collection, parents)) = segments.split_last() else {
            return Err(RouteError::InvalidPath {
                path: name.to_owned(),
                reason: "a resource needs a name such as `posts`".into(),
            });
        };
        let mut parent_path = String::new();
        let mut parameters = Vec::new();
        for parent in parents {
            let parameter = singular(parent);
            parent_path.push_str(&format!("/{parent}/{{{parameter}}}"));
            parameters.push(parameter);
        }
        let member_parameter = self
            .parameter
            .clone()
            .unwrap_or_else(|| singular(collection));
        let collection_path = format!("{prefix}{parent_path}/{collection}");
        let member_path = if self.shallow {
            format!("{prefix}/{collection}/{{{member_parameter}}}")
        } else {
            format!("{collection_path}/{{{member_parameter}}}")
        };
        let shallow_name = (*collection).to_owned();
        let allowed = |action: Action| {
            self.only
                .as_ref()
                .is_none_or(|only| only.iter().any(|a| a == action.as_str()))
                && !self.except.iter().any(|a| a == action.as_str())
                && !self.without.contains(&action)
        };
        let mut planned = Vec::new();
        for action in Action::ALL {
            let Some((_, route)) = self.handlers.iter().find(|(a, _)| *a == action) else {
                continue;
            };
            if !allowed(action) {
                continue;
            }
            let path = match action {
                Action::Index | Action::Store => collection_path.clone(),
                Action::Create => format!("{collection_path}/create"),
                Action::Show | Action::Update | Action::Destroy => member_path.clone(),
                Action::Edit => format!("{member_path}/edit"),
            };
            let route_name = if self.shallow && action.is_member() {
                format!("{shallow_name}.{action}")
            } else {
                format!("{name}.{action}")
            };
            let mut constraints = Vec::new();
            if self.number {
                let in_path = parameters
                    .iter()
                    .filter(|p| path.contains(&format!("{{{p}}}")))
                    .chain(action.is_member().then_some(&member_parameter));
                constraints.extend(in_path.map(|p| (p.clone(), Constraint::Number)));
            }
            planned.push(PlannedRoute {
                path,
                methods: action.methods(),
                method_router: route.clone(),
                name: route_name,
                constraints,
            });
        }
        Ok(planned)
    }
}

/// The route parameter for a resource segment: singular, snake_case (`blog-posts` → `blog_post`).
pub fn singular(word: &str) -> String {
    foundry_naming::singular(&word.replace('-', "_"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MiddlewareRegistry, Routes};
    use axum::body::Body;
    use http::{Method, Request, StatusCode};
    use tower::ServiceExt;

    async fn ok() -> &'static str {
        "ok"
    }

    fn all() -> Resource<()> {
        Resource::new()
            .index(ok)
            .create(ok)
            .store(ok)
            .show(ok)
            .edit(ok)
            .update(ok)
            .destroy(ok)
    }

    fn table(routes: &Routes<()>) -> Vec<String> {
        routes
            .list()
            .iter()
            .map(|r| {
                format!(
                    "{} {} {}",
                    r.methods.join("|"),
                    r.path,
                    r.name.clone().unwrap_or_default()
                )
            })
            .collect()
    }

    #[test]
    fn seven_actions_with_laravel_paths_and_names() {
        let routes = Routes::new(MiddlewareRegistry::with_defaults()).resource("posts", all());
        assert_eq!(
            table(&routes),
            [
                "GET|HEAD /posts posts.index",
                "GET|HEAD /posts/create posts.create",
                "POST /posts posts.store",
                "GET|HEAD /posts/{post} posts.show",
                "GET|HEAD /posts/{post}/edit posts.edit",
                "PUT|PATCH /posts/{post} posts.update",
                "DELETE /posts/{post} posts.destroy",
            ]
        );
    }

    #[test]
    fn api_resources_only_except_and_groups() {
        let routes = Routes::new(MiddlewareRegistry::with_defaults())
            .group(
                |g| g.prefix("/api").name("api."),
                |r| r.api_resource("posts", all()),
            )
            .resource("tags", all().only(&["index", "show"]))
            .resource("users", all().except(&["create", "edit", "destroy"]));
        let names: Vec<String> = routes
            .list()
            .iter()
            .filter_map(|r| r.name.clone())
            .collect();
        assert_eq!(
            names,
            [
                "api.posts.index",
                "api.posts.store",
                "api.posts.show",
                "api.posts.update",
                "api.posts.destroy",
                "tags.index",
                "tags.show",
                "users.index",
                "users.store",
                "users.show",
                "users.update",
            ]
        );
        assert_eq!(routes.list()[0].path, "/api/posts");
    }

    #[test]
    fn nested_and_shallow_resources() {
        let routes = Routes::new(MiddlewareRegistry::with_defaults())
            .resource("posts.comments", all().only(&["index", "show"]))
            .resource(
                "videos.replies",
                all().only(&["index", "store", "show", "destroy"]).shallow(),
            );
        assert_eq!(
            table(&routes),
            [
                "GET|HEAD /posts/{post}/comments posts.comments.index",
                "GET|HEAD /posts/{post}/comments/{comment} posts.comments.show",
                "GET|HEAD /videos/{video}/replies videos.replies.index",
                "POST /videos/{video}/replies videos.replies.store",
                "GET|HEAD /replies/{reply} replies.show",
                "DELETE /replies/{reply} replies.destroy",
            ]
        );
    }

    #[test]
    fn unknown_actions_are_errors() {
        let err = Routes::new(MiddlewareRegistry::with_defaults())
            .resource("posts", all().only(&["index", "shw"]))
            .build()
            .unwrap_err();
        assert!(
            err[0]
                .to_string()
                .contains("unknown resource action `shw` for `posts`"),
            "{}",
            err[0]
        );
    }

    #[tokio::test]
    async fn routes_answer_and_numeric_constraints_404() {
        let router = Routes::new(MiddlewareRegistry::with_defaults())
            .resource("posts", all().where_number())
            .into_router()
            .unwrap();
        let call = |method: Method, path: &str| {
            let router = router.clone();
            let request = Request::builder()
                .method(method)
                .uri(path)
                .body(Body::empty())
                .unwrap();
            async move { router.oneshot(request).await.unwrap().status() }
        };
        assert_eq!(call(Method::GET, "/posts/5").await, StatusCode::OK);
        assert_eq!(call(Method::PATCH, "/posts/5").await, StatusCode::OK);
        assert_eq!(call(Method::PUT, "/posts/5").await, StatusCode::OK);
        assert_eq!(call(Method::GET, "/posts/create").await, StatusCode::OK);
        assert_eq!(call(Method::GET, "/posts/abc").await, StatusCode::NOT_FOUND);
        assert_eq!(
            call(Method::DELETE, "/posts/abc").await,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            call(Method::POST, "/posts/5").await,
            StatusCode::METHOD_NOT_ALLOWED
        );
    }

    #[test]
    fn singular_parameters() {
        for (plural, single) in [
            ("posts", "post"),
            ("categories", "category"),
            ("boxes", "box"),
            ("addresses", "address"),
            ("people", "person"),
            ("blog-posts", "blog_post"),
            ("status", "status"),
            ("news", "news"),
            ("tv-series", "tv_series"),
            ("data", "data"),
        ] {
            assert_eq!(singular(plural), single, "{plural}");
        }
    }
}
