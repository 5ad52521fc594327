//! The mapping file as written: the TOML structure, read with serde.
//!
//! Strict on purpose (unknown keys are errors, as everywhere in amtsbote's
//! configuration): a misspelt `requried = true` must not silently make a field optional.
//! Values that later errors point at are [`Spanned`], so that every error can name the
//! line. Turning this into something that can run is [`super::compile`]'s job.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use toml::Spanned;

use super::output::OutputFormat;

/// A whole mapping file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct File {
    pub mapping: Spanned<Header>,
    #[serde(default)]
    pub codelists: BTreeMap<String, Spanned<CodeListDef>>,
    #[serde(default)]
    pub field: Vec<Spanned<FieldDef>>,
}

/// `[mapping]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Header {
    pub name: String,
    #[serde(default)]
    #[allow(
        dead_code,
        reason = "documentation for people reading the mapping file"
    )]
    pub description: Option<String>,
    #[serde(default)]
    pub message_type: Option<Spanned<String>>,
    #[serde(default)]
    pub output: Option<OutputFormat>,
    #[serde(default)]
    pub missing: Option<Missing>,
    #[serde(default)]
    pub xml_root: Option<Spanned<String>>,
    #[serde(default)]
    pub xml_namespace: Option<String>,
}

/// What an optional field without a value becomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Missing {
    /// Left out of the output.
    #[default]
    Omit,
    /// Written as `null` (JSON) or an empty element (XML).
    Null,
}

/// `[codelists.<name>]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CodeListDef {
    pub file: String,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
}

/// `[[field]]` and `[[field.fields]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FieldDef {
    pub target: Spanned<String>,
    #[serde(default)]
    pub path: Option<Spanned<String>>,
    #[serde(default)]
    pub value: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub concat: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub separator: Option<Spanned<String>>,
    #[serde(default)]
    pub each: Option<Spanned<String>>,
    #[serde(default)]
    pub fields: Option<Spanned<Vec<Spanned<FieldDef>>>>,
    #[serde(default)]
    pub transform: Option<Spanned<Vec<Spanned<TransformDef>>>>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub default: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub when: Option<Spanned<WhenDef>>,
}

/// `when = { path = "…", equals = "…" }`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WhenDef {
    pub path: Spanned<String>,
    #[serde(default)]
    pub equals: Option<String>,
    #[serde(default)]
    pub not_equals: Option<String>,
    #[serde(default, rename = "in")]
    pub one_of: Option<Vec<String>>,
    #[serde(default)]
    pub exists: Option<bool>,
}

/// One entry of `transform = [...]`: a name (`"trim"`) or a one-key table
/// (`{ date = { to = "%d.%m.%Y" } }`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum TransformDef {
    Trim,
    NormalizeSpace,
    Upper,
    Lower,
    Number,
    Boolean,
    Date(DateDef),
    Datetime(DateDef),
    Codelist(CodeListRef),
    Map(BTreeMap<String, toml::Value>),
    Replace { from: String, to: String },
    Split(String),
}

impl TransformDef {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            TransformDef::Trim => "trim",
            TransformDef::NormalizeSpace => "normalize_space",
            TransformDef::Upper => "upper",
            TransformDef::Lower => "lower",
            TransformDef::Number => "number",
            TransformDef::Boolean => "boolean",
            TransformDef::Date(_) => "date",
            TransformDef::Datetime(_) => "datetime",
            TransformDef::Codelist(_) => "codelist",
            TransformDef::Map(_) => "map",
            TransformDef::Replace { .. } => "replace",
            TransformDef::Split(_) => "split",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DateDef {
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub utc: bool,
}

/// `{ codelist = "name" }` or `{ codelist = { name = "…", column = "…", unknown = "keep" } }`.
#[derive(Debug)]
pub(crate) struct CodeListRef {
    pub name: String,
    pub column: Option<String>,
    pub unknown: Unknown,
}

/// What a code list lookup does with a code that is not in the list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Unknown {
    /// Fail the field (the default: a Fachverfahren should not get codes it cannot read).
    #[default]
    Error,
    /// Pass the code through unchanged.
    Keep,
    /// Treat the field as missing.
    Omit,
}

impl<'de> Deserialize<'de> for CodeListRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Table {
            name: String,
            #[serde(default)]
            column: Option<String>,
            #[serde(default)]
            unknown: Unknown,
        }

        struct RefVisitor;

        impl<'de> Visitor<'de> for RefVisitor {
            type Value = CodeListRef;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a code list name, or a table { name = \"…\", column = \"…\", unknown = \"error|keep|omit\" }",
                )
            }

            fn visit_str<E: de::Error>(self, name: &str) -> Result<CodeListRef, E> {
                Ok(CodeListRef {
                    name: name.to_owned(),
                    column: None,
                    unknown: Unknown::Error,
                })
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<CodeListRef, A::Error> {
                let table = Table::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(CodeListRef {
                    name: table.name,
                    column: table.column,
                    unknown: table.unknown,
                })
            }
        }

        deserializer.deserialize_any(RefVisitor)
    }
}
