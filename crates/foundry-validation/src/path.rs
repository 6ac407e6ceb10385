//! Dotted paths over JSON: `author.name`, `items.*.sku`, `file\.name` (an escaped dot).

use serde_json::{Map, Value};

/// A path split into segments; `*` is a wildcard segment.
pub(crate) fn split(pattern: &str) -> Vec<String> {
    if !pattern.contains('\\') {
        return pattern.split('.').map(str::to_owned).collect();
    }
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

/// An expanded key: its display text (`items.2.sku`) and where each segment lies in it, so a
/// key costs two allocations however deep it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Key {
    text: String,
    ranges: Vec<(usize, usize)>,
}

impl Key {
    pub(crate) fn from_segments(segments: &[String]) -> Self {
        let mut text = String::new();
        let mut ranges = Vec::with_capacity(segments.len());
        for s in segments {
            push_segment(&mut text, &mut ranges, s);
        }
        Self { text, ranges }
    }

    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    pub(crate) fn segments(&self) -> impl Iterator<Item = &str> + '_ {
        self.ranges
            .iter()
            .map(|&(a, b)| self.text.get(a..b).unwrap_or(""))
    }

    pub(crate) fn last(&self) -> Option<&str> {
        self.segments().last()
    }

    pub(crate) fn to_vec(&self) -> Vec<String> {
        self.segments().map(str::to_owned).collect()
    }

    /// Whether `prefix` is a leading run of this key's segments.
    pub(crate) fn starts_with(&self, prefix: &[String]) -> bool {
        prefix.len() <= self.ranges.len() && self.segments().zip(prefix).all(|(a, b)| a == b)
    }

    pub(crate) fn eq_segments(&self, other: &[String]) -> bool {
        other.len() == self.ranges.len() && self.starts_with(other)
    }
}

fn push_segment(text: &mut String, ranges: &mut Vec<(usize, usize)>, segment: &str) {
    if !ranges.is_empty() {
        text.push('.');
    }
    let start = text.len();
    text.push_str(segment);
    ranges.push((start, text.len()));
}

/// Like [`expand`], producing [`Key`]s with the value found at each (`None` when missing).
pub(crate) fn expand_keys<'a>(
    data: &'a Value,
    segments: &[String],
) -> Vec<(Key, Option<&'a Value>)> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut ranges = Vec::with_capacity(segments.len());
    expand_keys_into(
        Some(data),
        segments,
        &mut text,
        &mut ranges,
        false,
        &mut out,
    );
    out
}

fn expand_keys_into<'a>(
    value: Option<&'a Value>,
    rest: &[String],
    text: &mut String,
    ranges: &mut Vec<(usize, usize)>,
    after_wildcard: bool,
    out: &mut Vec<(Key, Option<&'a Value>)>,
) {
    let Some((head, tail)) = rest.split_first() else {
        out.push((
            Key {
                text: text.clone(),
                ranges: ranges.clone(),
            },
            value,
        ));
        return;
    };
    let mark = text.len();
    let descend = |segment: &str,
                   next: Option<&'a Value>,
                   after: bool,
                   text: &mut String,
                   ranges: &mut Vec<(usize, usize)>,
                   out: &mut Vec<(Key, Option<&'a Value>)>| {
        push_segment(text, ranges, segment);
        expand_keys_into(next, tail, text, ranges, after, out);
        ranges.pop();
        text.truncate(mark);
    };
    if head == "*" {
        match value {
            Some(Value::Array(list)) => {
                let mut digits = [0u8; 20];
                for (i, item) in list.iter().enumerate() {
                    descend(
                        format_index(i, &mut digits),
                        Some(item),
                        true,
                        text,
                        ranges,
                        out,
                    );
                }
            }
            Some(Value::Object(map)) => {
                for (key, item) in map {
                    descend(key, Some(item), true, text, ranges, out);
                }
            }
            _ => {}
        }
        return;
    }
    let next = value.and_then(|v| child(v, head));
    if next.is_none() && !after_wildcard && tail.iter().any(|s| s == "*") {
        return;
    }
    descend(head, next, after_wildcard, text, ranges, out);
}

/// An index in decimal without allocating.
fn format_index(mut n: usize, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).unwrap_or("0")
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
