//! Rules: the parser for Laravel's rule strings and the typed builders that produce the same
//! [`Rule`] values.

use std::fmt;
use std::sync::Arc;

use regex::Regex;

use crate::custom::{AsyncValidationRule, ValidationRule};
use crate::date::{self, Token};
use crate::error::RuleError;
use crate::password::Password;
use crate::presence::DbRule;

macro_rules! names {
    ($($variant:ident => $text:literal,)*) => {
        /// The built-in rules, by their Laravel name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Name {
            $(#[doc = concat!("`", $text, "`")] $variant,)*
        }

        impl Name {
            /// The rule's name as written in rule strings.
            pub fn as_str(self) -> &'static str {
                match self { $(Name::$variant => $text,)* }
            }

            /// The rule of that name (case-insensitive, like Laravel's `Str::studly`).
            pub fn from_name(name: &str) -> Option<Self> {
                let lower = name.to_ascii_lowercase();
                match lower.as_str() { $($text => Some(Name::$variant),)* _ => None }
            }

            const ALL: &'static [&'static str] = &[$($text,)*];
        }
    };
}

names! {
    Accepted => "accepted", AcceptedIf => "accepted_if", After => "after",
    AfterOrEqual => "after_or_equal", Alpha => "alpha", AlphaDash => "alpha_dash",
    AlphaNum => "alpha_num", Array => "array", Ascii => "ascii", Bail => "bail",
    Before => "before", BeforeOrEqual => "before_or_equal", Between => "between",
    Boolean => "boolean", Confirmed => "confirmed", Contains => "contains", Date => "date",
    DateEquals => "date_equals", DateFormat => "date_format", Decimal => "decimal",
    Declined => "declined", DeclinedIf => "declined_if", Different => "different",
    Digits => "digits", DigitsBetween => "digits_between", Distinct => "distinct",
    DoesntContain => "doesnt_contain", DoesntEndWith => "doesnt_end_with",
    DoesntStartWith => "doesnt_start_with", Email => "email", EndsWith => "ends_with",
    Enum => "enum", Exclude => "exclude", ExcludeIf => "exclude_if",
    ExcludeUnless => "exclude_unless", ExcludeWith => "exclude_with",
    ExcludeWithout => "exclude_without", Exists => "exists", Extensions => "extensions",
    File => "file", Filled => "filled", Gt => "gt", Gte => "gte", HexColor => "hex_color",
    Image => "image", In => "in", InArray => "in_array", InArrayKeys => "in_array_keys",
    Integer => "integer", Ip => "ip", Ipv4 => "ipv4", Ipv6 => "ipv6", Json => "json",
    List => "list", Lowercase => "lowercase", Lt => "lt", Lte => "lte",
    MacAddress => "mac_address", Max => "max", MaxDigits => "max_digits", Mimes => "mimes",
    Mimetypes => "mimetypes", Min => "min", MinDigits => "min_digits", Missing => "missing",
    MissingIf => "missing_if", MissingUnless => "missing_unless",
    MissingWith => "missing_with", MissingWithAll => "missing_with_all",
    MultipleOf => "multiple_of", NotIn => "not_in", NotRegex => "not_regex",
    Nullable => "nullable", Numeric => "numeric", Password => "password", Present => "present",
    PresentIf => "present_if", PresentUnless => "present_unless",
    PresentWith => "present_with", PresentWithAll => "present_with_all",
    Prohibited => "prohibited", ProhibitedIf => "prohibited_if",
    ProhibitedIfAccepted => "prohibited_if_accepted",
    ProhibitedIfDeclined => "prohibited_if_declined", ProhibitedUnless => "prohibited_unless",
    Prohibits => "prohibits", Regex => "regex", Required => "required",
    RequiredArrayKeys => "required_array_keys", RequiredIf => "required_if",
    RequiredIfAccepted => "required_if_accepted", RequiredIfDeclined => "required_if_declined",
    RequiredUnless => "required_unless", RequiredWith => "required_with",
    RequiredWithAll => "required_with_all", RequiredWithout => "required_without",
    RequiredWithoutAll => "required_without_all", Same => "same", Size => "size",
    Sometimes => "sometimes", StartsWith => "starts_with", String => "string",
    Timezone => "timezone", Unique => "unique", Uppercase => "uppercase", Url => "url",
    Ulid => "ulid", Uuid => "uuid",
}

