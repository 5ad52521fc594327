//! Compiling a mapping file: everything that can be checked without a message is checked
//! here, once, when the mapping is loaded.
//!
//! Path expressions are parsed, code lists read and indexed, date formats parsed and
//! matched against each other, transform pipelines type-checked, and targets checked for
//! conflicts (`a` cannot be a value in one field and an object in another). What comes
//! out ([`Field`] trees) is plain immutable data, shared by all workers; applying it to a
//! message ([`super::apply`]) only reads it.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use toml::Spanned;

use super::codelist::CodeList;
use super::config::{self, FieldDef, File, Missing, TransformDef, WhenDef};
use super::dates::Format;
use super::error::MappingError;
use super::output::OutputFormat;
use super::path::PathExpr;
use super::transform::{Transform, check_pipeline};

/// A mapping ready to run.
#[derive(Debug)]
pub(crate) struct Compiled {
    pub name: String,
    pub description: Option<String>,
    pub message_type: Option<String>,
    pub output: OutputFormat,
    pub missing: Missing,
    pub xml_root: Option<(String, Option<String>)>,
    pub fields: Vec<Field>,
}

/// One compiled `[[field]]`.
#[derive(Debug)]
pub(crate) struct Field {
    pub target: Vec<String>,
    /// The target as written, for error messages.
    pub target_text: String,
    /// Line of `target` in the mapping file.
    pub line: usize,
    pub when: Option<Condition>,
    pub required: bool,
    pub default: Option<Value>,
    pub kind: FieldKind,
}

#[derive(Debug)]
pub(crate) enum FieldKind {
    /// One value from `path`, `concat` or `value`.
    Value {
        source: Source,
        transforms: Vec<Transform>,
    },
    /// `each`: an array, one item per node found.
    Each { path: CompiledPath, item: Item },
    /// `fields` (with an optional `path` as the new context): an object.
    Group {
        path: Option<CompiledPath>,
        fields: Vec<Field>,
    },
}

#[derive(Debug)]
pub(crate) enum Item {
    Value(Vec<Transform>),
    Object(Vec<Field>),
}

#[derive(Debug)]
pub(crate) enum Source {
    Path(CompiledPath),
    Constant(Value),
    Concat {
        parts: Vec<CompiledPath>,
        separator: String,
    },
}

/// A parsed path with its text as written.
#[derive(Debug)]
pub(crate) struct CompiledPath {
    pub expr: PathExpr,
    pub text: String,
}

#[derive(Debug)]
pub(crate) struct Condition {
    pub path: CompiledPath,
    pub test: Test,
}

#[derive(Debug)]
pub(crate) enum Test {
    Exists(bool),
    Equals(String),
    NotEquals(String),
    In(Vec<String>),
}

pub(crate) fn compile(source: &str, file: &str, base_dir: &Path) -> Result<Compiled, MappingError> {
    let parsed: File = toml::from_str(source).map_err(|e| MappingError::Syntax {
        file: file.to_owned(),
        line: e.span().map_or(0, |span| line_of(source, span.start)),
        message: e.message().trim().to_owned(),
    })?;
    let mut compiler = Compiler {
        file: file.to_owned(),
        source,
        base_dir: base_dir.to_owned(),
        lists: HashMap::new(),
        files: HashMap::new(),
        tables: HashMap::new(),
        output: parsed
            .mapping
            .get_ref()
            .output
            .unwrap_or(OutputFormat::Json),
    };
    let header_line = compiler.line(parsed.mapping.span());
    let header = parsed.mapping.into_inner();

    let xml_root = match (compiler.output, header.xml_root) {
        (OutputFormat::Xml, Some(root)) => {
            if !is_xml_name(root.get_ref()) {
                return Err(compiler.invalid(
                    root.span(),
                    None,
                    format!("xml_root {:?} is not an XML element name", root.get_ref()),
                ));
            }
            Some((root.into_inner(), header.xml_namespace))
        }
        (OutputFormat::Xml, None) => {
            return Err(compiler.invalid_at(
                header_line,
                None,
                "output = \"xml\" needs `xml_root`, the name of the document element".into(),
            ));
        }
        (OutputFormat::Json, Some(root)) => {
            return Err(compiler.invalid(
                root.span(),
                None,
                "xml_root only applies to output = \"xml\"".into(),
            ));
        }
        (OutputFormat::Json, None) => None,
    };

    for (name, def) in &parsed.codelists {
        compiler.load_list(name, def)?;
    }
    let fields = compiler.fields(&parsed.field)?;
    if fields.is_empty() {
        return Err(compiler.invalid_at(
            header_line,
            None,
            "the mapping has no fields; add [[field]] entries".into(),
        ));
    }
    Ok(Compiled {
        name: header.name,
        description: header.description,
        message_type: header.message_type.map(Spanned::into_inner),
        output: compiler.output,
        missing: header.missing.unwrap_or_default(),
        xml_root,
        fields,
    })
}

