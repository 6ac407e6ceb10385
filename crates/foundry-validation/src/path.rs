//! Dotted paths over JSON: `author.name`, `items.*.sku`, `file\.name` (an escaped dot).

use serde_json::{Map, Value};

/// A path split into segments; `*` is a wildcard segment.
pub(crate) fn split(pattern: &str) -> Vec<String> {
    let mut segments = Vec::new();
    let mut current = String::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'.') => {
                current.push('.');
                chars.next();
            }
            '.' => segments.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    segments.push(current);
    segments
}

/// Join segments back into a display key (literal dots stay as they are, Laravel shows them raw).
pub(crate) fn join(segments: &[String]) -> String {
    segments.join(".")
}

/// The value at a path, if present.
pub(crate) fn get<'a>(data: &'a Value, segments: &[String]) -> Option<&'a Value> {
    let mut current = data;
    for segment in segments {
        current = child(current, segment)?;
    }
    Some(current)
}

/// The value at a path, mutably.
pub(crate) fn get_mut<'a>(data: &'a mut Value, segments: &[String]) -> Option<&'a mut Value> {
    let mut current = data;
    for segment in segments {
        current = match current {
            Value::Object(map) => map.get_mut(segment)?,
            Value::Array(list) => list.get_mut(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

pub(crate) fn child<'a>(value: &'a Value, segment: &str) -> Option<&'a Value> {
    match value {
        Value::Object(map) => map.get(segment),
        Value::Array(list) => segment.parse::<usize>().ok().and_then(|i| list.get(i)),
        _ => None,
    }
}

/// The value at a dotted key given as text (used for other fields named in rule parameters).
pub(crate) fn get_str<'a>(data: &'a Value, key: &str) -> Option<&'a Value> {
    get(data, &split(key))
}

/// Expand a pattern with `*` over the data, the way Laravel does: every element under a
/// wildcard yields a key, even when the literal segments after it are missing (so `required`
/// can report them); a wildcard under a missing value yields nothing.
pub(crate) fn expand(data: &Value, segments: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut prefix = Vec::with_capacity(segments.len());
    expand_into(Some(data), segments, &mut prefix, false, &mut out);
    out
}

fn expand_into(
    value: Option<&Value>,
    rest: &[String],
    prefix: &mut Vec<String>,
    after_wildcard: bool,
    out: &mut Vec<Vec<String>>,
) {
    let Some((head, tail)) = rest.split_first() else {
        out.push(prefix.clone());
        return;
    };
    if head == "*" {
        let Some(value) = value else { return };
        match value {
            Value::Array(list) => {
                for (i, item) in list.iter().enumerate() {
                    prefix.push(i.to_string());
                    expand_into(Some(item), tail, prefix, true, out);
                    prefix.pop();
                }
            }
            Value::Object(map) => {
                for (key, item) in map {
                    prefix.push(key.clone());
                    expand_into(Some(item), tail, prefix, true, out);
                    prefix.pop();
                }
            }
            _ => {}
        }
        return;
    }
    let next = value.and_then(|v| child(v, head));
    if next.is_none() && !after_wildcard {
        // Before any wildcard, a missing parent means the whole pattern expands to nothing
        // when a wildcard is still to come; otherwise the plain key is validated as missing.
        if tail.iter().any(|s| s == "*") {
            return;
        }
    }
    prefix.push(head.clone());
    expand_into(next, tail, prefix, after_wildcard, out);
    prefix.pop();
}

