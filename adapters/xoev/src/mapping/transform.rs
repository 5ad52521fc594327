//! Transforms: what happens to a value between the message and the target field.
//!
//! A field's `transform = [...]` is a pipeline applied left to right. Values start as
//! text (the string value found by the path, without surrounding white space). Most
//! transforms take text and give text; `number`, `boolean` and a `map` with non-text
//! values end the pipeline with a JSON value; `split` turns text into a list, and every
//! later transform is applied to each piece. Which transform may follow which is checked
//! when the mapping is loaded ([`check_pipeline`]), so a mapping that loads never meets a
//! type mismatch at run time.
//!
//! Failures name the problem, never the value ([`Problem`]).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::config::Unknown;
use super::dates::{Format, WriteError};
use super::error::Problem;

/// A value on its way through the pipeline.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Text(String),
    Json(Value),
    List(Vec<Val>),
}

impl Val {
    pub(crate) fn into_json(self) -> Value {
        match self {
            Val::Text(text) => Value::String(text),
            Val::Json(value) => value,
            Val::List(items) => Value::Array(items.into_iter().map(Val::into_json).collect()),
        }
    }
}

/// One compiled transform.
#[derive(Debug, Clone)]
pub(crate) enum Transform {
    Trim,
    NormalizeSpace,
    Upper,
    Lower,
    Number,
    Boolean,
    Date {
        from: Format,
        /// `from` as written, for error messages.
        from_text: String,
        to: Format,
        utc: bool,
    },
    CodeList {
        name: String,
        table: Arc<HashMap<String, String>>,
        unknown: Unknown,
    },
    Map {
        table: HashMap<String, Value>,
        /// The `"*"` entry.
        fallback: Option<Value>,
    },
    Replace {
        from: String,
        to: String,
    },
    Split(String),
}

/// What comes out of a transform, for checking the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Json,
}

impl Transform {
    fn output(&self) -> Kind {
        match self {
            Transform::Number | Transform::Boolean => Kind::Json,
            Transform::Map { table, fallback } => {
                let all_text = table
                    .values()
                    .chain(fallback)
                    .all(|v| matches!(v, Value::String(_)));
                if all_text { Kind::Text } else { Kind::Json }
            }
            _ => Kind::Text,
        }
    }

    /// Applies the transform. `Ok(None)` means the value is gone (empty, or a code list
    /// with `unknown = "omit"`); the field then counts as missing.
    pub(crate) fn apply(&self, value: Val) -> Result<Option<Val>, Problem> {
        let text = match value {
            Val::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    if let Some(item) = self.apply(item)? {
                        out.push(item);
                    }
                }
                return Ok((!out.is_empty()).then_some(Val::List(out)));
            }
            // `check_pipeline` lets nothing follow a JSON value.
            Val::Json(value) => return Ok(Some(Val::Json(value))),
            Val::Text(text) => text,
        };
        let out = match self {
            Transform::Trim => Val::Text(text.trim().to_owned()),
            Transform::NormalizeSpace => {
                Val::Text(text.split_whitespace().collect::<Vec<_>>().join(" "))
            }
            Transform::Upper => Val::Text(text.to_uppercase()),
            Transform::Lower => Val::Text(text.to_lowercase()),
            Transform::Number => Val::Json(Value::Number(number(&text)?)),
            Transform::Boolean => Val::Json(Value::Bool(boolean(&text)?)),
            Transform::Date {
                from,
                from_text,
                to,
                utc,
            } => {
                let moment = from.read(text.trim()).ok_or_else(|| Problem::NotADate {
                    format: from_text.clone(),
                })?;
                let moment = if *utc {
                    moment.to_utc().map_err(date_problem)?
                } else {
                    moment
                };
                Val::Text(to.write(&moment).map_err(date_problem)?)
            }
            Transform::CodeList {
                name,
                table,
                unknown,
            } => match table.get(text.trim()) {
                Some(value) => Val::Text(value.clone()),
                None => match unknown {
                    Unknown::Error => {
                        return Err(Problem::NotInCodeList {
                            codelist: name.clone(),
                        });
                    }
                    Unknown::Keep => Val::Text(text),
                    Unknown::Omit => return Ok(None),
                },
            },
            Transform::Map { table, fallback } => {
                match table.get(text.trim()).or(fallback.as_ref()) {
                    Some(Value::String(s)) => Val::Text(s.clone()),
                    Some(other) => Val::Json(other.clone()),
                    None => return Err(Problem::NotInMap),
                }
            }
            Transform::Replace { from, to } => Val::Text(text.replace(from.as_str(), to)),
            Transform::Split(separator) => Val::List(
                text.split(separator.as_str())
                    .map(str::trim)
                    .filter(|piece| !piece.is_empty())
                    .map(|piece| Val::Text(piece.to_owned()))
                    .collect(),
            ),
        };
        Ok(match out {
            Val::Text(text) if text.trim().is_empty() => None,
            Val::List(items) if items.is_empty() => None,
            out => Some(out),
        })
    }
}

