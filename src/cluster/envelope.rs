//! The envelope on the wire: protobuf (`proto/amtsbote/v1/envelope.proto`), so that queue
//! messages stay small and workers in other languages can read them.
//!
//! On top of [`Envelope`] the wire message carries the delivery bookkeeping that the embedded
//! queue keeps in its table (attempt number, start of the first attempt) and the W3C trace
//! context, so a message carries everything a consumer needs across processes.

use crate::message::{Envelope, Millis, Part, XoevHeader, XtaMeta};
use prost::Message as _;

/// The generated protobuf types (`amtsbote.v1`).
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/amtsbote.v1.rs"));
}

/// Content type of a queue message body.
pub const CONTENT_TYPE: &str = "application/protobuf";
/// The AMQP `type` property of a queue message: the protobuf message name.
pub const MESSAGE_TYPE: &str = "amtsbote.v1.Envelope";

/// An envelope as it travels through the queue, with its delivery bookkeeping.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedEnvelope {
    pub envelope: Envelope,
    /// The attempt this copy is delivered as: 1 for the first.
    pub attempt: u32,
    /// When the first attempt started (ms since the epoch); 0 before it did.
    pub first_attempt_at: Millis,
    /// W3C `tracestate` that goes with the envelope's `traceparent`.
    pub tracestate: Option<String>,
}

/// A queue message that cannot be read as an envelope.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("queue message is not an amtsbote.v1.Envelope: {0}")]
    Decode(#[from] prost::DecodeError),
    #[error("queue message has an invalid message id: {0}")]
    MessageId(uuid::Error),
}

impl QueuedEnvelope {
    /// A fresh envelope, before its first attempt.
    pub fn new(envelope: Envelope) -> Self {
        QueuedEnvelope {
            envelope,
            attempt: 1,
            first_attempt_at: 0,
            tracestate: None,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        proto::Envelope::from(self).encode_to_vec()
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        QueuedEnvelope::try_from(proto::Envelope::decode(bytes)?)
    }
}

impl From<&QueuedEnvelope> for proto::Envelope {
    fn from(q: &QueuedEnvelope) -> Self {
        let e = &q.envelope;
        let h = &e.header;
        proto::Envelope {
            message_id: e.message_id.to_string(),
            tenant: e.tenant.clone(),
            source: e.source.clone(),
            transport_id: e.transport_id.clone(),
            received_at: e.received_at,
            header: Some(proto::XoevHeader {
                standard: h.standard.clone(),
                version: h.version.clone(),
                namespace: h.namespace.clone(),
                root: h.root.clone(),
                message_type: h.message_type.clone(),
                message_uuid: h.message_uuid.clone(),
                author: h.author.clone(),
                reader: h.reader.clone(),
                test: h.test,
                xta: h.xta.as_ref().map(|x| proto::XtaMeta {
                    message_id: x.message_id.clone(),
                    author: x.author.clone(),
                    reader: x.reader.clone(),
                    service: x.service.clone(),
                    business_scenario: x.business_scenario.clone(),
                    message_type: x.message_type.clone(),
                    payload_schema: x.payload_schema.clone(),
                    test: x.test,
                }),
            }),
            service_key: e.service_key.clone(),
            destination: e.destination.clone(),
            route: e.route.clone(),
            connector: e.connector.clone(),
            mapping: e.mapping.clone(),
            parts: e
                .parts
                .iter()
                .map(|p| proto::Part {
                    name: p.name.clone(),
                    content_type: p.content_type.clone(),
                    filename: p.filename.clone(),
                    size: p.size,
                    sha256: p.sha256.clone(),
                })
                .collect(),
            delivery_key: e.delivery_key.clone(),
            attempt: q.attempt,
            first_attempt_at: q.first_attempt_at,
            traceparent: e.traceparent.clone(),
            tracestate: q.tracestate.clone(),
        }
    }
}

impl TryFrom<proto::Envelope> for QueuedEnvelope {
    type Error = EnvelopeError;

