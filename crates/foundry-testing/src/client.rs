//! Requests through the app's service, without a socket: [`TestRequest`], the cookie jar and
//! the acting user.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use http::header::{self, HeaderName, HeaderValue};
use http::{Extensions, Method, Request};
use http_body_util::BodyExt;
use serde::Serialize;
use tower::ServiceExt;

use crate::TestApp;
use crate::response::TestResponse;

/// Puts the acting user into a request's extensions.
pub(crate) type UserHook = Arc<dyn Fn(&mut Extensions) + Send + Sync>;

/// State kept across one [`TestApp`]'s requests.
#[derive(Default)]
pub(crate) struct ClientState {
    /// Cookies set by responses (or by the test), sent with every request.
    pub(crate) cookies: Mutex<BTreeMap<String, String>>,
    /// The user every request acts as.
    pub(crate) user: Mutex<Option<UserHook>>,
}

/// A request being built: headers, cookies and a user on top of the app's, then a method and
/// a path to send it.
///
/// ```no_run
/// # async fn example(app: foundry_testing::TestApp) {
/// app.with_header("X-Tenant", "acme")
///     .with_header("Accept-Language", "de")
///     .get("/dashboard")
///     .await
///     .assert_ok();
/// # }
/// ```
#[must_use = "a request does nothing until a method such as `get` sends it"]
pub struct TestRequest<'a> {
    app: &'a TestApp,
    headers: Vec<(HeaderName, HeaderValue)>,
    user: Option<UserHook>,
}

impl std::fmt::Debug for TestRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestRequest")
            .field("headers", &self.headers)
            .field("acting_as", &self.user.is_some())
            .finish_non_exhaustive()
    }
}

impl<'a> TestRequest<'a> {
    pub(crate) fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            headers: Vec::new(),
            user: None,
        }
    }

    /// Add a header to this request. Panics on a name or value HTTP does not allow.
    #[track_caller]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        let name = HeaderName::try_from(name)
            .unwrap_or_else(|e| panic!("`{name}` is not a valid header name: {e}"));
        let value = HeaderValue::try_from(value)
            .unwrap_or_else(|e| panic!("`{value}` is not a valid value for `{name}`: {e}"));
        self.headers.push((name, value));
        self
    }

    /// Add several headers.
    #[track_caller]
    pub fn with_headers<I, K, V>(mut self, headers: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        for (name, value) in headers {
            self = self.with_header(name.as_ref(), value.as_ref());
        }
        self
    }

    /// Send `Authorization: Bearer <token>`.
    #[track_caller]
    pub fn with_token(self, token: &str) -> Self {
        self.with_header("authorization", &format!("Bearer {token}"))
    }

    /// Act as `user` for this request only (see [`TestApp::acting_as`]).
    pub fn acting_as<U: Clone + Send + Sync + 'static>(mut self, user: U) -> Self {
        self.user = Some(user_hook(user));
        self
    }

    /// `GET path`.
    pub async fn get(self, path: &str) -> TestResponse {
        self.send(Method::GET, path, None).await
    }

    /// `POST path` without a body.
    pub async fn post(self, path: &str) -> TestResponse {
        self.send(Method::POST, path, None).await
    }

    /// `PUT path` without a body.
    pub async fn put(self, path: &str) -> TestResponse {
        self.send(Method::PUT, path, None).await
    }

    /// `PATCH path` without a body.
    pub async fn patch(self, path: &str) -> TestResponse {
        self.send(Method::PATCH, path, None).await
    }

    /// `DELETE path`.
    pub async fn delete(self, path: &str) -> TestResponse {
        self.send(Method::DELETE, path, None).await
    }

    /// `GET path` asking for JSON, with `query` serialized into the query string (a GET has
    /// no body; pass `&()` or `&json!({})` for none).
    pub async fn get_json<T: Serialize + ?Sized>(self, path: &str, query: &T) -> TestResponse {
        let query = serde_urlencoded::to_string(query).unwrap_or_else(|e| {
            panic!("the query for GET {path} cannot be a query string (flat keys and scalars only): {e}")
        });
        let path = match (query.is_empty(), path.contains('?')) {
            (true, _) => path.to_owned(),
            (false, false) => format!("{path}?{query}"),
            (false, true) => format!("{path}&{query}"),
        };
        self.json_accepting().send(Method::GET, &path, None).await
    }

    /// `POST path` with a JSON body.
    pub async fn post_json<T: Serialize + ?Sized>(self, path: &str, body: &T) -> TestResponse {
        self.json(Method::POST, path, body).await
    }

    /// `PUT path` with a JSON body.
    pub async fn put_json<T: Serialize + ?Sized>(self, path: &str, body: &T) -> TestResponse {
        self.json(Method::PUT, path, body).await
    }

    /// `PATCH path` with a JSON body.
    pub async fn patch_json<T: Serialize + ?Sized>(self, path: &str, body: &T) -> TestResponse {
        self.json(Method::PATCH, path, body).await
    }

    /// `DELETE path` with a JSON body.
    pub async fn delete_json<T: Serialize + ?Sized>(self, path: &str, body: &T) -> TestResponse {
        self.json(Method::DELETE, path, body).await
    }

    /// Any method with a JSON body, `Accept: application/json` and
    /// `Content-Type: application/json`.
    pub async fn json<T: Serialize + ?Sized>(
        self,
        method: Method,
        path: &str,
        body: &T,
    ) -> TestResponse {
        let body = match serde_json::to_vec(body) {
            Ok(body) => body,
            Err(e) => panic!("the body for {method} {path} is not JSON: {e}"),
        };
        self.json_accepting()
            .with_header("content-type", "application/json")
            .send(method, path, Some(body))
            .await
    }

    /// `POST path` with an HTML form body (`application/x-www-form-urlencoded`).
    pub async fn post_form<T: Serialize + ?Sized>(self, path: &str, form: &T) -> TestResponse {
        self.form(Method::POST, path, form).await
    }

    /// Any method with an HTML form body. Forms can only `GET` and `POST`; send `_method`
    /// in the form to reach `PUT`/`PATCH`/`DELETE` routes as a browser would.
    pub async fn form<T: Serialize + ?Sized>(
        self,
        method: Method,
        path: &str,
        form: &T,
    ) -> TestResponse {
        let body = match serde_urlencoded::to_string(form) {
            Ok(body) => body,
            Err(e) => panic!(
                "the form for {method} {path} cannot be encoded (flat keys and scalars only): {e}"
            ),
        };
        self.with_header("content-type", "application/x-www-form-urlencoded")
            .send(method, path, Some(body.into_bytes()))
            .await
    }

    /// Send `method path` with a raw body.
    pub async fn send_body(self, method: Method, path: &str, body: Vec<u8>) -> TestResponse {
        self.send(method, path, Some(body)).await
    }

    fn json_accepting(self) -> Self {
        if self.headers.iter().any(|(name, _)| name == header::ACCEPT) {
            self
        } else {
            self.with_header("accept", "application/json")
        }
    }

    /// Build the request, call the app's service, read the whole response, keep its cookies.
    pub async fn send(self, method: Method, path: &str, body: Option<Vec<u8>>) -> TestResponse {
        let app = self.app;
        let mut builder = Request::builder().method(method.clone()).uri(path);
        for (name, value) in &self.headers {
            builder = builder.header(name, value);
        }
        let cookies = cookie_header(
            &app.state()
                .cookies
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        if let Some(cookies) = cookies
            && !self.headers.iter().any(|(name, _)| name == header::COOKIE)
        {
            builder = builder.header(header::COOKIE, cookies);
        }
        let mut request = match builder.body(Body::from(body.unwrap_or_default())) {
            Ok(request) => request,
            Err(e) => panic!("cannot build the request {method} {path}: {e}"),
        };
        let user = self.user.or_else(|| {
            app.state()
                .user
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
        });
        if let Some(user) = user {
            user(request.extensions_mut());
        }
        let response = match app.kernel().service().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let (parts, body) = response.into_parts();
        let bytes = match body.collect().await {
            Ok(collected) => collected.to_bytes().to_vec(),
            Err(e) => panic!("reading the response body of {method} {path} failed: {e}"),
        };
        store_cookies(
            &mut app
                .state()
                .cookies
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
            &parts.headers,
        );
        TestResponse::new(method, path.to_owned(), parts.status, parts.headers, bytes)
    }
}

