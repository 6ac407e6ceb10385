//! Dropping columns and foreign keys on SQLite by rebuilding the table.
//!
//! SQLite's own `ALTER TABLE … DROP COLUMN` refuses columns that are part of a foreign key, a
//! `UNIQUE` or `PRIMARY KEY` constraint, or an index, and it cannot drop a foreign key at all.
//! So, like Laravel, the migrator rebuilds the table: it edits the table's stored
//! `CREATE TABLE` statement, copies the rows across and recreates the indexes and triggers.
//!
//! The migrator runs such a migration with foreign keys off (checked with
//! `PRAGMA foreign_key_check` before commit, see `TransactionOptions::sqlite_foreign_keys_off`).
//! With foreign keys off and `PRAGMA legacy_alter_table = ON`, renaming the old table away
//! leaves the foreign keys of *other* tables pointing at the table's name (SQLite rewrites them
//! otherwise), and dropping the renamed copy cascades into nothing. Everything runs inside the
//! migration's transaction: a failure leaves the table as it was.

use crate::error::{DbError, DbResult};
use crate::schema::{index_name, quote};

/// What the rebuild needs to know about the table as it is now.
#[derive(Debug, Clone, Default)]
pub(crate) struct SqliteTable {
    /// The table's name.
    pub(crate) name: String,
    /// Its `CREATE TABLE` statement from `sqlite_master`.
    pub(crate) create_sql: String,
    /// Its explicit indexes: name, `CREATE INDEX` statement, indexed columns.
    pub(crate) indexes: Vec<(String, String, Vec<String>)>,
    /// Its triggers' `CREATE TRIGGER` statements.
    pub(crate) triggers: Vec<String>,
    /// Whether it has a row in `sqlite_sequence` (an `AUTOINCREMENT` key).
    pub(crate) has_sequence: bool,
}

/// One part of a `CREATE TABLE` body: a column definition or a table constraint.
#[derive(Debug, Clone, PartialEq)]
enum Part {
    Column { name: String, sql: String },
    Constraint(String),
}

/// The statements that rebuild `table` without the columns `drop_columns` and the foreign keys
/// named `drop_foreign_keys`.
pub(crate) fn rebuild(
    table: &SqliteTable,
    drop_columns: &[String],
    drop_foreign_keys: &[String],
) -> DbResult<Vec<String>> {
    let invalid = |message: String| DbError::InvalidQuery(message);
    let (head, body) = split_create(&table.create_sql).ok_or_else(|| {
        invalid(format!(
            "cannot read the definition of SQLite table `{}` to rebuild it",
            table.name
        ))
    })?;
    let mut parts = split_parts(body);
    let columns: Vec<String> = parts
        .iter()
        .filter_map(|p| match p {
            Part::Column { name, .. } => Some(name.clone()),
            Part::Constraint(_) => None,
        })
        .collect();
    for column in drop_columns {
        if !columns.iter().any(|c| c.eq_ignore_ascii_case(column)) {
            return Err(invalid(format!(
                "cannot drop column `{column}` from `{}`: it has no such column (columns: {})",
                table.name,
                columns.join(", ")
            )));
        }
    }
    let dropped = |name: &str| drop_columns.iter().any(|d| d.eq_ignore_ascii_case(name));
    if columns.iter().all(|c| dropped(c)) {
        return Err(invalid(format!(
            "cannot drop every column of `{}`; drop the table instead",
            table.name
        )));
    }

    for fk in drop_foreign_keys {
        let before = parts.clone();
        parts = remove_foreign_key(parts, &table.name, fk);
        if parts == before {
            return Err(invalid(format!(
                "cannot drop foreign key `{fk}` on `{}`: the table has no such foreign key",
                table.name
            )));
        }
    }

    let mut kept_parts = Vec::new();
    for part in parts {
        match &part {
            Part::Column { name, .. } if dropped(name) => {}
            Part::Column { .. } => kept_parts.push(part),
            Part::Constraint(sql) => {
                let mentioned = constraint_columns(sql);
                let touches = mentioned.iter().any(|c| dropped(c));
                if touches && starts_with_keyword(strip_constraint_name(sql), "PRIMARY") {
                    return Err(invalid(format!(
                        "cannot drop a column of the primary key of `{}` ({sql})",
                        table.name
                    )));
                }
                if !touches {
                    kept_parts.push(part);
                }
            }
        }
    }
    let kept: Vec<String> = columns.iter().filter(|c| !dropped(c)).cloned().collect();
    let kept_list = kept.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ");
    let old = format!("__foundry_rebuild_{}", table.name);
    let body = kept_parts
        .iter()
        .map(|p| match p {
            Part::Column { sql, .. } | Part::Constraint(sql) => sql.as_str(),
        })
        .collect::<Vec<_>>()
        .join(", ");

    let mut out = vec![
        "PRAGMA legacy_alter_table = ON".to_owned(),
        format!(
            "ALTER TABLE {} RENAME TO {}",
            quote(&table.name),
            quote(&old)
        ),
        format!("{head}({body})"),
        format!(
            "INSERT INTO {} ({kept_list}) SELECT {kept_list} FROM {}",
            quote(&table.name),
            quote(&old)
        ),
    ];
    if table.has_sequence {
        out.push(format!(
            "UPDATE sqlite_sequence SET seq = (SELECT seq FROM sqlite_sequence WHERE name = {old_literal}) WHERE name = {new_literal}",
            old_literal = crate::schema::literal(&old),
            new_literal = crate::schema::literal(&table.name),
        ));
    }
    out.push(format!("DROP TABLE {}", quote(&old)));
    for (_, sql, columns) in &table.indexes {
        if !columns.iter().any(|c| dropped(c)) {
            out.push(sql.clone());
        }
    }
    out.extend(table.triggers.iter().cloned());
    out.push("PRAGMA legacy_alter_table = OFF".to_owned());
    Ok(out)
}