impl Name {
    /// Implicit rules run even when the value is absent or an empty string.
    pub fn is_implicit(self) -> bool {
        use Name::*;
        matches!(
            self,
            Accepted
                | AcceptedIf
                | Declined
                | DeclinedIf
                | Filled
                | Missing
                | MissingIf
                | MissingUnless
                | MissingWith
                | MissingWithAll
                | Present
                | PresentIf
                | PresentUnless
                | PresentWith
                | PresentWithAll
                | Required
                | RequiredIf
                | RequiredIfAccepted
                | RequiredIfDeclined
                | RequiredUnless
                | RequiredWith
                | RequiredWithAll
                | RequiredWithout
                | RequiredWithoutAll
        )
    }

    /// `exclude*` rules: they remove the field instead of failing.
    pub fn is_exclude(self) -> bool {
        matches!(
            self,
            Name::Exclude
                | Name::ExcludeIf
                | Name::ExcludeUnless
                | Name::ExcludeWith
                | Name::ExcludeWithout
        )
    }

    /// Size rules, whose message depends on the value's type.
    pub fn is_size(self) -> bool {
        matches!(
            self,
            Name::Size
                | Name::Between
                | Name::Min
                | Name::Max
                | Name::Gt
                | Name::Gte
                | Name::Lt
                | Name::Lte
        )
    }

    /// Rules that make size rules measure numbers by value.
    pub fn is_numeric_kind(self) -> bool {
        matches!(self, Name::Numeric | Name::Integer | Name::Decimal)
    }

