//! JSON comparison for the assertions: subset and exact matching, dotted paths, structures,
//! and the diff a failing assertion prints.

use serde_json::{Map, Value};

/// How [`mismatches`] compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Match {
    /// Laravel's `assertJson`: every expected key must be there with a matching value; extra
    /// keys in objects and extra trailing elements in arrays are allowed.
    Subset,
    /// `assertExactJson`: the same keys, the same elements.
    Exact,
}

/// Where `expected` and `actual` differ, one line per difference (empty when they match).
/// Numbers compare by value (`1` matches `1.0`).
pub(crate) fn mismatches(expected: &Value, actual: &Value, mode: Match) -> Vec<String> {
    let mut out = Vec::new();
    walk(expected, actual, "", mode, &mut out);
    out
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn shown(path: &str) -> &str {
    if path.is_empty() { "(root)" } else { path }
}

fn walk(expected: &Value, actual: &Value, path: &str, mode: Match, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(want), Value::Object(got)) => {
            for (key, value) in want {
                let at = child(path, key);
                match got.get(key) {
                    Some(found) => walk(value, found, &at, mode, out),
                    None => out.push(format!("{at}: missing, expected {}", compact(value))),
                }
            }
            if mode == Match::Exact {
                for (key, value) in got {
                    if !want.contains_key(key) {
                        let at = child(path, key);
                        out.push(format!("{at}: unexpected key with {}", compact(value)));
                    }
                }
            }
        }
        (Value::Array(want), Value::Array(got)) => {
            if mode == Match::Exact && want.len() != got.len() {
                out.push(format!(
                    "{}: expected {} element(s), got {}",
                    shown(path),
                    want.len(),
                    got.len()
                ));
            }
            for (index, value) in want.iter().enumerate() {
                let at = child(path, &index.to_string());
                match got.get(index) {
                    Some(found) => walk(value, found, &at, mode, out),
                    None if mode == Match::Subset => {
                        out.push(format!("{at}: missing, expected {}", compact(value)));
                    }
                    None => {}
                }
            }
        }
        _ if same_scalar(expected, actual) => {}
        _ => out.push(format!(
            "{}: expected {}, got {}",
            shown(path),
            compact(expected),
            compact(actual)
        )),
    }
}

/// Equal values, numbers compared by value.
pub(crate) fn same_scalar(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Number(a), Value::Number(b)) => match (a.as_i64(), b.as_i64()) {
            (Some(a), Some(b)) => a == b,
            _ => a.as_f64() == b.as_f64(),
        },
        _ => expected == actual,
    }
}

/// Whether `expected` and `actual` are equal (numbers by value, objects in any key order).
pub(crate) fn equal(expected: &Value, actual: &Value) -> bool {
    mismatches(expected, actual, Match::Exact).is_empty()
}

/// `actual` cut down to the keys and elements `expected` has, so a subset diff shows only what
/// was asked about.
pub(crate) fn project(expected: &Value, actual: &Value) -> Value {
    match (expected, actual) {
        (Value::Object(want), Value::Object(got)) => Value::Object(
            want.iter()
                .filter_map(|(key, value)| {
                    got.get(key)
                        .map(|found| (key.clone(), project(value, found)))
                })
                .collect::<Map<_, _>>(),
        ),
        (Value::Array(want), Value::Array(got)) => Value::Array(
            got.iter()
                .take(want.len())
                .zip(want)
                .map(|(found, value)| project(value, found))
                .collect(),
        ),
        _ => actual.clone(),
    }
}

/// The value at a dotted path (`data.0.title`; numbers index arrays). An empty path is the
/// root.
pub(crate) fn at_path<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    if path.is_empty() {
        return Some(value);
    }
    path.split('.')
        .try_fold(value, |current, key| match current {
            Value::Object(map) => map.get(key),
            Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
}

/// Where `actual` lacks the keys `structure` lists (Laravel's `assertJsonStructure`).
///
/// A structure is a key (`"id"`), a list of structures (all must hold), or an object mapping a
/// key to the structure of its value; the key `*` applies the structure to every element of an
/// array (or every value of an object).
pub(crate) fn structure_mismatches(structure: &Value, actual: &Value) -> Vec<String> {
    let mut out = Vec::new();
    check_structure(structure, actual, "", &mut out);
    out
}

fn check_structure(structure: &Value, actual: &Value, path: &str, out: &mut Vec<String>) {
    match structure {
        Value::Null => {}
        Value::String(key) => require_key(actual, key, path, out).map_or((), |_| ()),
        Value::Array(items) => {
            for item in items {
                check_structure(item, actual, path, out);
            }
        }
        Value::Object(map) => {
            for (key, inner) in map {
                if key == "*" {
                    let elements: Vec<(String, &Value)> = match actual {
                        Value::Array(items) => items
                            .iter()
                            .enumerate()
                            .map(|(i, v)| (i.to_string(), v))
                            .collect(),
                        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v)).collect(),
                        other => {
                            out.push(format!(
                                "{}: expected an array for `*`, got {}",
                                shown(path),
                                compact(other)
                            ));
                            continue;
                        }
                    };
                    for (index, element) in elements {
                        check_structure(inner, element, &child(path, &index), out);
                    }
                } else if let Some(found) = require_key(actual, key, path, out) {
                    check_structure(inner, found, &child(path, key), out);
                }
            }
        }
        other => out.push(format!(
            "{}: a structure lists keys (strings), not {}",
            shown(path),
            compact(other)
        )),
    }
}

