//! OASIS XML catalogs: how a schema pack maps the absolute URLs its schemas import
//! (`http://xoev.de/schemata/code/1_0/xoev-code.xsd`) to files inside the pack.
//!
//! XÖV schemas import each other by URL. libxml2 would fetch those over the network;
//! amtsbote never does. Each pack carries a `catalog.xml` in the standard OASIS format
//! (the same file works with `XML_CATALOG_FILES=catalog.xml xmllint ...`), and the
//! validator resolves every URL through it before libxml2 gets to see any bytes.
//!
//! Supported entries: `uri`, `system`, `rewriteURI`, `rewriteSystem`, inside `catalog`
//! or `group`. Every target must be a relative reference that stays inside the pack;
//! anything else (other entry types, `nextCatalog`, `xml:base`, absolute targets) is a
//! configuration error rather than silently ignored.

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

/// The namespace of OASIS XML catalogs.
const CATALOG_NS: &[u8] = b"urn:oasis:names:tc:entity:xmlns:xml:catalog";

/// A parsed catalog: URL → pack path.
#[derive(Debug, Default, Clone)]
pub(crate) struct Catalog {
    exact: Vec<(String, String)>,
    rewrites: Vec<(String, String)>,
}

impl Catalog {
    /// Reads a catalog. `dir` is the catalog's folder inside the pack (`""` for the pack
    /// root); relative targets are resolved against it.
    pub fn parse(xml: &[u8], dir: &str) -> Result<Self, String> {
        let mut reader = NsReader::from_reader(xml);
        let mut catalog = Catalog::default();
        let mut depth = 0usize;
        loop {
            let event = reader
                .read_resolved_event()
                .map_err(|e| format!("not well-formed XML: {e}"))?;
            match event {
                (ns, Event::Start(tag)) => {
                    catalog.entry(&ns, &tag, dir, depth)?;
                    depth += 1;
                }
                (ns, Event::Empty(tag)) => catalog.entry(&ns, &tag, dir, depth)?,
                (_, Event::End(_)) => depth = depth.saturating_sub(1),
                (_, Event::DocType(_)) => return Err("a catalog must not have a DOCTYPE".into()),
                (_, Event::Eof) => break,
                _ => {}
            }
        }
        if depth != 0 {
            return Err("not well-formed XML: unclosed element".into());
        }
        Ok(catalog)
    }

    fn entry(
        &mut self,
        ns: &ResolveResult<'_>,
        tag: &BytesStart<'_>,
        dir: &str,
        depth: usize,
    ) -> Result<(), String> {
        let in_catalog_ns = matches!(ns, ResolveResult::Bound(n) if n.as_ref() == CATALOG_NS);
        let local = String::from_utf8_lossy(tag.local_name().as_ref()).into_owned();
        if depth == 0 {
            return if in_catalog_ns && local == "catalog" {
                Ok(())
            } else {
                Err(format!(
                    "the root element must be <catalog> in namespace {}",
                    String::from_utf8_lossy(CATALOG_NS)
                ))
            };
        }
        if !in_catalog_ns {
            // The OASIS specification says elements of other namespaces are ignored.
            return Ok(());
        }
        let attr = |name: &str| -> Result<Option<String>, String> {
            for a in tag.attributes() {
                let a = a.map_err(|e| format!("malformed attribute: {e}"))?;
                if a.key.as_ref() == b"xml:base" {
                    return Err("xml:base is not supported in pack catalogs".into());
                }
                if a.key.as_ref() == name.as_bytes() {
                    let value = a
                        .unescape_value()
                        .map_err(|e| format!("malformed attribute value: {e}"))?;
                    return Ok(Some(value.trim().to_owned()));
                }
            }
            Ok(None)
        };
        let required =
            |name: &str| attr(name)?.ok_or_else(|| format!("<{local}> needs the attribute {name}"));
        match local.as_str() {
            "group" => {
                attr("xml:base")?;
            }
            "uri" => {
                let target = resolve_target(dir, &required("uri")?)?;
                self.exact.push((required("name")?, target));
            }
            "system" => {
                let target = resolve_target(dir, &required("uri")?)?;
                self.exact.push((required("systemId")?, target));
            }
            "rewriteURI" | "rewriteSystem" => {
                let start = if local == "rewriteURI" {
                    required("uriStartString")?
                } else {
                    required("systemIdStartString")?
                };
                let prefix = required("rewritePrefix")?;
                let prefix = if prefix.is_empty() || prefix == "." || prefix == "./" {
                    dir.to_owned()
                } else {
                    resolve_target(dir, prefix.trim_end_matches('/'))?
                };
                self.rewrites.push((start, prefix));
            }
            other => {
                return Err(format!(
                    "catalog entry <{other}> is not supported in schema packs (use uri, system, rewriteURI or rewriteSystem)"
                ));
            }
        }
        Ok(())
    }

