//! Validator behaviour: validated data, exclusion, stop-on-first-failure, custom and async
//! rules, database rules through a presence verifier, files, passwords, developer errors.

use std::sync::Arc;

use foundry_validation::{
    AsyncValidationError, AsyncValidator, BoxFuture, InMemoryPresenceVerifier, Password,
    PresenceError, PresenceQuery, PresenceVerifier, Rule, UploadedFile, Validator,
};
use serde_json::{Value, json};

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn validated_returns_only_fields_with_rules() {
    let data = json!({"name": "Ada", "admin": true, "items": [{"sku": "a", "secret": 1}], "meta": {"x": 1}});
    let out = Validator::new(
        data,
        [
            ("name", "required"),
            ("items", "array"),
            ("items.*.sku", "required"),
            ("missing", "nullable"),
        ],
    )
    .unwrap()
    .validate()
    .unwrap();
    assert_eq!(out, json!({"name": "Ada", "items": [{"sku": "a"}]}));
}

#[test]
fn validated_keeps_whole_arrays_without_child_rules() {
    let out = Validator::new(json!({"tags": ["a", "b"]}), [("tags", "array")])
        .unwrap()
        .validate()
        .unwrap();
    assert_eq!(out, json!({"tags": ["a", "b"]}));
}

#[test]
fn excluded_fields_leave_validated_data() {
    let data = json!({"has_appointment": false, "doctor": "x", "name": "Ada"});
    let out = Validator::new(
        data,
        [
            ("has_appointment", "required|boolean"),
            (
                "doctor",
                "exclude_if:has_appointment,false|required|integer",
            ),
            ("name", "required"),
        ],
    )
    .unwrap()
    .validate()
    .unwrap();
    assert_eq!(out, json!({"has_appointment": false, "name": "Ada"}));
}

#[test]
fn validate_returns_errors_on_failure() {
    let err = Validator::new(json!({"a": "x"}), [("a", "integer")])
        .unwrap()
        .validate()
        .unwrap_err();
    assert_eq!(err.first("a"), Some("The a field must be an integer."));
    assert_eq!(err.len(), 1);
}

#[test]
fn stop_on_first_failure_stops_all_fields() {
    let mut v = Validator::new(json!({}), [("a", "required"), ("b", "required")])
        .unwrap()
        .stop_on_first_failure();
    assert_eq!(v.errors().len(), 1);
    let mut v = Validator::new(json!({}), [("a", "required"), ("b", "required")]).unwrap();
    assert_eq!(v.errors().len(), 2);
}

#[test]
fn errors_keep_rule_order_and_fields_order() {
    let mut v = Validator::new(
        json!({"b": "x", "a": "y"}),
        [("b", "integer|min:5"), ("a", "integer")],
    )
    .unwrap();
    let fields: Vec<_> = v.errors().fields().map(str::to_owned).collect();
    assert_eq!(fields, ["b", "a"]);
    assert_eq!(v.errors().get("b").len(), 2);
}

#[test]
fn after_hook_adds_errors() {
    let mut v = Validator::new(json!({"a": 1}), [("a", "integer")])
        .unwrap()
        .after(|data, errors| {
            if data["a"] == 1 {
                errors.add("a", "One is not allowed.");
            }
        });
    assert_eq!(v.errors().first("a"), Some("One is not allowed."));
}

#[test]
fn same_field_given_twice_merges_rules() {
    let mut v = Validator::new(json!({"a": "x"}), [("a", "string"), ("a", "integer")]).unwrap();
    assert_eq!(v.failed(), [("a".to_owned(), "integer".to_owned())]);
}

#[test]
fn typed_builders_and_rule_lists() {
    let rules = vec![
        Rule::required(),
        Rule::string(),
        Rule::max(3),
        Rule::in_list(["abc", "de"]),
    ];
    let mut v = Validator::new(json!({"code": "abcd"}), [("code", rules)]).unwrap();
    assert_eq!(
        v.failed()
            .iter()
            .map(|(_, r)| r.as_str())
            .collect::<Vec<_>>(),
        ["max", "in"]
    );
    // A list of strings: a regex may contain a pipe.
    let mut v = Validator::new(
        json!({"x": "b"}),
        [("x", vec!["required", "regex:/^(a|b)$/"])],
    )
    .unwrap();
    assert!(v.passes());
    let mut v =
        Validator::new(json!({"x": "d"}), [("x", ["required", "regex:/^(a|b)$/"])]).unwrap();
    assert!(v.fails());
}