fn require_key<'a>(
    actual: &'a Value,
    key: &str,
    path: &str,
    out: &mut Vec<String>,
) -> Option<&'a Value> {
    match actual {
        Value::Object(map) => {
            let found = map.get(key);
            if found.is_none() {
                out.push(format!("{}: missing", child(path, key)));
            }
            found
        }
        other => {
            out.push(format!(
                "{}: expected an object with `{key}`, got {}",
                shown(path),
                compact(other)
            ));
            None
        }
    }
}

/// One line of JSON, cut at 200 characters.
pub(crate) fn compact(value: &Value) -> String {
    let text = value.to_string();
    cut(&text, 200)
}

/// `text` cut to at most `limit` characters, saying how much was left out.
pub(crate) fn cut(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        None => text.to_owned(),
        Some((end, _)) => format!(
            "{}… ({} more bytes)",
            &text[..end],
            text.len().saturating_sub(end)
        ),
    }
}

/// Pretty JSON.
pub(crate) fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// A line diff of `expected` against `actual`: `-` lines only in expected, `+` lines only in
/// actual, two spaces for common lines. Long inputs fall back to showing both sides.
pub(crate) fn line_diff(expected: &str, actual: &str) -> String {
    const MAX_LINES: usize = 400;
    let want: Vec<&str> = expected.lines().collect();
    let got: Vec<&str> = actual.lines().collect();
    if want.len() > MAX_LINES || got.len() > MAX_LINES {
        return format!(
            "expected:\n{}\nactual:\n{}",
            cut(expected, 4000),
            cut(actual, 4000)
        );
    }
    // Longest common subsequence, then walk it.
    let (n, m) = (want.len(), got.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if want[i] == got[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut out = String::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && want[i] == got[j] {
            out.push_str(&format!("  {}\n", want[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push_str(&format!("- {}\n", want[i]));
            i += 1;
        } else {
            out.push_str(&format!("+ {}\n", got[j]));
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subset_allows_extra_keys_and_elements_exact_does_not() {
        let actual = json!({"data": {"id": 1, "title": "Hi", "tags": ["a", "b"]}, "meta": 1});
        let expected = json!({"data": {"title": "Hi", "tags": ["a"]}});
        assert!(mismatches(&expected, &actual, Match::Subset).is_empty());
        let exact = mismatches(&expected, &actual, Match::Exact);
        assert!(
            exact.contains(&"meta: unexpected key with 1".to_owned()),
            "{exact:?}"
        );
        assert!(exact.contains(&"data.tags: expected 1 element(s), got 2".to_owned()));
    }

    #[test]
    fn mismatches_name_the_path() {
        let got = mismatches(
            &json!({"data": [{"title": "Hi"}], "n": 1.0}),
            &json!({"data": [{"title": "Ho"}], "n": 1}),
            Match::Subset,
        );
        assert_eq!(got, ["data.0.title: expected \"Hi\", got \"Ho\""]);
        let missing = mismatches(&json!({"a": {"b": 2}}), &json!({"a": {}}), Match::Subset);
        assert_eq!(missing, ["a.b: missing, expected 2"]);
        let root = mismatches(&json!(1), &json!("1"), Match::Exact);
        assert_eq!(root, ["(root): expected 1, got \"1\""]);
    }

    #[test]
    fn paths_index_objects_and_arrays() {
        let value = json!({"data": [{"title": "Hi"}]});
        assert_eq!(at_path(&value, "data.0.title"), Some(&json!("Hi")));
        assert_eq!(at_path(&value, "data.1.title"), None);
        assert_eq!(at_path(&value, "data.x"), None);
        assert_eq!(at_path(&value, ""), Some(&value));
    }

    #[test]
    fn structures_check_keys_and_wildcards() {
        let actual = json!({"data": [{"id": 1, "title": "a"}, {"id": 2}], "total": 2});
        assert!(
            structure_mismatches(&json!(["total", {"data": {"*": ["id"]}}]), &actual).is_empty()
        );
        assert_eq!(
            structure_mismatches(&json!({"data": {"*": ["id", "title"]}}), &actual),
            ["data.1.title: missing"]
        );
        assert_eq!(
            structure_mismatches(&json!({"total": {"*": ["id"]}}), &actual),
            ["total: expected an array for `*`, got 2"]
        );
    }

    #[test]
    fn projection_keeps_only_what_was_asked() {
        let actual = json!({"data": {"id": 1, "title": "Ho"}, "meta": {}});
        assert_eq!(
            project(&json!({"data": {"title": "Hi"}}), &actual),
            json!({"data": {"title": "Ho"}})
        );
    }

    #[test]
    fn line_diff_marks_changed_lines() {
        let diff = line_diff(
            "{\n  \"a\": 1,\n  \"b\": 2\n}",
            "{\n  \"a\": 1,\n  \"b\": 3\n}",
        );
        assert_eq!(
            diff,
            "  {\n    \"a\": 1,\n-   \"b\": 2\n+   \"b\": 3\n  }\n"
        );
    }

    #[test]
    fn cut_counts_what_it_leaves_out() {
        assert_eq!(cut("abcdef", 3), "abc… (3 more bytes)");
        assert_eq!(cut("abc", 3), "abc");
    }
}