/// Set a value at a path, creating objects on the way (arrays keep their numeric positions).
pub(crate) fn set(target: &mut Value, segments: &[String], value: Value) {
    let Some((head, tail)) = segments.split_first() else {
        *target = value;
        return;
    };
    if !matches!(target, Value::Object(_) | Value::Array(_)) {
        *target = Value::Object(Map::new());
    }
    match target {
        Value::Array(list) => {
            if let Ok(i) = head.parse::<usize>() {
                if i < list.len() {
                    if let Some(slot) = list.get_mut(i) {
                        set(slot, tail, value);
                    }
                    return;
                }
                if i == list.len() {
                    let mut slot = Value::Null;
                    set(&mut slot, tail, value);
                    list.push(slot);
                    return;
                }
            }
            // A sparse index: turn the list into an object keyed by position.
            let map: Map<String, Value> = std::mem::take(list)
                .into_iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v))
                .collect();
            *target = Value::Object(map);
            set(target, segments, value);
        }
        Value::Object(map) => {
            let slot = map.entry(head.clone()).or_insert(Value::Null);
            if tail.is_empty() {
                *slot = value;
            } else {
                if !matches!(slot, Value::Object(_) | Value::Array(_)) {
                    *slot = if tail.first().is_some_and(|s| s == "0") {
                        Value::Array(Vec::new())
                    } else {
                        Value::Object(Map::new())
                    };
                }
                set(slot, tail, value);
            }
        }
        _ => {}
    }
}

/// Remove the value at a path.
pub(crate) fn remove(target: &mut Value, segments: &[String]) {
    let Some((last, parents)) = segments.split_last() else {
        return;
    };
    let mut current = target;
    for segment in parents {
        let next = match current {
            Value::Object(map) => map.get_mut(segment),
            Value::Array(list) => segment.parse::<usize>().ok().and_then(|i| list.get_mut(i)),
            _ => None,
        };
        match next {
            Some(n) => current = n,
            None => return,
        }
    }
    match current {
        Value::Object(map) => {
            map.remove(last);
        }
        Value::Array(list) => {
            // Keep positions stable for sibling keys: replace by null is not removal, so
            // convert to an object only if needed. Removing from a list shifts indexes, which
            // Laravel's unset does not do; mirror unset by turning the list into an object.
            if let Ok(i) = last.parse::<usize>()
                && i < list.len()
            {
                let map: Map<String, Value> = std::mem::take(list)
                    .into_iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(j, v)| (j.to_string(), v))
                    .collect();
                *current = Value::Object(map);
            }
        }
        _ => {}
    }
}

/// Does a concrete key match a pattern with `*` (each `*` is exactly one segment)?
pub(crate) fn matches(pattern: &[String], key: &[String]) -> bool {
    pattern.len() == key.len() && pattern.iter().zip(key).all(|(p, k)| p == "*" || p == k)
}

/// Does a concrete dotted key match a dotted pattern given as text?
pub(crate) fn matches_str(pattern: &str, key: &[String]) -> bool {
    matches(&split(pattern), key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keys(data: &Value, pattern: &str) -> Vec<String> {
        expand(data, &split(pattern))
            .iter()
            .map(|k| join(k))
            .collect()
    }

    #[test]
    fn splits_escaped_dots() {
        assert_eq!(split(r"a\.b.c"), ["a.b", "c"]);
        assert_eq!(split("a"), ["a"]);
    }

    #[test]
    fn expands_wildcards_like_laravel() {
        let data = json!({"items": [{"sku": "a"}, {}, 3], "empty": []});
        assert_eq!(
            keys(&data, "items.*.sku"),
            ["items.0.sku", "items.1.sku", "items.2.sku"]
        );
        assert_eq!(keys(&data, "items.*"), ["items.0", "items.1", "items.2"]);
        assert!(keys(&data, "empty.*").is_empty());
        assert!(keys(&data, "missing.*.x").is_empty());
        assert_eq!(keys(&data, "missing.x"), ["missing.x"]);
        assert!(keys(&data, "items.*.tags.*").is_empty());
    }

    #[test]
    fn set_and_remove_build_nested_values() {
        let mut out = Value::Null;
        set(&mut out, &split("a.b"), json!(1));
        set(&mut out, &split("items.0.sku"), json!("x"));
        set(&mut out, &split("items.1.sku"), json!("y"));
        assert_eq!(
            out,
            json!({"a": {"b": 1}, "items": [{"sku": "x"}, {"sku": "y"}]})
        );
        remove(&mut out, &split("a.b"));
        assert_eq!(out["a"], json!({}));
    }
}
