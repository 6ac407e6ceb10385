//! The portable schema builder: Laravel's `Schema::create` / `Schema::table` for SQLite and
//! PostgreSQL. Migrations describe changes on a [`Schema`]; the migrator turns them into SQL
//! for the connection's dialect (or prints it with `--pretend`).
//!
//! ```
//! use foundry_db::schema::Schema;
//! use foundry_db::Backend;
//!
//! let mut schema = Schema::new(Backend::Postgres);
//! schema.create("posts", |t| {
//!     t.id();
//!     t.foreign_id("user_id").constrained().cascade_on_delete();
//!     t.string("title", 200).index();
//!     t.boolean("published").default(false);
//!     t.timestamps();
//! });
//! let sql = schema.to_sql().unwrap();
//! assert!(sql[0].starts_with(r#"CREATE TABLE "posts" ("id" BIGSERIAL PRIMARY KEY NOT NULL"#));
//! assert!(sql.iter().any(|s| s == r#"CREATE INDEX "posts_title_index" ON "posts" ("title")"#));
//! ```

use crate::connection::Backend;
use crate::error::{DbError, DbResult};

/// Quote an identifier (embedded quotes doubled).
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quote a string literal (embedded quotes doubled).
pub fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// Laravel's default index name: `{table}_{columns}_{kind}`, lowercase, `.`/`-` → `_`.
pub fn index_name(table: &str, columns: &[&str], kind: &str) -> String {
    format!("{table}_{}_{kind}", columns.join("_"))
        .to_lowercase()
        .replace(['-', '.'], "_")
}

/// A column type.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ColumnType {
    /// Auto-incrementing 64-bit primary key.
    BigIncrements,
    /// 32-bit integer.
    Integer,
    /// 64-bit integer.
    BigInteger,
    /// 16-bit integer.
    SmallInteger,
    /// Boolean.
    Boolean,
    /// `VARCHAR(n)`.
    String(u32),
    /// Unbounded text.
    Text,
    /// JSON (text on SQLite).
    Json,
    /// JSONB on PostgreSQL, JSON text on SQLite.
    Jsonb,
    /// `NUMERIC(precision, scale)`.
    Decimal(u8, u8),
    /// Floating point (double precision, as Laravel 11).
    Float,
    /// Double precision.
    Double,
    /// Date.
    Date,
    /// Date and time without time zone.
    DateTime,
    /// Date and time with time zone (`TIMESTAMPTZ`).
    DateTimeTz,
    /// Time of day.
    Time,
    /// UUID as text (`CHAR(36)`) on both backends, so one `String` field works everywhere.
    Uuid,
    /// ULID as text (`CHAR(26)`).
    Ulid,
    /// Bytes.
    Binary,
    /// A string restricted to these values (a `CHECK` constraint).
    Enum(Vec<String>),
}

/// What happens to child rows when the parent is deleted or updated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForeignAction {
    /// `CASCADE`.
    Cascade,
    /// `SET NULL`.
    SetNull,
    /// `RESTRICT`.
    Restrict,
    /// `NO ACTION`.
    NoAction,
}

impl ForeignAction {
    fn sql(self) -> &'static str {
        match self {
            ForeignAction::Cascade => "CASCADE",
            ForeignAction::SetNull => "SET NULL",
            ForeignAction::Restrict => "RESTRICT",
            ForeignAction::NoAction => "NO ACTION",
        }
    }
}

/// A foreign key.
#[derive(Debug, Clone, PartialEq)]
pub struct ForeignKey {
    /// The constraint name (`{table}_{column}_foreign`).
    pub name: String,
    /// The local column.
    pub column: String,
    /// The referenced table.
    pub on_table: String,
    /// The referenced column.
    pub references: String,
    /// `ON DELETE`.
    pub on_delete: Option<ForeignAction>,
    /// `ON UPDATE`.
    pub on_update: Option<ForeignAction>,
}

/// One column's definition; returned by the type methods of [`Blueprint`] for chaining
/// modifiers (`t.string("email", 255).unique()`).
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    /// Column name.
    pub name: String,
    /// Type.
    pub kind: ColumnType,
    /// `NULL` allowed (columns are `NOT NULL` unless marked nullable, as in Laravel).
    pub nullable: bool,
    /// Default as SQL text (already quoted).
    pub default: Option<String>,
    /// Add a unique index.
    pub unique: bool,
    /// Add a plain index.
    pub index: bool,
    /// Primary key.
    pub primary: bool,
    /// `CHECK (col >= 0)`.
    pub unsigned: bool,
    /// Foreign key.
    pub foreign: Option<ForeignKey>,
    table: String,
}

