//! Callbacks: instead of waiting for the next poll, the Zustelldienst `POST`s a short notice to
//! the subscriber's HTTPS URL when submissions arrive. The notice is only a hint — the broker
//! still fetches through the API — but it must be authentic, or anyone could make us poll.
//!
//! Authentication (FITKO): header `callback-authentication` = hex(HMAC-SHA512(secret,
//! `callback-timestamp` + "." + raw body)), header `callback-timestamp` = Unix seconds. We verify
//! over the *exact raw bytes* received (never a re-serialization), compare in constant time, and
//! refuse timestamps older than five minutes or too far in the future. Within that window a
//! verifier refuses a callback it has already accepted (same MAC, hence same timestamp and
//! body): it remembers the MACs of accepted callbacks until their timestamp leaves the window.
//! [`CallbackSigner`] produces the headers; the sandbox uses it.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use thiserror::Error;

/// Header carrying the hex HMAC.
pub const HEADER_AUTHENTICATION: &str = "callback-authentication";
/// Header carrying the Unix timestamp (seconds).
pub const HEADER_TIMESTAMP: &str = "callback-timestamp";
/// Oldest accepted callback (FITKO: 5 minutes).
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);
/// How far in the future a timestamp may lie (clock skew allowance).
pub const DEFAULT_MAX_FUTURE: Duration = Duration::from_secs(60);

/// Why a callback was refused. Never contains the secret, the body or the received MAC.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CallbackError {
    /// A header is absent.
    #[error("callback header {0} is missing")]
    MissingHeader(&'static str),
    /// `callback-timestamp` is not an integer.
    #[error("callback-timestamp is not a Unix timestamp in seconds")]
    BadTimestamp,
    /// Older than the allowed window.
    #[error("callback timestamp is {age_secs} s old (limit {limit_secs} s): possible replay")]
    Stale {
        /// Age in seconds.
        age_secs: u64,
        /// Allowed age.
        limit_secs: u64,
    },
    /// Too far in the future.
    #[error("callback timestamp lies {ahead_secs} s in the future (limit {limit_secs} s)")]
    FromTheFuture {
        /// Seconds ahead.
        ahead_secs: u64,
        /// Allowed skew.
        limit_secs: u64,
    },
    /// The MAC does not match (wrong secret, altered body, altered timestamp).
    #[error("callback-authentication does not match: wrong secret or altered request")]
    BadSignature,
    /// Authentic, but this exact callback (timestamp and body) was accepted before.
    #[error("callback was accepted before (same timestamp and body): replay refused")]
    Replayed,
}

/// The shared callback secret. `Debug` redacts it.
#[derive(Clone)]
pub struct CallbackSecret(Vec<u8>);

impl CallbackSecret {
    /// Wraps the secret as configured in the Self-Service-Portal (used as raw UTF-8 bytes).
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        CallbackSecret(secret.into())
    }
}

impl fmt::Debug for CallbackSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CallbackSecret(<redacted>)")
    }
}

fn mac_hex(secret: &CallbackSecret, timestamp: &str, body: &[u8]) -> String {
    let key = PKey::hmac(&secret.0).expect("HMAC keys of any length are accepted");
    let mut signer = Signer::new(MessageDigest::sha512(), &key).expect("HMAC-SHA512 is available");
    signer.update(timestamp.as_bytes()).expect("hmac update");
    signer.update(b".").expect("hmac update");
    signer.update(body).expect("hmac update");
    hex::encode(signer.sign_to_vec().expect("hmac finalize"))
}

/// Headers for one callback request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackHeaders {
    /// Value of `callback-authentication`.
    pub authentication: String,
    /// Value of `callback-timestamp`.
    pub timestamp: String,
}

/// Produces callback headers (the Zustelldienst side; used by the sandbox and tests).
#[derive(Debug, Clone)]
pub struct CallbackSigner {
    secret: CallbackSecret,
}

impl CallbackSigner {
    /// A signer with the destination's callback secret.
    pub fn new(secret: CallbackSecret) -> Self {
        CallbackSigner { secret }
    }

    /// Headers for `body` sent now.
    pub fn sign(&self, body: &[u8]) -> CallbackHeaders {
        self.sign_at(body, SystemTime::now())
    }

    /// Headers for `body` as if sent at `at` (tests of stale and future timestamps).
    pub fn sign_at(&self, body: &[u8], at: SystemTime) -> CallbackHeaders {
        let timestamp = unix_seconds(at).to_string();
        CallbackHeaders {
            authentication: mac_hex(&self.secret, &timestamp, body),
            timestamp,
        }
    }
}

fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// Verifies callbacks (the subscriber side). Clones share one memory of accepted callbacks.
#[derive(Debug, Clone)]
pub struct CallbackVerifier {
    secret: CallbackSecret,
    max_age: Duration,
    max_future: Duration,
    seen: Arc<Mutex<Seen>>,
}

/// Upper bound of remembered callbacks. Only authentic callbacks are remembered, so only the
/// Zustelldienst (or whoever holds the secret) can fill it; when full, the oldest are forgotten
/// first — a callback forgotten early can be replayed, which costs one extra poll, never data.
const MAX_SEEN: usize = 100_000;

