//! Format checks written by hand (email, URL, UUID, ULID, MAC, colours, time zones) so the
//! crate needs no extra dependency for them.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use regex::Regex;

static ALPHA: LazyLock<Regex> = LazyLock::new(|| re(r"\A[\p{L}\p{M}]+\z"));
static ALPHA_DASH: LazyLock<Regex> = LazyLock::new(|| re(r"\A[\p{L}\p{M}\p{N}_-]+\z"));
static ALPHA_NUM: LazyLock<Regex> = LazyLock::new(|| re(r"\A[\p{L}\p{M}\p{N}]+\z"));

fn re(pattern: &str) -> Regex {
    // Constant patterns, compiled by the unit tests below: this cannot fail at run time.
    #[allow(clippy::expect_used)]
    Regex::new(pattern).expect("constant regex compiles")
}

/// `alpha` (`ascii` restricts to a–z, A–Z).
pub(crate) fn alpha(s: &str, ascii: bool) -> bool {
    if ascii {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphabetic())
    } else {
        ALPHA.is_match(s)
    }
}

/// `alpha_dash`.
pub(crate) fn alpha_dash(s: &str, ascii: bool) -> bool {
    if ascii {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    } else {
        ALPHA_DASH.is_match(s)
    }
}

/// `alpha_num`.
pub(crate) fn alpha_num(s: &str, ascii: bool) -> bool {
    if ascii {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric())
    } else {
        ALPHA_NUM.is_match(s)
    }
}

const ATEXT_SPECIALS: &[u8] = b"!#$%&'*+-/=?^_`{|}~";

/// Email per RFC 5322/6531 (Laravel's default `rfc` validation): a dot-atom or quoted local
/// part, and a domain of labels or an address literal. With `strict_domain` (`filter`) the
/// domain must contain a dot and be ASCII, like PHP's `FILTER_VALIDATE_EMAIL`.
pub(crate) fn email(s: &str, strict_domain: bool) -> bool {
    // Byte scans rather than string searches: `@`, `.` and `-` are ASCII, so they find the
    // same positions, and short addresses do not pay a searcher's set-up.
    let Some(at) = s.bytes().rposition(|b| b == b'@') else {
        return false;
    };
    let (local, domain) = (&s[..at], &s[at + 1..]);
    if local.is_empty() || domain.is_empty() || local.len() > 64 || s.len() > 254 {
        return false;
    }
    let local_ok = if local.starts_with('"') && local.ends_with('"') && local.len() >= 2 {
        let inner = &local[1..local.len() - 1];
        let mut escaped = false;
        inner.chars().all(|c| {
            if escaped {
                escaped = false;
                return true;
            }
            if c == '\\' {
                escaped = true;
                return true;
            }
            c != '"' && c != '\r' && c != '\n'
        }) && !escaped
    } else {
        let bytes = local.as_bytes();
        bytes.first() != Some(&b'.')
            && bytes.last() != Some(&b'.')
            && !bytes.windows(2).any(|w| w == b"..")
            && local.chars().all(|c| {
                c.is_ascii_alphanumeric()
                    || (c.is_ascii() && ATEXT_SPECIALS.contains(&(c as u8)))
                    || c == '.'
                    || (!c.is_ascii() && !c.is_control() && !c.is_whitespace() && !strict_domain)
            })
    };
    if !local_ok {
        return false;
    }
    if domain.starts_with('[') && domain.ends_with(']') {
        let literal = &domain[1..domain.len() - 1];
        if let Some(v6) = literal.strip_prefix("IPv6:") {
            return v6.parse::<Ipv6Addr>().is_ok();
        }
        return literal.parse::<Ipv4Addr>().is_ok();
    }
    if strict_domain && (!domain.bytes().any(|b| b == b'.') || !domain.is_ascii()) {
        return false;
    }
    hostname(domain)
}

/// A host name of dot-separated labels (letters, digits, hyphens; not at a label's ends).
pub(crate) fn hostname(domain: &str) -> bool {
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    if domain.is_empty() || domain.len() > 253 {
        return false;
    }
    let mut rest = domain;
    loop {
        let (label, next) = match rest.bytes().position(|b| b == b'.') {
            Some(dot) => (&rest[..dot], Some(&rest[dot + 1..])),
            None => (rest, None),
        };
        if !host_label(label) {
            return false;
        }
        match next {
            Some(n) => rest = n,
            None => return true,
        }
    }
}

