//! Trusted proxies and the client's address.
//!
//! Behind a load balancer every request comes from the balancer; the client's address, the
//! scheme it used and the host it asked for arrive in `X-Forwarded-For`, `X-Forwarded-Proto`
//! and `X-Forwarded-Host`. Anyone can send those headers, so they are believed only when the
//! peer is a configured proxy (`[http] trusted_proxies`). [`ClientInfo`] (and [`ClientIp`])
//! give handlers the result.
//!
//! ```
//! use foundry_http::proxy::TrustedProxies;
//! let proxies = TrustedProxies::parse(&["10.0.0.0/8".into(), "127.0.0.1".into()]).unwrap();
//! assert!(proxies.contains("10.1.2.3".parse().unwrap()));
//! assert!(!proxies.contains("192.168.0.1".parse().unwrap()));
//! assert!(TrustedProxies::parse(&["10.0.0.0/33".into()]).is_err());
//! ```

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use foundry_core::Error;
use http::HeaderMap;
use http::header::{HOST, HeaderName};
use http::request::Parts;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// One trusted range: an address and how many leading bits must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cidr {
    addr: IpAddr,
    bits: u8,
}

impl Cidr {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.bits)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.bits))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The configured proxies (`[http] trusted_proxies`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    any: bool,
    ranges: Vec<Cidr>,
}

impl TrustedProxies {
    /// Parse addresses (`127.0.0.1`, `::1`), CIDR ranges (`10.0.0.0/8`) and `*` (any peer).
    /// The error names the bad entry.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let mut proxies = Self::default();
        for entry in entries {
            let entry = entry.trim();
            if entry == "*" {
                proxies.any = true;
                continue;
            }
            let (addr, bits) = match entry.split_once('/') {
                Some((addr, bits)) => (addr, Some(bits)),
                None => (entry, None),
            };
            let addr: IpAddr = addr.parse().map_err(|_| {
                format!(
                    "`{entry}` is not an IP address or CIDR range (e.g. `10.0.0.0/8`, `::1`, `*`)"
                )
            })?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                None => max,
                Some(bits) => bits
                    .parse::<u8>()
                    .ok()
                    .filter(|b| *b <= max)
                    .ok_or_else(|| {
                        format!("`{entry}` has a prefix length that is not between 0 and {max}")
                    })?,
            };
            proxies.ranges.push(Cidr {
                addr: addr.to_canonical(),
                bits,
            });
        }
        Ok(proxies)
    }

    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        !self.any && self.ranges.is_empty()
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.any || self.ranges.iter().any(|range| range.contains(ip))
    }

    /// What the forwarding headers say, when `peer` is trusted; `None` when it is not (the
    /// headers are then ignored) or when there is nothing usable in them.
    pub fn forwarded(&self, peer: IpAddr, headers: &HeaderMap) -> Option<Forwarded> {
        if !self.contains(peer) {
            return None;
        }
        let ip = headers
            .get_all(X_FORWARDED_FOR)
            .iter()
            .map(|v| v.to_str().ok())
            .collect::<Option<Vec<_>>>()
            .and_then(|values| self.client_from_chain(&values.join(",")));
        let https = headers
            .get(X_FORWARDED_PROTO)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| match v.trim() {
                p if p.eq_ignore_ascii_case("https") => Some(true),
                p if p.eq_ignore_ascii_case("http") => Some(false),
                _ => None,
            });
        let host = headers
            .get(X_FORWARDED_HOST)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|h| valid_host(h))
            .map(str::to_owned);
        (ip.is_some() || https.is_some() || host.is_some()).then_some(Forwarded { ip, https, host })
    }

    /// Walk `X-Forwarded-For` from the right, skipping trusted proxies: the first address that
    /// is not one is the client. A malformed entry makes the whole header untrustworthy.
    fn client_from_chain(&self, chain: &str) -> Option<IpAddr> {
        let mut leftmost = None;
        for entry in chain.rsplit(',') {
            let ip = parse_forwarded_ip(entry.trim())?;
            if !self.contains(ip) {
                return Some(ip);
            }
            leftmost = Some(ip);
        }
        leftmost
    }
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `::1`, `[::1]:80`.
fn parse_forwarded_ip(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    entry
        .parse::<SocketAddr>()
        .ok()
        .map(|s| s.ip().to_canonical())
}

/// A host name with an optional port, nothing else.
fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

pub use foundry_core::client::Forwarded;

/// The client of a request: its address, scheme and host, from the forwarding headers when
/// the peer is a trusted proxy, otherwise from the connection itself.
///
/// `ip` is `None` only when the service was called without a connection (as in tests that
/// call the service directly and insert no [`ConnectInfo`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client's address.
    pub ip: Option<IpAddr>,
    /// `https` or `http`.
    pub scheme: &'static str,
    /// The host the client asked for (`Host`, or `X-Forwarded-Host` from a trusted proxy).
    pub host: Option<String>,
}

