//! Who is calling the admin API: bearer tokens from `[[admin.tokens]]`, each with a name and
//! a role. Every request of the API (not the console's static files, not the OpenAPI
//! document) passes through [`Caller`]; writes also through [`Caller::require_operator`].

use super::Admin;
use super::problem::Problem;
use crate::config::ConfigError;
use crate::config::admin::{AdminConfig, AdminRole};
use crate::telemetry::auth_failures::Endpoint;
use crate::telemetry::events::{AdminForbidden, AuthFailed};
use amtsbote_listener::RemoteAddr;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Shortest token accepted: guessing 16 random characters is out of reach.
const MIN_TOKEN_CHARS: usize = 16;

/// One configured token. Only its SHA-256 is kept: comparing digests of equal length in
/// constant time tells an attacker nothing about length or prefix of a token.
#[derive(Clone)]
struct Token {
    name: String,
    role: AdminRole,
    digest: [u8; 32],
}

/// The configured tokens, read and checked.
#[derive(Clone, Default)]
pub struct Tokens(Vec<Token>);

impl Tokens {
    /// Reads every token's secret and checks names, lengths and the trace link template.
    pub fn build(config: &AdminConfig) -> Result<Tokens, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let mut tokens = Vec::new();
        let mut names = BTreeSet::new();
        for (i, t) in config.tokens.iter().enumerate() {
            let key = Some(format!("admin.tokens[{i}]"));
            let name_ok = !t.name.is_empty()
                && t.name.len() <= 63
                && t.name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b));
            if !name_ok {
                errors.push(ConfigError::new(
                    None,
                    key.clone(),
                    "a token's name is 1 to 63 letters, digits, `-`, `_`, `.` or `@` (it is recorded as operator:<name>)",
                ));
            }
            if !names.insert(t.name.as_str()) {
                errors.push(ConfigError::new(
                    None,
                    key.clone(),
                    format!(
                        "token name `{}` is used twice; names tell operators apart in the history",
                        t.name
                    ),
                ));
            }
            match crate::secrets::read(&t.token) {
                Ok(secret) if secret.expose().chars().count() < MIN_TOKEN_CHARS => {
                    errors.push(ConfigError::new(
                        None,
                        key,
                        format!("token `{}` is shorter than {MIN_TOKEN_CHARS} characters; generate one, e.g. `openssl rand -hex 32`", t.name),
                    ));
                }
                Ok(secret) => {
                    let digest: [u8; 32] = Sha256::digest(secret.expose().as_bytes()).into();
                    if tokens.iter().any(|o: &Token| o.digest == digest) {
                        errors.push(ConfigError::new(
                            None,
                            key,
                            format!("token `{}` has the same value as another token; give each holder their own", t.name),
                        ));
                    }
                    tokens.push(Token {
                        name: t.name.clone(),
                        role: t.role,
                        digest,
                    });
                }
                Err(e) => errors.push(ConfigError::new(
                    None,
                    key,
                    format!("token `{}`: {e}", t.name),
                )),
            }
        }
        if errors.is_empty() {
            Ok(Tokens(tokens))
        } else {
            Err(errors)
        }
    }

    /// The holder of `presented`, if any. Looks at every token whatever matches, so the time
    /// taken does not depend on which one (or whether one) matched.
    fn find(&self, presented: &str) -> Option<&Token> {
        let digest = Sha256::digest(presented.as_bytes());
        let mut found = None;
        for t in &self.0 {
            if bool::from(t.digest.ct_eq(digest.as_slice())) {
                found = Some(t);
            }
        }
        found
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// An authenticated caller of the admin API.
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
    pub role: AdminRole,
}

impl Caller {
    /// How the caller appears in a message's history.
    pub fn actor(&self) -> String {
        format!("operator:{}", self.name)
    }

    /// Writes (replay, resolve, purge) need the operator role.
    pub fn require_operator(&self, action: &'static str) -> Result<(), Problem> {
        if self.role == AdminRole::Operator {
            return Ok(());
        }
        AdminForbidden {
            token: &self.name,
            action,
        }
        .emit();
        Err(Problem::forbidden(format!(
            "token `{}` has the role viewer; to {action} a message, use a token with the role operator",
            self.name
        )))
    }
}

impl FromRequestParts<Arc<Admin>> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, admin: &Arc<Admin>) -> Result<Self, Problem> {
        let client = parts
            .extensions
            .get::<RemoteAddr>()
            .map(|RemoteAddr(a)| a.ip());
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim);
        let refused = |kind: &'static str, detail: &str| {
            AuthFailed {
                endpoint: Endpoint::Admin,
                client,
                tenant: "-",
                source: "-",
                kind,
                detail,
            }
            .emit();
            Problem::unauthorized(detail)
        };
        if admin.tokens.is_empty() {
            return Err(refused(
                "no tokens configured",
                "no admin tokens are configured; add [[admin.tokens]] to the broker's configuration",
            ));
        }
        let Some(presented) = presented else {
            return Err(refused(
                "missing token",
                "send an admin token as `Authorization: Bearer <token>`",
            ));
        };
        match admin.tokens.find(presented) {
            Some(t) => Ok(Caller {
                name: t.name.clone(),
                role: t.role,
            }),
            None => Err(refused(
                "unknown token",
                "the admin token is not (or no longer) configured",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SecretRef;
    use crate::config::admin::AdminTokenConfig;

    fn config(dir: &std::path::Path, tokens: &[(&str, AdminRole, &str)]) -> AdminConfig {
        AdminConfig {
            tokens: tokens
                .iter()
                .map(|(name, role, value)| {
                    let file = dir.join(format!("{name}.token"));
                    std::fs::write(&file, value).unwrap();
                    AdminTokenConfig {
                        name: name.to_string(),
                        role: *role,
                        token: SecretRef {
                            file: Some(file),
                            env: None,
                        },
                    }
                })
                .collect(),
        }
    }

    #[test]
    fn tokens_find_their_holder_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let t = Tokens::build(&config(
            dir.path(),
            &[
                ("anna", AdminRole::Operator, "0123456789abcdef-anna"),
                ("ben", AdminRole::Viewer, "0123456789abcdef-ben"),
            ],
        ))
        .unwrap();
        assert_eq!(t.find("0123456789abcdef-ben").unwrap().name, "ben");
        assert_eq!(
            t.find("0123456789abcdef-anna").unwrap().role,
            AdminRole::Operator
        );
        for wrong in ["", "0123456789abcdef", "0123456789abcdef-anna ", "x"] {
            assert!(t.find(wrong).is_none(), "{wrong:?}");
        }
    }

    #[test]
    fn weak_duplicate_and_misnamed_tokens_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let errors = Tokens::build(&config(
            dir.path(),
            &[
                ("short", AdminRole::Operator, "abc"),
                ("a", AdminRole::Viewer, "0123456789abcdef"),
                ("b", AdminRole::Viewer, "0123456789abcdef"),
                ("no spaces", AdminRole::Viewer, "0123456789abcdefgh"),
            ],
        ))
        .err()
        .unwrap();
        let text: Vec<String> = errors.iter().map(|e| e.reason.clone()).collect();
        assert!(text[0].contains("shorter than 16"), "{text:?}");
        assert!(text[1].contains("same value"), "{text:?}");
        assert!(text[2].contains("1 to 63 letters"), "{text:?}");
        assert_eq!(text.len(), 3, "{text:?}");
    }
}