/// A default value for [`ColumnDef::default`].
#[derive(Debug, Clone, PartialEq)]
pub enum DefaultValue {
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A string (quoted).
    Str(String),
}

impl From<i64> for DefaultValue {
    fn from(v: i64) -> Self {
        DefaultValue::Int(v)
    }
}
impl From<i32> for DefaultValue {
    fn from(v: i32) -> Self {
        DefaultValue::Int(v.into())
    }
}
impl From<f64> for DefaultValue {
    fn from(v: f64) -> Self {
        DefaultValue::Float(v)
    }
}
impl From<bool> for DefaultValue {
    fn from(v: bool) -> Self {
        DefaultValue::Bool(v)
    }
}
impl From<&str> for DefaultValue {
    fn from(v: &str) -> Self {
        DefaultValue::Str(v.to_owned())
    }
}
impl From<String> for DefaultValue {
    fn from(v: String) -> Self {
        DefaultValue::Str(v)
    }
}

impl ColumnDef {
    /// Allow `NULL`.
    pub fn nullable(&mut self) -> &mut Self {
        self.nullable = true;
        self
    }

    /// A default value (quoted for you).
    pub fn default(&mut self, value: impl Into<DefaultValue>) -> &mut Self {
        self.default = Some(match value.into() {
            DefaultValue::Int(i) => i.to_string(),
            DefaultValue::Float(f) => f.to_string(),
            // Both backends accept TRUE/FALSE literals (SQLite ≥ 3.23 stores 1/0).
            DefaultValue::Bool(b) => if b { "TRUE" } else { "FALSE" }.to_owned(),
            DefaultValue::Str(s) => literal(&s),
        });
        self
    }

    /// A default given as SQL (`"CURRENT_DATE"`); the text is the app's own.
    pub fn default_raw(&mut self, sql: &str) -> &mut Self {
        self.default = Some(sql.to_owned());
        self
    }

    /// `DEFAULT CURRENT_TIMESTAMP`.
    pub fn use_current(&mut self) -> &mut Self {
        self.default = Some("CURRENT_TIMESTAMP".into());
        self
    }

    /// Add a unique index (`{table}_{col}_unique`).
    pub fn unique(&mut self) -> &mut Self {
        self.unique = true;
        self
    }

    /// Add an index (`{table}_{col}_index`).
    pub fn index(&mut self) -> &mut Self {
        self.index = true;
        self
    }

    /// Make this the primary key.
    pub fn primary(&mut self) -> &mut Self {
        self.primary = true;
        self
    }

    /// Reject negative values (`CHECK (col >= 0)`).
    pub fn unsigned(&mut self) -> &mut Self {
        self.unsigned = true;
        self
    }

    /// Reference `id` on the table named after the column (`user_id` → `users`).
    pub fn constrained(&mut self) -> &mut Self {
        let base = self
            .name
            .strip_suffix("_id")
            .unwrap_or(&self.name)
            .to_owned();
        self.constrained_on(&crate::naming::plural(&base))
    }

    /// Reference `id` on `table`.
    pub fn constrained_on(&mut self, table: &str) -> &mut Self {
        self.references("id", table)
    }

    /// Reference `column` on `table`.
    pub fn references(&mut self, column: &str, table: &str) -> &mut Self {
        self.foreign = Some(ForeignKey {
            name: index_name(&self.table, &[&self.name], "foreign"),
            column: self.name.clone(),
            on_table: table.to_owned(),
            references: column.to_owned(),
            on_delete: None,
            on_update: None,
        });
        self
    }

    fn set_on_delete(&mut self, action: ForeignAction) -> &mut Self {
        if let Some(fk) = &mut self.foreign {
            fk.on_delete = Some(action);
        }
        self
    }

    /// `ON DELETE CASCADE` (after `constrained`).
    pub fn cascade_on_delete(&mut self) -> &mut Self {
        self.set_on_delete(ForeignAction::Cascade)
    }

    /// `ON DELETE SET NULL` (after `constrained`; makes the column nullable).
    pub fn null_on_delete(&mut self) -> &mut Self {
        self.nullable = true;
        self.set_on_delete(ForeignAction::SetNull)
    }