/// MACs of accepted callbacks, each with its timestamp (Unix seconds).
#[derive(Debug, Default)]
struct Seen {
    by_mac: HashMap<String, i64>,
}

impl Seen {
    /// Records `mac`; false if it was already there (a replay).
    fn insert(&mut self, mac: &str, ts: i64, now: i64, max_age: i64) -> bool {
        if self.by_mac.contains_key(mac) {
            return false;
        }
        if self.by_mac.len() >= MAX_SEEN {
            // Forget what has left the window; if that is not enough, the oldest half.
            self.by_mac.retain(|_, t| now - *t <= max_age);
            if self.by_mac.len() >= MAX_SEEN {
                let mut times: Vec<i64> = self.by_mac.values().copied().collect();
                times.sort_unstable();
                let cut = times[times.len() / 2];
                self.by_mac.retain(|_, t| *t > cut);
            }
        }
        self.by_mac.insert(mac.to_string(), ts);
        true
    }
}

impl CallbackVerifier {
    /// A verifier with the FITKO window (5 minutes old, 1 minute ahead).
    pub fn new(secret: CallbackSecret) -> Self {
        CallbackVerifier {
            secret,
            max_age: DEFAULT_MAX_AGE,
            max_future: DEFAULT_MAX_FUTURE,
            seen: Arc::default(),
        }
    }

    /// Changes the accepted window.
    pub fn with_window(mut self, max_age: Duration, max_future: Duration) -> Self {
        self.max_age = max_age;
        self.max_future = max_future;
        self
    }

    /// Verifies a callback now. `authentication` and `timestamp` are the raw header values
    /// (`None` if absent); `body` the exact bytes received.
    pub fn verify(
        &self,
        authentication: Option<&str>,
        timestamp: Option<&str>,
        body: &[u8],
    ) -> Result<(), CallbackError> {
        self.verify_at(authentication, timestamp, body, SystemTime::now())
    }

