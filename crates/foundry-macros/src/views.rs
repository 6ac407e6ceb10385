//! `embed_views!("resources/views")`: every file under a directory as `(name, source)` pairs,
//! read with `include_str!` so editing a template rebuilds the app.

use std::path::{Path, PathBuf};

use proc_macro2::TokenStream;
use quote::quote;

pub(crate) fn expand(input: &syn::LitStr) -> syn::Result<TokenStream> {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").ok_or_else(|| {
        syn::Error::new(input.span(), "embed_views!: CARGO_MANIFEST_DIR is not set")
    })?;
    let dir = PathBuf::from(manifest).join(input.value());
    if !dir.is_dir() {
        return Err(syn::Error::new(
            input.span(),
            format!(
                "embed_views!: `{}` is not a directory; the path is relative to the crate's \
                 Cargo.toml",
                dir.display()
            ),
        ));
    }
    let mut files = Vec::new();
    collect(&dir, &dir, &mut files)
        .map_err(|err| syn::Error::new(input.span(), format!("embed_views!: {err}")))?;
    files.sort();
    let entries = files.iter().map(|(name, path)| {
        let path = path.to_string_lossy();
        quote! { (#name, ::core::include_str!(#path)) }
    });
    Ok(quote! {
        {
            const VIEWS: &[(&str, &str)] = &[#(#entries),*];
            VIEWS
        }
    })
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(root, &path, files)?;
        } else if let Ok(relative) = path.strip_prefix(root) {
            let name = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            files.push((name, path));
        }
    }
    Ok(())
}
