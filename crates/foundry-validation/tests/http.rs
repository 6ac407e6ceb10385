//! The `Validated<T>` extractor through a real axum router: JSON, forms, query strings,
//! 422/400/403/415 responses, the HTML responder hook and database rules.
#![cfg(feature = "derive")]

use std::sync::Arc;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use foundry_validation::{
    FormRequest, InMemoryPresenceVerifier, RequestContext, RuleSpec, Validate, Validated,
    ValidationErrors, ValidationResponder, ValidationSettings,
};
use http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower::ServiceExt;

#[derive(Debug, Deserialize, Serialize, Validate)]
#[validate(field = "items.*.sku", rules = "required|string")]
#[validate(field = "items.*.qty", rules = "required|integer|min:1")]
struct Order {
    #[validate("required|email|max:255")]
    email: String,
    #[validate("required|array|min:1")]
    items: Vec<Item>,
    #[validate("nullable|boolean")]
    gift: Option<bool>,
}

#[derive(Debug, Deserialize, Serialize)]
struct Item {
    sku: String,
    qty: u32,
}

#[derive(Debug, Deserialize, Serialize)]
struct Post {
    title: String,
    age: u8,
}

impl FormRequest for Post {
    fn rules() -> Vec<(String, RuleSpec)> {
        vec![
            ("title".into(), "required|string|max:10".into()),
            ("age".into(), "required".into()),
        ]
    }
    fn messages() -> Vec<(String, String)> {
        vec![("title.max".into(), "Keep the :attribute short.".into())]
    }
    fn attributes() -> Vec<(String, String)> {
        vec![("title".into(), "headline".into())]
    }
    fn authorize(req: &RequestContext<'_>) -> bool {
        !req.headers.contains_key("x-banned")
    }
    fn prepare_for_validation(data: &mut Value) {
        if let Some(Value::String(t)) = data.get_mut("title") {
            *t = t.trim().to_owned();
        }
    }
}

#[derive(Debug, Deserialize, Serialize, Validate)]
struct Signup {
    #[validate("required|email|unique:users,email")]
    email: String,
}

#[derive(Debug, Deserialize, Serialize, Validate)]
struct Search {
    #[validate("required|string|min:2")]
    q: String,
    #[validate("nullable|integer|between:1,100")]
    per_page: Option<u32>,
}

struct RedirectBack;

impl ValidationResponder for RedirectBack {
    fn respond(
        &self,
        headers: &HeaderMap,
        errors: &ValidationErrors,
        old_input: &Value,
    ) -> Response {
        let back = headers
            .get(header::REFERER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("/")
            .to_owned();
        let body = json!({"errors": errors, "old": old_input}).to_string();
        (StatusCode::FOUND, [(header::LOCATION, back)], body).into_response()
    }
}

fn app(settings: ValidationSettings) -> Router {
    Router::new()
        .route(
            "/orders",
            post(|Validated(o): Validated<Order>| async move { Json(o) }),
        )
        .route(
            "/posts",
            post(|Validated(p): Validated<Post>| async move { Json(p) }),
        )
        .route(
            "/signup",
            post(|Validated(s): Validated<Signup>| async move { Json(s) }),
        )
        .route(
            "/search",
            get(|Validated(s): Validated<Search>| async move { Json(s) }),
        )
        .layer(Extension(settings))
}

async fn send(router: Router, req: Request<Body>) -> (StatusCode, HeaderMap, Value) {
    let res = router.oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, headers, body)
}

fn json_req(uri: &str, body: &str) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

fn form_req(uri: &str, body: &str) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

#[tokio::test]
async fn valid_json_reaches_the_handler() {
    let body =
        r#"{"email": "ada@example.com", "items": [{"sku": "A1", "qty": 2}], "extra": "dropped"}"#;
    let (status, _, json) = send(
        app(ValidationSettings::default()),
        json_req("/orders", body),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        json,
        json!({"email": "ada@example.com", "items": [{"sku": "A1", "qty": 2}], "gift": null})
    );
}

