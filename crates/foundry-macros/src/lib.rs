//! RustForge derive macros.

use proc_macro::TokenStream;

mod validate;

/// Derive `FormRequest` from per-field rule strings (see `foundry_validation::Validated`).
///
/// ```text
/// #[derive(serde::Deserialize, foundry_validation::Validate)]
/// struct Signup {
///     #[validate("required|email|max:255")]
///     email: String,
///     #[validate("required|string|min:8|confirmed")]
///     password: String,
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