    /// The pack path a URL maps to, if the catalog maps it.
    pub fn resolve(&self, url: &str) -> Option<String> {
        if let Some((_, target)) = self.exact.iter().find(|(name, _)| name == url) {
            return Some(target.clone());
        }
        // The longest matching prefix wins, as the OASIS specification prescribes.
        let (start, prefix) = self
            .rewrites
            .iter()
            .filter(|(start, _)| url.starts_with(start.as_str()))
            .max_by_key(|(start, _)| start.len())?;
        let rest = url[start.len()..].trim_start_matches('/');
        let joined = if prefix.is_empty() {
            rest.to_owned()
        } else {
            format!("{prefix}/{rest}")
        };
        normalize(&joined).ok()
    }

    /// Number of entries.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.exact.len() + self.rewrites.len()
    }
}

/// Resolves a catalog target (relative to the catalog's folder `dir`) to a pack path.
fn resolve_target(dir: &str, target: &str) -> Result<String, String> {
    if target.contains("://") || target.starts_with('/') || target.starts_with("file:") {
        return Err(format!(
            "catalog target {target} must be a relative path to a file inside the pack"
        ));
    }
    let joined = if dir.is_empty() {
        target.to_owned()
    } else {
        format!("{dir}/{target}")
    };
    normalize(&joined).map_err(|()| format!("catalog target {target} points outside the pack"))
}

/// Normalises a `/`-separated relative path: drops `.` and empty segments, applies
/// `..`, and fails if the path would leave the pack root or contains a backslash or NUL.
pub(crate) fn normalize(path: &str) -> Result<String, ()> {
    if path.contains(['\\', '\0']) || path.starts_with('/') {
        return Err(());
    }
    let mut parts: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop().ok_or(())?;
            }
            s => parts.push(s),
        }
    }
    if parts.is_empty() {
        return Err(());
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CATALOG: &str = r#"<?xml version="1.0"?>
        <catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog" prefer="system">
          <uri name="http://example.org/a.xsd" uri="xsd/a.xsd"/>
          <group><system systemId="http://example.org/b.xsd" uri="./remote/b"/></group>
          <rewriteURI uriStartString="http://example.org/lib/" rewritePrefix="lib/"/>
          <rewriteURI uriStartString="http://example.org/lib/deep/" rewritePrefix="deep"/>
          <x:ignored xmlns:x="urn:other"/>
        </catalog>"#;

    #[test]
    fn resolves_exact_and_rewritten_urls() {
        let catalog = Catalog::parse(CATALOG.as_bytes(), "").unwrap();
        assert_eq!(catalog.len(), 4);
        assert_eq!(
            catalog.resolve("http://example.org/a.xsd").as_deref(),
            Some("xsd/a.xsd")
        );
        assert_eq!(
            catalog.resolve("http://example.org/b.xsd").as_deref(),
            Some("remote/b")
        );
        assert_eq!(
            catalog.resolve("http://example.org/lib/x/y.xsd").as_deref(),
            Some("lib/x/y.xsd")
        );
        assert_eq!(
            catalog
                .resolve("http://example.org/lib/deep/z.xsd")
                .as_deref(),
            Some("deep/z.xsd")
        );
        assert_eq!(catalog.resolve("http://example.org/c.xsd"), None);
        // A rewrite cannot climb out of the pack.
        assert_eq!(
            catalog.resolve("http://example.org/lib/../../../etc/passwd"),
            None
        );
    }

    #[test]
    fn targets_are_relative_to_the_catalog_folder() {
        let catalog = Catalog::parse(CATALOG.as_bytes(), "sub").unwrap();
        assert_eq!(
            catalog.resolve("http://example.org/a.xsd").as_deref(),
            Some("sub/xsd/a.xsd")
        );
    }

    #[test]
    fn refuses_what_it_does_not_support() {
        let wrap = |entry: &str| {
            format!(
                r#"<catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog">{entry}</catalog>"#
            )
        };
        for bad in [
            r#"<uri name="u" uri="http://example.org/x.xsd"/>"#,
            r#"<uri name="u" uri="/etc/passwd"/>"#,
            r#"<uri name="u" uri="../outside.xsd"/>"#,
            r#"<uri name="u"/>"#,
            r#"<nextCatalog catalog="other.xml"/>"#,
            r#"<uri xml:base="http://example.org/" name="u" uri="x"/>"#,
        ] {
            assert!(Catalog::parse(wrap(bad).as_bytes(), "").is_err(), "{bad}");
        }
        assert!(
            Catalog::parse(b"<catalog/>", "").is_err(),
            "wrong namespace"
        );
        assert!(
            Catalog::parse(b"<!DOCTYPE catalog><catalog/>", "").is_err(),
            "DOCTYPE"
        );
    }

    #[test]
    fn normalize_stays_inside() {
        assert_eq!(normalize("a/./b/../c.xsd"), Ok("a/c.xsd".into()));
        assert_eq!(normalize("xsd/../../x"), Err(()));
        assert_eq!(normalize("/abs"), Err(()));
        assert_eq!(normalize("a\\b"), Err(()));
        assert_eq!(normalize("."), Err(()));
    }
}
