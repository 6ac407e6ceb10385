//! The application key: 32 random bytes, written as `base64:<…>` like Laravel's `APP_KEY`.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Length of the key in bytes.
pub const KEY_LEN: usize = 32;

/// The secret used to sign and encrypt (signed URLs, cookies, sessions).
///
/// `Debug` never shows the bytes; `Display` gives the `base64:` form that goes into `.env`.
///
/// ```
/// use foundry_core::key::AppKey;
/// let key = AppKey::generate().unwrap();
/// let text = key.to_string();
/// assert!(text.starts_with("base64:"));
/// assert_eq!(text.parse::<AppKey>().unwrap(), key);
/// assert!("base64:c2hvcnQ=".parse::<AppKey>().is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct AppKey([u8; KEY_LEN]);

impl AppKey {
    /// A fresh key from the operating system's secure random source.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; KEY_LEN];
        getrandom::fill(&mut bytes)?;
        Ok(Self(bytes))
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for AppKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AppKey(<redacted>)")
    }
}

impl fmt::Display for AppKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "base64:{}", STANDARD.encode(self.0))
    }
}

impl FromStr for AppKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let encoded = s.trim().strip_prefix("base64:").ok_or_else(|| {
            "expected `base64:<32 bytes in base64>` (generate one with `key:generate`)".to_owned()
        })?;
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|e| format!("the key is not valid base64 ({e})"))?;
        let bytes: [u8; KEY_LEN] = bytes.try_into().map_err(|b: Vec<u8>| {
            format!(
                "the key must be {KEY_LEN} bytes, found {} (generate one with `key:generate`)",
                b.len()
            )
        })?;
        Ok(Self(bytes))
    }
}

impl Serialize for AppKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AppKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_round_trip() {
        let a = AppKey::generate().unwrap();
        let b = AppKey::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.to_string().parse::<AppKey>().unwrap(), a);
        assert_eq!(format!("{a:?}"), "AppKey(<redacted>)");
    }

    #[test]
    fn malformed_keys_say_what_is_wrong() {
        assert!("abc".parse::<AppKey>().unwrap_err().contains("base64:"));
        assert!(
            "base64:!!!"
                .parse::<AppKey>()
                .unwrap_err()
                .contains("not valid base64")
        );
        assert!(
            "base64:YWJj"
                .parse::<AppKey>()
                .unwrap_err()
                .contains("found 3")
        );
    }
}
