//! Dates: the subset of PHP's `strtotime` that forms and APIs send, and PHP `date_format`
//! patterns (`Y-m-d H:i:s`).
//!
//! Accepted by [`parse`]: `2024-02-29`, `2024-02-29 13:45[:10]`, ISO 8601 / RFC 3339 with `T`,
//! fractions and an offset or `Z`, `2024/02/29`, `02/29/2024` (US order, as PHP reads slashes),
//! `29.02.2024` and `29-02-2024` (day first), `@1709164800`, and the words `now`, `today`,
//! `midnight`, `tomorrow`, `yesterday`, optionally followed by `+N unit`/`-N unit`
//! (`+1 day`, `-2 weeks`). Unlike `strtotime`, impossible dates (`2023-02-29`) are rejected
//! instead of rolling over to the next month.

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

/// Parse a date the way the date rules read it; `now` anchors relative words.
pub(crate) fn parse(input: &str, now: NaiveDateTime) -> Option<NaiveDateTime> {
    let s = input.trim();
    if s.is_empty() {
        return None;
    }
    if let Some(ts) = s.strip_prefix('@') {
        let secs: i64 = ts.parse().ok()?;
        return DateTime::from_timestamp(secs, 0).map(|d| d.naive_utc());
    }
    let lower = s.to_ascii_lowercase();
    if let Some(d) = relative(&lower, now) {
        return Some(d);
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.naive_utc());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M%:z",
        "%Y-%m-%d %H:%M:%S %z",
    ] {
        if let Ok(d) = DateTime::parse_from_str(s, fmt) {
            return Some(d.naive_utc());
        }
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
        "%Y/%m/%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(d);
        }
    }
    let s_no_z = s.strip_suffix('Z').unwrap_or(s);
    if s_no_z != s
        && let Ok(d) = NaiveDateTime::parse_from_str(s_no_z, "%Y-%m-%dT%H:%M:%S%.f")
    {
        return Some(d);
    }
    for fmt in ["%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y", "%d.%m.%Y", "%d-%m-%Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, fmt) {
            if fmt.starts_with("%Y") && !s.starts_with(|c: char| c.is_ascii_digit()) {
                continue;
            }
            return d.and_hms_opt(0, 0, 0);
        }
    }
    None
}

fn relative(s: &str, now: NaiveDateTime) -> Option<NaiveDateTime> {
    let mut words = s.split_whitespace();
    let first = words.next()?;
    let midnight = |d: NaiveDateTime| d.date().and_hms_opt(0, 0, 0);
    let mut base = match first {
        "now" => now,
        "today" | "midnight" => midnight(now)?,
        "tomorrow" => midnight(now)? + Duration::days(1),
        "yesterday" => midnight(now)? - Duration::days(1),
        _ if first.starts_with(['+', '-']) => {
            return shift(now, first, words.next()?, words.next().is_none());
        }
        _ => return None,
    };
    let rest: Vec<&str> = words.collect();
    match rest.as_slice() {
        [] => Some(base),
        [amount, unit] => {
            base = shift(base, amount, unit, true)?;
            Some(base)
        }
        _ => None,
    }
}

fn shift(base: NaiveDateTime, amount: &str, unit: &str, last: bool) -> Option<NaiveDateTime> {
    if !last || !amount.starts_with(['+', '-']) {
        return None;
    }
    let n: i64 = amount.parse().ok()?;
    let unit = unit.trim_end_matches('s');
    Some(match unit {
        "second" | "sec" => base + Duration::seconds(n),
        "minute" | "min" => base + Duration::minutes(n),
        "hour" => base + Duration::hours(n),
        "day" => base + Duration::days(n),
        "week" => base + Duration::weeks(n),
        "month" | "year" => {
            let months = u32::try_from(n.unsigned_abs())
                .ok()?
                .checked_mul(if unit == "year" { 12 } else { 1 })?;
            if n >= 0 {
                base.checked_add_months(Months::new(months))?
            } else {
                base.checked_sub_months(Months::new(months))?
            }
        }
        _ => return None,
    })
}

