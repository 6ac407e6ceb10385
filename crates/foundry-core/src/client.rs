//! What a trusted proxy said about the client, shared by the HTTP kernel (which sets it) and
//! components that key work per client, such as the rate limiter (which reads it).

use std::net::IpAddr;

/// What a trusted proxy told about the client: set as a request extension by the HTTP
/// kernel's front, and only when the peer is one of `[http] trusted_proxies`, so a client
/// cannot forge it by sending `X-Forwarded-For` itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarded {
    /// `X-Forwarded-For`'s client.
    pub ip: Option<IpAddr>,
    /// `X-Forwarded-Proto`: whether the client used https.
    pub https: Option<bool>,
    /// `X-Forwarded-Host`.
    pub host: Option<String>,
}
