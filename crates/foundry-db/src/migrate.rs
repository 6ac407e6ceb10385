//! Migrations: Rust `up`/`down` on the portable [`Schema`], recorded in a `migrations` table
//! with batches, run by a [`Migrator`] that returns reports (the app's `migrate*` commands print
//! them).
//!
//! Every run (migrate, rollback, reset, fresh) happens in one transaction under a lock:
//! PostgreSQL takes `pg_advisory_xact_lock`, SQLite takes its write lock with `BEGIN
//! IMMEDIATE`. A second process running `migrate` at the same time waits, then sees what the
//! first one applied, so no migration is ever applied twice. Both backends have transactional
//! DDL, so a failing migration rolls back its whole batch.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::connection::{Backend, Db};
use crate::error::{DbError, DbResult};
use crate::schema::{Schema, SchemaOp, op_sql, quote, sqlite_rebuild};
use crate::sqlite_alter::{SqliteTable, rebuild};
use crate::transaction::TransactionOptions;

/// One migration. Name it like Laravel (`2024_01_01_000000_create_posts_table`): migrations
/// run in the order they are registered, and the name is what the `migrations` table records.
///
/// ```
/// use foundry_db::migrate::Migration;
/// use foundry_db::schema::Schema;
///
/// struct CreatePosts;
///
/// impl Migration for CreatePosts {
///     fn name(&self) -> &str { "2024_01_01_000000_create_posts_table" }
///     fn up(&self, schema: &mut Schema) {
///         schema.create("posts", |t| {
///             t.id();
///             t.string("title", 255);
///             t.timestamps();
///         });
///     }
///     fn down(&self, schema: &mut Schema) {
///         schema.drop_if_exists("posts");
///     }
/// }
/// ```
pub trait Migration: Send + Sync {
    /// The unique name recorded in the `migrations` table.
    fn name(&self) -> &str;
    /// Describe the change.
    fn up(&self, schema: &mut Schema);
    /// Describe how to undo it.
    fn down(&self, schema: &mut Schema);
}

/// Options of [`Migrator::migrate`].
#[derive(Debug, Clone, Copy, Default)]
pub struct MigrateOptions {
    /// Give each migration its own batch so they can be rolled back one by one.
    pub step: bool,
    /// Print the SQL instead of running it.
    pub pretend: bool,
}

/// Options of [`Migrator::rollback`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RollbackOptions {
    /// Roll back the last `n` migrations instead of the last batch.
    pub step: Option<u32>,
    /// Roll back this batch instead of the last one.
    pub batch: Option<i64>,
    /// Print the SQL instead of running it.
    pub pretend: bool,
}

/// What a migrator run did (or, with `pretend`, would do).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct MigrationReport {
    /// Names of the migrations run (up or down), in order.
    pub migrations: Vec<String>,
    /// The SQL of each migration, in order (always filled; what `--pretend` prints).
    pub statements: Vec<(String, Vec<String>)>,
    /// Tables dropped by `fresh`.
    pub dropped_tables: Vec<String>,
    /// Whether nothing was executed.
    pub pretend: bool,
}

/// One line of `migrate:status`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MigrationStatus {
    /// The migration's name.
    pub name: String,
    /// The batch it ran in, or `None` if pending.
    pub batch: Option<i64>,
}

impl MigrationStatus {
    /// Whether it has run.
    pub fn ran(&self) -> bool {
        self.batch.is_some()
    }
}

/// Arbitrary constant identifying foundry's migration lock among advisory locks.
const ADVISORY_LOCK_KEY: i64 = 0x0066_6f75_6e64_7279; // "foundry" in ASCII

/// Runs migrations against one connection.
#[derive(Clone)]
pub struct Migrator {
    db: Db,
    migrations: Vec<Arc<dyn Migration>>,
    lock_timeout: Duration,
}

