//! Hostile and broken input: every case must end in a clean, specific [`SniffError`] —
//! from the slice functions and from the stream function alike — never in a panic, a hang,
//! unbounded memory or an expanded entity.

use std::io::{BufReader, Read};

use amtsbote_xoev::{Limits, Position, SniffError, inspect, inspect_reader, sniff, sniff_reader};

/// Runs all four entry points and checks they fail the same way; returns the error.
fn refused(xml: &[u8], limits: &Limits) -> SniffError {
    let by_inspect = inspect(xml, limits).expect_err("inspect accepted it");
    let by_stream = inspect_reader(BufReader::with_capacity(7, xml), limits).unwrap_err();
    assert_eq!(by_stream, by_inspect, "inspect_reader differs");
    if let Err(by_sniff) = sniff(xml, limits) {
        assert_eq!(by_sniff, by_inspect, "sniff differs");
        let by_sniff_stream = sniff_reader(BufReader::with_capacity(7, xml), limits).unwrap_err();
        assert_eq!(by_sniff_stream, by_inspect, "sniff_reader differs");
    }
    by_inspect
}

fn refused_default(xml: &str) -> SniffError {
    refused(xml.as_bytes(), &Limits::default())
}

fn small_text_limit() -> Limits {
    Limits {
        max_text_len: 16 * 1024 * 1024,
        ..Limits::default()
    }
}

#[test]
fn xxe_is_refused_at_the_doctype() {
    let xml = r#"<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>
<x>&e;</x>"#;
    let err = refused_default(xml);
    assert!(matches!(err, SniffError::DoctypeRefused { .. }), "{err:?}");
    assert_eq!((err.position().line, err.position().column), (2, 1));
    assert!(!err.to_string().contains("passwd"));
}

#[test]
fn billion_laughs_is_refused_before_any_expansion() {
    let mut xml =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_owned()
        } else {
            format!("lol{}", i - 1)
        };
        xml.push_str(&format!(
            " <!ENTITY lol{i} \"{}\">\n",
            format!("&{prev};").repeat(10)
        ));
    }
    xml.push_str("]>\n<lolz>&lol9;</lolz>");
    let err = refused_default(&xml);
    assert!(matches!(err, SniffError::DoctypeRefused { .. }), "{err:?}");
}

#[test]
fn undeclared_entities_are_refused_in_text_and_attributes() {
    for xml in [
        "<x>&lol9;</x>",
        "<x a=\"&e;\"/>",
        "<x>&nbsp;</x>",
        "<x>a &amp; &e;</x>",
    ] {
        let err = refused_default(xml);
        assert!(
            matches!(err, SniffError::EntityRefused { .. }),
            "{xml}: {err:?}"
        );
    }
}

