//! Model fields: `--fields title:string,body:text,user_id:foreign,published_at:datetime?` and
//! what each becomes in a migration, a model, a request and a factory.

use minijinja::{Value, context};

use crate::names::plural;

/// A column type a field may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `VARCHAR(255)`, `String`.
    String,
    /// Unbounded text, `String`.
    Text,
    /// 64-bit integer, `i64`.
    Integer,
    /// `bool`.
    Boolean,
    /// Double, `f64`.
    Float,
    /// Date-time with time zone, `DateTime<Utc>` (always nullable).
    DateTime,
    /// A foreign key to another table's `id` (`user_id` → `users`), `i64`.
    Foreign,
}

const KINDS: &[(&str, Kind)] = &[
    ("string", Kind::String),
    ("text", Kind::Text),
    ("integer", Kind::Integer),
    ("boolean", Kind::Boolean),
    ("float", Kind::Float),
    ("datetime", Kind::DateTime),
    ("foreign", Kind::Foreign),
];

/// One field of a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Field {
    /// Column and struct field name (snake_case).
    pub(crate) name: String,
    /// Its type.
    pub(crate) kind: Kind,
    /// Whether it may be null.
    pub(crate) nullable: bool,
}

/// Parse `name:type[?],…` (commas or spaces between fields; `?` makes a field nullable).
pub(crate) fn parse(spec: &str) -> Result<Vec<Field>, String> {
    let kinds: Vec<&str> = KINDS.iter().map(|(n, _)| *n).collect();
    let mut fields: Vec<Field> = Vec::new();
    for item in spec.split([',', ' ']).filter(|s| !s.trim().is_empty()) {
        let (name, kind) = item
            .trim()
            .split_once(':')
            .unwrap_or((item.trim(), "string"));
        let (kind, nullable) = match kind.strip_suffix('?') {
            Some(kind) => (kind, true),
            None => (kind, false),
        };
        let valid_name = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid_name {
            return Err(format!(
                "field `{name}` in --fields `{spec}`: a field name is snake_case (lowercase letters, digits, `_`), e.g. `published_at`"
            ));
        }
        if ["id", "created_at", "updated_at", "relations"].contains(&name) {
            return Err(format!(
                "field `{name}` in --fields `{spec}`: every model already has id, created_at, updated_at and relations; leave it out"
            ));
        }
        let Some((_, kind)) = KINDS.iter().find(|(n, _)| *n == kind) else {
            return Err(format!(
                "field `{name}` in --fields `{spec}`: unknown type `{kind}`; the types are {}",
                kinds.join(", ")
            ));
        };
        if *kind == Kind::Foreign && !name.ends_with("_id") {
            return Err(format!(
                "field `{name}` in --fields `{spec}`: a foreign key is named after its table, e.g. `user_id:foreign`"
            ));
        }
        if fields.iter().any(|f| f.name == name) {
            return Err(format!("field `{name}` appears twice in --fields `{spec}`"));
        }
        fields.push(Field {
            name: name.to_owned(),
            kind: *kind,
            nullable: nullable || *kind == Kind::DateTime,
        });
    }
    Ok(fields)
}

impl Field {
    /// The table a foreign key points at: `user_id` → `users`.
    fn foreign_table(&self) -> String {
        plural(self.name.trim_end_matches("_id"))
    }

    /// The schema builder call, e.g. `t.string("title", 255)`.
    pub(crate) fn column(&self, nullable: bool) -> String {
        let n = &self.name;
        let mut column = match self.kind {
            Kind::String => format!("t.string(\"{n}\", 255)"),
            Kind::Text => format!("t.text(\"{n}\")"),
            Kind::Integer => format!("t.big_integer(\"{n}\")"),
            Kind::Boolean => format!("t.boolean(\"{n}\")"),
            Kind::Float => format!("t.double(\"{n}\")"),
            Kind::DateTime => format!("t.datetime_tz(\"{n}\")"),
            Kind::Foreign => format!("t.foreign_id(\"{n}\")"),
        };
        if nullable || self.nullable {
            column.push_str(".nullable()");
        }
        if self.kind == Kind::Foreign {
            column.push_str(".constrained().cascade_on_delete()");
        }
        column
    }