/// `CREATE TABLE "x" ` and the text between its outer parentheses.
fn split_create(sql: &str) -> Option<(&str, &str)> {
    let open = scan(sql).find(|&(_, c, depth)| c == '(' && depth == 0)?.0;
    let close = scan(sql)
        .filter(|&(i, c, depth)| i > open && c == ')' && depth == 1)
        .map(|(i, _, _)| i)
        .last()?;
    Some((&sql[..open], &sql[open + 1..close]))
}

/// The body's top-level comma-separated parts.
fn split_parts(body: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut push = |text: &str| {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        let is_constraint = ["CONSTRAINT", "PRIMARY", "FOREIGN", "UNIQUE", "CHECK"]
            .iter()
            .any(|k| starts_with_keyword(text, k));
        if is_constraint {
            parts.push(Part::Constraint(text.to_owned()));
        } else {
            parts.push(Part::Column {
                name: leading_identifier(text).unwrap_or_default(),
                sql: text.to_owned(),
            });
        }
    };
    for (i, c, depth) in scan(body) {
        if c == ',' && depth == 0 {
            push(&body[start..i]);
            start = i + 1;
        }
    }
    push(&body[start..]);
    parts
}

/// Remove the foreign key `name`: a table constraint `CONSTRAINT "name" FOREIGN KEY …`, or a
/// column's inline `CONSTRAINT "name" REFERENCES …` (how columns added later carry theirs), or,
/// for tables made before inline keys were named, the inline `REFERENCES …` of the column
/// whose Laravel-style key name is `name`.
fn remove_foreign_key(parts: Vec<Part>, table: &str, name: &str) -> Vec<Part> {
    let marker = format!("CONSTRAINT {}", quote(name));
    parts
        .into_iter()
        .filter_map(|part| match part {
            Part::Constraint(sql) if sql.starts_with(&marker) => None,
            Part::Column { name: column, sql } => {
                let cut = sql.find(&format!(" {marker} ")).or_else(|| {
                    (index_name(table, &[&column], "foreign") == name)
                        .then(|| find_keyword(&sql, "REFERENCES"))
                        .flatten()
                });
                let sql = match cut {
                    Some(at) => sql[..at].trim_end().to_owned(),
                    None => sql,
                };
                Some(Part::Column { name: column, sql })
            }
            other @ Part::Constraint(_) => Some(other),
        })
        .collect()
}

