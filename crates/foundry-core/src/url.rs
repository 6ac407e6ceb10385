//! URLs: named routes to paths, absolute URLs, and signed URLs.
//!
//! ```
//! use foundry_core::url::UrlGenerator;
//!
//! let urls = UrlGenerator::new("https://blog.test", None)
//!     .with_routes([("posts.show", "/posts/{post}"), ("files", "/files/{*path}")]);
//! assert_eq!(urls.route("posts.show", [("post", "5")]).unwrap(), "/posts/5");
//! // Parameters the path does not use become the query string, in the order given.
//! assert_eq!(urls.route("posts.show", [("post", "5"), ("page", "2")]).unwrap(), "/posts/5?page=2");
//! assert_eq!(urls.route("files", [("path", "a b/c.txt")]).unwrap(), "/files/a%20b/c.txt");
//! assert_eq!(urls.to("/about"), "https://blog.test/about");
//! assert!(urls.route("posts.shwo", [("post", "5")]).is_err());
//! ```
//!
//! Signed URLs carry an HMAC-SHA256 of their path and query made with the app key, plus an
//! expiry time for temporary ones. The signature covers the path and query only (not the
//! scheme and host), so a URL stays valid behind proxies that rewrite the host.

use std::collections::HashMap;
use std::fmt::Display;
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use sha2::Sha256;

use crate::key::AppKey;

/// Characters escaped inside one path segment (RFC 3986 `pchar` keeps the rest).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'\\')
    .add(b'^')
    .add(b'[')
    .add(b']');

/// Why a URL could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// No route has this name.
    #[error("route [{name}] not defined{suggestion}")]
    UnknownRoute {
        /// The name asked for.
        name: String,
        /// `; did you mean [x]?` when a close name exists.
        suggestion: String,
    },
    /// A path parameter was not given.
    #[error("missing required parameter `{parameter}` for route [{route}] (path {path})")]
    MissingParameter {
        /// The route's name.
        route: String,
        /// Its path template.
        path: String,
        /// The parameter missing.
        parameter: String,
    },
    /// Signing needs the app key.
    #[error("cannot sign a URL: no application key is set (run `key:generate`)")]
    MissingKey,
}

/// Why a signed URL was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// No `signature` parameter, or it does not match.
    #[error("invalid signature")]
    Invalid,
    /// The signature matches but `expires` is in the past.
    #[error("the signed URL has expired")]
    Expired,
    /// There is no app key to check against.
    #[error("no application key is set")]
    MissingKey,
}

/// Parameters for [`UrlGenerator::route`]: pairs of name and value.
pub trait RouteParams {
    /// The pairs, in order.
    fn into_pairs(self) -> Vec<(String, String)>;
}

impl RouteParams for () {
    fn into_pairs(self) -> Vec<(String, String)> {
        Vec::new()
    }
}

impl<K: AsRef<str>, V: Display, const N: usize> RouteParams for [(K, V); N] {
    fn into_pairs(self) -> Vec<(String, String)> {
        self.into_iter()
            .map(|(k, v)| (k.as_ref().to_owned(), v.to_string()))
            .collect()
    }
}

impl<K: AsRef<str>, V: Display> RouteParams for Vec<(K, V)> {
    fn into_pairs(self) -> Vec<(String, String)> {
        self.into_iter()
            .map(|(k, v)| (k.as_ref().to_owned(), v.to_string()))
            .collect()
    }
}

impl<K: AsRef<str>, V: Display> RouteParams for &[(K, V)] {
    fn into_pairs(self) -> Vec<(String, String)> {
        self.iter()
            .map(|(k, v)| (k.as_ref().to_owned(), v.to_string()))
            .collect()
    }
}

/// Signs and verifies URLs with the app key.
#[derive(Debug, Clone)]
pub struct UrlSigner {
    key: Option<AppKey>,
}

impl UrlSigner {
    /// A signer with the app key (`None`: signing fails, verification rejects everything).
    pub fn new(key: Option<AppKey>) -> Self {
        Self { key }
    }