impl ClientInfo {
    /// Work it out from the request's parts.
    pub fn from_parts(parts: &Parts) -> Self {
        let forwarded = parts.extensions.get::<Forwarded>();
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_canonical());
        let own_https = parts.uri.scheme_str() == Some("https");
        let https = forwarded.and_then(|f| f.https).unwrap_or(own_https);
        Self {
            ip: forwarded.and_then(|f| f.ip).or(peer),
            scheme: if https { "https" } else { "http" },
            host: forwarded
                .and_then(|f| f.host.clone())
                .or_else(|| {
                    parts
                        .headers
                        .get(HOST)
                        .and_then(|h| h.to_str().ok())
                        .map(str::to_owned)
                })
                .or_else(|| parts.uri.authority().map(|a| a.as_str().to_owned())),
        }
    }

    /// `scheme://host`, the base for absolute URLs back to this client, when the host is known.
    pub fn base_url(&self) -> Option<String> {
        self.host.as_ref().map(|h| format!("{}://{h}", self.scheme))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_parts(parts))
    }
}

/// The client's IP address (see [`ClientInfo`]); a 500 when the request came through no
/// connection at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        ClientInfo::from_parts(parts)
            .ip
            .map(ClientIp)
            .ok_or_else(|| {
                Error::internal(
                    "the client's address is unknown: the request did not come through a \
                 connection (in tests, insert `ConnectInfo<SocketAddr>` into its extensions)",
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn proxies(entries: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(&entries.iter().map(|e| (*e).to_owned()).collect::<Vec<_>>()).unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_match_v4_v6_and_mapped_addresses() {
        let p = proxies(&["10.0.0.0/8", "127.0.0.1", "fd00::/8", "0.0.0.0/0"]);
        assert!(p.contains(ip("10.255.0.1")));
        assert!(
            p.contains(ip("::ffff:127.0.0.1")),
            "v4-mapped v6 peers match v4 ranges"
        );
        assert!(p.contains(ip("fd12::1")));
        assert!(!p.contains(ip("fe80::1")));
        assert!(p.contains(ip("8.8.8.8")), "/0 is every v4 address");
        let p = proxies(&["10.0.0.0/8"]);
        assert!(!p.contains(ip("11.0.0.1")));
        assert!(proxies(&["*"]).contains(ip("2001:db8::1")));
        assert!(proxies(&[]).is_empty());
    }

    #[test]
    fn bad_entries_are_named() {
        for (entry, says) in [
            ("10.0.0.0/33", "prefix length"),
            ("10.0.0/8", "not an IP address"),
            ("localhost", "not an IP address"),
            ("::1/200", "between 0 and 128"),
            ("10.0.0.0/x", "prefix length"),
        ] {
            let err = TrustedProxies::parse(&[entry.to_owned()]).unwrap_err();
            assert!(err.contains(entry) && err.contains(says), "{entry}: {err}");
        }
    }

    #[test]
    fn the_client_is_the_first_untrusted_address_from_the_right() {
        let p = proxies(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 1.2.3.4, 10.0.0.2")]);
        let f = p.forwarded(ip("10.0.0.1"), &h).unwrap();
        assert_eq!(
            f.ip,
            Some(ip("1.2.3.4")),
            "a spoofed leftmost entry is not believed"
        );
        let h = headers(&[
            ("x-forwarded-for", "1.2.3.4:5678"),
            ("x-forwarded-for", "[::1]:80"),
        ]);
        assert_eq!(
            p.forwarded(ip("10.0.0.1"), &h).unwrap().ip,
            Some(ip("::1")),
            "several header lines form one chain; ports are dropped"
        );
        let h = headers(&[("x-forwarded-for", "10.0.0.9, 10.0.0.8")]);
        assert_eq!(
            p.forwarded(ip("10.0.0.1"), &h).unwrap().ip,
            Some(ip("10.0.0.9"))
        );
    }

    #[test]
    fn malformed_or_untrusted_headers_are_ignored() {
        let p = proxies(&["10.0.0.0/8"]);
        let spoof = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "evil.test"),
        ]);
        assert_eq!(p.forwarded(ip("8.8.8.8"), &spoof), None, "untrusted peer");
        for bad in [
            "1.2.3.4, not-an-ip",
            "",
            ",",
            "1.2.3.4 5.6.7.8",
            "999.1.1.1",
        ] {
            let h = headers(&[("x-forwarded-for", bad)]);
            assert_eq!(p.forwarded(ip("10.0.0.1"), &h), None, "{bad:?}");
        }
        let h = headers(&[("x-forwarded-proto", "gopher"), ("x-forwarded-host", "a/b")]);
        assert_eq!(p.forwarded(ip("10.0.0.1"), &h), None);
        let h = headers(&[
            ("x-forwarded-proto", "HTTPS, http"),
            ("x-forwarded-host", "app.test:8443"),
        ]);
        let f = p.forwarded(ip("10.0.0.1"), &h).unwrap();
        assert_eq!(
            (f.https, f.host.as_deref()),
            (Some(true), Some("app.test:8443"))
        );
    }
}
