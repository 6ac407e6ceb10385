//! `Json`, `Form`, `Query` and `Path` extractors whose rejections are [`foundry_core::Error`]s,
//! so a bad request is rendered like every other error (JSON or HTML, right status) instead
//! of axum's plain-text bodies.
//!
//! | failure | status |
//! |---|---|
//! | body is not valid JSON | 400 |
//! | `Content-Type` is not JSON (for `Json`) or a form (for `Form`) | 415 |
//! | valid JSON/form that does not fit the type (missing field, wrong type) | 422 |
//! | query string that does not fit the type | 400 |
//! | path parameter that does not fit the type (`/posts/abc` for a number) | 404 |
//! | body larger than the limit | 413 |
//!
//! Messages say what was wrong with the input, e.g. `Failed to deserialize the JSON body into
//! the target type: title: missing field `title` at line 1 column 2`.

use axum::extract::rejection::{
    FormRejection, JsonRejection, MissingJsonContentType, PathRejection, QueryRejection,
};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use foundry_core::body::{ReadBody, is_json, media_type};
use foundry_core::{Error, ErrorKind};
use http::StatusCode;
use http::request::Parts;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn from_rejection(status: StatusCode, text: String) -> Error {
    let kind = match status {
        StatusCode::UNPROCESSABLE_ENTITY => ErrorKind::Validation,
        other => ErrorKind::from_status(other).unwrap_or(ErrorKind::BadRequest),
    };
    Error::new(kind, text)
}

/// JSON request bodies and responses; see the module docs for the statuses of bad input.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        // axum's checks and messages, with the body read as one frame when it came as one
        // (`ReadBody`) rather than collected into a list of buffers, and the content type
        // compared rather than parsed.
        if !media_type(request.headers()).is_some_and(is_json) {
            return Err(json_rejection(&MissingJsonContentType::default().into()));
        }
        let bytes = ReadBody::new(request).await?;
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(value)) => Ok(Json(value)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

fn json_rejection(rejection: &JsonRejection) -> Error {
    from_rejection(rejection.status(), rejection.body_text())
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `application/x-www-form-urlencoded` bodies (or the query string of a `GET`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Form<T>(pub T);

impl<T, S> FromRequest<S> for Form<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Form::<T>::from_request(request, state).await {
            Ok(axum::Form(value)) => Ok(Form(value)),
            Err(rejection) => Err(form_rejection(&rejection)),
        }
    }
}

fn form_rejection(rejection: &FormRejection) -> Error {
    from_rejection(rejection.status(), rejection.body_text())
}

/// The query string, deserialized.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(rejection) => Err(query_rejection(&rejection)),
        }
    }
}

fn query_rejection(rejection: &QueryRejection) -> Error {
    from_rejection(rejection.status(), rejection.body_text())
}

/// Path parameters, deserialized. A value that does not fit the type is a 404: no resource
/// lives at that URL.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(rejection) => Err(path_rejection(rejection)),
        }
    }
}

fn path_rejection(rejection: PathRejection) -> Error {
    match rejection {
        PathRejection::FailedToDeserializePathParams(inner) => {
            let text = inner.body_text();
            Error::not_found("Not Found").with_source(text)
        }
        // The handler asks for parameters its route does not have: a bug, not bad input.
        other => Error::internal(other.body_text()),
    }
}

macro_rules! deref_newtype {
    ($($name:ident),*) => {$(
        impl<T> std::ops::Deref for $name<T> {
            type Target = T;
            fn deref(&self) -> &T {
                &self.0
            }
        }

        impl<T> std::ops::DerefMut for $name<T> {
            fn deref_mut(&mut self) -> &mut T {
                &mut self.0
            }
        }
    )*};
}