    /// The Rust type of the model's field.
    pub(crate) fn rust_type(&self) -> String {
        let base = match self.kind {
            Kind::String | Kind::Text => "String",
            Kind::Integer | Kind::Foreign => "i64",
            Kind::Boolean => "bool",
            Kind::Float => "f64",
            Kind::DateTime => "DateTime<Utc>",
        };
        if self.nullable {
            format!("Option<{base}>")
        } else {
            base.to_owned()
        }
    }

    /// The validation rules of a request field.
    pub(crate) fn rules(&self) -> String {
        let presence = if self.nullable {
            "nullable"
        } else {
            "required"
        };
        let rule = match self.kind {
            Kind::String => "string|max:255".to_owned(),
            Kind::Text => "string".to_owned(),
            Kind::Integer => "integer".to_owned(),
            Kind::Boolean => "boolean".to_owned(),
            Kind::Float => "numeric".to_owned(),
            Kind::DateTime => "date".to_owned(),
            Kind::Foreign => format!("integer|exists:{},id", self.foreign_table()),
        };
        format!("{presence}|{rule}")
    }

    /// A fake value for a factory (`None` for foreign keys: the seeder or test sets them).
    fn fake(&self) -> Option<String> {
        let n = self.name.as_str();
        Some(match self.kind {
            Kind::Foreign => return None,
            Kind::DateTime => "null".to_owned(),
            Kind::String if n == "email" || n.ends_with("_email") => {
                "format!(\"user{index}@example.com\")".to_owned()
            }
            Kind::String if n == "name" || n.ends_with("_name") => {
                "faker::name::en::Name().fake::<String>()".to_owned()
            }
            Kind::String => {
                "faker::lorem::en::Sentence(2..5).fake::<String>().trim_end_matches('.')".to_owned()
            }
            Kind::Text => "faker::lorem::en::Paragraph(2..4).fake::<String>()".to_owned(),
            Kind::Integer => "(1..1000).fake::<i64>()".to_owned(),
            Kind::Boolean => "index % 2 == 0".to_owned(),
            Kind::Float => "(0.0..1000.0).fake::<f64>()".to_owned(),
        })
    }

    /// A one-line description for doc comments; it also records the kind, so later
    /// generators read it back from the model (`The title (string).`).
    fn doc(&self) -> String {
        let kind = KINDS
            .iter()
            .find(|(_, k)| *k == self.kind)
            .map_or("string", |(n, _)| *n);
        let words = self.name.replace('_', " ");
        let mut chars = words.chars();
        let words = chars.next().map_or_else(String::new, |c| {
            c.to_uppercase().chain(chars).collect::<String>()
        });
        format!("{words} ({kind}{}).", if self.nullable { "?" } else { "" })
    }

    /// The template context of this field.
    pub(crate) fn value(&self, alter: bool) -> Value {
        let fake = self.fake();
        context! {
            name => self.name.clone(),
            column => self.column(alter),
            rust_type => self.rust_type(),
            rules => self.rules(),
            fake => fake,
            doc => self.doc(),
            copy => !matches!(self.kind, Kind::String | Kind::Text | Kind::DateTime) && !self.nullable,
        }
    }
}

