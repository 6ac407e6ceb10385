//! Seeders: code that fills the database (`db:seed`, `migrate:fresh --seed`).

use foundry_core::BoxFuture;

use crate::connection::Db;
use crate::error::{DbError, DbResult};

/// A seeder. The app lists its seeders in order; `db:seed` runs them all, `--class` one.
///
/// ```
/// use foundry_db::{Db, DbResult, seed::Seeder};
/// use foundry_core::BoxFuture;
/// use serde_json::json;
///
/// struct UserSeeder;
///
/// impl Seeder for UserSeeder {
///     fn name(&self) -> &str { "UserSeeder" }
///     fn run<'a>(&'a self, db: &'a Db) -> BoxFuture<'a, DbResult<()>> {
///         Box::pin(async move {
///             db.table("users").insert(json!({"name": "Admin"})).await?;
///             Ok(())
///         })
///     }
/// }
/// ```
pub trait Seeder: Send + Sync {
    /// The name `--class` selects (Laravel's class name, e.g. `UserSeeder`).
    fn name(&self) -> &str;
    /// Insert the data.
    fn run<'a>(&'a self, db: &'a Db) -> BoxFuture<'a, DbResult<()>>;
}

/// Run `seeders` in order inside one transaction (all or nothing), or only the one named
/// `class`. Returns the names run.
pub async fn run_seeders(
    db: &Db,
    seeders: &[Box<dyn Seeder>],
    class: Option<&str>,
) -> DbResult<Vec<String>> {
    let selected: Vec<&dyn Seeder> = match class {
        Some(class) => {
            let found = seeders.iter().find(|s| s.name() == class).ok_or_else(|| {
                let known: Vec<&str> = seeders.iter().map(|s| s.name()).collect();
                DbError::Config(format!(
                    "no seeder named `{class}`; registered: {}",
                    if known.is_empty() {
                        "(none)".to_owned()
                    } else {
                        known.join(", ")
                    }
                ))
            })?;
            vec![found.as_ref()]
        }
        None => seeders.iter().map(AsRef::as_ref).collect(),
    };
    db.transaction(|tx| {
        let selected = selected.clone();
        async move {
            let mut ran = Vec::new();
            for seeder in selected {
                seeder.run(&tx).await?;
                ran.push(seeder.name().to_owned());
            }
            Ok::<_, DbError>(ran)
        }
    })
    .await
}
