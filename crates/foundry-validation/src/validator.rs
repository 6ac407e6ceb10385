//! The validator: runs rules over JSON data the way Laravel's `Validator` does.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use chrono::NaiveDateTime;
use serde_json::{Map, Value};

use crate::checks;
use crate::custom::RuleContext;
use crate::date;
use crate::error::{RuleError, ValidationErrors};
use crate::file::{self, UploadedFile};
use crate::messages::{Translator, default_lines, replace};
use crate::path::{self, split};
use crate::presence::{DbRule, PresenceError, PresenceQuery, PresenceVerifier};
use crate::rule::{Builtin, IntoRules, Kind, Name, Rule};
use crate::value::{
    self, as_f64, char_len, is_blank_string, is_filled, is_numeric, loose_eq, to_php_string,
};

type AfterHook = Arc<dyn Fn(&Value, &mut ValidationErrors) + Send + Sync>;

pub(crate) struct Field {
    pub(crate) pattern: String,
    segments: Vec<String>,
    /// The key of a field without wildcards, made once rather than per validation.
    key: path::Key,
    wildcard: bool,
    /// Another field's pattern lies under this one (`items` and `items.*.sku`).
    has_children: bool,
    rules: Arc<[Rule]>,
    bail: bool,
    sometimes: bool,
    nullable: bool,
    numeric: bool,
    array: bool,
    date_formats: Option<usize>,
    /// Every rule is a built-in whose check reads only this field's value and parameters
    /// ([`own_value_only`]), so the field can be tried with [`Core::passes_alone`] first.
    own_value_only: bool,
}

impl Field {
    fn new(pattern: String, rules: Arc<[Rule]>) -> Self {
        let segments = split(&pattern);
        let wildcard = segments.iter().any(|s| s == "*");
        let has = |n: Name| rules.iter().any(|r| r.builtin_name() == Some(n));
        let date_formats = rules
            .iter()
            .position(|r| r.builtin_name() == Some(Name::DateFormat));
        Self {
            key: path::Key::from_segments(&segments),
            has_children: false,
            bail: has(Name::Bail),
            sometimes: has(Name::Sometimes),
            nullable: has(Name::Nullable),
            numeric: rules
                .iter()
                .any(|r| r.builtin_name().is_some_and(Name::is_numeric_kind)),
            array: has(Name::Array) || has(Name::List),
            date_formats,
            own_value_only: rules
                .iter()
                .all(|r| r.builtin_name().is_some_and(own_value_only)),
            pattern,
            segments,
            wildcard,
            rules,
        }
    }
}

/// Whether [`Core::check`] of this rule reads nothing but the value, the field's own flags
/// and the rule's parameters: no other field, no clock, no exclusion. `bail`, `sometimes` and
/// `nullable` check nothing; `required`, `filled` and `present` only look at the value too.
fn own_value_only(name: Name) -> bool {
    use Name::*;
    matches!(
        name,
        Bail | Sometimes
            | Nullable
            | Required
            | Filled
            | Present
            | String
            | Integer
            | Numeric
            | Boolean
            | Decimal
            | Array
            | List
            | Size
            | Min
            | Max
            | Between
            | Digits
            | DigitsBetween
            | MaxDigits
            | MinDigits
            | In
            | NotIn
            | Alpha
            | AlphaDash
            | AlphaNum
            | Ascii
            | Lowercase
            | Uppercase
            | StartsWith
            | EndsWith
            | DoesntStartWith
            | DoesntEndWith
            | Email
            | Url
            | Ip
            | Ipv4
            | Ipv6
            | Uuid
            | Ulid
            | HexColor
            | Regex
            | NotRegex
    )
}

/// The value under validation.
#[derive(Clone, Copy)]
enum Input<'a> {
    Missing,
    Json(&'a Value),
    File(&'a UploadedFile),
}

impl<'a> Input<'a> {
    fn json(self) -> Option<&'a Value> {
        match self {
            Input::Json(v) => Some(v),
            _ => None,
        }
    }
    fn present(self) -> bool {
        !matches!(self, Input::Missing)
    }
}

struct Ctx<'a> {
    field: &'a Field,
    key: &'a path::Key,
    key_str: &'a str,
}

impl<'a> Ctx<'a> {
    /// The concrete segments at the pattern's `*` positions.
    fn wild(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        let (segments, key) = (&self.field.segments, self.key);
        segments
            .iter()
            .zip(key.segments())
            .filter(|(p, _)| *p == "*")
            .map(|(_, k)| k)
    }
}

enum Failure {
    Rule {
        key: String,
        size: Option<&'static str>,
        repl: Vec<(&'static str, String)>,
    },
    Message(String),
    Exclude,
}

#[derive(Default)]
struct RunState {
    errors: ValidationErrors,
    failed: Vec<(String, String)>,
    implicit_failed: HashSet<String>,
    excluded: Vec<Vec<String>>,
    /// How many one-segment fields found their key in the data: when that is every key of
    /// the data, the validated data is the data (see [`Core::take_top_level`]).
    top_level_found: usize,
}

/// The fields of a rule set, compiled: shared by every validator of a form request whose
/// rules do not change ([`crate::FormRequest::CACHE_RULES`]).
pub(crate) type Fields = Arc<[Field]>;

/// Parse `(pattern, rules)` pairs into fields; a pattern given twice has its rules merged,
/// like Laravel's array of rules.
pub(crate) fn compile<I, K, R>(rules: I) -> Result<Fields, RuleError>
where
    I: IntoIterator<Item = (K, R)>,
    K: Into<String>,
    R: IntoRules,
{
    let mut fields: Vec<Field> = Vec::new();
    for (pattern, r) in rules {
        let pattern = pattern.into();
        let parsed = r.into_rules().map_err(|e| e.with_field(&pattern))?;
        if let Some(existing) = fields.iter_mut().find(|f| f.pattern == pattern) {
            let all: Vec<Rule> = existing
                .rules
                .iter()
                .chain(parsed.iter())
                .cloned()
                .collect();
            *existing = Field::new(pattern, all.into());
        } else {
            fields.push(Field::new(pattern, parsed));
        }
    }
    let children: Vec<bool> = fields
        .iter()
        .map(|field| {
            fields.iter().any(|f| {
                f.pattern.len() > field.pattern.len()
                    && f.pattern.starts_with(field.pattern.as_str())
                    && f.pattern.as_bytes()[field.pattern.len()] == b'.'
            })
        })
        .collect();
    for (field, has_children) in fields.iter_mut().zip(children) {
        field.has_children = has_children;
    }
    Ok(fields.into())
}

pub(crate) struct Core {
    data: Value,
    fields: Fields,
    files: HashMap<String, UploadedFile>,
    messages: Vec<(String, String)>,
    attributes: HashMap<String, String>,
    /// `None` for the shipped lines ([`crate::default_translator`]): most validators never
    /// change them, and the shared default is then not counted up and down for each one.
    translator: Option<Arc<Translator>>,
    /// Borrowed for the default `en`: most validators never change it.
    locale: Cow<'static, str>,
    stop_on_first_failure: bool,
    now: Option<NaiveDateTime>,
    after: Vec<AfterHook>,
    /// A form request's `after`: a plain function, run before the hooks in `after`.
    form_after: Option<fn(&Value, &mut ValidationErrors)>,
    outcome: Option<RunState>,
}

impl Core {
    fn new<I, K, R>(data: Value, rules: I) -> Result<Self, RuleError>
    where
        I: IntoIterator<Item = (K, R)>,
        K: Into<String>,
        R: IntoRules,
    {
        Ok(Self::with_fields(data, compile(rules)?))
    }

    fn with_fields(data: Value, fields: Fields) -> Self {
        Self {
            data,
            fields,
            files: HashMap::new(),
            messages: Vec::new(),
            attributes: HashMap::new(),
            translator: None,
            locale: Cow::Borrowed("en"),
            stop_on_first_failure: false,
            now: None,
            after: Vec::new(),
            form_after: None,
            outcome: None,
        }
    }

    /// The language lines in use.
    fn translator(&self) -> &Translator {
        match &self.translator {
            Some(translator) => translator,
            None => default_lines(),
        }
    }

    fn first_async_rule(&self) -> Option<(&str, String)> {
        // A field of own-value built-ins has no async rule: its rules need no look.
        self.fields
            .iter()
            .filter(|f| !f.own_value_only)
            .find_map(|f| {
                f.rules
                    .iter()
                    .find(|r| r.is_async())
                    .map(|r| (f.pattern.as_str(), r.to_string()))
            })
    }

    fn now(&self) -> NaiveDateTime {
        self.now.unwrap_or_else(|| chrono::Utc::now().naive_utc())
    }

    fn add_file(&mut self, key: &str, file: UploadedFile) {
        let segments = split(key);
        if path::get(&self.data, &segments).is_none() {
            path::set(&mut self.data, &segments, Value::Null);
        }
        self.files.insert(path::join(&segments), file);
        self.outcome = None;
    }

    fn lookup(&self, key: &[String], key_str: &str) -> Input<'_> {
        if !self.files.is_empty()
            && let Some(f) = self.files.get(key_str)
        {
            return Input::File(f);
        }
        match path::get(&self.data, key) {
            Some(v) => Input::Json(v),
            None => Input::Missing,
        }
    }

