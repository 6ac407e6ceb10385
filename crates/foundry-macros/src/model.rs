//! `#[derive(Model)]`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{Data, DeriveInput, Fields, LitStr, Type};

#[derive(Default)]
struct Options {
    table: Option<String>,
    primary_key: Option<String>,
    key: Option<String>,
    fillable: Vec<String>,
    guarded: Option<Vec<String>>,
    hidden: Vec<String>,
    timestamps: Option<bool>,
    soft_deletes: bool,
    hooks: bool,
    krate: Option<syn::Path>,
}

enum Cast {
    None,
    Json,
    Enum,
}

struct Field {
    ident: syn::Ident,
    ty: Type,
    cast: Cast,
}

fn names(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<Vec<String>> {
    let mut out = Vec::new();
    meta.parse_nested_meta(|inner| {
        let ident = inner
            .path
            .get_ident()
            .ok_or_else(|| inner.error("expected a column name"))?;
        out.push(ident.to_string());
        Ok(())
    })?;
    Ok(out)
}

fn parse_options(input: &DeriveInput) -> syn::Result<Options> {
    let mut o = Options::default();
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("model")) {
        attr.parse_nested_meta(|meta| {
            let key = meta
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            match key.as_str() {
                "table" => o.table = Some(meta.value()?.parse::<LitStr>()?.value()),
                "primary_key" => o.primary_key = Some(meta.value()?.parse::<LitStr>()?.value()),
                "key" => {
                    let lit = meta.value()?.parse::<LitStr>()?;
                    let v = lit.value();
                    if !["increment", "uuid", "ulid"].contains(&v.as_str()) {
                        return Err(syn::Error::new(
                            lit.span(),
                            "key must be \"increment\", \"uuid\" or \"ulid\"",
                        ));
                    }
                    o.key = Some(v);
                }
                "fillable" => o.fillable = names(&meta)?,
                "guarded" => o.guarded = Some(names(&meta)?),
                "hidden" => o.hidden = names(&meta)?,
                "timestamps" => o.timestamps = Some(meta.value()?.parse::<syn::LitBool>()?.value),
                "soft_deletes" => o.soft_deletes = true,
                "hooks" => o.hooks = true,
                "crate" => o.krate = Some(meta.value()?.parse::<LitStr>()?.parse()?),
                _ => return Err(meta.error(format!("unknown model option `{key}`"))),
            }
            Ok(())
        })?;
    }
    Ok(o)
}

fn is_relations(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Relations"))
}

fn is_option(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Option"))
}

fn is_string(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "String"))
}

