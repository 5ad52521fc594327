//! Applying a compiled mapping to one message: walking the [`Field`] tree against the
//! message's [`Document`] and building the output [`Object`].
//!
//! Fields are filled in mapping order. A field whose `when` does not hold is skipped
//! entirely; a field without a value is an error if `required`, else gets its `default`,
//! else is left out (or written as `null` with `missing = "null"`). Errors do not stop the
//! walk: every field is tried, so one run reports every problem in the message (up to
//! [`MAX_FIELD_ERRORS`]).
//!
//! Inside repeating groups, targets and paths in errors name the item
//! (`inhaber[2].familienname`, `(//beteiligtePerson)[2]/familienname`), so the person
//! reading the error can find the place in the message without seeing its content.

use serde_json::Value;

use super::compile::{Compiled, Condition, Field, FieldKind, Item, Source, Test};
use super::config::Missing;
use super::document::{Document, NodeRef};
use super::error::{FieldError, MAX_FIELD_ERRORS, Problem};
use super::output::{Object, Out};
use super::path::{eval, first_value};
use super::transform::{Val, run};

/// Maps `doc`; on failure returns the field errors and how many more were not kept.
pub(crate) fn apply(
    mapping: &Compiled,
    file: &str,
    doc: &Document,
) -> Result<Object, (Vec<FieldError>, usize)> {
    let mut run = Run {
        doc,
        file,
        missing: mapping.missing,
        errors: Vec::new(),
        omitted: 0,
    };
    let context = Context {
        node: doc.root_element().unwrap_or(Document::ROOT),
        path: None,
        target_prefix: String::new(),
    };
    let body = run.fields(&mapping.fields, &context);
    if run.errors.is_empty() {
        Ok(body)
    } else {
        Err((run.errors, run.omitted))
    }
}

struct Run<'a> {
    doc: &'a Document,
    file: &'a str,
    missing: Missing,
    errors: Vec<FieldError>,
    omitted: usize,
}

/// Where relative paths start, and how to name that place in errors.
struct Context {
    node: NodeRef,
    /// The context as a path expression; `None` at the top (the root element).
    path: Option<String>,
    /// Prepended to targets in errors, e.g. `inhaber[2].`.
    target_prefix: String,
}

impl Context {
    /// The full target of `field` in this context, for error messages and nested groups.
    fn target(&self, field: &Field) -> String {
        format!("{}{}", self.target_prefix, field.target_text)
    }

    /// `rel` as seen from this context, for error messages.
    fn describe(&self, rel: &str) -> String {
        match &self.path {
            None => rel.to_owned(),
            Some(_) if rel.starts_with('/') => rel.to_owned(),
            Some(context) if rel == "." => context.clone(),
            Some(context) if rel.contains('|') => format!("{context}/({rel})"),
            Some(context) => format!("{context}/{rel}"),
        }
    }
}

/// The outcome of one field: a value, nothing, or errors already recorded.
enum Filled {
    Value(Out),
    Missing,
    Failed,
}

