//! Naming conventions shared by the framework: snake_case and UpperCamelCase identifiers,
//! English plurals and singulars (Laravel's `Str::plural`/`Str::singular`, the common rules).
//!
//! One copy serves the `Model` derive (default table names), the database layer (foreign key
//! targets), resource routes (member parameters) and the `foundry` generators.
//!
//! ```
//! use foundry_naming::{plural, singular, snake_case, studly_case, table_name};
//!
//! assert_eq!(snake_case("BlogPost"), "blog_post");
//! assert_eq!(studly_case("blog_post"), "BlogPost");
//! assert_eq!(plural("category"), "categories");
//! assert_eq!(singular("people"), "person");
//! assert_eq!(table_name("BlogPost"), "blog_posts");
//! ```

/// Words with the same singular and plural.
const UNCOUNTABLE: &[&str] = &[
    "data",
    "equipment",
    "feedback",
    "information",
    "media",
    "news",
    "series",
    "species",
    "sheep",
    "fish",
];

/// Irregular (singular, plural) pairs.
const IRREGULAR: &[(&str, &str)] = &[
    ("person", "people"),
    ("man", "men"),
    ("woman", "women"),
    ("child", "children"),
    ("mouse", "mice"),
    ("goose", "geese"),
    ("foot", "feet"),
    ("tooth", "teeth"),
];

/// `BlogPost` → `blog_post`, `HTTPLog` → `http_log`; `blog-post` and `blog post` → `blog_post`.
pub fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    let chars: Vec<char> = name.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if *c == '-' || c.is_whitespace() {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
        } else if c.is_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if i > 0
                && !out.ends_with('_')
                && (prev_lower || (next_lower && chars[i - 1].is_uppercase()))
            {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(*c);
        }
    }
    out
}

/// `blog_post`, `blog-post`, `blogPost` and `BlogPost` → `BlogPost`.
pub fn studly_case(name: &str) -> String {
    snake_case(name)
        .split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect::<String>()
            })
        })
        .collect()
}

/// Split `blog_post` into (`blog_`, `post`): inflection applies to the last word.
fn last_word(word: &str) -> (&str, &str) {
    match word.rfind('_') {
        Some(i) => (&word[..=i], &word[i + 1..]),
        None => ("", word),
    }
}

/// `post` → `posts`, `category` → `categories`, `box` → `boxes`, `person` → `people`;
/// snake_case phrases inflect their last word (`blog_post` → `blog_posts`).
pub fn plural(word: &str) -> String {
    let (head, last) = last_word(word);
    if UNCOUNTABLE.contains(&last) {
        return word.to_owned();
    }
    if let Some((_, p)) = IRREGULAR.iter().find(|(s, _)| *s == last) {
        return format!("{head}{p}");
    }
    let vowel_y = ["ay", "ey", "oy", "uy"].iter().any(|s| last.ends_with(s));
    let plural = if last.ends_with('y') && !vowel_y {
        format!("{}ies", &last[..last.len() - 1])
    } else if ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|s| last.ends_with(s))
    {
        format!("{last}es")
    } else {
        format!("{last}s")
    };
    format!("{head}{plural}")
}

/// `posts` → `post`, `categories` → `category`, `people` → `person`; snake_case phrases
/// inflect their last word (`blog_posts` → `blog_post`). A word that is already singular is
/// returned as it is (`status`, `address`).
pub fn singular(word: &str) -> String {
    let (head, last) = last_word(word);
    if UNCOUNTABLE.contains(&last) {
        return word.to_owned();
    }
    if let Some((s, _)) = IRREGULAR.iter().find(|(s, p)| *p == last || *s == last) {
        return format!("{head}{s}");
    }
    for (suffix, replacement) in [
        ("ies", "y"),
        ("sses", "ss"),
        ("shes", "sh"),
        ("ches", "ch"),
        ("xes", "x"),
        ("zes", "z"),
        ("oes", "o"),
    ] {
        if let Some(stem) = last.strip_suffix(suffix)
            && !stem.is_empty()
        {
            return format!("{head}{stem}{replacement}");
        }
    }
    match last.strip_suffix('s') {
        Some(stem) if !stem.is_empty() && !stem.ends_with('s') && !last.ends_with("us") => {
            format!("{head}{stem}")
        }
        _ => word.to_owned(),
    }
}

/// The default table of a model type: `BlogPost` → `blog_posts`.
pub fn table_name(type_name: &str) -> String {
    plural(&snake_case(type_name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_snake_case_plurals() {
        assert_eq!(table_name("Post"), "posts");
        assert_eq!(table_name("BlogPost"), "blog_posts");
        assert_eq!(table_name("Category"), "categories");
        assert_eq!(table_name("Person"), "people");
        assert_eq!(table_name("Box"), "boxes");
        assert_eq!(table_name("HTTPLog"), "http_logs");
        assert_eq!(table_name("Day"), "days");
        assert_eq!(table_name("News"), "news");
        assert_eq!(plural("user"), "users");
        assert_eq!(plural("blog_child"), "blog_children");
    }

    #[test]
    fn singulars_undo_plurals() {
        for (plural_form, single) in [
            ("posts", "post"),
            ("categories", "category"),
            ("boxes", "box"),
            ("addresses", "address"),
            ("people", "person"),
            ("blog_posts", "blog_post"),
            ("status", "status"),
            ("news", "news"),
            ("tv_series", "tv_series"),
            ("children", "child"),
            ("post", "post"),
        ] {
            assert_eq!(singular(plural_form), single, "{plural_form}");
        }
        for word in [
            "post",
            "category",
            "box",
            "address",
            "person",
            "blog_post",
            "news",
        ] {
            assert_eq!(singular(&plural(word)), word, "round trip of {word}");
        }
    }

    #[test]
    fn cases_convert_between_each_other() {
        for (input, snake, studly) in [
            ("BlogPost", "blog_post", "BlogPost"),
            ("blogPost", "blog_post", "BlogPost"),
            ("blog_post", "blog_post", "BlogPost"),
            ("blog-post", "blog_post", "BlogPost"),
            ("HTTPLog", "http_log", "HttpLog"),
            ("Post2", "post2", "Post2"),
            ("post", "post", "Post"),
            (
                "Store Post Request",
                "store_post_request",
                "StorePostRequest",
            ),
        ] {
            assert_eq!(snake_case(input), snake, "{input}");
            assert_eq!(studly_case(input), studly, "{input}");
        }
    }
}
