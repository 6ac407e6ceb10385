//! Views and error pages through the real kernel: templates from the app's directory, template
//! errors in local and production, the default error pages and their overrides, and extractor
//! rejections rendered as errors.

use axum::body::Body;
use foundry::config::ConfigLoader;
use foundry::prelude::*;
use foundry::{ErrorKind, Kernel};
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::json;
use tower::ServiceExt;

struct ViewsApp;

#[derive(Debug, Deserialize)]
struct Input {
    #[allow(dead_code)]
    title: String,
    #[allow(dead_code)]
    views: u32,
}

async fn page(
    views: Views,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Result<View> {
    views
        .render(
            "page",
            json!({ "q": q.get("q").cloned().unwrap_or_default() }),
        )
        .await
}

impl App for ViewsApp {
    fn routes(routes: Routes) -> Routes {
        routes
            .get("/page", page)
            .name("page")
            .get("/broken", |views: Views| async move {
                views.render("broken", json!({})).await
            })
            .get("/missing", |views: Views| async move {
                views.render("nowhere/to/be/found", json!({})).await
            })
            .get("/status/{code}", |Path(code): Path<u16>| async move {
                let kind = match code {
                    403 => ErrorKind::Forbidden,
                    404 => ErrorKind::NotFound,
                    419 => ErrorKind::CsrfMismatch,
                    429 => ErrorKind::TooManyRequests,
                    503 => ErrorKind::Unavailable,
                    _ => ErrorKind::Internal,
                };
                Err::<(), _>(Error::from_kind(kind))
            })
            .get("/invalid", || async {
                Err::<(), _>(Error::validation(
                    "The title field is required.",
                    vec![("title".into(), vec!["The title field is required.".into()])],
                ))
            })
            .post("/json", |Json(_): Json<Input>| async { "ok" })
            .post("/form", |Form(_): Form<Input>| async { "ok" })
            .get("/posts/{post}", |Path(id): Path<i64>| async move {
                id.to_string()
            })
    }
}

const PAGE: &str = "{% extends 'layout' %}{% block body %}<p>{{ q }}</p>\
                    <a href=\"{{ route('page', q='a b') }}\">again</a>{% endblock %}";
const LAYOUT: &str =
    "<html><title>{{ config('app.name') }}</title>{% block body %}{% endblock %}</html>";
const BROKEN: &str = "<p>fine</p>\n<p>{{ post.title | nosuchfilter }}</p>\n";

fn app_root(extra: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let views = dir.path().join("resources/views");
    std::fs::create_dir_all(views.join("errors")).unwrap();
    for (name, source) in [
        ("page.html", PAGE),
        ("layout.html", LAYOUT),
        ("broken.html", BROKEN),
    ]
    .iter()
    .chain(extra)
    {
        std::fs::write(views.join(name), source).unwrap();
    }
    dir
}

async fn boot(root: &std::path::Path, env: &str) -> Kernel {
    let config = ConfigLoader::new(root)
        .dotenv(false)
        .vars([("FOUNDRY_ENV", env), ("FOUNDRY_APP__NAME", "Views <App>")])
        .load()
        .unwrap();
    Kernel::boot::<ViewsApp>(config).await.unwrap()
}

async fn send(kernel: &Kernel, request: Request<Body>) -> (StatusCode, http::HeaderMap, String) {
    let response = kernel.service().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

fn browser(path: &str) -> Request<Body> {
    Request::get(path)
        .header(header::ACCEPT, "text/html")
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn handlers_render_templates_with_layouts_helpers_and_escaping() {
    for env in ["local", "production"] {
        let root = app_root(&[]);
        let kernel = boot(root.path(), env).await;
        let (status, headers, body) =
            send(&kernel, browser("/page?q=%3Cscript%3Ex%3C%2Fscript%3E")).await;
        assert_eq!(status, StatusCode::OK, "{env}: {body}");
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(
            body,
            "<html><title>Views &lt;App&gt;</title><p>&lt;script&gt;x&lt;/script&gt;</p>\
             <a href=\"/page?q=a+b\">again</a></html>",
            "{env}"
        );
    }
}

#[tokio::test]
async fn template_errors_in_local_show_the_template_and_line() {
    let root = app_root(&[]);
    let local = boot(root.path(), "local").await;
    let (status, _, body) = send(&local, browser("/broken")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        body.contains("template `broken.html` line 2: undefined value"),
        "debug pages name the template and line: {body}"
    );
    let (status, _, body) = send(&local, browser("/missing")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        body.contains("view `nowhere/to/be/found.html` not found in"),
        "{body}"
    );

    let production = boot(root.path(), "production").await;
    let (status, _, body) = send(&production, browser("/broken")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        !body.contains("broken.html"),
        "nothing internal leaks: {body}"
    );
    assert!(body.contains("Server Error"), "{body}");
}

#[tokio::test]
async fn default_error_pages_show_status_title_message_and_request_id() {
    let root = app_root(&[]);
    let kernel = boot(root.path(), "production").await;
    for (code, title) in [
        (403, "Forbidden"),
        (404, "Not Found"),
        (419, "Page Expired"),
        (429, "Too Many Requests"),
        (500, "Server Error"),
        (503, "Service Unavailable"),
    ] {
        let (status, headers, body) = send(&kernel, browser(&format!("/status/{code}"))).await;
        assert_eq!(status.as_u16(), code);
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert!(
            body.contains(&format!("<title>{code} | {title}</title>"))
                && body.contains(&format!("<p class=\"status\">{code}</p><h1>{title}</h1>")),
            "{code}: {body}"
        );
        let id = headers["x-request-id"].to_str().unwrap();
        assert!(body.contains(id), "{code} shows the request id: {body}");
        assert!(body.contains("Views &lt;App&gt;"), "{body}");
    }
    let (status, _, body) = send(&kernel, browser("/invalid")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body.contains("<h1>Unprocessable Content</h1>")
            && body.contains("<li>The title field is required.</li>"),
        "{body}"
    );
}

#[tokio::test]
async fn error_templates_override_the_default_pages() {
    let root = app_root(&[(
        "errors/403.html",
        "{% extends 'layout' %}{% block body %}<h1>{{ status }}: {{ title }}</h1>\
         <p>{{ message }}</p><small>{{ request_id }}</small>{% endblock %}",
    )]);
    let kernel = boot(root.path(), "production").await;
    let (status, headers, body) = send(&kernel, browser("/status/403")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let id = headers["x-request-id"].to_str().unwrap();
    assert_eq!(
        body,
        format!(
            "<html><title>Views &lt;App&gt;</title><h1>403: Forbidden</h1>\
             <p>This action is unauthorized.</p><small>{id}</small></html>"
        )
    );
    // JSON clients still get JSON.
    let request = Request::get("/status/403")
        .header(header::ACCEPT, "application/json")
        .body(Body::empty())
        .unwrap();
    let (_, _, body) = send(&kernel, request).await;
    assert_eq!(body, r#"{"message":"This action is unauthorized."}"#);
    // Other statuses keep the default page.
    let (_, _, body) = send(&kernel, browser("/status/404")).await;
    assert!(body.contains("<p class=\"status\">404</p>"), "{body}");
}

#[tokio::test]
async fn extractor_rejections_get_their_statuses_as_rendered_errors() {
    let root = app_root(&[]);
    let kernel = boot(root.path(), "production").await;
    let post = |path: &str, content_type: &str, body: &'static str| {
        Request::post(path)
            .header(header::CONTENT_TYPE, content_type)
            .header(header::ACCEPT, "application/json")
            .body(Body::from(body))
            .unwrap()
    };
    let cases = [
        (
            post("/json", "application/json", "{oops"),
            StatusCode::BAD_REQUEST,
            "Failed to parse the request body as JSON",
        ),
        (
            post(
                "/json",
                "application/json",
                r#"{"title":"a","views":"many"}"#,
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "views: invalid type",
        ),
        (
            post("/json", "application/json", r#"{"views":1}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing field `title`",
        ),
        (
            post("/json", "text/plain", "{}"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type: application/json",
        ),
        (
            post("/form", "application/json", "{}"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "application/x-www-form-urlencoded",
        ),
        (
            post(
                "/form",
                "application/x-www-form-urlencoded",
                "title=a&views=x",
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "views",
        ),
    ];
    for (request, expected, fragment) in cases {
        let (status, headers, body) = send(&kernel, request).await;
        assert_eq!(status, expected, "{body}");
        assert_eq!(headers[header::CONTENT_TYPE], "application/json", "{body}");
        let message = serde_json::from_str::<serde_json::Value>(&body).unwrap()["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(message.contains(fragment), "{expected}: {message}");
    }
    // A bad path parameter is a 404 page, not a 500.
    let (status, _, body) = send(&kernel, browser("/posts/abc")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("<h1>Not Found</h1>"), "{body}");
}