/// A token of a PHP date format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    Literal(char),
    /// `d` (01–31), `j` (1–31)
    Day {
        padded: bool,
    },
    /// `m` (01–12), `n` (1–12)
    Month {
        padded: bool,
    },
    /// `M` (Jan), `F` (January)
    MonthName {
        long: bool,
    },
    /// `D` (Mon), `l` (Monday)
    Weekday {
        long: bool,
    },
    /// `Y` (4 digits), `y` (2 digits)
    Year {
        long: bool,
    },
    /// `H` (00–23), `G` (0–23)
    Hour24 {
        padded: bool,
    },
    /// `h` (01–12), `g` (1–12)
    Hour12 {
        padded: bool,
    },
    /// `i`
    Minute,
    /// `s`
    Second,
    /// `A` (AM/PM), `a` (am/pm)
    Meridiem {
        upper: bool,
    },
    /// `v` milliseconds, `u` microseconds
    Fraction {
        digits: usize,
    },
    /// `P` (+02:00), `O` (+0200), `p` (Z or +02:00)
    Offset {
        colon: bool,
        z: bool,
    },
    /// `U`
    Timestamp,
}

/// Compile a PHP date format; an unsupported letter is a developer error naming it.
pub(crate) fn compile_format(format: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        tokens.push(match c {
            '\\' => Token::Literal(chars.next().unwrap_or('\\')),
            'd' => Token::Day { padded: true },
            'j' => Token::Day { padded: false },
            'm' => Token::Month { padded: true },
            'n' => Token::Month { padded: false },
            'M' => Token::MonthName { long: false },
            'F' => Token::MonthName { long: true },
            'D' => Token::Weekday { long: false },
            'l' => Token::Weekday { long: true },
            'Y' => Token::Year { long: true },
            'y' => Token::Year { long: false },
            'H' => Token::Hour24 { padded: true },
            'G' => Token::Hour24 { padded: false },
            'h' => Token::Hour12 { padded: true },
            'g' => Token::Hour12 { padded: false },
            'i' => Token::Minute,
            's' => Token::Second,
            'A' => Token::Meridiem { upper: true },
            'a' => Token::Meridiem { upper: false },
            'v' => Token::Fraction { digits: 3 },
            'u' => Token::Fraction { digits: 6 },
            'P' => Token::Offset {
                colon: true,
                z: false,
            },
            'O' => Token::Offset {
                colon: false,
                z: false,
            },
            'p' => Token::Offset {
                colon: true,
                z: true,
            },
            'U' => Token::Timestamp,
            c if c.is_ascii_alphabetic() => {
                return Err(format!("the date format letter `{c}` is not supported"));
            }
            c => Token::Literal(c),
        });
    }
    Ok(tokens)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

#[derive(Default)]
struct Parts {
    year: Option<i32>,
    month: Option<u32>,
    day: Option<u32>,
    hour: Option<u32>,
    pm: Option<bool>,
    minute: Option<u32>,
    second: Option<u32>,
    micros: u32,
    offset_secs: i32,
    timestamp: Option<i64>,
}

fn take_digits(s: &str, min: usize, max: usize) -> Option<(u32, &str)> {
    let n = s.bytes().take(max).take_while(u8::is_ascii_digit).count();
    if n < min {
        return None;
    }
    Some((s[..n].parse().ok()?, &s[n..]))
}

