//! [`Error`]: the one error type handlers return, and how it becomes a response.
//!
//! Each kind maps to a status code (NotFound 404, Validation 422, …). The message given to an
//! error is public: it is shown to clients. Everything attached with [`Error::with_source`] or
//! [`Error::internal`] is private: it is logged, and shown only in debug mode.
//!
//! `IntoResponse` writes `{"message": …}` (plus `"errors"` for validation) and attaches an
//! [`ErrorReport`] to the response. The HTTP kernel's error renderer reads that report to answer
//! with an HTML page instead when the client wants HTML, and to add the error chain in debug
//! mode; without the renderer the JSON body stands on its own.
//!
//! There is deliberately no blanket `From<E: std::error::Error>`: a component's error (a
//! missing row, a failed validation) must keep its status, so each component converts its own
//! error type explicitly. Use [`Error::internal`] or [`ResultExt::or_internal`] for the rest.
//!
//! ```
//! use foundry_core::{Error, ErrorKind};
//! use http::StatusCode;
//!
//! let err = Error::not_found("post 5 does not exist");
//! assert_eq!(err.status(), StatusCode::NOT_FOUND);
//! assert_eq!(err.public_message(), "post 5 does not exist");
//!
//! let io = std::io::Error::other("disk on fire");
//! let err = Error::internal(io);
//! assert_eq!(err.kind(), ErrorKind::Internal);
//! assert_eq!(err.public_message(), "Server Error"); // nothing internal leaks
//! assert_eq!(err.chain(), ["Server Error", "disk on fire"]);
//! ```

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use axum_core::body::Body;
use axum_core::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER};

use crate::config::ConfigError;

/// Validation errors: each field with its messages, in the order the rules ran (Laravel's
/// order, kept in the JSON body).
pub type FieldErrors = Vec<(String, Vec<String>)>;

/// Serializes [`FieldErrors`] as a JSON object in their order.
struct OrderedFields<'a>(&'a [(String, Vec<String>)]);

impl serde::Serialize for OrderedFields<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (field, messages) in self.0 {
            map.serialize_entry(field, messages)?;
        }
        map.end()
    }
}

/// A `Result` whose error defaults to [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, in terms of HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// 400: the request is malformed.
    BadRequest,
    /// 401: authentication is required.
    Unauthenticated,
    /// 403: the user may not do this.
    Forbidden,
    /// 404: no such resource or route.
    NotFound,
    /// 405: the route exists, but not for this method.
    MethodNotAllowed,
    /// 409: the request conflicts with the current state.
    Conflict,
    /// 413: the body is too large.
    PayloadTooLarge,
    /// 415: the body's content type is not accepted.
    UnsupportedMediaType,
    /// 419: the CSRF token is missing or wrong.
    CsrfMismatch,
    /// 422: the input failed validation.
    Validation,
    /// 429: rate limited.
    TooManyRequests,
    /// 503: down for maintenance or a dependency is unavailable.
    Unavailable,
    /// 500: a bug or an infrastructure failure; details are never shown outside debug mode.
    Internal,
}

impl ErrorKind {
    /// The HTTP status of this kind.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
            ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            // 419 is Laravel's "Page Expired"; http has no constant for it.
            ErrorKind::CsrfMismatch => StatusCode::from_u16(419).unwrap_or(StatusCode::FORBIDDEN),
            ErrorKind::Validation => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message used when none is given (Laravel's wording).
    pub fn default_message(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "Bad Request",
            ErrorKind::Unauthenticated => "Unauthenticated.",
            ErrorKind::Forbidden => "This action is unauthorized.",
            ErrorKind::NotFound => "Not Found",
            ErrorKind::MethodNotAllowed => "Method Not Allowed",
            ErrorKind::Conflict => "Conflict",
            ErrorKind::PayloadTooLarge => "Payload Too Large",
            ErrorKind::UnsupportedMediaType => "Unsupported Media Type",
            ErrorKind::CsrfMismatch => "CSRF token mismatch.",
            ErrorKind::Validation => "The given data was invalid.",
            ErrorKind::TooManyRequests => "Too Many Attempts.",
            ErrorKind::Unavailable => "Service Unavailable",
            ErrorKind::Internal => "Server Error",
        }
    }

