//! `unique` and `exists` through `DbPresenceVerifier` on SQLite and, when
//! `FOUNDRY_TEST_DATABASE_URL` is set, PostgreSQL (each run in its own schema).
#![cfg(feature = "db")]

use std::sync::Arc;

use foundry_db::{ConnectionConfig, Db};
use foundry_validation::{AsyncValidator, DbPresenceVerifier, Rule};
use serde_json::{Value, json};

async fn seed(db: &Db) {
    for sql in [
        "CREATE TABLE users (id BIGINT PRIMARY KEY, email TEXT NOT NULL, account_id INTEGER, deleted_at TEXT)",
        "CREATE TABLE roles (id INTEGER PRIMARY KEY, name TEXT NOT NULL, active BOOLEAN NOT NULL)",
        "INSERT INTO users (id, email, account_id, deleted_at) VALUES (1, 'ada@example.com', 1, NULL)",
        "INSERT INTO users (id, email, account_id, deleted_at) VALUES (2, 'bob@example.com', 2, '2024-01-01')",
        "INSERT INTO roles (id, name, active) VALUES (1, 'admin', TRUE)",
        "INSERT INTO roles (id, name, active) VALUES (2, 'editor', TRUE)",
        "INSERT INTO roles (id, name, active) VALUES (3, 'legacy', FALSE)",
    ] {
        db.statement(sql, vec![])
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

async fn messages(db: &Db, data: Value, field: &str, rules: &str) -> Vec<String> {
    let v = AsyncValidator::new(data, [(field, rules)])
        .unwrap()
        .presence_verifier(Arc::new(DbPresenceVerifier::new(db.clone())));
    v.errors()
        .await
        .unwrap_or_else(|e| panic!("{rules}: {e}"))
        .get(field)
        .to_vec()
}

async fn suite(db: Db) {
    seed(&db).await;
    let taken = vec!["The email has already been taken.".to_owned()];
    let invalid = vec!["The selected role is invalid.".to_owned()];
    // unique
    assert_eq!(
        messages(
            &db,
            json!({"email": "ada@example.com"}),
            "email",
            "unique:users,email"
        )
        .await,
        taken
    );
    assert_eq!(
        messages(
            &db,
            json!({"email": "ada@example.com"}),
            "email",
            "unique:users"
        )
        .await,
        taken
    );
    assert!(
        messages(
            &db,
            json!({"email": "new@example.com"}),
            "email",
            "unique:users,email"
        )
        .await
        .is_empty()
    );
    assert!(
        messages(
            &db,
            json!({"email": "ada@example.com"}),
            "email",
            "unique:users,email,1"
        )
        .await
        .is_empty()
    );
    assert!(
        messages(
            &db,
            json!({"email": "ada@example.com"}),
            "email",
            "unique:users,email,1,id"
        )
        .await
        .is_empty()
    );
    assert_eq!(
        messages(
            &db,
            json!({"email": "ada@example.com"}),
            "email",
            "unique:users,email,2"
        )
        .await,
        taken
    );
    assert!(
        messages(
            &db,
            json!({"email": "ada@example.com"}),
            "email",
            "unique:users,email,NULL,id,account_id,2"
        )
        .await
        .is_empty()
    );
    assert_eq!(
        messages(
            &db,
            json!({"email": "ada@example.com"}),
            "email",
            "unique:users,email,NULL,id,account_id,1"
        )
        .await,
        taken
    );
    assert!(
        messages(
            &db,
            json!({"email": "bob@example.com"}),
            "email",
            "unique:users,email,NULL,id,deleted_at,NULL"
        )
        .await
        .is_empty()
    );
    assert_eq!(
        messages(
            &db,
            json!({"email": "bob@example.com"}),
            "email",
            "unique:users,email,NULL,id,deleted_at,NOT_NULL"
        )
        .await,
        taken
    );
    assert!(
        messages(&db, json!({"email": ""}), "email", "unique:users,email")
            .await
            .is_empty()
    );
    // exists: text, integers given as numbers or strings, non-numeric ids, arrays, extra wheres
    assert!(
        messages(&db, json!({"role": "admin"}), "role", "exists:roles,name")
            .await
            .is_empty()
    );
    assert_eq!(
        messages(&db, json!({"role": "owner"}), "role", "exists:roles,name").await,
        invalid
    );
    assert!(
        messages(&db, json!({"role": 2}), "role", "exists:roles,id")
            .await
            .is_empty()
    );
    assert!(
        messages(&db, json!({"role": "2"}), "role", "exists:roles,id")
            .await
            .is_empty()
    );
    assert_eq!(
        messages(&db, json!({"role": "abc"}), "role", "exists:roles,id").await,
        invalid
    );
    assert_eq!(
        messages(&db, json!({"role": 9}), "role", "exists:roles,id").await,
        invalid
    );
    assert!(
        messages(
            &db,
            json!({"role": ["admin", "editor", "admin"]}),
            "role",
            "array|exists:roles,name"
        )
        .await
        .is_empty()
    );
    assert_eq!(
        messages(
            &db,
            json!({"role": ["admin", "owner"]}),
            "role",
            "array|exists:roles,name"
        )
        .await,
        invalid
    );
    assert!(
        messages(
            &db,
            json!({"role": "admin"}),
            "role",
            "exists:roles,name,active,1"
        )
        .await
        .is_empty()
    );
    assert_eq!(
        messages(
            &db,
            json!({"role": "legacy"}),
            "role",
            "exists:roles,name,active,1"
        )
        .await,
        invalid
    );
    assert!(
        messages(
            &db,
            json!({"role": "legacy"}),
            "role",
            "exists:roles,name,id,!1"
        )
        .await
        .is_empty()
    );
    // the typed builder
    let rule: Rule = Rule::unique("users", "email").ignore(1).into();
    let v = AsyncValidator::new(json!({"email": "ada@example.com"}), [("email", vec![rule])])
        .unwrap()
        .presence_verifier(Arc::new(DbPresenceVerifier::new(db.clone())));
    assert!(v.passes().await.unwrap());
    // a missing table is an infrastructure error, not a validation failure
    let v = AsyncValidator::new(json!({"x": "1"}), [("x", "exists:no_such_table,id")])
        .unwrap()
        .presence_verifier(Arc::new(DbPresenceVerifier::new(db.clone())));
    assert!(v.errors().await.is_err());
}

#[tokio::test]
async fn sqlite() {
    let db = Db::connect("sqlite::memory:")
        .await
        .expect("in-memory SQLite");
    suite(db).await;
}

#[tokio::test]
async fn postgres() {
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
    let schema = format!("foundry_validation_{}", std::process::id());
    admin
        .statement(
            &format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"),
            vec![],
        )
        .await
        .unwrap();
    admin
        .statement(&format!("CREATE SCHEMA \"{schema}\""), vec![])
        .await
        .unwrap();
    let mut config = ConnectionConfig::new(url);
    config.search_path = Some(schema.clone());
    config.max_connections = 2;
    let db = Db::connect_with("default", &config, std::path::Path::new("."))
        .await
        .expect("connect to the test schema");
    let result = tokio::spawn(suite(db.clone())).await;
    db.close().await;
    admin
        .statement(&format!("DROP SCHEMA \"{schema}\" CASCADE"), vec![])
        .await
        .unwrap();
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}
