//! Validation benchmarks: a 10-field signup payload and a 1,000-item `items.*` payload, with
//! the same rules written for `garde` measured in the same run as a reference.
//!
//! `cargo bench -p foundry-validation` prints criterion's report, then `RESULT` lines:
//! `RESULT validation_signup_ns 850 ns`, `RESULT validation_signup_vs_garde_ratio 1.3 x`, …
//! Our figures include building the validator from rule strings (what every request does);
//! garde validates an already-typed struct, so the ratio is the price of Laravel's dynamic
//! rules over compiled checks.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion};
use foundry_validation::Validator;
use garde::Validate;
use serde_json::{Value, json};

const SIGNUP_RULES: [(&str, &str); 10] = [
    ("name", "required|string|max:255"),
    ("email", "required|email|max:255"),
    ("password", "required|string|min:8|confirmed"),
    ("password_confirmation", "required|string"),
    ("age", "required|integer|between:13,120"),
    ("website", "nullable|string|starts_with:http"),
    ("country", "required|in:de,fr,us,uk"),
    ("terms", "accepted"),
    ("username", "required|alpha_dash|min:3|max:30"),
    ("phone", "nullable|digits_between:6,15"),
];

const ITEM_RULES: [(&str, &str); 4] = [
    ("items", "required|array|min:1"),
    ("items.*.sku", "required|string|max:32"),
    ("items.*.qty", "required|integer|min:1"),
    ("items.*.price", "required|numeric|min:0"),
];

fn signup_json() -> Value {
    json!({
        "name": "Ada Lovelace", "email": "ada@example.com", "password": "correct horse",
        "password_confirmation": "correct horse", "age": 36, "website": "https://ada.example",
        "country": "uk", "terms": true, "username": "ada_l", "phone": "0123456789"
    })
}

fn items_json() -> Value {
    let items: Vec<Value> = (0..1000)
        .map(|i| json!({"sku": format!("SKU-{i:05}"), "qty": i % 7 + 1, "price": 9.99}))
        .collect();
    json!({ "items": items })
}

fn in_countries(value: &str, _: &()) -> garde::Result {
    if ["de", "fr", "us", "uk"].contains(&value) {
        Ok(())
    } else {
        Err(garde::Error::new("invalid country"))
    }
}

fn accepted(value: &bool, _: &()) -> garde::Result {
    if *value {
        Ok(())
    } else {
        Err(garde::Error::new("must be accepted"))
    }
}

#[derive(garde::Validate)]
struct GardeSignup {
    #[garde(length(chars, min = 1, max = 255))]
    name: String,
    #[garde(email, length(max = 255))]
    email: String,
    #[garde(length(chars, min = 8), matches(password_confirmation))]
    password: String,
    #[garde(length(min = 1))]
    password_confirmation: String,
    #[garde(range(min = 13, max = 120))]
    age: u32,
    #[garde(prefix("http"))]
    website: Option<String>,
    #[garde(custom(in_countries))]
    country: String,
    #[garde(custom(accepted))]
    terms: bool,
    #[garde(pattern(r"^[A-Za-z0-9_-]+$"), length(chars, min = 3, max = 30))]
    username: String,
    #[garde(pattern(r"^[0-9]{6,15}$"))]
    phone: Option<String>,
}

#[derive(garde::Validate)]
struct GardeItem {
    #[garde(length(chars, min = 1, max = 32))]
    sku: String,
    #[garde(range(min = 1))]
    qty: u32,
    #[garde(range(min = 0.0))]
    price: f64,
}

#[derive(garde::Validate)]
struct GardeOrder {
    #[garde(length(min = 1), dive)]
    items: Vec<GardeItem>,
}

fn garde_signup() -> GardeSignup {
    GardeSignup {
        name: "Ada Lovelace".into(),
        email: "ada@example.com".into(),
        password: "correct horse".into(),
        password_confirmation: "correct horse".into(),
        age: 36,
        website: Some("https://ada.example".into()),
        country: "uk".into(),
        terms: true,
        username: "ada_l".into(),
        phone: Some("0123456789".into()),
    }
}