    /// The kind for a status code (used to render responses that did not come from an `Error`).
    pub fn from_status(status: StatusCode) -> Option<Self> {
        Some(match status.as_u16() {
            400 => ErrorKind::BadRequest,
            401 => ErrorKind::Unauthenticated,
            403 => ErrorKind::Forbidden,
            404 => ErrorKind::NotFound,
            405 => ErrorKind::MethodNotAllowed,
            409 => ErrorKind::Conflict,
            413 => ErrorKind::PayloadTooLarge,
            415 => ErrorKind::UnsupportedMediaType,
            419 => ErrorKind::CsrfMismatch,
            422 => ErrorKind::Validation,
            429 => ErrorKind::TooManyRequests,
            503 => ErrorKind::Unavailable,
            500 => ErrorKind::Internal,
            _ => return None,
        })
    }
}

type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// The error type of RustForge handlers and services.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    message: Option<Cow<'static, str>>,
    source: Option<BoxError>,
    errors: Option<FieldErrors>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl Error {
    /// An error of `kind` with a public message.
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Self::bare(kind, Some(message.into()))
    }

    /// An error of `kind` with the kind's default message.
    pub fn from_kind(kind: ErrorKind) -> Self {
        Self::bare(kind, None)
    }

    fn bare(kind: ErrorKind, message: Option<Cow<'static, str>>) -> Self {
        Self {
            inner: Box::new(Inner {
                kind,
                message,
                source: None,
                errors: None,
                headers: Vec::new(),
            }),
        }
    }

    /// 500 wrapping an internal failure; the source is logged, never shown outside debug.
    pub fn internal(source: impl Into<BoxError>) -> Self {
        Self::from_kind(ErrorKind::Internal).with_source(source)
    }

    /// 404 with a public message.
    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// 400 with a public message.
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::BadRequest, message)
    }

    /// 403 with a public message.
    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Forbidden, message)
    }

    /// 401 with Laravel's "Unauthenticated." message.
    pub fn unauthenticated() -> Self {
        Self::from_kind(ErrorKind::Unauthenticated)
    }

    /// 503 with a public message.
    pub fn unavailable(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }

    /// 429 with a `Retry-After` header.
    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        Self::from_kind(ErrorKind::TooManyRequests)
            .with_header(RETRY_AFTER, retry_after_secs.into())
    }

    /// 422 with Laravel's shape: a summary message and `errors` (field → list of messages, in
    /// the order given).
    pub fn validation(message: impl Into<Cow<'static, str>>, errors: FieldErrors) -> Self {
        let mut err = Self::new(ErrorKind::Validation, message);
        err.inner.errors = Some(errors);
        err
    }

    /// Attach the private cause of this error.
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.inner.source = Some(source.into());
        self
    }

    /// Add a header to the response this error becomes.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.inner.headers.push((name, value));
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.inner.kind.status()
    }

    /// The message safe to show a client: the given message, or the kind's default. For
    /// internal errors always the default, whatever the message says.
    pub fn public_message(&self) -> &str {
        match (&self.inner.message, self.inner.kind) {
            (_, ErrorKind::Internal) | (None, _) => self.inner.kind.default_message(),
            (Some(message), _) => message,
        }
    }

    /// Field errors of a validation error.
    pub fn field_errors(&self) -> Option<&[(String, Vec<String>)]> {
        self.inner.errors.as_deref()
    }

    /// The messages of this error and every cause, outermost first (for logs and debug mode).
    pub fn chain(&self) -> Vec<String> {
        let mut chain = vec![
            self.inner
                .message
                .as_deref()
                .unwrap_or(self.inner.kind.default_message())
                .to_owned(),
        ];
        let mut next: Option<&(dyn StdError + 'static)> =
            self.inner.source.as_deref().map(|e| e as _);
        while let Some(err) = next {
            chain.push(err.to_string());
            next = err.source();
        }
        chain
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.inner.kind)
            .field("message", &self.inner.message)
            .field("source", &self.inner.source)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            self.inner
                .message
                .as_deref()
                .unwrap_or(self.inner.kind.default_message()),
        )?;
        if let Some(source) = &self.inner.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner.source.as_deref().map(|e| e as _)
    }
}