    /// Parameter count (min, max; `None` = any) and which parameters must be numbers.
    fn arity(self) -> (usize, Option<usize>, &'static [usize]) {
        use Name::*;
        match self {
            Accepted | Ascii | Bail | Date | Declined | Exclude | File | Filled | HexColor | Ip
            | Ipv4 | Ipv6 | Json | List | Lowercase | MacAddress | Missing | Nullable | Present
            | Prohibited | Required | Sometimes | String | Uppercase | Ulid => (0, Some(0), &[]),
            Alpha | AlphaDash | AlphaNum | Boolean | Confirmed | Image | Integer | Numeric
            | Uuid => (0, Some(1), &[]),
            Distinct | Timezone => (0, Some(2), &[]),
            Array | Email | Url => (0, None, &[]),
            After | AfterOrEqual | Before | BeforeOrEqual | DateEquals | Gt | Gte | Lt | Lte
            | RequiredIfAccepted | RequiredIfDeclined | ProhibitedIfAccepted
            | ProhibitedIfDeclined | InArray | Same | ExcludeWith | ExcludeWithout => {
                (1, Some(1), &[])
            }
            Max | Min | Size | MultipleOf => (1, Some(1), &[0]),
            Digits | MaxDigits | MinDigits => (1, Some(1), &[0]),
            Decimal => (1, Some(2), &[0, 1]),
            Between | DigitsBetween => (2, Some(2), &[0, 1]),
            Contains | DoesntContain | Different | DoesntEndWith | DoesntStartWith | EndsWith
            | StartsWith | Extensions | In | NotIn | InArrayKeys | Mimes | Mimetypes
            | RequiredArrayKeys | RequiredWith | RequiredWithAll | RequiredWithout
            | RequiredWithoutAll | PresentWith | PresentWithAll | MissingWith | MissingWithAll
            | Prohibits | DateFormat | Enum | Unique | Exists => (1, None, &[]),
            PresentUnless | MissingUnless => (2, Some(2), &[]),
            AcceptedIf | DeclinedIf | RequiredIf | RequiredUnless | ProhibitedIf
            | ProhibitedUnless | PresentIf | MissingIf | ExcludeIf | ExcludeUnless => {
                (2, None, &[])
            }
            Regex | NotRegex => (1, Some(1), &[]),
            Password => (0, Some(0), &[]),
        }
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One validation rule: a built-in rule with its parameters, a password policy, a database
/// rule, or a custom rule.
///
/// Build rules from strings with [`Rule::parse`] / [`parse_rules`], or with the typed builders
/// ([`Rule::required`], [`Rule::max`], [`Rule::in_list`], …), which produce the same values:
///
/// ```
/// use foundry_validation::Rule;
///
/// assert_eq!(Rule::max(255).to_string(), "max:255");
/// assert_eq!(Rule::parse("max:255").unwrap().to_string(), "max:255");
/// assert_eq!(Rule::in_list(["draft", "published"]).to_string(), "in:draft,published");
/// ```
#[derive(Clone)]
pub struct Rule {
    pub(crate) kind: Kind,
}

#[derive(Clone)]
pub(crate) enum Kind {
    Builtin(Builtin),
    Password(Password),
    AnyOf(Vec<Arc<[Rule]>>),
    Custom(Arc<dyn ValidationRule>),
    AsyncCustom(Arc<dyn AsyncValidationRule>),
    Db(Name, DbRule),
}

#[derive(Clone)]
pub(crate) struct Builtin {
    pub(crate) name: Name,
    pub(crate) params: Vec<String>,
    /// Numeric parameters, parsed once.
    pub(crate) nums: [f64; 2],
    pub(crate) regex: Option<Regex>,
    pub(crate) formats: Vec<Vec<Token>>,
}

impl Rule {
    /// Parse one rule such as `max:255` or `required_if:role,admin`.
    pub fn parse(text: &str) -> Result<Rule, RuleError> {
        parse_one(text.trim()).map_err(|problem| RuleError::new("", text, problem))
    }

    /// A built-in rule from its name and parameters, checked like a parsed rule.
    pub fn builtin<I, S>(name: &str, params: I) -> Result<Rule, RuleError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let params: Vec<String> = params.into_iter().map(Into::into).collect();
        let text = if params.is_empty() {
            name.to_owned()
        } else {
            format!("{name}:{}", params.join(","))
        };
        let n = Name::from_name(name).ok_or_else(|| RuleError::new("", &text, unknown(name)))?;
        build(n, params).map_err(|p| RuleError::new("", &text, p))
    }

    fn known(name: Name, params: Vec<String>) -> Rule {
        // Only used by builders with parameters they produced themselves; fall back to the
        // unchecked form so a builder can never panic.
        build(name, params.clone()).unwrap_or(Rule {
            kind: Kind::Builtin(Builtin {
                name,
                params,
                nums: [0.0; 2],
                regex: None,
                formats: Vec::new(),
            }),
        })
    }

    /// The rule's name (`custom` for closures and rule objects).
    pub fn name(&self) -> &str {
        match &self.kind {
            Kind::Builtin(b) => b.name.as_str(),
            Kind::Password(_) => "password",
            Kind::AnyOf(_) => "any_of",
            Kind::Custom(r) => r.name(),
            Kind::AsyncCustom(r) => r.name(),
            Kind::Db(n, _) => n.as_str(),
        }
    }

    /// Whether the rule runs on absent and empty values.
    pub fn is_implicit(&self) -> bool {
        match &self.kind {
            Kind::Builtin(b) => b.name.is_implicit(),
            Kind::Custom(r) => r.implicit(),
            Kind::AsyncCustom(r) => r.implicit(),
            Kind::Password(_) | Kind::Db(..) | Kind::AnyOf(_) => false,
        }
    }

    /// Whether the rule needs the async validator (database and async custom rules).
    pub fn is_async(&self) -> bool {
        match &self.kind {
            Kind::AsyncCustom(_) | Kind::Db(..) => true,
            Kind::AnyOf(sets) => sets.iter().flat_map(|s| s.iter()).any(Rule::is_async),
            _ => false,
        }
    }

    /// Laravel 12's `Rule::anyOf`: the value passes when it passes any one of the rule sets
    /// (message `any_of`: "The :attribute field is invalid.").
    ///
    /// ```
    /// use foundry_validation::{Rule, Validator};
    /// use serde_json::json;
    ///
    /// let id = || Rule::any_of(["required|integer|min:1", "required|uuid"]).unwrap();
    /// assert!(Validator::new(json!({"id": 5}), [("id", vec![id()])]).unwrap().passes());
    /// let mut v = Validator::new(json!({"id": "x"}), [("id", vec![id()])]).unwrap();
    /// assert_eq!(v.errors().first("id"), Some("The id field is invalid."));
    /// ```
    pub fn any_of<I, R>(sets: I) -> Result<Rule, RuleError>
    where
        I: IntoIterator<Item = R>,
        R: IntoRules,
    {
        let sets = sets
            .into_iter()
            .map(IntoRules::into_rules)
            .collect::<Result<Vec<_>, _>>()?;
        if sets.is_empty() {
            return Err(RuleError::new(
                "",
                "any_of",
                "`any_of` needs at least one rule set",
            ));
        }
        Ok(Rule {
            kind: Kind::AnyOf(sets),
        })
    }

    pub(crate) fn builtin_name(&self) -> Option<Name> {
        match &self.kind {
            Kind::Builtin(b) => Some(b.name),
            _ => None,
        }
    }

    /// A custom rule from a closure `(value, ctx) -> Result<(), message>`; the message may use
    /// `:attribute`.
    ///
    /// ```
    /// use foundry_validation::{Rule, Validator};
    /// use serde_json::json;
    ///
    /// let upper = Rule::custom(|value, _ctx| match value.as_str() {
    ///     Some(s) if s == s.to_uppercase() => Ok(()),
    ///     _ => Err("The :attribute must be uppercase.".into()),
    /// });
    /// let mut v = Validator::new(json!({"code": "abc"}), [("code", vec![Rule::required(), upper])]).unwrap();
    /// assert_eq!(v.errors().first("code"), Some("The code must be uppercase."));
    /// ```
    pub fn custom<F>(f: F) -> Rule
    where
        F: Fn(&serde_json::Value, &crate::RuleContext<'_>) -> Result<(), String>
            + Send
            + Sync
            + 'static,
    {
        Rule {
            kind: Kind::Custom(Arc::new(crate::custom::FnRule { f, implicit: false })),
        }
    }

    /// Like [`Rule::custom`], but implicit: it also runs when the value is absent or empty.
    pub fn custom_implicit<F>(f: F) -> Rule
    where
        F: Fn(&serde_json::Value, &crate::RuleContext<'_>) -> Result<(), String>
            + Send
            + Sync
            + 'static,
    {
        Rule {
            kind: Kind::Custom(Arc::new(crate::custom::FnRule { f, implicit: true })),
        }
    }

    /// A rule object implementing [`ValidationRule`].
    pub fn object(rule: impl ValidationRule + 'static) -> Rule {
        Rule {
            kind: Kind::Custom(Arc::new(rule)),
        }
    }

    /// An async rule object implementing [`AsyncValidationRule`] (needs
    /// [`AsyncValidator`](crate::AsyncValidator)).
    pub fn async_object(rule: impl AsyncValidationRule + 'static) -> Rule {
        Rule {
            kind: Kind::AsyncCustom(Arc::new(rule)),
        }
    }

    /// A password policy (see [`Password`]).
    pub fn password(policy: Password) -> Rule {
        Rule {
            kind: Kind::Password(policy),
        }
    }
}

macro_rules! simple_builders {
    ($($(#[$doc:meta])* $fn_name:ident => $variant:ident,)*) => {
        impl Rule {
            $($(#[$doc])* pub fn $fn_name() -> Rule { Rule::known(Name::$variant, Vec::new()) })*
        }
    };
}

simple_builders! {
    /// `required`
    required => Required,
    /// `nullable`
    nullable => Nullable,
    /// `sometimes`
    sometimes => Sometimes,
    /// `bail`
    bail => Bail,
    /// `filled`
    filled => Filled,
    /// `present`
    present => Present,
    /// `missing`
    missing => Missing,
    /// `prohibited`
    prohibited => Prohibited,
    /// `exclude`
    exclude => Exclude,
    /// `accepted`
    accepted => Accepted,
    /// `declined`
    declined => Declined,
    /// `boolean`
    boolean => Boolean,
    /// `string`
    string => String,
    /// `integer`
    integer => Integer,
    /// `numeric`
    numeric => Numeric,
    /// `array`
    array => Array,
    /// `list`
    list => List,
    /// `email`
    email => Email,
    /// `url`
    url => Url,
    /// `uuid`
    uuid => Uuid,
    /// `ulid`
    ulid => Ulid,
    /// `ip`
    ip => Ip,
    /// `ipv4`
    ipv4 => Ipv4,
    /// `ipv6`
    ipv6 => Ipv6,
    /// `json`
    json => Json,
    /// `date`
    date => Date,
    /// `alpha`
    alpha => Alpha,
    /// `alpha_num`
    alpha_num => AlphaNum,
    /// `alpha_dash`
    alpha_dash => AlphaDash,
    /// `ascii`
    ascii => Ascii,
    /// `lowercase`
    lowercase => Lowercase,
    /// `uppercase`
    uppercase => Uppercase,
    /// `distinct`
    distinct => Distinct,
    /// `confirmed`
    confirmed => Confirmed,
    /// `file`
    file => File,
    /// `image`
    image => Image,
    /// `timezone`
    timezone => Timezone,
    /// `hex_color`
    hex_color => HexColor,
    /// `mac_address`
    mac_address => MacAddress,
}

fn num(n: impl fmt::Display) -> String {
    n.to_string()
}

fn list<I, S>(values: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    values.into_iter().map(Into::into).collect()
}

impl Rule {
    /// `min:n`
    pub fn min(n: impl fmt::Display) -> Rule {
        Rule::known(Name::Min, vec![num(n)])
    }
    /// `max:n`
    pub fn max(n: impl fmt::Display) -> Rule {
        Rule::known(Name::Max, vec![num(n)])
    }
    /// `size:n`
    pub fn size(n: impl fmt::Display) -> Rule {
        Rule::known(Name::Size, vec![num(n)])
    }
    /// `between:min,max`
    pub fn between(min: impl fmt::Display, max: impl fmt::Display) -> Rule {
        Rule::known(Name::Between, vec![num(min), num(max)])
    }
    /// `digits:n`
    pub fn digits(n: u32) -> Rule {
        Rule::known(Name::Digits, vec![num(n)])
    }
    /// `in:a,b,…`
    pub fn in_list<I, S>(values: I) -> Rule
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Rule::known(Name::In, list(values))
    }
    /// `not_in:a,b,…`
    pub fn not_in<I, S>(values: I) -> Rule
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Rule::known(Name::NotIn, list(values))
    }
    /// Laravel's `Rule::enum`: the value must be one of the given cases (message `enum`).
    pub fn enum_values<I, S>(values: I) -> Rule
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Rule::known(Name::Enum, list(values))
    }
    /// `same:other`
    pub fn same(other: &str) -> Rule {
        Rule::known(Name::Same, vec![other.to_owned()])
    }
    /// `different:other`
    pub fn different(other: &str) -> Rule {
        Rule::known(Name::Different, vec![other.to_owned()])
    }
    /// `required_if:other,value`
    pub fn required_if(other: &str, value: &str) -> Rule {
        Rule::known(Name::RequiredIf, vec![other.to_owned(), value.to_owned()])
    }
    /// `required_with:a,b,…`
    pub fn required_with<I, S>(fields: I) -> Rule
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Rule::known(Name::RequiredWith, list(fields))
    }
    /// `after:date-or-field`
    pub fn after(date: &str) -> Rule {
        Rule::known(Name::After, vec![date.to_owned()])
    }
    /// `before:date-or-field`
    pub fn before(date: &str) -> Rule {
        Rule::known(Name::Before, vec![date.to_owned()])
    }
    /// `date_format:format`
    pub fn date_format(format: &str) -> Result<Rule, RuleError> {
        Rule::builtin("date_format", [format])
    }
    /// `regex:/pattern/flags`; an invalid pattern is a [`RuleError`].
    pub fn regex(pattern: &str) -> Result<Rule, RuleError> {
        Rule::builtin("regex", [pattern])
    }
    /// `mimes:ext,…`
    pub fn mimes<I, S>(extensions: I) -> Rule
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Rule::known(Name::Mimes, list(extensions))
    }
    /// `unique:table,column` (use [`DbRule`] methods for `ignore` and `where`).
    pub fn unique(table: &str, column: &str) -> DbRule {
        DbRule::new(Name::Unique, table, column)
    }
    /// `exists:table,column`
    pub fn exists(table: &str, column: &str) -> DbRule {
        DbRule::new(Name::Exists, table, column)
    }
}

impl From<DbRule> for Rule {
    fn from(rule: DbRule) -> Self {
        Rule {
            kind: Kind::Db(rule.name, rule),
        }
    }
}

impl From<Password> for Rule {
    fn from(policy: Password) -> Self {
        Rule::password(policy)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Builtin(b) if b.params.is_empty() => f.write_str(b.name.as_str()),
            Kind::Builtin(b) => write!(f, "{}:{}", b.name, b.params.join(",")),
            Kind::Password(p) => write!(f, "{p}"),
            Kind::AnyOf(sets) => {
                let sets: Vec<String> = sets
                    .iter()
                    .map(|s| {
                        s.iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("|")
                    })
                    .collect();
                write!(f, "any_of[{}]", sets.join("; "))
            }
            Kind::Custom(r) => f.write_str(r.name()),
            Kind::AsyncCustom(r) => f.write_str(r.name()),
            Kind::Db(_, db) => write!(f, "{db}"),
        }
    }
}

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rule({self})")
    }
}