fn garde_order() -> GardeOrder {
    GardeOrder {
        items: (0..1000)
            .map(|i| GardeItem {
                sku: format!("SKU-{i:05}"),
                qty: i % 7 + 1,
                price: 9.99,
            })
            .collect(),
    }
}

/// Build the validator from the rule strings and run it. The validator (which owns the data)
/// is returned so both sides leave dropping their input outside the timed region.
fn ours(data: Value, rules: &[(&str, &str)]) -> (bool, Validator) {
    let mut v = Validator::new(data, rules.iter().copied()).expect("benchmark rules are valid");
    (v.passes(), v)
}

fn criterion_benches(c: &mut Criterion) {
    let signup = signup_json();
    let items = items_json();
    let (gs, go) = (garde_signup(), garde_order());
    assert!(ours(signup.clone(), &SIGNUP_RULES).0 && ours(items.clone(), &ITEM_RULES).0);
    assert!(gs.validate().is_ok() && go.validate().is_ok());
    c.bench_function("signup/foundry", |b| {
        b.iter_batched(
            || signup.clone(),
            |d| ours(d, &SIGNUP_RULES),
            BatchSize::SmallInput,
        );
    });
    c.bench_function("signup/garde", |b| {
        b.iter(|| black_box(&gs).validate().is_ok());
    });
    c.bench_function("items_1000/foundry", |b| {
        b.iter_batched(
            || items.clone(),
            |d| ours(d, &ITEM_RULES),
            BatchSize::LargeInput,
        );
    });
    c.bench_function("items_1000/garde", |b| {
        b.iter(|| black_box(&go).validate().is_ok());
    });
}

/// Median ns per call over several timed batches; inputs are cloned and outputs dropped
/// outside the timer.
fn measure<O>(data: &Value, mut f: impl FnMut(Value) -> O, per_batch: usize) -> f64 {
    let mut samples = Vec::new();
    let deadline = Instant::now() + Duration::from_millis(1500);
    while samples.len() < 9 || (Instant::now() < deadline && samples.len() < 41) {
        let inputs: Vec<Value> = (0..per_batch).map(|_| data.clone()).collect();
        let mut outputs = Vec::with_capacity(per_batch);
        let start = Instant::now();
        for d in inputs {
            outputs.push(black_box(f(d)));
        }
        samples.push(start.elapsed().as_nanos() as f64 / per_batch as f64);
        drop(outputs);
    }
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn measure_ref(mut f: impl FnMut() -> bool, per_batch: usize) -> f64 {
    measure(&Value::Null, |_| f(), per_batch)
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    criterion_benches(&mut c);
    c.final_summary();

    let (signup, items) = (signup_json(), items_json());
    let (gs, go) = (garde_signup(), garde_order());
    let signup_ns = measure(&signup, |d| ours(d, &SIGNUP_RULES), 2000);
    let garde_signup_ns = measure_ref(|| black_box(&gs).validate().is_ok(), 20000);
    let items_ns = measure(&items, |d| ours(d, &ITEM_RULES), 5);
    let garde_items_ns = measure_ref(|| black_box(&go).validate().is_ok(), 50);
    println!("RESULT validation_signup_ns {signup_ns:.0} ns");
    println!("RESULT validation_signup_garde_ns {garde_signup_ns:.0} ns");
    println!(
        "RESULT validation_signup_vs_garde_ratio {:.1} x",
        signup_ns / garde_signup_ns
    );
    println!("RESULT validation_items_1000_ns {items_ns:.0} ns");
    println!(
        "RESULT validation_items_1000_per_item_ns {:.0} ns",
        items_ns / 1000.0
    );
    println!("RESULT validation_items_1000_garde_ns {garde_items_ns:.0} ns");
    println!(
        "RESULT validation_items_1000_vs_garde_ratio {:.1} x",
        items_ns / garde_items_ns
    );
}
