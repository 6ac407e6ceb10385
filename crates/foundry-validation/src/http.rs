//! HTTP: form requests and the [`Validated`] extractor (JSON bodies, forms, query strings,
//! multipart uploads with the `multipart` feature).

use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};

use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use foundry_core::body::{ReadBody, is_json, media_type};
use foundry_core::{AppContext, Error, ErrorKind};
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderMap, Method, Uri};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{RuleError, ValidationErrors};
use crate::file::UploadedFile;
use crate::messages::Translator;
use crate::presence::PresenceVerifier;
use crate::rule::{IntoRules, Rule};
use crate::validator::{
    AsyncValidationError, AsyncValidator, Coercions, Fields, ValidatedWithFiles, compile,
};

/// The rules of one field in a [`FormRequest`]: a rule string or a list of [`Rule`]s.
#[derive(Debug, Clone)]
pub enum RuleSpec {
    /// `"required|email|max:255"`
    Text(Cow<'static, str>),
    /// Typed rules, custom rules, database rules.
    Rules(Vec<Rule>),
}

impl From<&'static str> for RuleSpec {
    fn from(s: &'static str) -> Self {
        RuleSpec::Text(Cow::Borrowed(s))
    }
}

impl From<String> for RuleSpec {
    fn from(s: String) -> Self {
        RuleSpec::Text(Cow::Owned(s))
    }
}

impl From<Vec<Rule>> for RuleSpec {
    fn from(rules: Vec<Rule>) -> Self {
        RuleSpec::Rules(rules)
    }
}

impl From<Rule> for RuleSpec {
    fn from(rule: Rule) -> Self {
        RuleSpec::Rules(vec![rule])
    }
}

impl IntoRules for RuleSpec {
    fn into_rules(self) -> Result<Arc<[Rule]>, RuleError> {
        match self {
            RuleSpec::Text(t) => t.as_ref().into_rules(),
            RuleSpec::Rules(r) => Ok(r.into()),
        }
    }
}

/// The request as a form request sees it in [`FormRequest::authorize`].
#[derive(Debug, Clone, Copy)]
pub struct RequestContext<'a> {
    /// The method.
    pub method: &'a Method,
    /// The URI.
    pub uri: &'a Uri,
    /// The headers.
    pub headers: &'a HeaderMap,
    /// The extensions (the authenticated user, route data, …).
    pub extensions: &'a http::Extensions,
}

/// Laravel's form request: the rules, messages, attribute names and authorization of one
/// input type. `#[derive(Validate)]` implements it from `#[validate("…")]` field attributes.
///
/// ```
/// use foundry_validation::{FormRequest, RequestContext, RuleSpec};
/// use serde::Deserialize;
/// use serde_json::Value;
///
/// #[derive(Deserialize)]
/// struct StorePost {
///     title: String,
///     body: String,
/// }
///
/// impl FormRequest for StorePost {
///     fn rules() -> Vec<(String, RuleSpec)> {
///         vec![("title".into(), "required|string|max:255".into()), ("body".into(), "required".into())]
///     }
///     fn messages() -> Vec<(String, String)> {
///         vec![("title.required".into(), "A title is required".into())]
///     }
///     fn authorize(req: &RequestContext<'_>) -> bool {
///         req.headers.contains_key("x-user")
///     }
///     fn prepare_for_validation(data: &mut Value) {
///         if let Some(Value::String(t)) = data.get_mut("title") {
///             *t = t.trim().to_owned();
///         }
///     }
/// }
/// ```
pub trait FormRequest: DeserializeOwned + Send + 'static {
    /// `(field pattern, rules)` pairs.
    fn rules() -> Vec<(String, RuleSpec)>;

    /// Custom messages (`field.rule`, `rule` or `field` keys).
    fn messages() -> Vec<(String, String)> {
        Vec::new()
    }

    /// Custom attribute names.
    fn attributes() -> Vec<(String, String)> {
        Vec::new()
    }

    /// Whether the request may go on; `false` answers 403 "This action is unauthorized.".
    fn authorize(_request: &RequestContext<'_>) -> bool {
        true
    }

    /// Change the input before validation (trim, normalise, merge defaults).
    fn prepare_for_validation(_data: &mut Value) {}

    /// More checks once the rules have run (Laravel's `after`); add errors to fail.
    fn after(_data: &Value, _errors: &mut ValidationErrors) {}

    /// Change the validated data before it is deserialized (Laravel's `passedValidation`).
    fn passed_validation(_validated: &mut Value) {}

    /// Stop at the first failing field (Laravel's `$stopOnFirstFailure`).
    const STOP_ON_FIRST_FAILURE: bool = false;

    /// [`Self::rules`], [`Self::messages`] and [`Self::attributes`] give the same answer on
    /// every call, so [`Validated`] compiles them once per type and reuses them for every
    /// request (the input, locale and translator still come from each request). Leave it
    /// `false` when the rules are computed from something that changes. `#[derive(Validate)]`
    /// sets it: its rules are string literals.
    const CACHE_RULES: bool = false;
}