/// Runs a whole pipeline over a value; `Ok(None)` if the value disappears on the way.
pub(crate) fn run(pipeline: &[Transform], value: Val) -> Result<Option<Val>, Problem> {
    let mut value = value;
    for transform in pipeline {
        match transform.apply(value)? {
            Some(next) => value = next,
            None => return Ok(None),
        }
    }
    Ok(Some(value))
}

/// Checks that each transform gets what it needs: nothing may follow a transform that
/// produces a number, boolean or other JSON value, and `split` may be used once.
/// `names[i]` is how the user wrote transform `i` (for the message).
pub(crate) fn check_pipeline(pipeline: &[Transform], names: &[&str]) -> Result<(), String> {
    let mut split = false;
    for (i, transform) in pipeline.iter().enumerate() {
        if let Transform::Split(_) = transform {
            if split {
                return Err("`split` can be used only once per field".into());
            }
            split = true;
        }
        if transform.output() == Kind::Json
            && let Some(next) = names.get(i + 1)
        {
            let what = match transform {
                Transform::Number => "a number",
                Transform::Boolean => "a boolean",
                _ => "values that are not text",
            };
            return Err(format!(
                "transform `{next}` needs text, but `{}` before it produces {what}; put `{}` last",
                names[i], names[i]
            ));
        }
    }
    Ok(())
}

fn date_problem(error: WriteError) -> Problem {
    match error {
        WriteError::NoTimezone => Problem::NoTimezone,
        WriteError::OutOfRange => Problem::DateOutOfRange,
    }
}

/// xs:decimal / xs:integer: an integer stays an integer, a decimal becomes a JSON
/// number. No exponents, no `inf`/`NaN`, no thousands separators.
fn number(text: &str) -> Result<serde_json::Number, Problem> {
    let text = text.trim();
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.len() + fraction.len() == 0 || !digits(whole) || !digits(fraction) {
        return Err(Problem::NotANumber);
    }
    if !unsigned.contains('.')
        && let Ok(integer) = text.trim_start_matches('+').parse::<i64>()
    {
        return Ok(integer.into());
    }
    text.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .ok_or(Problem::NotANumber)
}

