//! The `throttle` route middleware: `throttle:api` applies the named limiter `api`,
//! `throttle:60,1` allows 60 requests per minute per client IP, `throttle` alone means
//! `throttle:60,1`.
//!
//! Allowed responses carry `X-RateLimit-Limit` and `X-RateLimit-Remaining`. A limited request
//! gets a 429 rendered like every other error (JSON or HTML by the usual rules) with
//! `Retry-After`, `X-RateLimit-Reset` (Unix seconds) and `X-RateLimit-Remaining: 0`.

use std::convert::Infallible;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use foundry_core::{BoxFuture, Error};
use http::{HeaderName, HeaderValue};
use tower::{Layer, Service};

use crate::limiter::{Limit, RateLimiter, client_ip};

const LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// What a `throttle` middleware limits by.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ThrottleRule {
    /// A limiter registered with [`RateLimiter::define`].
    Named(String),
    /// A fixed limit per client IP.
    Inline(Limit),
}

impl ThrottleRule {
    /// Parse the parameters after `throttle:`: a limiter name, `max,minutes`, `max` (per
    /// minute), or nothing (60 per minute).
    ///
    /// ```
    /// use foundry_cache::throttle::ThrottleRule;
    /// use foundry_cache::limiter::Limit;
    /// assert_eq!(ThrottleRule::parse("api").unwrap(), ThrottleRule::Named("api".into()));
    /// assert_eq!(ThrottleRule::parse("10,5").unwrap(), ThrottleRule::Inline(Limit::per_minutes(5, 10)));
    /// assert!(ThrottleRule::parse("10,x").is_err());
    /// ```
    pub fn parse(params: &str) -> Result<Self, String> {
        let params = params.trim();
        if params.is_empty() {
            return Ok(Self::Inline(Limit::per_minute(60)));
        }
        let mut parts = params.split(',').map(str::trim);
        let first = parts.next().unwrap_or_default();
        let Ok(max) = first.parse::<u64>() else {
            if params.contains(',') {
                return Err(format!(
                    "`throttle:{params}`: expected `throttle:<max>,<minutes>` or `throttle:<limiter name>`"
                ));
            }
            return Ok(Self::Named(first.to_owned()));
        };
        let minutes = match parts.next() {
            None => 1,
            Some(minutes) => minutes.parse::<u64>().ok().filter(|m| *m > 0).ok_or_else(|| {
                format!("`throttle:{params}`: the decay `{minutes}` is not a whole number of minutes (e.g. `throttle:60,1`)")
            })?,
        };
        if parts.next().is_some() {
            return Err(format!(
                "`throttle:{params}`: expected at most two numbers, `<max>,<minutes>`"
            ));
        }
        Ok(Self::Inline(Limit::per_minutes(minutes, max)))
    }
}

/// The `throttle` layer.
#[derive(Debug, Clone)]
pub struct ThrottleLayer {
    limiter: RateLimiter,
    rule: ThrottleRule,
}

impl ThrottleLayer {
    /// Throttle with `rule`, counting in `limiter`.
    pub fn new(limiter: RateLimiter, rule: ThrottleRule) -> Self {
        Self { limiter, rule }
    }

    /// The layer for `throttle:<params>` (see [`ThrottleRule::parse`]).
    pub fn from_params(limiter: &RateLimiter, params: &str) -> Result<Self, String> {
        Ok(Self::new(limiter.clone(), ThrottleRule::parse(params)?))
    }
}

impl<S> Layer<S> for ThrottleLayer {
    type Service = Throttle<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Throttle {
            inner,
            limiter: self.limiter.clone(),
            rule: self.rule.clone(),
        }
    }
}

/// The `throttle` service.
#[derive(Debug, Clone)]
pub struct Throttle<S> {
    inner: S,
    limiter: RateLimiter,
    rule: ThrottleRule,
}

fn header(value: u64) -> HeaderValue {
    HeaderValue::from(value)
}

impl<S> Service<Request> for Throttle<S>
where
    S: Service<Request, Error = Infallible> + Clone + Send + 'static,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The clone that was polled ready serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let limiter = self.limiter.clone();
        let rule = self.rule.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let (key, limit) = match &rule {
                ThrottleRule::Named(name) => match limiter.named(name) {
                    Some(resolve) => (format!("throttle:{name}"), resolve(&parts)),
                    None => {
                        let known = limiter.names().join(", ");
                        return Ok(Error::internal(format!(
                            "`throttle:{name}` names no rate limiter; defined: [{known}] \
                             (define it with RateLimiter::define in a service provider)"
                        ))
                        .into_response());
                    }
                },
                ThrottleRule::Inline(limit) => (
                    format!("throttle:{},{}", limit.max, limit.period.as_secs() / 60),
                    limit.clone().by(client_ip(&parts)),
                ),
            };
            let request = Request::from_parts(parts, body);
            if limit.unlimited {
                return Ok(inner.call(request).await.into_response());
            }
            let decision = match limiter.acquire(&key, &limit).await {
                Ok(decision) => decision,
                Err(err) => return Ok(Error::from(err).into_response()),
            };
            if !decision.allowed {
                let retry = decision.retry_after_secs().max(1);
                let reset = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or(Duration::ZERO)
                    .as_secs()
                    + retry;
                return Ok(Error::too_many_requests(retry)
                    .with_header(LIMIT, header(decision.limit))
                    .with_header(REMAINING, header(0))
                    .with_header(RESET, header(reset))
                    .into_response());
            }
            let mut response = inner.call(request).await.into_response();
            let headers = response.headers_mut();
            headers.insert(LIMIT, header(decision.limit));
            headers.insert(REMAINING, header(decision.remaining));
            Ok(response)
        })
    }
}
