//! Laravel's `Password` rule builder.

use std::fmt;

/// A password policy: `Password::min(8).mixed_case().numbers().symbols()`.
///
/// Failing checks are all reported, with Laravel's messages (`min.string`,
/// `password.mixed`, `password.letters`, `password.symbols`, `password.numbers`). The value
/// must also be a string. `uncompromised()` (a network lookup) is not offered.
///
/// ```
/// use foundry_validation::{Password, Rule, Validator};
/// use serde_json::json;
///
/// let policy = Password::min(8).mixed_case().numbers().symbols();
/// let mut v = Validator::new(json!({"password": "secret"}), [("password", vec![Rule::from(policy)])]).unwrap();
/// assert_eq!(v.errors().get("password"), [
///     "The password field must be at least 8 characters.",
///     "The password field must contain at least one uppercase and one lowercase letter.",
///     "The password field must contain at least one symbol.",
///     "The password field must contain at least one number.",
/// ]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Password {
    pub(crate) min: usize,
    pub(crate) max: Option<usize>,
    pub(crate) mixed_case: bool,
    pub(crate) letters: bool,
    pub(crate) numbers: bool,
    pub(crate) symbols: bool,
}

impl Password {
    /// At least `min` characters (Laravel's default minimum is 8).
    pub fn min(min: usize) -> Self {
        Self {
            min,
            max: None,
            mixed_case: false,
            letters: false,
            numbers: false,
            symbols: false,
        }
    }

    /// Laravel's `Password::defaults()` without configuration: `min(8)`.
    pub fn defaults() -> Self {
        Self::min(8)
    }

    /// At most `max` characters.
    #[must_use]
    pub fn max(mut self, max: usize) -> Self {
        self.max = Some(max);
        self
    }

    /// At least one uppercase and one lowercase letter.
    #[must_use]
    pub fn mixed_case(mut self) -> Self {
        self.mixed_case = true;
        self
    }

    /// At least one letter.
    #[must_use]
    pub fn letters(mut self) -> Self {
        self.letters = true;
        self
    }

    /// At least one number.
    #[must_use]
    pub fn numbers(mut self) -> Self {
        self.numbers = true;
        self
    }

    /// At least one symbol (punctuation, symbol or separator character).
    #[must_use]
    pub fn symbols(mut self) -> Self {
        self.symbols = true;
        self
    }

    /// The message keys of the checks `value` fails, in Laravel's order, with the size rule's
    /// parameter when it is a length failure.
    pub(crate) fn failures(&self, value: &str) -> Vec<(&'static str, Option<usize>)> {
        let mut out = Vec::new();
        let len = value.chars().count();
        if len < self.min {
            out.push(("min", Some(self.min)));
        }
        if let Some(max) = self.max.filter(|&m| len > m) {
            out.push(("max", Some(max)));
        }
        let has_lower = value.chars().any(char::is_lowercase);
        let has_upper = value.chars().any(char::is_uppercase);
        if self.mixed_case && !(has_lower && has_upper) {
            out.push(("password.mixed", None));
        }
        if self.letters && !value.chars().any(char::is_alphabetic) {
            out.push(("password.letters", None));
        }
        if self.symbols
            && !value
                .chars()
                .any(|c| !c.is_alphanumeric() && !c.is_control() || c == ' ')
        {
            out.push(("password.symbols", None));
        }
        if self.numbers && !value.chars().any(char::is_numeric) {
            out.push(("password.numbers", None));
        }
        out
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "password:min={}", self.min)?;
        if let Some(max) = self.max {
            write!(f, ",max={max}")?;
        }
        for (on, name) in [
            (self.mixed_case, "mixed"),
            (self.letters, "letters"),
            (self.numbers, "numbers"),
            (self.symbols, "symbols"),
        ] {
            if on {
                write!(f, ",{name}")?;
            }
        }
        Ok(())
    }
}