deref_newtype!(Json, Form, Query, Path);

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::{get, post};
    use foundry_core::ErrorReport;
    use http::header::CONTENT_TYPE;
    use serde::Deserialize;
    use tower::ServiceExt;

    #[derive(Debug, Deserialize, Serialize)]
    struct Post {
        title: String,
        views: u32,
    }

    #[derive(Debug, Deserialize)]
    struct Page {
        page: u32,
    }

    fn app() -> Router {
        Router::new()
            .route(
                "/json",
                post(|Json(post): Json<Post>| async move { Json(post) }),
            )
            .route(
                "/form",
                post(|Form(post): Form<Post>| async move { post.title }),
            )
            .route(
                "/query",
                get(|Query(page): Query<Page>| async move { page.page.to_string() }),
            )
            .route(
                "/posts/{id}",
                get(|Path(id): Path<u64>| async move { id.to_string() }),
            )
    }

    async fn send(request: http::Request<Body>) -> (StatusCode, Option<ErrorReport>, String) {
        let response = app().oneshot(request).await.unwrap();
        let status = response.status();
        let report = response.extensions().get::<ErrorReport>().cloned();
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        (status, report, String::from_utf8(body.to_vec()).unwrap())
    }

    fn json(body: &'static str) -> http::Request<Body> {
        http::Request::post("/json")
            .header(CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap()
    }

    #[tokio::test]
    async fn json_failures_get_their_statuses_as_errors() {
        let (status, _, body) = send(json(r#"{"title":"a","views":1}"#)).await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, r#"{"title":"a","views":1}"#)
        );

        let (status, report, _) = send(json("{not json")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            report
                .unwrap()
                .message()
                .contains("Failed to parse the request body as JSON")
        );

        let (status, report, _) = send(json(r#"{"title":"a"}"#)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(report.unwrap().message().contains("missing field `views`"));

        let (status, report, _) = send(json(r#"{"title":"a","views":-1}"#)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(report.unwrap().message().contains("views"));

        let wrong_type = http::Request::post("/json")
            .header(CONTENT_TYPE, "text/plain")
            .body(Body::from("{}"))
            .unwrap();
        let (status, report, body) = send(wrong_type).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(report.is_some());
        assert_eq!(
            body,
            r#"{"message":"Expected request with `Content-Type: application/json`"}"#
        );
    }

    #[tokio::test]
    async fn json_takes_json_media_types_bodies_in_pieces_and_its_limit() {
        let request = |content_type: Option<&str>, body: Body| {
            let mut request = http::Request::post("/json");
            if let Some(content_type) = content_type {
                request = request.header(CONTENT_TYPE, content_type);
            }
            request.body(body).unwrap()
        };
        let valid = r#"{"title":"a","views":1}"#;
        for content_type in [
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/vnd.api+json",
        ] {
            let (status, _, body) = send(request(Some(content_type), Body::from(valid))).await;
            assert_eq!(
                (status, body.as_str()),
                (StatusCode::OK, valid),
                "{content_type}"
            );
        }
        for content_type in [None, Some("text/json"), Some("application/jsonp")] {
            let (status, _, _) = send(request(content_type, Body::from(valid))).await;
            assert_eq!(
                status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{content_type:?}"
            );
        }

        // A body that arrives in several frames is read whole.
        let pieces = futures_util::stream::iter(
            [r#"{"title""#, r#":"a","#, r#""views":1}"#].map(Ok::<_, std::io::Error>),
        );
        let (status, _, body) =
            send(request(Some("application/json"), Body::from_stream(pieces))).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, valid));

        // Over the route's limit: 413, as axum answers.
        let limited = Router::new().route(
            "/json",
            post(|Json(post): Json<Post>| async move { Json(post) })
                .layer(axum::extract::DefaultBodyLimit::max(8)),
        );
        let response = limited
            .oneshot(request(Some("application/json"), Body::from(valid)))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let report = response.extensions().get::<ErrorReport>().unwrap();
        assert!(
            report.message().contains("length limit exceeded"),
            "{}",
            report.message()
        );
    }

    #[tokio::test]
    async fn form_query_and_path_failures() {
        let form = http::Request::post("/form")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("title=x&views=many"))
            .unwrap();
        let (status, report, _) = send(form).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(report.is_some());

        let (status, report, _) = send(
            http::Request::get("/query?page=first")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(report.unwrap().message().contains("page"));

        let (status, report, body) = send(
            http::Request::get("/posts/abc")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let report = report.unwrap();
        assert_eq!(body, r#"{"message":"Not Found"}"#);
        assert!(
            report.chain()[1].contains("abc"),
            "the reason is kept for debug mode: {:?}",
            report.chain()
        );

        let (status, _, body) =
            send(http::Request::get("/posts/7").body(Body::empty()).unwrap()).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "7"));
    }
}
