//! Custom rules: Laravel's `ValidationRule` (sync), an async variant, closures, implicit and
//! data-aware rules.

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

/// A boxed future, as returned by async rules and presence verifiers.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a custom rule sees besides its value: the attribute and all the data (Laravel's
/// `DataAwareRule`).
#[derive(Debug, Clone, Copy)]
pub struct RuleContext<'a> {
    pub(crate) attribute: &'a str,
    pub(crate) data: &'a Value,
}

impl<'a> RuleContext<'a> {
    /// A context for calling a rule directly (tests, composition).
    pub fn new(attribute: &'a str, data: &'a Value) -> Self {
        Self { attribute, data }
    }

    /// The expanded key being validated, e.g. `items.2.sku`.
    pub fn attribute(&self) -> &'a str {
        self.attribute
    }

    /// All the data under validation.
    pub fn data(&self) -> &'a Value {
        self.data
    }

    /// Another field's value by dotted key (`"password"`, `"author.name"`).
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        crate::path::get_str(self.data, key)
    }
}

/// A rule object (Laravel's `make:rule`). Return `Err(message)` to fail; the message may use
/// `:attribute` and `:input`.
///
/// ```
/// use foundry_validation::{Rule, RuleContext, ValidationRule, Validator};
/// use serde_json::{json, Value};
///
/// /// The field must differ from the user's name (a data-aware rule).
/// struct NotTheName;
///
/// impl ValidationRule for NotTheName {
///     fn validate(&self, value: &Value, ctx: &RuleContext<'_>) -> Result<(), String> {
///         if ctx.get("name") == Some(value) {
///             return Err("The :attribute must not be your name.".into());
///         }
///         Ok(())
///     }
/// }
///
/// let data = json!({"name": "ada", "password": "ada"});
/// let mut v = Validator::new(data, [("password", Rule::object(NotTheName))]).unwrap();
/// assert_eq!(v.errors().first("password"), Some("The password must not be your name."));
/// ```
pub trait ValidationRule: Send + Sync {
    /// Check the value.
    fn validate(&self, value: &Value, ctx: &RuleContext<'_>) -> Result<(), String>;

    /// Implicit rules also run when the value is absent or an empty string
    /// (Laravel's `make:rule --implicit`).
    fn implicit(&self) -> bool {
        false
    }

    /// The name used in rule listings and `errors` lookups.
    fn name(&self) -> &str {
        "custom"
    }
}

/// A rule that needs I/O (a database, an HTTP API). Run with
/// [`AsyncValidator`](crate::AsyncValidator).
///
/// ```
/// use foundry_validation::{AsyncValidationRule, AsyncValidator, BoxFuture, Rule, RuleContext};
/// use serde_json::{json, Value};
///
/// struct NotReserved;
///
/// impl AsyncValidationRule for NotReserved {
///     fn validate<'a>(&'a self, value: &'a Value, _ctx: RuleContext<'a>) -> BoxFuture<'a, Result<(), String>> {
///         Box::pin(async move {
///             // e.g. ask a service; here a fixed list
///             if value == "admin" { Err("The :attribute is reserved.".into()) } else { Ok(()) }
///         })
///     }
/// }
///
/// # tokio_test_block(async {
/// let v = AsyncValidator::new(json!({"user": "admin"}), [("user", Rule::async_object(NotReserved))]).unwrap();
/// let errors = v.validate().await.unwrap_err();
/// assert_eq!(errors.errors().unwrap().first("user"), Some("The user is reserved."));
/// # });
/// # fn tokio_test_block(f: impl std::future::Future<Output = ()>) {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
pub trait AsyncValidationRule: Send + Sync {
    /// Check the value.
    fn validate<'a>(
        &'a self,
        value: &'a Value,
        ctx: RuleContext<'a>,
    ) -> BoxFuture<'a, Result<(), String>>;

    /// See [`ValidationRule::implicit`].
    fn implicit(&self) -> bool {
        false
    }

    /// See [`ValidationRule::name`].
    fn name(&self) -> &str {
        "custom"
    }
}

pub(crate) struct FnRule<F> {
    pub(crate) f: F,
    pub(crate) implicit: bool,
}

impl<F> ValidationRule for FnRule<F>
where
    F: Fn(&Value, &RuleContext<'_>) -> Result<(), String> + Send + Sync,
{
    fn validate(&self, value: &Value, ctx: &RuleContext<'_>) -> Result<(), String> {
        (self.f)(value, ctx)
    }

    fn implicit(&self) -> bool {
        self.implicit
    }
}

/// An async closure rule: `Rule::custom_async(|value, data| async move { … })` receives owned
/// copies so the future can be `'static`.
pub(crate) struct AsyncFnRule<F> {
    pub(crate) f: F,
}

impl<F, Fut> AsyncValidationRule for AsyncFnRule<F>
where
    F: Fn(Value, Value) -> Fut + Send + Sync,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    fn validate<'a>(
        &'a self,
        value: &'a Value,
        ctx: RuleContext<'a>,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin((self.f)(value.clone(), ctx.data.clone()))
    }
}

impl crate::Rule {
    /// An async custom rule from a closure receiving the value and all the data (owned).
    ///
    /// ```
    /// use foundry_validation::{AsyncValidator, Rule};
    /// use serde_json::json;
    ///
    /// let rule = Rule::custom_async(|value, _data| async move {
    ///     if value == "taken" { Err("The :attribute is taken.".to_string()) } else { Ok(()) }
    /// });
    /// let v = AsyncValidator::new(json!({"slug": "free"}), [("slug", vec![rule])]).unwrap();
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// assert!(v.validate().await.is_ok());
    /// # });
    /// ```
    pub fn custom_async<F, Fut>(f: F) -> crate::Rule
    where
        F: Fn(Value, Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        crate::Rule::async_object(AsyncFnRule { f })
    }
}