#[test]
fn malformed_rules_are_developer_errors_not_failures() {
    for (rules, rule) in [
        ("required|max:abc", "max:abc"),
        ("foo", "foo"),
        ("between:1", "between:1"),
        ("regex:/(/", "regex:/(/"),
    ] {
        let err = Validator::new(json!({"a": "x"}), [("a", rules)]).unwrap_err();
        assert_eq!(err.rule(), rule);
        assert_eq!(err.field(), "a");
    }
    // Database rules need the async validator.
    let err = Validator::new(json!({}), [("email", "unique:users")]).unwrap_err();
    assert!(err.to_string().contains("AsyncValidator"), "{err}");
    assert!(Validator::new(json!({}), [("a", "unique")]).is_err());
    assert!(AsyncValidator::new(json!({}), [("a", "unique")]).is_err());
}

#[test]
fn custom_rules_implicit_and_data_aware() {
    // Not implicit: skipped on absent values.
    let rule = Rule::custom(|_, _| Err("never".into()));
    let mut v = Validator::new(json!({}), [("a", vec![rule])]).unwrap();
    assert!(v.passes());
    // Implicit: runs on absent values.
    let rule = Rule::custom_implicit(|v, _| {
        if v.is_null() {
            Err("The :attribute is needed.".into())
        } else {
            Ok(())
        }
    });
    let mut v = Validator::new(json!({}), [("a", vec![rule])]).unwrap();
    assert_eq!(v.errors().first("a"), Some("The a is needed."));
    // Data-aware: sees the other fields and the expanded attribute.
    let rule = Rule::custom(|v, ctx| {
        let limit = ctx.get("limit").and_then(Value::as_i64).unwrap_or(0);
        if v.as_i64().unwrap_or(0) > limit {
            Err(format!("{} is over {limit}", ctx.attribute()))
        } else {
            Ok(())
        }
    });
    let mut v = Validator::new(json!({"limit": 3, "xs": [1, 5]}), [("xs.*", vec![rule])]).unwrap();
    assert_eq!(v.errors().first("xs.1"), Some("xs.1 is over 3"));
    assert!(!v.errors().has("xs.0"));
}

#[test]
fn async_custom_rule() {
    let rule = Rule::custom_async(|value, data| async move {
        tokio::task::yield_now().await;
        if value == data["reserved"] {
            Err("The :attribute is reserved.".into())
        } else {
            Ok(())
        }
    });
    let v = AsyncValidator::new(
        json!({"name": "root", "reserved": "root"}),
        [("name", vec![Rule::required(), rule])],
    )
    .unwrap();
    let err = block_on(v.validate()).unwrap_err();
    assert_eq!(
        err.errors().unwrap().first("name"),
        Some("The name is reserved.")
    );
}

fn users_db() -> Arc<InMemoryPresenceVerifier> {
    let db = InMemoryPresenceVerifier::new();
    db.insert(
        "users",
        json!({"id": 1, "email": "ada@example.com", "account_id": 1, "deleted_at": null}),
    );
    db.insert(
        "users",
        json!({"id": 2, "email": "bob@example.com", "account_id": 2, "deleted_at": "2024-01-01"}),
    );
    db.insert("roles", json!({"id": 1, "name": "admin"}));
    db.insert("roles", json!({"id": 2, "name": "editor"}));
    Arc::new(db)
}

fn db_errors(data: Value, rules: &str) -> Vec<String> {
    let v = AsyncValidator::new(data, [("email", rules)])
        .unwrap()
        .presence_verifier(users_db());
    block_on(v.errors()).unwrap().get("email").to_vec()
}

#[test]
fn unique_rule_semantics() {
    assert_eq!(
        db_errors(json!({"email": "ada@example.com"}), "unique:users,email"),
        ["The email has already been taken."]
    );
    assert!(db_errors(json!({"email": "new@example.com"}), "unique:users,email").is_empty());
    // Column defaults to the attribute name.
    assert_eq!(
        db_errors(json!({"email": "ada@example.com"}), "unique:users").len(),
        1
    );
    // Ignore a row by id, and by another id column.
    assert!(db_errors(json!({"email": "ada@example.com"}), "unique:users,email,1").is_empty());
    assert!(
        db_errors(
            json!({"email": "ada@example.com"}),
            "unique:users,email,1,id"
        )
        .is_empty()
    );
    assert_eq!(
        db_errors(json!({"email": "ada@example.com"}), "unique:users,email,2").len(),
        1
    );
    // Extra where clauses.
    assert!(
        db_errors(
            json!({"email": "ada@example.com"}),
            "unique:users,email,NULL,id,account_id,2"
        )
        .is_empty()
    );
    assert!(
        db_errors(
            json!({"email": "bob@example.com"}),
            "unique:users,email,NULL,id,deleted_at,NULL"
        )
        .is_empty()
    );
    // Empty values skip non-implicit rules, so unique passes on "".
    assert!(db_errors(json!({"email": ""}), "unique:users,email").is_empty());
    // A failed earlier rule skips the database rule.
    assert_eq!(
        db_errors(json!({"email": "ada@"}), "email|unique:users,email"),
        ["The email field must be a valid email address."]
    );
}