    /// As [`verify`](Self::verify), with an explicit "now".
    pub fn verify_at(
        &self,
        authentication: Option<&str>,
        timestamp: Option<&str>,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), CallbackError> {
        let authentication =
            authentication.ok_or(CallbackError::MissingHeader(HEADER_AUTHENTICATION))?;
        let timestamp = timestamp.ok_or(CallbackError::MissingHeader(HEADER_TIMESTAMP))?;
        let ts: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| CallbackError::BadTimestamp)?;
        let now = unix_seconds(now);
        if ts < now {
            let age = (now - ts) as u64;
            if age > self.max_age.as_secs() {
                return Err(CallbackError::Stale {
                    age_secs: age,
                    limit_secs: self.max_age.as_secs(),
                });
            }
        } else {
            let ahead = (ts - now) as u64;
            if ahead > self.max_future.as_secs() {
                return Err(CallbackError::FromTheFuture {
                    ahead_secs: ahead,
                    limit_secs: self.max_future.as_secs(),
                });
            }
        }
        // MAC over the timestamp exactly as sent, not as re-formatted.
        let expected = mac_hex(&self.secret, timestamp, body);
        let received = authentication.trim().to_ascii_lowercase();
        if received.len() != expected.len()
            || !openssl::memcmp::eq(received.as_bytes(), expected.as_bytes())
        {
            return Err(CallbackError::BadSignature);
        }
        // A timestamp in the future stays in the window longer: remember it by the later of
        // the two, so it is not forgotten while it could still be replayed.
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if !seen.insert(&expected, ts.max(now), now, self.max_age.as_secs() as i64) {
            return Err(CallbackError::Replayed);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (CallbackSigner, CallbackVerifier) {
        let s = CallbackSecret::new("geheim-1234");
        (CallbackSigner::new(s.clone()), CallbackVerifier::new(s))
    }

    const BODY: &[u8] = br#"{"type":"https://schema.fitko.de/fit-connect/submission-api/callbacks/new-submissions","submissions":[]}"#;

    #[test]
    fn valid_callback_verifies() {
        let (signer, verifier) = pair();
        let h = signer.sign(BODY);
        assert_eq!(h.authentication.len(), 128);
        verifier
            .verify(Some(&h.authentication), Some(&h.timestamp), BODY)
            .unwrap();
    }

    #[test]
    fn known_vector_matches_independent_hmac() {
        // hex(HMAC-SHA512("secret", "1672527599.body")) computed with Python's hmac module.
        let h = mac_hex(&CallbackSecret::new("secret"), "1672527599", b"body");
        let expected = std::process::Command::new("python3")
            .args([
                "-c",
                "import hmac,hashlib;print(hmac.new(b'secret',b'1672527599.body',hashlib.sha512).hexdigest())",
            ])
            .output()
            .expect("python3 must be installed for this test");
        assert_eq!(h, String::from_utf8(expected.stdout).unwrap().trim());
    }

    #[test]
    fn tampered_body_is_refused() {
        let (signer, verifier) = pair();
        let h = signer.sign(BODY);
        let mut body = BODY.to_vec();
        body[10] ^= 1;
        assert_eq!(
            verifier.verify(Some(&h.authentication), Some(&h.timestamp), &body),
            Err(CallbackError::BadSignature)
        );
        // Re-serialized JSON (other whitespace) is a different body: exact bytes count.
        let mut spaced = BODY.to_vec();
        spaced.push(b' ');
        assert_eq!(
            verifier.verify(Some(&h.authentication), Some(&h.timestamp), &spaced),
            Err(CallbackError::BadSignature)
        );
    }

    #[test]
    fn wrong_secret_and_altered_timestamp_are_refused() {
        let (signer, _) = pair();
        let other = CallbackVerifier::new(CallbackSecret::new("anderes"));
        let h = signer.sign(BODY);
        assert_eq!(
            other.verify(Some(&h.authentication), Some(&h.timestamp), BODY),
            Err(CallbackError::BadSignature)
        );
        let (_, verifier) = pair();
        let ts: i64 = h.timestamp.parse().unwrap();
        assert_eq!(
            verifier.verify(Some(&h.authentication), Some(&(ts - 1).to_string()), BODY),
            Err(CallbackError::BadSignature)
        );
    }

    #[test]
    fn stale_timestamp_is_refused() {
        let (signer, verifier) = pair();
        let h = signer.sign_at(BODY, SystemTime::now() - Duration::from_secs(301));
        assert!(matches!(
            verifier.verify(Some(&h.authentication), Some(&h.timestamp), BODY),
            Err(CallbackError::Stale { .. })
        ));
        let h = signer.sign_at(BODY, SystemTime::now() - Duration::from_secs(290));
        verifier
            .verify(Some(&h.authentication), Some(&h.timestamp), BODY)
            .unwrap();
    }

    #[test]
    fn future_timestamp_is_refused() {
        let (signer, verifier) = pair();
        let h = signer.sign_at(BODY, SystemTime::now() + Duration::from_secs(600));
        assert!(matches!(
            verifier.verify(Some(&h.authentication), Some(&h.timestamp), BODY),
            Err(CallbackError::FromTheFuture { .. })
        ));
    }

    #[test]
    fn missing_headers_and_garbage_are_refused() {
        let (signer, verifier) = pair();
        let h = signer.sign(BODY);
        assert_eq!(
            verifier.verify(None, Some(&h.timestamp), BODY),
            Err(CallbackError::MissingHeader(HEADER_AUTHENTICATION))
        );
        assert_eq!(
            verifier.verify(Some(&h.authentication), Some("gestern"), BODY),
            Err(CallbackError::BadTimestamp)
        );
        assert_eq!(
            verifier.verify(Some("abc"), Some(&h.timestamp), BODY),
            Err(CallbackError::BadSignature)
        );
    }

    #[test]
    fn a_callback_is_accepted_once() {
        let (signer, verifier) = pair();
        let h = signer.sign(BODY);
        verifier
            .verify(Some(&h.authentication), Some(&h.timestamp), BODY)
            .unwrap();
        // The same request again — also through a clone, also with the MAC in upper case.
        assert_eq!(
            verifier.clone().verify(
                Some(&h.authentication.to_uppercase()),
                Some(&h.timestamp),
                BODY
            ),
            Err(CallbackError::Replayed)
        );
        // The Zustelldienst sending the same body again signs it with a new timestamp: accepted.
        let later = signer.sign_at(BODY, SystemTime::now() + Duration::from_secs(1));
        verifier
            .verify(Some(&later.authentication), Some(&later.timestamp), BODY)
            .unwrap();
        // A refused forgery is not remembered and does not block the real callback.
        let (_, fresh) = pair();
        let h2 = signer.sign_at(b"{}", SystemTime::now());
        assert_eq!(
            fresh.verify(Some(&h2.authentication), Some(&h2.timestamp), BODY),
            Err(CallbackError::BadSignature)
        );
        fresh
            .verify(Some(&h2.authentication), Some(&h2.timestamp), b"{}")
            .unwrap();
    }

    #[test]
    fn memory_is_bounded_and_forgets_what_left_the_window() {
        let mut seen = Seen::default();
        let now = 1_000_000;
        for i in 0..MAX_SEEN as i64 {
            // Half of them long out of the window.
            let ts = if i % 2 == 0 { now - 1_000 } else { now - 10 };
            assert!(seen.insert(&i.to_string(), ts, now, 300));
        }
        assert!(seen.insert("new", now, now, 300));
        assert!(seen.by_mac.len() <= MAX_SEEN / 2 + 1);
        assert!(
            !seen.insert("1", now - 10, now, 300),
            "in-window entries are kept"
        );
        assert!(!seen.insert("new", now, now, 300));
    }

    #[test]
    fn debug_redacts_secret() {
        let s = CallbackSecret::new("supergeheim");
        assert!(!format!("{s:?} {:?}", CallbackVerifier::new(s.clone())).contains("supergeheim"));
    }
}