/// The fields of the model `model` in `source` (a file `make:model` wrote): each `pub name:
/// Type,` of the struct, with its kind from the doc comment above it, else from the type.
pub(crate) fn read_model(source: &str, model: &str) -> Vec<Field> {
    let mut fields = Vec::new();
    let mut inside = false;
    let mut doc_kind: Option<(Kind, bool)> = None;
    for line in source.lines().map(str::trim) {
        if !inside {
            inside = line.starts_with(&format!("pub struct {model} "))
                || line == format!("pub struct {model}{{");
            continue;
        }
        if line.starts_with('}') {
            break;
        }
        if let Some(doc) = line.strip_prefix("///") {
            doc_kind = doc
                .trim()
                .trim_end_matches('.')
                .rsplit_once('(')
                .and_then(|(_, rest)| rest.strip_suffix(')'))
                .and_then(|k| {
                    let (k, nullable) = k.strip_suffix('?').map_or((k, false), |k| (k, true));
                    KINDS
                        .iter()
                        .find(|(n, _)| *n == k)
                        .map(|(_, kind)| (*kind, nullable))
                });
            continue;
        }
        let Some((name, ty)) = line
            .strip_prefix("pub ")
            .and_then(|l| l.trim_end_matches(',').split_once(':'))
        else {
            continue;
        };
        let (name, ty) = (name.trim(), ty.trim());
        let from_doc = doc_kind.take();
        if ["id", "created_at", "updated_at", "deleted_at", "relations"].contains(&name) {
            continue;
        }
        let (kind, nullable) = from_doc.unwrap_or_else(|| {
            let nullable = ty.starts_with("Option<");
            let inner = ty
                .trim_start_matches("Option<")
                .trim_end_matches('>')
                .trim();
            let kind = match inner {
                "i64" | "i32" if name.ends_with("_id") => Kind::Foreign,
                "i64" | "i32" | "i16" | "u32" => Kind::Integer,
                "bool" => Kind::Boolean,
                "f64" | "f32" => Kind::Float,
                t if t.starts_with("DateTime") => Kind::DateTime,
                _ => Kind::String,
            };
            (kind, nullable)
        });
        fields.push(Field {
            name: name.to_owned(),
            kind,
            nullable,
        });
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_specs_parse_and_refuse_clearly() {
        let fields =
            parse("title:string, body:text user_id:foreign,published_at:datetime,rank:integer?")
                .unwrap();
        let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["title", "body", "user_id", "published_at", "rank"]);
        assert_eq!(fields[0].column(false), "t.string(\"title\", 255)");
        assert_eq!(fields[0].rules(), "required|string|max:255");
        assert_eq!(
            fields[2].column(false),
            "t.foreign_id(\"user_id\").constrained().cascade_on_delete()"
        );
        assert_eq!(fields[2].rules(), "required|integer|exists:users,id");
        assert_eq!(fields[3].rust_type(), "Option<DateTime<Utc>>");
        assert_eq!(fields[4].rules(), "nullable|integer");
        assert_eq!(fields[1].column(true), "t.text(\"body\").nullable()");
        assert_eq!(parse("name").unwrap()[0].kind, Kind::String);

        for (spec, why) in [
            ("title:strng", "unknown type `strng`"),
            ("Title:string", "snake_case"),
            ("id:integer", "already has id"),
            ("author:foreign", "named after its table"),
            ("a:string,a:text", "appears twice"),
        ] {
            let err = parse(spec).unwrap_err();
            assert!(err.contains(why), "{spec}: {err}");
        }
    }

    #[test]
    fn a_generated_model_reads_back_its_fields() {
        let fields = parse("title:string,body:text,user_id:foreign,views:integer?").unwrap();
        let mut source = String::from("pub struct Post {\n    /// Key.\n    pub id: i64,\n");
        for f in &fields {
            source.push_str(&format!(
                "    /// {}\n    pub {}: {},\n",
                f.doc(),
                f.name,
                f.rust_type()
            ));
        }
        source.push_str("    pub relations: Relations,\n}\n");
        assert_eq!(read_model(&source, "Post"), fields);

        // Without the doc comments the Rust types decide.
        let plain = "pub struct Tag {\n    pub id: i64,\n    pub name: String,\n    pub post_id: i64,\n    pub hidden: Option<bool>,\n}\n";
        let read = read_model(plain, "Tag");
        assert_eq!(read[0].kind, Kind::String);
        assert_eq!(read[1].kind, Kind::Foreign);
        assert_eq!((read[2].kind, read[2].nullable), (Kind::Boolean, true));
        assert!(read_model(plain, "Post").is_empty());
    }
}
