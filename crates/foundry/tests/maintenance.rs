//! Maintenance mode end to end: two kernels sharing one database, the bypass cookie, the
//! health endpoints, and the `down`/`up` commands.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use foundry::config::ConfigLoader;
use foundry::db::migrate::Migration;
use foundry::db::{Db, Migrator};
use foundry::maintenance::DownState;
use foundry::prelude::*;
use foundry::{AppKey, Kernel};
use http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

static ROOT: OnceLock<PathBuf> = OnceLock::new();

/// Keeps the maintenance state in its database.
struct Shop;

impl App for Shop {
    fn routes(routes: Routes) -> Routes {
        routes.get("/", || async { "open" })
    }
    fn migrations() -> Vec<Arc<dyn Migration>> {
        vec![foundry::maintenance::migration()]
    }
    fn root() -> Option<PathBuf> {
        ROOT.get().cloned()
    }
}

/// No database: the state is a file in storage/.
struct Brochure;

impl App for Brochure {
    fn routes(routes: Routes) -> Routes {
        routes.get("/", || async { "open" })
    }
}

async fn boot<A: App>(root: &Path, key: &str) -> Kernel {
    let config = ConfigLoader::new(root)
        .vars([
            ("FOUNDRY_APP__KEY", key),
            ("FOUNDRY_HTTP__MAINTENANCE__CHECK_INTERVAL_MS", "50"),
        ])
        .load()
        .unwrap();
    Kernel::boot::<A>(config).await.unwrap()
}

async fn migrate(root: &Path) {
    let db = Db::connect(&format!(
        "sqlite://{}",
        root.join("storage/database.sqlite").display()
    ))
    .await
    .unwrap();
    Migrator::new(db, Shop::migrations())
        .migrate(Default::default())
        .await
        .unwrap();
}