    fn mac(&self, path_and_query: &str) -> Option<Hmac<Sha256>> {
        let key = self.key.as_ref()?;
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_bytes()).ok()?;
        mac.update(path_and_query.as_bytes());
        Some(mac)
    }

    /// Append `expires` (when given) and `signature` to `path_and_query`.
    pub fn sign(
        &self,
        path_and_query: &str,
        expires_at: Option<SystemTime>,
    ) -> Result<String, UrlError> {
        let mut url = path_and_query.to_owned();
        if let Some(at) = expires_at {
            let secs = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(&format!("expires={secs}"));
        }
        let mac = self.mac(&url).ok_or(UrlError::MissingKey)?;
        let signature = hex(&mac.finalize().into_bytes());
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str("signature=");
        url.push_str(&signature);
        Ok(url)
    }

    /// Check a request's path and query (as sent: percent-encoded) at time `now`.
    pub fn verify(&self, path_and_query: &str, now: SystemTime) -> Result<(), SignatureError> {
        if self.key.is_none() {
            return Err(SignatureError::MissingKey);
        }
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let mut signature = None;
        let mut expires = None;
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("signature", value)) => signature = Some(value),
                Some(("expires", value)) => {
                    expires = Some(value);
                    kept.push(pair);
                }
                _ => kept.push(pair),
            }
        }
        let signature = signature.and_then(unhex).ok_or(SignatureError::Invalid)?;
        let unsigned = if kept.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{}", kept.join("&"))
        };
        let mac = self.mac(&unsigned).ok_or(SignatureError::MissingKey)?;
        mac.verify_slice(&signature)
            .map_err(|_| SignatureError::Invalid)?;
        if let Some(expires) = expires {
            let expires: u64 = expires.parse().map_err(|_| SignatureError::Invalid)?;
            let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            if now > expires {
                return Err(SignatureError::Expired);
            }
        }
        Ok(())
    }
}

/// Builds URLs for the app's named routes.
#[derive(Debug, Clone)]
pub struct UrlGenerator {
    base: String,
    routes: HashMap<String, String>,
    signer: UrlSigner,
}

impl Default for UrlGenerator {
    fn default() -> Self {
        Self::new("http://127.0.0.1:8000", None)
    }
}

impl UrlGenerator {
    /// A generator for an app served at `base_url`, signing with `key`.
    pub fn new(base_url: &str, key: Option<AppKey>) -> Self {
        Self {
            base: base_url.trim_end_matches('/').to_owned(),
            routes: HashMap::new(),
            signer: UrlSigner::new(key),
        }
    }

    /// Add named routes: `(name, path template)`.
    pub fn with_routes<N, P>(mut self, routes: impl IntoIterator<Item = (N, P)>) -> Self
    where
        N: Into<String>,
        P: Into<String>,
    {
        self.routes
            .extend(routes.into_iter().map(|(n, p)| (n.into(), p.into())));
        self
    }

    /// Whether a route has this name.
    pub fn has_route(&self, name: &str) -> bool {
        self.routes.contains_key(name)
    }

    /// The signer (for the `signed` middleware).
    pub fn signer(&self) -> &UrlSigner {
        &self.signer
    }

    /// The path of a named route; parameters the path does not use go to the query string.
    pub fn route(&self, name: &str, params: impl RouteParams) -> Result<String, UrlError> {
        let template = self
            .routes
            .get(name)
            .ok_or_else(|| UrlError::UnknownRoute {
                name: name.to_owned(),
                suggestion: self.suggest(name),
            })?;
        let mut params = params.into_pairs();
        let mut path = String::with_capacity(template.len() + 8);
        let mut rest = template.as_str();
        while let Some(open) = rest.find('{') {
            path.push_str(&rest[..open]);
            let Some(close) = rest[open..].find('}') else {
                break;
            };
            let placeholder = &rest[open + 1..open + close];
            let (wildcard, param) = match placeholder.strip_prefix('*') {
                Some(p) => (true, p),
                None => (false, placeholder),
            };
            let index = params.iter().position(|(k, _)| k == param).ok_or_else(|| {
                UrlError::MissingParameter {
                    route: name.to_owned(),
                    path: template.clone(),
                    parameter: param.to_owned(),
                }
            })?;
            let (_, value) = params.remove(index);
            if wildcard {
                let segments: Vec<String> = value
                    .split('/')
                    .map(|s| utf8_percent_encode(s, SEGMENT).to_string())
                    .collect();
                path.push_str(&segments.join("/"));
            } else {
                path.extend(utf8_percent_encode(&value, SEGMENT));
            }
            rest = &rest[open + close + 1..];
        }
        path.push_str(rest);
        if !params.is_empty() {
            let query = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(params)
                .finish();
            path.push('?');
            path.push_str(&query);
        }
        Ok(path)
    }

    /// An absolute URL for a path (`url("/about")`).
    pub fn to(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            return path.to_owned();
        }
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    /// The absolute URL of a named route.
    pub fn route_url(&self, name: &str, params: impl RouteParams) -> Result<String, UrlError> {
        self.route(name, params).map(|path| self.to(&path))
    }

    /// A named route's path with a signature (`URL::signedRoute`).
    pub fn signed_route(&self, name: &str, params: impl RouteParams) -> Result<String, UrlError> {
        self.signer.sign(&self.route(name, params)?, None)
    }

    /// A named route's path with a signature that expires at `expires_at`
    /// (`URL::temporarySignedRoute`).
    pub fn temporary_signed_route(
        &self,
        name: &str,
        params: impl RouteParams,
        expires_at: SystemTime,
    ) -> Result<String, UrlError> {
        self.signer
            .sign(&self.route(name, params)?, Some(expires_at))
    }