fn line_of(source: &str, offset: usize) -> usize {
    let end = offset.min(source.len());
    1 + source.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

/// A code list declared in `[codelists.<name>]`.
struct DeclaredList {
    list: Arc<CodeList>,
    key: String,
    default_table: Arc<HashMap<String, String>>,
}

struct Compiler<'s> {
    file: String,
    source: &'s str,
    base_dir: PathBuf,
    lists: HashMap<String, DeclaredList>,
    /// Code list files already read, by path.
    files: HashMap<PathBuf, Arc<CodeList>>,
    /// Lookup tables by (code list name, value column), shared between fields.
    tables: HashMap<(String, String), Arc<HashMap<String, String>>>,
    output: OutputFormat,
}

/// What a target holds, for conflict checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Value,
    Object,
}

impl Compiler<'_> {
    fn line(&self, span: Range<usize>) -> usize {
        line_of(self.source, span.start)
    }

    fn invalid(&self, span: Range<usize>, field: Option<&str>, message: String) -> MappingError {
        self.invalid_at(self.line(span), field, message)
    }

    fn invalid_at(&self, line: usize, field: Option<&str>, message: String) -> MappingError {
        MappingError::Invalid {
            file: self.file.clone(),
            line,
            field: field.map(str::to_owned),
            message,
        }
    }

    fn load_list(
        &mut self,
        name: &str,
        def: &Spanned<config::CodeListDef>,
    ) -> Result<(), MappingError> {
        let span = def.span();
        let def = def.get_ref();
        let (file, line) = (self.file.clone(), self.line(span));
        let fail = |message: String| MappingError::Invalid {
            file: file.clone(),
            line,
            field: None,
            message: format!("code list {name}: {message}"),
        };
        let path = self.base_dir.join(&def.file);
        // Two names for the same file share one parse.
        let list = match self.files.get(&path) {
            Some(list) => list.clone(),
            None => {
                let list = Arc::new(
                    CodeList::load(&path).map_err(|e| fail(format!("{}: {e}", def.file)))?,
                );
                self.files.insert(path, list.clone());
                list
            }
        };
        let key = def
            .key
            .clone()
            .unwrap_or_else(|| list.default_key().to_owned());
        if !list.columns().contains(&key) {
            return Err(fail(format!(
                "{} has no column {key:?} (columns: {})",
                def.file,
                list.columns().join(", ")
            )));
        }
        let value = match &def.value {
            Some(value) => value.clone(),
            None => list
                .default_value(&key)
                .ok_or_else(|| fail(format!("{} has only one column; name `value`", def.file)))?
                .to_owned(),
        };
        let table = Arc::new(
            list.table(&key, &value)
                .map_err(|e| fail(format!("{}: {e}", def.file)))?,
        );
        self.tables.insert((name.to_owned(), value), table.clone());
        self.lists.insert(
            name.to_owned(),
            DeclaredList {
                list,
                key,
                default_table: table,
            },
        );
        Ok(())
    }

    fn fields(&mut self, defs: &[Spanned<FieldDef>]) -> Result<Vec<Field>, MappingError> {
        let mut shapes: Vec<(Vec<String>, Shape, usize)> = Vec::new();
        let mut fields = Vec::with_capacity(defs.len());
        for def in defs {
            let field = self.field(def.get_ref())?;
            let shape = match field.kind {
                FieldKind::Group { .. } => Shape::Object,
                _ => Shape::Value,
            };
            self.check_conflicts(&shapes, &field, shape)?;
            shapes.push((field.target.clone(), shape, field.line));
            fields.push(field);
        }
        Ok(fields)
    }

    fn check_conflicts(
        &self,
        seen: &[(Vec<String>, Shape, usize)],
        field: &Field,
        shape: Shape,
    ) -> Result<(), MappingError> {
        for (other, other_shape, other_line) in seen {
            let common = other
                .iter()
                .zip(&field.target)
                .take_while(|(a, b)| a == b)
                .count();
            let conflict = if common == other.len() && common == field.target.len() {
                shape != *other_shape
            } else if common == other.len() {
                // `other` is a prefix of this target.
                *other_shape == Shape::Value
            } else if common == field.target.len() {
                shape == Shape::Value
            } else {
                false
            };
            if conflict {
                return Err(self.invalid_at(
                    field.line,
                    Some(&field.target_text),
                    format!(
                        "conflicts with target \"{}\" on line {other_line}: a target is either a value or an object with further fields, not both",
                        other.join(".")
                    ),
                ));
            }
        }
        Ok(())
    }

    fn field(&mut self, def: &FieldDef) -> Result<Field, MappingError> {
        let target_text = def.target.get_ref().clone();
        let line = self.line(def.target.span());
        let here = Some(target_text.as_str());
        let target = self.target(&def.target)?;

        let sources = [
            def.path.as_ref().map(|_| "path"),
            def.value.as_ref().map(|_| "value"),
            def.concat.as_ref().map(|_| "concat"),
            def.each.as_ref().map(|_| "each"),
        ];
        let given: Vec<&str> = sources.iter().flatten().copied().collect();
        if given.len() > 1 {
            return Err(self.invalid_at(
                line,
                here,
                format!(
                    "use only one of `path`, `value`, `concat` and `each` (found {})",
                    given
                        .iter()
                        .map(|s| format!("`{s}`"))
                        .collect::<Vec<_>>()
                        .join(" and ")
                ),
            ));
        }
        if given.is_empty() && def.fields.is_none() {
            return Err(self.invalid_at(
                line,
                here,
                "a field needs `path`, `value`, `concat`, `each` or `fields`".into(),
            ));
        }
        if def.fields.is_some() && (def.concat.is_some() || def.value.is_some()) {
            return Err(self.invalid_at(
                line,
                here,
                "`fields` makes an object: combine it with `path` (the group's element) or `each`, not with `concat` or `value`".into(),
            ));
        }
        if def.separator.is_some() && def.concat.is_none() {
            let span = def
                .separator
                .as_ref()
                .map(Spanned::span)
                .unwrap_or_default();
            return Err(self.invalid(span, here, "`separator` belongs to `concat`".into()));
        }
        if def.required && def.default.is_some() {
            return Err(self.invalid_at(
                line,
                here,
                "a field with a `default` is never missing; drop `required` or `default`".into(),
            ));
        }
        let has_transforms = def
            .transform
            .as_ref()
            .is_some_and(|t| !t.get_ref().is_empty());
        if let Some(value) = &def.value
            && (def.required || def.default.is_some() || has_transforms)
        {
            return Err(self.invalid(
                value.span(),
                here,
                "a constant `value` cannot have `required`, `default` or `transform`".into(),
            ));
        }
        if def.fields.is_some() && has_transforms {
            return Err(self.invalid_at(
                line,
                here,
                "`transform` applies to values; a field with `fields` makes an object".into(),
            ));
        }

        let when = def
            .when
            .as_ref()
            .map(|w| self.condition(w, here))
            .transpose()?;
        let default = def
            .default
            .as_ref()
            .map(|d| self.json(d, here))
            .transpose()?;
        let transforms = match &def.transform {
            Some(list) => self.transforms(list.get_ref(), here)?,
            None => Vec::new(),
        };

        let kind = if let Some(each) = &def.each {
            let path = self.path(each, here)?;
            let item = match &def.fields {
                Some(fields) => Item::Object(self.item_fields(fields, here)?),
                None => Item::Value(transforms),
            };
            FieldKind::Each { path, item }
        } else if let Some(fields) = &def.fields {
            let path = def.path.as_ref().map(|p| self.path(p, here)).transpose()?;
            FieldKind::Group {
                path,
                fields: self.item_fields(fields, here)?,
            }
        } else if let Some(path) = &def.path {
            FieldKind::Value {
                source: Source::Path(self.path(path, here)?),
                transforms,
            }
        } else if let Some(concat) = &def.concat {
            if concat.get_ref().is_empty() {
                return Err(self.invalid(
                    concat.span(),
                    here,
                    "`concat` needs at least one path".into(),
                ));
            }
            let parts = concat
                .get_ref()
                .iter()
                .map(|p| self.path(p, here))
                .collect::<Result<_, _>>()?;
            let separator = def
                .separator
                .as_ref()
                .map(|s| s.get_ref().clone())
                .unwrap_or_else(|| " ".to_owned());
            FieldKind::Value {
                source: Source::Concat { parts, separator },
                transforms,
            }
        } else if let Some(value) = &def.value {
            FieldKind::Value {
                source: Source::Constant(self.json(value, here)?),
                transforms: Vec::new(),
            }
        } else {
            unreachable!("checked above: some source is given");
        };

        let is_value = matches!(kind, FieldKind::Value { .. });
        let last = target.last().map(String::as_str).unwrap_or_default();
        if self.output == OutputFormat::Xml
            && !is_value
            && (last.starts_with('@') || last == "#text")
        {
            return Err(self.invalid_at(
                line,
                here,
                format!("{last:?} is an attribute or text: it takes a single value, not `each` or `fields`"),
            ));
        }
        Ok(Field {
            target,
            target_text,
            line,
            when,
            required: def.required,
            default,
            kind,
        })
    }

    fn item_fields(
        &mut self,
        fields: &Spanned<Vec<Spanned<FieldDef>>>,
        here: Option<&str>,
    ) -> Result<Vec<Field>, MappingError> {
        if fields.get_ref().is_empty() {
            return Err(self.invalid(fields.span(), here, "`fields` is empty".into()));
        }
        self.fields(fields.get_ref())
    }

    fn target(&self, target: &Spanned<String>) -> Result<Vec<String>, MappingError> {
        let text = target.get_ref();
        let here = Some(text.as_str());
        let segments: Vec<String> = text.split('.').map(str::to_owned).collect();
        if segments.iter().any(|s| s.trim().is_empty()) {
            return Err(self.invalid(
                target.span(),
                here,
                "a target is one or more names separated by dots, like \"betrieb.anschrift.ort\""
                    .into(),
            ));
        }
        if self.output == OutputFormat::Xml {
            for (i, segment) in segments.iter().enumerate() {
                let last = i + 1 == segments.len();
                let name = segment.strip_prefix('@').unwrap_or(segment);
                let special_ok = segment == "#text" || segment.starts_with('@');
                if (special_ok && !last) || (segment != "#text" && !is_xml_name(name)) {
                    return Err(self.invalid(
                        target.span(),
                        here,
                        format!(
                            "{segment:?} cannot be used in XML output: use element names, and `@name` or `#text` only at the end"
                        ),
                    ));
                }
            }
        }
        Ok(segments)
    }

    fn path(
        &self,
        path: &Spanned<String>,
        here: Option<&str>,
    ) -> Result<CompiledPath, MappingError> {
        let text = path.get_ref();
        let expr = PathExpr::parse(text)
            .map_err(|e| self.invalid(path.span(), here, format!("path: {e}")))?;
        Ok(CompiledPath {
            expr,
            text: text.clone(),
        })
    }

    fn condition(
        &self,
        when: &Spanned<WhenDef>,
        here: Option<&str>,
    ) -> Result<Condition, MappingError> {
        let def = when.get_ref();
        let path = self.path(&def.path, here)?;
        let tests = [
            def.equals.as_ref().map(|v| Test::Equals(v.clone())),
            def.not_equals.as_ref().map(|v| Test::NotEquals(v.clone())),
            def.one_of.as_ref().map(|v| Test::In(v.clone())),
            def.exists.map(Test::Exists),
        ];
        let mut tests = tests.into_iter().flatten();
        let test = tests.next().unwrap_or(Test::Exists(true));
        if tests.next().is_some() {
            return Err(self.invalid(
                when.span(),
                here,
                "`when` takes one of `equals`, `not_equals`, `in` and `exists`".into(),
            ));
        }
        Ok(Condition { path, test })
    }

    fn transforms(
        &mut self,
        defs: &[Spanned<TransformDef>],
        here: Option<&str>,
    ) -> Result<Vec<Transform>, MappingError> {
        let mut out = Vec::with_capacity(defs.len());
        for def in defs {
            let transform = self.transform(def.get_ref()).map_err(|message| {
                self.invalid(
                    def.span(),
                    here,
                    format!("transform `{}`: {message}", def.get_ref().name()),
                )
            })?;
            out.push(transform);
        }
        let names: Vec<&str> = defs.iter().map(|d| d.get_ref().name()).collect();
        check_pipeline(&out, &names).map_err(|message| {
            let span = defs.first().map(Spanned::span).unwrap_or_default();
            self.invalid(span, here, message)
        })?;
        Ok(out)
    }

    fn transform(&mut self, def: &TransformDef) -> Result<Transform, String> {
        Ok(match def {
            TransformDef::Trim => Transform::Trim,
            TransformDef::NormalizeSpace => Transform::NormalizeSpace,
            TransformDef::Upper => Transform::Upper,
            TransformDef::Lower => Transform::Lower,
            TransformDef::Number => Transform::Number,
            TransformDef::Boolean => Transform::Boolean,
            TransformDef::Date(date) => date_transform(date, "xs:date")?,
            TransformDef::Datetime(date) => date_transform(date, "xs:dateTime")?,
            TransformDef::Codelist(reference) => {
                let Some(declared) = self.lists.get(&reference.name) else {
                    let mut known: Vec<&str> = self.lists.keys().map(String::as_str).collect();
                    known.sort_unstable();
                    return Err(if known.is_empty() {
                        format!(
                            "no code list {:?} is declared; add [codelists.{}] with its file",
                            reference.name, reference.name
                        )
                    } else {
                        format!(
                            "no code list {:?} is declared (declared: {})",
                            reference.name,
                            known.join(", ")
                        )
                    });
                };
                let table = match &reference.column {
                    None => declared.default_table.clone(),
                    Some(column) => {
                        let cache_key = (reference.name.clone(), column.clone());
                        match self.tables.get(&cache_key) {
                            Some(table) => table.clone(),
                            None => {
                                let table = Arc::new(declared.list.table(&declared.key, column)?);
                                self.tables.insert(cache_key, table.clone());
                                table
                            }
                        }
                    }
                };
                Transform::CodeList {
                    name: reference.name.clone(),
                    table,
                    unknown: reference.unknown,
                }
            }
            TransformDef::Map(entries) => {
                if entries.is_empty() {
                    return Err("the map is empty".into());
                }
                let mut table = HashMap::with_capacity(entries.len());
                let mut fallback = None;
                for (key, value) in entries {
                    let value = toml_to_json(value)?;
                    if key == "*" {
                        fallback = Some(value);
                    } else {
                        table.insert(key.clone(), value);
                    }
                }
                Transform::Map { table, fallback }
            }
            TransformDef::Replace { from, to } => {
                if from.is_empty() {
                    return Err("`from` is empty".into());
                }
                Transform::Replace {
                    from: from.clone(),
                    to: to.clone(),
                }
            }
            TransformDef::Split(separator) => {
                if separator.is_empty() {
                    return Err("the separator is empty".into());
                }
                Transform::Split(separator.clone())
            }
        })
    }

    fn json(
        &self,
        value: &Spanned<toml::Value>,
        here: Option<&str>,
    ) -> Result<Value, MappingError> {
        toml_to_json(value.get_ref()).map_err(|message| self.invalid(value.span(), here, message))
    }
}