    /// `ON DELETE RESTRICT`.
    pub fn restrict_on_delete(&mut self) -> &mut Self {
        self.set_on_delete(ForeignAction::Restrict)
    }

    /// `ON UPDATE CASCADE`.
    pub fn cascade_on_update(&mut self) -> &mut Self {
        if let Some(fk) = &mut self.foreign {
            fk.on_update = Some(ForeignAction::Cascade);
        }
        self
    }

    fn type_sql(&self, backend: Backend) -> String {
        let pg = backend == Backend::Postgres;
        match &self.kind {
            ColumnType::BigIncrements if pg => "BIGSERIAL".into(),
            ColumnType::BigIncrements => "INTEGER".into(),
            ColumnType::Integer => "INTEGER".into(),
            ColumnType::BigInteger => "BIGINT".into(),
            ColumnType::SmallInteger => "SMALLINT".into(),
            ColumnType::Boolean => "BOOLEAN".into(),
            ColumnType::String(n) => format!("VARCHAR({n})"),
            ColumnType::Text => "TEXT".into(),
            ColumnType::Json if pg => "JSON".into(),
            ColumnType::Jsonb if pg => "JSONB".into(),
            // TEXT affinity (the name contains TEXT) and recognisably JSON when read back.
            ColumnType::Json | ColumnType::Jsonb => "JSON TEXT".into(),
            ColumnType::Decimal(p, s) => format!("NUMERIC({p}, {s})"),
            ColumnType::Float | ColumnType::Double if pg => "DOUBLE PRECISION".into(),
            ColumnType::Float | ColumnType::Double => "REAL".into(),
            ColumnType::Date => "DATE".into(),
            ColumnType::DateTime if pg => "TIMESTAMP(0) WITHOUT TIME ZONE".into(),
            ColumnType::DateTimeTz if pg => "TIMESTAMP(0) WITH TIME ZONE".into(),
            ColumnType::DateTime | ColumnType::DateTimeTz => "DATETIME".into(),
            ColumnType::Time => "TIME".into(),
            ColumnType::Uuid => "CHAR(36)".into(),
            ColumnType::Ulid => "CHAR(26)".into(),
            ColumnType::Binary if pg => "BYTEA".into(),
            ColumnType::Binary => "BLOB".into(),
            ColumnType::Enum(_) => "VARCHAR(255)".into(),
        }
    }

    /// The column's definition inside `CREATE TABLE` / `ADD COLUMN`.
    fn sql(&self, backend: Backend, inline_pk: bool, inline_fk: bool) -> String {
        let name = quote(&self.name);
        let mut sql = format!("{name} {}", self.type_sql(backend));
        if self.kind == ColumnType::BigIncrements {
            sql.push_str(if backend == Backend::Sqlite {
                " PRIMARY KEY AUTOINCREMENT"
            } else {
                " PRIMARY KEY"
            });
        } else if self.primary && inline_pk {
            sql.push_str(" PRIMARY KEY");
        }
        if !self.nullable {
            sql.push_str(" NOT NULL");
        }
        if let Some(default) = &self.default {
            sql.push_str(" DEFAULT ");
            sql.push_str(default);
        }
        if let ColumnType::Enum(values) = &self.kind {
            let list: Vec<String> = values.iter().map(|v| literal(v)).collect();
            sql.push_str(&format!(" CHECK ({name} IN ({}))", list.join(", ")));
        }
        if self.unsigned {
            sql.push_str(&format!(" CHECK ({name} >= 0)"));
        }
        if inline_fk && let Some(fk) = &self.foreign {
            // Named, so `drop_foreign` can find it when SQLite rebuilds the table.
            sql.push_str(&format!(
                " CONSTRAINT {} REFERENCES {}",
                quote(&fk.name),
                fk_target(fk)
            ));
        }
        sql
    }
}

fn fk_target(fk: &ForeignKey) -> String {
    let mut sql = format!("{} ({})", quote(&fk.on_table), quote(&fk.references));
    if let Some(a) = fk.on_delete {
        sql.push_str(&format!(" ON DELETE {}", a.sql()));
    }
    if let Some(a) = fk.on_update {
        sql.push_str(&format!(" ON UPDATE {}", a.sql()));
    }
    sql
}