/// The columns a table constraint names (inside its first parentheses), or every quoted
/// identifier for `CHECK` constraints.
fn constraint_columns(sql: &str) -> Vec<String> {
    let rest = strip_constraint_name(sql);
    if starts_with_keyword(rest, "CHECK") {
        return quoted_identifiers(rest);
    }
    let Some((_, body)) = split_create(rest) else {
        return Vec::new();
    };
    // `FOREIGN KEY (a) REFERENCES t (b)`: `split_create` took the first parenthesis group.
    body.split(',')
        .filter_map(|c| leading_identifier(c.trim()))
        .collect()
}

fn strip_constraint_name(sql: &str) -> &str {
    if !starts_with_keyword(sql, "CONSTRAINT") {
        return sql;
    }
    let rest = sql["CONSTRAINT".len()..].trim_start();
    let name_len = identifier_len(rest);
    rest[name_len..].trim_start()
}

fn starts_with_keyword(text: &str, keyword: &str) -> bool {
    text.len() >= keyword.len()
        && text[..keyword.len()].eq_ignore_ascii_case(keyword)
        && text[keyword.len()..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_alphanumeric() && c != '_')
}

/// Where ` KEYWORD` starts outside quotes, if anywhere.
fn find_keyword(sql: &str, keyword: &str) -> Option<usize> {
    scan(sql)
        .filter(|&(i, c, _)| c == ' ' && starts_with_keyword(&sql[i + 1..], keyword))
        .map(|(i, _, _)| i)
        .next()
}

fn leading_identifier(text: &str) -> Option<String> {
    let len = identifier_len(text);
    (len > 0).then(|| unquote(&text[..len]))
}

fn identifier_len(text: &str) -> usize {
    match text.chars().next() {
        Some(open @ ('"' | '`' | '[')) => {
            let close = if open == '[' { ']' } else { open };
            let mut chars = text.char_indices().skip(1).peekable();
            while let Some((i, c)) = chars.next() {
                if c == close {
                    if close != ']' && chars.peek().is_some_and(|&(_, n)| n == close) {
                        chars.next();
                        continue;
                    }
                    return i + 1;
                }
            }
            text.len()
        }
        _ => text
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(text.len()),
    }
}

fn unquote(identifier: &str) -> String {
    match identifier.chars().next() {
        Some('"') => identifier[1..identifier.len() - 1].replace("\"\"", "\""),
        Some('`') => identifier[1..identifier.len() - 1].replace("``", "`"),
        Some('[') => identifier[1..identifier.len() - 1].to_owned(),
        _ => identifier.to_owned(),
    }
}

fn quoted_identifiers(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = sql;
    while let Some(at) = rest.find('"') {
        let len = identifier_len(&rest[at..]);
        out.push(unquote(&rest[at..at + len]));
        rest = &rest[at + len..];
    }
    out
}

