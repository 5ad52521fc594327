//! Code lists in OASIS genericode 1.0, the format XRepository publishes every XÖV code
//! list in (AGS municipality keys, DVDV prefixes, XBau message types, …).
//!
//! A mapping names a code list file, a key column and a value column; the `codelist`
//! transform then replaces a code from the message with the value from that row
//! (`12052000` → `Cottbus/Chóśebuz, Stadt`). Files are read once, when the mapping is
//! loaded, through the same hardened reader as messages, and walked with the mapping
//! engine's own path expressions.
//!
//! Supported: `CodeList/ColumnSet/Column[@Id]`, `Key/ColumnRef[@Ref]` (the recommended key
//! column), `SimpleCodeList/Row/Value[@ColumnRef]/SimpleValue`, and `Value` elements
//! without `ColumnRef` (they take the column after the previous value, as genericode
//! specifies). External column sets (`ColumnSetRef`) are not.

use std::collections::HashMap;
use std::path::Path;

use super::document::{Document, NodeRef, ReadError};
use super::path::{PathExpr, eval, first_value};
use crate::Limits;

/// A genericode code list: its columns and rows.
#[derive(Debug)]
pub(crate) struct CodeList {
    columns: Vec<String>,
    /// The first `Key` of the column set, genericode's recommended key column.
    key_column: Option<String>,
    rows: Vec<Vec<Option<String>>>,
}

