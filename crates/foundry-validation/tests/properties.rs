//! Property tests: the parser never panics on arbitrary text, and the validator never panics
//! on arbitrary JSON and rules.

use foundry_validation::{Validator, parse_rules};
use proptest::prelude::*;
use serde_json::{Map, Value};

const RULES: &[&str] = &[
    "required",
    "nullable",
    "sometimes",
    "bail",
    "string",
    "integer",
    "numeric",
    "array",
    "list",
    "boolean",
    "email",
    "url",
    "uuid",
    "ulid",
    "ip",
    "json",
    "date",
    "alpha",
    "alpha_num",
    "alpha_dash",
    "ascii",
    "lowercase",
    "uppercase",
    "distinct",
    "confirmed",
    "filled",
    "present",
    "missing",
    "prohibited",
    "accepted",
    "declined",
    "min:2",
    "max:3",
    "size:1",
    "between:1,4",
    "gt:a",
    "lt:0",
    "gte:b",
    "lte:5",
    "digits:2",
    "digits_between:1,3",
    "multiple_of:0.5",
    "decimal:1,2",
    "in:a,b,1",
    "not_in:x",
    "same:a",
    "different:b",
    "required_if:a,1",
    "required_unless:b,x",
    "required_with:a",
    "required_without:b",
    "exclude_if:a,1",
    "exclude_unless:b,2",
    "prohibits:a",
    "after:2024-01-01",
    "before:a",
    "date_format:Y-m-d",
    "starts_with:a",
    "ends_with:z",
    "regex:/^a|b$/",
    "not_regex:/x/i",
    "contains:a",
    "in_array:b.*",
    "required_array_keys:a",
    "timezone",
    "hex_color",
    "mac_address",
    "file",
    "image",
    "mimes:png",
    "max_digits:3",
    "min_digits:1",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("1"),
            Just(""),
            Just(" "),
            Just("2024-02-29"),
            Just("a@b.c"),
            Just("10"),
            Just("-0.5")
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![Just("a"), Just("b"), Just("0"), Just("x.y")],
                    inner
                ),
                0..4
            )
            .prop_map(|kv| Value::Object(
                kv.into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect::<Map<_, _>>()
            )),
        ]
    })
}

fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a"),
        Just("b"),
        Just("a.*"),
        Just("a.*.b"),
        Just("*"),
        Just("a.0"),
        Just("x\\.y"),
        Just("a.*.*"),
        Just("")
    ]
    .prop_map(str::to_owned)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parser_never_panics(text in ".{0,64}") {
        let _ = parse_rules(&text);
    }

    #[test]
    fn parser_never_panics_on_rule_shaped_text(name in "[a-z_]{1,12}", params in "[a-zA-Z0-9,:/|\\\\.*\"()\\[\\]-]{0,24}") {
        let _ = parse_rules(&format!("{name}:{params}"));
        let _ = parse_rules(&format!("regex:{params}|{name}"));
    }

    #[test]
    fn validator_never_panics(
        data in json_value(),
        fields in prop::collection::vec((field(), prop::collection::vec(prop::sample::select(RULES), 1..5)), 1..4),
    ) {
        let rules: Vec<(String, String)> = fields.into_iter().map(|(f, r)| (f, r.join("|"))).collect();
        if let Ok(mut v) = Validator::new(data, rules) {
            let failed = v.fails();
            prop_assert_eq!(failed, !v.errors().is_empty());
            let _ = v.validate();
        }
    }
}
