//! RustForge validation: Laravel's rule strings, messages and semantics over JSON data.
//!
//! ```
//! use foundry_validation::Validator;
//! use serde_json::json;
//!
//! let data = json!({"name": "Ada", "email": "ada@example.com", "age": "17"});
//! let mut v = Validator::new(data, [
//!     ("name", "required|string|max:255"),
//!     ("email", "required|email"),
//!     ("age", "required|integer|min:18"),
//! ]).unwrap();
//! assert!(v.fails());
//! assert_eq!(v.errors().first("age"), Some("The age field must be at least 18."));
//! ```
//!
//! The guide with every rule, its example and message: `docs/validation.md`.
//!
//! Design notes:
//! - Rules are parsed once, when the validator is built; a malformed rule is a [`RuleError`]
//!   (a developer error naming the rule text), never a panic and never a 422.
//! - One rule engine serves both validators: the sync [`Validator`] polls it once (it refuses
//!   rules that could wait), the [`AsyncValidator`] awaits database and async custom rules.
//! - Messages come from language lines (`en` is Laravel's English word for word, `de` ships
//!   too) through Laravel's lookup order; see [`Translator`].

mod checks;
mod custom;
mod date;
#[cfg(feature = "db")]
mod db;
mod error;
mod file;
mod http;
mod messages;
mod password;
mod path;
mod presence;
mod rule;
mod validator;
mod value;

pub use custom::{AsyncValidationRule, BoxFuture, RuleContext, ValidationRule};
#[cfg(feature = "db")]
pub use db::DbPresenceVerifier;
pub use error::{RuleError, ValidationErrors};
pub use file::UploadedFile;
/// `#[derive(Validate)]`: implements [`FormRequest`] from `#[validate("…")]` field attributes.
///
/// ```
/// use foundry_validation::{FormRequest, Validate};
/// use serde::Deserialize;
///
/// #[derive(Deserialize, Validate)]
/// #[validate(field = "items.*.sku", rules = "required|string")]
/// struct Order {
///     #[validate("required|email")]
///     email: String,
///     #[validate("required|array|min:1")]
///     items: Vec<serde_json::Value>,
///     #[serde(rename = "couponCode")]
///     #[validate("nullable|alpha_num")]
///     coupon: Option<String>,
///     note: Option<String>,
/// }
///
/// let rules: Vec<String> = Order::rules().into_iter().map(|(field, _)| field).collect();
/// assert_eq!(rules, ["email", "items", "couponCode", "note", "items.*.sku"]);
/// ```
#[cfg(feature = "derive")]
pub use foundry_macros::Validate;
pub use http::{
    FormRequest, RequestContext, RuleSpec, Validated, ValidatedForm, ValidationRejection,
    ValidationResponder, ValidationSettings,
};
pub use messages::{LangError, Translator, default_translator};
pub use password::Password;
pub use presence::{
    DbRule, InMemoryPresenceVerifier, PresenceError, PresenceQuery, PresenceVerifier, Where,
};
pub use rule::{IntoRules, Name, Rule, parse_rules};
pub use validator::{AsyncValidationError, AsyncValidator, Validator};

/// The guide in `docs/validation.md`, compiled as doctests so its examples cannot drift.
#[cfg(doctest)]
mod guide {
    #[doc = include_str!("../../../docs/validation.md")]
    struct Validation;
}