fn date_transform(def: &config::DateDef, default: &str) -> Result<Transform, String> {
    let from_text = def.from.clone().unwrap_or_else(|| default.to_owned());
    let from = Format::parse(&from_text, true).map_err(|e| format!("from: {e}"))?;
    let to_text = def.to.as_deref().unwrap_or(default);
    let to = Format::parse(to_text, false).map_err(|e| format!("to: {e}"))?;
    let (provides, needs) = (from.provides(), to.needs());
    if needs.time && !provides.time {
        return Err(format!(
            "`to` ({to_text}) writes a time of day, but `from` ({from_text}) reads none"
        ));
    }
    if needs.offset && !provides.offset {
        return Err(format!(
            "`to` ({to_text}) writes a time zone, but `from` ({from_text}) reads none"
        ));
    }
    if def.utc && !(provides.offset && provides.time) {
        return Err(format!(
            "`utc = true` needs a `from` format with a time of day and a time zone (like xs:dateTime), not {from_text}"
        ));
    }
    Ok(Transform::Date {
        from,
        from_text,
        to,
        utc: def.utc,
    })
}

fn toml_to_json(value: &toml::Value) -> Result<Value, String> {
    Ok(match value {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .ok_or("infinite or NaN numbers cannot be written as JSON")?,
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => {
            Value::Array(items.iter().map(toml_to_json).collect::<Result<_, _>>()?)
        }
        toml::Value::Table(table) => Value::Object(
            table
                .iter()
                .map(|(k, v)| Ok((k.clone(), toml_to_json(v)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

/// An XML element name without a prefix.
fn is_xml_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !name.to_ascii_lowercase().starts_with("xml")
}
