//! Names: what a project may be called, and how a generator's argument becomes type, file
//! and table names (the inflection rules are `foundry-naming`'s).

pub(crate) use foundry_naming::{plural, snake_case, studly_case};

/// Rust keywords (strict and reserved) and names cargo refuses for packages.
const RESERVED: &[&str] = &[
    "abstract",
    "as",
    "async",
    "await",
    "become",
    "box",
    "break",
    "const",
    "continue",
    "crate",
    "do",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "final",
    "fn",
    "for",
    "gen",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "macro",
    "match",
    "mod",
    "move",
    "mut",
    "override",
    "priv",
    "pub",
    "ref",
    "return",
    "self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "try",
    "type",
    "typeof",
    "unsafe",
    "unsized",
    "use",
    "virtual",
    "where",
    "while",
    "yield",
    // Names that would shadow the framework or the standard library in the app's code.
    "foundry",
    "std",
    "core",
    "alloc",
    "proc_macro",
    "test",
];

/// Check a project name: a valid cargo package name that is not reserved.
pub(crate) fn check_project_name(name: &str) -> Result<(), String> {
    let hint = "use lowercase letters, digits, `-` and `_`, starting with a letter, e.g. `my-app`";
    if name.is_empty() {
        return Err(format!("the project name is empty; {hint}"));
    }
    if !name.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) {
        return Err(format!(
            "`{name}` is not a valid project name: it must start with a letter; {hint}"
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(format!(
            "`{name}` is not a valid project name: `{bad}` is not allowed; {hint}"
        ));
    }
    let ident = crate_ident(name);
    if RESERVED.contains(&ident.as_str()) {
        return Err(format!(
            "`{name}` is not a valid project name: `{ident}` is a reserved word in Rust or names a crate every app uses; pick another name"
        ));
    }
    Ok(())
}

/// The crate's identifier in Rust code: `my-app` → `my_app`.
pub(crate) fn crate_ident(package: &str) -> String {
    package.replace('-', "_")
}

/// A generator's type name from what the user typed: `blog_post`, `blog-post`, `blogPost`
/// → `BlogPost`. Refuses names that cannot become a Rust identifier.
pub(crate) fn type_name(input: &str) -> Result<String, String> {
    let trimmed = input.trim();
    let valid = trimmed
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && trimmed
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic());
    if !valid {
        return Err(format!(
            "`{input}` is not a valid name: use letters, digits and `_`, starting with a letter, e.g. `BlogPost`"
        ));
    }
    let name = studly_case(trimmed);
    if RESERVED.contains(&snake_case(&name).as_str()) {
        return Err(format!(
            "`{input}` is not a valid name: `{}` is a reserved word in Rust; pick another name",
            snake_case(&name)
        ));
    }
    Ok(name)
}

/// `name` with `suffix` appended unless it already ends with it (`Post` → `PostController`).
pub(crate) fn with_suffix(name: &str, suffix: &str) -> String {
    if name.ends_with(suffix) && name.len() > suffix.len() {
        name.to_owned()
    } else {
        format!("{name}{suffix}")
    }
}

/// `name` without `suffix` (`PostFactory` → `Post`), unless that would leave nothing.
pub(crate) fn without_suffix<'a>(name: &'a str, suffix: &str) -> &'a str {
    match name.strip_suffix(suffix) {
        Some(stem) if !stem.is_empty() => stem,
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_must_be_crate_names_that_are_not_reserved() {
        for good in ["blog", "my-app", "my_app2", "Shop"] {
            assert!(check_project_name(good).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("", "is empty"),
            ("1app", "must start with a letter"),
            ("-app", "must start with a letter"),
            ("my app", "` ` is not allowed"),
            ("my.app", "`.` is not allowed"),
            ("héllo", "`é` is not allowed"),
            ("fn", "reserved word"),
            ("foundry", "reserved word"),
            ("self", "reserved word"),
            ("test", "reserved word"),
        ] {
            let err = check_project_name(bad).expect_err(bad);
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn generator_names_become_upper_camel_case_types() {
        for (input, expected) in [
            ("post", "Post"),
            ("Post", "Post"),
            ("blog_post", "BlogPost"),
            ("blog-post", "BlogPost"),
            ("blogPost", "BlogPost"),
            ("StorePostRequest", "StorePostRequest"),
        ] {
            assert_eq!(type_name(input).unwrap(), expected, "{input}");
        }
        for bad in ["", "2fast", "Post!", "a b", "Self", "type"] {
            assert!(type_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn suffixes_are_added_once_and_removed() {
        assert_eq!(with_suffix("Post", "Controller"), "PostController");
        assert_eq!(
            with_suffix("PostController", "Controller"),
            "PostController"
        );
        assert_eq!(
            with_suffix("Controller", "Controller"),
            "ControllerController"
        );
        assert_eq!(without_suffix("PostFactory", "Factory"), "Post");
        assert_eq!(without_suffix("Factory", "Factory"), "Factory");
        assert_eq!(crate_ident("my-app"), "my_app");
    }
}