#[test]
fn exists_rule_semantics() {
    let errors = |data: Value, rules: &str| {
        let v = AsyncValidator::new(data, [("role", rules)])
            .unwrap()
            .presence_verifier(users_db());
        block_on(v.errors()).unwrap().get("role").to_vec()
    };
    assert!(errors(json!({"role": "admin"}), "exists:roles,name").is_empty());
    assert_eq!(
        errors(json!({"role": "owner"}), "exists:roles,name"),
        ["The selected role is invalid."]
    );
    assert!(errors(json!({"role": 2}), "exists:roles,id").is_empty());
    assert!(
        errors(
            json!({"role": ["admin", "editor", "admin"]}),
            "array|exists:roles,name"
        )
        .is_empty()
    );
    assert_eq!(
        errors(
            json!({"role": ["admin", "owner"]}),
            "array|exists:roles,name"
        )
        .len(),
        1
    );
    assert!(errors(json!({"role": "admin"}), "exists:roles,name,id,1").is_empty());
    assert_eq!(
        errors(json!({"role": "admin"}), "exists:roles,name,id,2").len(),
        1
    );
    // Wildcard: the column defaults to the last segment.
    let v = AsyncValidator::new(
        json!({"roles": [{"name": "admin"}, {"name": "x"}]}),
        [("roles.*.name", "exists:roles")],
    )
    .unwrap()
    .presence_verifier(users_db());
    let errors = block_on(v.errors()).unwrap();
    assert!(!errors.has("roles.0.name"));
    assert_eq!(
        errors.first("roles.1.name"),
        Some("The selected roles.1.name is invalid.")
    );
}

#[test]
fn typed_database_rules() {
    let rule: Rule = Rule::unique("users", "email").ignore(1).into();
    let v = AsyncValidator::new(json!({"email": "ada@example.com"}), [("email", vec![rule])])
        .unwrap()
        .presence_verifier(users_db());
    assert!(block_on(v.passes()).unwrap());
}

struct DownVerifier;

impl PresenceVerifier for DownVerifier {
    fn count<'a>(&'a self, query: &'a PresenceQuery) -> BoxFuture<'a, Result<u64, PresenceError>> {
        Box::pin(async move {
            Err(PresenceError {
                table: query.table.clone(),
                message: "connection refused".into(),
            })
        })
    }
}

#[test]
fn verifier_failures_are_infrastructure_errors() {
    let v = AsyncValidator::new(json!({"email": "a@b.c"}), [("email", "unique:users")])
        .unwrap()
        .presence_verifier(Arc::new(DownVerifier));
    let err = block_on(v.validate()).unwrap_err();
    assert!(matches!(err, AsyncValidationError::Presence(_)));
    let core: foundry_core::Error = err.into();
    assert_eq!(core.status(), http::StatusCode::INTERNAL_SERVER_ERROR);
    // No verifier at all: also an error, never a silent pass.
    let v = AsyncValidator::new(json!({"email": "a@b.c"}), [("email", "unique:users")]).unwrap();
    assert!(block_on(v.validate()).is_err());
}

#[test]
fn password_builder() {
    let policy = || Password::min(8).mixed_case().letters().numbers().symbols();
    let check = |pw: Value| {
        let mut v = Validator::new(
            json!({"password": pw}),
            [("password", vec![Rule::from(policy())])],
        )
        .unwrap();
        v.errors().get("password").to_vec()
    };
    assert!(check(json!("Str0ng!pass")).is_empty());
    assert_eq!(check(json!("short")).len(), 4);
    assert_eq!(
        check(json!("alllowercase1!")),
        ["The password field must contain at least one uppercase and one lowercase letter."]
    );
    assert_eq!(
        check(json!("NoDigits!!")),
        ["The password field must contain at least one number."]
    );
    assert_eq!(
        check(json!("NoSymbols12")),
        ["The password field must contain at least one symbol."]
    );
    assert_eq!(
        check(json!(12345678)),
        [
            "The password field must be a string.",
            "The password field must be at least 8 characters."
        ]
    );
    let mut v = Validator::new(
        json!({"p": "abcdefghijk"}),
        [("p", vec![Rule::from(Password::min(2).max(10))])],
    )
    .unwrap();
    assert_eq!(
        v.errors().first("p"),
        Some("The p field must not be greater than 10 characters.")
    );
}