/// What a non-JSON client gets when validation fails: the hook for Laravel's "redirect back
/// with errors and old input". Sessions (to flash the errors and the input) come with the auth
/// component; until then an app can answer with its own page. Register it in
/// [`ValidationSettings::responder`].
pub trait ValidationResponder: Send + Sync {
    /// Build the response. `old_input` is the submitted input without password fields
    /// (Laravel's `dontFlash`).
    fn respond(
        &self,
        headers: &HeaderMap,
        errors: &ValidationErrors,
        old_input: &Value,
    ) -> Response;
}

/// Services for the [`Validated`] extractor: a RustForge app binds them as a service at boot
/// (with its database as the presence verifier), and a request carrying its own as an axum
/// `Extension` (`router.layer(Extension(settings))`) uses those instead.
///
/// ```
/// use axum::{Extension, Router, routing::post};
/// use foundry_validation::{InMemoryPresenceVerifier, ValidationSettings};
/// use std::sync::Arc;
///
/// let settings = ValidationSettings {
///     presence_verifier: Some(Arc::new(InMemoryPresenceVerifier::new())),
///     locale: Some("de".into()),
///     ..ValidationSettings::default()
/// };
/// let app: Router = Router::new().route("/", post(|| async { "ok" })).layer(Extension(settings));
/// ```
#[derive(Clone, Default)]
pub struct ValidationSettings {
    /// The verifier of `unique` and `exists`.
    pub presence_verifier: Option<Arc<dyn PresenceVerifier>>,
    /// Language lines (default: the shipped `en` and `de`).
    pub translator: Option<Arc<Translator>>,
    /// The message locale (default `en`).
    pub locale: Option<String>,
    /// The failure response for HTML form posts (default: the 422 JSON body).
    pub responder: Option<Arc<dyn ValidationResponder>>,
}

impl std::fmt::Debug for ValidationSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidationSettings")
            .field("presence_verifier", &self.presence_verifier.is_some())
            .field("translator", &self.translator.is_some())
            .field("locale", &self.locale)
            .field("responder", &self.responder.is_some())
            .finish()
    }
}

/// Why [`Validated`] refused a request: an error response (400, 403, 413, 415, 422, 500) or
/// the app's own failure response from its [`ValidationResponder`].
#[derive(Debug)]
pub enum ValidationRejection {
    /// An error rendered by `foundry_core::Error` (`{"message", "errors"}` JSON).
    Error(Error),
    /// A response built by the app's [`ValidationResponder`].
    Response(Box<Response>),
}

impl IntoResponse for ValidationRejection {
    fn into_response(self) -> Response {
        match self {
            ValidationRejection::Error(e) => e.into_response(),
            ValidationRejection::Response(r) => *r,
        }
    }
}

impl From<Error> for ValidationRejection {
    fn from(e: Error) -> Self {
        ValidationRejection::Error(e)
    }
}

