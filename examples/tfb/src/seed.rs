//! The benchmark data: 10,000 worlds with random numbers and the twelve standard fortunes.

use foundry::BoxFuture;
use foundry::db::seed::Seeder;
use foundry::db::{Db, DbResult, Model};
use serde_json::json;

use crate::models::{Fortune, World};

/// How many worlds there are; ids run from 1 to this.
pub const WORLDS: i64 = 10_000;

/// TechEmpower's fortunes, with their ids: one holds markup that must come out escaped, one
/// is Japanese.
pub const FORTUNES: [(i64, &str); 12] = [
    (1, "fortune: No such file or directory"),
    (
        2,
        "A computer scientist is someone who fixes things that aren't broken.",
    ),
    (3, "After enough decimal places, nobody gives a damn."),
    (
        4,
        "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1",
    ),
    (
        5,
        "A computer program does what you tell it to do, not what you want it to do.",
    ),
    (
        6,
        "Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen",
    ),
    (7, "Any program that runs right is obsolete."),
    (
        8,
        "A list is only as strong as its weakest link. — Donald Knuth",
    ),
    (9, "Feature: A bug with seniority."),
    (10, "Computers make very fast, very accurate mistakes."),
    (
        11,
        "<script>alert(\"This should not be displayed in a browser alert box.\");</script>",
    ),
    (12, "フレームワークのベンチマーク"),
];

/// Rows per insert: well under both backends' limits on bound values.
const BATCH: i64 = 1_000;

/// Seeds both tables (`tfb db:seed`, `tfb migrate --seed`).
pub struct DatabaseSeeder;

impl Seeder for DatabaseSeeder {
    fn name(&self) -> &str {
        "DatabaseSeeder"
    }

    fn run<'a>(&'a self, db: &'a Db) -> BoxFuture<'a, DbResult<()>> {
        Box::pin(async move {
            WorldSeeder.run(db).await?;
            FortuneSeeder.run(db).await
        })
    }
}

/// `world`: ids 1..=10,000, each with a random number in 1..=10,000.
pub struct WorldSeeder;

impl Seeder for WorldSeeder {
    fn name(&self) -> &str {
        "WorldSeeder"
    }

    fn run<'a>(&'a self, db: &'a Db) -> BoxFuture<'a, DbResult<()>> {
        Box::pin(async move {
            for start in (1..=WORLDS).step_by(BATCH as usize) {
                let rows = (start..(start + BATCH).min(WORLDS + 1))
                    .map(|id| {
                        json!({ World::COL_ID: id, World::COL_RANDOM_NUMBER: fastrand::i32(1..=10_000) })
                    })
                    .collect();
                db.table(World::TABLE).insert_many(rows).await?;
            }
            Ok(())
        })
    }
}

/// `fortune`: the twelve standard fortunes.
pub struct FortuneSeeder;

impl Seeder for FortuneSeeder {
    fn name(&self) -> &str {
        "FortuneSeeder"
    }

    fn run<'a>(&'a self, db: &'a Db) -> BoxFuture<'a, DbResult<()>> {
        Box::pin(async move {
            let rows = FORTUNES
                .iter()
                .map(|(id, message)| json!({ Fortune::COL_ID: id, Fortune::COL_MESSAGE: message }))
                .collect();
            db.table(Fortune::TABLE).insert_many(rows).await?;
            Ok(())
        })
    }
}
