//! How long a blog test takes to boot with `foundry-testing`, against booting the kernel on a
//! fresh in-memory database and running the migrations (what the blog's tests did before).
//! Run by `bench/testing.sh` in the dev profile, the one `cargo test` builds.
//!
//! Prints `RESULT <metric> <value> <unit>` lines (medians); PostgreSQL figures when
//! `FOUNDRY_TEST_DATABASE_URL` is set.

use std::time::{Duration, Instant};

use foundry::Kernel;
use foundry::config::ConfigLoader;
use foundry::db::Db;
use foundry_testing::{TestApp, TestDatabase};

fn median(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1000.0
}

/// Boot (and drop) a kit app; the drop is part of a test's cost (PostgreSQL drops its schema).
async fn kit(database: &TestDatabase) -> Duration {
    let started = Instant::now();
    let app = TestApp::builder::<blog::Blog>()
        .database(database.clone())
        .boot()
        .await;
    app.db().ping().await.expect("the database answers");
    drop(app);
    started.elapsed()
}

async fn migrate_each_time() -> Duration {
    let started = Instant::now();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = ConfigLoader::new(root)
        .dotenv(false)
        .vars([
            ("FOUNDRY_ENV", "testing"),
            ("FOUNDRY_DATABASE__URL", "sqlite::memory:"),
        ])
        .load()
        .expect("config");
    let kernel = Kernel::boot::<blog::Blog>(config).await.expect("boot");
    let db = kernel.context().make::<Db>().expect("db");
    foundry::db::Migrator::new(Db::clone(&db), blog::migrations::all())
        .migrate(Default::default())
        .await
        .expect("migrate");
    drop(kernel);
    started.elapsed()
}

fn main() {
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(50);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let sqlite = TestDatabase::Sqlite;
        let first = kit(&sqlite).await;
        let (mut with_kit, mut naive) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            with_kit.push(kit(&sqlite).await);
            naive.push(migrate_each_time().await);
        }
        let (with_kit, naive) = (median(with_kit), median(naive));
        println!(
            "RESULT testing_first_boot_sqlite_ms {:.2} ms",
            first.as_secs_f64() * 1000.0
        );
        println!("RESULT testing_boot_sqlite_ms {with_kit:.2} ms");
        println!("RESULT testing_boot_migrate_each_time_sqlite_ms {naive:.2} ms");
        println!(
            "RESULT testing_boot_sqlite_speedup {:.1} x",
            naive / with_kit
        );
        if let Ok(url) = std::env::var("FOUNDRY_TEST_DATABASE_URL") {
            let postgres = TestDatabase::Postgres(url);
            let first = kit(&postgres).await;
            let mut samples = Vec::new();
            for _ in 0..rounds.min(20) {
                samples.push(kit(&postgres).await);
            }
            println!(
                "RESULT testing_first_boot_postgres_ms {:.2} ms",
                first.as_secs_f64() * 1000.0
            );
            println!("RESULT testing_boot_postgres_ms {:.2} ms", median(samples));
        }
        println!(
            "RESULT testing_template_builds {} count",
            foundry_testing::template_builds()
        );
    });
}
