//! Messages: Laravel's exact English, placeholders, attribute names, lookup order, locales.

use std::sync::Arc;

use foundry_validation::{Translator, Validator};
use serde_json::{Value, json};

fn first(data: Value, field: &str, rules: &str) -> String {
    let mut v = Validator::new(data, [(field, rules)]).unwrap();
    v.errors()
        .first(field)
        .map(str::to_owned)
        .unwrap_or_default()
}

#[test]
fn english_lines_word_for_word() {
    let cases: &[(Value, &str, &str, &str)] = &[
        (
            json!({}),
            "email",
            "required",
            "The email field is required.",
        ),
        (
            json!({"email": "x"}),
            "email",
            "email",
            "The email field must be a valid email address.",
        ),
        (
            json!({"name": "abcd"}),
            "name",
            "max:3",
            "The name field must not be greater than 3 characters.",
        ),
        (
            json!({"age": 5}),
            "age",
            "integer|min:18",
            "The age field must be at least 18.",
        ),
        (
            json!({"tags": [1, 2, 3]}),
            "tags",
            "array|max:2",
            "The tags field must not have more than 2 items.",
        ),
        (
            json!({"n": "ab"}),
            "n",
            "between:3,5",
            "The n field must be between 3 and 5 characters.",
        ),
        (
            json!({"n": 9}),
            "n",
            "numeric|between:3,5",
            "The n field must be between 3 and 5.",
        ),
        (
            json!({"n": "abc"}),
            "n",
            "size:2",
            "The n field must be 2 characters.",
        ),
        (
            json!({"s": "x"}),
            "s",
            "in:a,b",
            "The selected s is invalid.",
        ),
        (
            json!({"s": "x"}),
            "s",
            "starts_with:a,b",
            "The s field must start with one of the following: a, b.",
        ),
        (
            json!({"d": "2024-01-01"}),
            "d",
            "after:2024-06-01",
            "The d field must be a date after 2024-06-01.",
        ),
        (
            json!({"d": "x"}),
            "d",
            "date_format:Y-m-d",
            "The d field must match the format Y-m-d.",
        ),
        (
            json!({"d": "1.5"}),
            "d",
            "decimal:2,4",
            "The d field must have 2-4 decimal places.",
        ),
        (
            json!({"d": "123"}),
            "d",
            "digits:4",
            "The d field must be 4 digits.",
        ),
        (
            json!({"d": "1"}),
            "d",
            "digits_between:2,4",
            "The d field must be between 2 and 4 digits.",
        ),
        (
            json!({"n": 3}),
            "n",
            "gt:4",
            "The n field must be greater than 4.",
        ),
        (
            json!({"n": 7}),
            "n",
            "multiple_of:5",
            "The n field must be a multiple of 5.",
        ),
        (
            json!({"p": "a", "q": "b"}),
            "p",
            "same:q",
            "The p field must match q.",
        ),
        (
            json!({"p": "a"}),
            "p",
            "confirmed",
            "The p field confirmation does not match.",
        ),
        (
            json!({"t": "no"}),
            "t",
            "accepted",
            "The t field must be accepted.",
        ),
        (
            json!({"c": "x"}),
            "c",
            "uuid",
            "The c field must be a valid UUID.",
        ),
        (
            json!({"c": "x"}),
            "c",
            "boolean",
            "The c field must be true or false.",
        ),
        (
            json!({"x": "y"}),
            "x",
            "prohibited",
            "The x field is prohibited.",
        ),
    ];
    for (data, field, rules, want) in cases {
        assert_eq!(
            first(data.clone(), field, rules),
            *want,
            "{field} => {rules}"
        );
    }
}

#[test]
fn other_field_placeholders() {
    assert_eq!(
        first(
            json!({"payment_type": "card"}),
            "card_number",
            "required_if:payment_type,card"
        ),
        "The card number field is required when payment type is card."
    );
    assert_eq!(
        first(
            json!({"is_company": true}),
            "vat_id",
            "required_if:is_company,true"
        ),
        "The vat id field is required when is company is true."
    );
    assert_eq!(
        first(
            json!({"role": "guest"}),
            "team",
            "required_unless:role,admin,owner"
        ),
        "The team field is required unless role is in admin, owner."
    );
    assert_eq!(
        first(
            json!({"first_name": "a"}),
            "last_name",
            "required_with:first_name,middle_name"
        ),
        "The last name field is required when first name / middle name is present."
    );
    assert_eq!(
        first(json!({}), "email", "required_without_all:phone,fax"),
        "The email field is required when none of phone / fax are present."
    );
    assert_eq!(
        first(
            json!({"ends_at": "2024-01-01", "starts_at": "2024-02-01"}),
            "ends_at",
            "after:starts_at"
        ),
        "The ends at field must be a date after starts at."
    );
    assert_eq!(
        first(json!({"n": 2, "m": 5}), "n", "integer|gte:m"),
        "The n field must be greater than or equal to 5."
    );
}

#[test]
fn attribute_names_from_snake_and_camel_case() {
    assert_eq!(
        first(json!({}), "team_name", "required"),
        "The team name field is required."
    );
    assert_eq!(
        first(json!({}), "firstName", "required"),
        "The first name field is required."
    );
    // Wildcard-expanded keys are shown raw (Laravel's behaviour).
    let mut v = Validator::new(
        json!({"users": [{"email": "x"}]}),
        [("users.*.email", "email")],
    )
    .unwrap();
    assert_eq!(
        v.errors().first("users.0.email"),
        Some("The users.0.email field must be a valid email address.")
    );
}