fn png(size: usize) -> UploadedFile {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.resize(size, 0);
    UploadedFile::new("photo.png", Some("image/png"), bytes)
}

#[test]
fn file_rules() {
    let check = |file: UploadedFile, rules: &str| {
        let mut v = Validator::new(json!({}), [("f", rules)])
            .unwrap()
            .file("f", file);
        v.failed()
            .iter()
            .map(|(_, r)| r.clone())
            .collect::<Vec<_>>()
    };
    assert!(
        check(
            png(2048),
            "required|file|image|mimes:png,jpg|mimetypes:image/*|extensions:png|max:2|min:1"
        )
        .is_empty()
    );
    assert_eq!(check(png(3000), "image|max:2"), ["max"]);
    assert_eq!(check(png(100), "size:1"), ["size"]);
    assert_eq!(check(png(1024), "size:1"), Vec::<String>::new());
    assert_eq!(check(png(100), "mimes:jpg"), ["mimes"]);
    // The client's name and type are not trusted for the content checks.
    let fake = UploadedFile::new("evil.png", Some("image/png"), b"<?php echo 1; ?>".to_vec());
    assert_eq!(check(fake.clone(), "image"), ["image"]);
    assert_eq!(check(fake, "extensions:png"), Vec::<String>::new());
    let csv = UploadedFile::new("data.csv", Some("text/csv"), b"a,b\n1,2\n".to_vec());
    assert!(check(csv, "file|mimes:csv,txt").is_empty());
    let svg = UploadedFile::new(
        "x.svg",
        None,
        b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(),
    );
    assert_eq!(check(svg.clone(), "image"), ["image"]);
    assert!(check(svg, "image:allow_svg").is_empty());
    // A plain value is not a file.
    let mut v = Validator::new(json!({"f": "photo.png"}), [("f", "file")]).unwrap();
    assert_eq!(v.errors().first("f"), Some("The f field must be a file."));
    let mut v = Validator::new(json!({}), [("f", "required|file")]).unwrap();
    assert_eq!(v.errors().first("f"), Some("The f field is required."));
    // Size messages use kilobytes.
    let mut v = Validator::new(json!({}), [("f", "max:1")])
        .unwrap()
        .file("f", png(4096));
    assert_eq!(
        v.errors().first("f"),
        Some("The f field must not be greater than 1 kilobytes.")
    );
}

#[test]
fn wildcard_files() {
    let mut v = Validator::new(
        json!({}),
        [("photos", "array|max:3"), ("photos.*", "image")],
    )
    .unwrap()
    .file("photos.0", png(10))
    .file(
        "photos.1",
        UploadedFile::new("a.txt", None, b"hello".to_vec()),
    );
    assert_eq!(v.failed(), [("photos.1".to_owned(), "image".to_owned())]);
}

#[test]
fn any_of_passes_when_one_rule_set_passes() {
    let id = || Rule::any_of(["required|integer|min:1", "required|uuid"]).unwrap();
    for ok in [
        json!(5),
        json!("5"),
        json!("550e8400-e29b-41d4-a716-446655440000"),
    ] {
        let mut v = Validator::new(json!({"id": ok}), [("id", vec![id()])]).unwrap();
        assert!(v.passes(), "{ok}");
    }
    for bad in [json!(0), json!("nope"), json!([1])] {
        let mut v = Validator::new(json!({"id": bad}), [("id", vec![id()])]).unwrap();
        assert_eq!(v.errors().get("id"), ["The id field is invalid."], "{bad}");
    }
    // Like other non-implicit rules, it is skipped on absent values.
    let mut v = Validator::new(json!({}), [("id", vec![id()])]).unwrap();
    assert!(v.passes());
    // Malformed nested rules and empty lists are developer errors; async nested rules need the
    // async validator.
    assert!(Rule::any_of(["max:x"]).is_err());
    assert!(Rule::any_of(Vec::<&str>::new()).is_err());
    let nested_db = Rule::any_of(["unique:users"]).unwrap();
    assert!(Validator::new(json!({}), [("id", vec![nested_db])]).is_err());
}
