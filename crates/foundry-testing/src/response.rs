//! [`TestResponse`]: a response with its request, and Laravel's assertions on it.
//!
//! Every assertion returns `&Self` so assertions chain, and panics (it is test code) with the
//! request (method and path), the status, the body (pretty JSON or text, cut to a few
//! thousand characters) and, for JSON comparisons, a diff of expected against actual.

use std::fmt::Write as _;

use http::{HeaderMap, Method, StatusCode};
use serde_json::Value;

use crate::json::{self, Match};

/// How much of a body a failure message shows.
const BODY_LIMIT: usize = 3000;

/// A response from the app, with the request that produced it.
#[derive(Debug, Clone)]
pub struct TestResponse {
    method: Method,
    path: String,
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl TestResponse {
    pub(crate) fn new(
        method: Method,
        path: String,
        status: StatusCode,
        headers: HeaderMap,
        body: Vec<u8>,
    ) -> Self {
        Self {
            method,
            path,
            status,
            headers,
            body,
        }
    }

    // ---- accessors ----

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status.as_u16()
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The raw body.
    pub fn bytes(&self) -> &[u8] {
        &self.body
    }

    /// The body as JSON; panics with the response when it is not JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        match serde_json::from_slice(&self.body) {
            Ok(value) => value,
            Err(err) => self.fail(&format!("the response body is not JSON ({err})"), None),
        }
    }

    /// The JSON value at a dotted path (`data.0.title`), if there is one.
    #[track_caller]
    pub fn json_path(&self, path: &str) -> Option<Value> {
        json::at_path(&self.json(), path).cloned()
    }

    /// A header's value (the first one), if present and text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// Every header.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The request method and path, as failure messages show them (`POST /api/posts`).
    pub fn request_line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    // ---- status ----

    /// The status is `status`.
    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Self {
        if self.status.as_u16() != status {
            let expected =
                StatusCode::from_u16(status).map_or_else(|_| status.to_string(), |s| s.to_string());
            self.fail(
                &format!("expected status {expected}, got {}", self.status),
                None,
            );
        }
        self
    }

    /// 200 OK.
    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        self.assert_status(200)
    }

    /// 201 Created.
    #[track_caller]
    pub fn assert_created(&self) -> &Self {
        self.assert_status(201)
    }

    /// 202 Accepted.
    #[track_caller]
    pub fn assert_accepted(&self) -> &Self {
        self.assert_status(202)
    }

    /// 204 No Content, with an empty body.
    #[track_caller]
    pub fn assert_no_content(&self) -> &Self {
        self.assert_status(204);
        if !self.body.is_empty() {
            self.fail("expected an empty body with 204 No Content", None);
        }
        self
    }

    /// Any 2xx status.
    #[track_caller]
    pub fn assert_successful(&self) -> &Self {
        if !self.status.is_success() {
            self.fail(
                &format!("expected a successful (2xx) status, got {}", self.status),
                None,
            );
        }
        self
    }

    /// Any 4xx status.
    #[track_caller]
    pub fn assert_client_error(&self) -> &Self {
        if !self.status.is_client_error() {
            self.fail(
                &format!("expected a client error (4xx) status, got {}", self.status),
                None,
            );
        }
        self
    }

    /// Any 5xx status.
    #[track_caller]
    pub fn assert_server_error(&self) -> &Self {
        if !self.status.is_server_error() {
            self.fail(
                &format!("expected a server error (5xx) status, got {}", self.status),
                None,
            );
        }
        self
    }

    /// 400 Bad Request.
    #[track_caller]
    pub fn assert_bad_request(&self) -> &Self {
        self.assert_status(400)
    }

    /// 401 Unauthorized.
    #[track_caller]
    pub fn assert_unauthorized(&self) -> &Self {
        self.assert_status(401)
    }

    /// 403 Forbidden.
    #[track_caller]
    pub fn assert_forbidden(&self) -> &Self {
        self.assert_status(403)
    }

    /// 404 Not Found.
    #[track_caller]
    pub fn assert_not_found(&self) -> &Self {
        self.assert_status(404)
    }

    /// 405 Method Not Allowed.
    #[track_caller]
    pub fn assert_method_not_allowed(&self) -> &Self {
        self.assert_status(405)
    }

    /// 409 Conflict.
    #[track_caller]
    pub fn assert_conflict(&self) -> &Self {
        self.assert_status(409)
    }

    /// 413 Payload Too Large.
    #[track_caller]
    pub fn assert_payload_too_large(&self) -> &Self {
        self.assert_status(413)
    }

    /// 422 Unprocessable Content (failed validation).
    #[track_caller]
    pub fn assert_unprocessable(&self) -> &Self {
        self.assert_status(422)
    }

    /// 429 Too Many Requests.
    #[track_caller]
    pub fn assert_too_many_requests(&self) -> &Self {
        self.assert_status(429)
    }

    /// 500 Internal Server Error.
    #[track_caller]
    pub fn assert_internal_server_error(&self) -> &Self {
        self.assert_status(500)
    }

    /// 503 Service Unavailable.
    #[track_caller]
    pub fn assert_service_unavailable(&self) -> &Self {
        self.assert_status(503)
    }

    // ---- JSON ----

    /// The body contains `expected` (Laravel's `assertJson`): every key of `expected` is there
    /// with a matching value, recursively; objects may have more keys and arrays more
    /// elements (compared by position). Numbers compare by value.
    #[track_caller]
    pub fn assert_json(&self, expected: &Value) -> &Self {
        let actual = self.json();
        let problems = json::mismatches(expected, &actual, Match::Subset);
        if !problems.is_empty() {
            let projected = json::project(expected, &actual);
            self.fail_json(
                "the JSON does not contain the expected subset",
                &problems,
                expected,
                &projected,
            );
        }
        self
    }

    /// The body is exactly `expected` (key order does not matter).
    #[track_caller]
    pub fn assert_exact_json(&self, expected: &Value) -> &Self {
        let actual = self.json();
        let problems = json::mismatches(expected, &actual, Match::Exact);
        if !problems.is_empty() {
            self.fail_json(
                "the JSON is not exactly the expected value",
                &problems,
                expected,
                &actual,
            );
        }
        self
    }

    /// The value at a dotted path (`data.0.title`) equals `expected`.
    #[track_caller]
    pub fn assert_json_path(&self, path: &str, expected: &Value) -> &Self {
        let actual = self.json();
        match json::at_path(&actual, path) {
            None => self.fail(&format!("the JSON has nothing at path `{path}`"), None),
            Some(found) if !json::equal(expected, found) => {
                let problems = [format!(
                    "{path}: expected {}, got {}",
                    json::compact(expected),
                    json::compact(found)
                )];
                self.fail_json(
                    &format!("the JSON at path `{path}` differs"),
                    &problems,
                    expected,
                    found,
                );
            }
            Some(_) => {}
        }
        self
    }

    /// The array (or object) at `path` has `count` elements; an empty path is the root.
    #[track_caller]
    pub fn assert_json_count(&self, count: usize, path: &str) -> &Self {
        let actual = self.json();
        let shown = if path.is_empty() { "(root)" } else { path };
        let len = match json::at_path(&actual, path) {
            Some(Value::Array(items)) => items.len(),
            Some(Value::Object(map)) => map.len(),
            Some(other) => self.fail(
                &format!(
                    "expected an array at `{shown}`, got {}",
                    json::compact(other)
                ),
                None,
            ),
            None => self.fail(&format!("the JSON has nothing at path `{shown}`"), None),
        };
        if len != count {
            self.fail(
                &format!("expected {count} element(s) at `{shown}`, got {len}"),
                None,
            );
        }
        self
    }

    /// The body has the keys `structure` lists (Laravel's `assertJsonStructure`): a key
    /// (`"id"`), a list of structures, or an object from a key to the structure of its value,
    /// with `*` for every element of an array:
    /// `json!({"data": {"*": ["id", "title"]}, "meta": ["total"]})`.
    #[track_caller]
    pub fn assert_json_structure(&self, structure: &Value) -> &Self {
        let actual = self.json();
        let problems = json::structure_mismatches(structure, &actual);
        if !problems.is_empty() {
            self.fail(
                "the JSON does not have the expected structure",
                Some(&format!("differences:\n  {}\n", problems.join("\n  "))),
            );
        }
        self
    }

    /// The body has validation errors (`errors.<field>`) for every field in `fields`.
    #[track_caller]
    pub fn assert_json_validation_errors<I, S>(&self, fields: I) -> &Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let errors = self.validation_errors();
        let missing: Vec<String> = fields
            .into_iter()
            .map(|f| f.as_ref().to_owned())
            .filter(|f| !errors.contains(f))
            .collect();
        if !missing.is_empty() {
            self.fail(
                &format!(
                    "expected validation errors for [{}]; the response has errors for [{}]",
                    missing.join(", "),
                    errors.join(", ")
                ),
                None,
            );
        }
        self
    }

    /// The body has no validation errors for any field in `fields`.
    #[track_caller]
    pub fn assert_json_missing_validation_errors<I, S>(&self, fields: I) -> &Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let errors = self.validation_errors();
        let present: Vec<String> = fields
            .into_iter()
            .map(|f| f.as_ref().to_owned())
            .filter(|f| errors.contains(f))
            .collect();
        if !present.is_empty() {
            self.fail(
                &format!("expected no validation errors for [{}]", present.join(", ")),
                None,
            );
        }
        self
    }

    /// The fields with errors under `errors` in a JSON body (none when there is no such key).
    #[track_caller]
    fn validation_errors(&self) -> Vec<String> {
        match self.json().get("errors") {
            Some(Value::Object(map)) => map.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    // ---- headers, redirects, HTML ----

    /// The header `name` is present with `value`.
    #[track_caller]
    pub fn assert_header(&self, name: &str, value: &str) -> &Self {
        match self.header(name) {
            Some(found) if found == value => {}
            Some(found) => self.fail(
                &format!("expected header `{name}: {value}`, got `{name}: {found}`"),
                None,
            ),
            None => self.fail(
                &format!("expected header `{name}: {value}`; the response has no `{name}`"),
                None,
            ),
        }
        self
    }

    /// The header `name` is not present.
    #[track_caller]
    pub fn assert_header_missing(&self, name: &str) -> &Self {
        if let Some(found) = self.header(name) {
            self.fail(
                &format!("expected no header `{name}`, got `{name}: {found}`"),
                None,
            );
        }
        self
    }

    /// A redirect (201, 301, 302, 303, 307 or 308) to `to`. `Location` may be absolute: a
    /// scheme and host in front of `to` are ignored.
    #[track_caller]
    pub fn assert_redirect(&self, to: &str) -> &Self {
        if !matches!(self.status.as_u16(), 201 | 301 | 302 | 303 | 307 | 308) {
            self.fail(
                &format!("expected a redirect to `{to}`, got status {}", self.status),
                None,
            );
        }
        let location = self.header("location").unwrap_or_default();
        if location != to && strip_origin(&location) != strip_origin(to) {
            self.fail(
                &format!("expected a redirect to `{to}`, got one to `{location}`"),
                None,
            );
        }
        self
    }

    /// The body contains `text` as HTML shows it (Laravel's `assertSee`): `text` is
    /// HTML-escaped before searching, so `assert_see("Tom & Jerry")` finds `Tom &amp; Jerry`.
    #[track_caller]
    pub fn assert_see(&self, text: &str) -> &Self {
        let escaped = foundry::http::render::escape(text);
        if !self.text().contains(&escaped) {
            self.fail(&format!("expected to see {text:?} in the body"), None);
        }
        self
    }

    /// The body does not contain `text` (HTML-escaped, as in [`Self::assert_see`]).
    #[track_caller]
    pub fn assert_dont_see(&self, text: &str) -> &Self {
        let escaped = foundry::http::render::escape(text);
        if self.text().contains(&escaped) {
            self.fail(&format!("expected not to see {text:?} in the body"), None);
        }
        self
    }

    /// The body contains `text` unescaped, as it is (for markup: `assert_see_html("<h1>Posts</h1>")`).
    #[track_caller]
    pub fn assert_see_html(&self, html: &str) -> &Self {
        if !self.text().contains(html) {
            self.fail(&format!("expected to see {html:?} in the body"), None);
        }
        self
    }

    /// The body's text, with tags removed and entities decoded, contains `text`
    /// (Laravel's `assertSeeText`).
    #[track_caller]
    pub fn assert_see_text(&self, text: &str) -> &Self {
        if !html_text(&self.text()).contains(text) {
            self.fail(&format!("expected to see the text {text:?}"), None);
        }
        self
    }

    /// Each of `texts` appears (HTML-escaped), in this order.
    #[track_caller]
    pub fn assert_see_in_order<I, S>(&self, texts: I) -> &Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let body = self.text();
        let mut from = 0;
        for text in texts {
            let escaped = foundry::http::render::escape(text.as_ref());
            match body[from..].find(&escaped) {
                Some(at) => from += at + escaped.len(),
                None => self.fail(
                    &format!(
                        "expected to see {:?} after the previous texts",
                        text.as_ref()
                    ),
                    None,
                ),
            }
        }
        self
    }

    // ---- failure ----

    #[track_caller]
    fn fail_json(&self, what: &str, problems: &[String], expected: &Value, actual: &Value) -> ! {
        let mut extra = format!("differences:\n  {}\n", problems.join("\n  "));
        let _ = write!(
            extra,
            "diff (- expected, + actual):\n{}",
            json::line_diff(&json::pretty(expected), &json::pretty(actual))
        );
        self.fail(what, Some(&extra))
    }

    /// Panic with `what`, the request, the status, the body and `extra` (a diff).
    #[track_caller]
    fn fail(&self, what: &str, extra: Option<&str>) -> ! {
        panic!("{}", self.failure_message(what, extra))
    }

    fn failure_message(&self, what: &str, extra: Option<&str>) -> String {
        let mut message = format!(
            "assertion failed: {what}\n\nrequest:  {} {}\nstatus:   {}\n",
            self.method, self.path, self.status
        );
        if let Some(kind) = self.header("content-type") {
            let _ = writeln!(message, "content:  {kind}");
        }
        let body = if self.body.is_empty() {
            "(empty)".to_owned()
        } else {
            match serde_json::from_slice::<Value>(&self.body) {
                Ok(value) => json::pretty(&value),
                Err(_) => self.text(),
            }
        };
        let _ = writeln!(
            message,
            "body:\n{}",
            indent(&json::cut(body.trim(), BODY_LIMIT))
        );
        if let Some(extra) = extra {
            let _ = write!(message, "\n{extra}");
        }
        message
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|line| format!("    {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `https://host:port/path` → `/path`.
fn strip_origin(url: &str) -> &str {
    match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |at| &rest[at..]),
        None => url,
    }
}

/// The text of an HTML document: tags removed, the common entities decoded, whitespace
/// collapsed.
fn html_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let decoded = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_stripped_from_locations() {
        assert_eq!(strip_origin("http://127.0.0.1:8000/posts/1"), "/posts/1");
        assert_eq!(strip_origin("https://example.com"), "/");
        assert_eq!(strip_origin("/posts"), "/posts");
    }

    #[test]
    fn html_text_drops_tags_and_decodes_entities() {
        assert_eq!(
            html_text("<h1>Tom &amp; Jerry</h1>\n<p>a  &lt;b&gt;</p>"),
            "Tom & Jerry a <b>"
        );
    }
}
