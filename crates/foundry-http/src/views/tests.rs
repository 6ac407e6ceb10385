use super::*;
use axum::response::IntoResponse;
use foundry_core::config::ConfigLoader;
use foundry_core::{ErrorKind, ErrorReport};
use http::header::CONTENT_TYPE;
use serde_json::json;

fn config(dir: &Path, vars: &[(&str, &str)]) -> Config {
    let mut all = vec![("FOUNDRY_APP__NAME", "Blog"), ("FOUNDRY_ENV", "testing")];
    all.extend_from_slice(vars);
    ConfigLoader::new(dir)
        .dotenv(false)
        .vars(all)
        .load()
        .unwrap()
}

fn urls() -> UrlGenerator {
    UrlGenerator::new("https://blog.test", None)
        .with_routes([("posts.show", "/posts/{post}"), ("home", "/")])
}

fn views(templates: &[(&str, &str)]) -> Views {
    let dir = tempfile::tempdir().unwrap();
    Views::from_templates(
        &config(dir.path(), &[("FOUNDRY_APP__DEBUG", "true")]),
        &urls(),
        templates.iter().copied(),
    )
    .unwrap()
}

const LAYOUT: &str = "<title>{% block title %}{% endblock %} | {{ config('app.name') }}</title>\n\
                      <main>{% block content %}{% endblock %}</main>";

#[tokio::test]
async fn layouts_and_autoescaping_for_html() {
    let views = views(&[
        ("layouts/app.html", LAYOUT),
        (
            "posts/show.html",
            "{% extends 'layouts.app' %}{% block title %}{{ title }}{% endblock %}\
             {% block content %}<h1>{{ title }}</h1>{% endblock %}",
        ),
        ("mail/plain.txt", "Hi {{ name }}"),
    ]);
    let view = views
        .render("posts.show", json!({"title": "<script>alert(1)</script>"}))
        .await
        .unwrap();
    let html = view.body();
    assert!(
        html.contains("<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1>"),
        "{html}"
    );
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("| Blog</title>"), "{html}");
    let response = view.into_response();
    assert_eq!(response.headers()[CONTENT_TYPE], "text/html; charset=utf-8");

    let text = views
        .render("mail/plain.txt", json!({"name": "<b>Ada</b>"}))
        .await
        .unwrap();
    assert_eq!(
        text.body(),
        "Hi <b>Ada</b>",
        "text templates are not escaped"
    );
    assert_eq!(
        text.into_response().headers()[CONTENT_TYPE],
        "text/plain; charset=utf-8"
    );
    assert_eq!(auto_escape_for("layouts.app"), AutoEscape::Html);
}

#[tokio::test]
async fn a_missing_template_is_a_500_naming_it() {
    let views = views(&[("a.html", "{% include 'partials/missing.html' %}")]);
    let err = views.render("posts/nope", json!({})).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Internal);
    let chain = err.chain().join(" | ");
    assert!(
        chain.contains("view `posts/nope.html` not found"),
        "{chain}"
    );
    assert_eq!(err.public_message(), "Server Error", "nothing leaks");

    let err = views.render("a", json!({})).await.unwrap_err();
    let chain = err.chain().join(" | ");
    assert!(
        chain.contains("template `a.html` line 1") && chain.contains("partials/missing.html"),
        "{chain}"
    );
}

#[tokio::test]
async fn syntax_and_render_errors_name_the_template_and_line() {
    let views = views(&[
        ("broken.html", "line one\nline two\n{% if %}\n"),
        (
            "layout.html",
            "<main>\n{% block body %}{% endblock %}</main>",
        ),
        (
            "child.html",
            "{% extends 'layout.html' %}\n{% block body %}\n\n{{ 1 + missing.field.deeper }}{% endblock %}",
        ),
    ]);
    let err = views.render_to_string("broken", json!({})).unwrap_err();
    assert!(
        matches!(&err, ViewError::Render { template, line: Some(3), .. } if template == "broken.html"),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("template `broken.html` line 3: syntax error"),
        "{err}"
    );

    let err = views.render_to_string("child", json!({})).unwrap_err();
    assert!(
        matches!(&err, ViewError::Render { template, line: Some(4), .. } if template == "child.html"),
        "{err:?}"
    );
    // Debug mode keeps minijinja's excerpt of the source as the cause.
    let source = std::error::Error::source(&err)
        .map(ToString::to_string)
        .unwrap();
    assert!(source.contains("missing.field"), "{source}");
}