/// Indexes and other table-level commands of a [`Blueprint`].
#[derive(Debug, Clone, PartialEq)]
enum Command {
    Index {
        name: String,
        columns: Vec<String>,
        unique: bool,
    },
    Primary(Vec<String>),
    DropIndex(String),
    DropColumn(String),
    RenameColumn(String, String),
    DropForeign(String),
}

/// The columns and commands of one `create`/`table` call.
#[derive(Debug, Clone, PartialEq)]
pub struct Blueprint {
    table: String,
    columns: Vec<ColumnDef>,
    commands: Vec<Command>,
}

macro_rules! column_methods {
    ($($(#[$doc:meta])* $method:ident => $kind:expr;)*) => {$(
        $(#[$doc])*
        pub fn $method(&mut self, name: &str) -> &mut ColumnDef {
            self.add(name, $kind)
        }
    )*};
}

impl Blueprint {
    fn new(table: &str) -> Self {
        Self {
            table: table.to_owned(),
            columns: Vec::new(),
            commands: Vec::new(),
        }
    }

    /// Add a column of any type.
    pub fn add(&mut self, name: &str, kind: ColumnType) -> &mut ColumnDef {
        self.columns.push(ColumnDef {
            name: name.to_owned(),
            kind,
            nullable: false,
            default: None,
            unique: false,
            index: false,
            primary: false,
            unsigned: false,
            foreign: None,
            table: self.table.clone(),
        });
        let last = self.columns.len() - 1;
        &mut self.columns[last]
    }

    /// `id`: an auto-incrementing 64-bit primary key.
    pub fn id(&mut self) -> &mut ColumnDef {
        self.add("id", ColumnType::BigIncrements)
    }

    column_methods! {
        /// An auto-incrementing 64-bit primary key with this name.
        big_increments => ColumnType::BigIncrements;
        /// 32-bit integer.
        integer => ColumnType::Integer;
        /// 64-bit integer.
        big_integer => ColumnType::BigInteger;
        /// 16-bit integer.
        small_integer => ColumnType::SmallInteger;
        /// Boolean.
        boolean => ColumnType::Boolean;
        /// Unbounded text.
        text => ColumnType::Text;
        /// JSON.
        json => ColumnType::Json;
        /// JSONB (PostgreSQL; JSON text on SQLite).
        jsonb => ColumnType::Jsonb;
        /// Double-precision float.
        float => ColumnType::Float;
        /// Double-precision float.
        double => ColumnType::Double;
        /// Date.
        date => ColumnType::Date;
        /// Date-time without time zone.
        datetime => ColumnType::DateTime;
        /// Date-time with time zone.
        datetime_tz => ColumnType::DateTimeTz;
        /// Alias of `datetime`.
        timestamp => ColumnType::DateTime;
        /// Alias of `datetime_tz`.
        timestamp_tz => ColumnType::DateTimeTz;
        /// Time of day.
        time => ColumnType::Time;
        /// UUID (text).
        uuid => ColumnType::Uuid;
        /// ULID (text).
        ulid => ColumnType::Ulid;
        /// Bytes.
        binary => ColumnType::Binary;
    }

    /// `VARCHAR(len)`.
    pub fn string(&mut self, name: &str, len: u32) -> &mut ColumnDef {
        self.add(name, ColumnType::String(len))
    }

    /// `NUMERIC(precision, scale)`.
    pub fn decimal(&mut self, name: &str, precision: u8, scale: u8) -> &mut ColumnDef {
        self.add(name, ColumnType::Decimal(precision, scale))
    }

    /// A string limited to `values`.
    pub fn enumeration(&mut self, name: &str, values: &[&str]) -> &mut ColumnDef {
        self.add(
            name,
            ColumnType::Enum(values.iter().map(|v| (*v).to_owned()).collect()),
        )
    }

    /// A 64-bit integer meant as a foreign key; chain `.constrained()`.
    pub fn foreign_id(&mut self, name: &str) -> &mut ColumnDef {
        self.add(name, ColumnType::BigInteger)
    }

    /// A UUID foreign key; chain `.constrained()`.
    pub fn foreign_uuid(&mut self, name: &str) -> &mut ColumnDef {
        self.add(name, ColumnType::Uuid)
    }

    /// Nullable `created_at` and `updated_at` date-times with time zone.
    pub fn timestamps(&mut self) {
        self.datetime_tz("created_at").nullable();
        self.datetime_tz("updated_at").nullable();
    }

    /// Nullable `deleted_at` for soft deletes.
    pub fn soft_deletes(&mut self) {
        self.datetime_tz("deleted_at").nullable();
    }

    /// An index over `columns` named `{table}_{cols}_index`.
    pub fn index(&mut self, columns: &[&str]) {
        self.commands.push(Command::Index {
            name: index_name(&self.table, columns, "index"),
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            unique: false,
        });
    }

    /// A unique index over `columns` named `{table}_{cols}_unique`.
    pub fn unique(&mut self, columns: &[&str]) {
        self.commands.push(Command::Index {
            name: index_name(&self.table, columns, "unique"),
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            unique: true,
        });
    }

    /// A composite primary key (in `create` only).
    pub fn primary(&mut self, columns: &[&str]) {
        self.commands.push(Command::Primary(
            columns.iter().map(|c| (*c).to_owned()).collect(),
        ));
    }

    /// Drop an index by name.
    pub fn drop_index(&mut self, name: &str) {
        self.commands.push(Command::DropIndex(name.to_owned()));
    }

    /// Drop the `{table}_{cols}_unique` index.
    pub fn drop_unique(&mut self, columns: &[&str]) {
        self.commands.push(Command::DropIndex(index_name(
            &self.table,
            columns,
            "unique",
        )));
    }

    /// Drop the foreign key on `column` (`{table}_{column}_foreign`; SQLite rebuilds the table).
    pub fn drop_foreign(&mut self, column: &str) {
        self.commands.push(Command::DropForeign(index_name(
            &self.table,
            &[column],
            "foreign",
        )));
    }

    /// Drop a column (on SQLite the migrator rebuilds the table, so columns with indexes,
    /// foreign keys or unique constraints can be dropped too).
    pub fn drop_column(&mut self, name: &str) {
        self.commands.push(Command::DropColumn(name.to_owned()));
    }

    /// Rename a column.
    pub fn rename_column(&mut self, from: &str, to: &str) {
        self.commands
            .push(Command::RenameColumn(from.to_owned(), to.to_owned()));
    }
}

/// One schema change.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SchemaOp {
    Create(Blueprint),
    Alter(Blueprint),
    Drop { table: String, if_exists: bool },
    Rename(String, String),
    Raw(String),
}

/// Collects schema changes; the migrator executes them (see module docs).
#[derive(Debug, Clone)]
pub struct Schema {
    backend: Backend,
    pub(crate) ops: Vec<SchemaOp>,
}

impl Schema {
    /// An empty schema change list for `backend`.
    pub fn new(backend: Backend) -> Self {
        Self {
            backend,
            ops: Vec::new(),
        }
    }

    /// The backend the SQL is for (migrations may branch on it).
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// `CREATE TABLE`.
    pub fn create(&mut self, table: &str, f: impl FnOnce(&mut Blueprint)) {
        let mut t = Blueprint::new(table);
        f(&mut t);
        self.ops.push(SchemaOp::Create(t));
    }

    /// Change an existing table: add columns, indexes, drop/rename columns.
    pub fn table(&mut self, table: &str, f: impl FnOnce(&mut Blueprint)) {
        let mut t = Blueprint::new(table);
        f(&mut t);
        self.ops.push(SchemaOp::Alter(t));
    }

    /// `DROP TABLE`.
    pub fn drop(&mut self, table: &str) {
        self.ops.push(SchemaOp::Drop {
            table: table.to_owned(),
            if_exists: false,
        });
    }

    /// `DROP TABLE IF EXISTS`.
    pub fn drop_if_exists(&mut self, table: &str) {
        self.ops.push(SchemaOp::Drop {
            table: table.to_owned(),
            if_exists: true,
        });
    }

    /// `ALTER TABLE … RENAME TO …`.
    pub fn rename(&mut self, from: &str, to: &str) {
        self.ops
            .push(SchemaOp::Rename(from.to_owned(), to.to_owned()));
    }

    /// A raw statement (data fixes, what the builder cannot say); the text is the app's own.
    pub fn raw(&mut self, sql: &str) {
        self.ops.push(SchemaOp::Raw(sql.to_owned()));
    }

    /// The SQL for every change that needs no look at the database. On SQLite, dropping a
    /// column or a foreign key rebuilds the table from its current definition when migrating;
    /// here it shows SQLite's plain `DROP COLUMN` (and refuses `drop_foreign`).
    pub fn to_sql(&self) -> DbResult<Vec<String>> {
        let mut out = Vec::new();
        for op in &self.ops {
            out.extend(op_sql(self.backend, op)?);
        }
        Ok(out)
    }
}

/// The statements for one op.
pub(crate) fn op_sql(backend: Backend, op: &SchemaOp) -> DbResult<Vec<String>> {
    let mut out = Vec::new();
    match op {
        SchemaOp::Create(t) => {
            let mut parts: Vec<String> = t
                .columns
                .iter()
                .map(|c| c.sql(backend, true, false))
                .collect();
            for c in &t.columns {
                if let Some(fk) = &c.foreign {
                    parts.push(format!(
                        "CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {}",
                        quote(&fk.name),
                        quote(&fk.column),
                        fk_target(fk)
                    ));
                }
            }
            for cmd in &t.commands {
                if let Command::Primary(cols) = cmd {
                    let cols: Vec<String> = cols.iter().map(|c| quote(c)).collect();
                    parts.push(format!("PRIMARY KEY ({})", cols.join(", ")));
                }
            }
            if parts.is_empty() {
                return Err(DbError::InvalidQuery(format!(
                    "create table `{}` with no columns",
                    t.table
                )));
            }
            out.push(format!(
                "CREATE TABLE {} ({})",
                quote(&t.table),
                parts.join(", ")
            ));
            out.extend(index_sql(t));
            for cmd in &t.commands {
                if !matches!(cmd, Command::Index { .. } | Command::Primary(_)) {
                    out.extend(command_sql(backend, &t.table, cmd)?);
                }
            }
        }
        SchemaOp::Alter(t) => {
            for c in &t.columns {
                if c.primary || c.kind == ColumnType::BigIncrements {
                    return Err(DbError::InvalidQuery(format!(
                        "cannot add primary key column `{}` to existing table `{}`",
                        c.name, t.table
                    )));
                }
                let inline_fk = backend == Backend::Sqlite;
                out.push(format!(
                    "ALTER TABLE {} ADD COLUMN {}",
                    quote(&t.table),
                    c.sql(backend, false, inline_fk)
                ));
                if backend == Backend::Postgres
                    && let Some(fk) = &c.foreign
                {
                    out.push(format!(
                        "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {}",
                        quote(&t.table),
                        quote(&fk.name),
                        quote(&fk.column),
                        fk_target(fk)
                    ));
                }
            }
            out.extend(index_sql(t));
            for cmd in &t.commands {
                match cmd {
                    Command::Primary(_) => {
                        return Err(DbError::InvalidQuery(format!(
                            "a composite primary key can only be set when creating `{}`",
                            t.table
                        )));
                    }
                    Command::Index { .. } => {}
                    other => out.extend(command_sql(backend, &t.table, other)?),
                }
            }
        }
        SchemaOp::Drop { table, if_exists } => {
            let cascade = if backend == Backend::Postgres {
                " CASCADE"
            } else {
                ""
            };
            out.push(format!(
                "DROP TABLE {}{}{cascade}",
                if *if_exists { "IF EXISTS " } else { "" },
                quote(table)
            ));
        }
        SchemaOp::Rename(from, to) => out.push(format!(
            "ALTER TABLE {} RENAME TO {}",
            quote(from),
            quote(to)
        )),
        SchemaOp::Raw(sql) => out.push(sql.clone()),
    }
    Ok(out)
}

fn index_sql(t: &Blueprint) -> Vec<String> {
    let mut out = Vec::new();
    let create = |name: &str, cols: &[String], unique: bool| {
        let cols: Vec<String> = cols.iter().map(|c| quote(c)).collect();
        format!(
            "CREATE {}INDEX {} ON {} ({})",
            if unique { "UNIQUE " } else { "" },
            quote(name),
            quote(&t.table),
            cols.join(", ")
        )
    };
    for c in &t.columns {
        if c.unique {
            out.push(create(
                &index_name(&t.table, &[&c.name], "unique"),
                std::slice::from_ref(&c.name),
                true,
            ));
        }
        if c.index {
            out.push(create(
                &index_name(&t.table, &[&c.name], "index"),
                std::slice::from_ref(&c.name),
                false,
            ));
        }
    }
    for cmd in &t.commands {
        if let Command::Index {
            name,
            columns,
            unique,
        } = cmd
        {
            out.push(create(name, columns, *unique));
        }
    }
    out
}

fn command_sql(backend: Backend, table: &str, cmd: &Command) -> DbResult<Vec<String>> {
    Ok(match cmd {
        Command::DropIndex(name) => vec![format!("DROP INDEX {}", quote(name))],
        Command::DropColumn(column) => vec![format!(
            "ALTER TABLE {} DROP COLUMN {}",
            quote(table),
            quote(column)
        )],
        Command::RenameColumn(from, to) => vec![format!(
            "ALTER TABLE {} RENAME COLUMN {} TO {}",
            quote(table),
            quote(from),
            quote(to)
        )],
        Command::DropForeign(name) => {
            if backend == Backend::Sqlite {
                return Err(DbError::InvalidQuery(format!(
                    "SQLite cannot drop foreign key `{name}` on `{table}`; drop the column instead"
                )));
            }
            vec![format!(
                "ALTER TABLE {} DROP CONSTRAINT {}",
                quote(table),
                quote(name)
            )]
        }
        Command::Index { .. } | Command::Primary(_) => Vec::new(),
    })
}

/// What SQLite must rebuild a table for: an alteration that drops columns or foreign keys.
#[derive(Debug)]
pub(crate) struct SqliteRebuild {
    /// The rest of the alteration (added columns, indexes, renames), run first.
    pub(crate) rest: SchemaOp,
    pub(crate) table: String,
    pub(crate) drop_columns: Vec<String>,
    pub(crate) drop_foreign_keys: Vec<String>,
}

/// Split a SQLite alteration that needs a table rebuild; `None` when it does not.
pub(crate) fn sqlite_rebuild(op: &SchemaOp) -> Option<SqliteRebuild> {
    let SchemaOp::Alter(t) = op else {
        return None;
    };
    let mut rest = t.clone();
    let (mut drop_columns, mut drop_foreign_keys) = (Vec::new(), Vec::new());
    rest.commands.retain(|c| match c {
        Command::DropColumn(column) => {
            drop_columns.push(column.clone());
            false
        }
        Command::DropForeign(name) => {
            drop_foreign_keys.push(name.clone());
            false
        }
        _ => true,
    });
    (!drop_columns.is_empty() || !drop_foreign_keys.is_empty()).then(|| SqliteRebuild {
        rest: SchemaOp::Alter(rest),
        table: t.table.clone(),
        drop_columns,
        drop_foreign_keys,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn laravel_index_names() {
        assert_eq!(
            index_name("users", &["email"], "unique"),
            "users_email_unique"
        );
        assert_eq!(
            index_name("Posts", &["user_id", "created_at"], "index"),
            "posts_user_id_created_at_index"
        );
    }

    #[test]
    fn quoting_escapes_identifiers_and_literals() {
        assert_eq!(quote("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("it's"), "'it''s'");
    }

    #[test]
    fn create_renders_for_both_dialects() {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let mut s = Schema::new(backend);
            s.create("comments", |t| {
                t.id();
                t.foreign_id("post_id").constrained().cascade_on_delete();
                t.enumeration("status", &["draft", "it's live"])
                    .default("draft");
                t.integer("likes").unsigned().default(0);
                t.unique(&["post_id", "status"]);
            });
            let sql = s.to_sql().unwrap();
            assert!(sql[0].contains(r#"CONSTRAINT "comments_post_id_foreign" FOREIGN KEY ("post_id") REFERENCES "posts" ("id") ON DELETE CASCADE"#), "{}", sql[0]);
            assert!(
                sql[0].contains(r#"CHECK ("status" IN ('draft', 'it''s live'))"#),
                "{}",
                sql[0]
            );
            assert!(
                sql[0].contains(r#""likes" INTEGER NOT NULL DEFAULT 0 CHECK ("likes" >= 0)"#),
                "{}",
                sql[0]
            );
            assert_eq!(
                sql[1],
                r#"CREATE UNIQUE INDEX "comments_post_id_status_unique" ON "comments" ("post_id", "status")"#
            );
        }
        let mut s = Schema::new(Backend::Sqlite);
        s.table("users", |t| t.drop_foreign("team_id"));
        assert!(s.to_sql().is_err(), "SQLite cannot drop a foreign key");
    }
}
