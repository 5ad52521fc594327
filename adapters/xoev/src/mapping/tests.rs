//! Tests of the whole engine: inline mapping files applied to inline messages, and the
//! errors a mapping author sees.

use serde_json::json;

use super::*;

const MESSAGE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<x:test.antrag.0500 xmlns:x="urn:test" test="true">
  <kopf><typ><code>0500</code></typ></kopf>
  <betrieb>
    <name>  Pick e.K. </name>
    <rechtsform><code>170</code></rechtsform>
    <beginn>2016-08-01</beginn>
    <beschaeftigte>2</beschaeftigte>
    <handwerk>1</handwerk>
  </betrieb>
  <person rolle="inhaber">
    <vorname>Tibor</vorname><familienname>Pick</familienname>
    <kontakt><art>tel</art><wert>0355 1</wert></kontakt>
    <kontakt><art>mail</art><wert>t@example.org</wert></kontakt>
  </person>
  <person rolle="vertreter">
    <familienname>Muster</familienname>
  </person>
  <taetigkeiten>Friseur|Verkauf | Beratung</taetigkeiten>
  <leer>   </leer>
</x:test.antrag.0500>"#;

const CODELIST: &str = r#"<gc:CodeList xmlns:gc="http://docs.oasis-open.org/codelist/ns/genericode/1.0/">
  <ColumnSet>
    <Column Id="code"/><Column Id="name"/><Column Id="kurz"/>
    <Key Id="k"><ColumnRef Ref="code"/></Key>
  </ColumnSet>
  <SimpleCodeList>
    <Row><Value><SimpleValue>170</SimpleValue></Value><Value><SimpleValue>eingetragener Kaufmann</SimpleValue></Value><Value><SimpleValue>e.K.</SimpleValue></Value></Row>
  </SimpleCodeList>
</gc:CodeList>"#;

/// A directory with `rechtsform.xml`, for mappings that use code lists.
fn codelist_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rechtsform.xml"), CODELIST).unwrap();
    dir
}

fn mapping(fields: &str) -> Result<Mapping, MappingError> {
    let dir = codelist_dir();
    let source = format!(
        "[mapping]\nname = \"test\"\nmessage_type = \"*.antrag.0500\"\n\n[codelists.rechtsform]\nfile = \"rechtsform.xml\"\n\n{fields}"
    );
    Mapping::from_toml(&source, "test.toml", dir.path())
}

fn apply(fields: &str) -> Result<serde_json::Value, ApplyError> {
    mapping(fields).unwrap().apply(MESSAGE.as_bytes())
}

fn apply_err(fields: &str) -> String {
    apply(fields).unwrap_err().to_string()
}

fn load_err(fields: &str) -> String {
    mapping(fields).unwrap_err().to_string()
}

#[test]
fn values_are_found_trimmed_and_placed_at_dotted_targets() {
    let out = apply(
        r#"
[[field]]
target = "betrieb.name"
path = "//betrieb/name"

[[field]]
target = "betrieb.beginn"
path = "/*/betrieb/beginn"
transform = [{ date = { to = "%d.%m.%Y" } }]

[[field]]
target = "quelle"
value = "amtsbote"

[[field]]
target = "rolle"
path = "person[1]/@rolle"
"#,
    )
    .unwrap();
    assert_eq!(
        out,
        json!({
            "betrieb": { "name": "Pick e.K.", "beginn": "01.08.2016" },
            "quelle": "amtsbote",
            "rolle": "inhaber"
        })
    );
}

#[test]
fn transforms_convert_values() {
    let out = apply(
        r#"
[[field]]
target = "rechtsform"
path = "//rechtsform/code"
transform = [{ codelist = "rechtsform" }]

[[field]]
target = "rechtsform_kurz"
path = "//rechtsform/code"
transform = [{ codelist = { name = "rechtsform", column = "kurz" } }, "upper"]

[[field]]
target = "anzahl"
path = "//beschaeftigte"
transform = ["number"]

[[field]]
target = "handwerk"
path = "//handwerk"
transform = ["boolean"]

[[field]]
target = "taetigkeiten"
path = "//taetigkeiten"
transform = [{ split = "|" }, "lower"]

[[field]]
target = "kurzname"
path = "//betrieb/name"
transform = [{ replace = { from = " e.K.", to = "" } }, { map = { "Pick" = "P", "*" = "?" } }]

[[field]]
target = "test"
path = "/*/@test"
transform = [{ map = { "true" = 1, "*" = 0 } }]
"#,
    )
    .unwrap();
    assert_eq!(
        out,
        json!({
            "rechtsform": "eingetragener Kaufmann",
            "rechtsform_kurz": "E.K.",
            "anzahl": 2,
            "handwerk": true,
            "taetigkeiten": ["friseur", "verkauf", "beratung"],
            "kurzname": "P",
            "test": 1
        })
    );
}