impl std::fmt::Debug for Migrator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Migrator")
            .field("db", &self.db)
            .field(
                "migrations",
                &self
                    .migrations
                    .iter()
                    .map(|m| m.name().to_owned())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

#[derive(Debug, Clone)]
struct Ran {
    name: String,
    batch: i64,
}

enum Plan {
    Migrate(MigrateOptions),
    Rollback(RollbackOptions),
    Reset { pretend: bool },
    Fresh,
}

impl Migrator {
    /// A migrator for `migrations` (in order) on `db`.
    pub fn new(db: Db, migrations: Vec<Arc<dyn Migration>>) -> Self {
        Self {
            db,
            migrations,
            lock_timeout: Duration::from_secs(120),
        }
    }

    /// How long to wait for another process's migration run (default 120 s).
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// Check the registered names: non-empty and unique.
    fn validate(&self) -> DbResult<()> {
        let mut seen = HashMap::new();
        for m in &self.migrations {
            let name = m.name();
            if name.trim().is_empty() {
                return Err(DbError::Migration {
                    name: String::new(),
                    message: "a migration has an empty name".into(),
                });
            }
            if seen.insert(name.to_owned(), ()).is_some() {
                return Err(DbError::Migration {
                    name: name.to_owned(),
                    message: "registered twice; migration names must be unique".into(),
                });
            }
        }
        Ok(())
    }

    /// Run every pending migration.
    pub async fn migrate(&self, options: MigrateOptions) -> DbResult<MigrationReport> {
        self.run(Plan::Migrate(options)).await
    }

    /// Undo the last batch (or the last `step` migrations, or batch `batch`).
    pub async fn rollback(&self, options: RollbackOptions) -> DbResult<MigrationReport> {
        self.run(Plan::Rollback(options)).await
    }

    /// Undo every migration.
    pub async fn reset(&self, pretend: bool) -> DbResult<MigrationReport> {
        self.run(Plan::Reset { pretend }).await
    }

    /// Undo every migration, then run them all again.
    pub async fn refresh(&self) -> DbResult<(MigrationReport, MigrationReport)> {
        let down = self.reset(false).await?;
        let up = self.migrate(MigrateOptions::default()).await?;
        Ok((down, up))
    }

    /// Drop every table (without running `down`), then run every migration.
    pub async fn fresh(&self) -> DbResult<MigrationReport> {
        let dropped = self.run(Plan::Fresh).await?;
        let mut up = self.migrate(MigrateOptions::default()).await?;
        up.dropped_tables = dropped.dropped_tables;
        Ok(up)
    }

    /// Every registered migration with its batch (or pending), in order.
    pub async fn status(&self) -> DbResult<Vec<MigrationStatus>> {
        self.validate()?;
        ensure_table(&self.db).await?;
        let ran: HashMap<String, i64> = load_ran(&self.db)
            .await?
            .into_iter()
            .map(|r| (r.name, r.batch))
            .collect();
        Ok(self
            .migrations
            .iter()
            .map(|m| MigrationStatus {
                name: m.name().to_owned(),
                batch: ran.get(m.name()).copied(),
            })
            .collect())
    }

    /// Run `plan` in one locked transaction, waiting for a concurrent run to finish.
    async fn run(&self, plan: Plan) -> DbResult<MigrationReport> {
        self.validate()?;
        let plan = Arc::new(plan);
        let deadline = Instant::now() + self.lock_timeout;
        loop {
            let started = Arc::new(AtomicBool::new(false));
            let options = TransactionOptions {
                attempts: 1,
                immediate: true,
                sqlite_foreign_keys_off: self.needs_sqlite_rebuild(&plan),
                ..TransactionOptions::default()
            };
            let this = self.clone();
            let result = self
                .db
                .transaction_with(options, |tx| {
                    let (this, plan, started) = (this.clone(), plan.clone(), started.clone());
                    async move {
                        started.store(true, Ordering::SeqCst);
                        if tx.backend() == Backend::Postgres {
                            tx.statement(
                                "SELECT pg_advisory_xact_lock(?)",
                                vec![ADVISORY_LOCK_KEY.into()],
                            )
                            .await?;
                        }
                        ensure_table(&tx).await?;
                        this.execute(&tx, &plan).await
                    }
                })
                .await;
            match result {
                // SQLite: another process holds the write lock past busy_timeout; keep waiting.
                Err(e)
                    if e.is_retryable()
                        && !started.load(Ordering::SeqCst)
                        && Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                other => return other,
            }
        }
    }

    /// Whether a SQLite run may rebuild a table: then it runs with foreign keys off (checked
    /// before commit), so replacing a table does not cascade into the rows pointing at it.
    fn needs_sqlite_rebuild(&self, plan: &Plan) -> bool {
        if self.db.backend() != Backend::Sqlite {
            return false;
        }
        let up = matches!(plan, Plan::Migrate(_));
        self.migrations.iter().any(|m| {
            let mut schema = Schema::new(Backend::Sqlite);
            if up {
                m.up(&mut schema);
            } else {
                m.down(&mut schema);
            }
            schema.ops.iter().any(|op| sqlite_rebuild(op).is_some())
        })
    }

    async fn execute(&self, tx: &Db, plan: &Plan) -> DbResult<MigrationReport> {
        let ran = load_ran(tx).await?;
        let mut report = MigrationReport::default();
        match plan {
            Plan::Migrate(options) => {
                report.pretend = options.pretend;
                let done: HashMap<&str, i64> =
                    ran.iter().map(|r| (r.name.as_str(), r.batch)).collect();
                let mut batch = ran.iter().map(|r| r.batch).max().unwrap_or(0) + 1;
                for m in self
                    .migrations
                    .iter()
                    .filter(|m| !done.contains_key(m.name()))
                {
                    let mut schema = Schema::new(tx.backend());
                    m.up(&mut schema);
                    let sql = apply(tx, &schema, options.pretend, m.name()).await?;
                    if !options.pretend {
                        tx.statement(
                            "INSERT INTO \"migrations\" (\"migration\", \"batch\") VALUES (?, ?)",
                            vec![m.name().into(), batch.into()],
                        )
                        .await?;
                    }
                    report.migrations.push(m.name().to_owned());
                    report.statements.push((m.name().to_owned(), sql));
                    if options.step {
                        batch += 1;
                    }
                }
            }
            Plan::Rollback(options) => {
                report.pretend = options.pretend;
                let mut targets: Vec<&Ran> = ran.iter().collect();
                targets.reverse(); // newest first
                let targets: Vec<&Ran> = match (options.step, options.batch) {
                    (_, Some(batch)) => targets.into_iter().filter(|r| r.batch == batch).collect(),
                    (Some(step), None) => targets.into_iter().take(step as usize).collect(),
                    (None, None) => {
                        let last = ran.iter().map(|r| r.batch).max();
                        targets
                            .into_iter()
                            .filter(|r| Some(r.batch) == last)
                            .collect()
                    }
                };
                self.roll_back(tx, &targets, options.pretend, &mut report)
                    .await?;
            }
            Plan::Reset { pretend } => {
                report.pretend = *pretend;
                let targets: Vec<&Ran> = ran.iter().rev().collect();
                self.roll_back(tx, &targets, *pretend, &mut report).await?;
            }
            Plan::Fresh => {
                report.dropped_tables = drop_all_tables(tx).await?;
                ensure_table(tx).await?;
            }
        }
        Ok(report)
    }

    async fn roll_back(
        &self,
        tx: &Db,
        targets: &[&Ran],
        pretend: bool,
        report: &mut MigrationReport,
    ) -> DbResult<()> {
        for ran in targets {
            let migration = self
                .migrations
                .iter()
                .find(|m| m.name() == ran.name)
                .ok_or_else(|| DbError::Migration {
                    name: ran.name.clone(),
                    message: "is recorded in the migrations table but not registered in the app; \
                          register it again to roll it back"
                        .into(),
                })?;
            let mut schema = Schema::new(tx.backend());
            migration.down(&mut schema);
            let sql = apply(tx, &schema, pretend, &ran.name).await?;
            if !pretend {
                tx.statement(
                    "DELETE FROM \"migrations\" WHERE \"migration\" = ?",
                    vec![ran.name.clone().into()],
                )
                .await?;
            }
            report.migrations.push(ran.name.clone());
            report.statements.push((ran.name.clone(), sql));
        }
        Ok(())
    }
}

/// Turn a schema's ops into SQL and run it unless `pretend`. On SQLite, an alteration that
/// drops columns or foreign keys rebuilds the table from its current definition.
async fn apply(tx: &Db, schema: &Schema, pretend: bool, name: &str) -> DbResult<Vec<String>> {
    let in_migration = |e: DbError| DbError::Migration {
        name: name.to_owned(),
        message: e.to_string(),
    };
    let mut all = Vec::new();
    for op in &schema.ops {
        let mut steps = Vec::new();
        match sqlite_rebuild(op).filter(|_| tx.backend() == Backend::Sqlite) {
            Some(plan) => {
                steps.push(op_sql(tx.backend(), &plan.rest).map_err(in_migration)?);
                run_all(tx, &steps[0], pretend)
                    .await
                    .map_err(in_migration)?;
                let sql = match sqlite_table(tx, &plan.table).await {
                    Ok(table) => rebuild(&table, &plan.drop_columns, &plan.drop_foreign_keys)
                        .map_err(in_migration)?,
                    // Pretending: an earlier pending migration would have created the table.
                    Err(_) if pretend => vec![format!(
                        "-- rebuild {} without columns [{}] and foreign keys [{}]",
                        quote(&plan.table),
                        plan.drop_columns.join(", "),
                        plan.drop_foreign_keys.join(", ")
                    )],
                    Err(e) => return Err(in_migration(e)),
                };
                run_all(tx, &sql, pretend).await.map_err(in_migration)?;
                steps.push(sql);
            }
            None => {
                let sql = op_sql(tx.backend(), op).map_err(in_migration)?;
                run_all(tx, &sql, pretend).await.map_err(in_migration)?;
                steps.push(sql);
            }
        }
        let statements: Vec<String> = steps.into_iter().flatten().collect();
        if matches!(op, SchemaOp::Raw(_)) || !statements.is_empty() {
            all.extend(statements);
        }
    }
    Ok(all)
}

async fn run_all(tx: &Db, statements: &[String], pretend: bool) -> DbResult<()> {
    if !pretend {
        for sql in statements {
            tx.statement(sql, vec![]).await?;
        }
    }
    Ok(())
}

/// A SQLite table's definition, indexes and triggers, for a rebuild.
async fn sqlite_table(tx: &Db, table: &str) -> DbResult<SqliteTable> {
    let create: Vec<String> = tx
        .select(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
            vec![table.into()],
        )
        .await?;
    let create_sql = create
        .into_iter()
        .next()
        .ok_or_else(|| DbError::InvalidQuery(format!("table `{table}` does not exist")))?;
    let index_rows = tx
        .select_rows(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
            vec![table.into()],
        )
        .await?;
    let mut indexes = Vec::new();
    for row in index_rows {
        let (index, sql): (String, String) = (row.get("name")?, row.get("sql")?);
        let columns: Vec<String> = tx
            .select(
                "SELECT name FROM pragma_index_info(?)",
                vec![index.clone().into()],
            )
            .await?;
        indexes.push((index, sql, columns));
    }
    let triggers: Vec<String> = tx
        .select(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? AND sql IS NOT NULL",
            vec![table.into()],
        )
        .await?;
    let has_sequence: Vec<i64> = tx
        .select(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence' AND EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ?)",
            vec![table.into()],
        )
        .await
        .unwrap_or_default();
    Ok(SqliteTable {
        name: table.to_owned(),
        create_sql,
        indexes,
        triggers,
        has_sequence: has_sequence.first().is_some_and(|n| *n > 0),
    })
}

/// The `CREATE TABLE IF NOT EXISTS "migrations" …` statement the migrator runs first (the
/// testing kit replays it into each test's PostgreSQL schema).
pub fn migrations_table_sql(backend: Backend) -> String {
    let id = match backend {
        Backend::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
        Backend::Postgres => "BIGSERIAL PRIMARY KEY",
    };
    format!(
        "CREATE TABLE IF NOT EXISTS \"migrations\" (\"id\" {id}, \"migration\" VARCHAR(255) NOT NULL, \"batch\" INTEGER NOT NULL)"
    )
}

async fn ensure_table(db: &Db) -> DbResult<()> {
    db.statement(&migrations_table_sql(db.backend()), vec![])
        .await
        .map(|_| ())
}

async fn load_ran(db: &Db) -> DbResult<Vec<Ran>> {
    let rows = db
        .select_rows(
            "SELECT \"migration\", CAST(\"batch\" AS BIGINT) AS \"batch\" FROM \"migrations\" ORDER BY \"batch\", \"id\"",
            vec![],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Ran {
                name: r.get("migration")?,
                batch: r.get("batch")?,
            })
        })
        .collect()
}

async fn drop_all_tables(tx: &Db) -> DbResult<Vec<String>> {
    let tables: Vec<String> = match tx.backend() {
        Backend::Sqlite => {
            tx.statement("PRAGMA defer_foreign_keys = ON", vec![]).await?;
            tx.select(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
                vec![],
            )
            .await?
        }
        Backend::Postgres => {
            tx.select(
                "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename",
                vec![],
            )
            .await?
        }
    };
    for table in &tables {
        let cascade = if tx.backend() == Backend::Postgres {
            " CASCADE"
        } else {
            ""
        };
        tx.statement(
            &format!("DROP TABLE IF EXISTS {}{cascade}", quote(table)),
            vec![],
        )
        .await?;
    }
    Ok(tables)
}