impl Run<'_> {
    fn fields(&mut self, fields: &[Field], context: &Context) -> Object {
        let mut object = Object::default();
        for field in fields {
            self.field(field, context, &mut object);
        }
        object
    }

    fn field(&mut self, field: &Field, context: &Context, object: &mut Object) {
        if let Some(condition) = &field.when
            && !self.holds(condition, context.node)
        {
            return;
        }
        match self.fill(field, context) {
            Filled::Value(out) => object.insert(&field.target, out),
            Filled::Failed => {}
            Filled::Missing if field.required => {
                let path = where_(field, context);
                self.error(field, context.target(field), path, Problem::Missing);
            }
            Filled::Missing => {
                if let Some(default) = &field.default {
                    object.insert(&field.target, Out::Value(default.clone()));
                } else if self.missing == Missing::Null {
                    object.insert(&field.target, Out::Value(Value::Null));
                }
            }
        }
    }

    fn fill(&mut self, field: &Field, context: &Context) -> Filled {
        match &field.kind {
            FieldKind::Value { source, transforms } => {
                let text = match source {
                    Source::Constant(value) => return Filled::Value(Out::Value(value.clone())),
                    Source::Path(path) => first_value(self.doc, &path.expr, context.node)
                        .map(|v| v.trim().to_owned())
                        .filter(|v| !v.is_empty()),
                    Source::Concat { parts, separator } => {
                        let found: Vec<String> = parts
                            .iter()
                            .filter_map(|p| first_value(self.doc, &p.expr, context.node))
                            .map(|v| v.trim().to_owned())
                            .filter(|v| !v.is_empty())
                            .collect();
                        (!found.is_empty()).then(|| found.join(separator))
                    }
                };
                let Some(text) = text else {
                    return Filled::Missing;
                };
                match run(transforms, Val::Text(text)) {
                    Ok(Some(value)) => Filled::Value(Out::Value(value.into_json())),
                    Ok(None) => Filled::Missing,
                    Err(problem) => {
                        let path = where_(field, context);
                        self.error(field, context.target(field), path, problem);
                        Filled::Failed
                    }
                }
            }
            FieldKind::Each { path, item } => {
                let errors_before = self.error_count();
                let target = context.target(field);
                let nodes = eval(self.doc, &path.expr, context.node);
                let each = context.describe(&path.text);
                let mut items = Vec::with_capacity(nodes.len());
                for (i, &node) in nodes.iter().enumerate() {
                    let number = i + 1;
                    let item_path = format!("({each})[{number}]");
                    match item {
                        Item::Value(transforms) => {
                            let text = self.doc.string_value(node);
                            let text = text.trim();
                            if text.is_empty() {
                                continue;
                            }
                            match run(transforms, Val::Text(text.to_owned())) {
                                Ok(Some(value)) => items.push(Out::Value(value.into_json())),
                                Ok(None) => {}
                                Err(problem) => self.error(
                                    field,
                                    format!("{target}[{number}]"),
                                    item_path,
                                    problem,
                                ),
                            }
                        }
                        Item::Object(fields) => {
                            let inner = Context {
                                node,
                                path: Some(item_path),
                                target_prefix: format!("{target}[{number}]."),
                            };
                            let object = self.fields(fields, &inner);
                            if !object.is_empty() {
                                items.push(Out::Object(object));
                            }
                        }
                    }
                }
                if self.error_count() > errors_before {
                    Filled::Failed
                } else if items.is_empty() {
                    Filled::Missing
                } else {
                    Filled::Value(Out::Array(items))
                }
            }
            FieldKind::Group { path, fields } => {
                let target = context.target(field);
                let inner = match path {
                    Some(path) => {
                        let Some(&node) = eval(self.doc, &path.expr, context.node).first() else {
                            return Filled::Missing;
                        };
                        Context {
                            node,
                            path: Some(format!("({})[1]", context.describe(&path.text))),
                            target_prefix: format!("{target}."),
                        }
                    }
                    None => Context {
                        node: context.node,
                        path: context.path.clone(),
                        target_prefix: format!("{target}."),
                    },
                };
                let errors_before = self.error_count();
                let object = self.fields(fields, &inner);
                if self.error_count() > errors_before {
                    Filled::Failed
                } else if object.is_empty() {
                    Filled::Missing
                } else {
                    Filled::Value(Out::Object(object))
                }
            }
        }
    }

    fn holds(&self, condition: &Condition, node: NodeRef) -> bool {
        let nodes = eval(self.doc, &condition.path.expr, node);
        let values = || nodes.iter().map(|&n| self.doc.string_value(n));
        match &condition.test {
            Test::Exists(expected) => nodes.is_empty() != *expected,
            Test::Equals(expected) => values().any(|v| v.trim() == expected),
            Test::NotEquals(unwanted) => !values().any(|v| v.trim() == unwanted),
            Test::In(allowed) => values().any(|v| allowed.iter().any(|a| a == v.trim())),
        }
    }

    fn error_count(&self) -> usize {
        self.errors.len() + self.omitted
    }

    fn error(&mut self, field: &Field, target: String, path: String, problem: Problem) {
        if self.errors.len() >= MAX_FIELD_ERRORS {
            self.omitted += 1;
            return;
        }
        self.errors.push(FieldError {
            file: self.file.to_owned(),
            line: field.line,
            target,
            path,
            problem,
        });
    }
}

/// The path of a field as seen from `context`, for "missing at …" messages.
fn where_(field: &Field, context: &Context) -> String {
    match &field.kind {
        FieldKind::Value {
            source: Source::Path(path),
            ..
        }
        | FieldKind::Each { path, .. }
        | FieldKind::Group {
            path: Some(path), ..
        } => context.describe(&path.text),
        FieldKind::Value {
            source: Source::Concat { parts, .. },
            ..
        } => {
            let parts: Vec<String> = parts.iter().map(|p| context.describe(&p.text)).collect();
            format!("concat({})", parts.join(", "))
        }
        FieldKind::Value {
            source: Source::Constant(_),
            ..
        }
        | FieldKind::Group { path: None, .. } => context.describe("."),
    }
}