/// What a response built from an [`Error`] carries for the error renderer.
#[derive(Debug, Clone)]
pub struct ErrorReport(Arc<ReportInner>);

#[derive(Debug)]
struct ReportInner {
    kind: ErrorKind,
    message: String,
    errors: Option<FieldErrors>,
    chain: Vec<String>,
}

impl ErrorReport {
    /// A report for a response that did not come from an [`Error`] (a bare 404, a 405).
    pub fn from_kind(kind: ErrorKind) -> Self {
        Self(Arc::new(ReportInner {
            kind,
            message: kind.default_message().to_owned(),
            errors: None,
            chain: Vec::new(),
        }))
    }

    /// The error's kind.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The public message.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// Validation field errors, if any, in order.
    pub fn errors(&self) -> Option<&[(String, Vec<String>)]> {
        self.0.errors.as_deref()
    }

    /// The private chain (outermost first); show only in debug mode.
    pub fn chain(&self) -> &[String] {
        &self.0.chain
    }

    /// The JSON body: `{"message"}`, plus `"errors"` for validation, plus `"error_chain"` when
    /// `debug` is on and there is a cause to show. Keys come in that order, as Laravel writes
    /// them.
    pub fn json_body(&self, debug: bool) -> Vec<u8> {
        self.json_body_with(debug, None)
    }

    /// [`json_body`](Self::json_body) plus `"request_id"` when given (server errors carry it so
    /// users can quote it).
    pub fn json_body_with(&self, debug: bool, request_id: Option<&str>) -> Vec<u8> {
        #[derive(serde::Serialize)]
        struct Body<'a> {
            message: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            errors: Option<OrderedFields<'a>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            request_id: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            error_chain: Option<&'a [String]>,
        }
        let body = Body {
            message: &self.0.message,
            errors: self.0.errors.as_deref().map(OrderedFields),
            request_id,
            // The chain is worth showing when there is more to it than the message.
            error_chain: (debug && self.0.chain.len() > 1).then_some(self.0.chain.as_slice()),
        };
        // Serializing strings and maps of JSON values cannot fail.
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let chain = self.chain();
        let report = ErrorReport(Arc::new(ReportInner {
            kind: self.inner.kind,
            message: self.public_message().to_owned(),
            errors: self.inner.errors,
            chain,
        }));
        let body = report.json_body(false);
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in self.inner.headers {
            headers.insert(name, value);
        }
        response.extensions_mut().insert(report);
        response
    }
}

impl From<ConfigError> for Error {
    fn from(err: ConfigError) -> Self {
        Error::internal(err)
    }
}

impl From<crate::url::UrlError> for Error {
    fn from(err: crate::url::UrlError) -> Self {
        Error::internal(err)
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Error::internal(err)
    }
}

impl From<serde_json::Error> for Error {
    fn from(err: serde_json::Error) -> Self {
        Error::internal(err)
    }
}

impl From<BoxError> for Error {
    fn from(err: BoxError) -> Self {
        match err.downcast::<Error>() {
            Ok(err) => *err,
            Err(err) => Error::internal(err),
        }
    }
}

/// `?`-friendly conversions of foreign errors.
pub trait ResultExt<T> {
    /// Any error becomes a 500 with the error as its private source.
    fn or_internal(self) -> Result<T>;
    /// A missing or failed value becomes a 404 with this public message.
    fn or_not_found(self, message: impl Into<Cow<'static, str>>) -> Result<T>;
}

impl<T, E: Into<BoxError>> ResultExt<T> for std::result::Result<T, E> {
    fn or_internal(self) -> Result<T> {
        self.map_err(Error::internal)
    }

