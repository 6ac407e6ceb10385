//! `#[derive(Validate)]`: form-request rules from `#[validate("…")]` field attributes.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields, LitStr};

/// Expand the derive; errors become `compile_error!`s pointing at the bad attribute.
pub(crate) fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            name,
            "#[derive(Validate)] works on structs with named fields",
        ));
    };
    let Fields::Named(fields) = &data.fields else {
        return Err(syn::Error::new_spanned(
            name,
            "#[derive(Validate)] works on structs with named fields",
        ));
    };

    let mut entries = Vec::new();
    let mut manual = false;
    // `crate = "foundry::validation"` when the app reaches the crate through `foundry`.
    let mut krate: syn::Path = syn::parse_quote!(::foundry_validation);
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("validate")) {
        let mut field: Option<LitStr> = None;
        let mut rules: Option<LitStr> = None;
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("manual") {
                manual = true;
            } else if meta.path.is_ident("crate") {
                krate = meta.value()?.parse::<LitStr>()?.parse()?;
            } else if meta.path.is_ident("field") {
                field = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("rules") {
                rules = Some(meta.value()?.parse()?);
            } else {
                return Err(
                    meta.error("expected `manual`, `crate = \"path\"`, or `field = \"pattern\", rules = \"…\"`")
                );
            }
            Ok(())
        })?;
        match (field, rules) {
            (Some(f), Some(r)) => entries.push((f.value(), r)),
            (None, None) => {}
            _ => {
                return Err(syn::Error::new_spanned(
                    attr,
                    "give both `field = \"pattern\"` and `rules = \"…\"`",
                ));
            }
        }
    }

    let mut field_entries = Vec::new();
    for f in &fields.named {
        let Some(ident) = &f.ident else { continue };
        let mut key = ident.to_string().trim_start_matches("r#").to_owned();
        for attr in f.attrs.iter().filter(|a| a.path().is_ident("serde")) {
            // Follow `#[serde(rename = "…")]` so rules apply to the wire name; other serde
            // options are left to serde.
            let _ = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("rename") {
                    let lit: LitStr = meta.value()?.parse()?;
                    key = lit.value();
                } else if meta.input.peek(syn::Token![=]) {
                    let _: syn::Expr = meta.value()?.parse()?;
                } else if meta.input.peek(syn::token::Paren) {
                    let _ = meta.parse_nested_meta(|_| Ok(()));
                }
                Ok(())
            });
        }
        let mut parts: Vec<String> = Vec::new();
        let mut span_lit: Option<LitStr> = None;
        for attr in f.attrs.iter().filter(|a| a.path().is_ident("validate")) {
            let lit: LitStr = attr.parse_args().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "expected a rule string: #[validate(\"required|email\")]",
                )
            })?;
            parts.push(lit.value());
            span_lit = Some(lit);
        }
        let rules = parts.join("|");
        let lit = match span_lit {
            Some(l) => LitStr::new(&rules, l.span()),
            None => LitStr::new("", ident.span()),
        };
        field_entries.push((key, lit));
    }
    field_entries.extend(entries);

    let pushes = field_entries.iter().map(|(key, rules)| {
        quote! {
            (::std::string::String::from(#key), #krate::RuleSpec::from(#rules))
        }
    });
    let form_request = (!manual).then(|| {
        quote! {
            impl #impl_generics #krate::FormRequest for #name #ty_generics #where_clause {
                fn rules() -> ::std::vec::Vec<(::std::string::String, #krate::RuleSpec)> {
                    Self::validation_rules()
                }

                // The rules are string literals: compile them once.
                const CACHE_RULES: bool = true;
            }
        }
    });
    Ok(quote! {
        impl #impl_generics #name #ty_generics #where_clause {
            /// The rules from the `#[validate]` attributes, one entry per field (fields
            /// without rules are listed with none so they stay in the validated data).
            pub fn validation_rules() -> ::std::vec::Vec<(::std::string::String, #krate::RuleSpec)> {
                ::std::vec![#(#pushes),*]
            }
        }
        #form_request
    })
}
