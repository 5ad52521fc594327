//! Secrets (tokens, passwords, keys) come from files or environment variables, never from the
//! configuration file, and never appear in logs, errors or `Debug` output.

use crate::config::SecretRef;

/// A secret value. `Debug` and `Display` print a placeholder.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Reads a secret. The error says where it was looked for, never what was found.
pub fn read(r: &SecretRef) -> Result<Secret, String> {
    let value = match (&r.file, &r.env) {
        (Some(file), None) => std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read secret file {}: {e}", file.display()))?,
        (None, Some(var)) => {
            std::env::var(var).map_err(|_| format!("environment variable {var} is not set"))?
        }
        (Some(_), Some(_)) => return Err("give either `file` or `env`, not both".into()),
        (None, None) => return Err("give `file` or `env`".into()),
    };
    let value = value.trim();
    if value.is_empty() {
        return Err(match (&r.file, &r.env) {
            (Some(f), _) => format!("secret file {} is empty", f.display()),
            (_, Some(v)) => format!("environment variable {v} is empty"),
            _ => "empty secret".into(),
        });
    }
    Ok(Secret(value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_files_and_never_prints_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("token");
        std::fs::write(&f, "s3cr3t-token\n").unwrap();
        let s = read(&SecretRef {
            file: Some(f),
            env: None,
        })
        .unwrap();
        assert_eq!(s.expose(), "s3cr3t-token");
        assert!(!format!("{s:?}").contains("s3cr3t"));
        let missing = read(&SecretRef {
            file: Some(dir.path().join("nope")),
            env: None,
        })
        .unwrap_err();
        assert!(missing.contains("nope"));
        assert!(
            read(&SecretRef {
                file: None,
                env: None
            })
            .is_err()
        );
    }
}
