//! Reading the Nachrichtenkopf (message header): which dialect it is and the facts in it.
//!
//! The header is the root's first child element. Its name tells the dialect
//! (`nachrichtenkopf.g2g`, `nachrichtenkopf`, xdomea's `Kopf`); inside, fields are found
//! by their path of local names below the header. Namespaces are deliberately ignored
//! inside the header: the qualified G2G header mixes the message namespace, the
//! Basisnachricht namespaces and unqualified `code` elements, and the paths alone are
//! unambiguous. Only the paths listed in [`field`] are captured, so body content and
//! header parts such as addresses and phone numbers (`erreichbarkeit/kennung`) are
//! never copied.

use super::sniffed::{Authority, HeaderDialect, Sniffed};
use crate::standards::standard_for_namespace;

/// Tells the scanner whether the header has been read completely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    /// Everything `sniff` needs is known; the rest of the document can be skipped.
    HeaderDone,
}

/// Longest header value kept; real ones (UUIDs, codes, names) are far shorter.
const MAX_FIELD_LEN: usize = 4096;

/// Collects header facts from the scanner's callbacks.
#[derive(Default)]
pub(crate) struct HeaderReader {
    namespace: Option<String>,
    root: String,
    root_attrs: RootAttrs,
    state: State,
    dialect: Option<HeaderDialect>,
    /// Local names below the header element.
    path: Vec<String>,
    /// The field being captured and the path depth of its element.
    capture: Option<(Field, usize, String)>,
    fields: Fields,
    /// An XInneres-style `nachrichtenkopf` only counts as one if it has XInneres content
    /// (XJustiz uses the same element name for something else).
    matched_any_field: bool,
    warnings: Vec<String>,
}

#[derive(Default, PartialEq, Eq)]
enum State {
    #[default]
    BeforeHeader,
    InHeader,
    Done,
}

#[derive(Default)]
struct RootAttrs {
    standard: Option<String>,
    version: Option<String>,
    test: Option<String>,
    product: Option<String>,
    product_vendor: Option<String>,
    product_version: Option<String>,
}

#[derive(Default)]
struct Fields {
    uuid: Option<String>,
    message_type: Option<String>,
    created: Option<String>,
    product: Option<String>,
    product_version: Option<String>,
    author: Party,
    reader: Party,
}

/// What the header says about one side, before it becomes an [`Authority`].
#[derive(Default)]
struct Party {
    /// The element naming this side (`leser`, `Absender`, ...), for warnings.
    element: Option<&'static str>,
    directory: Option<String>,
    /// G2G `kennung`, `"prefix:id"` for the DVDV.
    kennung: Option<String>,
    prefix: Option<String>,
    id: Option<String>,
    name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Uuid,
    MessageType,
    Created,
    Product,
    ProductVersion,
    Party(Side, PartyField),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Author,
    Reader,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PartyField {
    Directory,
    Kennung,
    Prefix,
    Id,
    Name,
}

impl HeaderReader {
    /// The root element has started.
    pub fn root(&mut self, namespace: Option<String>, local: &str) {
        self.namespace = namespace;
        self.root = local.to_owned();
    }

    /// An attribute without namespace prefix on the root element (value unescaped).
    pub fn root_attribute(&mut self, local: &str, value: &str) {
        let slot = match local {
            "standard" => &mut self.root_attrs.standard,
            "version" => &mut self.root_attrs.version,
            "test" => &mut self.root_attrs.test,
            "produkt" => &mut self.root_attrs.product,
            "produkthersteller" => &mut self.root_attrs.product_vendor,
            "produktversion" => &mut self.root_attrs.product_version,
            _ => return,
        };
        *slot = Some(value.to_owned());
    }

    /// An element below the root started; `depth` 2 is a child of the root.
    pub fn start(&mut self, depth: usize, namespaced: bool, local: &str) -> Flow {
        match self.state {
            State::BeforeHeader if depth == 2 => {
                self.dialect = self.dialect_of(namespaced, local);
                if self.dialect.is_some() {
                    self.state = State::InHeader;
                    Flow::Continue
                } else {
                    // XÖV puts the header first; a different first child means none.
                    self.state = State::Done;
                    Flow::HeaderDone
                }
            }
            State::InHeader => {
                self.path.push(local.to_owned());
                if self.path.len() == 1 {
                    self.note_party_element(local);
                }
                if self.capture.is_none()
                    && let Some(field) = self.field_here()
                {
                    self.matched_any_field = true;
                    self.capture = Some((field, self.path.len(), String::new()));
                }
                Flow::Continue
            }
            _ => Flow::Continue,
        }
    }

