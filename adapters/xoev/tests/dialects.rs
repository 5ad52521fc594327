//! Header dialects and standards without a fixture file, as small inline messages written
//! after the published schemas and examples (XBau 2.6 XSDs, XBeteiligung, XMeld,
//! XPersonenstand, XJustiz), plus the rules for test flags, warnings and early stopping.

use std::io::BufReader;

use amtsbote_xoev::{HeaderDialect, Limits, SniffError, Sniffed, inspect, sniff, sniff_reader};

fn check(xml: &str) -> Sniffed {
    let limits = Limits::default();
    let result = inspect(xml.as_bytes(), &limits).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    assert_eq!(sniff(xml.as_bytes(), &limits).as_ref(), Ok(&result));
    let stream = BufReader::with_capacity(3, xml.as_bytes());
    assert_eq!(sniff_reader(stream, &limits).as_ref(), Ok(&result));
    result
}

fn authority(a: &Option<amtsbote_xoev::Authority>) -> Option<String> {
    a.as_ref().map(ToString::to_string)
}

/// XBau 2.6 (`xbau-baukasten.xsd`): the root is qualified, `nachrichtenkopf.g2g` and
/// everything below it is unqualified; `standard`/`version` are fixed by the schema.
const XBAU_26: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<xbau:baugenehmigung.antrag.0200 xmlns:xbau="http://www.xleitstelle.de/xbau/2/6"
    produkt="Bauportal" produkthersteller="Beispiel GmbH" produktversion="3.1"
    standard="XBau-Hochbau" version="2.6" test="true">
  <nachrichtenkopf.g2g>
    <identifikation.nachricht>
      <nachrichtenUUID>3f1c2a9e-8d4b-4c1e-9a55-0c6e2b7d1f00</nachrichtenUUID>
      <nachrichtentyp listURI="urn:xoev-de:xbau:codeliste:xbau-nachrichten" listVersionID="4.0">
        <code>0200</code>
      </nachrichtentyp>
      <erstellungszeitpunkt>2026-03-02T10:15:00+01:00</erstellungszeitpunkt>
    </identifikation.nachricht>
    <leser>
      <verzeichnisdienst listVersionID="3"><code>DVDV</code></verzeichnisdienst>
      <kennung>bab:09162000</kennung>
      <name>Lokalbaukommission München</name>
    </leser>
    <autor>
      <verzeichnisdienst listVersionID="3"><code>DVDV</code></verzeichnisdienst>
      <kennung>BAP:000000001</kennung>
      <name>Bauportal Bayern</name>
      <erreichbarkeit>
        <kanal listVersionID="3"><code>01</code></kanal>
        <kennung>poststelle@example.org</kennung>
      </erreichbarkeit>
    </autor>
  </nachrichtenkopf.g2g>
  <xbau:antragsteller>
    <xbau:name>Erika Musterfrau</xbau:name>
  </xbau:antragsteller>
</xbau:baugenehmigung.antrag.0200>
"#;

#[test]
fn xbau_26_unqualified_g2g_header() {
    let got = check(XBAU_26);
    let standard = got.standard.as_ref().unwrap();
    assert_eq!(
        (standard.key, standard.version.as_deref()),
        ("xbau", Some("2.6"))
    );
    assert_eq!(got.root, "baugenehmigung.antrag.0200");
    assert_eq!(got.dialect, HeaderDialect::G2gUnqualified);
    assert_eq!(got.message_type.as_deref(), Some("0200"));
    assert_eq!(
        got.message_uuid.as_deref(),
        Some("3f1c2a9e-8d4b-4c1e-9a55-0c6e2b7d1f00")
    );
    assert_eq!(got.created_at.as_deref(), Some("2026-03-02T10:15:00+01:00"));
    assert_eq!(authority(&got.reader).as_deref(), Some("bab:09162000"));
    assert_eq!(
        got.reader.as_ref().unwrap().name.as_deref(),
        Some("Lokalbaukommission München")
    );
    // The DVDV prefix is lower-cased; the e-mail in erreichbarkeit/kennung is ignored.
    assert_eq!(authority(&got.author).as_deref(), Some("bap:000000001"));
    assert_eq!(got.standard_attr.as_deref(), Some("XBau-Hochbau"));
    assert_eq!(got.version_attr.as_deref(), Some("2.6"));
    assert!(got.test);
    assert_eq!(got.product.as_deref(), Some("Bauportal"));
    assert!(got.warnings.is_empty(), "{:?}", got.warnings);
}