#[test]
fn repeating_groups_become_arrays_and_nest() {
    let out = apply(
        r#"
[[field]]
target = "personen"
each = "//person"

  [[field.fields]]
  target = "name"
  concat = ["vorname", "familienname"]

  [[field.fields]]
  target = "rolle"
  path = "@rolle"

  [[field.fields]]
  target = "kontakte"
  each = "kontakt"
    [[field.fields.fields]]
    target = "art"
    path = "art"
    [[field.fields.fields]]
    target = "wert"
    path = "wert"

[[field]]
target = "familiennamen"
each = "//familienname"
transform = ["upper"]
"#,
    )
    .unwrap();
    assert_eq!(
        out,
        json!({
            "personen": [
                { "name": "Tibor Pick", "rolle": "inhaber", "kontakte": [
                    { "art": "tel", "wert": "0355 1" },
                    { "art": "mail", "wert": "t@example.org" }
                ]},
                { "name": "Muster", "rolle": "vertreter" }
            ],
            "familiennamen": ["PICK", "MUSTER"]
        })
    );
}

#[test]
fn groups_set_a_context_and_disappear_when_empty() {
    let out = apply(
        r#"
[[field]]
target = "inhaber"
path = "person[@rolle='inhaber']"
  [[field.fields]]
  target = "name"
  path = "familienname"
  [[field.fields]]
  target = "kontakt.telefon"
  path = "kontakt[art='tel']/wert"

[[field]]
target = "nichts"
path = "//gibtsnicht"
  [[field.fields]]
  target = "x"
  path = "."

[[field]]
target = "leer"
fields = [{ target = "x", path = "//leer" }]
"#,
    )
    .unwrap();
    assert_eq!(
        out,
        json!({ "inhaber": { "name": "Pick", "kontakt": { "telefon": "0355 1" } } })
    );
}

#[test]
fn conditions_decide_whether_a_field_is_filled() {
    let out = apply(
        r#"
[[field]]
target = "a_exists"
value = true
when = { path = "//handwerk" }

[[field]]
target = "b_not_exists"
value = true
when = { path = "//industrie", exists = false }

[[field]]
target = "c_equals"
value = "handwerk"
when = { path = "//handwerk", equals = "1" }

[[field]]
target = "d_never"
value = 1
when = { path = "//handwerk", equals = "0" }

[[field]]
target = "e_not_equals"
value = 1
when = { path = "//person/@rolle", not_equals = "gesellschafter" }

[[field]]
target = "f_in"
value = 1
when = { path = "//person/@rolle", in = ["vertreter", "prokurist"] }

[[field]]
target = "g_required_but_skipped"
path = "//gibtsnicht"
required = true
when = { path = "//gibtsnicht" }
"#,
    )
    .unwrap();
    assert_eq!(
        out,
        json!({ "a_exists": true, "b_not_exists": true, "c_equals": "handwerk", "e_not_equals": 1, "f_in": 1 })
    );
}

#[test]
fn missing_values_are_omitted_defaulted_or_null() {
    let fields = r#"
[[field]]
target = "fehlt"
path = "//gibtsnicht"

[[field]]
target = "nur_leerzeichen"
path = "//leer"

[[field]]
target = "mit_default"
path = "//gibtsnicht"
default = "unbekannt"

[[field]]
target = "liste"
each = "//gibtsnicht"
default = []
"#;
    assert_eq!(
        apply(fields).unwrap(),
        json!({ "mit_default": "unbekannt", "liste": [] })
    );
    let dir = codelist_dir();
    let nulls = Mapping::from_toml(
        &format!("[mapping]\nname = \"t\"\nmissing = \"null\"\n{fields}"),
        "t.toml",
        dir.path(),
    )
    .unwrap();
    assert_eq!(
        nulls.apply(MESSAGE.as_bytes()).unwrap(),
        json!({ "fehlt": null, "nur_leerzeichen": null, "mit_default": "unbekannt", "liste": [] })
    );
}