    async fn run(
        &self,
        verifier: Option<&dyn PresenceVerifier>,
    ) -> Result<RunState, PresenceError> {
        let mut state = RunState::default();
        'fields: for field in self.fields.iter() {
            // A field without wildcards has one key, made when the field was compiled.
            let expanded = if field.wildcard {
                path::expand_keys(&self.data, &field.segments)
            } else {
                Vec::new()
            };
            let single =
                (!field.wildcard).then(|| (&field.key, path::get(&self.data, &field.segments)));
            if let Some((_, Some(_))) = single
                && field.segments.len() == 1
            {
                state.top_level_found += 1;
            }
            let keys = single
                .into_iter()
                .chain(expanded.iter().map(|(key, found)| (key, *found)));
            for (key, found) in keys {
                let key_str = key.text();
                if !state.excluded.is_empty() && is_excluded(&state.excluded, key) {
                    continue;
                }
                if self.stop_on_first_failure && !state.errors.is_empty() {
                    break 'fields;
                }
                let ctx = Ctx {
                    field,
                    key,
                    key_str,
                };
                let input = if self.files.is_empty() {
                    found.map_or(Input::Missing, Input::Json)
                } else {
                    self.lookup(&key.to_vec(), key_str)
                };
                if field.own_value_only && self.passes_alone(&ctx, input) {
                    continue;
                }
                for rule in field.rules.iter() {
                    if !self.validate_attribute_sync(&ctx, rule, input, &mut state) {
                        // Boxed: inline, the async rules' futures would make every run's
                        // future (and every request future holding one) several times larger.
                        Box::pin(
                            self.validate_attribute_async(&ctx, rule, input, &mut state, verifier),
                        )
                        .await?;
                    }
                    if !state.excluded.is_empty() && is_excluded(&state.excluded, key) {
                        break;
                    }
                    if field.bail && state.errors.has(key_str) {
                        break;
                    }
                    if !state.implicit_failed.is_empty() && state.implicit_failed.contains(key_str)
                    {
                        break;
                    }
                }
            }
        }
        if let Some(hook) = self.form_after {
            hook(&self.data, &mut state.errors);
        }
        for hook in &self.after {
            hook(&self.data, &mut state.errors);
        }
        Ok(state)
    }

    /// [`Self::run`] for rules that never wait, without a future to hold. Should one wait
    /// after all, the data fails (closed, not open).
    fn run_in_place(&self) -> RunState {
        now_or_never(self.run(None))
            .and_then(Result::ok)
            .unwrap_or_else(|| {
                let mut s = RunState::default();
                s.errors.add("", "The given data was invalid.");
                s
            })
    }

    /// Whether every rule of an [`Field::own_value_only`] field passes its check. A rule that
    /// passes records nothing whether or not [`Self::should_run`] would let it run, so when
    /// this holds the per-rule path below would leave the state as it is and can be skipped;
    /// when it does not, that path runs and decides (a failing field is checked twice).
    fn passes_alone(&self, ctx: &Ctx<'_>, input: Input<'_>) -> bool {
        ctx.field.rules.iter().all(|rule| match &rule.kind {
            Kind::Builtin(b) => self.check(ctx, b, input).is_empty(),
            _ => false,
        })
    }

    /// Laravel's `isValidatable`: whether this rule runs on this input at all.
    fn should_run(&self, ctx: &Ctx<'_>, rule: &Rule, input: Input<'_>, state: &RunState) -> bool {
        let name = rule.builtin_name();
        if matches!(name, Some(Name::Bail | Name::Sometimes | Name::Nullable)) {
            return false;
        }
        if name.is_some_and(Name::is_exclude) {
            return true;
        }
        let implicit = rule.is_implicit();
        let present_or_implicit = match input {
            Input::Json(v) if is_blank_string(v) => implicit,
            Input::Missing => implicit,
            _ => true,
        };
        present_or_implicit
            && (!ctx.field.sometimes || input.present())
            && !(ctx.field.nullable && !implicit && matches!(input, Input::Json(Value::Null)))
            && !(matches!(rule.kind, Kind::Db(..)) && state.errors.has(ctx.key_str))
    }

    /// Run a rule that needs no I/O. Returns `false`, having done nothing, for rules that must
    /// be awaited ([`Self::validate_attribute_async`]); sync rules never build a future.
    fn validate_attribute_sync(
        &self,
        ctx: &Ctx<'_>,
        rule: &Rule,
        input: Input<'_>,
        state: &mut RunState,
    ) -> bool {
        let failures = match &rule.kind {
            Kind::AsyncCustom(_) | Kind::Db(..) => return false,
            Kind::AnyOf(_) if rule.is_async() => return false,
            _ if !self.should_run(ctx, rule, input, state) => return true,
            Kind::Builtin(b) => self.check(ctx, b, input),
            Kind::Password(p) => self.check_password(ctx, p, input),
            Kind::Custom(r) => {
                let null = Value::Null;
                let value = input.json().unwrap_or(&null);
                match r.validate(
                    value,
                    &RuleContext {
                        attribute: ctx.key_str,
                        data: &self.data,
                    },
                ) {
                    Ok(()) => Vec::new(),
                    Err(message) => vec![Failure::Message(message)],
                }
            }
            Kind::AnyOf(sets) => {
                let passed = sets.iter().any(|set| {
                    let field = Field::new(ctx.field.pattern.clone(), set.clone());
                    let sub = Ctx {
                        field: &field,
                        key: ctx.key,
                        key_str: ctx.key_str,
                    };
                    let mut tmp = RunState::default();
                    for r in set.iter() {
                        self.validate_attribute_sync(&sub, r, input, &mut tmp);
                        if !tmp.errors.is_empty() {
                            break;
                        }
                    }
                    tmp.errors.is_empty()
                });
                Self::any_of_outcome(passed)
            }
        };
        self.record(ctx, rule, input, failures, state);
        true
    }

    fn any_of_outcome(passed: bool) -> Vec<Failure> {
        if passed {
            Vec::new()
        } else {
            vec![Failure::Rule {
                key: "any_of".to_owned(),
                size: None,
                repl: Vec::new(),
            }]
        }
    }

    async fn validate_attribute(
        &self,
        ctx: &Ctx<'_>,
        rule: &Rule,
        input: Input<'_>,
        state: &mut RunState,
        verifier: Option<&dyn PresenceVerifier>,
    ) -> Result<(), PresenceError> {
        if self.validate_attribute_sync(ctx, rule, input, state) {
            return Ok(());
        }
        Box::pin(self.validate_attribute_async(ctx, rule, input, state, verifier)).await
    }

    /// Database rules, async custom rules and `any_of` sets containing them.
    async fn validate_attribute_async(
        &self,
        ctx: &Ctx<'_>,
        rule: &Rule,
        input: Input<'_>,
        state: &mut RunState,
        verifier: Option<&dyn PresenceVerifier>,
    ) -> Result<(), PresenceError> {
        if !self.should_run(ctx, rule, input, state) {
            return Ok(());
        }
        let failures = match &rule.kind {
            Kind::AsyncCustom(r) => {
                let null = Value::Null;
                let value = input.json().unwrap_or(&null);
                match r
                    .validate(
                        value,
                        RuleContext {
                            attribute: ctx.key_str,
                            data: &self.data,
                        },
                    )
                    .await
                {
                    Ok(()) => Vec::new(),
                    Err(message) => vec![Failure::Message(message)],
                }
            }
            Kind::Db(n, db) => {
                let Some(verifier) = verifier else {
                    return Err(PresenceError {
                        table: db.table.clone(),
                        message: "no presence verifier was given to the validator (call `presence_verifier`)".to_owned(),
                    });
                };
                if self.check_db(ctx, *n, db, input, verifier).await? {
                    Vec::new()
                } else {
                    vec![Failure::Rule {
                        key: n.as_str().to_owned(),
                        size: None,
                        repl: Vec::new(),
                    }]
                }
            }
            Kind::AnyOf(sets) => {
                let mut passed = false;
                for set in sets {
                    let field = Field::new(ctx.field.pattern.clone(), set.clone());
                    let sub = Ctx {
                        field: &field,
                        key: ctx.key,
                        key_str: ctx.key_str,
                    };
                    let mut tmp = RunState::default();
                    for r in set.iter() {
                        self.validate_attribute(&sub, r, input, &mut tmp, verifier)
                            .await?;
                        if !tmp.errors.is_empty() {
                            break;
                        }
                    }
                    if tmp.errors.is_empty() {
                        passed = true;
                        break;
                    }
                }
                Self::any_of_outcome(passed)
            }
            // Sync kinds are handled by `validate_attribute_sync`.
            Kind::Builtin(_) | Kind::Password(_) | Kind::Custom(_) => Vec::new(),
        };
        self.record(ctx, rule, input, failures, state);
        Ok(())
    }

    fn record(
        &self,
        ctx: &Ctx<'_>,
        rule: &Rule,
        input: Input<'_>,
        failures: Vec<Failure>,
        state: &mut RunState,
    ) {
        if failures.is_empty() {
            return;
        }
        let implicit = rule.is_implicit();
        for failure in failures {
            let message = match failure {
                Failure::Exclude => {
                    state.excluded.push(ctx.key.to_vec());
                    continue;
                }
                Failure::Message(m) => {
                    let mut pairs = self.base_pairs(ctx, input);
                    pairs.retain(|(k, _)| *k != "value");
                    replace(&m, &pairs)
                }
                Failure::Rule { key, size, repl } => self.message(ctx, &key, size, repl, input),
            };
            state.errors.add(ctx.key_str, message);
            let failed = (ctx.key_str.to_owned(), rule.name().to_owned());
            if !state.failed.contains(&failed) {
                state.failed.push(failed);
            }
            if implicit {
                state.implicit_failed.insert(ctx.key_str.to_owned());
            }
        }
    }

    // ---- helpers over other fields -------------------------------------------------------

    /// Another field named in a parameter; `*` takes this attribute's wildcard positions.
    fn other_segments(&self, ctx: &Ctx<'_>, param: &str) -> Vec<String> {
        let mut segments = split(param);
        if ctx.field.wildcard {
            let mut wild = ctx.wild();
            for s in &mut segments {
                if s == "*"
                    && let Some(w) = wild.next()
                {
                    (*w).clone_into(s);
                }
            }
        }
        segments
    }

    fn other<'s>(&'s self, ctx: &Ctx<'_>, param: &str) -> Input<'s> {
        let segments = self.other_segments(ctx, param);
        let key = path::join(&segments);
        self.lookup(&segments, &key)
    }

    fn other_value<'s>(&'s self, ctx: &Ctx<'_>, param: &str) -> Option<&'s Value> {
        self.other(ctx, param).json()
    }

    fn other_filled(&self, ctx: &Ctx<'_>, param: &str) -> bool {
        match self.other(ctx, param) {
            Input::Missing => false,
            Input::File(_) => true,
            Input::Json(v) => is_filled(v),
        }
    }

    /// Laravel's `required_if` comparison: booleans and null compare strictly against
    /// `true`/`false`/`null`, everything else loosely.
    fn other_matches(&self, ctx: &Ctx<'_>, params: &[String]) -> bool {
        let other = self.other_value(ctx, &params[0]).unwrap_or(&Value::Null);
        let values = &params[1..];
        match other {
            Value::Bool(b) => values
                .iter()
                .any(|v| v == if *b { "true" } else { "false" }),
            Value::Null => values.iter().any(|v| v == "null"),
            o => values
                .iter()
                .any(|v| loose_eq(o, &Value::String(v.clone()))),
        }
    }

    fn is_accepted(v: Option<&Value>) -> bool {
        match v {
            Some(Value::Bool(b)) => *b,
            Some(Value::Number(n)) => n.as_i64() == Some(1),
            Some(Value::String(s)) => matches!(s.as_str(), "yes" | "on" | "1" | "true"),
            _ => false,
        }
    }

    fn is_declined(v: Option<&Value>) -> bool {
        match v {
            Some(Value::Bool(b)) => !*b,
            Some(Value::Number(n)) => n.as_i64() == Some(0),
            Some(Value::String(s)) => matches!(s.as_str(), "no" | "off" | "0" | "false"),
            _ => false,
        }
    }

    /// Laravel's size of a value: the number itself (numeric), a file's kilobytes, an
    /// array's or object's length, or a string's characters.
    fn size(input: Input<'_>, numeric: bool) -> f64 {
        match input {
            Input::Missing => 0.0,
            Input::File(f) => f.size_kb(),
            Input::Json(v) => {
                if numeric && is_numeric(v) {
                    return as_f64(v).unwrap_or(0.0);
                }
                match v {
                    Value::Array(a) => a.len() as f64,
                    Value::Object(o) => o.len() as f64,
                    Value::String(s) => char_len(s) as f64,
                    other => to_php_string(other).map_or(0.0, |s| char_len(&s) as f64),
                }
            }
        }
    }

    fn size_type(field: &Field, input: Input<'_>, numeric: bool) -> &'static str {
        if numeric {
            "numeric"
        } else if field.array {
            "array"
        } else if matches!(input, Input::File(_)) {
            "file"
        } else {
            "string"
        }
    }

    fn fail(key: Name, repl: Vec<(&'static str, String)>) -> Vec<Failure> {
        vec![Failure::Rule {
            key: key.as_str().to_owned(),
            size: None,
            repl,
        }]
    }

    fn fail_size(key: Name, ty: &'static str, repl: Vec<(&'static str, String)>) -> Vec<Failure> {
        vec![Failure::Rule {
            key: key.as_str().to_owned(),
            size: Some(ty),
            repl,
        }]
    }

    fn attr_list(&self, ctx: &Ctx<'_>, params: &[String], sep: &str) -> String {
        params
            .iter()
            .map(|p| self.display_attribute_of(&path::join(&self.other_segments(ctx, p)), p))
            .collect::<Vec<_>>()
            .join(sep)
    }

    fn values_list(&self, ctx: &Ctx<'_>, params: &[String]) -> String {
        params
            .iter()
            .map(|p| self.display_value(&ctx.field.pattern, &Value::String(p.clone())))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn other_repl(&self, ctx: &Ctx<'_>, params: &[String]) -> Vec<(&'static str, String)> {
        let other_key = path::join(&self.other_segments(ctx, &params[0]));
        let other = self
            .other_value(ctx, &params[0])
            .cloned()
            .unwrap_or(Value::Null);
        vec![
            ("other", self.display_attribute_of(&other_key, &params[0])),
            ("value", self.display_value(&params[0], &other)),
        ]
    }

    // ---- the built-in rules --------------------------------------------------------------

    #[allow(clippy::too_many_lines)]
    fn check(&self, ctx: &Ctx<'_>, b: &Builtin, input: Input<'_>) -> Vec<Failure> {
        use Name::*;
        let p = &b.params;
        let v = input.json();
        let field = ctx.field;
        let pass = Vec::new;
        // The replacements are only built when the rule fails.
        macro_rules! ok {
            ($cond:expr, $repl:expr $(,)?) => {
                if $cond {
                    Vec::new()
                } else {
                    Self::fail(b.name, $repl)
                }
            };
        }
        let string = || {
            v.and_then(|v| match v {
                Value::String(s) => Some(s.as_str()),
                _ => None,
            })
        };
        let scalar = || {
            v.and_then(|v| match v {
                Value::String(_) | Value::Number(_) => to_php_string(v),
                _ => None,
            })
        };
        match b.name {
            Bail | Sometimes | Nullable | Password | Unique | Exists => pass(),
            Required => ok!(
                match input {
                    Input::Missing => false,
                    Input::File(_) => true,
                    Input::Json(v) => is_filled(v),
                },
                vec![],
            ),
            Filled => ok!(
                match input {
                    Input::Missing => true,
                    Input::File(_) => true,
                    Input::Json(v) => is_filled(v),
                },
                vec![],
            ),
            Present => ok!(input.present(), vec![]),
            Missing => ok!(!input.present(), vec![]),
            Prohibited => ok!(!Self::filled_input(input), vec![]),
            RequiredIf => {
                if self.other_matches(ctx, p) {
                    ok!(Self::filled_input(input), self.other_repl(ctx, p))
                } else {
                    pass()
                }
            }
            RequiredUnless => {
                if self.other_matches(ctx, p) {
                    pass()
                } else {
                    let other = path::join(&self.other_segments(ctx, &p[0]));
                    ok!(
                        Self::filled_input(input),
                        vec![
                            ("other", self.display_attribute_of(&other, &p[0])),
                            ("values", self.values_list_for(&p[0], &p[1..])),
                        ],
                    )
                }
            }
            RequiredIfAccepted | RequiredIfDeclined => {
                let other = self.other_value(ctx, &p[0]);
                let trigger = if b.name == RequiredIfAccepted {
                    Self::is_accepted(other)
                } else {
                    Self::is_declined(other)
                };
                if trigger {
                    ok!(
                        Self::filled_input(input),
                        vec![("other", self.display_attr_param(ctx, &p[0]))],
                    )
                } else {
                    pass()
                }
            }
            RequiredWith | RequiredWithAll | RequiredWithout | RequiredWithoutAll => {
                let filled: Vec<bool> = p.iter().map(|o| self.other_filled(ctx, o)).collect();
                let required = match b.name {
                    RequiredWith => filled.iter().any(|f| *f),
                    RequiredWithAll => filled.iter().all(|f| *f),
                    RequiredWithout => filled.iter().any(|f| !*f),
                    _ => filled.iter().all(|f| !*f),
                };
                if required {
                    ok!(
                        Self::filled_input(input),
                        vec![("values", self.attr_list(ctx, p, " / "))],
                    )
                } else {
                    pass()
                }
            }
            PresentIf | MissingIf | ProhibitedIf => {
                if !self.other_matches(ctx, p) {
                    return pass();
                }
                let cond = match b.name {
                    PresentIf => input.present(),
                    MissingIf => !input.present(),
                    _ => !Self::filled_input(input),
                };
                ok!(cond, self.other_repl(ctx, p))
            }
            PresentUnless | MissingUnless => {
                if self.other_matches(ctx, p) {
                    return pass();
                }
                let cond = if b.name == PresentUnless {
                    input.present()
                } else {
                    !input.present()
                };
                ok!(
                    cond,
                    vec![
                        ("other", self.display_attr_param(ctx, &p[0])),
                        ("value", p[1].clone()),
                    ],
                )
            }
            ProhibitedUnless => {
                if self.other_matches(ctx, p) {
                    return pass();
                }
                ok!(
                    !Self::filled_input(input),
                    vec![
                        ("other", self.display_attr_param(ctx, &p[0])),
                        ("values", self.values_list_for(&p[0], &p[1..])),
                    ],
                )
            }
            ProhibitedIfAccepted | ProhibitedIfDeclined => {
                let other = self.other_value(ctx, &p[0]);
                let trigger = if b.name == ProhibitedIfAccepted {
                    Self::is_accepted(other)
                } else {
                    Self::is_declined(other)
                };
                if trigger {
                    ok!(
                        !Self::filled_input(input),
                        vec![("other", self.display_attr_param(ctx, &p[0]))],
                    )
                } else {
                    pass()
                }
            }
            Prohibits => {
                if !Self::filled_input(input) {
                    return pass();
                }
                ok!(
                    !p.iter().any(|o| self.other_filled(ctx, o)),
                    vec![("other", self.attr_list(ctx, p, " / "))],
                )
            }
            PresentWith | PresentWithAll | MissingWith | MissingWithAll => {
                let present: Vec<bool> = p.iter().map(|o| self.other(ctx, o).present()).collect();
                let trigger = if matches!(b.name, PresentWith | MissingWith) {
                    present.iter().any(|x| *x)
                } else {
                    present.iter().all(|x| *x)
                };
                if !trigger {
                    return pass();
                }
                let cond = if matches!(b.name, PresentWith | PresentWithAll) {
                    input.present()
                } else {
                    !input.present()
                };
                ok!(cond, vec![("values", self.attr_list(ctx, p, " / "))])
            }
            Exclude => vec![Failure::Exclude],
            ExcludeIf => {
                if self.other_matches(ctx, p) {
                    vec![Failure::Exclude]
                } else {
                    pass()
                }
            }
            ExcludeUnless => {
                if self.other_matches(ctx, p) {
                    pass()
                } else {
                    vec![Failure::Exclude]
                }
            }
            ExcludeWith => {
                if self.other(ctx, &p[0]).present() {
                    vec![Failure::Exclude]
                } else {
                    pass()
                }
            }
            ExcludeWithout => {
                if self.other(ctx, &p[0]).present() {
                    pass()
                } else {
                    vec![Failure::Exclude]
                }
            }
            Accepted => ok!(Self::is_accepted(v), vec![]),
            Declined => ok!(Self::is_declined(v), vec![]),
            AcceptedIf | DeclinedIf => {
                if !self.other_matches(ctx, p) {
                    return pass();
                }
                let cond = if b.name == AcceptedIf {
                    Self::is_accepted(v)
                } else {
                    Self::is_declined(v)
                };
                ok!(cond, self.other_repl(ctx, p))
            }
            Boolean => {
                let strict = p.first().is_some_and(|s| s == "strict");
                ok!(
                    match v {
                        Some(Value::Bool(_)) => true,
                        Some(Value::Number(n)) if !strict => {
                            matches!(n.as_f64(), Some(f) if f == 0.0 || f == 1.0) && !n.is_f64()
                        }
                        Some(Value::String(s)) if !strict => s == "0" || s == "1",
                        _ => false,
                    },
                    vec![],
                )
            }
            String => ok!(string().is_some(), vec![]),
            Integer => {
                let strict = p.first().is_some_and(|s| s == "strict");
                ok!(
                    match v {
                        Some(Value::Number(n)) => {
                            n.is_i64()
                                || n.is_u64()
                                || (!strict
                                    && n.as_f64()
                                        .is_some_and(|f| f.fract() == 0.0 && f.abs() < 9.2e18))
                        }
                        Some(Value::String(s)) if !strict => php_int(s),
                        Some(Value::Bool(true)) => !strict,
                        _ => false,
                    },
                    vec![],
                )
            }
            Numeric => {
                let strict = p.first().is_some_and(|s| s == "strict");
                ok!(
                    matches!(v, Some(Value::Number(_))) || (!strict && v.is_some_and(is_numeric)),
                    vec![],
                )
            }
            Decimal => {
                let Some(s) = v.filter(|v| is_numeric(v)).and_then(to_php_string) else {
                    return Self::fail(Decimal, self.decimal_repl(p));
                };
                let places = s.trim().split_once('.').map_or(0, |(_, f)| f.len()) as f64;
                let cond = if p.len() == 2 {
                    places >= b.nums[0] && places <= b.nums[1]
                } else {
                    places == b.nums[0]
                };
                ok!(cond, self.decimal_repl(p))
            }
            Array => {
                let cond = match v {
                    Some(Value::Array(a)) => {
                        p.is_empty()
                            || a.is_empty()
                            || (0..a.len()).all(|i| p.contains(&i.to_string()))
                    }
                    Some(Value::Object(o)) => p.is_empty() || o.keys().all(|k| p.contains(k)),
                    _ => false,
                };
                ok!(cond, vec![])
            }
            List => ok!(
                matches!(v, Some(Value::Array(_)))
                    || matches!(v, Some(Value::Object(o)) if o.is_empty()),
                vec![],
            ),
            Size | Min | Max | Between => {
                let size = Self::size(input, field.numeric);
                let cond = match b.name {
                    Size => size == b.nums[0],
                    Min => size >= b.nums[0],
                    Max => size <= b.nums[0],
                    _ => size >= b.nums[0] && size <= b.nums[1],
                };
                if cond {
                    return pass();
                }
                let ty = Self::size_type(field, input, field.numeric);
                let repl = match b.name {
                    Size => vec![("size", p[0].clone())],
                    Min => vec![("min", p[0].clone())],
                    Max => vec![("max", p[0].clone())],
                    _ => vec![("min", p[0].clone()), ("max", p[1].clone())],
                };
                Self::fail_size(b.name, ty, repl)
            }
            Gt | Gte | Lt | Lte => self.check_compare(ctx, b, input),
            Digits | DigitsBetween | MaxDigits | MinDigits => {
                let Some(s) = scalar() else {
                    return Self::fail(b.name, self.digits_repl(b));
                };
                let digits_only = !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
                let len = s.len() as f64;
                let cond = digits_only
                    && match b.name {
                        Digits => len == b.nums[0],
                        DigitsBetween => len >= b.nums[0] && len <= b.nums[1],
                        MaxDigits => len <= b.nums[0],
                        _ => len >= b.nums[0],
                    };
                ok!(cond, self.digits_repl(b))
            }
            MultipleOf => {
                let cond = match (
                    v.and_then(value::Decimal::from_value),
                    value::Decimal::parse(&p[0]),
                ) {
                    (Some(x), Some(m)) if v.is_some_and(is_numeric) => {
                        x.is_multiple_of(m).unwrap_or(false)
                    }
                    _ => false,
                };
                ok!(cond, vec![("value", p[0].clone())])
            }
            In | NotIn | Enum => {
                let contains = |x: &Value| match to_php_string(x) {
                    Some(s) => p.contains(&s),
                    None => false,
                };
                let cond = match v {
                    Some(Value::Array(items)) if field.array => {
                        if b.name == NotIn {
                            !items.iter().any(contains)
                        } else {
                            items.iter().all(contains)
                        }
                    }
                    Some(Value::Array(_) | Value::Object(_)) => b.name == NotIn,
                    Some(x) => contains(x) != (b.name == NotIn),
                    None => b.name == NotIn,
                };
                ok!(cond, vec![("values", self.values_list(ctx, p))])
            }
            Same | Different => {
                let cond = if b.name == Same {
                    v == self.other_value(ctx, &p[0])
                } else {
                    p.iter().all(|o| match self.other(ctx, o) {
                        Input::Json(x) => Some(x) != v,
                        _ => true,
                    })
                };
                ok!(
                    cond,
                    vec![(
                        "other",
                        self.attr_list(ctx, if b.name == Same { &p[..1] } else { p }, " / "),
                    )],
                )
            }
            Confirmed => {
                let other = p
                    .first()
                    .cloned()
                    .unwrap_or_else(|| format!("{}_confirmation", ctx.key_str));
                let other_val = path::get(&self.data, &split(&other));
                ok!(other_val.is_some() && other_val == v, vec![])
            }
            Alpha | AlphaDash | AlphaNum => {
                let ascii = p.first().is_some_and(|s| s == "ascii");
                let s = if b.name == Alpha {
                    string().map(str::to_owned)
                } else {
                    scalar()
                };
                let cond = s.is_some_and(|s| match b.name {
                    Alpha => checks::alpha(&s, ascii),
                    AlphaDash => checks::alpha_dash(&s, ascii),
                    _ => checks::alpha_num(&s, ascii),
                });
                ok!(cond, vec![])
            }
            Ascii => ok!(scalar().is_some_and(|s| s.is_ascii()), vec![]),
            Lowercase => ok!(scalar().is_some_and(|s| s.to_lowercase() == s), vec![]),
            Uppercase => ok!(scalar().is_some_and(|s| s.to_uppercase() == s), vec![]),
            StartsWith | EndsWith | DoesntStartWith | DoesntEndWith => {
                let s = v.and_then(to_php_string);
                let hit = s.as_ref().is_some_and(|s| {
                    p.iter().any(|q| {
                        !q.is_empty()
                            && if matches!(b.name, StartsWith | DoesntStartWith) {
                                s.starts_with(q.as_str())
                            } else {
                                s.ends_with(q.as_str())
                            }
                    })
                });
                let cond = if matches!(b.name, StartsWith | EndsWith) {
                    hit
                } else {
                    s.is_some() && !hit
                };
                ok!(cond, vec![("values", p.join(", "))])
            }
            Contains | DoesntContain => {
                let Some(Value::Array(items)) = v else {
                    return if b.name == DoesntContain && matches!(v, Some(Value::Object(_))) {
                        pass()
                    } else {
                        Self::fail(b.name, vec![("values", p.join(", "))])
                    };
                };
                let has = |q: &std::string::String| {
                    items.iter().any(|i| loose_eq(i, &Value::String(q.clone())))
                };
                let cond = if b.name == Contains {
                    p.iter().all(has)
                } else {
                    !p.iter().any(has)
                };
                ok!(cond, vec![("values", p.join(", "))])
            }
            Distinct => {
                let Some(x) = v else { return pass() };
                let strict = p.iter().any(|s| s == "strict");
                let ignore_case = p.iter().any(|s| s == "ignore_case");
                let dup = path::expand(&self.data, &field.segments)
                    .iter()
                    .filter(|k| !ctx.key.eq_segments(k))
                    .any(|k| {
                        path::get(&self.data, k).is_some_and(|o| {
                            if ignore_case {
                                match (to_php_string(o), to_php_string(x)) {
                                    (Some(a), Some(b)) => a.to_lowercase() == b.to_lowercase(),
                                    _ => o == x,
                                }
                            } else if strict {
                                o == x
                            } else {
                                loose_eq(o, x)
                            }
                        })
                    });
                ok!(!dup, vec![])
            }
            InArray => {
                let pattern = split(&p[0]);
                let found = path::expand(&self.data, &pattern)
                    .iter()
                    .filter_map(|k| path::get(&self.data, k))
                    .any(|o| v.is_some_and(|x| loose_eq(o, x)));
                let shown = p[0].strip_suffix(".*").unwrap_or(&p[0]);
                ok!(
                    found,
                    vec![("other", self.display_attribute_of(shown, shown))],
                )
            }
            InArrayKeys | RequiredArrayKeys => {
                let Some(Value::Object(o)) = v else {
                    return Self::fail(b.name, vec![("values", p.join(", "))]);
                };
                let cond = if b.name == InArrayKeys {
                    p.iter().any(|k| o.contains_key(k))
                } else {
                    p.iter().all(|k| o.contains_key(k))
                };
                ok!(cond, vec![("values", p.join(", "))])
            }
            Email => {
                let strict = p.iter().any(|s| s == "filter" || s == "strict");
                ok!(string().is_some_and(|s| checks::email(s, strict)), vec![])
            }
            Url => ok!(string().is_some_and(|s| checks::url(s, p)), vec![]),
            Ip => ok!(
                string().is_some_and(|s| s.parse::<std::net::IpAddr>().is_ok()),
                vec![],
            ),
            Ipv4 => ok!(
                string().is_some_and(|s| s.parse::<std::net::Ipv4Addr>().is_ok()),
                vec![],
            ),
            Ipv6 => ok!(
                string().is_some_and(|s| s.parse::<std::net::Ipv6Addr>().is_ok()),
                vec![],
            ),
            MacAddress => ok!(string().is_some_and(checks::mac_address), vec![]),
            Json => ok!(
                scalar().is_some_and(|s| serde_json::from_str::<serde::de::IgnoredAny>(&s).is_ok()),
                vec![],
            ),
            Uuid => ok!(
                string()
                    .is_some_and(|s| checks::uuid(s, p.first().map(std::string::String::as_str))),
                vec![],
            ),
            Ulid => ok!(string().is_some_and(checks::ulid), vec![]),
            HexColor => ok!(string().is_some_and(checks::hex_color), vec![]),
            Timezone => ok!(
                string().is_some_and(|s| {
                    checks::timezone(s, p.first().map(std::string::String::as_str))
                }),
                vec![],
            ),
            Regex | NotRegex => {
                let Some(s) = scalar() else {
                    return Self::fail(b.name, vec![]);
                };
                let hit = b.regex.as_ref().is_some_and(|r| r.is_match(&s));
                ok!(hit == (b.name == Regex), vec![])
            }
            Date => ok!(
                scalar().is_some_and(|s| date::parse(&s, self.now()).is_some()),
                vec![],
            ),
            DateFormat => {
                let s = string();
                let cond = s.is_some_and(|s| {
                    b.formats
                        .iter()
                        .any(|f| date::parse_with_format(f, s).is_some())
                });
                ok!(cond, vec![("format", p.join(", "))])
            }
            After | AfterOrEqual | Before | BeforeOrEqual | DateEquals => {
                let cond = self.compare_dates(ctx, b.name, v, &p[0]);
                ok!(cond, vec![("date", self.date_display(ctx, &p[0]))])
            }
            File => ok!(matches!(input, Input::File(_)), vec![]),
            Image => {
                let allow_svg = p.first().is_some_and(|s| s == "allow_svg");
                ok!(
                    matches!(input, Input::File(f) if file::is_image(f, allow_svg)),
                    vec![],
                )
            }
            Mimes => ok!(
                matches!(input, Input::File(f) if file::matches_mimes(f, p)),
                vec![("values", p.join(", "))],
            ),
            Mimetypes => ok!(
                matches!(input, Input::File(f) if file::matches_mimetypes(f, p)),
                vec![("values", p.join(", "))],
            ),
            Extensions => {
                let cond = matches!(input, Input::File(f) if f.client_extension().is_some_and(|e| p.iter().any(|q| q.eq_ignore_ascii_case(&e))));
                ok!(cond, vec![("values", p.join(", "))])
            }
        }
    }

    fn filled_input(input: Input<'_>) -> bool {
        match input {
            Input::Missing => false,
            Input::File(_) => true,
            Input::Json(v) => is_filled(v),
        }
    }

    fn decimal_repl(&self, p: &[String]) -> Vec<(&'static str, String)> {
        let shown = if p.len() == 2 {
            format!("{}-{}", p[0], p[1])
        } else {
            p[0].clone()
        };
        vec![("decimal", shown)]
    }

    fn digits_repl(&self, b: &Builtin) -> Vec<(&'static str, String)> {
        let p = &b.params;
        match b.name {
            Name::Digits => vec![("digits", p[0].clone())],
            Name::DigitsBetween => vec![("min", p[0].clone()), ("max", p[1].clone())],
            Name::MaxDigits => vec![("max", p[0].clone())],
            _ => vec![("min", p[0].clone())],
        }
    }

    fn values_list_for(&self, attribute: &str, values: &[String]) -> String {
        values
            .iter()
            .map(|p| self.display_value(attribute, &Value::String(p.clone())))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn display_attr_param(&self, ctx: &Ctx<'_>, param: &str) -> String {
        let key = path::join(&self.other_segments(ctx, param));
        self.display_attribute_of(&key, param)
    }

    fn check_compare(&self, ctx: &Ctx<'_>, b: &Builtin, input: Input<'_>) -> Vec<Failure> {
        let field = ctx.field;
        let param = &b.params[0];
        let v = input.json();
        let other = self.other(ctx, param);
        // Laravel's `shouldBeNumeric`: a numeric value makes these rules numeric.
        let value_numeric = v.is_some_and(is_numeric);
        let numeric = field.numeric || value_numeric;
        let ty = Self::size_type(field, input, numeric);
        let cmp = |a: f64, c: f64| match b.name {
            Name::Gt => a > c,
            Name::Gte => a >= c,
            Name::Lt => a < c,
            _ => a <= c,
        };
        let param_numeric = value::is_numeric_str(param);
        let (cond, shown) = match other {
            Input::Missing | Input::Json(Value::Null) if param_numeric => {
                let limit = param.trim().parse::<f64>().unwrap_or(f64::NAN);
                (
                    value_numeric && cmp(Self::size(input, true), limit),
                    param.clone(),
                )
            }
            _ if param_numeric => (false, param.clone()),
            Input::Missing => (
                false,
                self.display_value(&field.pattern, &Value::String(param.clone())),
            ),
            other => {
                let other_size = Self::size(other, numeric);
                let shown = value::format_f64(other_size);
                let same_type = match (input, other) {
                    (Input::File(_), Input::File(_)) => true,
                    (Input::Json(a), Input::Json(c)) => {
                        (numeric && is_numeric(a) && is_numeric(c))
                            || std::mem::discriminant(a) == std::mem::discriminant(c)
                    }
                    _ => false,
                };
                (
                    same_type && cmp(Self::size(input, numeric), other_size),
                    shown,
                )
            }
        };
        if cond {
            Vec::new()
        } else {
            Self::fail_size(b.name, ty, vec![("value", shown)])
        }
    }

    fn parse_date(&self, ctx: &Ctx<'_>, s: &str) -> Option<NaiveDateTime> {
        if let Some(i) = ctx.field.date_formats
            && let Some(Kind::Builtin(b)) = ctx.field.rules.get(i).map(|r| &r.kind)
            && let Some(d) = b.formats.iter().find_map(|f| date::parse_with_format(f, s))
        {
            return Some(d);
        }
        date::parse(s, self.now())
    }

    fn compare_dates(&self, ctx: &Ctx<'_>, name: Name, v: Option<&Value>, param: &str) -> bool {
        let Some(s) = v
            .filter(|v| matches!(v, Value::String(_) | Value::Number(_)))
            .and_then(to_php_string)
        else {
            return false;
        };
        let Some(first) = self.parse_date(ctx, &s) else {
            return false;
        };
        let second = date::parse(param, self.now()).or_else(|| {
            let other = self.other_value(ctx, param)?;
            self.parse_date(ctx, &to_php_string(other)?)
        });
        let Some(second) = second else { return false };
        match name {
            Name::After => first > second,
            Name::AfterOrEqual => first >= second,
            Name::Before => first < second,
            Name::BeforeOrEqual => first <= second,
            _ => first == second,
        }
    }

    fn date_display(&self, ctx: &Ctx<'_>, param: &str) -> String {
        if date::parse(param, self.now()).is_some() {
            param.to_owned()
        } else {
            self.display_attr_param(ctx, param)
        }
    }

    fn check_password(
        &self,
        ctx: &Ctx<'_>,
        policy: &crate::Password,
        input: Input<'_>,
    ) -> Vec<Failure> {
        let Some(Value::String(s)) = input.json() else {
            let mut out = Self::fail(Name::String, vec![]);
            out.push(Failure::Rule {
                key: "min".to_owned(),
                size: Some("string"),
                repl: vec![("min", policy.min.to_string())],
            });
            return out;
        };
        let _ = ctx;
        policy
            .failures(s)
            .into_iter()
            .map(|(key, n)| match (key, n) {
                ("min", Some(n)) => Failure::Rule {
                    key: "min".to_owned(),
                    size: Some("string"),
                    repl: vec![("min", n.to_string())],
                },
                ("max", Some(n)) => Failure::Rule {
                    key: "max".to_owned(),
                    size: Some("string"),
                    repl: vec![("max", n.to_string())],
                },
                (k, _) => Failure::Rule {
                    key: k.to_owned(),
                    size: None,
                    repl: vec![],
                },
            })
            .collect()
    }

    async fn check_db(
        &self,
        ctx: &Ctx<'_>,
        name: Name,
        db: &DbRule,
        input: Input<'_>,
        verifier: &dyn PresenceVerifier,
    ) -> Result<bool, PresenceError> {
        let Some(v) = input.json() else {
            return Ok(name == Name::Unique);
        };
        let column = db.column.clone().unwrap_or_else(|| {
            if ctx.field.wildcard {
                ctx.key.last().unwrap_or_default().to_owned()
            } else {
                ctx.key_str.to_owned()
            }
        });
        let values: Vec<String> = match v {
            Value::Array(items) if name == Name::Exists => {
                let mut vals: Vec<String> = items.iter().filter_map(to_php_string).collect();
                vals.sort();
                vals.dedup();
                vals
            }
            Value::Array(_) | Value::Object(_) => return Ok(false),
            other => vec![to_php_string(other).unwrap_or_default()],
        };
        if values.is_empty() {
            return Ok(true);
        }
        let query = PresenceQuery {
            table: db.table.clone(),
            column,
            values: values.clone(),
            except: db.except.clone().map(|id| (db.id_column.clone(), id)),
            wheres: db.wheres.clone(),
        };
        let count = verifier.count(&query).await?;
        Ok(if name == Name::Unique {
            count == 0
        } else {
            count >= values.len() as u64
        })
    }

    // ---- messages ------------------------------------------------------------------------

    fn base_pairs(&self, ctx: &Ctx<'_>, input: Input<'_>) -> Vec<(&'static str, String)> {
        let mut pairs = vec![(
            "attribute",
            self.display_attribute(ctx.key_str, &ctx.field.pattern, ctx.field.wildcard),
        )];
        if let Some(v) = input.json()
            && !matches!(v, Value::Array(_) | Value::Object(_))
        {
            pairs.push(("input", self.display_value(ctx.key_str, v)));
        }
        const INDEX: [(&str, &str); 3] = [
            ("index", "position"),
            ("second-index", "second-position"),
            ("third-index", "third-position"),
        ];
        for (w, (index, position)) in ctx
            .wild()
            .filter_map(|w| w.parse::<usize>().ok())
            .zip(INDEX)
        {
            pairs.push((index, w.to_string()));
            pairs.push((position, (w + 1).to_string()));
            if index == "index" {
                pairs.push(("ordinal-position", ordinal(w + 1)));
            }
        }
        pairs
    }

    fn message(
        &self,
        ctx: &Ctx<'_>,
        rule_key: &str,
        size: Option<&'static str>,
        repl: Vec<(&'static str, String)>,
        input: Input<'_>,
    ) -> String {
        let t = self.translator();
        let loc = &*self.locale;
        let line = self
            .inline_message(ctx, rule_key)
            .or_else(|| self.custom_line(ctx, rule_key))
            .or_else(|| {
                size.and_then(|ty| t.line(loc, &format!("{rule_key}.{ty}")).map(str::to_owned))
            })
            .or_else(|| t.line(loc, rule_key).map(str::to_owned))
            .unwrap_or_else(|| format!("validation.{rule_key}"));
        let mut pairs = self.base_pairs(ctx, input);
        pairs.extend(repl);
        replace(&line, &pairs)
    }

    fn inline_message(&self, ctx: &Ctx<'_>, rule_key: &str) -> Option<String> {
        if self.messages.is_empty() {
            return None;
        }
        let candidates = [
            format!("{}.{rule_key}", ctx.key_str),
            rule_key.to_owned(),
            ctx.key_str.to_owned(),
        ];
        for candidate in &candidates {
            let key = split(candidate);
            for (source, message) in &self.messages {
                if source == candidate || (source.contains('*') && path::matches_str(source, &key))
                {
                    return Some(message.clone());
                }
            }
        }
        None
    }

    fn custom_line(&self, ctx: &Ctx<'_>, rule_key: &str) -> Option<String> {
        let t = self.translator();
        if let Some(line) = t.line(&self.locale, &format!("custom.{}.{rule_key}", ctx.key_str)) {
            return Some(line.to_owned());
        }
        let wanted = split(&format!("{}.{rule_key}", ctx.key_str));
        t.keys_with_prefix(&self.locale, "custom.")
            .find(|(k, _)| k.contains('*') && path::matches_str(&k["custom.".len()..], &wanted))
            .map(|(_, v)| v.to_owned())
    }

    fn display_attribute(&self, key: &str, pattern: &str, wildcard: bool) -> String {
        for name in [key, pattern] {
            if let Some(a) = self.attributes.get(name) {
                return a.clone();
            }
            if let Some(a) = self
                .translator()
                .line(&self.locale, &format!("attributes.{name}"))
            {
                return a.to_owned();
            }
        }
        if wildcard {
            return key.to_owned();
        }
        snake_words(key)
    }

    fn display_attribute_of(&self, key: &str, pattern: &str) -> String {
        self.display_attribute(key, pattern, key != pattern && pattern.contains('*'))
    }

    fn display_value(&self, attribute: &str, v: &Value) -> String {
        let raw = to_php_string(v).unwrap_or_default();
        if let Some(line) = self
            .translator()
            .line(&self.locale, &format!("values.{attribute}.{raw}"))
        {
            return line.to_owned();
        }
        match v {
            Value::Bool(b) => b.to_string(),
            Value::Null => "empty".to_owned(),
            Value::Array(_) | Value::Object(_) => "array".to_owned(),
            _ => raw,
        }
    }

    // ---- results -------------------------------------------------------------------------

    /// The validated data, taken out of the validator (its data is left `null`).
    fn take_validated(&mut self, state: &RunState) -> Value {
        let excluded = &state.excluded;
        let mut data = std::mem::take(&mut self.data);
        if self
            .fields
            .iter()
            .all(|f| !f.wildcard && f.segments.len() == 1)
        {
            match data {
                Value::Object(map) => {
                    return self.take_top_level(map, excluded, state.top_level_found);
                }
                other => data = other,
            }
        }
        let mut out = Value::Object(Map::new());
        for key in excluded {
            path::remove(&mut data, key);
        }
        for field in self.fields.iter() {
            let keys = if field.wildcard {
                path::expand(&data, &field.segments)
            } else {
                vec![field.segments.clone()]
            };
            let has_children = field.has_children;
            for key in keys {
                if is_excluded_segments(excluded, &key) {
                    continue;
                }
                let key_str = path::join(&key);
                if self.files.contains_key(&key_str) {
                    continue;
                }
                let Some(v) = path::get(&data, &key) else {
                    continue;
                };
                if field.array && !v.is_null() && has_children {
                    continue;
                }
                path::set(&mut out, &key, v.clone());
            }
        }
        out
    }

    /// [`Self::take_validated`] when every field is a plain top-level key (the usual form):
    /// the keys without a field (or excluded, or files) are dropped from the data in place,
    /// so nothing is copied. `found` fields found their key in the data: the fields are
    /// distinct keys, so when that is every key and nothing is excluded, a file or an array
    /// whose children are validated, every key is kept and the map is not walked at all.
    fn take_top_level(
        &self,
        mut map: Map<String, Value>,
        excluded: &[Vec<String>],
        found: usize,
    ) -> Value {
        if found == map.len()
            && excluded.is_empty()
            && self.files.is_empty()
            && !self.fields.iter().any(|f| f.array && f.has_children)
        {
            return Value::Object(map);
        }
        map.retain(|key, v| {
            let parent_of_validated_children =
                |field: &Field| field.array && !v.is_null() && field.has_children;
            self.fields.iter().any(|field| {
                field.segments[0] == *key
                    && !is_excluded_segments(excluded, &field.segments)
                    && !self.files.contains_key(key)
                    && !parent_of_validated_children(field)
            })
        });
        Value::Object(map)
    }
}

/// How form and query strings become typed values after validation.
#[derive(Debug, Clone, Copy)]
enum Coerce {
    Int,
    Number,
    Bool,
}

/// Conversions for string inputs (forms, query strings), taken from the rules.
pub(crate) struct Coercions(Vec<(Vec<String>, bool, Coerce)>);

impl Coercions {
    pub(crate) fn apply(&self, mut data: Value) -> Value {
        for (segments, wildcard, kind) in &self.0 {
            let keys = if *wildcard {
                path::expand(&data, segments)
            } else {
                vec![segments.clone()]
            };
            for key in keys {
                let Some(slot) = path::get_mut(&mut data, &key) else {
                    continue;
                };
                let Value::String(s) = slot else { continue };
                let t = s.trim();
                let new = match kind {
                    Coerce::Int => t.parse::<i64>().ok().map(Value::from),
                    Coerce::Number => t.parse::<i64>().ok().map(Value::from).or_else(|| {
                        t.parse::<f64>()
                            .ok()
                            .and_then(serde_json::Number::from_f64)
                            .map(Value::Number)
                    }),
                    Coerce::Bool => match t {
                        "1" | "true" | "on" | "yes" => Some(Value::Bool(true)),
                        "0" | "false" | "off" | "no" => Some(Value::Bool(false)),
                        _ => None,
                    },
                };
                if let Some(new) = new {
                    *slot = new;
                }
            }
        }
        data
    }
}

fn is_excluded(excluded: &[Vec<String>], key: &path::Key) -> bool {
    excluded.iter().any(|e| key.starts_with(e))
}

fn is_excluded_segments(excluded: &[Vec<String>], key: &[String]) -> bool {
    excluded.iter().any(|e| key.starts_with(e))
}

/// `1st`, `2nd`, `3rd`, `4th`, `11th`, `21st` (Laravel's `:ordinal-position`).
fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// PHP's `FILTER_VALIDATE_INT` on a string: optional sign, no leading zeros, surrounding
/// whitespace allowed.
fn php_int(s: &str) -> bool {
    let t = s.trim();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && t.parse::<i64>().is_ok()
}

/// Laravel's displayable attribute: `Str::snake` then underscores to spaces.
fn snake_words(key: &str) -> String {
    let snake = if key.chars().any(|c| c.is_uppercase()) {
        let mut out = String::with_capacity(key.len() + 4);
        let mut prev: Option<char> = None;
        for c in key.chars().filter(|c| !c.is_whitespace()) {
            if c.is_uppercase() && prev.is_some() {
                out.push('_');
            }
            out.extend(c.to_lowercase());
            prev = Some(c);
        }
        out
    } else {
        key.to_owned()
    };
    snake.replace('_', " ")
}

/// Run a future that cannot wait (no async rules) to completion.
fn now_or_never<F: Future>(f: F) -> Option<F::Output> {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    match f.as_mut().poll(&mut cx) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

macro_rules! builder_methods {
    () => {
        /// Custom messages: keys `field.rule` (wildcards allowed), `rule`, or `field`.
        #[must_use]
        pub fn messages<I, K, M>(mut self, messages: I) -> Self
        where
            I: IntoIterator<Item = (K, M)>,
            K: Into<String>,
            M: Into<String>,
        {
            self.core
                .messages
                .extend(messages.into_iter().map(|(k, m)| (k.into(), m.into())));
            self.core.outcome = None;
            self
        }

        /// Custom attribute names for `:attribute` (keys may be wildcard patterns).
        #[must_use]
        pub fn attributes<I, K, M>(mut self, attributes: I) -> Self
        where
            I: IntoIterator<Item = (K, M)>,
            K: Into<String>,
            M: Into<String>,
        {
            self.core
                .attributes
                .extend(attributes.into_iter().map(|(k, m)| (k.into(), m.into())));
            self.core.outcome = None;
            self
        }

        /// The locale of the messages (default `en`).
        #[must_use]
        pub fn locale(mut self, locale: &str) -> Self {
            self.core.locale = Cow::Owned(locale.to_owned());
            self.core.outcome = None;
            self
        }

        /// Use these language lines instead of the shipped ones.
        #[must_use]
        pub fn translator(mut self, translator: Arc<Translator>) -> Self {
            self.core.translator = Some(translator);
            self.core.outcome = None;
            self
        }

        /// Stop validating all fields after the first failure (`stopOnFirstFailure`).
        #[must_use]
        pub fn stop_on_first_failure(mut self) -> Self {
            self.core.stop_on_first_failure = true;
            self.core.outcome = None;
            self
        }

        /// Fix "now" for relative dates (`after:today`), for tests.
        #[must_use]
        pub fn now(mut self, now: NaiveDateTime) -> Self {
            self.core.now = Some(now);
            self.core.outcome = None;
            self
        }

        /// Attach an uploaded file at a dotted key (`avatar`, `photos.0`).
        #[must_use]
        pub fn file(mut self, key: &str, file: UploadedFile) -> Self {
            self.core.add_file(key, file);
            self
        }

        /// A hook that runs after the rules and may add errors (Laravel's `after`).
        #[must_use]
        pub fn after<F>(mut self, hook: F) -> Self
        where
            F: Fn(&Value, &mut ValidationErrors) + Send + Sync + 'static,
        {
            self.core.after.push(Arc::new(hook));
            self.core.outcome = None;
            self
        }

        /// The data under validation.
        pub fn data(&self) -> &Value {
            &self.core.data
        }

        /// An uploaded file attached with [`Self::file`].
        pub fn uploaded_file(&self, key: &str) -> Option<&UploadedFile> {
            self.core.files.get(key)
        }
    };
}

/// Validates JSON data against Laravel rules (the sync validator; see [`AsyncValidator`] for
/// database and async rules).
///
/// ```
/// use foundry_validation::Validator;
/// use serde_json::json;
///
/// let data = json!({"email": "ada@example.com", "items": [{"qty": 2}, {"qty": 1}]});
/// let mut v = Validator::new(data, [
///     ("email", "required|email|max:255"),
///     ("items.*.qty", "required|integer|min:1"),
/// ]).unwrap();
/// assert!(v.passes());
/// let data = json!({"email": "not an email", "items": [{"qty": 2}, {"qty": 0}]});
/// let mut v = Validator::new(data, [("email", "required|email"), ("items.*.qty", "required|integer|min:1")]).unwrap();
/// assert!(v.fails());
/// assert_eq!(v.errors().first("email"), Some("The email field must be a valid email address."));
/// assert_eq!(v.errors().first("items.1.qty"), Some("The items.1.qty field must be at least 1."));
/// ```
pub struct Validator {
    core: Core,
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator")
            .field(
                "fields",
                &self
                    .core
                    .fields
                    .iter()
                    .map(|f| &f.pattern)
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for AsyncValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncValidator")
            .field(
                "fields",
                &self
                    .core
                    .fields
                    .iter()
                    .map(|f| &f.pattern)
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Validator {
    /// A validator for `data` with `(field pattern, rules)` pairs. Malformed rules, and rules
    /// that need [`AsyncValidator`] (`unique`, `exists`, async custom rules), are a
    /// [`RuleError`].
    pub fn new<I, K, R>(data: Value, rules: I) -> Result<Self, RuleError>
    where
        I: IntoIterator<Item = (K, R)>,
        K: Into<String>,
        R: IntoRules,
    {
        let core = Core::new(data, rules)?;
        if let Some((field, rule)) = core.first_async_rule() {
            return Err(RuleError::new(
                field,
                &rule,
                "this rule needs the database or async I/O: use `AsyncValidator`",
            ));
        }
        Ok(Self { core })
    }

    builder_methods!();

    fn ensure_run(&mut self) {
        if self.core.outcome.is_some() {
            return;
        }
        // Async rules are refused by `new`.
        let state = self.core.run_in_place();
        self.core.outcome = Some(state);
    }

    /// Whether the data passes.
    pub fn passes(&mut self) -> bool {
        self.errors().is_empty()
    }

    /// Whether the data fails.
    pub fn fails(&mut self) -> bool {
        !self.passes()
    }

    /// The messages per field (runs the rules on first use).
    pub fn errors(&mut self) -> &ValidationErrors {
        self.ensure_run();
        match &self.core.outcome {
            Some(state) => &state.errors,
            None => empty_errors(),
        }
    }

    /// The rules that failed, as `(key, rule name)` pairs in order (Laravel's `failed()`).
    ///
    /// ```
    /// use foundry_validation::Validator;
    /// use serde_json::json;
    ///
    /// let mut v = Validator::new(json!({"age": "x"}), [("age", "integer|min:18")]).unwrap();
    /// assert_eq!(v.failed(), [("age".to_string(), "integer".to_string()), ("age".to_string(), "min".to_string())]);
    /// ```
    pub fn failed(&mut self) -> &[(String, String)] {
        self.ensure_run();
        match &self.core.outcome {
            Some(state) => &state.failed,
            None => &[],
        }
    }

    /// The validated data (only fields with rules, minus excluded ones), or the errors.
    pub fn validate(mut self) -> Result<Value, ValidationErrors> {
        self.ensure_run();
        let Some(state) = self.core.outcome.take() else {
            return Err(ValidationErrors::new());
        };
        if state.errors.is_empty() {
            Ok(self.core.take_validated(&state))
        } else {
            Err(state.errors)
        }
    }
}

fn empty_errors() -> &'static ValidationErrors {
    static EMPTY: std::sync::OnceLock<ValidationErrors> = std::sync::OnceLock::new();
    EMPTY.get_or_init(ValidationErrors::new)
}

/// Why an async validation did not give validated data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AsyncValidationError {
    /// The input is invalid (a 422).
    #[error("{0}")]
    Invalid(ValidationErrors),
    /// The presence verifier failed (an infrastructure error, a 500).
    #[error(transparent)]
    Presence(#[from] PresenceError),
}

impl AsyncValidationError {
    /// The validation errors, when the input was invalid.
    pub fn errors(&self) -> Option<&ValidationErrors> {
        match self {
            Self::Invalid(e) => Some(e),
            Self::Presence(_) => None,
        }
    }
}

impl From<AsyncValidationError> for foundry_core::Error {
    fn from(err: AsyncValidationError) -> Self {
        match err {
            AsyncValidationError::Invalid(e) => e.into(),
            AsyncValidationError::Presence(e) => foundry_core::Error::internal(e),
        }
    }
}

/// What a validation gives a form request: the validated data or why not, and the uploaded
/// files.
pub(crate) type ValidatedWithFiles = (
    Result<Value, AsyncValidationError>,
    HashMap<String, UploadedFile>,
);

/// A validator that may run database rules (`unique`, `exists`) and async custom rules.
///
/// ```
/// use foundry_validation::{AsyncValidator, InMemoryPresenceVerifier};
/// use serde_json::json;
/// use std::sync::Arc;
///
/// let db = Arc::new(InMemoryPresenceVerifier::new());
/// db.insert("categories", json!({"id": 3}));
/// let v = AsyncValidator::new(json!({"category_id": 4}), [("category_id", "required|exists:categories,id")])
///     .unwrap()
///     .presence_verifier(db);
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let err = v.validate().await.unwrap_err();
/// assert_eq!(err.errors().unwrap().first("category_id"), Some("The selected category id is invalid."));
/// # });
/// ```
pub struct AsyncValidator {
    core: Core,
    verifier: Option<Arc<dyn PresenceVerifier>>,
}

impl AsyncValidator {
    /// Like [`Validator::new`], accepting every rule.
    pub fn new<I, K, R>(data: Value, rules: I) -> Result<Self, RuleError>
    where
        I: IntoIterator<Item = (K, R)>,
        K: Into<String>,
        R: IntoRules,
    {
        Ok(Self {
            core: Core::new(data, rules)?,
            verifier: None,
        })
    }

    builder_methods!();

    /// A validator over already compiled fields, with a form request's messages, attribute
    /// names and `after` hook.
    pub(crate) fn for_form(
        data: Value,
        fields: Fields,
        messages: Vec<(String, String)>,
        attributes: HashMap<String, String>,
        after: fn(&Value, &mut ValidationErrors),
    ) -> Self {
        let mut core = Core::with_fields(data, fields);
        core.messages = messages;
        core.attributes = attributes;
        core.form_after = Some(after);
        Self {
            core,
            verifier: None,
        }
    }

    /// A form request's settings, set in place.
    ///
    /// Returns whether the validator [waits](Self::waits): only then is the presence
    /// verifier set, as a run in place never asks it.
    pub(crate) fn configure(
        &mut self,
        settings: &crate::http::ValidationSettings,
        stop_on_first_failure: bool,
    ) -> bool {
        let core = &mut self.core;
        core.stop_on_first_failure = stop_on_first_failure;
        core.translator.clone_from(&settings.translator);
        if let Some(l) = &settings.locale {
            core.locale = Cow::Owned(l.clone());
        }
        let waits = self.waits();
        if waits {
            self.verifier.clone_from(&settings.presence_verifier);
        }
        waits
    }

    /// An uploaded file under `key`, added in place.
    pub(crate) fn add_file(&mut self, key: &str, file: UploadedFile) {
        self.core.add_file(key, file);
    }

    pub(crate) fn coercions(&self) -> Coercions {
        let mut out = Vec::new();
        for f in self.core.fields.iter() {
            let has = |names: &[Name]| {
                f.rules
                    .iter()
                    .any(|r| r.builtin_name().is_some_and(|n| names.contains(&n)))
            };
            let kind = if has(&[Name::Integer]) {
                Coerce::Int
            } else if has(&[Name::Numeric, Name::Decimal]) {
                Coerce::Number
            } else if has(&[Name::Boolean, Name::Accepted, Name::Declined]) {
                Coerce::Bool
            } else {
                continue;
            };
            out.push((f.segments.clone(), f.wildcard, kind));
        }
        Coercions(out)
    }

    /// Whether a rule may wait on I/O (`unique`, `exists`, async custom rules); without one,
    /// a run completes on its first poll.
    pub(crate) fn waits(&self) -> bool {
        self.core.first_async_rule().is_some()
    }

    /// The verifier `unique` and `exists` ask.
    #[must_use]
    pub fn presence_verifier(mut self, verifier: Arc<dyn PresenceVerifier>) -> Self {
        self.verifier = Some(verifier);
        self
    }

    /// Run the rules: the errors (empty when the data passes), or a verifier failure.
    pub async fn errors(&self) -> Result<ValidationErrors, PresenceError> {
        Ok(self.core.run(self.verifier.as_deref()).await?.errors)
    }

    /// Whether the data passes.
    pub async fn passes(&self) -> Result<bool, PresenceError> {
        Ok(self.errors().await?.is_empty())
    }

    /// Like [`Self::validate`], and hand back the uploaded files.
    pub(crate) async fn validate_with_files(mut self) -> ValidatedWithFiles {
        let run = self.core.run(self.verifier.as_deref()).await;
        self.conclude(run)
    }

    /// [`Self::validate_with_files`] run in place, for validators that never [wait](Self::waits).
    /// Borrowed, not consumed: the validator is not moved for the run.
    pub(crate) fn validate_with_files_in_place(&mut self) -> ValidatedWithFiles {
        let state = self.core.run_in_place();
        self.conclude(Ok(state))
    }

    /// The outcome of a run; takes the data and the files out of the validator.
    fn conclude(&mut self, run: Result<RunState, PresenceError>) -> ValidatedWithFiles {
        let result = match run {
            Ok(state) if state.errors.is_empty() => Ok(self.core.take_validated(&state)),
            Ok(state) => Err(AsyncValidationError::Invalid(state.errors)),
            Err(e) => Err(e.into()),
        };
        (result, std::mem::take(&mut self.core.files))
    }

    /// The validated data, or why not.
    pub async fn validate(self) -> Result<Value, AsyncValidationError> {
        self.validate_with_files().await.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The validated data or errors, and the failed rules, of `rules` over `data`, with the
    /// [`Core::passes_alone`] shortcut allowed or not.
    fn outcome(
        data: &Value,
        rules: &[(&str, &str)],
        shortcut: bool,
    ) -> (Result<Value, ValidationErrors>, Vec<(String, String)>) {
        let mut fields = compile(rules.iter().copied()).unwrap();
        for field in Arc::get_mut(&mut fields).unwrap() {
            field.own_value_only &= shortcut;
        }
        let mut v = Validator {
            core: Core::with_fields(data.clone(), fields),
        };
        let failed = v.failed().to_vec();
        (v.validate(), failed)
    }

    fn same_with_and_without_shortcut(data: &Value, rules: &[(&str, &str)]) {
        assert_eq!(
            outcome(data, rules, true),
            outcome(data, rules, false),
            "{data} with {rules:?}"
        );
    }

    const SIGNUP: [(&str, &str); 3] = [
        ("name", "required|string|max:50"),
        ("email", "required|email"),
        ("age", "required|integer|min:18"),
    ];

    #[test]
    fn shortcut_takes_own_value_rules_only() {
        let fields = compile(SIGNUP).unwrap();
        assert!(fields.iter().all(|f| f.own_value_only));
        let fields = compile([
            ("a", "required|confirmed"),
            ("b", "string|exclude"),
            ("c", "date"),
            ("d", "required_with:a|string"),
        ])
        .unwrap();
        assert!(fields.iter().all(|f| !f.own_value_only));
    }

    #[test]
    fn validated_top_level_data_keeps_exactly_the_fields_with_rules() {
        let validated = |data: Value, rules: &[(&str, &str)]| outcome(&data, rules, true).0;
        let rules = [("a", "nullable|string"), ("b", "nullable|integer")];
        // Every key has a field: the data comes back as it is.
        assert_eq!(
            validated(json!({"a": "x", "b": 1}), &rules),
            Ok(json!({"a": "x", "b": 1}))
        );
        // As many keys as fields, but not the same ones.
        assert_eq!(
            validated(json!({"a": "x", "c": 2}), &rules),
            Ok(json!({"a": "x"}))
        );
        // A key without a field is dropped, present fields or not.
        assert_eq!(
            validated(json!({"a": "x", "b": 1, "c": 2}), &rules),
            Ok(json!({"a": "x", "b": 1}))
        );
        assert_eq!(validated(json!({"c": 2}), &rules), Ok(json!({})));
        // Every key has a field, and one field is excluded.
        assert_eq!(
            validated(
                json!({"a": "x", "b": 1}),
                &[("a", "string"), ("b", "integer|exclude")]
            ),
            Ok(json!({"a": "x"}))
        );
    }

    #[test]
    fn signup_answers_alike_with_the_shortcut() {
        let valid = json!({"name": "Ada Lovelace", "email": "ada@example.com", "age": 36});
        assert_eq!(outcome(&valid, &SIGNUP, true), (Ok(valid.clone()), vec![]));
        let with = |key: &str, value: Value| {
            let mut data = valid.clone();
            data[key] = value;
            data
        };
        let without = |key: &str| {
            let mut data = valid.clone();
            data.as_object_mut().unwrap().remove(key);
            data
        };
        let mut cases = vec![
            json!({}),
            json!({"name": null, "email": null, "age": null}),
            json!({"name": "", "email": "nope", "age": 12}),
            without("name"),
            without("email"),
            without("age"),
            with("extra", json!(1)),
        ];
        for name in [
            json!(""),
            json!("   "),
            json!("a".repeat(50)),
            json!("a".repeat(51)),
            json!("é".repeat(50)),
            json!("é".repeat(51)),
            json!(42),
            json!(true),
            json!(["Ada"]),
            json!({"first": "Ada"}),
            json!(null),
        ] {
            cases.push(with("name", name));
        }
        for email in [
            "nope",
            "a@b",
            "ada@example..com",
            "ada@@example.com",
            "ada@example.com.",
            "ada@-example.com",
            "ådå@exåmple.com",
            "\"a b\"@example.com",
            "ada@[127.0.0.1]",
            " ada@example.com",
            "",
        ] {
            cases.push(with("email", json!(email)));
        }
        cases.push(with("email", json!(7)));
        for age in [
            json!("36"),
            json!(" 36 "),
            json!("036"),
            json!(12),
            json!(18),
            json!(17.999),
            json!(18.5),
            json!(18.0),
            json!(-40),
            json!(u64::MAX),
            json!(1e300),
            json!(true),
            json!(false),
            json!(""),
            json!([]),
        ] {
            cases.push(with("age", age));
        }
        assert!(cases.iter().any(|c| outcome(c, &SIGNUP, true).0.is_err()));
        for data in &cases {
            same_with_and_without_shortcut(data, &SIGNUP);
        }
    }

    #[test]
    fn other_own_value_rules_answer_alike_with_the_shortcut() {
        let rules = [
            "nullable|integer|between:1,5",
            "sometimes|bail|string|min:3",
            "filled|numeric|size:3",
            "present|array|max:2",
            "nullable|list",
            "array:a,b",
            "string|in:a,b",
            "not_in:a,1",
            "email:filter",
            "required|email:rfc,strict",
            "digits:3",
            "digits_between:2,3|max_digits:3|min_digits:2",
            "boolean",
            "boolean:strict",
            "integer:strict",
            "numeric:strict",
            "decimal:0,2",
            "uuid",
            "ulid",
            "alpha|max:3",
            "alpha_dash:ascii",
            "alpha_num",
            "ascii|lowercase",
            "uppercase",
            "starts_with:a,b|ends_with:c",
            "doesnt_start_with:a|doesnt_end_with:c",
            "url:https",
            "ip",
            "ipv4",
            "ipv6",
            "hex_color",
            "regex:/^a+$/",
            "not_regex:/^a+$/",
        ];
        let values = [
            None,
            Some(json!(null)),
            Some(json!("")),
            Some(json!(" ")),
            Some(json!("abc")),
            Some(json!("ABC")),
            Some(json!("aaa")),
            Some(json!("a-b_c")),
            Some(json!("3")),
            Some(json!("123")),
            Some(json!("1.25")),
            Some(json!(3)),
            Some(json!(3.0)),
            Some(json!(0)),
            Some(json!(1)),
            Some(json!(true)),
            Some(json!(false)),
            Some(json!([])),
            Some(json!(["a", "b"])),
            Some(json!(["a", "b", "c"])),
            Some(json!({"a": 1})),
            Some(json!({"z": 1})),
            Some(json!("ada@example.com")),
            Some(json!("a@b")),
            Some(json!("https://example.com")),
            Some(json!("127.0.0.1")),
            Some(json!("::1")),
            Some(json!("#fff")),
            Some(json!("123e4567-e89b-12d3-a456-426614174000")),
            Some(json!("01ARZ3NDEKTSV4RRFFQ69G5FAV")),
            Some(json!("ßtraße")),
        ];
        for rule in rules {
            for value in &values {
                let data = match value {
                    Some(v) => json!({"f": v, "other": 1}),
                    None => json!({"other": 1}),
                };
                same_with_and_without_shortcut(&data, &[("f", rule)]);
                same_with_and_without_shortcut(&json!({"items": [data]}), &[("items.*.f", rule)]);
            }
        }
    }
}