#[test]
fn xbau_kernmodul_process_message() {
    let got = check(
        r#"<xbauk:prozessnachrichten.rueckweisung.G2G.1100
            xmlns:xbauk="http://www.xleitstelle.de/xbau/kernmodul/1/3/0"
            produkt="p" produkthersteller="h" standard="XBau-Kernmodul" version="1.3.0">
          <nachrichtenkopf.g2g>
            <identifikation.nachricht>
              <nachrichtentyp><code>1100</code></nachrichtentyp>
            </identifikation.nachricht>
          </nachrichtenkopf.g2g>
        </xbauk:prozessnachrichten.rueckweisung.G2G.1100>"#,
    );
    let standard = got.standard.unwrap();
    assert_eq!(
        (standard.key, standard.version.as_deref()),
        ("xbau-kernmodul", Some("1.3.0"))
    );
    assert_eq!(got.message_type.as_deref(), Some("1100"));
    assert!(!got.test);
    assert!(got.warnings.is_empty(), "{:?}", got.warnings);
}

/// XBeteiligung 1.2 uses the qualified Basisnachricht: header elements in the `bn-g2g`
/// namespace, authority parts in `bn-beh`, `code` unqualified.
#[test]
fn xbeteiligung_qualified_g2g_header() {
    let got = check(
        r#"<xbg:kommunal.Initiieren.0401 xmlns:xbg="https://www.xleitstelle.de/xbeteiligung/12"
              xmlns:bn-g2g="http://xoev.de/schemata/basisnachricht/g2g/1_1"
              xmlns:bn-beh="http://xoev.de/schemata/basisnachricht/behoerde/1_1"
              produkt="Cockpit" produkthersteller="Beispiel" standard="XBeteiligung" version="1.2">
          <bn-g2g:nachrichtenkopf.g2g>
            <bn-g2g:identifikation.nachricht>
              <bn-g2g:nachrichtenUUID>f338f397-e680-4351-b298-c35d28378c3f</bn-g2g:nachrichtenUUID>
              <bn-g2g:nachrichtentyp><code>0401</code></bn-g2g:nachrichtentyp>
              <bn-g2g:erstellungszeitpunkt>2025-10-01T12:12:42.342Z</bn-g2g:erstellungszeitpunkt>
            </bn-g2g:identifikation.nachricht>
            <bn-g2g:leser>
              <bn-beh:verzeichnisdienst listVersionID="3"><code>DVDV</code></bn-beh:verzeichnisdienst>
              <bn-beh:kennung>bet:02000000</bn-beh:kennung>
              <bn-beh:name>Beteiligte Stelle</bn-beh:name>
            </bn-g2g:leser>
            <bn-g2g:autor>
              <bn-beh:verzeichnisdienst listVersionID="3"><code>DVDV</code></bn-beh:verzeichnisdienst>
              <bn-beh:kennung>bap:02000001</bn-beh:kennung>
              <bn-beh:name>Planungsamt</bn-beh:name>
            </bn-g2g:autor>
          </bn-g2g:nachrichtenkopf.g2g>
        </xbg:kommunal.Initiieren.0401>"#,
    );
    assert_eq!(got.dialect, HeaderDialect::G2gQualified);
    let standard = got.standard.as_ref().unwrap();
    assert_eq!(
        (standard.key, standard.version.as_deref()),
        ("xbeteiligung", Some("1.2"))
    );
    assert_eq!(authority(&got.reader).as_deref(), Some("bet:02000000"));
    assert_eq!(authority(&got.author).as_deref(), Some("bap:02000001"));
    assert_eq!(
        got.message_uuid.as_deref(),
        Some("f338f397-e680-4351-b298-c35d28378c3f")
    );
    assert!(got.warnings.is_empty(), "{:?}", got.warnings);
}