    fn suggest(&self, name: &str) -> String {
        self.routes
            .keys()
            .map(|candidate| (strsim::levenshtein(name, candidate), candidate))
            .filter(|(distance, _)| *distance <= 3)
            .min()
            .map(|(_, candidate)| format!("; did you mean [{candidate}]?"))
            .unwrap_or_default()
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn urls() -> UrlGenerator {
        UrlGenerator::new("https://blog.test/", Some(AppKey::generate().unwrap())).with_routes([
            ("home", "/"),
            ("posts.show", "/posts/{post}"),
            ("posts.comments.show", "/posts/{post}/comments/{comment}"),
            ("unsubscribe", "/unsubscribe/{user}"),
        ])
    }

    #[test]
    fn paths_fill_parameters_and_encode_them() {
        let urls = urls();
        assert_eq!(urls.route("home", ()).unwrap(), "/");
        assert_eq!(
            urls.route("posts.comments.show", [("comment", 7), ("post", 5)])
                .unwrap(),
            "/posts/5/comments/7"
        );
        assert_eq!(
            urls.route("posts.show", [("post", "a/b c?")]).unwrap(),
            "/posts/a%2Fb%20c%3F"
        );
        assert_eq!(
            urls.route(
                "posts.show",
                vec![("post", "5"), ("q", "a&b=c"), ("tag", "ü")]
            )
            .unwrap(),
            "/posts/5?q=a%26b%3Dc&tag=%C3%BC"
        );
        assert_eq!(
            urls.route_url("posts.show", [("post", 1)]).unwrap(),
            "https://blog.test/posts/1"
        );
        assert_eq!(
            urls.to("https://elsewhere.test/x"),
            "https://elsewhere.test/x"
        );
    }

    #[test]
    fn unknown_names_and_missing_parameters_are_clear_errors() {
        let urls = urls();
        assert_eq!(
            urls.route("posts.shwo", [("post", 1)])
                .unwrap_err()
                .to_string(),
            "route [posts.shwo] not defined; did you mean [posts.show]?"
        );
        assert_eq!(
            urls.route("nothing.like.it", ()).unwrap_err().to_string(),
            "route [nothing.like.it] not defined"
        );
        assert_eq!(
            urls.route("posts.comments.show", [("post", 1)])
                .unwrap_err()
                .to_string(),
            "missing required parameter `comment` for route [posts.comments.show] (path /posts/{post}/comments/{comment})"
        );
    }

    #[test]
    fn signed_urls_verify_and_tampering_fails() {
        let urls = urls();
        let signer = urls.signer();
        let now = SystemTime::now();
        let url = urls.signed_route("unsubscribe", [("user", 9)]).unwrap();
        assert!(url.starts_with("/unsubscribe/9?signature="), "{url}");
        assert_eq!(signer.verify(&url, now), Ok(()));
        assert_eq!(
            signer.verify(&url.replace("/9?", "/8?"), now),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            signer.verify("/unsubscribe/9", now),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            signer.verify(&format!("{url}0"), now),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            signer.verify("/unsubscribe/9?signature=zz", now),
            Err(SignatureError::Invalid)
        );

        let with_query = urls
            .signed_route("unsubscribe", [("user", "9"), ("list", "news")])
            .unwrap();
        assert_eq!(signer.verify(&with_query, now), Ok(()));
        assert_eq!(
            signer.verify(&with_query.replace("list=news", "list=all"), now),
            Err(SignatureError::Invalid)
        );

        let other = UrlSigner::new(Some(AppKey::generate().unwrap()));
        assert_eq!(
            other.verify(&url, now),
            Err(SignatureError::Invalid),
            "another key"
        );
        assert_eq!(
            UrlSigner::new(None).verify(&url, now),
            Err(SignatureError::MissingKey)
        );
        assert_eq!(
            UrlGenerator::new("http://x", None)
                .with_routes([("a", "/a")])
                .signed_route("a", ())
                .unwrap_err(),
            UrlError::MissingKey
        );
    }

    #[test]
    fn temporary_signed_urls_expire() {
        let urls = urls();
        let now = SystemTime::now();
        let url = urls
            .temporary_signed_route("unsubscribe", [("user", 9)], now + Duration::from_secs(60))
            .unwrap();
        assert!(
            url.contains("?expires=") && url.contains("&signature="),
            "{url}"
        );
        assert_eq!(urls.signer().verify(&url, now), Ok(()));
        assert_eq!(
            urls.signer().verify(&url, now + Duration::from_secs(120)),
            Err(SignatureError::Expired)
        );
        // Moving the expiry breaks the signature.
        let extended = url.replace("expires=", "expires=9");
        assert_eq!(
            urls.signer().verify(&extended, now),
            Err(SignatureError::Invalid)
        );
    }
}