    fn try_from(p: proto::Envelope) -> Result<Self, EnvelopeError> {
        let message_id = p.message_id.parse().map_err(EnvelopeError::MessageId)?;
        // A missing header is an empty one (proto3 leaves unset messages out).
        let h = p.header.unwrap_or_default();
        Ok(QueuedEnvelope {
            envelope: Envelope {
                message_id,
                tenant: p.tenant,
                source: p.source,
                transport_id: p.transport_id,
                received_at: p.received_at,
                header: XoevHeader {
                    standard: h.standard,
                    version: h.version,
                    namespace: h.namespace,
                    root: h.root,
                    message_type: h.message_type,
                    message_uuid: h.message_uuid,
                    author: h.author,
                    reader: h.reader,
                    test: h.test,
                    xta: h.xta.map(|x| XtaMeta {
                        message_id: x.message_id,
                        author: x.author,
                        reader: x.reader,
                        service: x.service,
                        business_scenario: x.business_scenario,
                        message_type: x.message_type,
                        payload_schema: x.payload_schema,
                        test: x.test,
                    }),
                },
                service_key: p.service_key,
                destination: p.destination,
                route: p.route,
                connector: p.connector,
                mapping: p.mapping,
                parts: p
                    .parts
                    .into_iter()
                    .map(|p| Part {
                        name: p.name,
                        content_type: p.content_type,
                        filename: p.filename,
                        size: p.size,
                        sha256: p.sha256,
                    })
                    .collect(),
                traceparent: p.traceparent,
                delivery_key: p.delivery_key,
            },
            attempt: p.attempt,
            first_attempt_at: p.first_attempt_at,
            tracestate: p.tracestate,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::MessageId;
    use rand::Rng;

    fn full() -> QueuedEnvelope {
        QueuedEnvelope {
            envelope: Envelope {
                message_id: MessageId::new(),
                tenant: "musterstadt".into(),
                source: "fit-connect".into(),
                transport_id: Some("sub-0815".into()),
                received_at: 1_780_000_000_123,
                header: XoevHeader {
                    standard: Some("xgewerbeanzeige".into()),
                    version: Some("3.1".into()),
                    namespace: Some("http://www.xgewerbeanzeige.de/spezifikation/3.1".into()),
                    root: Some("abh.gewerbemeldung.0500".into()),
                    message_type: Some("0500".into()),
                    message_uuid: Some("8b1e4f9a-0000-4000-8000-000000000001".into()),
                    author: Some("dvdv:01234".into()),
                    reader: Some("ags:09162000".into()),
                    test: true,
                    xta: Some(XtaMeta {
                        message_id: "urn:de:xta:messageid:dataport_xta_210:0815".into(),
                        author: "dvdv:01234".into(),
                        reader: "ags:09162000".into(),
                        service: "urn:xdomea:AbgabeAktenAussonderung".into(),
                        business_scenario: "XDOMEA_DATA".into(),
                        message_type: "0503".into(),
                        payload_schema: "urn:xoev-de:xdomea:schema:3.0.0".into(),
                        test: true,
                    }),
                },
                service_key: Some("99050012104000".into()),
                destination: Some("d5e6".into()),
                route: "gewerbe".into(),
                connector: "gewerberegister".into(),
                mapping: Some("gewerbe-json".into()),
                parts: vec![
                    Part {
                        name: "payload".into(),
                        content_type: "application/xml".into(),
                        filename: None,
                        size: 4711,
                        sha256: "ab".repeat(32),
                    },
                    Part {
                        name: "attachment-1".into(),
                        content_type: "application/pdf".into(),
                        filename: Some("Gewerbeanmeldung Müller.pdf".into()),
                        size: 300 << 20,
                        sha256: "cd".repeat(32),
                    },
                ],
                traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
                delivery_key: Some("force-2".into()),
            },
            attempt: 3,
            first_attempt_at: 1_780_000_001_000,
            tracestate: Some("vendor=x".into()),
        }
    }

    #[test]
    fn every_field_survives_the_round_trip() {
        let q = full();
        assert_eq!(QueuedEnvelope::decode(&q.encode()).unwrap(), q);
    }

    #[test]
    fn empty_and_absent_stay_apart() {
        // proto3 `optional` keeps presence: `Some("")` must not come back as `None`.
        let mut q = full();
        q.envelope.transport_id = Some(String::new());
        q.envelope.service_key = None;
        q.envelope.header = XoevHeader::default();
        q.envelope.parts.clear();
        q.tracestate = None;
        assert_eq!(QueuedEnvelope::decode(&q.encode()).unwrap(), q);
    }

    fn some_text(rng: &mut impl Rng) -> String {
        const ALPHABET: &[char] = &['a', 'Z', '0', ' ', 'ä', 'ß', '€', '-', ':', '\u{1F600}'];
        let len = rng.random_range(0..12);
        (0..len)
            .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())])
            .collect()
    }