async fn send(kernel: &Kernel, request: Request<Body>) -> (StatusCode, HeaderMap, String) {
    let response = kernel.service().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

fn get(path: &str, headers: &[(header::HeaderName, &str)]) -> Request<Body> {
    let mut builder = Request::get(path);
    for (name, value) in headers {
        builder = builder.header(name, *value);
    }
    builder.body(Body::empty()).unwrap()
}

/// Poll `kernel` at `/` until it answers `status` (the state is re-read every 50 ms).
async fn wait_for(kernel: &Kernel, status: StatusCode) {
    let start = Instant::now();
    loop {
        if send(kernel, get("/", &[])).await.0 == status {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "still not {status} after 20 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn down_on_one_instance_takes_down_the_other_through_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let key = AppKey::generate().unwrap().to_string();
    std::fs::create_dir_all(dir.path().join("storage")).unwrap();
    std::fs::write(dir.path().join("foundry.toml"), "").unwrap();
    migrate(dir.path()).await;
    let first = boot::<Shop>(dir.path(), &key).await;
    let second = boot::<Shop>(dir.path(), &key).await;
    assert_eq!(send(&second, get("/", &[])).await.0, StatusCode::OK);

    first
        .maintenance()
        .unwrap()
        .down(DownState {
            secret: Some("s3cret".into()),
            retry: Some(60),
            refresh: Some(30),
            ..DownState::default()
        })
        .await
        .unwrap();
    wait_for(&second, StatusCode::SERVICE_UNAVAILABLE).await;

    // JSON or HTML by Accept, with Retry-After and Refresh.
    let json = [(header::ACCEPT, "application/json")];
    let (status, headers, body) = send(&second, get("/", &json)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers[header::RETRY_AFTER], "60");
    assert_eq!(headers["refresh"], "30");
    assert!(
        body.starts_with(r#"{"message":"Service Unavailable","request_id":"#),
        "{body}"
    );
    let (_, headers, body) = send(&second, get("/", &[])).await;
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(body.contains("503"), "{body}");
    // The health endpoints still answer.
    assert_eq!(send(&second, get("/health", &[])).await.0, StatusCode::OK);
    assert_eq!(send(&second, get("/ready", &[])).await.0, StatusCode::OK);
    assert_eq!(send(&second, get("/metrics", &[])).await.0, StatusCode::OK);

    // The secret path gives a cookie (signed with the shared app key) and sends to /.
    let (status, headers, _) = send(&second, get("/s3cret", &[])).await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(headers[header::LOCATION], "/");
    let cookie = headers[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_owned();
    let with_cookie = [(header::COOKIE, pair.as_str())];
    assert_eq!(
        send(&first, get("/", &with_cookie)).await.2,
        "open",
        "any instance honours it"
    );
    let forged = pair.replace(|c: char| c.is_ascii_hexdigit() && c != '0', "0");
    let forged = [(header::COOKIE, forged.as_str())];
    assert_eq!(
        send(&first, get("/", &forged)).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let garbage = [(header::COOKIE, "foundry_maintenance=%%%; other=1")];
    assert_eq!(
        send(&first, get("/", &garbage)).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );

    // An instance started while the app is down starts down.
    let third = boot::<Shop>(dir.path(), &key).await;
    assert_eq!(
        send(&third, get("/", &[])).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );

    second.maintenance().unwrap().up().await.unwrap();
    wait_for(&first, StatusCode::OK).await;
    wait_for(&third, StatusCode::OK).await;
}

fn run<A: App>(root: &Path, args: &[&str]) -> ExitCode {
    let mut argv: Vec<OsString> = vec!["app".into()];
    argv.extend(args.iter().map(OsString::from));
    ROOT.get_or_init(|| root.to_owned());
    foundry::run_with_args::<A>(argv)
}

#[test]
fn the_down_and_up_commands_share_the_state_with_running_instances() {
    let dir = tempfile::tempdir().unwrap();
    let key = AppKey::generate().unwrap().to_string();
    std::fs::create_dir_all(dir.path().join("storage")).unwrap();
    std::fs::write(
        dir.path().join("foundry.toml"),
        format!("[app]\nkey = \"{key}\"\n"),
    )
    .unwrap();
    assert_eq!(run::<Shop>(dir.path(), &["migrate"]), ExitCode::SUCCESS);
    assert_eq!(
        run::<Shop>(dir.path(), &["down", "--secret", "bad/secret"]),
        ExitCode::FAILURE
    );
    assert_ne!(
        run::<Shop>(dir.path(), &["down", "--retry", "soon"]),
        ExitCode::SUCCESS
    );
    assert_eq!(
        run::<Shop>(
            dir.path(),
            &[
                "down",
                "--secret",
                "ok",
                "--retry",
                "120",
                "--redirect",
                "/"
            ]
        ),
        ExitCode::SUCCESS
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let kernel = boot::<Shop>(dir.path(), &key).await;
        let (status, headers, _) = send(&kernel, get("/", &[])).await;
        assert_eq!(
            status,
            StatusCode::SERVICE_UNAVAILABLE,
            "redirect target itself is 503"
        );
        assert_eq!(headers[header::RETRY_AFTER], "120");
        assert!(
            !dir.path().join("storage/framework/down").exists(),
            "kept in the database"
        );
    });
    assert_eq!(run::<Shop>(dir.path(), &["up"]), ExitCode::SUCCESS);
    rt.block_on(async {
        let kernel = boot::<Shop>(dir.path(), &key).await;
        assert_eq!(send(&kernel, get("/", &[])).await.0, StatusCode::OK);
    });
}

#[tokio::test]
async fn without_a_database_the_state_is_a_file_in_storage() {
    let dir = tempfile::tempdir().unwrap();
    let key = AppKey::generate().unwrap().to_string();
    let first = boot::<Brochure>(dir.path(), &key).await;
    let second = boot::<Brochure>(dir.path(), &key).await;
    first
        .maintenance()
        .unwrap()
        .down(DownState::default())
        .await
        .unwrap();
    assert!(dir.path().join("storage/framework/down").is_file());
    wait_for(&second, StatusCode::SERVICE_UNAVAILABLE).await;
    first.maintenance().unwrap().up().await.unwrap();
    wait_for(&second, StatusCode::OK).await;
}

#[tokio::test]
async fn the_database_store_works_on_postgresql_too() {
    let url = match std::env::var("FOUNDRY_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            assert!(
                std::env::var("FOUNDRY_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "FOUNDRY_TEST_DATABASE_URL is not set"
            );
            eprintln!("skipping PostgreSQL test: FOUNDRY_TEST_DATABASE_URL is not set");
            return;
        }
    };
    let admin = Db::connect(&url).await.expect("connect to PostgreSQL");
    let schema = format!("foundry_maintenance_{}", std::process::id());
    for sql in [
        format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"),
        format!("CREATE SCHEMA \"{schema}\""),
    ] {
        admin.statement(&sql, vec![]).await.unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let outcome = tokio::spawn(pg_suite(
        dir.path().to_owned(),
        AppKey::generate().unwrap().to_string(),
        url,
        schema.clone(),
    ))
    .await;
    admin
        .statement(&format!("DROP SCHEMA \"{schema}\" CASCADE"), vec![])
        .await
        .unwrap();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Two kernels on one PostgreSQL schema: `down` on one reaches the other, `up` too.
async fn pg_suite(root: PathBuf, key: String, url: String, schema: String) {
    let boot_pg = || {
        let config = ConfigLoader::new(&root)
            .vars([
                ("FOUNDRY_APP__KEY", key.as_str()),
                ("FOUNDRY_HTTP__MAINTENANCE__CHECK_INTERVAL_MS", "50"),
                ("FOUNDRY_DATABASE__URL", url.as_str()),
                ("FOUNDRY_DATABASE__SEARCH_PATH", schema.as_str()),
                ("FOUNDRY_DATABASE__MAX_CONNECTIONS", "2"),
            ])
            .load()
            .unwrap();
        Kernel::boot::<Shop>(config)
    };
    let first = boot_pg().await.unwrap();
    let db = first.context().make::<Db>().unwrap();
    Migrator::new((*db).clone(), Shop::migrations())
        .migrate(Default::default())
        .await
        .unwrap();
    let second = boot_pg().await.unwrap();
    first
        .maintenance()
        .unwrap()
        .down(DownState::default())
        .await
        .unwrap();
    wait_for(&second, StatusCode::SERVICE_UNAVAILABLE).await;
    first.maintenance().unwrap().up().await.unwrap();
    wait_for(&second, StatusCode::OK).await;
}