/// xs:boolean: `true`, `false`, `1`, `0` (case ignored).
fn boolean(text: &str) -> Result<bool, Problem> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(Problem::NotABoolean),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(s: &str) -> Val {
        Val::Text(s.to_owned())
    }

    fn one(t: Transform, input: &str) -> Result<Option<Value>, Problem> {
        t.apply(text(input)).map(|v| v.map(Val::into_json))
    }

    #[test]
    fn text_transforms() {
        assert_eq!(one(Transform::Trim, "  a b ").unwrap(), Some(json!("a b")));
        assert_eq!(
            one(Transform::NormalizeSpace, " a \n  b ").unwrap(),
            Some(json!("a b"))
        );
        assert_eq!(
            one(Transform::Upper, "straße").unwrap(),
            Some(json!("STRASSE"))
        );
        assert_eq!(one(Transform::Lower, "ÄB").unwrap(), Some(json!("äb")));
        let replace = Transform::Replace {
            from: "|".into(),
            to: ", ".into(),
        };
        assert_eq!(one(replace, "a|b").unwrap(), Some(json!("a, b")));
        let remove = Transform::Replace {
            from: "x".into(),
            to: String::new(),
        };
        assert_eq!(
            one(remove, "xx").unwrap(),
            None,
            "an emptied value is missing"
        );
    }

    #[test]
    fn numbers_and_booleans() {
        assert_eq!(one(Transform::Number, "6.80").unwrap(), Some(json!(6.8)));
        assert_eq!(one(Transform::Number, "0355").unwrap(), Some(json!(355)));
        assert_eq!(one(Transform::Number, "-2").unwrap(), Some(json!(-2)));
        assert_eq!(one(Transform::Number, "+.5").unwrap(), Some(json!(0.5)));
        assert_eq!(
            one(Transform::Number, "99999999999999999999").unwrap(),
            Some(json!(1e20))
        );
        for bad in ["", "1e3", "inf", "NaN", "1,5", "1.2.3", "0x10", "-", "."] {
            assert_eq!(
                one(Transform::Number, bad),
                Err(Problem::NotANumber),
                "{bad:?}"
            );
        }
        assert_eq!(one(Transform::Boolean, "TRUE").unwrap(), Some(json!(true)));
        assert_eq!(one(Transform::Boolean, "0").unwrap(), Some(json!(false)));
        assert_eq!(one(Transform::Boolean, "ja"), Err(Problem::NotABoolean));
    }

    #[test]
    fn lookups() {
        let table = Arc::new(HashMap::from([("170".to_owned(), "e.K.".to_owned())]));
        let list = |unknown| Transform::CodeList {
            name: "rechtsform".into(),
            table: table.clone(),
            unknown,
        };
        assert_eq!(
            one(list(Unknown::Error), "170").unwrap(),
            Some(json!("e.K."))
        );
        assert_eq!(
            one(list(Unknown::Error), "999").unwrap_err().to_string(),
            "value not in code list rechtsform"
        );
        assert_eq!(one(list(Unknown::Keep), "999").unwrap(), Some(json!("999")));
        assert_eq!(one(list(Unknown::Omit), "999").unwrap(), None);

        let map = Transform::Map {
            table: HashMap::from([("1".to_owned(), json!(true))]),
            fallback: Some(json!(false)),
        };
        assert_eq!(one(map.clone(), "1").unwrap(), Some(json!(true)));
        assert_eq!(one(map, "7").unwrap(), Some(json!(false)));
        let strict = Transform::Map {
            table: HashMap::new(),
            fallback: None,
        };
        assert_eq!(one(strict, "7"), Err(Problem::NotInMap));
    }

    #[test]
    fn split_applies_the_rest_to_each_piece() {
        let pipeline = [Transform::Split("|".into()), Transform::Upper];
        let out = run(&pipeline, text("a | b||")).unwrap().unwrap();
        assert_eq!(out.into_json(), json!(["A", "B"]));
        assert_eq!(run(&pipeline, text("| |")).unwrap(), None);
    }

    #[test]
    fn pipeline_check() {
        assert!(check_pipeline(&[Transform::Trim, Transform::Number], &["trim", "number"]).is_ok());
        assert_eq!(
            check_pipeline(&[Transform::Number, Transform::Trim], &["number", "trim"]).unwrap_err(),
            "transform `trim` needs text, but `number` before it produces a number; put `number` last"
        );
        let split = Transform::Split(",".into());
        assert!(check_pipeline(&[split.clone(), split], &["split", "split"]).is_err());
    }
}