    fn maybe(rng: &mut impl Rng) -> Option<String> {
        rng.random_bool(0.5).then(|| some_text(rng))
    }

    /// Property-style: many varied envelopes (absent, empty and non-ASCII values, extreme
    /// numbers) all come back unchanged.
    #[test]
    fn varied_envelopes_round_trip() {
        let mut rng = rand::rng();
        for _ in 0..500 {
            let parts = (0..rng.random_range(0..4))
                .map(|_| Part {
                    name: some_text(&mut rng),
                    content_type: some_text(&mut rng),
                    filename: maybe(&mut rng),
                    size: rng.random(),
                    sha256: some_text(&mut rng),
                })
                .collect();
            let q = QueuedEnvelope {
                envelope: Envelope {
                    message_id: MessageId::new(),
                    tenant: some_text(&mut rng),
                    source: some_text(&mut rng),
                    transport_id: maybe(&mut rng),
                    received_at: rng.random(),
                    header: XoevHeader {
                        standard: maybe(&mut rng),
                        version: maybe(&mut rng),
                        namespace: maybe(&mut rng),
                        root: maybe(&mut rng),
                        message_type: maybe(&mut rng),
                        message_uuid: maybe(&mut rng),
                        author: maybe(&mut rng),
                        reader: maybe(&mut rng),
                        test: rng.random(),
                        xta: rng.random_bool(0.5).then(|| XtaMeta {
                            message_id: some_text(&mut rng),
                            author: some_text(&mut rng),
                            reader: some_text(&mut rng),
                            service: some_text(&mut rng),
                            business_scenario: some_text(&mut rng),
                            message_type: some_text(&mut rng),
                            payload_schema: some_text(&mut rng),
                            test: rng.random(),
                        }),
                    },
                    service_key: maybe(&mut rng),
                    destination: maybe(&mut rng),
                    route: some_text(&mut rng),
                    connector: some_text(&mut rng),
                    mapping: maybe(&mut rng),
                    parts,
                    traceparent: maybe(&mut rng),
                    delivery_key: maybe(&mut rng),
                },
                attempt: rng.random(),
                first_attempt_at: rng.random(),
                tracestate: maybe(&mut rng),
            };
            assert_eq!(QueuedEnvelope::decode(&q.encode()).unwrap(), q, "{q:?}");
        }
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        assert!(matches!(
            QueuedEnvelope::decode(&[0xff, 0xff, 0xff]),
            Err(EnvelopeError::Decode(_))
        ));
        let bad_id = proto::Envelope {
            message_id: "not-a-uuid".into(),
            ..Default::default()
        };
        let err = QueuedEnvelope::decode(&bad_id.encode_to_vec()).unwrap_err();
        assert!(err.to_string().contains("message id"), "{err}");
    }
}