#[test]
fn a_missing_required_value_names_file_line_field_and_path() {
    let error = apply_err(
        r#"
[[field]]
target = "betrieb.name"
path = "//betrieb/name"

[[field]]
target = "betrieb.ende"
path = "//betrieb/ende"
required = true
"#,
    );
    assert_eq!(
        error,
        "test.toml:14: field \"betrieb.ende\": required value missing at //betrieb/ende"
    );
}

#[test]
fn errors_inside_repeating_groups_name_the_item() {
    let error = apply(
        r#"
[[field]]
target = "personen"
each = "//person"
  [[field.fields]]
  target = "vorname"
  path = "vorname"
  required = true
  [[field.fields]]
  target = "kontakte"
  each = "kontakt"
  transform = ["number"]
"#,
    )
    .unwrap_err();
    let messages: Vec<String> = error
        .field_errors()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        messages,
        [
            "test.toml:17: field \"personen[1].kontakte[1]\": value is not a number at ((//person)[1]/kontakt)[1]",
            "test.toml:17: field \"personen[1].kontakte[2]\": value is not a number at ((//person)[1]/kontakt)[2]",
            "test.toml:13: field \"personen[2].vorname\": required value missing at (//person)[2]/vorname",
        ]
    );
    assert_eq!(error.to_string(), messages.join("\n"));
}

#[test]
fn every_problem_is_reported_without_message_values() {
    let secret = MESSAGE
        .replace("<code>170</code>", "<code>GEHEIM-4711</code>")
        .replace("2016-08-01", "GEHEIM-4711")
        .replace("<beschaeftigte>2", "<beschaeftigte>GEHEIM-4711");
    let mapping = mapping(
        r#"
[[field]]
target = "rechtsform"
path = "//rechtsform/code"
transform = [{ codelist = "rechtsform" }]

[[field]]
target = "beginn"
path = "//beginn"
transform = [{ date = { to = "%d.%m.%Y" } }]

[[field]]
target = "anzahl"
path = "//beschaeftigte"
transform = ["number"]

[[field]]
target = "rolle"
path = "//person/@rolle"
transform = [{ map = { "x" = "y" } }]

[[field]]
target = "handwerk"
path = "//betrieb/name"
transform = ["boolean"]
"#,
    )
    .unwrap();
    let error = mapping.apply(secret.as_bytes()).unwrap_err();
    let text = error.to_string();
    assert_eq!(error.field_errors().len(), 5, "{text}");
    assert!(
        !text.contains("GEHEIM") && !text.contains("Pick") && !text.contains("inhaber"),
        "{text}"
    );
    assert!(
        text.contains(
            "field \"rechtsform\": value not in code list rechtsform at //rechtsform/code"
        )
    );
    assert!(
        text.contains("field \"beginn\": value is not a date in the format xs:date at //beginn")
    );
    assert!(text.contains("value is not a number"));
    assert!(text.contains("value not in the map"));
    assert!(text.contains("value is not a boolean"));
}

#[test]
fn unreadable_messages_are_refused_by_the_hardened_reader() {
    let m = mapping("[[field]]\ntarget = \"a\"\npath = \"a\"\n").unwrap();
    let xxe = br#"<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>"#;
    assert!(matches!(
        m.apply(xxe),
        Err(ApplyError::Unreadable(SniffError::DoctypeRefused { .. }))
    ));
    assert!(matches!(
        m.apply(b"{\"json\": 1}"),
        Err(ApplyError::Unreadable(_))
    ));
    let tight = mapping("[[field]]\ntarget = \"a\"\npath = \"a\"\n")
        .unwrap()
        .with_limits(Limits {
            max_depth: 2,
            ..Limits::default()
        });
    assert!(matches!(
        tight.apply(MESSAGE.as_bytes()),
        Err(ApplyError::Unreadable(SniffError::TooDeep { .. }))
    ));
}