pub(crate) fn user_hook<U: Clone + Send + Sync + 'static>(user: U) -> UserHook {
    Arc::new(move |extensions: &mut Extensions| {
        extensions.insert(user.clone());
    })
}

fn cookie_header(jar: &BTreeMap<String, String>) -> Option<String> {
    (!jar.is_empty()).then(|| {
        jar.iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    })
}

/// Keep what `Set-Cookie` sets; forget what it expires (`Max-Age=0` or less, or an
/// `Expires` in the past).
fn store_cookies(jar: &mut BTreeMap<String, String>, headers: &http::HeaderMap) {
    for value in headers.get_all(header::SET_COOKIE) {
        let Ok(value) = value.to_str() else { continue };
        let mut parts = value.split(';');
        let Some((name, cookie)) = parts.next().and_then(|pair| pair.split_once('=')) else {
            continue;
        };
        let (name, cookie) = (name.trim(), cookie.trim());
        let expired = parts.any(|attribute| {
            let attribute = attribute.trim().to_ascii_lowercase();
            if let Some(age) = attribute.strip_prefix("max-age=") {
                age.trim().parse::<i64>().is_ok_and(|age| age <= 0)
            } else if let Some(date) = attribute.strip_prefix("expires=") {
                chrono::DateTime::parse_from_rfc2822(&date.replace("gmt", "+0000"))
                    .is_ok_and(|at| at < chrono::Utc::now())
            } else {
                false
            }
        });
        if expired {
            jar.remove(name);
        } else {
            jar.insert(name.to_owned(), cookie.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_cookie(values: &[&str]) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        for value in values {
            headers.append(header::SET_COOKIE, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn the_jar_keeps_set_cookies_and_forgets_expired_ones() {
        let mut jar = BTreeMap::new();
        store_cookies(
            &mut jar,
            &set_cookie(&["session=abc; Path=/; HttpOnly", "theme=dark"]),
        );
        assert_eq!(cookie_header(&jar).unwrap(), "session=abc; theme=dark");
        store_cookies(
            &mut jar,
            &set_cookie(&[
                "session=; Max-Age=0",
                "theme=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            ]),
        );
        assert!(jar.is_empty(), "{jar:?}");
        assert_eq!(cookie_header(&jar), None);
    }
}