    fn or_not_found(self, message: impl Into<Cow<'static, str>>) -> Result<T> {
        self.map_err(|e| Error::not_found(message).with_source(e))
    }
}

/// Turn a missing value into a 404.
pub trait OptionExt<T> {
    /// `None` becomes a 404 with this public message.
    fn or_not_found(self, message: impl Into<Cow<'static, str>>) -> Result<T>;
}

impl<T> OptionExt<T> for Option<T> {
    fn or_not_found(self, message: impl Into<Cow<'static, str>>) -> Result<T> {
        self.ok_or_else(|| Error::not_found(message))
    }
}

/// An error and its causes joined for one line, skipping causes the message already shows
/// (`error: cannot read config: permission denied`): what commands print and logs record.
pub fn error_chain(err: &(dyn StdError + 'static)) -> String {
    let mut text = err.to_string();
    let mut next = err.source();
    while let Some(cause) = next {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        next = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body_json(response: Response) -> serde_json::Value {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn statuses_and_json_bodies() {
        let cases = [
            (Error::not_found("no post 5"), 404, "no post 5"),
            (Error::forbidden("nope"), 403, "nope"),
            (Error::unauthenticated(), 401, "Unauthenticated."),
            (
                Error::from_kind(ErrorKind::CsrfMismatch),
                419,
                "CSRF token mismatch.",
            ),
            (Error::unavailable("maintenance"), 503, "maintenance"),
            (Error::bad_request("bad"), 400, "bad"),
        ];
        for (err, status, message) in cases {
            let response = err.into_response();
            assert_eq!(response.status().as_u16(), status);
            assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
            assert!(response.extensions().get::<ErrorReport>().is_some());
            assert_eq!(
                body_json(response).await,
                serde_json::json!({ "message": message })
            );
        }
    }

    #[tokio::test]
    async fn internal_errors_hide_their_cause() {
        let err = Error::internal(std::io::Error::other("password=hunter2"));
        assert!(err.to_string().contains("hunter2"), "Display is for logs");
        let response = err.into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let report = response.extensions().get::<ErrorReport>().unwrap().clone();
        assert_eq!(report.chain(), ["Server Error", "password=hunter2"]);
        let body = body_json(response).await;
        assert_eq!(body, serde_json::json!({ "message": "Server Error" }));
        let quiet = String::from_utf8(report.json_body(false)).unwrap();
        assert!(!quiet.contains("hunter2"));
        let debug = String::from_utf8(report.json_body(true)).unwrap();
        assert_eq!(
            debug,
            r#"{"message":"Server Error","error_chain":["Server Error","password=hunter2"]}"#
        );
    }

    #[tokio::test]
    async fn validation_errors_carry_fields_and_headers_pass_through() {
        let fields = vec![
            (
                "email".to_owned(),
                vec!["The email field is required.".to_owned()],
            ),
            (
                "age".to_owned(),
                vec!["The age field must be a number.".to_owned()],
            ),
        ];
        let response = Error::validation("The email field is required.", fields).into_response();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            r#"{"message":"The email field is required.","errors":{"email":["The email field is required."],"age":["The age field must be a number."]}}"#,
            "fields keep their order"
        );

        let response = Error::too_many_requests(30).into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[RETRY_AFTER], "30");
    }

    #[test]
    fn helpers_convert_foreign_errors() {
        let missing: Option<u8> = None;
        assert_eq!(
            missing.or_not_found("gone").unwrap_err().kind(),
            ErrorKind::NotFound
        );
        let failed: std::result::Result<u8, std::io::Error> = Err(std::io::Error::other("x"));
        assert_eq!(
            failed.or_internal().unwrap_err().kind(),
            ErrorKind::Internal
        );
        let boxed: BoxError = Box::new(Error::forbidden("no"));
        assert_eq!(
            Error::from(boxed).kind(),
            ErrorKind::Forbidden,
            "a boxed Error keeps its kind"
        );
        assert_eq!(
            ErrorKind::from_status(StatusCode::NOT_FOUND),
            Some(ErrorKind::NotFound)
        );
        assert_eq!(ErrorKind::CsrfMismatch.status().as_u16(), 419);
    }
}