#[test]
fn index_and_position_placeholders() {
    let mut v = Validator::new(
        json!({"items": [{"sku": "a"}, {}]}),
        [("items.*.sku", "required")],
    )
    .unwrap()
    .messages([(
        "items.*.sku.required",
        "Item #:position (index :index) needs a SKU.",
    )]);
    assert_eq!(
        v.errors().first("items.1.sku"),
        Some("Item #2 (index 1) needs a SKU.")
    );
}

#[test]
fn lookup_order_inline_then_lang_custom_then_rule() {
    let data = json!({"email": ""});
    // 1. inline `field.rule`
    let mut v = Validator::new(data.clone(), [("email", "required")])
        .unwrap()
        .messages([
            ("required", "generic"),
            ("email.required", "specific :attribute"),
        ]);
    assert_eq!(v.errors().first("email"), Some("specific email"));
    // 2. inline `rule`
    let mut v = Validator::new(data.clone(), [("email", "required")])
        .unwrap()
        .messages([("required", "The :Attribute is missing!")]);
    assert_eq!(v.errors().first("email"), Some("The Email is missing!"));
    // 3. language `custom.<attr>.<rule>` before 4. `rule`
    let mut t = Translator::new();
    t.add_lines(
        "en",
        &json!({"custom": {"email": {"required": "We need your e-mail."}}}),
    )
    .unwrap();
    let mut v = Validator::new(data.clone(), [("email", "required")])
        .unwrap()
        .translator(Arc::new(t));
    assert_eq!(v.errors().first("email"), Some("We need your e-mail."));
    // custom attribute names, per validator
    let mut v = Validator::new(data, [("email", "required")])
        .unwrap()
        .attributes([("email", "e-mail address")]);
    assert_eq!(
        v.errors().first("email"),
        Some("The e-mail address field is required.")
    );
}

#[test]
fn input_placeholder_and_values_lines() {
    let mut t = Translator::new();
    t.add_lines("en", &json!({"values": {"plan": {"pro": "Professional"}}}))
        .unwrap();
    let mut v = Validator::new(
        json!({"plan": "pro", "seats": "x"}),
        [("seats", "required_if:plan,pro|integer")],
    )
    .unwrap()
    .translator(Arc::new(t))
    .messages([("seats.integer", ":input is not a number")]);
    assert_eq!(v.errors().first("seats"), Some("x is not a number"));
    let mut t = Translator::new();
    t.add_lines("en", &json!({"values": {"plan": {"pro": "Professional"}}}))
        .unwrap();
    let mut v = Validator::new(json!({"plan": "pro"}), [("seats", "required_if:plan,pro")])
        .unwrap()
        .translator(Arc::new(t));
    assert_eq!(
        v.errors().first("seats"),
        Some("The seats field is required when plan is Professional.")
    );
}

#[test]
fn german_lines_and_fallback() {
    let mut v = Validator::new(
        json!({"name": "ab"}),
        [("name", "required|min:3"), ("email", "required")],
    )
    .unwrap()
    .locale("de");
    assert_eq!(
        v.errors().first("name"),
        Some("Das Feld name muss mindestens 3 Zeichen lang sein.")
    );
    assert_eq!(
        v.errors().first("email"),
        Some("Das Feld email ist erforderlich.")
    );
    // A locale without lines falls back to English.
    let mut v = Validator::new(json!({}), [("email", "required")])
        .unwrap()
        .locale("pt");
    assert_eq!(
        v.errors().first("email"),
        Some("The email field is required.")
    );
}

#[test]
fn summary_matches_laravel_422_message() {
    let mut v = Validator::new(
        json!({"team_name": 5}),
        [
            ("team_name", "string|max:10"),
            ("users.0.email", "required"),
        ],
    )
    .unwrap();
    let errors = v.errors().clone();
    assert_eq!(
        errors.summary(),
        "The team name field must be a string. (and 1 more error)"
    );
    let err: foundry_core::Error = errors.into();
    assert_eq!(err.status(), http::StatusCode::UNPROCESSABLE_ENTITY);
}

#[test]
fn every_shipped_german_line_has_the_english_placeholders() {
    let en: Value = serde_json::from_str(include_str!("../lang/en.json")).unwrap();
    let de: Value = serde_json::from_str(include_str!("../lang/de.json")).unwrap();
    fn walk(prefix: &str, en: &Value, de: &Value) {
        match (en, de) {
            (Value::Object(e), Value::Object(d)) => {
                for (k, v) in e {
                    let other = d.get(k).unwrap_or_else(|| panic!("de lacks {prefix}{k}"));
                    walk(&format!("{prefix}{k}."), v, other);
                }
            }
            (Value::String(e), Value::String(d)) => {
                for placeholder in [
                    ":attribute",
                    ":other",
                    ":values",
                    ":value",
                    ":min",
                    ":max",
                    ":size",
                    ":date",
                    ":format",
                    ":digits",
                    ":decimal",
                ] {
                    let count = |s: &str| s.matches(placeholder).count();
                    assert_eq!(
                        count(e) > 0,
                        count(d) > 0,
                        "{prefix} {placeholder}: {e} / {d}"
                    );
                }
            }
            _ => panic!("shape differs at {prefix}"),
        }
    }
    walk("", &en, &de);
}