/// Older XBeteiligung messages: XInneres-style header, unqualified, empty authority names.
#[test]
fn xinneres_header_without_namespace() {
    let got = check(
        r#"<ns6:planung2Beteiligung.BeteiligungNeu.0401 xmlns:ns6="http://xbeteiligung.de/V0103"
              produkt="K1" produkthersteller="Beispiel" standard="XBeteiligung" version="1.2.0">
          <nachrichtenkopf>
            <identifikation.nachricht>
              <nachrichtenUUID>1663ad58-cd71-42af-9b02-fd20c287a5b4</nachrichtenUUID>
              <nachrichtentyp listVersionID="1.0"><code>0401</code></nachrichtentyp>
            </identifikation.nachricht>
            <leser>
              <behoerdenkennung>
                <praefix listVersionID=""><code>diplanfhh</code></praefix>
                <kennung listURI="" listVersionID=""><code>0400</code></kennung>
              </behoerdenkennung>
              <behoerdenname></behoerdenname>
            </leser>
            <autor>
              <behoerdenkennung>
                <praefix listVersionID=""><code>diplanfhh</code></praefix>
                <kennung listURI="" listVersionID=""><code>0200</code></kennung>
              </behoerdenkennung>
              <erreichbarkeit><kanal><code>02</code></kanal><kennung>0049 40 0000</kennung></erreichbarkeit>
            </autor>
          </nachrichtenkopf>
          <ns6:nachrichteninhalt/>
        </ns6:planung2Beteiligung.BeteiligungNeu.0401>"#,
    );
    assert_eq!(got.dialect, HeaderDialect::XInneres);
    assert_eq!(got.standard.as_ref().unwrap().key, "xbeteiligung");
    assert_eq!(got.standard.as_ref().unwrap().version, None);
    assert_eq!(authority(&got.reader).as_deref(), Some("diplanfhh:0400"));
    assert_eq!(got.reader.as_ref().unwrap().name, None);
    assert_eq!(authority(&got.author).as_deref(), Some("diplanfhh:0200"));
}