/// An extractor that reads the input (JSON body, form body, query string, or multipart with
/// the `multipart` feature), validates it with `T`'s [`FormRequest`] rules and deserializes the
/// validated data into `T`.
///
/// - invalid input: 422 `{"message": "<first> (and N more errors)", "errors": {…}}`;
/// - `authorize` false: 403; malformed JSON: 400; unsupported content type: 415;
/// - validated data that does not deserialize into `T`: 422 naming the field;
/// - a broken rule or presence verifier: 500 (a developer or infrastructure error).
///
/// Form and query values arrive as strings: empty strings become `null` (Laravel's
/// `ConvertEmptyStringsToNull`), and after validation fields with `integer`, `numeric`,
/// `decimal`, `boolean`, `accepted` or `declined` rules become numbers and booleans so `T` can
/// use typed fields.
///
/// ```
/// use axum::{Json, Router, routing::post};
/// use foundry_validation::{FormRequest, RuleSpec, Validated};
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct Signup { email: String, age: u32 }
///
/// impl FormRequest for Signup {
///     fn rules() -> Vec<(String, RuleSpec)> {
///         vec![("email".into(), "required|email".into()), ("age".into(), "required|integer|min:18".into())]
///     }
/// }
///
/// async fn signup(Validated(input): Validated<Signup>) -> String {
///     format!("welcome {} ({})", input.email, input.age)
/// }
///
/// let app: Router = Router::new().route("/signup", post(signup));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Validated<T>(pub T);

