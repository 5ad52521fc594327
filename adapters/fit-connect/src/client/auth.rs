//! OAuth2 client credentials for the Submission API: `POST {token_url}` with
//! `grant_type=client_credentials`, `client_id`, `client_secret` in the form body
//! (`client_secret_post`), no `scope` (FITKO advises against requesting scopes). The token is
//! cached and replaced shortly before it expires; a 401 from the API invalidates it early.

use std::fmt;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use super::ClientError;
use crate::wire::{OAuthError, TokenResponse};

/// Client id and secret of an API client from the Self-Service-Portal. `Debug` redacts the secret.
#[derive(Clone)]
pub struct ClientCredentials {
    /// OAuth client id.
    pub client_id: String,
    client_secret: String,
}

impl ClientCredentials {
    /// Credentials from id and secret.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        ClientCredentials {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
        }
    }

    /// Constant-time comparison of the secret (for the sandbox's token endpoint).
    pub(crate) fn secret_matches(&self, candidate: &str) -> bool {
        candidate.len() == self.client_secret.len()
            && openssl::memcmp::eq(candidate.as_bytes(), self.client_secret.as_bytes())
    }
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

struct CachedToken {
    value: String,
    refresh_at: Instant,
}

/// The token cache. One fetch at a time: concurrent callers wait for it instead of stampeding
/// the token endpoint.
pub(crate) struct TokenCache {
    token_url: String,
    credentials: ClientCredentials,
    refresh_margin: Duration,
    current: Mutex<Option<CachedToken>>,
}

/// Default lifetime assumed when the token response has no `expires_in`.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);

impl TokenCache {
    pub(crate) fn new(
        token_url: String,
        credentials: ClientCredentials,
        refresh_margin: Duration,
    ) -> Self {
        TokenCache {
            token_url,
            credentials,
            refresh_margin,
            current: Mutex::new(None),
        }
    }

    /// A valid access token, fetched if there is none or it is about to expire.
    pub(crate) async fn token(&self, http: &reqwest::Client) -> Result<String, ClientError> {
        let mut current = self.current.lock().await;
        if let Some(t) = current.as_ref()
            && Instant::now() < t.refresh_at
        {
            return Ok(t.value.clone());
        }
        let fetched = self.fetch(http).await?;
        let value = fetched.value.clone();
        *current = Some(fetched);
        Ok(value)
    }

    /// Drops `stale` if it is still the cached token (after the API refused it with 401).
    pub(crate) async fn invalidate(&self, stale: &str) {
        let mut current = self.current.lock().await;
        if current.as_ref().is_some_and(|t| t.value == stale) {
            *current = None;
        }
    }

    async fn fetch(&self, http: &reqwest::Client) -> Result<CachedToken, ClientError> {
        const OP: &str = "token request";
        let requested = Instant::now();
        let response = http
            .post(&self.token_url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", self.credentials.client_id.as_str()),
                ("client_secret", self.credentials.client_secret.as_str()),
            ])
            .send()
            .await
            .map_err(|source| ClientError::Transport {
                operation: OP,
                source,
            })?;
        let status = response.status();
        if status.is_server_error() {
            // The authorization server is unavailable, not refusing us: transient.
            return Err(super::error_from(OP, response).await);
        }
        if !status.is_success() {
            let error = response
                .json::<OAuthError>()
                .await
                .map(|e| e.error)
                .unwrap_or_else(|_| "no OAuth error code".into());
            return Err(ClientError::Auth {
                status: status.as_u16(),
                error,
            });
        }
        let token: TokenResponse = response.json().await.map_err(|_| ClientError::Decode {
            operation: OP,
            reason: "token response is not an OAuth2 token".into(),
        })?;
        if !token.token_type.eq_ignore_ascii_case("bearer") {
            return Err(ClientError::Decode {
                operation: OP,
                reason: format!("token_type {:?} is not Bearer", token.token_type),
            });
        }
        let lifetime = token
            .expires_in
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_LIFETIME);
        // Refresh a margin before expiry; for very short-lived tokens, a quarter of the lifetime.
        let margin = self.refresh_margin.min(lifetime / 4);
        tracing::debug!(
            client_id = %self.credentials.client_id,
            lifetime_secs = lifetime.as_secs(),
            "obtained FIT-Connect access token"
        );
        Ok(CachedToken {
            value: token.access_token,
            refresh_at: requested + lifetime - margin,
        })
    }
}