#[test]
fn xmeld_and_xpersonenstand_use_the_unqualified_header() {
    let xmeld = check(
        r#"<xmeld:datenabruf.freieSuche.suchanfrage.1332 xmlns:xmeld="http://www.osci.de/xmeld2511a"
              version="25.11a" produkt="p" produkthersteller="h" standard="XMeld">
          <nachrichtenkopf.g2g>
            <identifikation.nachricht>
              <nachrichtenUUID>a91e4951-3f23-596f-9a02-505b94fca5dd</nachrichtenUUID>
              <nachrichtentyp><code>1332</code></nachrichtentyp>
            </identifikation.nachricht>
            <leser><verzeichnisdienst listVersionID="3"><code>DVDV</code></verzeichnisdienst>
              <kennung>ags:09000009</kennung><name>Bürgerbüro</name></leser>
            <autor><verzeichnisdienst listVersionID="3"><code>DVDV</code></verzeichnisdienst>
              <kennung>dbs:060030010000</kennung><name>Amtsgericht</name></autor>
          </nachrichtenkopf.g2g>
        </xmeld:datenabruf.freieSuche.suchanfrage.1332>"#,
    );
    let standard = xmeld.standard.as_ref().unwrap();
    assert_eq!(
        (standard.key, standard.version.as_deref()),
        ("xmeld", Some("25.11a"))
    );
    assert_eq!(authority(&xmeld.reader).as_deref(), Some("ags:09000009"));
    assert!(xmeld.warnings.is_empty(), "{:?}", xmeld.warnings);

    let xpsw = check(
        r#"<ns2:portal2StA.Geburt.081020 xmlns:ns2="http://xpsw.domap.de/xpsw2511"
              produkt="DIGG" produkthersteller="h" standard="XPersonenstand" test="test" version="25.11">
          <nachrichtenkopf.g2g xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="ns2:Nachrichtenkopf.G2G">
            <identifikation.nachricht>
              <nachrichtentyp><code>081020</code></nachrichtentyp>
            </identifikation.nachricht>
            <leser><verzeichnisdienst listVersionID="3"><code>DVDV</code></verzeichnisdienst>
              <kennung>psw:11007007</kennung><name>Standesamt</name></leser>
            <autor><verzeichnisdienst listVersionID="3"><code>DVDV</code></verzeichnisdienst>
              <kennung>sap:000000013</kennung><name>Standesamtportal</name></autor>
          </nachrichtenkopf.g2g>
        </ns2:portal2StA.Geburt.081020>"#,
    );
    let standard = xpsw.standard.as_ref().unwrap();
    assert_eq!(
        (standard.key, standard.version.as_deref()),
        ("xpersonenstand", Some("25.11"))
    );
    assert_eq!(xpsw.message_type.as_deref(), Some("081020"));
    assert!(xpsw.test, "test=\"test\" marks a test message");
    assert_eq!(authority(&xpsw.author).as_deref(), Some("sap:000000013"));
}

/// XJustiz has its own `nachrichtenkopf`; it is not mistaken for an XInneres header.
#[test]
fn xjustiz_is_identified_without_a_known_header() {
    let got = check(
        r#"<tns:nachricht.gds.uebermittlungSchriftgutobjekte.0005005 xmlns:tns="http://www.xjustiz.de">
          <tns:nachrichtenkopf xjustizVersion="3.4.1">
            <tns:erstellungszeitpunkt>2025-01-01T00:00:00</tns:erstellungszeitpunkt>
            <tns:eigeneNachrichtenID>1</tns:eigeneNachrichtenID>
          </tns:nachrichtenkopf>
        </tns:nachricht.gds.uebermittlungSchriftgutobjekte.0005005>"#,
    );
    assert_eq!(got.standard.as_ref().unwrap().key, "xjustiz");
    assert_eq!(got.dialect, HeaderDialect::None);
    assert_eq!(got.message_type.as_deref(), Some("0005005"));
    assert_eq!((got.author, got.reader, got.created_at), (None, None, None));
    assert!(got.warnings.is_empty(), "{:?}", got.warnings);
}