/// Parse `input` with a compiled format and check that formatting the result gives the input
/// back (what Laravel's `date_format` does). Returns the date when it matches.
pub(crate) fn parse_with_format(tokens: &[Token], input: &str) -> Option<NaiveDateTime> {
    let mut rest = input;
    let mut p = Parts::default();
    for token in tokens {
        match token {
            Token::Literal(c) => rest = rest.strip_prefix(*c)?,
            Token::Day { padded } => {
                let (v, r) = take_digits(rest, if *padded { 2 } else { 1 }, 2)?;
                p.day = Some(v);
                rest = r;
            }
            Token::Month { padded } => {
                let (v, r) = take_digits(rest, if *padded { 2 } else { 1 }, 2)?;
                p.month = Some(v);
                rest = r;
            }
            Token::MonthName { long } => {
                let (i, len) = MONTHS.iter().enumerate().find_map(|(i, m)| {
                    let name = if *long { m } else { &m[..3] };
                    rest.get(..name.len())
                        .filter(|h| h.eq_ignore_ascii_case(name))
                        .map(|_| (i, name.len()))
                })?;
                p.month = Some(u32::try_from(i).ok()? + 1);
                rest = &rest[len..];
            }
            Token::Weekday { long } => {
                let len = WEEKDAYS.iter().find_map(|d| {
                    let name = if *long { d } else { &d[..3] };
                    rest.get(..name.len())
                        .filter(|h| h.eq_ignore_ascii_case(name))
                        .map(|_| name.len())
                })?;
                rest = &rest[len..];
            }
            Token::Year { long } => {
                let (v, r) = if *long {
                    take_digits(rest, 4, 4)?
                } else {
                    take_digits(rest, 2, 2)?
                };
                let v = i32::try_from(v).ok()?;
                p.year = Some(if *long {
                    v
                } else if v < 70 {
                    2000 + v
                } else {
                    1900 + v
                });
                rest = r;
            }
            Token::Hour24 { padded } | Token::Hour12 { padded } => {
                let (v, r) = take_digits(rest, if *padded { 2 } else { 1 }, 2)?;
                p.hour = Some(v);
                if matches!(token, Token::Hour12 { .. }) && !(1..=12).contains(&v) {
                    return None;
                }
                rest = r;
            }
            Token::Minute => {
                let (v, r) = take_digits(rest, 2, 2)?;
                p.minute = Some(v);
                rest = r;
            }
            Token::Second => {
                let (v, r) = take_digits(rest, 2, 2)?;
                p.second = Some(v);
                rest = r;
            }
            Token::Meridiem { .. } => {
                let head = rest.get(..2)?.to_ascii_lowercase();
                p.pm = Some(match head.as_str() {
                    "am" => false,
                    "pm" => true,
                    _ => return None,
                });
                rest = &rest[2..];
            }
            Token::Fraction { digits } => {
                let (v, r) = take_digits(rest, *digits, *digits)?;
                p.micros = if *digits == 3 { v * 1000 } else { v };
                rest = r;
            }
            Token::Offset { colon, z } => {
                if *z && rest.starts_with('Z') {
                    rest = &rest[1..];
                    continue;
                }
                let sign = match rest.as_bytes().first()? {
                    b'+' => 1,
                    b'-' => -1,
                    _ => return None,
                };
                let (h, r) = take_digits(&rest[1..], 2, 2)?;
                let r = if *colon { r.strip_prefix(':')? } else { r };
                let (m, r) = take_digits(r, 2, 2)?;
                p.offset_secs = sign * i32::try_from(h * 3600 + m * 60).ok()?;
                rest = r;
            }
            Token::Timestamp => {
                let n = rest
                    .bytes()
                    .enumerate()
                    .take_while(|(i, b)| b.is_ascii_digit() || (*i == 0 && *b == b'-'))
                    .count();
                p.timestamp = Some(rest[..n].parse().ok()?);
                rest = &rest[n..];
            }
        }
    }
    if !rest.is_empty() {
        return None;
    }
    let date = if let Some(ts) = p.timestamp {
        DateTime::from_timestamp(ts, 0)?.naive_utc()
    } else {
        // PHP's `!` prefix: fields not in the format reset to the Unix epoch.
        let mut hour = p.hour.unwrap_or(0);
        if let Some(pm) = p.pm {
            hour = match (pm, hour) {
                (false, 12) => 0,
                (true, h) if h < 12 => h + 12,
                (_, h) => h,
            };
        }
        let d = NaiveDate::from_ymd_opt(
            p.year.unwrap_or(1970),
            p.month.unwrap_or(1),
            p.day.unwrap_or(1),
        )?;
        let t = NaiveTime::from_hms_micro_opt(
            hour,
            p.minute.unwrap_or(0),
            p.second.unwrap_or(0),
            p.micros,
        )?;
        d.and_time(t) - Duration::seconds(i64::from(p.offset_secs))
    };
    // Round trip: the rendered date must equal the input (rejects 31.02, 24:00, …).
    let local = date + Duration::seconds(i64::from(p.offset_secs));
    (render(tokens, local, p.offset_secs) == input).then_some(date)
}