fn unknown(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    let best = Name::ALL
        .iter()
        .map(|candidate| (edit_distance(&lower, candidate), *candidate))
        .min();
    match best {
        Some((d, candidate)) if d <= 2 => {
            format!("unknown rule `{name}` (did you mean `{candidate}`?)")
        }
        _ => format!("unknown rule `{name}`"),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

/// Parse a pipe-separated rule string (`"bail|required|email|max:255"`).
///
/// Unlike Laravel, a `regex:`/`not_regex:` pattern may contain `|`: its delimiters are
/// respected, so `"regex:/^(a|b)$/|max:3"` works in a string too.
///
/// ```
/// use foundry_validation::parse_rules;
///
/// let rules = parse_rules("required|regex:/^(a|b)$/|max:3").unwrap();
/// assert_eq!(rules.len(), 3);
/// let err = parse_rules("required|maxx:3").unwrap_err();
/// assert_eq!(err.to_string(), "invalid validation rule `maxx:3` for field ``: unknown rule `maxx` (did you mean `max`?)");
/// ```
pub fn parse_rules(text: &str) -> Result<Vec<Rule>, RuleError> {
    let mut rules = Vec::new();
    for segment in split_pipes(text) {
        let segment = segment.trim();
        if segment.is_empty() {
            continue;
        }
        rules.push(parse_one(segment).map_err(|problem| RuleError::new("", segment, problem))?);
    }
    Ok(rules)
}

fn split_pipes(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < text.len() {
        let Some(c) = text[i..].chars().next() else {
            break;
        };
        if c == '|' {
            out.push(&text[start..i]);
            start = i + 1;
            i += 1;
            continue;
        }
        if !c.is_whitespace() && text[start..i].trim().is_empty() {
            // At the start of a segment: skip over a delimited regex pattern as a whole.
            let rest = &text[i..];
            for prefix in ["regex:", "not_regex:"] {
                let head = rest.get(..prefix.len());
                if head.is_some_and(|h| h.eq_ignore_ascii_case(prefix)) {
                    let pattern_start = i + prefix.len();
                    if let Some(end) = regex_end(&text[pattern_start..]) {
                        i = pattern_start + end;
                    }
                    break;
                }
            }
            if i < text.len() && text[i..].starts_with('|') {
                continue;
            }
        }
        i += text[i..].chars().next().map_or(1, char::len_utf8);
    }
    out.push(&text[start..]);
    out
}

/// Where a delimited PHP pattern (`/…/flags`) ends, as a byte offset into `s`.
fn regex_end(s: &str) -> Option<usize> {
    let mut chars = s.char_indices();
    let (_, open) = chars.next()?;
    if open.is_alphanumeric() || open == '\\' || open.is_whitespace() {
        return None;
    }
    let close = match open {
        '(' => ')',
        '[' => ']',
        '{' => '}',
        '<' => '>',
        c => c,
    };
    let mut escaped = false;
    for (i, c) in chars {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == close {
            let after = &s[i + c.len_utf8()..];
            let flags = after.find('|').unwrap_or(after.len());
            return Some(i + c.len_utf8() + flags);
        }
    }
    None
}

fn parse_one(text: &str) -> Result<Rule, String> {
    let (name, params_text) = match text.split_once(':') {
        Some((n, p)) => (n.trim(), Some(p)),
        None => (text, None),
    };
    if name.is_empty() {
        return Err("the rule has no name".to_owned());
    }
    let n = Name::from_name(name).ok_or_else(|| unknown(name))?;
    let params = match params_text {
        None => Vec::new(),
        Some(p) if matches!(n, Name::Regex | Name::NotRegex) => vec![p.to_owned()],
        Some(p) => csv(p),
    };
    build(n, params)
}

/// PHP's `str_getcsv`: comma-separated, double quotes group.
fn csv(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn build(name: Name, params: Vec<String>) -> Result<Rule, String> {
    if name == Name::Password {
        return Err("`password` is a builder: use `Password::min(8)` (the rule string form is not supported)".to_owned());
    }
    if matches!(name, Name::Unique | Name::Exists) {
        return DbRule::from_params(name, &params).map(Rule::from);
    }
    let (min, max, numeric) = name.arity();
    let count = params.len();
    if count < min {
        return Err(match min {
            1 => format!("`{name}` needs a parameter"),
            n => format!("`{name}` needs at least {n} parameters"),
        });
    }
    if let Some(max) = max
        && count > max
    {
        return Err(match max {
            0 => format!("`{name}` takes no parameters"),
            1 => format!("`{name}` takes one parameter, got {count}"),
            n => format!("`{name}` takes at most {n} parameters, got {count}"),
        });
    }
    let mut nums = [0.0; 2];
    for &i in numeric {
        let Some(p) = params.get(i) else { continue };
        let parsed = p.trim().parse::<f64>().ok().filter(|f| f.is_finite());
        let Some(v) = parsed else {
            return Err(format!(
                "parameter {} of `{name}` must be a number, got `{p}`",
                i + 1
            ));
        };
        if matches!(
            name,
            Name::Digits | Name::DigitsBetween | Name::MaxDigits | Name::MinDigits | Name::Decimal
        ) && (v < 0.0 || v.fract() != 0.0)
        {
            return Err(format!(
                "parameter {} of `{name}` must be a whole number, got `{p}`",
                i + 1
            ));
        }
        if let Some(slot) = nums.get_mut(i) {
            *slot = v;
        }
    }
    let mut regex = None;
    let mut formats = Vec::new();
    match name {
        Name::Regex | Name::NotRegex => {
            regex = Some(php_regex(params.first().map_or("", String::as_str))?);
        }
        Name::DateFormat => {
            for p in &params {
                formats.push(date::compile_format(p)?);
            }
        }
        Name::Timezone => {
            if let Some(group) = params.first()
                && !crate::checks::timezone_group_known(group)
            {
                return Err(format!("unknown time zone group `{group}`"));
            }
        }
        Name::Email => {
            for p in &params {
                if !matches!(
                    p.as_str(),
                    "rfc" | "strict" | "filter" | "filter_unicode" | "dns" | "spoof"
                ) {
                    return Err(format!(
                        "unknown email validation style `{p}` (use rfc, strict, filter or filter_unicode)"
                    ));
                }
            }
        }
        Name::Boolean | Name::Integer | Name::Numeric => {
            if let Some(p) = params.first().filter(|p| *p != "strict") {
                return Err(format!("`{name}` only takes `strict`, got `{p}`"));
            }
        }
        _ => {}
    }
    Ok(Rule {
        kind: Kind::Builtin(Builtin {
            name,
            params,
            nums,
            regex,
            formats,
        }),
    })
}

/// Translate a PHP (PCRE) pattern with delimiters and flags into a `Regex`.
fn php_regex(pattern: &str) -> Result<Regex, String> {
    let mut chars = pattern.chars();
    let open = chars.next().ok_or("the regex pattern is empty")?;
    if open.is_alphanumeric() || open == '\\' || open.is_whitespace() {
        return Err(format!(
            "the regex pattern `{pattern}` needs delimiters, e.g. `/{pattern}/`"
        ));
    }
    let close = match open {
        '(' => ')',
        '[' => ']',
        '{' => '}',
        '<' => '>',
        c => c,
    };
    let body = &pattern[open.len_utf8()..];
    let end = body
        .rfind(close)
        .ok_or_else(|| format!("the regex pattern `{pattern}` has no closing `{close}`"))?;
    let (inner, flags) = (&body[..end], &body[end + close.len_utf8()..]);
    let mut prefix = String::new();
    for flag in flags.chars() {
        match flag {
            'i' | 'm' | 's' | 'x' => prefix.push(flag),
            'u' | 'D' => {}
            other => return Err(format!("the regex flag `{other}` is not supported")),
        }
    }
    let inner = if close == '/' {
        inner.replace("\\/", "/")
    } else {
        inner.to_owned()
    };
    let full = if prefix.is_empty() {
        inner
    } else {
        format!("(?{prefix}){inner}")
    };
    Regex::new(&full).map_err(|e| format!("the regex pattern does not compile: {e}"))
}

/// Anything that can be turned into a field's list of rules: a rule string, a list of rule
/// strings (where a regex may contain `|`), or a list of [`Rule`] values.
///
/// Rule strings are parsed once per process: the parsed rules are kept in a small cache keyed
/// by the string, so a form request's rules cost a hash lookup per request.
pub trait IntoRules {
    /// Convert, reporting malformed rules.
    fn into_rules(self) -> Result<Arc<[Rule]>, RuleError>;
}

const CACHE_LIMIT: usize = 4096;

/// Parse a rule string through the process-wide cache.
pub(crate) fn parse_cached(text: &str) -> Result<Arc<[Rule]>, RuleError> {
    use std::collections::HashMap;
    use std::sync::{OnceLock, RwLock};
    static CACHE: OnceLock<RwLock<HashMap<String, Arc<[Rule]>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(hit) = cache.read().ok().and_then(|c| c.get(text).cloned()) {
        return Ok(hit);
    }
    let parsed: Arc<[Rule]> = parse_rules(text)?.into();
    if let Ok(mut c) = cache.write()
        && c.len() < CACHE_LIMIT
    {
        c.insert(text.to_owned(), parsed.clone());
    }
    Ok(parsed)
}

impl IntoRules for &str {
    fn into_rules(self) -> Result<Arc<[Rule]>, RuleError> {
        parse_cached(self)
    }
}

impl IntoRules for String {
    fn into_rules(self) -> Result<Arc<[Rule]>, RuleError> {
        parse_cached(&self)
    }
}

impl IntoRules for &String {
    fn into_rules(self) -> Result<Arc<[Rule]>, RuleError> {
        parse_cached(self)
    }
}

impl IntoRules for Rule {
    fn into_rules(self) -> Result<Arc<[Rule]>, RuleError> {
        Ok(Arc::new([self]))
    }
}

impl IntoRules for Vec<Rule> {
    fn into_rules(self) -> Result<Arc<[Rule]>, RuleError> {
        Ok(self.into())
    }
}

impl<const N: usize> IntoRules for [Rule; N] {
    fn into_rules(self) -> Result<Arc<[Rule]>, RuleError> {
        Ok(Arc::new(self))
    }
}

impl IntoRules for Vec<&str> {
    fn into_rules(self) -> Result<Arc<[Rule]>, RuleError> {
        self.into_iter().map(Rule::parse).collect()
    }
}

impl<const N: usize> IntoRules for [&str; N] {
    fn into_rules(self) -> Result<Arc<[Rule]>, RuleError> {
        self.into_iter().map(Rule::parse).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_rules_are_named() {
        let e = |s: &str| parse_rules(s).unwrap_err().to_string();
        assert!(e("max:abc").contains("parameter 1 of `max` must be a number, got `abc`"));
        assert!(e("between:1").contains("`between` needs at least 2 parameters"));
        assert!(e("required:x").contains("`required` takes no parameters"));
        assert!(e("requird").contains("did you mean `required`"));
        assert!(e("regex:abc").contains("needs delimiters"));
        assert!(e("regex:/(/").contains("does not compile"));
        assert!(e(":x").contains("no name"));
        assert!(e("date_format:Y-m-Q").contains("`Q`"));
        assert!(e("digits:1.5").contains("whole number"));
        assert!(e("in").contains("needs a parameter"));
    }

    #[test]
    fn splits_pipes_outside_regexes() {
        let rules = parse_rules("regex:/^(a|b)$/i|not_regex:#x|y#|max:3").unwrap();
        let names: Vec<_> = rules.iter().map(Rule::name).collect();
        assert_eq!(names, ["regex", "not_regex", "max"]);
        assert_eq!(parse_rules(" required | email ").unwrap().len(), 2);
        assert_eq!(parse_rules("").unwrap().len(), 0);
    }

    #[test]
    fn csv_parameters() {
        assert_eq!(csv("a,\"b,c\",d"), ["a", "b,c", "d"]);
        let r = Rule::parse("in:\"x,y\",z").unwrap();
        assert_eq!(r.to_string(), "in:x,y,z");
    }
}