/// One label of [`hostname`]: 1 to 63 characters, letters (any script), digits, `-` and `_`,
/// no `-` at either end.
fn host_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    !bytes.is_empty()
        && bytes.first() != Some(&b'-')
        && bytes.last() != Some(&b'-')
        // At most 63 bytes is at most 63 characters: count them only when longer.
        && (bytes.len() <= 63 || label.chars().count() <= 63)
        // ASCII letters and digits pass the Unicode test too; anything else asks it.
        && (bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            || label
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '_'))
}

/// An absolute URL `scheme://host[:port][/path][?query][#fragment]`; `schemes` limits the
/// allowed schemes (Laravel's `url:http,https`).
pub(crate) fn url(s: &str, schemes: &[String]) -> bool {
    let Some((scheme, rest)) = s.split_once("://") else {
        return false;
    };
    let scheme_ok = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return false;
    }
    if !schemes.is_empty() && !schemes.iter().any(|p| p.eq_ignore_ascii_case(scheme)) {
        return false;
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host_port = match authority.rfind('@') {
        Some(i) => &authority[i + 1..],
        None => authority,
    };
    let (host, port) = if let Some(stripped) = host_port.strip_prefix('[') {
        let Some(close) = stripped.find(']') else {
            return false;
        };
        if stripped[..close].parse::<Ipv6Addr>().is_err() {
            return false;
        }
        (None, stripped[close + 1..].strip_prefix(':'))
    } else {
        match host_port.rsplit_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(host_port), None),
        }
    };
    if let Some(port) = port
        && (port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    match host {
        None => true,
        Some(h) => h.parse::<Ipv4Addr>().is_ok() || hostname(h),
    }
}

/// A UUID in 8-4-4-4-12 hex form, optionally of a given version (`uuid:4`).
pub(crate) fn uuid(s: &str, version: Option<&str>) -> bool {
    let b = s.as_bytes();
    if b.len() != 36 {
        return false;
    }
    let shape_ok = b.iter().enumerate().all(|(i, &c)| match i {
        8 | 13 | 18 | 23 => c == b'-',
        _ => c.is_ascii_hexdigit(),
    });
    if !shape_ok {
        return false;
    }
    match version {
        None => true,
        Some("max") => s.eq_ignore_ascii_case("ffffffff-ffff-ffff-ffff-ffffffffffff"),
        Some(v) => b
            .get(14)
            .is_some_and(|&c| (c as char).to_string().eq_ignore_ascii_case(v)),
    }
}

/// A ULID: 26 Crockford base-32 characters, the first at most `7`.
pub(crate) fn ulid(s: &str) -> bool {
    s.len() == 26
        && s.as_bytes()
            .first()
            .is_some_and(|&c| (b'0'..=b'7').contains(&c))
        && s.bytes().all(|c| {
            let c = c.to_ascii_uppercase();
            c.is_ascii_digit()
                || (c.is_ascii_uppercase() && !matches!(c, b'I' | b'L' | b'O' | b'U'))
        })
}

