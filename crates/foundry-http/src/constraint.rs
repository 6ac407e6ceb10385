//! Path parameter constraints (`where_number`, `where_uuid`, `where_pattern`, …): a request
//! whose parameter does not match gets a 404, as if the route did not exist.

use std::sync::Arc;

use axum::extract::{RawPathParams, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use foundry_core::Error;
use regex::Regex;

/// What a path parameter must look like.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Constraint {
    /// ASCII digits only (`whereNumber`).
    Number,
    /// ASCII letters only (`whereAlpha`).
    Alpha,
    /// ASCII letters and digits (`whereAlphaNumeric`).
    AlphaNumeric,
    /// A UUID in its 8-4-4-4-12 hexadecimal form (`whereUuid`).
    Uuid,
    /// A ULID: 26 Crockford base-32 characters (`whereUlid`).
    Ulid,
    /// One of these values (`whereIn`).
    In(Vec<String>),
    /// A regular expression matched against the whole value (`where`).
    Pattern(Regex),
}

impl Constraint {
    /// A pattern constraint; the expression must match the whole value.
    pub fn pattern(expression: &str) -> Result<Self, regex::Error> {
        Regex::new(&format!("^(?:{expression})$")).map(Constraint::Pattern)
    }

    /// Whether `value` (already percent-decoded) satisfies the constraint.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Constraint::Number => !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()),
            Constraint::Alpha => {
                !value.is_empty() && value.bytes().all(|b| b.is_ascii_alphabetic())
            }
            Constraint::AlphaNumeric => {
                !value.is_empty() && value.bytes().all(|b| b.is_ascii_alphanumeric())
            }
            Constraint::Uuid => is_uuid(value),
            Constraint::Ulid => {
                value.len() == 26
                    && value.as_bytes()[0] <= b'7'
                    && value.bytes().all(|b| {
                        b.is_ascii_digit() || (b.is_ascii_alphabetic() && !b"ILOUilou".contains(&b))
                    })
            }
            Constraint::In(values) => values.iter().any(|v| v == value),
            Constraint::Pattern(regex) => regex.is_match(value),
        }
    }
}

fn is_uuid(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// The constraints of one route, checked before its handler and middleware run.
pub(crate) type Constraints = Arc<Vec<(String, Constraint)>>;

pub(crate) async fn check(
    State(constraints): State<Constraints>,
    params: RawPathParams,
    request: Request,
    next: Next,
) -> Response {
    for (name, value) in &params {
        if let Some((_, constraint)) = constraints.iter().find(|(n, _)| n == name)
            && !constraint.matches(value)
        {
            return Error::not_found("Not Found").into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_constraint_accepts_and_rejects() {
        assert!(
            Constraint::Number.matches("42")
                && !Constraint::Number.matches("4a")
                && !Constraint::Number.matches("")
        );
        assert!(Constraint::Alpha.matches("abc") && !Constraint::Alpha.matches("ab1"));
        assert!(
            Constraint::AlphaNumeric.matches("ab1") && !Constraint::AlphaNumeric.matches("ab-1")
        );
        assert!(Constraint::Uuid.matches("67e55044-10b1-426f-9247-bb680e5fe0c8"));
        assert!(!Constraint::Uuid.matches("67e55044-10b1-426f-9247-bb680e5fe0cz"));
        assert!(!Constraint::Uuid.matches("67e5504410b1426f9247bb680e5fe0c8"));
        assert!(Constraint::Ulid.matches("01ARZ3NDEKTSV4RRFFQ69G5FAV"));
        assert!(
            !Constraint::Ulid.matches("01ARZ3NDEKTSV4RRFFQ69G5FAI"),
            "I is not Crockford"
        );
        assert!(
            !Constraint::Ulid.matches("81ARZ3NDEKTSV4RRFFQ69G5FAV"),
            "overflows 128 bits"
        );
        assert!(Constraint::In(vec!["draft".into(), "live".into()]).matches("live"));
        assert!(!Constraint::In(vec!["draft".into()]).matches("drafts"));
        let slug = Constraint::pattern("[a-z0-9-]+").unwrap();
        assert!(slug.matches("hello-world") && !slug.matches("Hello") && !slug.matches("a/b"));
        assert!(Constraint::pattern("(").is_err());
    }
}