impl CodeList {
    /// Reads a genericode file. Errors are sentences without a file name (the caller
    /// adds it).
    pub(crate) fn load(path: &Path) -> Result<CodeList, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read it: {e}"))?;
        Self::parse(&bytes)
    }

    pub(crate) fn parse(xml: &[u8]) -> Result<CodeList, String> {
        let (doc, _) = Document::parse(xml, &Limits::default()).map_err(|e| match e {
            ReadError::Refused(e) => format!("not readable XML: {e}"),
            ReadError::Internal { offset } => format!("not readable XML (at byte offset {offset})"),
        })?;
        let root = doc
            .root_element()
            .filter(|&r| matches!(r, NodeRef::Node(id) if doc.local_name(id) == Some("CodeList")))
            .ok_or("not a genericode code list (the root element is not <CodeList>)")?;
        let path = |text: &str| PathExpr::parse(text).expect("static path expressions parse");

        let columns: Vec<String> = eval(&doc, &path("ColumnSet/Column/@Id"), root)
            .into_iter()
            .map(|n| doc.string_value(n).trim().to_owned())
            .collect();
        if columns.is_empty() {
            return Err("the code list defines no columns (ColumnSet/Column)".into());
        }
        let key_column = first_value(&doc, &path("ColumnSet/Key[1]/ColumnRef/@Ref"), root)
            .map(|k| k.trim().to_owned());

        let value_path = path("Value");
        let column_ref = path("@ColumnRef");
        let simple_value = path("SimpleValue");
        let mut rows = Vec::new();
        for row in eval(&doc, &path("SimpleCodeList/Row"), root) {
            let mut cells = vec![None; columns.len()];
            let mut next = 0;
            for value in eval(&doc, &value_path, row) {
                let index = match first_value(&doc, &column_ref, value) {
                    Some(name) => {
                        let name = name.trim();
                        columns.iter().position(|c| c == name).ok_or_else(|| {
                            format!("a row refers to the undefined column {name:?}")
                        })?
                    }
                    None => next,
                };
                if index >= columns.len() {
                    return Err("a row has more values than the code list has columns".into());
                }
                cells[index] = first_value(&doc, &simple_value, value).map(|v| v.trim().to_owned());
                next = index + 1;
            }
            rows.push(cells);
        }
        Ok(CodeList {
            columns,
            key_column,
            rows,
        })
    }

    /// The column codes are looked up in when the mapping does not say: the recommended
    /// key, else the first column.
    pub(crate) fn default_key(&self) -> &str {
        self.key_column.as_deref().unwrap_or(&self.columns[0])
    }

    /// The column values are taken from when the mapping does not say: the first column
    /// that is not `key`.
    pub(crate) fn default_value(&self, key: &str) -> Option<&str> {
        self.columns.iter().find(|c| *c != key).map(String::as_str)
    }

    pub(crate) fn columns(&self) -> &[String] {
        &self.columns
    }

    /// A lookup table from `key` column to `value` column. Rows without a key or without
    /// a value are left out; when a key repeats, the first row wins.
    pub(crate) fn table(&self, key: &str, value: &str) -> Result<HashMap<String, String>, String> {
        let column = |name: &str| {
            self.columns.iter().position(|c| c == name).ok_or_else(|| {
                format!(
                    "it has no column {name:?} (columns: {})",
                    self.columns.join(", ")
                )
            })
        };
        let (key, value) = (column(key)?, column(value)?);
        let mut table = HashMap::with_capacity(self.rows.len());
        for row in &self.rows {
            if let (Some(k), Some(v)) = (&row[key], &row[value]) {
                table.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        Ok(table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = r#"<gc:CodeList xmlns:gc="http://docs.oasis-open.org/codelist/ns/genericode/1.0/">
  <Identification><ShortName>t</ShortName></Identification>
  <ColumnSet>
    <Column Id="code" Use="required"/>
    <Column Id="name" Use="required"/>
    <Column Id="hint" Use="optional"/>
    <Key Id="k"><ColumnRef Ref="code"/></Key>
  </ColumnSet>
  <SimpleCodeList>
    <Row><Value ColumnRef="code"><SimpleValue>01</SimpleValue></Value><Value ColumnRef="name"><SimpleValue>Eins</SimpleValue></Value><Value ColumnRef="hint"/></Row>
    <Row><Value><SimpleValue>02</SimpleValue></Value><Value><SimpleValue> Zwei </SimpleValue></Value></Row>
    <Row><Value ColumnRef="name"><SimpleValue>ohne Code</SimpleValue></Value></Row>
    <Row><Value ColumnRef="code"><SimpleValue>01</SimpleValue></Value><Value ColumnRef="name"><SimpleValue>doppelt</SimpleValue></Value></Row>
  </SimpleCodeList>
</gc:CodeList>"#;

    #[test]
    fn reads_columns_rows_and_positional_values() {
        let list = CodeList::parse(LIST.as_bytes()).unwrap();
        assert_eq!(list.columns(), ["code", "name", "hint"]);
        assert_eq!(list.default_key(), "code");
        assert_eq!(list.default_value("code"), Some("name"));
        let table = list.table("code", "name").unwrap();
        assert_eq!(table.len(), 2);
        assert_eq!(table["01"], "Eins");
        assert_eq!(table["02"], "Zwei");
        let reverse = list.table("name", "code").unwrap();
        assert_eq!(reverse["Zwei"], "02");
        assert!(
            list.table("code", "nope")
                .unwrap_err()
                .contains("no column \"nope\"")
        );
    }

    #[test]
    fn refuses_what_is_not_genericode() {
        assert!(
            CodeList::parse(b"<x/>")
                .unwrap_err()
                .contains("not a genericode")
        );
        assert!(
            CodeList::parse(b"<CodeList/>")
                .unwrap_err()
                .contains("no columns")
        );
        assert!(
            CodeList::parse(b"<!DOCTYPE x><x/>")
                .unwrap_err()
                .contains("DOCTYPE")
        );
        let undefined = LIST.replace("ColumnRef=\"hint\"", "ColumnRef=\"other\"");
        assert!(
            CodeList::parse(undefined.as_bytes())
                .unwrap_err()
                .contains("undefined column")
        );
    }

    #[test]
    fn reads_the_shared_fixtures() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/mappings/codelists");
        let ags = CodeList::load(&dir.join("ags_2026-06-30.xml")).unwrap();
        assert_eq!(ags.default_key(), "SCHLUESSEL");
        let table = ags.table("SCHLUESSEL", "Bezeichnung").unwrap();
        assert!(table.len() > 10_000);
        assert_eq!(table["12052000"], "Cottbus/Chóśebuz, Stadt");
    }
}