/// A MAC address: `01-23-45-67-89-ab`, `01:23:45:67:89:ab` or `0123.4567.89ab`.
pub(crate) fn mac_address(s: &str) -> bool {
    let hex_groups = |sep: char, count: usize, width: usize| {
        let parts: Vec<&str> = s.split(sep).collect();
        parts.len() == count
            && parts
                .iter()
                .all(|p| p.len() == width && p.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    hex_groups('-', 6, 2) || hex_groups(':', 6, 2) || hex_groups('.', 3, 4)
}

/// `#rgb`, `#rgba`, `#rrggbb` or `#rrggbbaa`.
pub(crate) fn hex_color(s: &str) -> bool {
    s.strip_prefix('#').is_some_and(|h| {
        matches!(h.len(), 3 | 4 | 6 | 8) && h.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

static TIMEZONES: &str = include_str!("data/timezones.txt");
static TIMEZONES_BC: &str = include_str!("data/timezones_bc.txt");

/// An IANA time zone identifier. `group` is Laravel's first parameter: `all` (default),
/// `all_with_bc` (adds backward-compatible aliases) or a region such as `Europe`.
pub(crate) fn timezone(s: &str, group: Option<&str>) -> bool {
    let canonical = || TIMEZONES.lines().any(|z| z == s);
    match group.map(str::to_ascii_lowercase).as_deref() {
        None | Some("all") => canonical(),
        Some("all_with_bc") => canonical() || TIMEZONES_BC.lines().any(|z| z == s),
        Some(region) => {
            canonical()
                && s.split_once('/')
                    .is_some_and(|(r, _)| r.eq_ignore_ascii_case(region))
        }
    }
}

/// Whether a `timezone` group parameter is known.
pub(crate) fn timezone_group_known(group: &str) -> bool {
    matches!(
        group.to_ascii_lowercase().as_str(),
        "all"
            | "all_with_bc"
            | "africa"
            | "america"
            | "antarctica"
            | "arctic"
            | "asia"
            | "atlantic"
            | "australia"
            | "europe"
            | "indian"
            | "pacific"
            | "utc"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in [
            "a@b.co",
            "user@localhost",
            "first.last+tag@example.org",
            "\"a b\"@x.io",
            "ü@exämple.de",
            "a@[127.0.0.1]",
            "a@[IPv6:::1]",
        ] {
            assert!(email(ok, false), "{ok}");
        }
        for bad in [
            "", "a", "@b.co", "a@", "a..b@c.d", ".a@b.c", "a.@b.c", "a b@c.d", "a@-b.c", "a@b-.c",
            "a@b..c",
        ] {
            assert!(!email(bad, false), "{bad}");
        }
        assert!(!email("user@localhost", true));
    }

    /// `email` and `hostname` as they were before their byte scans, to compare against.
    fn email_by_searches(s: &str, strict_domain: bool) -> bool {
        let Some(at) = s.rfind('@') else { return false };
        let (local, domain) = (&s[..at], &s[at + 1..]);
        if local.is_empty() || domain.is_empty() || local.len() > 64 || s.len() > 254 {
            return false;
        }
        let local_ok = if local.starts_with('"') && local.ends_with('"') && local.len() >= 2 {
            let inner = &local[1..local.len() - 1];
            let mut escaped = false;
            inner.chars().all(|c| {
                if escaped {
                    escaped = false;
                    return true;
                }
                if c == '\\' {
                    escaped = true;
                    return true;
                }
                c != '"' && c != '\r' && c != '\n'
            }) && !escaped
        } else {
            !local.starts_with('.')
                && !local.ends_with('.')
                && !local.contains("..")
                && local.chars().all(|c| {
                    c.is_ascii_alphanumeric()
                        || (c.is_ascii() && ATEXT_SPECIALS.contains(&(c as u8)))
                        || c == '.'
                        || (!c.is_ascii()
                            && !c.is_control()
                            && !c.is_whitespace()
                            && !strict_domain)
                })
        };
        if !local_ok {
            return false;
        }
        if domain.starts_with('[') && domain.ends_with(']') {
            let literal = &domain[1..domain.len() - 1];
            if let Some(v6) = literal.strip_prefix("IPv6:") {
                return v6.parse::<Ipv6Addr>().is_ok();
            }
            return literal.parse::<Ipv4Addr>().is_ok();
        }
        if strict_domain && (!domain.contains('.') || !domain.is_ascii()) {
            return false;
        }
        hostname_by_searches(domain)
    }

    fn hostname_by_searches(domain: &str) -> bool {
        let domain = domain.strip_suffix('.').unwrap_or(domain);
        !domain.is_empty()
            && domain.len() <= 253
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.chars().count() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .chars()
                        .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
            })
    }

    #[test]
    fn emails_of_the_signup_benchmark() {
        assert!(email("ada@example.com", false));
        for bad in [
            "nope",
            "ada@example..com",
            "ada@.example.com",
            "ada@example.com-",
        ] {
            assert!(!email(bad, false), "{bad}");
        }
        // No dot in the domain: fine for `email`, not for `email:filter`.
        assert!(email("a@b", false) && !email("a@b", true));
        assert!(email("ü@exämple.de", false) && !email("ü@exämple.de", true));
        assert!(!email("a@ex ample.de", false) && !email("a@exa\u{2028}mple.de", false));
        // Label length counts characters, not bytes: 63 two-byte letters fit, 64 do not.
        let label = |n: usize| "é".repeat(n);
        assert!(email(&format!("a@{}.de", label(63)), false));
        assert!(!email(&format!("a@{}.de", label(64)), false));
        assert!(hostname(&format!("{}.de", "a".repeat(63))));
        assert!(!hostname(&format!("{}.de", "a".repeat(64))));
    }

    proptest::proptest! {
        #[test]
        fn byte_scans_answer_like_string_searches(
            local in r#"[a-z0-9@.\-_"\\ \[\]:!#+é\u{130}\u{2028}\u{a0}]{0,10}"#,
            domain in r"[a-zA-Z0-9@.\-_\[\]:é\u{130}\u{2028}\u{a0}]{0,16}",
            long in 0usize..3,
            strict: bool,
        ) {
            // Sometimes stretch the last label past 63 bytes to reach the length limits.
            let domain = match long {
                0 => domain,
                1 => format!("{domain}{}", "é".repeat(40)),
                _ => format!("{domain}{}", "a".repeat(70)),
            };
            for s in [format!("{local}@{domain}"), format!("{local}{domain}")] {
                proptest::prop_assert_eq!(email(&s, strict), email_by_searches(&s, strict), "{}", s);
            }
            proptest::prop_assert_eq!(hostname(&domain), hostname_by_searches(&domain), "{}", domain);
        }
    }

    #[test]
    fn urls() {
        for ok in [
            "http://example.com",
            "https://a.b/c?d=e#f",
            "ftp://127.0.0.1:21/x",
            "http://[::1]:8080/",
            "https://user:pw@host.io",
        ] {
            assert!(url(ok, &[]), "{ok}");
        }
        for bad in [
            "example.com",
            "http://",
            "http://exa mple.com",
            "http://a:port",
            "://x.y",
            "1http://x.y",
        ] {
            assert!(!url(bad, &[]), "{bad}");
        }
        assert!(!url("ftp://x.y", &["http".to_owned(), "https".to_owned()]));
    }

    #[test]
    fn identifiers() {
        assert!(uuid("123e4567-e89b-12d3-a456-426614174000", None));
        assert!(uuid("123e4567-e89b-42d3-a456-426614174000", Some("4")));
        assert!(!uuid("123e4567-e89b-12d3-a456-426614174000", Some("4")));
        assert!(!uuid("123e4567e89b12d3a456426614174000", None));
        assert!(ulid("01ARZ3NDEKTSV4RRFFQ69G5FAV"));
        assert!(!ulid("81ARZ3NDEKTSV4RRFFQ69G5FAV"));
        assert!(!ulid("01ARZ3NDEKTSV4RRFFQ69G5FAI"));
        assert!(mac_address("01-23-45-67-89-ab") && mac_address("0123.4567.89ab"));
        assert!(!mac_address("01-23-45-67-89"));
        assert!(
            hex_color("#fff") && hex_color("#ffffff80") && !hex_color("fff") && !hex_color("#ggg")
        );
        assert!(timezone("Europe/Berlin", None) && timezone("UTC", None));
        assert!(!timezone("Mars/Olympus", None) && !timezone("US/Eastern", None));
        assert!(timezone("US/Eastern", Some("all_with_bc")));
        assert!(
            timezone("Europe/Berlin", Some("Europe")) && !timezone("Asia/Tokyo", Some("Europe"))
        );
    }

    #[test]
    fn letter_classes() {
        assert!(alpha("Straße", false) && !alpha("abc1", false) && !alpha("", false));
        assert!(
            alpha_num("abc123", false) && alpha_dash("a-b_c1", false) && !alpha_dash("a b", false)
        );
        assert!(!alpha("é", true));
    }
}