#[test]
fn output_keeps_mapping_order_and_reports_the_message_type() {
    let m = mapping(
        "[[field]]\ntarget = \"z\"\nvalue = 1\n[[field]]\ntarget = \"a\"\npath = \"//vorname\"\n",
    )
    .unwrap();
    let output = m.render(MESSAGE.as_bytes()).unwrap();
    assert_eq!(output.to_bytes(), br#"{"z":1,"a":"Tibor"}"#);
    assert_eq!(output.content_type(), "application/json");
    assert!(output.warnings().is_empty());
    assert_eq!(output.sniffed().root, "test.antrag.0500");
    assert!(output.to_pretty_string().starts_with("{\n  \"z\": 1,"));

    let other = MESSAGE.replace("antrag.0500", "antrag.0600");
    let output = m.render(other.as_bytes()).unwrap();
    assert_eq!(
        output.warnings(),
        [
            "the message is test.antrag.0600 (type 0600), but the mapping is written for *.antrag.0500"
        ]
    );
}

#[test]
fn message_type_patterns() {
    assert!(glob("*.gewerbemeldung.0500", "abh.gewerbemeldung.0500"));
    assert!(glob("*.0500", "abh.gewerbemeldung.0500"));
    assert!(glob("abh.*.0?00", "abh.gewerbemeldung.0500"));
    assert!(glob("*", ""));
    assert!(!glob("*.gewerbemeldung.0500", "abh.gewerbemeldung.0501"));
    assert!(!glob("gewerbemeldung", "abh.gewerbemeldung.0500"));
    assert!(glob("0500", "0500"));
}

#[test]
fn xml_output() {
    let dir = codelist_dir();
    let m = Mapping::from_toml(
        r#"
[mapping]
name = "xml"
output = "xml"
xml_root = "gewerbe"
xml_namespace = "urn:gewerberegister"

[[field]]
target = "@version"
value = "1"

[[field]]
target = "person"
each = "//person"
  [[field.fields]]
  target = "@rolle"
  path = "@rolle"
  [[field.fields]]
  target = "name"
  path = "familienname"
"#,
        "xml.toml",
        dir.path(),
    )
    .unwrap();
    assert_eq!(m.output_format(), OutputFormat::Xml);
    let attribute_list = Mapping::from_toml(
        "[mapping]\nname = \"x\"\noutput = \"xml\"\nxml_root = \"r\"\n[[field]]\ntarget = \"@a\"\neach = \"//x\"\n",
        "x.toml",
        ".",
    )
    .unwrap_err();
    assert!(
        attribute_list.to_string().contains("takes a single value"),
        "{attribute_list}"
    );
    assert!(
        Mapping::from_toml(
            "[mapping]\nname = \"x\"\noutput = \"xml\"\n[[field]]\ntarget = \"a\"\nvalue = 1\n",
            "x.toml",
            "."
        )
        .unwrap_err()
        .to_string()
        .contains("needs `xml_root`")
    );
    assert!(
        Mapping::from_toml("[mapping]\nname = \"x\"\noutput = \"xml\"\nxml_root = \"r\"\n[[field]]\ntarget = \"a b\"\nvalue = 1\n", "x.toml", ".")
            .unwrap_err()
            .to_string()
            .contains("cannot be used in XML output")
    );
    let output = m.render(MESSAGE.as_bytes()).unwrap();
    assert_eq!(
        String::from_utf8(output.to_bytes()).unwrap(),
        r#"<?xml version="1.0" encoding="UTF-8"?><gewerbe xmlns="urn:gewerberegister" version="1"><person rolle="inhaber"><name>Pick</name></person><person rolle="vertreter"><name>Muster</name></person></gewerbe>"#
    );
}

#[test]
fn load_errors_name_file_and_line() {
    // TOML syntax and unknown keys: the line of the problem.
    assert_eq!(
        load_err("[[field]]\ntarget = \"a\"\npath = \"a\"\nrequried = true\n"),
        "test.toml:11: unknown field `requried`, expected one of `target`, `path`, `value`, `concat`, `separator`, `each`, `fields`, `transform`, `required`, `default`, `when`"
    );
    assert!(load_err("[[field]]\ntarget = \"a\"\npath = \n").starts_with("test.toml:10: "));
    assert!(
        load_err("[[field]]\ntarget = \"a\"\npath = \"a\"\ntransform = [\"trimm\"]\n")
            .starts_with("test.toml:11: unknown variant `trimm`")
    );
    // Path syntax: the line of the path, the column inside it.
    assert_eq!(
        load_err("[[field]]\ntarget = \"a.b\"\npath = \"//a[@b='c'\"\n"),
        "test.toml:10: field \"a.b\": path: expected `]` but found the end of the expression at column 11 of `//a[@b='c'`"
    );
    assert_eq!(
        load_err(
            "[[field]]\ntarget = \"a\"\npath = \"a\"\ntransform = [{ codelist = \"gibtsnicht\" }]\n"
        ),
        "test.toml:11: field \"a\": transform `codelist`: no code list \"gibtsnicht\" is declared (declared: rechtsform)"
    );
    assert_eq!(
        load_err(
            "[[field]]\ntarget = \"a\"\npath = \"a\"\n[[field]]\ntarget = \"a.b\"\npath = \"b\"\n"
        ),
        "test.toml:12: field \"a.b\": conflicts with target \"a\" on line 9: a target is either a value or an object with further fields, not both"
    );
    assert!(
        load_err("[[field]]\ntarget = \"a\"\npath = \"a\"\ntransform = [{ date = { to = \"%d.%m.%Y %H:%M\" } }]\n")
            .contains("`to` (%d.%m.%Y %H:%M) writes a time of day, but `from` (xs:date) reads none")
    );
    assert!(
        load_err("[[field]]\ntarget = \"a\"\npath = \"a\"\ntransform = [\"number\", \"trim\"]\n")
            .contains("transform `trim` needs text, but `number` before it produces a number")
    );
    assert!(
        load_err("[[field]]\ntarget = \"a\"\npath = \"a\"\nseparator = \",\"\n")
            .contains("`separator` belongs to `concat`")
    );
    assert!(
        load_err("[[field]]\ntarget = \"a\"\npath = \"a\"\nrequired = true\ndefault = 1\n")
            .contains("drop `required` or `default`")
    );
    assert!(
        load_err("[[field]]\ntarget = \"a\"\npath = \"a\"\nvalue = 1\n")
            .contains("use only one of")
    );
    assert!(load_err("[[field]]\ntarget = \"a\"\n").contains("a field needs `path`"));
    assert!(
        load_err("[[field]]\ntarget = \"a..b\"\npath = \"a\"\n")
            .contains("names separated by dots")
    );
    assert!(load_err("[[field]]\ntarget = \"a\"\npath = \"a\"\nwhen = { path = \"b\", equals = \"1\", exists = true }\n").contains("`when` takes one of"));
    assert!(
        load_err(
            "[[field]]\ntarget = \"a\"\nvalue = 1\nfields = [{ target = \"b\", path = \"b\" }]\n"
        )
        .contains("not with `concat` or `value`")
    );
    assert_eq!(
        Mapping::from_toml("", "x.toml", ".")
            .unwrap_err()
            .to_string(),
        "x.toml:1: missing field `mapping`"
    );
    assert!(
        Mapping::from_toml("[mapping]\nname = \"x\"\n", "x.toml", ".")
            .unwrap_err()
            .to_string()
            .contains("x.toml:1: the mapping has no fields")
    );
}

#[test]
fn code_list_problems_are_load_errors() {
    let dir = codelist_dir();
    let load = |codelist: &str| {
        Mapping::from_toml(
            &format!("[mapping]\nname = \"t\"\n\n[codelists.x]\n{codelist}\n\n[[field]]\ntarget = \"a\"\npath = \"a\"\n"),
            "t.toml",
            dir.path(),
        )
        .unwrap_err()
        .to_string()
    };
    assert!(
        load("file = \"fehlt.xml\"")
            .starts_with("t.toml:4: code list x: fehlt.xml: cannot read it")
    );
    assert_eq!(
        load("file = \"rechtsform.xml\"\nkey = \"schluessel\""),
        "t.toml:4: code list x: rechtsform.xml has no column \"schluessel\" (columns: code, name, kurz)"
    );
}

#[test]
fn from_file_resolves_code_lists_next_to_the_mapping() {
    let dir = codelist_dir();
    let file = dir.path().join("m.toml");
    std::fs::write(
        &file,
        "[mapping]\nname = \"m\"\n[codelists.r]\nfile = \"rechtsform.xml\"\n[[field]]\ntarget = \"r\"\npath = \"//rechtsform/code\"\ntransform = [{ codelist = \"r\" }]\n",
    )
    .unwrap();
    let m = Mapping::from_file(&file).unwrap();
    assert_eq!(m.name(), "m");
    assert_eq!(m.description(), None);
    assert_eq!(m.message_type(), None);
    assert_eq!(m.file(), file.display().to_string());
    assert_eq!(
        m.apply(MESSAGE.as_bytes()).unwrap(),
        json!({ "r": "eingetragener Kaufmann" })
    );
    let missing = Mapping::from_file(dir.path().join("nope.toml")).unwrap_err();
    assert!(matches!(missing, MappingError::Read { .. }));
}

#[test]
fn mappings_are_shareable_between_workers() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Mapping>();
    assert_send_sync::<Output>();
    assert_send_sync::<ApplyError>();
    assert_send_sync::<MappingError>();
}
