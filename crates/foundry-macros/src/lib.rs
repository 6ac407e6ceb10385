//! RustForge derive macros.
//!
//! - `#[derive(Model)]` (re-exported by `foundry-db`): see that crate's `Model` trait and
//!   `docs/models.md`.
//! - `#[derive(Validate)]` (re-exported by `foundry-validation`): form-request rules from
//!   `#[validate("…")]` field attributes; see `docs/validation.md`.
//! - `embed_views!("resources/views")` (re-exported by `foundry`): templates compiled into the
//!   binary; see `docs/views.md`.

use proc_macro::TokenStream;

mod model;
mod validate;
mod views;

/// Implement `foundry_db::Model` (and `ModelHooks`, `Serialize`, `FromDbRow`, column
/// constants) for a struct with named fields.
///
/// Struct options in `#[model(...)]`: `table = "posts"`, `primary_key = "id"`,
/// `key = "increment" | "uuid" | "ulid"`, `fillable(a, b)`, `guarded(a, b)`, `hidden(a, b)`,
/// `timestamps = false`, `soft_deletes`, `hooks` (you implement `ModelHooks`),
/// `crate = "foundry::db"` (the path to foundry-db). Field options: `#[model(cast = "json")]`,
/// `#[model(cast = "enum")]`. A field of type `Relations` holds loaded relations.
#[proc_macro_derive(Model, attributes(model))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    model::derive(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Derive `foundry_validation::FormRequest` from per-field rule strings.
///
/// ```text
/// #[derive(serde::Deserialize, foundry_validation::Validate)]
/// struct Signup {
///     #[validate("required|email|max:255")]
///     email: String,
///     #[validate("nullable|integer|min:13")]
///     age: Option<u32>,
/// }
/// ```
///
/// Struct attributes: `#[validate(field = "items.*.sku", rules = "required")]` adds rules for
/// nested patterns; `#[validate(manual)]` only generates `validation_rules()` so the type can
/// implement `FormRequest` itself (messages, attributes, `authorize`).
#[proc_macro_derive(Validate, attributes(validate))]
pub fn derive_validate(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    validate::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Every file under a directory (relative to the crate's `Cargo.toml`) as a
/// `&'static [(&str, &str)]` of `(name, source)`, names with `/` separators:
/// `embed_views!("resources/views")`. Sources are read with `include_str!`, so an edited
/// template rebuilds the crate; a template added or removed needs a rebuild (touch a source
/// file) to be picked up.
#[proc_macro]
pub fn embed_views(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::LitStr);
    views::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