#[test]
fn unknown_standards_are_a_result_not_an_error() {
    let got = check(r#"<order xmlns="urn:example:shop"><item/></order>"#);
    assert_eq!(got.standard, None);
    assert_eq!(got.namespace.as_deref(), Some("urn:example:shop"));
    assert_eq!(got.root, "order");
    assert_eq!(got.dialect, HeaderDialect::None);
    assert_eq!(got.message_type, None);

    let bare = check("<a.b.0042/>");
    assert_eq!((bare.namespace, bare.standard), (None, None));
    assert_eq!(bare.message_type.as_deref(), Some("0042"));
}

#[test]
fn test_attribute_rule() {
    let flag = |attr: &str| check(&format!("<m {attr}/>")).test;
    assert!(flag(r#"test="100""#));
    assert!(flag(r#"test="true""#));
    assert!(flag(r#"test="""#), "presence alone marks a test message");
    assert!(!flag(r#"test="false""#));
    assert!(!flag(r#"test=" 0 ""#));
    assert!(!flag(""));
    // Only the unprefixed attribute counts.
    assert!(!flag(r#"xmlns:x="urn:x" x:test="true""#));
}

const HEADER_ONLY: &str = r#"<xga:abh.gewerbemeldung.0500 xmlns:xga="http://www.xgewerbeanzeige.de/spezifikation/2.2" version="2.1">
  <xga:nachrichtenkopf>
    <xga:identifikation.nachricht>
      <xga:nachrichtenUUID><![CDATA[00000000-0000-0000-0000-00000000000]]>&#x31;</xga:nachrichtenUUID>
      <xga:nachrichtentyp><code>0501</code></xga:nachrichtentyp>
    </xga:identifikation.nachricht>
    <xga:leser><xga:behoerdenkennung><xga:kennung><code>1</code></xga:kennung></xga:behoerdenkennung></xga:leser>
    <xga:autor><xga:behoerdenname>Gewerbeamt</xga:behoerdenname></xga:autor>
  </xga:nachrichtenkopf>"#;

#[test]
fn warnings_and_field_assembly() {
    let xml = format!("{HEADER_ONLY}</xga:abh.gewerbemeldung.0500>");
    let got = check(&xml);
    // CDATA and character references are part of the value.
    assert_eq!(
        got.message_uuid.as_deref(),
        Some("00000000-0000-0000-0000-000000000001")
    );
    // The header code wins, with a warning.
    assert_eq!(got.message_type.as_deref(), Some("0501"));
    assert_eq!(
        got.warnings,
        [
            "nachrichtentyp code \"0501\" does not match root element suffix \"0500\"",
            "version attribute \"2.1\" does not match the namespace version \"2.2\"",
            "autor in the header has no authority identifier",
        ]
    );
    // A reader without prefix is still an authority.
    let reader = got.reader.unwrap();
    assert_eq!((reader.prefix, reader.id.as_str()), (None, "1"));
}

#[test]
fn sniff_stops_after_the_header_inspect_does_not() {
    let limits = Limits::default();
    let truncated = format!("{HEADER_ONLY}\n  <xga:satz><xga:anmeld");
    let sniffed = sniff(truncated.as_bytes(), &limits).unwrap();
    assert_eq!(sniffed.message_type.as_deref(), Some("0501"));
    let stream = BufReader::with_capacity(16, truncated.as_bytes());
    assert_eq!(sniff_reader(stream, &limits).unwrap(), sniffed);
    match inspect(truncated.as_bytes(), &limits) {
        Err(SniffError::NotWellFormed { .. }) => {}
        other => panic!("{other:?}"),
    }

    let garbage_after = format!("{HEADER_ONLY}</xga:abh.gewerbemeldung.0500>trailing");
    assert!(sniff(garbage_after.as_bytes(), &limits).is_ok());
    let err = inspect(garbage_after.as_bytes(), &limits).unwrap_err();
    assert!(
        err.to_string().contains("text after the root element"),
        "{err}"
    );
}

#[test]
fn header_must_be_the_first_child() {
    let got = check(
        r#"<x:a.b.0001 xmlns:x="http://www.xleitstelle.de/xbau/2/6"><x:other/>
           <nachrichtenkopf.g2g><identifikation.nachricht><nachrichtentyp><code>9</code>
           </nachrichtentyp></identifikation.nachricht></nachrichtenkopf.g2g></x:a.b.0001>"#,
    );
    assert_eq!(got.dialect, HeaderDialect::None);
    assert_eq!(got.message_type.as_deref(), Some("0001"));
}

#[test]
fn values_that_are_not_codes_stay_out_of_warnings() {
    let got = check(
        r#"<m.n.0001><nachrichtenkopf.g2g><identifikation.nachricht>
           <nachrichtentyp><code>Erika Musterfrau</code></nachrichtentyp>
           </identifikation.nachricht></nachrichtenkopf.g2g></m.n.0001>"#,
    );
    assert_eq!(
        got.warnings,
        ["nachrichtentyp code (value not shown) does not match root element suffix \"0001\""]
    );
}
