//! PHP-flavoured views of JSON values: what Laravel's rules mean by "numeric", "empty",
//! "the string value" and "size".

use serde_json::Value;

/// PHP's `is_numeric` on a string: optional surrounding whitespace, sign, digits with an
/// optional decimal point, optional exponent. No hex, no `inf`/`nan`.
pub(crate) fn is_numeric_str(s: &str) -> bool {
    let s = s.trim_matches(|c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c'));
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i = 1;
    }
    let start_digits = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - start_digits;
    let mut frac_digits = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let f = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = i - f;
    }
    if int_digits + frac_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let e = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == e {
            return false;
        }
    }
    i == b.len()
}

/// PHP's `is_numeric` on a value.
pub(crate) fn is_numeric(v: &Value) -> bool {
    match v {
        Value::Number(_) => true,
        Value::String(s) => is_numeric_str(s),
        _ => false,
    }
}

/// The number a numeric value stands for.
pub(crate) fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) if is_numeric_str(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
}

/// PHP's string conversion of a scalar (`(string) $value`): `true` → "1", `false`/`null` → "".
pub(crate) fn to_php_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(number_to_string(n)),
        Value::Bool(true) => Some("1".to_owned()),
        Value::Bool(false) | Value::Null => Some(String::new()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

pub(crate) fn number_to_string(n: &serde_json::Number) -> String {
    if let Some(f) = n.as_f64().filter(|_| n.is_f64()) {
        format_f64(f)
    } else {
        n.to_string()
    }
}

/// A float the way PHP prints it: integral values without a fraction.
pub(crate) fn format_f64(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// Laravel's `validateRequired`: null, a blank string and an empty array/object fail.
pub(crate) fn is_filled(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !php_trim(s).is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

/// PHP's `trim` (space, tab, newline, carriage return, NUL, vertical tab).
pub(crate) fn php_trim(s: &str) -> &str {
    // The trimmed characters are ASCII, so a byte scan finds the same char boundaries as
    // `trim_matches` without decoding UTF-8.
    let trimmed = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\0' | b'\x0b');
    let bytes = s.as_bytes();
    let Some(start) = bytes.iter().position(|b| !trimmed(b)) else {
        return "";
    };
    let end = bytes
        .iter()
        .rposition(|b| !trimmed(b))
        .map_or(start, |i| i + 1);
    s.get(start..end).unwrap_or("")
}

/// A blank string: what makes non-implicit rules skip a present value.
pub(crate) fn is_blank_string(v: &Value) -> bool {
    matches!(v, Value::String(s) if php_trim(s).is_empty())
}

/// PHP's loose `==` between two scalars as Laravel's `in_array` uses it, for the cases that
/// matter in validation: numeric strings compare as numbers, otherwise as strings.
pub(crate) fn loose_eq(a: &Value, b: &Value) -> bool {
    if a == b {
        return true;
    }
    match (a, b) {
        (Value::Bool(x), other) | (other, Value::Bool(x)) => *x == truthy(other),
        (Value::Null, other) | (other, Value::Null) => !truthy(other),
        _ => {
            if is_numeric(a) && is_numeric(b) {
                return as_f64(a) == as_f64(b);
            }
            match (to_php_string(a), to_php_string(b)) {
                (Some(x), Some(y)) => x == y,
                _ => false,
            }
        }
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !(s.is_empty() || s == "0"),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// The number of characters (not bytes) in a string, like `mb_strlen`.
pub(crate) fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// An exact decimal (mantissa × 10^-scale) for `multiple_of` and digit rules.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Decimal {
    pub(crate) mantissa: i128,
    pub(crate) scale: u32,
}

impl Decimal {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if !is_numeric_str(s) {
            return None;
        }
        let (neg, body) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let (body, exp) = match body.find(['e', 'E']) {
            Some(i) => (&body[..i], body[i + 1..].parse::<i32>().ok()?),
            None => (body, 0),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        let digits = format!("{int}{frac}");
        let mut mantissa: i128 = if digits.is_empty() {
            0
        } else {
            digits.parse().ok()?
        };
        let mut scale = i32::try_from(frac.len()).ok()? - exp;
        while scale < 0 {
            mantissa = mantissa.checked_mul(10)?;
            scale += 1;
        }
        if neg {
            mantissa = -mantissa;
        }
        Some(Self {
            mantissa,
            scale: u32::try_from(scale).ok()?,
        })
    }

    pub(crate) fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Number(n) => Self::parse(&n.to_string()),
            Value::String(s) => Self::parse(s),
            _ => None,
        }
    }

    /// Is `self` an exact multiple of `other`?
    pub(crate) fn is_multiple_of(self, other: Self) -> Option<bool> {
        let scale = self.scale.max(other.scale);
        let a = self
            .mantissa
            .checked_mul(10i128.checked_pow(scale - self.scale)?)?;
        let b = other
            .mantissa
            .checked_mul(10i128.checked_pow(scale - other.scale)?)?;
        if b == 0 {
            return Some(false);
        }
        Some(a % b == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numeric_strings_follow_php() {
        for s in ["1", "-1", "+1.5", ".5", "5.", "1e3", " 12", "12 ", "1E-2"] {
            assert!(is_numeric_str(s), "{s}");
        }
        for s in [
            "", " ", "abc", "1a", "0x1A", "1e", ".", "-", "1 2", "inf", "NaN",
        ] {
            assert!(!is_numeric_str(s), "{s}");
        }
    }

    proptest::proptest! {
        #[test]
        fn php_trim_is_trim_matches(s in "[ \t\n\r\0\u{b}\u{c}\u{a0}\u{2028}aé]{0,12}") {
            let by_chars =
                s.trim_matches(|c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\0' | '\x0b'));
            proptest::prop_assert_eq!(php_trim(&s), by_chars);
        }
    }

    #[test]
    fn loose_equality() {
        assert!(loose_eq(&json!("1"), &json!(1)));
        assert!(loose_eq(&json!("1.0"), &json!(1)));
        assert!(!loose_eq(&json!("a"), &json!("b")));
        assert!(loose_eq(&json!(true), &json!("yes")));
    }

    #[test]
    fn decimals_are_exact() {
        let m = |a: &str, b: &str| {
            Decimal::parse(a)
                .unwrap()
                .is_multiple_of(Decimal::parse(b).unwrap())
        };
        assert_eq!(m("0.3", "0.1"), Some(true));
        assert_eq!(m("10", "3"), Some(false));
        assert_eq!(m("1e2", "25"), Some(true));
        assert_eq!(m("5", "0"), Some(false));
    }
}