pub(crate) fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let o = parse_options(input)?;
    let name = &input.ident;
    let name_str = name.to_string();
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            name,
            "#[derive(Model)] needs a struct with named fields",
        ));
    };
    let Fields::Named(named) = &data.fields else {
        return Err(syn::Error::new_spanned(
            name,
            "#[derive(Model)] needs a struct with named fields",
        ));
    };
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.generics,
            "#[derive(Model)] does not support generic structs",
        ));
    }
    let krate: syn::Path = o
        .krate
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(::foundry_db));
    let mut fields = Vec::new();
    let mut relations_field = None;
    for f in &named.named {
        let ident = f
            .ident
            .clone()
            .ok_or_else(|| syn::Error::new_spanned(f, "unnamed field"))?;
        if is_relations(&f.ty) {
            relations_field = Some(ident);
            continue;
        }
        let mut cast = Cast::None;
        for attr in f.attrs.iter().filter(|a| a.path().is_ident("model")) {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("cast") {
                    let lit = meta.value()?.parse::<LitStr>()?;
                    cast = match lit.value().as_str() {
                        "json" => Cast::Json,
                        "enum" => Cast::Enum,
                        _ => {
                            return Err(syn::Error::new(
                                lit.span(),
                                "cast must be \"json\" or \"enum\"",
                            ));
                        }
                    };
                    Ok(())
                } else {
                    Err(meta.error("unknown field option; expected `cast = \"json\" | \"enum\"`"))
                }
            })?;
        }
        fields.push(Field {
            ident,
            ty: f.ty.clone(),
            cast,
        });
    }
    let columns: Vec<String> = fields.iter().map(|f| f.ident.to_string()).collect();
    let has = |c: &str| columns.iter().any(|x| x == c);
    let table = o
        .table
        .clone()
        .unwrap_or_else(|| foundry_naming::table_name(&name_str));
    let pk = o.primary_key.clone().unwrap_or_else(|| "id".to_owned());
    let Some(pk_field) = fields.iter().find(|f| f.ident == pk) else {
        return Err(syn::Error::new_spanned(
            name,
            format!("model {name_str} has no primary key field `{pk}`"),
        ));
    };
    let key = o.key.clone().unwrap_or_else(|| "increment".to_owned());
    if key != "increment" && !is_string(&pk_field.ty) {
        return Err(syn::Error::new_spanned(
            &pk_field.ty,
            "uuid and ulid keys need a `String` field",
        ));
    }
    for list in [
        &o.fillable,
        &o.hidden,
        o.guarded.as_ref().unwrap_or(&Vec::new()),
    ] {
        for c in list {
            if !has(c) {
                return Err(syn::Error::new_spanned(
                    name,
                    format!("model {name_str} has no column `{c}`"),
                ));
            }
        }
    }
    let timestamps = o
        .timestamps
        .unwrap_or(has("created_at") && has("updated_at"));
    if timestamps && !(has("created_at") && has("updated_at")) {
        return Err(syn::Error::new_spanned(
            name,
            "timestamps need `created_at` and `updated_at` fields",
        ));
    }
    if o.soft_deletes && !has("deleted_at") {
        return Err(syn::Error::new_spanned(
            name,
            "soft_deletes needs a `deleted_at: Option<DateTime<Utc>>` field",
        ));
    }
    let guarded: Vec<String> = o.guarded.clone().unwrap_or_else(|| {
        [pk.as_str(), "created_at", "updated_at", "deleted_at"]
            .iter()
            .filter(|c| has(c))
            .map(|c| (*c).to_owned())
            .collect()
    });
    let fillable = &o.fillable;
    let hidden = &o.hidden;
    let soft = o.soft_deletes;
    let key_kind = match key.as_str() {
        "uuid" => quote!(#krate::KeyKind::Uuid),
        "ulid" => quote!(#krate::KeyKind::Ulid),
        _ => quote!(#krate::KeyKind::Increment),
    };
    let p = quote!(#krate::__private);

    let from_row = fields.iter().map(|f| {
        let (ident, col) = (&f.ident, f.ident.to_string());
        match f.cast {
            Cast::None => quote!(#ident: #p::decode(row, #col)?),
            Cast::Json => quote!(#ident: #p::decode_json(row, #col)?),
            Cast::Enum => quote!(#ident: #p::decode_enum(row, #col)?),
        }
    });
    let encode = |f: &Field, expr: TokenStream| match f.cast {
        Cast::None => quote!(#p::sea_query::Value::from(#expr)),
        Cast::Json => quote!(#p::encode_json(&#expr)),
        Cast::Enum => quote!(#p::encode_enum(&#expr)),
    };
    let column_value = fields.iter().map(|f| {
        let (ident, col) = (&f.ident, f.ident.to_string());
        let enc = encode(f, quote!(::core::clone::Clone::clone(&self.#ident)));
        quote!(#col => ::core::option::Option::Some(#enc))
    });
    let json_to_value = fields.iter().map(|f| {
        let (ty, col) = (&f.ty, f.ident.to_string());
        let enc = encode(f, quote!(v));
        quote!(#col => { let v: #ty = #p::from_json(#name_str, #col, value)?; ::core::result::Result::Ok(#enc) })
    });
    let from_attributes = fields.iter().map(|f| {
        let (ident, col, ty) = (&f.ident, f.ident.to_string(), &f.ty);
        let missing = if is_option(ty) {
            quote!(::core::option::Option::None)
        } else if *ident == pk {
            quote!(::core::default::Default::default())
        } else {
            quote!(return ::core::result::Result::Err(#krate::DbError::MassAssignment {
                model: #name_str,
                message: ::std::format!("attribute `{}` is missing; add it to the factory definition", #col),
            }))
        };
        quote!(#ident: match attrs.remove(#col) {
            ::core::option::Option::Some(value) => #p::from_json(#name_str, #col, value)?,
            ::core::option::Option::None => #missing,
        })
    });
    let set_attribute = fields.iter().map(|f| {
        let (ident, col) = (&f.ident, f.ident.to_string());
        quote!(#col => { self.#ident = #p::from_json(#name_str, #col, value)?; ::core::result::Result::Ok(()) })
    });
    let set_timestamp = fields
        .iter()
        .filter(|f| ["created_at", "updated_at", "deleted_at"].contains(&f.ident.to_string().as_str()))
        .map(|f| {
            let (ident, col) = (&f.ident, f.ident.to_string());
            if is_option(&f.ty) {
                quote!(#col => { self.#ident = at; })
            } else {
                quote!(#col => { if let ::core::option::Option::Some(at) = at { self.#ident = at; } })
            }
        });
    let pk_ident = &pk_field.ident;
    let key_is_set = if key == "increment" {
        quote!(#p::key_is_set_i64(self.#pk_ident))
    } else {
        quote!(#p::key_is_set_str(&self.#pk_ident))
    };
    let set_string_key = if key == "increment" {
        quote!(let _ = key;)
    } else {
        quote!(self.#pk_ident = key;)
    };
    let (relations, relations_mut, rel_init, rel_json) = match &relations_field {
        Some(r) => (
            quote!(::core::option::Option::Some(&self.#r)),
            quote!(::core::option::Option::Some(&mut self.#r)),
            quote!(#r: ::core::default::Default::default(),),
            quote!(self.#r.write_json(&mut map);),
        ),
        None => (
            quote!(::core::option::Option::None),
            quote!(::core::option::Option::None),
            quote!(),
            quote!(),
        ),
    };
    let to_json = fields
        .iter()
        .filter(|f| !hidden.contains(&f.ident.to_string()))
        .map(|f| {
            let (ident, col) = (&f.ident, f.ident.to_string());
            quote!(map.insert(::std::string::String::from(#col), #p::to_json(&self.#ident));)
        });
    // The direct serializer writes the visible columns in the order `to_json`'s map (sorted
    // keys) gives them, so both produce the same text.
    let mut visible: Vec<_> = fields
        .iter()
        .filter(|f| !hidden.contains(&f.ident.to_string()))
        .collect();
    visible.sort_by_key(|f| f.ident.to_string());
    let visible_count = visible.len();
    let serialize_fields = visible.iter().map(|f| {
        let (ident, col) = (&f.ident, f.ident.to_string());
        quote!(#p::serde::ser::SerializeMap::serialize_entry(&mut map, #col, &self.#ident)?;)
    });
    let deleted_at = match fields.iter().find(|f| f.ident == "deleted_at") {
        Some(f) if is_option(&f.ty) => quote!(self.deleted_at),
        _ => quote!(::core::option::Option::None),
    };
    let hooks_impl = if o.hooks {
        quote!()
    } else {
        quote!(impl #krate::ModelHooks for #name {})
    };
    let consts = columns.iter().map(|c| {
        let ident = format_ident!("COL_{}", c.to_uppercase());
        let doc = format!("The `{c}` column.");
        quote!(#[doc = #doc] pub const #ident: &'static str = #c;)
    });

    Ok(quote! {
        impl #krate::Model for #name {
            const NAME: &'static str = #name_str;
            const TABLE: &'static str = #table;
            const PRIMARY_KEY: &'static str = #pk;
            const KEY_KIND: #krate::KeyKind = #key_kind;
            const COLUMNS: &'static [&'static str] = &[#(#columns),*];
            const FILLABLE: &'static [&'static str] = &[#(#fillable),*];
            const GUARDED: &'static [&'static str] = &[#(#guarded),*];
            const HIDDEN: &'static [&'static str] = &[#(#hidden),*];
            const TIMESTAMPS: bool = #timestamps;
            const SOFT_DELETES: bool = #soft;

            fn from_row(row: &#krate::Row) -> #krate::DbResult<Self> {
                ::core::result::Result::Ok(Self { #(#from_row,)* #rel_init })
            }

            fn column_value(&self, column: &str) -> ::core::option::Option<#p::sea_query::Value> {
                match column {
                    #(#column_value,)*
                    _ => ::core::option::Option::None,
                }
            }

            fn json_to_value(column: &str, value: #p::serde_json::Value) -> #krate::DbResult<#p::sea_query::Value> {
                match column {
                    #(#json_to_value)*
                    _ => ::core::result::Result::Err(#krate::DbError::UnknownColumn {
                        model: #name_str,
                        column: ::std::string::ToString::to_string(column),
                    }),
                }
            }

            fn from_attributes(
                mut attrs: #p::serde_json::Map<::std::string::String, #p::serde_json::Value>,
            ) -> #krate::DbResult<Self> {
                let model = Self { #(#from_attributes,)* #rel_init };
                if let ::core::option::Option::Some(column) = attrs.keys().next() {
                    return ::core::result::Result::Err(#krate::DbError::UnknownColumn {
                        model: #name_str,
                        column: ::core::clone::Clone::clone(column),
                    });
                }
                ::core::result::Result::Ok(model)
            }

            fn set_attribute(&mut self, column: &str, value: #p::serde_json::Value) -> #krate::DbResult<()> {
                match column {
                    #(#set_attribute)*
                    _ => ::core::result::Result::Err(#krate::DbError::UnknownColumn {
                        model: #name_str,
                        column: ::std::string::ToString::to_string(column),
                    }),
                }
            }

            fn set_timestamp(
                &mut self,
                column: &str,
                at: ::core::option::Option<#p::chrono::DateTime<#p::chrono::Utc>>,
            ) {
                match column {
                    #(#set_timestamp)*
                    _ => { let _ = at; }
                }
            }

            fn key(&self) -> #p::sea_query::Value {
                #p::sea_query::Value::from(::core::clone::Clone::clone(&self.#pk_ident))
            }

            fn key_is_set(&self) -> bool {
                #key_is_set
            }

            fn set_string_key(&mut self, key: ::std::string::String) {
                #set_string_key
            }

            fn relations(&self) -> ::core::option::Option<&#krate::Relations> {
                #relations
            }

            fn relations_mut(&mut self) -> ::core::option::Option<&mut #krate::Relations> {
                #relations_mut
            }

            fn to_json(&self) -> #p::serde_json::Value {
                let mut map = #p::serde_json::Map::new();
                #(#to_json)*
                #rel_json
                #p::serde_json::Value::Object(map)
            }

            fn deleted_at(&self) -> ::core::option::Option<#p::chrono::DateTime<#p::chrono::Utc>> {
                #deleted_at
            }
        }

        #hooks_impl

        impl #p::serde::Serialize for #name {
            fn serialize<S: #p::serde::Serializer>(&self, serializer: S) -> ::core::result::Result<S::Ok, S::Error> {
                // Loaded relations and counts go through `to_json`; a plain model is written
                // field by field, without building a JSON map first.
                if <Self as #krate::Model>::relations(self).is_some_and(|r| !r.is_empty()) {
                    return #p::serde::Serialize::serialize(&<Self as #krate::Model>::to_json(self), serializer);
                }
                let mut map = #p::serde::Serializer::serialize_map(
                    serializer,
                    ::core::option::Option::Some(#visible_count),
                )?;
                #(#serialize_fields)*
                #p::serde::ser::SerializeMap::end(map)
            }
        }

        impl #krate::FromDbRow for #name {
            fn from_db_row(row: &#krate::Row) -> #krate::DbResult<Self> {
                <Self as #krate::Model>::from_row(row)
            }
        }

        #[allow(missing_docs)]
        impl #name {
            #(#consts)*
        }
    })
}