fn render(tokens: &[Token], d: NaiveDateTime, offset_secs: i32) -> String {
    let mut out = String::new();
    for token in tokens {
        match token {
            Token::Literal(c) => out.push(*c),
            Token::Day { padded: true } => out.push_str(&format!("{:02}", d.day())),
            Token::Day { padded: false } => out.push_str(&d.day().to_string()),
            Token::Month { padded: true } => out.push_str(&format!("{:02}", d.month())),
            Token::Month { padded: false } => out.push_str(&d.month().to_string()),
            Token::MonthName { long } => {
                let name = MONTHS.get(d.month0() as usize).copied().unwrap_or("");
                out.push_str(if *long {
                    name
                } else {
                    name.get(..3).unwrap_or(name)
                });
            }
            Token::Weekday { long } => {
                let name = WEEKDAYS
                    .get(d.weekday().num_days_from_monday() as usize)
                    .copied()
                    .unwrap_or("");
                out.push_str(if *long {
                    name
                } else {
                    name.get(..3).unwrap_or(name)
                });
            }
            Token::Year { long: true } => out.push_str(&format!("{:04}", d.year())),
            Token::Year { long: false } => {
                out.push_str(&format!("{:02}", d.year().rem_euclid(100)));
            }
            Token::Hour24 { padded: true } => out.push_str(&format!("{:02}", d.hour())),
            Token::Hour24 { padded: false } => out.push_str(&d.hour().to_string()),
            Token::Hour12 { padded } => {
                let h = match d.hour() % 12 {
                    0 => 12,
                    h => h,
                };
                out.push_str(&if *padded {
                    format!("{h:02}")
                } else {
                    h.to_string()
                });
            }
            Token::Minute => out.push_str(&format!("{:02}", d.minute())),
            Token::Second => out.push_str(&format!("{:02}", d.second())),
            Token::Meridiem { upper } => {
                let m = if d.hour() < 12 { "am" } else { "pm" };
                out.push_str(&if *upper {
                    m.to_ascii_uppercase()
                } else {
                    m.to_owned()
                });
            }
            Token::Fraction { digits: 3 } => {
                out.push_str(&format!("{:03}", d.nanosecond() / 1_000_000));
            }
            Token::Fraction { .. } => out.push_str(&format!("{:06}", d.nanosecond() / 1000)),
            Token::Offset { colon, z } => {
                if *z && offset_secs == 0 {
                    out.push('Z');
                } else {
                    let sign = if offset_secs < 0 { '-' } else { '+' };
                    let abs = offset_secs.unsigned_abs();
                    let (h, m) = (abs / 3600, abs % 3600 / 60);
                    out.push_str(&if *colon {
                        format!("{sign}{h:02}:{m:02}")
                    } else {
                        format!("{sign}{h:02}{m:02}")
                    });
                }
            }
            Token::Timestamp => out.push_str(
                &(d - Duration::seconds(i64::from(offset_secs)))
                    .and_utc()
                    .timestamp()
                    .to_string(),
            ),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2024, 5, 10)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
    }

    #[test]
    fn parses_common_shapes() {
        let d = |s: &str| parse(s, now()).map(|d| d.to_string());
        assert_eq!(d("2024-02-29").as_deref(), Some("2024-02-29 00:00:00"));
        assert_eq!(d("2023-02-29"), None);
        assert_eq!(
            d("2024-02-29T10:00:00+02:00").as_deref(),
            Some("2024-02-29 08:00:00")
        );
        assert_eq!(
            d("2024-02-29 10:15").as_deref(),
            Some("2024-02-29 10:15:00")
        );
        assert_eq!(d("02/29/2024").as_deref(), Some("2024-02-29 00:00:00"));
        assert_eq!(d("29.02.2024").as_deref(), Some("2024-02-29 00:00:00"));
        assert_eq!(d("tomorrow").as_deref(), Some("2024-05-11 00:00:00"));
        assert_eq!(d("today +1 week").as_deref(), Some("2024-05-17 00:00:00"));
        assert_eq!(d("+1 month").as_deref(), Some("2024-06-10 12:00:00"));
        assert_eq!(d("@0").as_deref(), Some("1970-01-01 00:00:00"));
        for bad in [
            "",
            "not a date",
            "2024-13-01",
            "2024-00-10",
            "31/12/2024",
            "tomorrow please",
        ] {
            assert_eq!(d(bad), None, "{bad}");
        }
    }

    #[test]
    fn php_formats_round_trip() {
        let f = |fmt: &str, s: &str| parse_with_format(&compile_format(fmt).unwrap(), s).is_some();
        assert!(f("Y-m-d", "2024-02-29"));
        assert!(!f("Y-m-d", "2023-02-29"));
        assert!(!f("Y-m-d", "2024-2-9"));
        assert!(f("Y-n-j", "2024-2-9"));
        assert!(f("d/m/Y H:i", "31/12/2024 23:59"));
        assert!(!f("d/m/Y H:i", "31/12/2024 24:00"));
        assert!(f("D, d M Y", "Fri, 10 May 2024"));
        assert!(!f("D, d M Y", "Mon, 10 May 2024"));
        assert!(f("g:i A", "1:05 PM"));
        assert!(f("Y-m-d\\TH:i:sP", "2024-05-10T12:00:00+02:00"));
        assert!(f("U", "1715342400"));
        assert!(compile_format("Y-m-d Q").is_err());
    }
}