    /// Whether text at this point is needed (saves decoding work elsewhere).
    pub fn wants_text(&self) -> bool {
        matches!(&self.capture, Some((_, depth, _)) if *depth == self.path.len())
    }

    /// Character data (already unescaped) inside the current element.
    pub fn text(&mut self, text: &str) {
        if !self.wants_text() {
            return;
        }
        if let Some((_, _, value)) = &mut self.capture
            && value.len() <= MAX_FIELD_LEN
        {
            value.push_str(text);
        }
    }

    /// An element below the root ended; `depth` as in [`HeaderReader::start`].
    pub fn end(&mut self, depth: usize) -> Flow {
        if self.state != State::InHeader {
            return Flow::Continue;
        }
        if depth == 2 {
            self.state = State::Done;
            return Flow::HeaderDone;
        }
        if let Some((field, at, value)) = self.capture.take() {
            if at == self.path.len() {
                self.store(field, value);
            } else {
                self.capture = Some((field, at, value));
            }
        }
        self.path.pop();
        Flow::Continue
    }

    /// Everything read so far, as a result.
    pub fn finish(mut self) -> Sniffed {
        let dialect = match self.dialect {
            Some(HeaderDialect::XInneres) if !self.matched_any_field => HeaderDialect::None,
            Some(dialect) => dialect,
            None => HeaderDialect::None,
        };
        let standard = self.namespace.as_deref().and_then(standard_for_namespace);
        let root_code = root_suffix(&self.root);
        let fields = std::mem::take(&mut self.fields);

        if let (Some(code), Some(suffix)) = (&fields.message_type, &root_code)
            && code != suffix
        {
            self.warn(format!(
                "nachrichtentyp code {} does not match root element suffix {}",
                shown_code(code),
                shown_code(suffix)
            ));
        }
        if let (Some(attr), Some(ns_version)) = (
            &self.root_attrs.version,
            standard.as_ref().and_then(|s| s.version.as_deref()),
        ) && normalised_version(attr) != normalised_version(ns_version)
        {
            self.warn(format!(
                "version attribute {} does not match the namespace version {}",
                shown_code(attr),
                shown_code(ns_version)
            ));
        }
        let (author, reader) = if dialect == HeaderDialect::None {
            (None, None)
        } else {
            (
                self.authority(fields.author, dialect),
                self.authority(fields.reader, dialect),
            )
        };

        let attrs = self.root_attrs;
        Sniffed {
            namespace: self.namespace,
            standard,
            standard_attr: attrs.standard,
            version_attr: attrs.version,
            message_type: fields.message_type.or(root_code),
            message_uuid: fields.uuid,
            created_at: fields.created,
            author,
            reader,
            test: attrs.test.as_deref().is_some_and(means_test),
            test_attr: attrs.test,
            product: attrs.product.or(fields.product),
            product_vendor: attrs.product_vendor,
            product_version: attrs.product_version.or(fields.product_version),
            root: self.root,
            dialect,
            warnings: self.warnings,
        }
    }

    fn dialect_of(&self, namespaced: bool, local: &str) -> Option<HeaderDialect> {
        let xdomea = self
            .namespace
            .as_deref()
            .and_then(standard_for_namespace)
            .is_some_and(|s| s.key == "xdomea");
        match local {
            "nachrichtenkopf.g2g" if namespaced => Some(HeaderDialect::G2gQualified),
            "nachrichtenkopf.g2g" => Some(HeaderDialect::G2gUnqualified),
            "nachrichtenkopf" if xdomea => Some(HeaderDialect::Xdomea4),
            "nachrichtenkopf" => Some(HeaderDialect::XInneres),
            "Kopf" => Some(HeaderDialect::XdomeaKopf3),
            _ => None,
        }
    }

    /// Remembers that the header names this side at all, so that a missing identifier
    /// can be reported.
    fn note_party_element(&mut self, local: &str) {
        let (side, element) = match local {
            "autor" => (Side::Author, "autor"),
            "Absender" => (Side::Author, "Absender"),
            "leser" => (Side::Reader, "leser"),
            "Empfaenger" => (Side::Reader, "Empfaenger"),
            _ => return,
        };
        let party = match side {
            Side::Author => &mut self.fields.author,
            Side::Reader => &mut self.fields.reader,
        };
        party.element = Some(element);
    }

