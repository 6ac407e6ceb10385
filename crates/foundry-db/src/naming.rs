//! Naming conventions: snake_case and English plurals for table names (Laravel's `Str::plural`,
//! the common rules; override a model's table when they guess wrong).

/// `BlogPost` → `blog_post`.
pub fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    let chars: Vec<char> = name.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if i > 0 && (prev_lower || (next_lower && chars[i - 1].is_uppercase())) {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(*c);
        }
    }
    out
}

/// `post` → `posts`, `category` → `categories`, `box` → `boxes`, `person` → `people`.
pub fn plural(word: &str) -> String {
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
    const UNCOUNTABLE: &[&str] = &[
        "data",
        "equipment",
        "information",
        "media",
        "news",
        "series",
        "species",
        "sheep",
        "fish",
    ];
    let (head, last) = match word.rfind('_') {
        Some(i) => (&word[..=i], &word[i + 1..]),
        None => ("", word),
    };
    if UNCOUNTABLE.contains(&last) {
        return word.to_owned();
    }
    if let Some((_, p)) = IRREGULAR.iter().find(|(s, _)| *s == last) {
        return format!("{head}{p}");
    }
    let plural = if last.ends_with('y')
        && !last.ends_with("ay")
        && !last.ends_with("ey")
        && !last.ends_with("oy")
        && !last.ends_with("uy")
    {
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
        assert_eq!(plural("user"), "users");
    }
}