impl<T> std::ops::Deref for Validated<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> Validated<T> {
    /// The validated value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// Where a request's input comes from.
#[derive(Clone, Copy, Default)]
enum Source {
    Json,
    Form,
    #[default]
    Query,
    #[cfg(feature = "multipart")]
    Multipart,
}

/// Like [`Validated`], for forms with file uploads: the validated data and the uploaded files
/// (keyed by dotted name: `avatar`, `photos.0`), which are not part of the JSON data.
///
/// ```
/// use axum::{Router, routing::post};
/// use foundry_validation::{Validate, ValidatedForm};
/// use serde::Deserialize;
///
/// #[derive(Deserialize, Validate)]
/// struct Avatar {
///     #[validate("required|image|max:2048")]
///     #[serde(skip)]
///     avatar: (),
/// }
///
/// async fn upload(form: ValidatedForm<Avatar>) -> String {
///     let file = &form.files["avatar"];
///     format!("{} bytes", file.size())
/// }
///
/// let app: Router = Router::new().route("/avatar", post(upload));
/// ```
#[derive(Debug)]
pub struct ValidatedForm<T> {
    /// The validated data.
    pub data: T,
    /// The uploaded files that passed validation.
    pub files: HashMap<String, UploadedFile>,
}

impl<S, T> FromRequest<S> for Validated<T>
where
    S: Send + Sync + 'static,
    T: FormRequest,
{
    type Rejection = ValidationRejection;

    fn from_request(
        req: Request,
        state: &S,
    ) -> impl Future<Output = Result<Self, Self::Rejection>> + Send {
        extract::<S, T, Self>(req, state, |data, _| Validated(data))
    }
}

impl<S, T> FromRequest<S> for ValidatedForm<T>
where
    S: Send + Sync + 'static,
    T: FormRequest,
{
    type Rejection = ValidationRejection;

    fn from_request(
        req: Request,
        state: &S,
    ) -> impl Future<Output = Result<Self, Self::Rejection>> + Send {
        extract::<S, T, Self>(req, state, |data, files| ValidatedForm { data, files })
    }
}

/// The uploaded files that passed validation, by dotted name.
type Files = HashMap<String, UploadedFile>;

/// The extraction of `T` from `req`, handed to `finish`.
fn extract<'a, S, T, O: 'a>(
    req: Request,
    state: &'a S,
    finish: fn(T, Files) -> O,
) -> impl Future<Output = Result<O, ValidationRejection>> + Send + 'a
where
    S: Send + Sync + 'static,
    T: FormRequest,
{
    let (stage, prepared) = match prepare::<S, T>(req, state) {
        Ok((prepared, req)) => {
            let stage = match prepared.source {
                Source::Query => Stage::Query,
                Source::Json | Source::Form => Stage::Body {
                    read: ReadBody::new(req),
                },
                #[cfg(feature = "multipart")]
                Source::Multipart => Stage::Boxed {
                    read: Box::pin(multipart::read(req)),
                },
            };
            (stage, prepared)
        }
        Err(rejection) => (
            Stage::Rejected {
                rejection: Some(rejection),
            },
            Prepared::default(),
        ),
    };
    Extract {
        stage,
        prepared,
        finish,
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Validated`] and [`ValidatedForm`].
    ///
    /// Written out rather than `async`: every request's handler future holds it, and an
    /// `async` block keeps the request, the body read and the validation's future side by
    /// side (3.6 KB); this keeps one stage at a time, and runs a validation without async
    /// rules in place.
    struct Extract<T, O> {
        #[pin]
        stage: Stage,
        prepared: Prepared,
        finish: fn(T, Files) -> O,
    }
}

pin_project_lite::pin_project! {
    /// Where an [`Extract`] is.
    #[project = StageProj]
    enum Stage {
        /// Refused before the body was read; the rejection is taken when polled.
        Rejected { rejection: Option<ValidationRejection> },
        /// The query string is the whole input.
        Query,
        /// Reading a JSON or form body.
        Body { #[pin] read: ReadBody },
        /// Reading a body behind a box (multipart: the fields as data, and the files).
        Boxed { read: BoxedRead },
        /// Waiting on async rules (`unique`, `exists`, async custom rules).
        Validating { run: BoxedRun, conclusion: Option<Conclusion> },
        /// Finished.
        Done,
    }
}

/// A boxed body read: the data and the uploaded files.
type BoxedRead =
    Pin<Box<dyn Future<Output = Result<(Value, Vec<(String, UploadedFile)>), Error>> + Send>>;

/// A validation waiting on async rules.
type BoxedRun = Pin<Box<dyn Future<Output = ValidatedWithFiles> + Send>>;

/// What turns a validation's outcome into the extractor's, besides the settings.
struct Conclusion {
    /// The input, for an app's failure responder (`Null` without one).
    old_input: Value,
    /// The string inputs' conversions (forms and query strings are all strings).
    coerce: Option<Coercions>,
}

impl<T, O> Future for Extract<T, O>
where
    T: FormRequest,
{
    type Output = Result<O, ValidationRejection>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.as_mut().project();
        let prepared = this.prepared;
        let input = match this.stage.as_mut().project() {
            StageProj::Rejected { rejection } => {
                let rejection = rejection.take().unwrap_or_else(polled_after_completion);
                this.stage.set(Stage::Done);
                return Poll::Ready(Err(rejection));
            }
            StageProj::Query => Ok((
                prepared
                    .query
                    .take()
                    .unwrap_or_else(|| Value::Object(Map::new())),
                Vec::new(),
            )),
            StageProj::Body { read } => ready!(read.poll(cx))
                .and_then(|bytes| match prepared.source {
                    Source::Form => parse_form(&bytes),
                    _ => parse_json(&bytes),
                })
                .map(|body| (merge(prepared.query.take(), body), Vec::new())),
            StageProj::Boxed { read } => ready!(read.as_mut().poll(cx))
                .map(|(form, files)| (merge(prepared.query.take(), form), files)),
            StageProj::Validating { run, conclusion } => {
                let outcome = ready!(run.as_mut().poll(cx));
                let conclusion = conclusion.take();
                this.stage.set(Stage::Done);
                let conclusion = conclusion.unwrap_or_else(polled_after_completion);
                return Poll::Ready(
                    conclude::<T>(outcome, conclusion, prepared).map(|(t, f)| (this.finish)(t, f)),
                );
            }
            StageProj::Done => polled_after_completion(),
        };
        let started = input
            .map_err(ValidationRejection::from)
            .and_then(|(data, files)| begin::<T>(data, files, prepared));
        match started {
            Ok((Run::Waiting(run), conclusion)) => {
                this.stage.set(Stage::Validating {
                    run,
                    conclusion: Some(conclusion),
                });
                // Polled once now, so the runtime has the rules' waker.
                self.poll(cx)
            }
            Ok((Run::Finished(outcome), conclusion)) => {
                this.stage.set(Stage::Done);
                Poll::Ready(
                    conclude::<T>(outcome, conclusion, prepared).map(|(t, f)| (this.finish)(t, f)),
                )
            }
            Err(rejection) => {
                this.stage.set(Stage::Done);
                Poll::Ready(Err(rejection))
            }
        }
    }
}

fn polled_after_completion<R>() -> R {
    panic!("the `Validated` extractor's future was polled after it completed")
}

/// A validation run in place, or waiting on async rules.
enum Run {
    Finished(ValidatedWithFiles),
    Waiting(BoxedRun),
}

/// Prepares the input and runs the rules, in place unless one of them waits.
fn begin<T: FormRequest>(
    mut data: Value,
    files: Vec<(String, UploadedFile)>,
    prepared: &Prepared,
) -> Result<(Run, Conclusion), ValidationRejection> {
    let stringly = !matches!(prepared.source, Source::Json);
    if stringly {
        empty_strings_to_null(&mut data);
    }
    T::prepare_for_validation(&mut data);
    // The input is handed back only to an app's failure responder.
    let old_input = match prepared.settings.responder {
        Some(_) => data.clone(),
        None => Value::Null,
    };
    let (mut validator, waits) =
        build_validator::<T>(data, files, &prepared.settings).map_err(Error::internal)?;
    let coerce = stringly.then(|| validator.coercions());
    let run = if waits {
        Run::Waiting(Box::pin(validator.validate_with_files()))
    } else {
        Run::Finished(validator.validate_with_files_in_place())
    };
    Ok((run, Conclusion { old_input, coerce }))
}

/// The validated `T`, or the failure response.
fn conclude<T: FormRequest>(
    (result, files): ValidatedWithFiles,
    conclusion: Conclusion,
    prepared: &Prepared,
) -> Result<(T, Files), ValidationRejection> {
    let validated = match result {
        Ok(v) => v,
        Err(AsyncValidationError::Invalid(errors)) => {
            return Err(failure(
                prepared.headers.as_ref(),
                &prepared.settings,
                errors,
                &conclusion.old_input,
            ));
        }
        Err(other) => return Err(Error::from(other).into()),
    };
    let mut validated = match conclusion.coerce {
        Some(c) => c.apply(validated),
        None => validated,
    };
    T::passed_validation(&mut validated);
    Ok((deserialize::<T>(validated)?, files))
}

/// What [`extract`] learns from the request before its body is read.
#[derive(Default)]
struct Prepared {
    settings: Settings,
    /// The request's headers, kept only for an app's failure responder.
    headers: Option<HeaderMap>,
    source: Source,
    /// The query string's values (`None` without a query string).
    query: Option<Value>,
}

/// The settings a validation runs with: the request's own, or the app's.
enum Settings {
    /// Set on the request (`Extension(ValidationSettings { .. })`).
    Own(ValidationSettings),
    /// The app's, bound as a service: shared, not copied per request.
    App(Arc<ValidationSettings>),
}

impl Default for Settings {
    fn default() -> Self {
        Settings::Own(ValidationSettings::default())
    }
}

impl std::ops::Deref for Settings {
    type Target = ValidationSettings;

    fn deref(&self) -> &ValidationSettings {
        match self {
            Settings::Own(settings) => settings,
            Settings::App(settings) => settings,
        }
    }
}

/// The app's settings when `state` is a RustForge app's context, which binds them as a
/// service at boot: looked up, where an extension would be inserted into every request.
fn app_settings<S: 'static>(state: &S) -> Option<Arc<ValidationSettings>> {
    let ctx = (state as &dyn Any).downcast_ref::<AppContext>()?;
    ctx.services().lifetime_of::<ValidationSettings>()?;
    ctx.services().get::<ValidationSettings>().ok()
}

/// Authorization, the validation settings, where the input comes from and the query string.
fn prepare<S: 'static, T: FormRequest>(
    mut req: Request,
    state: &S,
) -> Result<(Prepared, Request), ValidationRejection> {
    let ctx = RequestContext {
        method: req.method(),
        uri: req.uri(),
        headers: req.headers(),
        extensions: req.extensions(),
    };
    if !T::authorize(&ctx) {
        return Err(Error::from_kind(ErrorKind::Forbidden).into());
    }
    // Nothing after this extractor sees the request, so its settings are taken, not copied.
    let settings = match req.extensions_mut().remove::<ValidationSettings>() {
        Some(own) => Settings::Own(own),
        None => app_settings(state).map_or_else(Settings::default, Settings::App),
    };
    // Only an app's failure responder looks at the headers once the body is read.
    let headers = settings.responder.as_ref().map(|_| req.headers().clone());
    let source = source_of(req.method(), req.headers())?;
    let query = req.uri().query().map(parse_query);
    let prepared = Prepared {
        settings,
        headers,
        source,
        query,
    };
    Ok((prepared, req))
}

fn build_validator<T: FormRequest>(
    data: Value,
    files: Vec<(String, UploadedFile)>,
    settings: &ValidationSettings,
) -> Result<(AsyncValidator, bool), RuleError> {
    let mut v = if T::CACHE_RULES {
        let form = compiled::<T>()?;
        AsyncValidator::for_form(
            data,
            form.fields.clone(),
            form.messages.clone(),
            form.attributes.clone(),
            T::after,
        )
    } else {
        AsyncValidator::for_form(
            data,
            compile(T::rules())?,
            T::messages(),
            T::attributes().into_iter().collect(),
            T::after,
        )
    };
    // Set in place: the builder methods would move the validator on every call.
    let waits = v.configure(settings, T::STOP_ON_FIRST_FAILURE);
    for (key, file) in files {
        v.add_file(&key, file);
    }
    Ok((v, waits))
}

/// A form request's rules, messages and attribute names, compiled once.
struct CompiledForm {
    fields: Fields,
    messages: Vec<(String, String)>,
    attributes: HashMap<String, String>,
}

/// `T`'s compiled form, made on first use and kept for the life of the process (once per
/// form type). A rule error is not kept: it is reported again on every request, as when the
/// rules are built per request.
///
/// Each thread keeps its own index of the forms it has used, so a request finds its form
/// without a lock or a reference count; the process-wide index, under a lock, is consulted
/// once per form and thread.
fn compiled<T: FormRequest>() -> Result<&'static CompiledForm, RuleError> {
    type Forms = HashMap<TypeId, &'static CompiledForm, BuildHasherDefault<TypeIdHasher>>;
    static SHARED: Mutex<Option<Forms>> = Mutex::new(None);
    thread_local! {
        static LOCAL: RefCell<Forms> = RefCell::default();
    }
    let id = TypeId::of::<T>();
    if let Some(form) = LOCAL.with_borrow(|forms| forms.get(&id).copied()) {
        return Ok(form);
    }
    let form = {
        let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
        let shared = shared.get_or_insert_with(Forms::default);
        match shared.get(&id) {
            Some(form) => *form,
            None => {
                let form: &'static CompiledForm = Box::leak(Box::new(CompiledForm {
                    fields: compile(T::rules())?,
                    messages: T::messages(),
                    attributes: T::attributes().into_iter().collect(),
                }));
                shared.insert(id, form);
                form
            }
        }
    };
    LOCAL.with_borrow_mut(|forms| forms.insert(id, form));
    Ok(form)
}

/// A hasher for [`TypeId`] keys: a type id is a hash already, so it is taken as it is rather
/// than hashed again with SipHash on every request.
#[derive(Default)]
struct TypeIdHasher(u64);

impl Hasher for TypeIdHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only reached if `TypeId` hashes itself as bytes: mix them in (FNV-1a).
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

fn source_of(method: &Method, headers: &HeaderMap) -> Result<Source, Error> {
    let Some(mime) = media_type(headers) else {
        return Ok(
            if matches!(
                *method,
                Method::GET | Method::HEAD | Method::DELETE | Method::OPTIONS
            ) {
                Source::Query
            } else {
                Source::Json
            },
        );
    };
    let is = |expected: &str| mime.eq_ignore_ascii_case(expected);
    if is_json(mime) {
        return Ok(Source::Json);
    }
    if is("application/x-www-form-urlencoded") {
        return Ok(Source::Form);
    }
    if is("multipart/form-data") {
        #[cfg(feature = "multipart")]
        return Ok(Source::Multipart);
        #[cfg(not(feature = "multipart"))]
        return Err(Error::new(
            ErrorKind::UnsupportedMediaType,
            "multipart/form-data bodies need the `multipart` feature of foundry-validation",
        ));
    }
    if matches!(
        *method,
        Method::GET | Method::HEAD | Method::DELETE | Method::OPTIONS
    ) {
        return Ok(Source::Query);
    }
    Err(Error::new(
        ErrorKind::UnsupportedMediaType,
        format!(
            "Unsupported content type `{}`: send application/json, application/x-www-form-urlencoded or multipart/form-data.",
            mime.to_ascii_lowercase()
        ),
    ))
}

fn parse_json(bytes: &[u8]) -> Result<Value, Error> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(Error::bad_request("The JSON body must be an object.")),
        Err(e) => Err(Error::bad_request(format!(
            "The request body is not valid JSON: {e}."
        ))),
    }
}

fn parse_query(query: &str) -> Value {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    nest(pairs)
}

fn parse_form(bytes: &[u8]) -> Result<Value, Error> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes)
        .map_err(|e| Error::bad_request(format!("The form body could not be read: {e}.")))?;
    Ok(nest(pairs))
}

/// PHP-style nested keys: `a[b]=1`, `items[0][sku]=x`, `tags[]=a`. Objects whose keys are
/// exactly 0..n become arrays.
pub(crate) fn nest(pairs: Vec<(String, String)>) -> Value {
    nest_values(pairs.into_iter().map(|(k, v)| (k, Value::String(v))))
}

fn nest_values(pairs: impl Iterator<Item = (String, Value)>) -> Value {
    let mut root = Value::Object(Map::new());
    for (key, value) in pairs {
        let segments = key_segments(&key);
        insert(&mut root, &segments, value);
    }
    listify(&mut root);
    root
}

pub(crate) fn key_segments(key: &str) -> Vec<String> {
    let Some(open) = key.find('[') else {
        return vec![key.to_owned()];
    };
    let mut segments = vec![key[..open].to_owned()];
    let mut rest = &key[open..];
    while let Some(stripped) = rest.strip_prefix('[') {
        let Some(close) = stripped.find(']') else {
            break;
        };
        segments.push(stripped[..close].to_owned());
        rest = &stripped[close + 1..];
    }
    segments
}

fn insert(target: &mut Value, segments: &[String], value: Value) {
    let Some((head, tail)) = segments.split_first() else {
        *target = value;
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(map) = target else { return };
    let key = if head.is_empty() {
        map.len().to_string()
    } else {
        head.clone()
    };
    if tail.is_empty() {
        map.insert(key, value);
    } else {
        insert(map.entry(key).or_insert(Value::Null), tail, value);
    }
}

fn listify(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for child in map.values_mut() {
                listify(child);
            }
            let is_list =
                !map.is_empty() && (0..map.len()).all(|i| map.contains_key(&i.to_string()));
            if is_list {
                let mut map = std::mem::take(map);
                let list = (0..map.len())
                    .filter_map(|i| map.remove(&i.to_string()))
                    .collect();
                *v = Value::Array(list);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(listify),
        _ => {}
    }
}

/// The body over the query string's values (`None` when the URL has no query string).
fn merge(base: Option<Value>, over: Value) -> Value {
    let Some(base) = base else { return over };
    match (base, over) {
        (Value::Object(a), over @ Value::Object(_)) if a.is_empty() => over,
        (Value::Object(mut a), Value::Object(b)) => {
            for (k, v) in b {
                a.insert(k, v);
            }
            Value::Object(a)
        }
        (_, over) => over,
    }
}

fn empty_strings_to_null(v: &mut Value) {
    match v {
        Value::String(s) if s.trim().is_empty() => *v = Value::Null,
        Value::Array(items) => items.iter_mut().for_each(empty_strings_to_null),
        Value::Object(map) => map.values_mut().for_each(empty_strings_to_null),
        _ => {}
    }
}

fn wants_json(headers: &HeaderMap) -> bool {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    header(ACCEPT.as_str()).contains("json")
        || header("x-requested-with").eq_ignore_ascii_case("XMLHttpRequest")
        || header(CONTENT_TYPE.as_str()).contains("json")
}

/// `headers` are the request's when the app has a failure responder (`None` otherwise).
fn failure(
    headers: Option<&HeaderMap>,
    settings: &ValidationSettings,
    errors: ValidationErrors,
    old_input: &Value,
) -> ValidationRejection {
    if let (Some(responder), Some(headers)) = (settings.responder.as_ref(), headers)
        && !wants_json(headers)
    {
        let mut old = old_input.clone();
        if let Value::Object(map) = &mut old {
            for secret in ["password", "password_confirmation", "current_password"] {
                map.remove(secret);
            }
        }
        return ValidationRejection::Response(Box::new(responder.respond(headers, &errors, &old)));
    }
    Error::from(errors).into()
}

fn deserialize<T: DeserializeOwned>(value: Value) -> Result<T, ValidationRejection> {
    // Validated input nearly always fits `T`: read it without tracking the path (which costs
    // more than the read), and track it only to name the field when it does not fit. (Taking
    // the value apart, path tracked, measured no cheaper than copying the strings: the
    // tracker copies every key.)
    if let Ok(typed) = T::deserialize(&value) {
        return Ok(typed);
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let field = if path == "." { String::new() } else { path };
        let message = if field.is_empty() {
            format!("The input could not be read: {inner}.")
        } else {
            format!("The {field} field could not be read: {inner}.")
        };
        let mut errors = ValidationErrors::new();
        errors.add(field, message);
        Error::from(errors).into()
    })
}

#[cfg(feature = "multipart")]
mod multipart {
    use super::*;
    use axum::extract::Multipart;

    pub(super) async fn read(req: Request) -> Result<(Value, Vec<(String, UploadedFile)>), Error> {
        // The multipart extractor reads no state.
        let mut mp = Multipart::from_request(req, &())
            .await
            .map_err(|e| Error::bad_request(e.body_text()))?;
        let mut fields = Vec::new();
        let mut files = Vec::new();
        let mut counters: std::collections::HashMap<String, usize> =
            std::collections::HashMap::new();
        while let Some(field) = mp.next_field().await.map_err(|e| {
            Error::new(
                ErrorKind::from_status(e.status()).unwrap_or(ErrorKind::BadRequest),
                e.body_text(),
            )
        })? {
            let name = field.name().unwrap_or("").to_owned();
            let mut segments = key_segments(&name);
            if segments.last().is_some_and(String::is_empty) {
                let base = segments[..segments.len() - 1].join(".");
                let n = counters.entry(base).or_insert(0);
                if let Some(last) = segments.last_mut() {
                    *last = n.to_string();
                }
                *n += 1;
            }
            let key = segments.join(".");
            match field.file_name().map(str::to_owned) {
                Some(file_name) => {
                    let mime = field.content_type().map(str::to_owned);
                    let bytes = field.bytes().await.map_err(|e| {
                        Error::new(
                            ErrorKind::from_status(e.status()).unwrap_or(ErrorKind::BadRequest),
                            e.body_text(),
                        )
                    })?;
                    files.push((
                        key,
                        UploadedFile::new(file_name, mime.as_deref(), bytes.to_vec()),
                    ));
                }
                None => {
                    let text = field.text().await.map_err(|e| {
                        Error::new(
                            ErrorKind::from_status(e.status()).unwrap_or(ErrorKind::BadRequest),
                            e.body_text(),
                        )
                    })?;
                    fields.push((name_with_index(&segments), Value::String(text)));
                }
            }
        }
        Ok((nest_values(fields.into_iter()), files))
    }

    fn name_with_index(segments: &[String]) -> String {
        let mut out = segments.first().cloned().unwrap_or_default();
        for s in segments.iter().skip(1) {
            out.push('[');
            out.push_str(s);
            out.push(']');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nests_php_style_keys() {
        let pairs = |p: &[(&str, &str)]| {
            nest(
                p.iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            )
        };
        assert_eq!(
            pairs(&[("a", "1"), ("b[c]", "2")]),
            json!({"a": "1", "b": {"c": "2"}})
        );
        assert_eq!(
            pairs(&[("tags[]", "x"), ("tags[]", "y")]),
            json!({"tags": ["x", "y"]})
        );
        assert_eq!(
            pairs(&[("items[0][sku]", "a"), ("items[1][sku]", "b")]),
            json!({"items": [{"sku": "a"}, {"sku": "b"}]})
        );
        assert_eq!(pairs(&[("m[5]", "x")]), json!({"m": {"5": "x"}}));
        assert_eq!(pairs(&[("broken[", "x")]), json!({"broken": "x"}));
    }
}