#[test]
fn predefined_entities_and_character_references_are_fine() {
    let xml = r#"<m.n.0001 a="&lt;&#65;&quot;"><nachrichtenkopf.g2g><identifikation.nachricht>
        <nachrichtenUUID>&lt;&gt;&amp;&apos;&quot;&#x41;&#66;</nachrichtenUUID>
        </identifikation.nachricht></nachrichtenkopf.g2g></m.n.0001>"#;
    let got = inspect(xml.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(got.message_uuid.as_deref(), Some("<>&'\"AB"));
}

#[test]
fn invalid_character_references_are_refused() {
    for xml in [
        "<x>&#0;</x>",
        "<x>&#xD800;</x>",
        "<x>&#x110000;</x>",
        "<x>&#1;</x>",
        "<x a='&#0;'/>",
    ] {
        let err = refused_default(xml);
        assert!(
            matches!(err, SniffError::NotWellFormed { .. }),
            "{xml}: {err:?}"
        );
    }
}

#[test]
fn fifty_megabyte_text_node_hits_the_text_limit() {
    let big = "A".repeat(50 * 1024 * 1024);
    let limits = small_text_limit();

    // In the body: sniff never gets there, inspect does.
    let body = format!("<m.n.0001><nachrichtenkopf.g2g/><data>{big}</data></m.n.0001>");
    assert!(sniff(body.as_bytes(), &limits).is_ok());
    let err = inspect(body.as_bytes(), &limits).unwrap_err();
    assert!(
        matches!(err, SniffError::TextTooLong { limit, .. } if limit == limits.max_text_len),
        "{err:?}"
    );
    let text_start = body.find("AAA").unwrap() as u64;
    assert_eq!(
        err.position().offset,
        text_start,
        "points at the start of the text"
    );
    let streamed = inspect_reader(BufReader::new(body.as_bytes()), &limits).unwrap_err();
    assert!(
        matches!(streamed, SniffError::TextTooLong { .. }),
        "{streamed:?}"
    );

    // Before the header: sniff must read it and refuses too.
    let early = format!("<m.n.0001>{big}<nachrichtenkopf.g2g/></m.n.0001>");
    let err = sniff(early.as_bytes(), &limits).unwrap_err();
    assert!(matches!(err, SniffError::TextTooLong { .. }), "{err:?}");
}

#[test]
fn default_limits_accept_large_inline_attachments() {
    // XBau and XWasser can carry documents as base64; 50 MB is a realistic attachment.
    let big = "QUJD".repeat(50 * 1024 * 1024 / 4);
    let xml = format!("<m.n.0001><nachrichtenkopf.g2g/><inhalt>{big}</inhalt></m.n.0001>");
    assert!(inspect(xml.as_bytes(), &Limits::default()).is_ok());
}

#[test]
fn text_split_by_references_still_counts_as_one_node() {
    let limits = Limits {
        max_text_len: 1000,
        ..Limits::default()
    };
    let xml = format!("<x>{}</x>", "ab&amp;".repeat(200));
    let err = refused(xml.as_bytes(), &limits);
    assert!(matches!(err, SniffError::TextTooLong { .. }), "{err:?}");
    assert_eq!(err.position().offset, 3);
}

#[test]
fn an_endless_stream_is_cut_off_with_bounded_memory() {
    let limits = Limits {
        max_text_len: 1024 * 1024,
        ..Limits::default()
    };
    let endless = b"<m.n.0001>".chain(std::io::repeat(b'x'));
    let err = sniff_reader(BufReader::new(endless), &limits).unwrap_err();
    assert!(matches!(err, SniffError::TextTooLong { .. }), "{err:?}");

    // Endless but well-formed markup hits the total size limit instead.
    let limits = Limits {
        max_bytes: 4 * 1024 * 1024,
        ..Limits::default()
    };
    let endless_tags = b"<m.n.0001><nachrichtenkopf.g2g>".chain(Repeat(b"<a/>"));
    let err = sniff_reader(BufReader::new(endless_tags), &limits).unwrap_err();
    assert!(
        matches!(err, SniffError::TooLarge { limit, at } if limit == limits.max_bytes && at.offset == limit as u64),
        "{err:?}"
    );
}

/// Repeats a byte pattern forever.
struct Repeat(&'static [u8]);

impl Read for Repeat {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = out.len().min(self.0.len());
        out[..n].copy_from_slice(&self.0[..n]);
        Ok(n)
    }
}

#[test]
fn ten_thousand_levels_of_nesting_are_refused() {
    let xml = format!("{}{}", "<a>".repeat(10_000), "</a>".repeat(10_000));
    let err = refused_default(&xml);
    assert!(
        matches!(err, SniffError::TooDeep { limit: 256, .. }),
        "{err:?}"
    );
    assert_eq!(err.position().offset, 256 * 3, "the 257th start tag");
}

#[test]
fn document_size_limit() {
    let limits = Limits {
        max_bytes: 100,
        ..Limits::default()
    };
    let xml = format!("<a>{}</a>", " ".repeat(200));
    let err = refused(xml.as_bytes(), &limits);
    assert!(
        matches!(err, SniffError::TooLarge { limit: 100, .. }),
        "{err:?}"
    );
    // Exactly at the limit is fine.
    let exact = format!("<a>{}</a>", " ".repeat(93));
    assert_eq!(exact.len(), 100);
    assert!(inspect(exact.as_bytes(), &limits).is_ok());
    assert!(inspect_reader(exact.as_bytes(), &limits).is_ok());
}

#[test]
fn attribute_and_name_limits() {
    let attrs: String = (0..300).map(|i| format!(" a{i}=\"1\"")).collect();
    let err = refused_default(&format!("<xga:root xmlns:xga=\"urn:x\"{attrs}/>"));
    assert!(
        matches!(&err, SniffError::TooManyAttributes { element, limit: 256, .. } if element == "xga:root"),
        "{err:?}"
    );
    assert!(err.to_string().contains("<xga:root>"));

    let long = "n".repeat(2000);
    let err = refused_default(&format!("<{long}/>"));
    assert!(
        matches!(err, SniffError::NameTooLong { limit: 1024, .. }),
        "{err:?}"
    );
    let err = refused_default(&format!("<a {long}=\"1\"/>"));
    assert!(matches!(err, SniffError::NameTooLong { .. }), "{err:?}");
}

#[test]
fn truncated_documents_are_not_well_formed() {
    let full = r#"<?xml version="1.0"?><a.b.0001><nachrichtenkopf.g2g><x>text</x></nachrichtenkopf.g2g><body a="1">more</body></a.b.0001>"#;
    for cut in 1..full.len() {
        let err = refused_default(&full[..cut]);
        assert!(
            matches!(
                err,
                SniffError::NotWellFormed { .. } | SniffError::Empty { .. }
            ),
            "cut at {cut}: {err:?}"
        );
    }
    let err = refused_default(full.trim_end_matches("</a.b.0001>"));
    assert!(
        err.to_string()
            .contains("ends before element <a.b.0001> is closed"),
        "{err}"
    );
}

#[test]
fn garbage_and_non_xml_payloads() {
    let cases: &[(&[u8], &str)] = &[
        (b"\x00\x01\x02\x03\xff\xfe\xfd", "does not start with '<'"),
        (br#"{"antrag": {"name": "x"}}"#, "looks like JSON"),
        (b"  [1, 2, 3]", "looks like JSON"),
        (
            b"eyJhbGciOiJSU0EtT0FFUC0yNTYiLCJlbmMiOiJBMjU2R0NNIn0.abc",
            "JWT/JWE",
        ),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3", "PDF"),
        (b"PK\x03\x04\x14\x00", "ZIP"),
    ];
    for (input, hint) in cases {
        let err = refused(input, &Limits::default());
        assert!(matches!(err, SniffError::NotXml { .. }), "{err:?}");
        assert!(err.to_string().contains(hint), "{err}");
    }
    for input in [
        &b"<\x00\xff\xfe"[..],
        b"<<<<>>>>",
        b"<a><\xff/></a>",
        b"</a>",
        b"<a></b>",
        b"<a b c>",
    ] {
        let err = refused(input, &Limits::default());
        assert!(
            matches!(err, SniffError::NotWellFormed { .. }),
            "{input:?}: {err:?}"
        );
    }
}

#[test]
fn empty_documents() {
    for input in [
        "",
        "   \n\t ",
        "<?xml version=\"1.0\"?>",
        "<!-- nothing -->\n",
        "\u{feff}",
    ] {
        let err = refused_default(input);
        assert!(
            matches!(err, SniffError::Empty { .. }),
            "{input:?}: {err:?}"
        );
    }
}

#[test]
fn encodings_other_than_utf8_are_refused() {
    let err = refused(b"\xff\xfe<\x00a\x00/\x00>\x00", &Limits::default());
    assert!(
        matches!(&err, SniffError::UnsupportedEncoding { encoding, .. } if encoding == "UTF-16"),
        "{err:?}"
    );
    let err = refused_default("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a/>");
    assert!(
        matches!(&err, SniffError::UnsupportedEncoding { encoding, .. } if encoding == "ISO-8859-1"),
        "{err:?}"
    );
    for ok in ["UTF-8", "utf-8", "US-ASCII"] {
        let xml = format!("<?xml version=\"1.0\" encoding=\"{ok}\"?><a/>");
        assert!(inspect(xml.as_bytes(), &Limits::default()).is_ok(), "{ok}");
    }
    // Raw Latin-1 bytes in a document claiming UTF-8.
    let err = refused(b"<a>Stra\xdfe</a>", &Limits::default());
    assert!(err.to_string().contains("not valid UTF-8"), "{err}");
}

#[test]
fn byte_order_mark_is_skipped_and_counted_in_positions() {
    let xml = b"\xef\xbb\xbf<?xml version=\"1.0\"?>\n<a.b.0007/>";
    let got = inspect(xml, &Limits::default()).unwrap();
    assert_eq!(got.message_type.as_deref(), Some("0007"));
    let err = refused(b"\xef\xbb\xbf<a>\n<b></c></a>", &Limits::default());
    assert_eq!(
        err.position(),
        Position {
            line: 2,
            column: 4,
            offset: 10
        }
    );
}

#[test]
fn structural_errors_are_named() {
    let cases = [
        ("<a/><b/>", "a second root element <b>"),
        ("<a/>text", "text after the root element"),
        (
            "<?xml version=\"1.0\"?>text<a/>",
            "text before the root element",
        ),
        ("<a><![CDATA[x]]></a><![CDATA[y]]>", "CDATA section outside"),
        (
            "<a>\n  <b>\n  </c>\n</a>",
            "expected end tag </b>, found </c>",
        ),
        ("<p:a/>", "undeclared namespace prefix p"),
        ("<a p:x=\"1\"/>", "undeclared namespace prefix p"),
        ("<a x=\"1\" x=\"2\"/>", "malformed or duplicate attribute"),
        ("<a x=\"<\"/>", "contains '<'"),
        ("<a>\u{1}</a>", "control character"),
        ("<a>x]]>y</a>", "]]>"),
        ("<!-- a -- b --><a/>", "comment contains \"--\""),
        (
            " <?xml version=\"1.0\"?><a/>",
            "XML declaration must be at the very start",
        ),
        ("<1a/>", "invalid element name"),
        ("<a>AT&T</a>", "'&'"),
    ];
    for (xml, expected) in cases {
        let err = refused_default(xml);
        assert!(err.to_string().contains(expected), "{xml:?}: {err}");
        assert!(err.is_permanent());
    }
    let err = refused_default("<a>\n  <b>\n  </c>\n</a>");
    assert_eq!((err.position().line, err.position().column), (3, 3));
}

#[test]
fn io_errors_are_not_permanent() {
    struct Broken;
    impl Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("connection reset"))
        }
    }
    let err = sniff_reader(BufReader::new(b"<a>".chain(Broken)), &Limits::default()).unwrap_err();
    assert!(matches!(err, SniffError::Io { .. }), "{err:?}");
    assert!(!err.is_permanent());
    assert!(err.to_string().contains("connection reset"));
}