    fn field_here(&self) -> Option<Field> {
        let path: Vec<&str> = self.path.iter().map(String::as_str).collect();
        field(self.dialect?, &path)
    }

    fn store(&mut self, field: Field, value: String) {
        if value.len() > MAX_FIELD_LEN {
            self.warn(format!(
                "a header value is longer than {MAX_FIELD_LEN} bytes and was ignored"
            ));
            return;
        }
        let value = value.trim();
        if value.is_empty() {
            return;
        }
        let slot = match field {
            Field::Uuid => &mut self.fields.uuid,
            Field::MessageType => &mut self.fields.message_type,
            Field::Created => &mut self.fields.created,
            Field::Product => &mut self.fields.product,
            Field::ProductVersion => &mut self.fields.product_version,
            Field::Party(side, part) => {
                let party = match side {
                    Side::Author => &mut self.fields.author,
                    Side::Reader => &mut self.fields.reader,
                };
                match part {
                    PartyField::Directory => &mut party.directory,
                    PartyField::Kennung => &mut party.kennung,
                    PartyField::Prefix => &mut party.prefix,
                    PartyField::Id => &mut party.id,
                    PartyField::Name => &mut party.name,
                }
            }
        };
        // First occurrence wins; headers do not repeat these fields.
        slot.get_or_insert_with(|| value.to_owned());
    }

    fn authority(&mut self, party: Party, dialect: HeaderDialect) -> Option<Authority> {
        let found = match dialect {
            HeaderDialect::G2gQualified | HeaderDialect::G2gUnqualified => {
                party.kennung.as_deref().map(|kennung| {
                    g2g_authority(party.directory.as_deref(), kennung, party.name.as_deref())
                })
            }
            _ => party
                .id
                .as_deref()
                .map(|id| Authority::new(party.prefix.as_deref(), id, party.name.as_deref())),
        };
        if let (None, Some(element)) = (&found, party.element) {
            self.warn(format!(
                "{element} in the header has no authority identifier"
            ));
        }
        found
    }

    fn warn(&mut self, warning: String) {
        self.warnings.push(warning);
    }
}

/// The header paths worth reading, per dialect. `path` is relative to the header element.
fn field(dialect: HeaderDialect, path: &[&str]) -> Option<Field> {
    use PartyField::*;
    let identification = match path {
        ["identifikation.nachricht", "nachrichtenUUID"] => Some(Field::Uuid),
        ["identifikation.nachricht", "nachrichtentyp", "code"] => Some(Field::MessageType),
        ["identifikation.nachricht", "erstellungszeitpunkt"] => Some(Field::Created),
        _ => None,
    };
    match dialect {
        HeaderDialect::G2gQualified | HeaderDialect::G2gUnqualified => {
            identification.or_else(|| match path {
                [side, "verzeichnisdienst", "code"] => party(side, Directory),
                [side, "kennung"] => party(side, Kennung),
                [side, "name"] => party(side, Name),
                _ => None,
            })
        }
        HeaderDialect::XInneres => identification.or_else(|| match path {
            [side, "behoerdenkennung", "praefix", "code"] => party(side, Prefix),
            [side, "behoerdenkennung", "kennung", "code"] => party(side, Id),
            [side, "behoerdenname"] => party(side, Name),
            _ => None,
        }),
        HeaderDialect::Xdomea4 => identification.or_else(|| match path {
            [side, "Behoerdenkennung", "Praefix", "code"] => party(side, Prefix),
            [
                side,
                "Behoerdenkennung",
                "Kennung" | "Behoerdenschluessel",
                "code",
            ] => party(side, Id),
            [side, "NameInstitution", "Name"] => party(side, Name),
            _ => None,
        }),
        HeaderDialect::XdomeaKopf3 => match path {
            ["Nachrichtentyp", "code"] => Some(Field::MessageType),
            ["Erstellungszeitpunkt"] => Some(Field::Created),
            ["SendendesSystem", "Produktname"] => Some(Field::Product),
            ["SendendesSystem", "Version"] => Some(Field::ProductVersion),
            [side, "Behoerdenkennung", "Praefix", "code"] => party(side, Prefix),
            [
                side,
                "Behoerdenkennung",
                "Kennung" | "Behoerdenschluessel",
                "code",
            ] => party(side, Id),
            [side, "Institution", "Name"] => party(side, Name),
            _ => None,
        },
        HeaderDialect::None => None,
    }
}

fn party(element: &str, part: PartyField) -> Option<Field> {
    let side = match element {
        "autor" | "Absender" => Side::Author,
        "leser" | "Empfaenger" => Side::Reader,
        _ => return None,
    };
    Some(Field::Party(side, part))
}

/// The G2G `kennung` is `"prefix:id"` when the directory is the DVDV. Some producers leave
/// the directory code empty (the XWasser examples); a `prefix:id`-shaped kennung is then
/// read the DVDV way too. For other directories the kennung is an opaque id.
fn g2g_authority(directory: Option<&str>, kennung: &str, name: Option<&str>) -> Authority {
    let dvdv =
        directory.is_none_or(|d| d.trim().is_empty() || d.trim().eq_ignore_ascii_case("DVDV"));
    match kennung.split_once(':') {
        Some((prefix, id)) if dvdv && !prefix.trim().is_empty() && !id.trim().is_empty() => {
            Authority::new(Some(prefix), id, name)
        }
        _ => Authority::new(None, kennung, name),
    }
}

/// The numeric last segment of a root name: `abh.gewerbemeldung.0500` → `0500`.
fn root_suffix(root: &str) -> Option<String> {
    let (_, last) = root.rsplit_once('.')?;
    let numeric = !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit());
    numeric.then(|| last.to_owned())
}

