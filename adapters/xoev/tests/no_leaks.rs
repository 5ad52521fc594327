//! Error messages end up in logs, dead-letter reasons and FIT-Connect rejections, so they
//! must never repeat what a citizen wrote. Each document below is broken in a different
//! way around a secret-looking value in text, attribute values, comments or declarations;
//! no error text (Display or Debug, from any entry point) may contain it.
//!
//! Element names may appear in errors; text that is syntactically a tag (`<Max>`) is a
//! tag. Where a tag is visibly broken, the errors give only its position.

use std::io::BufReader;

use amtsbote_xoev::{Limits, inspect, inspect_reader, sniff, sniff_reader};

const SECRET: &str = "Geheim4711";

fn broken_documents() -> Vec<String> {
    let s = SECRET;
    vec![
        format!("<a><b>{s}</b>"),
        format!("<a>{s}</b>"),
        format!("<a/>{s}"),
        format!("<?xml version=\"1.0\"?>{s}<a/>"),
        format!("<a x=\"{s} &foo;\"/>"),
        format!("<a x=\"{s}<\"/>"),
        format!("<a x=\"{s}\" x=\"{s}\"/>"),
        format!("<a x={s}/>"),
        format!("<a>{s} & Co</a>"),
        format!("<a>{s}\u{1}</a>"),
        format!("<a>x < {s} y</a>"),
        format!("<a>{s} <{s} Mustermann></a>"),
        format!("<!-- {s} -- x --><a/>"),
        format!("<!DOCTYPE a SYSTEM \"{s}\"><a/>"),
        format!("<!DOCTYPE a [<!ENTITY {s} \"{s}\">]><a>&{s};</a>"),
        format!("<a>&{s};</a>"),
        format!("<a>&#{s};</a>"),
        s.to_owned(),
        format!("{{\"name\": \"{s}\"}}"),
        format!("<?xml version=\"1.0\" encoding=\"{s}\"?><a/>"),
        format!("<?xml version=\"{s}\"?><a/>"),
        format!("<a><?pi {s}\u{2}?></a>"),
        format!("<a/><![CDATA[{s}]]>"),
        format!("<a><![CDATA[{s}"),
        format!("<a>{s}]]>x</a>"),
        format!("<a xmlns:p=\"{s}\"><q:b/></a>"),
        format!("<a>{s}<"),
        format!("<a b=\"{s}"),
        format!("<a>{}</a>", s.repeat(100)),
        format!(
            "<m.n.1><nachrichtenkopf.g2g><identifikation.nachricht><nachrichtentyp><code>{s} x</code></nachrichtentyp></identifikation.nachricht></nachrichtenkopf.g2g>{s}"
        ),
    ]
}

#[test]
fn error_texts_never_contain_document_values() {
    // A text limit small enough that the repeated secret trips it.
    let limits = Limits {
        max_text_len: 500,
        ..Limits::default()
    };
    for doc in broken_documents() {
        let bytes = doc.as_bytes();
        let results = [
            sniff(bytes, &limits),
            inspect(bytes, &limits),
            sniff_reader(BufReader::with_capacity(4, bytes), &limits),
            inspect_reader(BufReader::with_capacity(4, bytes), &limits),
        ];
        assert!(results[1].is_err(), "inspect accepted {doc:?}");
        for result in &results {
            if let Err(err) = result {
                let shown = format!("{err} / {err:?}");
                assert!(!shown.contains(SECRET), "leak for {doc:?}: {shown}");
            }
        }
    }
}

#[test]
fn warnings_never_contain_document_values() {
    let doc = format!(
        "<m.n.0001 version=\"{SECRET} 1\"><nachrichtenkopf.g2g><identifikation.nachricht>\
         <nachrichtentyp><code>{SECRET} 2</code></nachrichtentyp></identifikation.nachricht>\
         <leser><kennung></kennung><name>{SECRET}</name></leser></nachrichtenkopf.g2g></m.n.0001>"
    );
    let got = inspect(doc.as_bytes(), &Limits::default()).unwrap();
    assert!(!got.warnings.is_empty());
    for warning in &got.warnings {
        assert!(!warning.contains(SECRET), "{warning}");
    }
}