/// Characters outside quoted strings and identifiers, with their byte offset and the
/// parenthesis depth before them.
fn scan(sql: &str) -> impl Iterator<Item = (usize, char, usize)> + '_ {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    sql.char_indices().filter_map(move |(i, c)| {
        if let Some(q) = quote {
            // A doubled quote inside a quoted run ends and reopens it: same effect.
            if c == q {
                quote = None;
            }
            return None;
        }
        match c {
            '\'' | '"' | '`' => {
                quote = Some(c);
                None
            }
            '[' => {
                quote = Some(']');
                None
            }
            '(' => {
                depth += 1;
                Some((i, c, depth - 1))
            }
            ')' => {
                let before = depth;
                depth = depth.saturating_sub(1);
                Some((i, c, before))
            }
            _ => Some((i, c, depth)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const POSTS: &str = r#"CREATE TABLE "posts" ("id" INTEGER PRIMARY KEY AUTOINCREMENT, "user_id" BIGINT NOT NULL, "title" VARCHAR(200) NOT NULL DEFAULT 'a, (b)', "status" VARCHAR(255) NOT NULL CHECK ("status" IN ('draft', 'published')), "editor_id" BIGINT CONSTRAINT "posts_editor_id_foreign" REFERENCES "users" ("id") ON DELETE SET NULL, CONSTRAINT "posts_user_id_foreign" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON DELETE CASCADE)"#;

    fn posts() -> SqliteTable {
        SqliteTable {
            name: "posts".into(),
            create_sql: POSTS.into(),
            indexes: vec![
                (
                    "posts_title_index".into(),
                    r#"CREATE INDEX "posts_title_index" ON "posts" ("title")"#.into(),
                    vec!["title".into()],
                ),
                (
                    "posts_status_index".into(),
                    r#"CREATE INDEX "posts_status_index" ON "posts" ("status")"#.into(),
                    vec!["status".into()],
                ),
            ],
            triggers: vec![],
            has_sequence: true,
        }
    }

    #[test]
    fn parts_respect_quotes_and_parentheses() {
        let (head, body) = split_create(POSTS).unwrap();
        assert_eq!(head, r#"CREATE TABLE "posts" "#);
        let parts = split_parts(body);
        assert_eq!(parts.len(), 6);
        assert!(
            matches!(&parts[2], Part::Column { name, sql } if name == "title" && sql.ends_with("'a, (b)'"))
        );
        assert!(
            matches!(&parts[5], Part::Constraint(sql) if sql.starts_with("CONSTRAINT \"posts_user_id_foreign\""))
        );
    }

    #[test]
    fn dropping_a_foreign_key_column_drops_its_constraint_and_indexes_on_it() {
        let sql = rebuild(&posts(), &["user_id".into(), "title".into()], &[]).unwrap();
        let create = &sql[2];
        assert!(!create.contains("user_id"), "{create}");
        assert!(!create.contains("\"title\""), "{create}");
        assert!(create.contains("CHECK (\"status\" IN"), "{create}");
        assert!(sql.iter().any(|s| s.contains("posts_status_index")));
        assert!(!sql.iter().any(|s| s.contains("posts_title_index")));
        assert!(sql[3].starts_with(r#"INSERT INTO "posts" ("id", "status", "editor_id") SELECT"#));
        assert!(sql.iter().any(|s| s.starts_with("UPDATE sqlite_sequence")));
        assert_eq!(sql.first().unwrap(), "PRAGMA legacy_alter_table = ON");
        assert_eq!(sql.last().unwrap(), "PRAGMA legacy_alter_table = OFF");
    }

    #[test]
    fn dropping_foreign_keys_keeps_the_columns() {
        let sql = rebuild(
            &posts(),
            &[],
            &[
                "posts_user_id_foreign".into(),
                "posts_editor_id_foreign".into(),
            ],
        )
        .unwrap();
        let create = &sql[2];
        assert!(!create.contains("REFERENCES"), "{create}");
        assert!(create.ends_with(r#""editor_id" BIGINT)"#), "{create}");
        assert!(create.contains(r#""user_id" BIGINT NOT NULL"#), "{create}");
    }

    #[test]
    fn mistakes_are_clear_errors() {
        let err = rebuild(&posts(), &["nope".into()], &[]).unwrap_err();
        assert!(err.to_string().contains("no such column"), "{err}");
        let err = rebuild(&posts(), &[], &["posts_nope_foreign".into()]).unwrap_err();
        assert!(err.to_string().contains("no such foreign key"), "{err}");
        let all: Vec<String> = ["id", "user_id", "title", "status", "editor_id"]
            .map(String::from)
            .to_vec();
        let err = rebuild(&posts(), &all, &[]).unwrap_err();
        assert!(err.to_string().contains("drop the table instead"), "{err}");
        let composite = SqliteTable {
            name: "post_tag".into(),
            create_sql: r#"CREATE TABLE "post_tag" ("post_id" BIGINT, "tag_id" BIGINT, PRIMARY KEY ("post_id", "tag_id"))"#.into(),
            ..SqliteTable::default()
        };
        let err = rebuild(&composite, &["tag_id".into()], &[]).unwrap_err();
        assert!(err.to_string().contains("primary key"), "{err}");
    }
}