#[tokio::test]
async fn invalid_json_gets_laravel_422_shape() {
    let body = r#"{"email": "nope", "items": [{"sku": "A1", "qty": 0}, {"qty": 1}]}"#;
    let (status, headers, json) = send(
        app(ValidationSettings::default()),
        json_req("/orders", body),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(
        json,
        json!({
            "message": "The email field must be a valid email address. (and 2 more errors)",
            "errors": {
                "email": ["The email field must be a valid email address."],
                "items.1.sku": ["The items.1.sku field is required."],
                "items.0.qty": ["The items.0.qty field must be at least 1."],
            }
        })
    );
}

#[tokio::test]
async fn single_error_has_no_suffix_and_custom_texts_apply() {
    let (status, _, json) = send(
        app(ValidationSettings::default()),
        json_req(
            "/posts",
            r#"{"title": "  far too long a title  ", "age": 3}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        json,
        json!({"message": "Keep the headline short.", "errors": {"title": ["Keep the headline short."]}})
    );
    // prepare_for_validation trimmed the title before the max check.
    let (status, _, json) = send(
        app(ValidationSettings::default()),
        json_req("/posts", r#"{"title": "  short  ", "age": 3}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["title"], "short");
}

#[tokio::test]
async fn unauthorized_form_request_is_403() {
    let mut req = json_req("/posts", r#"{"title": "x", "age": 1}"#);
    req.headers_mut().insert("x-banned", "1".parse().unwrap());
    let (status, _, json) = send(app(ValidationSettings::default()), req).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(json, json!({"message": "This action is unauthorized."}));
}

#[tokio::test]
async fn malformed_json_is_400_and_non_object_too() {
    let (status, _, json) = send(
        app(ValidationSettings::default()),
        json_req("/posts", r#"{"title": "#),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .starts_with("The request body is not valid JSON"),
        "{json}"
    );
    let (status, _, json) = send(
        app(ValidationSettings::default()),
        json_req("/posts", "[1, 2]"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json["message"], "The JSON body must be an object.");
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let req = Request::post("/posts")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("title=x"))
        .unwrap();
    let (status, _, json) = send(app(ValidationSettings::default()), req).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(json["message"].as_str().unwrap().contains("text/plain"));
    #[cfg(not(feature = "multipart"))]
    {
        let req = Request::post("/posts")
            .header(header::CONTENT_TYPE, "multipart/form-data; boundary=x")
            .body(Body::empty())
            .unwrap();
        let (status, _, _) = send(app(ValidationSettings::default()), req).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
}

#[tokio::test]
async fn input_that_does_not_deserialize_is_422_naming_the_field() {
    // `age` passes its rules (required) but is not a u8.
    let (status, _, json) = send(
        app(ValidationSettings::default()),
        json_req("/posts", r#"{"title": "x", "age": 300}"#),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let message = json["message"].as_str().unwrap();
    assert!(
        message.starts_with("The age field could not be read:"),
        "{message}"
    );
    assert!(json["errors"]["age"].is_array());
}

#[tokio::test]
async fn empty_json_body_validates_as_empty_input() {
    let (status, _, json) = send(app(ValidationSettings::default()), json_req("/posts", "")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        json["errors"]["title"][0],
        "The headline field is required."
    );
}

#[tokio::test]
async fn form_bodies_are_nested_and_typed() {
    let body = "email=ada%40example.com&items%5B0%5D%5Bsku%5D=A1&items%5B0%5D%5Bqty%5D=3&gift=1";
    let (status, _, json) = send(
        app(ValidationSettings::default()),
        form_req("/orders", body),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(
        json,
        json!({"email": "ada@example.com", "items": [{"sku": "A1", "qty": 3}], "gift": true})
    );
    // Empty strings become null, so `nullable` fields pass.
    let body = "email=ada%40example.com&items[0][sku]=A1&items[0][qty]=3&gift=";
    let (status, _, json) = send(
        app(ValidationSettings::default()),
        form_req("/orders", body),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["gift"], Value::Null);
}

#[tokio::test]
async fn query_strings_on_get() {
    let req = Request::get("/search?q=rust&per_page=20")
        .body(Body::empty())
        .unwrap();
    let (status, _, json) = send(app(ValidationSettings::default()), req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json, json!({"q": "rust", "per_page": 20}));
    let req = Request::get("/search?q=r&per_page=500")
        .header(header::ACCEPT, "application/json")
        .body(Body::empty())
        .unwrap();
    let (status, _, json) = send(app(ValidationSettings::default()), req).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        json["errors"]["per_page"][0],
        "The per page field must be between 1 and 100."
    );
}

#[tokio::test]
async fn html_forms_use_the_responder_hook_json_clients_do_not() {
    let settings = ValidationSettings {
        responder: Some(Arc::new(RedirectBack)),
        ..ValidationSettings::default()
    };
    let mut req = form_req(
        "/posts",
        "title=this+title+is+too+long&age=2&password=secret",
    );
    req.headers_mut()
        .insert(header::REFERER, "/posts/create".parse().unwrap());
    let (status, headers, json) = send(app(settings.clone()), req).await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(headers[header::LOCATION], "/posts/create");
    assert_eq!(json["errors"]["title"][0], "Keep the headline short.");
    assert_eq!(json["old"]["title"], "this title is too long");
    assert!(
        json["old"].get("password").is_none(),
        "passwords are never flashed back"
    );
    // The same failure for a JSON client stays a 422.
    let mut req = form_req("/posts", "title=this+title+is+too+long&age=2");
    req.headers_mut()
        .insert(header::ACCEPT, "application/json".parse().unwrap());
    let (status, _, _) = send(app(settings), req).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn database_rules_use_the_configured_verifier() {
    let db = InMemoryPresenceVerifier::new();
    db.insert("users", json!({"id": 1, "email": "taken@example.com"}));
    let settings = ValidationSettings {
        presence_verifier: Some(Arc::new(db)),
        ..ValidationSettings::default()
    };
    let (status, _, json) = send(
        app(settings.clone()),
        json_req("/signup", r#"{"email": "taken@example.com"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        json["errors"]["email"][0],
        "The email has already been taken."
    );
    let (status, _, _) = send(
        app(settings),
        json_req("/signup", r#"{"email": "free@example.com"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Without a verifier: a server-side configuration error, not the client's fault.
    let (status, _, json) = send(
        app(ValidationSettings::default()),
        json_req("/signup", r#"{"email": "x@example.com"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(json["message"], "Server Error");
}

#[tokio::test]
async fn german_messages_through_settings() {
    let settings = ValidationSettings {
        locale: Some("de".into()),
        ..ValidationSettings::default()
    };
    let (status, _, json) = send(
        app(settings),
        json_req("/orders", r#"{"items": [{"sku": "a", "qty": 1}]}"#),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json["message"], "Das Feld email ist erforderlich.");
}

#[cfg(feature = "multipart")]
mod multipart {
    use super::*;

    #[derive(Debug, Deserialize, Serialize, Validate)]
    struct Upload {
        #[validate("required|string|max:20")]
        caption: String,
        #[validate("required|image|max:1")]
        #[serde(skip)]
        #[allow(dead_code)] // the file itself comes in `ValidatedForm::files`
        photo: (),
    }

    fn body(caption: &str, file_name: &str, content: &[u8]) -> (String, Vec<u8>) {
        let boundary = "XBOUNDARYX";
        let mut out = Vec::new();
        out.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\n{caption}\r\n").as_bytes());
        out.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"{file_name}\"\r\nContent-Type: image/png\r\n\r\n")
                .as_bytes(),
        );
        out.extend_from_slice(content);
        out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        (format!("multipart/form-data; boundary={boundary}"), out)
    }

    async fn upload(caption: &str, file_name: &str, content: &[u8]) -> (StatusCode, Value) {
        let router = Router::new().route(
            "/upload",
            post(|f: foundry_validation::ValidatedForm<Upload>| async move {
                Json(json!({"caption": f.data.caption, "size": f.files["photo"].size()}))
            }),
        );
        let (ct, bytes) = body(caption, file_name, content);
        let req = Request::post("/upload")
            .header(header::CONTENT_TYPE, ct)
            .header(header::ACCEPT, "application/json")
            .body(Body::from(bytes))
            .unwrap();
        let (status, _, json) = send(router, req).await;
        (status, json)
    }

    #[tokio::test]
    async fn uploads_are_validated_as_files() {
        let png = b"\x89PNG\r\n\x1a\n0000";
        let (status, json) = upload("hello", "me.png", png).await;
        assert_eq!(status, StatusCode::OK, "{json}");
        assert_eq!(json["caption"], "hello");
        assert_eq!(json["size"], 12);
        let (status, json) = upload("hello", "me.png", b"not an image").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            json["errors"]["photo"][0],
            "The photo field must be an image."
        );
        let mut big = png.to_vec();
        big.resize(4096, 0);
        let (status, json) = upload("hello", "me.png", &big).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            json["errors"]["photo"][0],
            "The photo field must not be greater than 1 kilobytes."
        );
    }
}

#[derive(Debug, Deserialize, Serialize)]
struct Transfer {
    from: String,
    to: String,
    amount: i64,
}

impl FormRequest for Transfer {
    fn rules() -> Vec<(String, RuleSpec)> {
        vec![
            ("from".into(), "required|string".into()),
            ("to".into(), "required|string".into()),
            ("amount".into(), "required|integer".into()),
        ]
    }
    fn after(data: &Value, errors: &mut ValidationErrors) {
        if data["from"].is_string() && data["from"] == data["to"] {
            errors.add("to", "You cannot transfer to the same account.");
        }
    }
    fn passed_validation(validated: &mut Value) {
        // Store cents.
        if let Some(n) = validated["amount"].as_i64() {
            validated["amount"] = json!(n * 100);
        }
    }
    const STOP_ON_FIRST_FAILURE: bool = true;
}

#[derive(Debug, Deserialize)]
struct Broken {}

impl FormRequest for Broken {
    fn rules() -> Vec<(String, RuleSpec)> {
        vec![("name".into(), "required|max:lots".into())]
    }
}

#[tokio::test]
async fn after_passed_validation_and_stop_on_first_failure_hooks() {
    let router = || {
        Router::new().route(
            "/transfer",
            post(|Validated(t): Validated<Transfer>| async move { Json(t) }),
        )
    };
    let (status, _, json) = send(
        router(),
        json_req("/transfer", r#"{"from": "a", "to": "a", "amount": 5}"#),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        json["errors"]["to"][0],
        "You cannot transfer to the same account."
    );
    let (status, _, json) = send(
        router(),
        json_req("/transfer", r#"{"from": "a", "to": "b", "amount": 5}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["amount"], 500);
    let (status, _, json) = send(router(), json_req("/transfer", r#"{}"#)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json["errors"].as_object().unwrap().len(), 1, "{json}");
    assert_eq!(json["message"], "The from field is required.");
}

/// A form whose `slug` rule waits before answering, as a rule asking another service would.
#[derive(Debug, Deserialize, Serialize)]
struct Claim {
    slug: String,
    title: String,
}

impl FormRequest for Claim {
    fn rules() -> Vec<(String, RuleSpec)> {
        let free = foundry_validation::Rule::custom_async(|value, _data| async move {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            if value == "taken" {
                Err("The :attribute is taken.".to_owned())
            } else {
                Ok(())
            }
        });
        vec![
            ("slug".into(), RuleSpec::Rules(vec![free])),
            ("title".into(), "required|string|max:10".into()),
        ]
    }
}

#[tokio::test]
async fn a_rule_that_waits_is_awaited_before_the_handler_runs() {
    let router = || {
        Router::new().route(
            "/claims",
            post(|Validated(c): Validated<Claim>| async move { Json(c) }),
        )
    };
    let (status, _, json) = send(
        router(),
        json_req("/claims", r#"{"slug": "free", "title": "Mine"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json, json!({"slug": "free", "title": "Mine"}));
    let (status, _, json) = send(
        router(),
        form_req("/claims", "slug=taken&title=far+too+long+a+title"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json["errors"]["slug"][0], "The slug is taken.");
    assert_eq!(
        json["errors"]["title"][0],
        "The title field must not be greater than 10 characters."
    );
}

#[test]
fn the_extractor_future_stays_small() {
    // axum boxes it inside every request's handler future: kept well under the 1,032 bytes
    // glibc's thread cache serves (an `async fn` holding the request, the body read and the
    // rules' run side by side was 3.6 KB).
    use axum::extract::FromRequest;
    let future = <Validated<Post> as FromRequest<()>>::from_request(json_req("/posts", "{}"), &());
    let size = std::mem::size_of_val(&future);
    assert!(size <= 768, "the extractor's future is {size} bytes");
}

#[tokio::test]
async fn a_malformed_rule_is_a_server_error_not_a_422() {
    let router = Router::new().route(
        "/broken",
        post(|Validated(_): Validated<Broken>| async { "unreachable" }),
    );
    let (status, _, json) = send(router, json_req("/broken", r#"{"name": "x"}"#)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(json, json!({"message": "Server Error"}));
}

#[tokio::test]
async fn bodies_over_the_limit_are_413() {
    let router = app(ValidationSettings::default()).layer(axum::extract::DefaultBodyLimit::max(16));
    let (status, _, json) = send(
        router,
        json_req(
            "/posts",
            r#"{"title": "a title that is longer than sixteen bytes", "age": 1}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        json,
        json!({"message": "Failed to buffer the request body: length limit exceeded"})
    );
}

/// Rules read from a setting that changes at run time: built on every request.
static MAX_TITLE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(5);

#[derive(Debug, Deserialize, Serialize)]
struct Dynamic {
    title: String,
}

impl FormRequest for Dynamic {
    fn rules() -> Vec<(String, RuleSpec)> {
        let max = MAX_TITLE.load(std::sync::atomic::Ordering::SeqCst);
        vec![("title".into(), format!("required|max:{max}").into())]
    }
}

/// Counts how often its rules are built.
static STATIC_BUILDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[derive(Debug, Deserialize, Serialize)]
struct Cached {
    title: String,
}

impl FormRequest for Cached {
    fn rules() -> Vec<(String, RuleSpec)> {
        STATIC_BUILDS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        vec![("title".into(), "required|max:5".into())]
    }
    fn messages() -> Vec<(String, String)> {
        vec![("title.max".into(), "At most :max for :attribute.".into())]
    }
    fn attributes() -> Vec<(String, String)> {
        vec![("title".into(), "heading".into())]
    }
    const CACHE_RULES: bool = true;
}

#[tokio::test]
async fn rules_are_built_per_request_unless_cached() {
    let router = Router::new()
        .route(
            "/dynamic",
            post(|Validated(d): Validated<Dynamic>| async move { Json(d) }),
        )
        .route(
            "/cached",
            post(|Validated(c): Validated<Cached>| async move { Json(c) }),
        );
    let body = r#"{"title": "abcdefgh"}"#;
    let (status, _, _) = send(router.clone(), json_req("/dynamic", body)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    MAX_TITLE.store(10, std::sync::atomic::Ordering::SeqCst);
    let (status, _, json) = send(router.clone(), json_req("/dynamic", body)).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json, json!({"title": "abcdefgh"}));

    for _ in 0..3 {
        let (status, _, json) = send(router.clone(), json_req("/cached", body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(json["errors"]["title"][0], "At most 5 for heading.");
        let (status, _, json) =
            send(router.clone(), json_req("/cached", r#"{"title":"ok"}"#)).await;
        assert_eq!((status, json), (StatusCode::OK, json!({"title": "ok"})));
    }
    assert_eq!(
        STATIC_BUILDS.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "cached rules are built once"
    );
}

#[tokio::test]
async fn query_string_values_are_read_under_the_json_body() {
    // `age` only in the query string (a string there: `u8` cannot read it); `title` in both,
    // the body's wins.
    let req = json_req("/posts?title=FromQuery&age=3", r#"{"title": "Hi"}"#);
    let (status, _, json) = send(app(ValidationSettings::default()), req).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(json["errors"].get("title").is_none(), "{json}");
    assert!(json["errors"]["age"][0].as_str().is_some(), "{json}");
    let req = json_req("/posts?title=FromQuery", r#"{"title": "Hi", "age": 3}"#);
    let (status, _, json) = send(app(ValidationSettings::default()), req).await;
    assert_eq!(
        (status, json),
        (StatusCode::OK, json!({"title": "Hi", "age": 3}))
    );
    let req = json_req("/posts?title=Far+too+long+a+title", r#"{"age": 3}"#);
    let (status, _, json) = send(app(ValidationSettings::default()), req).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{json}");
    assert!(json["errors"]["title"][0].as_str().is_some(), "{json}");
}

#[tokio::test]
async fn content_types_match_without_regard_to_case() {
    let req = Request::post("/posts")
        .header(header::CONTENT_TYPE, "Application/JSON; charset=UTF-8")
        .body(Body::from(r#"{"title": "Hi", "age": 3}"#))
        .unwrap();
    let (status, _, json) = send(app(ValidationSettings::default()), req).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let req = Request::post("/posts")
        .header(
            header::CONTENT_TYPE,
            "\tapplication/Problem+JSON ;charset=utf-8",
        )
        .body(Body::from(r#"{"title": "Hi", "age": 3}"#))
        .unwrap();
    let (status, _, _) = send(app(ValidationSettings::default()), req).await;
    assert_eq!(status, StatusCode::OK);
    let req = Request::post("/posts")
        .header(header::CONTENT_TYPE, "Application/X-WWW-Form-Urlencoded")
        .body(Body::from("title=Hi&age=3"))
        .unwrap();
    let (status, _, json) = send(app(ValidationSettings::default()), req).await;
    // Read as a form: the strings arrive (and `age`, without a numeric rule, stays one).
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        json["errors"]["age"][0]
            .as_str()
            .unwrap()
            .contains("invalid type: string \"3\""),
        "{json}"
    );
    let req = Request::post("/posts")
        .header(header::CONTENT_TYPE, "TEXT/Plain")
        .body(Body::from("title=x"))
        .unwrap();
    let (status, _, json) = send(app(ValidationSettings::default()), req).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .starts_with("Unsupported content type `text/plain`"),
        "{json}"
    );
}

#[tokio::test]
async fn only_fields_with_rules_reach_the_validated_data() {
    #[derive(Debug, Deserialize, Serialize, Validate)]
    struct Profile {
        #[validate("required|string")]
        name: String,
        #[validate("exclude_if:name,Ada|nullable|string")]
        nick: Option<String>,
        // Listed without rules: kept.
        role: Option<String>,
    }
    let router = Router::new().route(
        "/profile",
        post(|Validated(p): Validated<Profile>| async move { Json(p) }),
    );
    let body = r#"{"name": "Bob", "nick": "b", "role": "admin", "extra": 1}"#;
    let (status, _, json) = send(router.clone(), json_req("/profile", body)).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json, json!({"name": "Bob", "nick": "b", "role": "admin"}));
    let body = r#"{"name": "Ada", "nick": "a"}"#;
    let (_, _, json) = send(router, json_req("/profile", body)).await;
    assert_eq!(json, json!({"name": "Ada", "nick": null, "role": null}));

    // The validated data itself: keys without rules and excluded keys are dropped.
    let data = json!({"name": "Ada", "nick": "a", "tags": ["x"], "extra": {"deep": 1}});
    let validated = foundry_validation::Validator::new(
        data,
        [
            ("name", "required"),
            ("nick", "exclude_if:name,Ada"),
            ("tags", "array"),
            ("missing", "nullable"),
        ],
    )
    .unwrap()
    .validate()
    .unwrap();
    assert_eq!(validated, json!({"name": "Ada", "tags": ["x"]}));
    // An array whose items have their own rules keeps only the validated item keys.
    let data = json!({"items": [{"sku": "a", "junk": 1}]});
    let validated =
        foundry_validation::Validator::new(data, [("items", "array"), ("items.*.sku", "required")])
            .unwrap()
            .validate()
            .unwrap();
    assert_eq!(validated, json!({"items": [{"sku": "a"}]}));
}

/// The signup route under an app's context, whose services may hold the app's settings.
fn app_with_context(app_settings: Option<ValidationSettings>) -> Router {
    use foundry_core::config::ConfigLoader;
    use foundry_core::{AppContext, ServicesBuilder};
    // A root without a `foundry.toml`: the defaults.
    let config = ConfigLoader::new("/nonexistent/rustforge-validation-test")
        .vars(Vec::<(String, String)>::new())
        .load()
        .unwrap();
    let mut services = ServicesBuilder::new();
    if let Some(settings) = app_settings {
        services.singleton(settings);
    }
    Router::new()
        .route(
            "/signup",
            post(|Validated(s): Validated<Signup>| async move { Json(s) }),
        )
        .with_state(AppContext::new(config, services.build()))
}

#[tokio::test]
async fn the_apps_settings_come_from_its_services_and_a_request_extension_wins() {
    let taken = InMemoryPresenceVerifier::new();
    taken.insert("users", json!({"id": 1, "email": "taken@example.com"}));
    let app_settings = ValidationSettings {
        presence_verifier: Some(Arc::new(taken)),
        ..ValidationSettings::default()
    };
    let signup = || json_req("/signup", r#"{"email": "taken@example.com"}"#);
    // The verifier bound in the app's services counts the row.
    let (status, _, json) = send(app_with_context(Some(app_settings.clone())), signup()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        json["errors"]["email"][0],
        "The email has already been taken."
    );
    // Settings on the request replace the app's: here an empty table and German messages.
    let own = ValidationSettings {
        presence_verifier: Some(Arc::new(InMemoryPresenceVerifier::new())),
        locale: Some("de".into()),
        ..ValidationSettings::default()
    };
    let router = app_with_context(Some(app_settings)).layer(Extension(own));
    let (status, _, _) = send(router.clone(), signup()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, json) = send(router, json_req("/signup", "{}")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        json["errors"]["email"][0],
        "Das Feld email ist erforderlich."
    );
    // An app without settings has no verifier: a server error, not the client's.
    let (status, _, _) = send(app_with_context(None), signup()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
}