/// XÖV: any `test` attribute marks a test message; `false`/`0` are accepted as "no".
fn means_test(value: &str) -> bool {
    let value = value.trim();
    !(value.eq_ignore_ascii_case("false") || value == "0")
}

/// `2.6.0` and `2.6` denote the same release.
fn normalised_version(version: &str) -> &str {
    let mut v = version.trim();
    while let Some(shorter) = v.strip_suffix(".0") {
        if !shorter.contains('.') {
            break;
        }
        v = shorter;
    }
    v
}

/// Codes go into warnings only if they look like codes (they come from the document).
fn shown_code(code: &str) -> String {
    let plausible = !code.is_empty()
        && code.len() <= 32
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if plausible {
        format!("\"{code}\"")
    } else {
        "(value not shown)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_suffix_needs_digits() {
        assert_eq!(
            root_suffix("abh.gewerbemeldung.0500").as_deref(),
            Some("0500")
        );
        assert_eq!(
            root_suffix("prozessnachrichten.rueckweisung.G2G.1100").as_deref(),
            Some("1100")
        );
        assert_eq!(root_suffix("nachricht"), None);
        assert_eq!(root_suffix("a.b.c"), None);
        assert_eq!(root_suffix("a."), None);
    }

    #[test]
    fn test_flag_rule() {
        for yes in ["100", "true", "", "test", "1", "ja"] {
            assert!(means_test(yes), "{yes:?}");
        }
        for no in ["false", "FALSE", " 0 ", "0"] {
            assert!(!means_test(no), "{no:?}");
        }
    }

    #[test]
    fn g2g_kennung_splits_for_dvdv_only() {
        assert_eq!(
            g2g_authority(Some("DVDV"), "psw:01003110", None).to_string(),
            "psw:01003110"
        );
        assert_eq!(
            g2g_authority(Some(""), "PSW:11113110", None).to_string(),
            "psw:11113110"
        );
        let other = g2g_authority(Some("PVOG"), "a:b", None);
        assert_eq!((other.prefix, other.id.as_str()), (None, "a:b"));
        let no_prefix = g2g_authority(None, ":123", None);
        assert_eq!(no_prefix.prefix, None);
    }

    #[test]
    fn versions_compare_without_trailing_zero_components() {
        assert_eq!(normalised_version("2.6.0"), "2.6");
        assert_eq!(normalised_version("1.0.0"), "1.0");
        assert_eq!(normalised_version("25.11a"), "25.11a");
    }

    #[test]
    fn codes_in_warnings_are_filtered() {
        assert_eq!(shown_code("0500"), "\"0500\"");
        assert_eq!(shown_code("Max Mustermann"), "(value not shown)");
    }
}