#[tokio::test]
async fn helpers_route_url_asset_config_old_errors_csrf_and_translate() {
    let views = views(&[
        (
            "helpers.html",
            "{{ route('posts.show', post=5, page=2) }}|{{ url('/about') }}|{{ asset('css/app.css') }}|\
         {{ config('app.name') }}|{{ config('app.key') is none }}|{{ config('missing.key', 'dflt') }}|\
         {{ old('title', 'first') }}|{{ old('body') }}|[{{ csrf_field() }}]|\
         {{ __('Hello, :name! :NAME :Name', name='ada') }}|\
         {{ errors.any() }}/{{ errors.has('title') }}/{{ errors.first('title') }}",
        ),
        ("bad_route.html", "{{ route('posts.shwo') }}"),
    ]);
    let out = views
        .render_to_string("helpers", json!({"old_input": {"title": "kept"}}))
        .unwrap();
    assert_eq!(
        out,
        "/posts/5?page=2|https://blog.test/about|http://127.0.0.1:8000/css/app.css|Blog|True|dflt|\
         kept||[]|Hello, ada! ADA Ada|False/False/"
    );

    let err = views.render_to_string("bad_route", json!({})).unwrap_err();
    assert!(
        err.to_string().contains("did you mean [posts.show]"),
        "unknown route names fail the render: {err}"
    );

    let with_errors = views
        .render_to_string(
            "helpers",
            context! { errors => Value::from_object(ErrorBag::new(&[
                ("title".into(), vec!["The title field is required.".into()]),
            ])) },
        )
        .unwrap();
    assert!(
        with_errors.ends_with("True/True/The title field is required."),
        "{with_errors}"
    );
}

#[tokio::test]
async fn hot_reload_rereads_changed_templates() {
    let dir = tempfile::tempdir().unwrap();
    let views_dir = dir.path().join("resources/views");
    std::fs::create_dir_all(views_dir.join("posts")).unwrap();
    std::fs::write(views_dir.join("posts/index.html"), "one").unwrap();
    let config = config(dir.path(), &[("FOUNDRY_VIEWS__HOT_RELOAD", "true")]);
    let views = Views::for_app(&config, &urls(), &[("posts/index.html", "embedded")]).unwrap();
    assert!(views.hot_reload());
    assert_eq!(views.render("posts.index", ()).await.unwrap().body(), "one");
    // Same length, other content: the check must not rely on the size alone.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(views_dir.join("posts/index.html"), "two!").unwrap();
    assert_eq!(
        views.render("posts.index", ()).await.unwrap().body(),
        "two!"
    );
}

#[tokio::test]
async fn without_hot_reload_embedded_templates_win_and_the_directory_is_read_once() {
    let dir = tempfile::tempdir().unwrap();
    let views_dir = dir.path().join("resources/views");
    std::fs::create_dir_all(views_dir.join("posts")).unwrap();
    std::fs::write(views_dir.join("posts/index.html"), "from disk").unwrap();
    let config = config(dir.path(), &[]);

    let embedded = Views::for_app(&config, &urls(), &[("posts/index.html", "embedded")]).unwrap();
    assert!(!embedded.hot_reload());
    assert_eq!(
        embedded.render("posts/index", ()).await.unwrap().body(),
        "embedded"
    );

    let directory = Views::for_app(&config, &urls(), &[]).unwrap();
    assert_eq!(
        directory.render("posts/index", ()).await.unwrap().body(),
        "from disk"
    );
    std::fs::write(views_dir.join("posts/index.html"), "changed").unwrap();
    assert_eq!(
        directory.render("posts/index", ()).await.unwrap().body(),
        "from disk",
        "read at boot, not per request"
    );
}

#[test]
fn names_resolve_to_files() {
    assert_eq!(resolve_name("posts.index"), "posts/index.html");
    assert_eq!(resolve_name("posts/index"), "posts/index.html");
    assert_eq!(resolve_name("mail/welcome.txt"), "mail/welcome.txt");
    assert_eq!(resolve_name("errors/404.html"), "errors/404.html");
}

#[test]
fn error_pages_come_from_templates_when_there_is_one() {
    let views = views(&[
        (
            "errors/404.html",
            "<h1>{{ status }} {{ title }}</h1><p>{{ message }}</p><code>{{ request_id }}</code>",
        ),
        ("errors/500.html", "{{ broken("),
    ]);
    let renderer = crate::ErrorRenderer::new(false, "Blog").with_pages(Arc::new(views));
    let page = renderer.html_page(
        &ErrorReport::from_kind(ErrorKind::NotFound),
        404,
        Some("abc-1"),
    );
    assert_eq!(
        page,
        "<h1>404 Not Found</h1><p>Not Found</p><code>abc-1</code>"
    );
    // No template for 403, and a broken one for 500: the default page.
    for (kind, status) in [(ErrorKind::Forbidden, 403), (ErrorKind::Internal, 500)] {
        let page = renderer.html_page(&ErrorReport::from_kind(kind), status, None);
        assert!(
            page.contains(&format!("<p class=\"status\">{status}</p>")),
            "{page}"
        );
    }
}

#[test]
fn a_bad_views_section_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let bad = config(dir.path(), &[("FOUNDRY_VIEWS__HOT_RELOAD", "sometimes")]);
    let err = Views::for_app(&bad, &urls(), &[]).unwrap_err();
    assert!(err.to_string().contains("views.hot_reload"), "{err}");
    std::fs::write(
        dir.path().join("foundry.toml"),
        "[views]\ntemplates = \"x\"\n",
    )
    .unwrap();
    let err = Views::from_templates(&config(dir.path(), &[]), &urls(), [("a", "b")]).unwrap_err();
    assert!(err.to_string().contains("templates"), "{err}");
}
