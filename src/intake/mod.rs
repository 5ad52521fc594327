//! Intake: the single door through which every inbound adapter hands over a message.
//!
//! An adapter opens a [`Draft`], streams attachments into it (they go straight to the
//! encrypted payload store), sets the main document, and commits. Commit checks the document
//! (well-formed XML or JSON, within limits), sniffs the XÖV header, stores the document,
//! decides the route and writes the ledger row together with the queue entry — one
//! transaction. Only a committed draft may be acknowledged to the transport. A draft that
//! fails or is dropped deletes what it stored: nothing is ever half-stored.

mod document;
mod json;
pub mod schema;

use crate::ledger::{Admission, Ledger, LedgerError, NewMessage};
use crate::message::{
    Envelope, MessageId, PAYLOAD_PART, Part, State, XoevHeader, XtaMeta, clean_filename, now_millis,
};
use crate::payload::{ByteStream, PayloadError, PayloadStore, put_bytes};
use crate::routing::{RouteInput, Router};
use crate::telemetry::events::{DuplicateIgnored, IntakeStagesTimed, MessageAdmitted};
use crate::telemetry::{spans, trace};
use bytes::Bytes;
use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tracing::{Instrument, Span};

use amtsbote_xoev::validate::Validator;
/// The document check intake runs at commit; not API (the fuzz target `multipart` uses it).
#[doc(hidden)]
pub use document::check as check_document;
pub use document::{DocumentFormat, DocumentLimits};
pub use schema::Rejection;

/// Why intake refused a message. Texts name the message and the rule, never its content.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("unknown tenant `{0}`")]
    UnknownTenant(String),
    #[error("the document is not well-formed {format}: {reason}")]
    Malformed {
        format: &'static str,
        reason: String,
    },
    #[error(
        "the {format} document is not valid UTF-8 at byte {offset} (line {line}, column {column}): send it encoded as UTF-8"
    )]
    InvalidUtf8 {
        format: &'static str,
        offset: usize,
        line: usize,
        column: usize,
    },
    #[error(
        "the JSON document has a lone UTF-16 surrogate in a string escape at line {line}, column {column}: \\ud800 to \\udfff are valid only as a high-low pair; send the text as UTF-8"
    )]
    LoneSurrogate { line: usize, column: usize },
    #[error(
        "the JSON document is nested deeper than {limit} levels of arrays and objects (line {line}, column {column}): flatten it, or ask the operator to raise intake.max_json_depth"
    )]
    TooDeep {
        limit: usize,
        line: usize,
        column: usize,
    },
    #[error(
        "the request has more than {limit} multipart parts (the document and its attachments): send fewer, or ask the operator to raise intake.max_parts"
    )]
    TooManyParts { limit: usize },
    #[error(
        "attachment {part} is larger than the limit of {limit} bytes per attachment (intake.max_part_bytes)"
    )]
    PartTooLarge { part: usize, limit: u64 },
    #[error(
        "unsupported content type `{0}`: send XML (application/xml) or JSON (application/json)"
    )]
    Unsupported(String),
    #[error("the message has no document")]
    MissingDocument,
    #[error("the message is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("reading the message failed: {0}")]
    Incomplete(String),
    #[error("the message could not be stored ({0}); nothing was kept, send it again later")]
    Storage(String),
}

impl IntakeError {
    /// The document itself is at fault (not well-formed, not UTF-8, a lone surrogate, nested
    /// too deep): sent again unchanged it would be refused again.
    pub fn is_document_fault(&self) -> bool {
        matches!(
            self,
            IntakeError::Malformed { .. }
                | IntakeError::InvalidUtf8 { .. }
                | IntakeError::LoneSurrogate { .. }
                | IntakeError::TooDeep { .. }
        )
    }
}

impl From<PayloadError> for IntakeError {
    fn from(e: PayloadError) -> Self {
        match e {
            PayloadError::TooLarge { limit, .. } => IntakeError::TooLarge { limit },
            PayloadError::Source { reason, .. } => IntakeError::Incomplete(reason),
            other => IntakeError::Storage(other.to_string()),
        }
    }
}

impl From<LedgerError> for IntakeError {
    fn from(e: LedgerError) -> Self {
        IntakeError::Storage(e.to_string())
    }
}

/// Where a message comes from.
#[derive(Debug, Clone)]
pub struct Origin {
    pub tenant: String,
    pub source: String,
    /// The transport's id for this submission (dedupe key per source).
    pub transport_id: Option<String>,
    /// LeiKa Leistungsschlüssel, when the transport names one.
    pub service_key: Option<String>,
    /// Where the transport addressed it: FIT-Connect destination id, XTA reader mailbox.
    pub destination: Option<String>,
}

/// What intake did with a message. A message refused for its content (schema violation)
/// is kept too, in state `rejected`, with the rejection to tell the sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub id: MessageId,
    pub duplicate: bool,
    pub state: State,
    pub connector: Option<String>,
    pub rejection: Option<Rejection>,
}

pub struct Intake {
    ledger: Arc<dyn Ledger>,
    store: Arc<dyn PayloadStore>,
    router: Router,
    tenants: BTreeSet<String>,
    limits: DocumentLimits,
    validator: Arc<Validator>,
    /// Drafts being received right now; their parts are not orphans.
    open: Mutex<HashSet<MessageId>>,
}

impl Intake {
    pub fn new(
        ledger: Arc<dyn Ledger>,
        store: Arc<dyn PayloadStore>,
        router: Router,
        tenants: BTreeSet<String>,
        limits: DocumentLimits,
        validator: Arc<Validator>,
    ) -> Self {
        Intake {
            ledger,
            store,
            router,
            tenants,
            limits,
            validator,
            open: Mutex::default(),
        }
    }

    pub fn limits(&self) -> &DocumentLimits {
        &self.limits
    }

    /// Whether `tenant` is one this installation serves.
    pub fn serves(&self, tenant: &str) -> bool {
        self.tenants.contains(tenant)
    }

    /// Whether a message is being received right now (for the orphan sweep).
    pub fn is_receiving(&self, id: MessageId) -> bool {
        self.open.lock().expect("open drafts").contains(&id)
    }

    /// Starts a message. Returns `Ok(Err(accepted))` when the transport id is already known:
    /// the caller answers with the first message's id without reading further.
    pub async fn open(
        self: &Arc<Self>,
        origin: Origin,
    ) -> Result<Result<Draft, Accepted>, IntakeError> {
        if !self.tenants.contains(&origin.tenant) {
            return Err(IntakeError::UnknownTenant(origin.tenant));
        }
        if let Some(tid) = &origin.transport_id
            && let Some(id) = self.ledger.find_by_transport(&origin.source, tid).await?
        {
            DuplicateIgnored {
                id,
                tenant: &origin.tenant,
                source: &origin.source,
            }
            .emit();
            return Ok(Err(self.duplicate(id).await));
        }
        let id = MessageId::new();
        self.open.lock().expect("open drafts").insert(id);
        Ok(Ok(Draft {
            intake: self.clone(),
            span: spans::intake(id, &origin.tenant, &origin.source),
            id,
            origin,
            started: Instant::now(),
            parts: Vec::new(),
            stored_bytes: 0,
            document: None,
            document_filename: None,
            xta: None,
            committed: false,
        }))
    }

    async fn duplicate(&self, id: MessageId) -> Accepted {
        let current = self.ledger.get(id).await.ok().flatten();
        Accepted {
            id,
            duplicate: true,
            state: current
                .as_ref()
                .map(|d| d.message.state)
                .unwrap_or(State::Received),
            connector: current.and_then(|d| d.message.connector),
            rejection: None,
        }
    }
}

/// A message being received. Commit it, or drop it to discard everything it stored.
pub struct Draft {
    intake: Arc<Intake>,
    /// The message's `intake` span; its context is stored with the message, so that every
    /// later stage continues this trace.
    span: Span,
    id: MessageId,
    origin: Origin,
    started: Instant,
    parts: Vec<Part>,
    stored_bytes: u64,
    document: Option<(Option<String>, Bytes)>,
    /// The main document's file name as the sender gave it, cleaned ([`clean_filename`]).
    document_filename: Option<String>,
    /// The XTA transport order, for messages that came over XTA.
    xta: Option<XtaMeta>,
    committed: bool,
}

impl Draft {
    pub fn id(&self) -> MessageId {
        self.id
    }

    /// Streams one attachment into the payload store.
    pub async fn attach(
        &mut self,
        filename: Option<String>,
        content_type: Option<String>,
        data: ByteStream<'_>,
    ) -> Result<(), IntakeError> {
        let number = self.parts.len() + 1;
        let name = format!("attachment-{number}");
        let limits = &self.intake.limits;
        let left = limits.max_message_bytes.saturating_sub(self.stored_bytes);
        let budget = left.min(limits.max_part_bytes);
        let stored = self
            .intake
            .store
            .put(self.id, &name, data, budget)
            .await
            .map_err(|e| match e {
                // Whichever bound was the tighter one is the rule the sender broke.
                PayloadError::TooLarge { .. } if limits.max_part_bytes < left => {
                    IntakeError::PartTooLarge {
                        part: number,
                        limit: limits.max_part_bytes,
                    }
                }
                PayloadError::TooLarge { .. } => IntakeError::TooLarge {
                    limit: limits.max_message_bytes,
                },
                other => other.into(),
            })?;
        self.stored_bytes += stored.size;
        self.parts.push(Part {
            name,
            content_type: content_type.unwrap_or_else(|| "application/octet-stream".into()),
            filename,
            size: stored.size,
            sha256: stored.sha256,
        });
        Ok(())
    }

    /// Sets the main document (XML or JSON). `content_type` as declared by the sender.
    pub fn set_document(
        &mut self,
        content_type: Option<String>,
        body: Bytes,
    ) -> Result<(), IntakeError> {
        let limits = &self.intake.limits;
        if body.len() as u64 > limits.max_document_bytes {
            return Err(IntakeError::TooLarge {
                limit: limits.max_document_bytes,
            });
        }
        if self.stored_bytes + body.len() as u64 > limits.max_message_bytes {
            return Err(IntakeError::TooLarge {
                limit: limits.max_message_bytes,
            });
        }
        self.document = Some((content_type, body));
        Ok(())
    }

    /// The main document's file name as the transport carries it (XTA `Message/@filename`);
    /// kept cleaned of paths and control characters, handed to connectors. Without one,
    /// connectors name the document themselves (`document.xml`).
    pub fn set_document_filename(&mut self, filename: Option<&str>) {
        self.document_filename = filename.and_then(clean_filename);
    }

    /// Names an attachment after the fact (the transport describes attachments only after
    /// they were received): the part attached with file name `label` gets `filename` and
    /// `content_type`.
    pub fn describe_attachment(
        &mut self,
        label: &str,
        filename: Option<String>,
        content_type: String,
    ) {
        if let Some(p) = self
            .parts
            .iter_mut()
            .find(|p| p.filename.as_deref() == Some(label))
        {
            p.filename = filename;
            p.content_type = content_type;
        }
    }

    /// The LeiKa Leistungsschlüssel, when the transport tells it only inside the message
    /// (FIT-Connect metadata).
    pub fn set_service_key(&mut self, key: Option<String>) {
        self.origin.service_key = key;
    }

    /// What the XTA transport order says (author, reader, service, scenario, type): kept
    /// with the message and matched by routes. A `TestMsg` makes it a test message.
    pub fn set_xta(&mut self, meta: XtaMeta) {
        self.xta = Some(meta);
    }

    /// The header of a message whose document says nothing: only the transport's facts.
    fn transport_header(&self) -> XoevHeader {
        XoevHeader {
            test: self.xta.as_ref().is_some_and(|x| x.test),
            xta: self.xta.clone(),
            ..Default::default()
        }
    }

    /// Records the message as `rejected` without routing it: the transport's own checks
    /// failed (a FIT-Connect submission that does not decrypt or whose hashes are wrong).
    /// What was set as document and attached is kept as evidence; `reason` is the ledger's
    /// account (no content).
    pub async fn commit_rejected(mut self, reason: String) -> Result<Accepted, IntakeError> {
        let span = self.span.clone();
        let result = self.try_commit_rejected(reason).instrument(span).await;
        if !self.committed {
            self.discard().await;
        }
        result
    }

    async fn try_commit_rejected(&mut self, reason: String) -> Result<Accepted, IntakeError> {
        let intake = self.intake.clone();
        let (declared, body) = self.document.take().ok_or(IntakeError::MissingDocument)?;
        let content_type = declared.unwrap_or_else(|| "application/octet-stream".into());
        let stored = put_bytes(intake.store.as_ref(), self.id, PAYLOAD_PART, body.clone())
            .instrument(spans::store(body.len()))
            .await?;
        self.parts.insert(
            0,
            Part {
                name: PAYLOAD_PART.into(),
                content_type: content_type.clone(),
                filename: self.document_filename.clone(),
                size: stored.size,
                sha256: stored.sha256,
            },
        );
        let admission = intake
            .ledger
            .admit(NewMessage {
                id: self.id,
                tenant: self.origin.tenant.clone(),
                source: self.origin.source.clone(),
                transport_id: self.origin.transport_id.clone(),
                received_at: now_millis(),
                content_type,
                header: self.transport_header(),
                service_key: self.origin.service_key.clone(),
                destination: self.origin.destination.clone(),
                parts: self.parts.clone(),
                path: vec![(State::Rejected, reason.clone())],
                route: None,
                enqueue: None,
                traceparent: trace::traceparent(&self.span),
            })
            .instrument(spans::enqueue(None))
            .await?;
        match admission {
            Admission::Created(id) => {
                self.committed = true;
                let size = self.parts.iter().map(|p| p.size).sum();
                spans::record_intake(
                    &self.span,
                    None,
                    size,
                    self.parts.len(),
                    None,
                    State::Rejected,
                );
                MessageAdmitted {
                    id,
                    tenant: &self.origin.tenant,
                    source: &self.origin.source,
                    standard: None,
                    message_type: None,
                    size,
                    parts: self.parts.len(),
                    connector: None,
                    state: State::Rejected,
                    elapsed: self.started.elapsed(),
                }
                .emit();
                Ok(Accepted {
                    id,
                    duplicate: false,
                    state: State::Rejected,
                    connector: None,
                    rejection: Some(Rejection {
                        reason,
                        violations: Vec::new(),
                        omitted: 0,
                    }),
                })
            }
            Admission::Duplicate(id) => Ok(intake.duplicate(id).await),
        }
    }

    /// Checks, stores, routes and records the message; durable when this returns `Ok`.
    /// On any error (and for a duplicate) everything stored for it is deleted before this
    /// returns.
    pub async fn commit(mut self) -> Result<Accepted, IntakeError> {
        let span = self.span.clone();
        let result = self.try_commit().instrument(span).await;
        if !self.committed {
            self.discard().await;
        }
        result
    }

    /// Deletes whatever this draft stored.
    pub async fn discard(mut self) {
        if !self.committed {
            self.committed = true;
            if let Err(e) = self.intake.store.delete(self.id).await {
                tracing::warn!(message_id = %self.id, error = %e,
                    "could not remove the parts of a refused message; the orphan sweep will");
            }
        }
    }

    async fn try_commit(&mut self) -> Result<Accepted, IntakeError> {
        let intake = self.intake.clone();
        let (declared, body) = self.document.take().ok_or(IntakeError::MissingDocument)?;
        let checked = spans::validate(body.len())
            .in_scope(|| document::check(declared.as_deref(), &body, &intake.limits))?;
        let mut header: XoevHeader = checked.header.clone();
        if let Some(xta) = &self.xta {
            header.test |= xta.test;
            header.xta = Some(xta.clone());
        }
        let routing = Instant::now();
        let route = spans::route().in_scope(|| {
            let route = intake.router.route(&RouteInput {
                tenant: &self.origin.tenant,
                source: &self.origin.source,
                header: &header,
                service_key: self.origin.service_key.as_deref(),
                destination: self.origin.destination.as_deref(),
                json: checked.format == DocumentFormat::Json,
            });
            spans::record_route(
                &Span::current(),
                route
                    .as_ref()
                    .map(|r| (r.route.as_str(), r.connector.as_str())),
            );
            route
        });
        let routed = routing.elapsed();
        let validating = Instant::now();
        let (verdict, validated) = match (&route, checked.format) {
            (Some(r), DocumentFormat::Xml) => (
                schema::check(&intake.validator, r, body.clone())
                    .instrument(spans::validate_schema())
                    .await?,
                Some(validating.elapsed()),
            ),
            _ => (schema::Verdict::Deliver(String::new()), None),
        };
        IntakeStagesTimed {
            route: routed,
            validate: validated,
        }
        .emit();
        let stored = put_bytes(intake.store.as_ref(), self.id, PAYLOAD_PART, body.clone())
            .instrument(spans::store(body.len()))
            .await?;
        self.parts.insert(
            0,
            Part {
                name: PAYLOAD_PART.into(),
                content_type: checked.content_type.clone(),
                filename: self.document_filename.clone(),
                size: stored.size,
                sha256: stored.sha256,
            },
        );

        let received_at = now_millis();
        let mut path = verdict.path(&checked.summary);
        let rejection = match &verdict {
            schema::Verdict::Reject(r) => Some(r.clone()),
            _ => None,
        };
        let deliver = matches!(verdict, schema::Verdict::Deliver(_));
        let enqueue = match &route {
            Some(_) if !deliver => None,
            Some(r) => {
                path.push((
                    State::Routed,
                    format!("route {} to connector {}", r.route, r.connector),
                ));
                Some(Envelope {
                    message_id: self.id,
                    tenant: self.origin.tenant.clone(),
                    source: self.origin.source.clone(),
                    transport_id: self.origin.transport_id.clone(),
                    received_at,
                    header: header.clone(),
                    service_key: self.origin.service_key.clone(),
                    destination: self.origin.destination.clone(),
                    route: r.route.clone(),
                    connector: r.connector.clone(),
                    parts: self.parts.clone(),
                    traceparent: trace::traceparent(&self.span),
                    delivery_key: None,
                    mapping: r.mapping.clone(),
                })
            }
            None => {
                path.push((
                    State::Unrouted,
                    if header.test {
                        "no route matches: it is a test message, and routes take test messages only with test_messages = \"include\" or \"only\"; add a route, then replay".into()
                    } else {
                        "no route matches; add a route, then replay".into()
                    },
                ));
                None
            }
        };
        let size: u64 = self.parts.iter().map(|p| p.size).sum();
        let connector = route.as_ref().map(|r| r.connector.as_str());
        let admission = intake
            .ledger
            .admit(NewMessage {
                id: self.id,
                tenant: self.origin.tenant.clone(),
                source: self.origin.source.clone(),
                transport_id: self.origin.transport_id.clone(),
                received_at,
                content_type: checked.content_type,
                header: header.clone(),
                service_key: self.origin.service_key.clone(),
                destination: self.origin.destination.clone(),
                parts: self.parts.clone(),
                path: path.clone(),
                route: route
                    .as_ref()
                    .map(|r| (r.route.clone(), r.connector.clone())),
                enqueue,
                traceparent: trace::traceparent(&self.span),
            })
            .instrument(spans::enqueue(connector))
            .await?;
        match admission {
            Admission::Created(id) => {
                self.committed = true;
                spans::record_intake(
                    &self.span,
                    Some(&header),
                    size,
                    self.parts.len(),
                    connector,
                    path.last().map(|p| p.0).unwrap_or(State::Validated),
                );
                MessageAdmitted {
                    id,
                    tenant: &self.origin.tenant,
                    source: &self.origin.source,
                    standard: header.standard.as_deref(),
                    message_type: header.message_type.as_deref(),
                    size,
                    parts: self.parts.len(),
                    connector,
                    state: path.last().map(|p| p.0).unwrap_or(State::Validated),
                    elapsed: self.started.elapsed(),
                }
                .emit();
                Ok(Accepted {
                    rejection,
                    id,
                    duplicate: false,
                    state: path.last().map(|p| p.0).unwrap_or(State::Validated),
                    connector: route.map(|r| r.connector),
                })
            }
            // Another request with the same transport id won the race; ours is discarded
            // (Drop deletes the parts).
            Admission::Duplicate(id) => {
                DuplicateIgnored {
                    id,
                    tenant: &self.origin.tenant,
                    source: &self.origin.source,
                }
                .emit();
                Ok(intake.duplicate(id).await)
            }
        }
    }
}

impl Drop for Draft {
    fn drop(&mut self) {
        self.intake
            .open
            .lock()
            .expect("open drafts")
            .remove(&self.id);
        if !self.committed {
            // Dropped mid-way (the sender hung up). Whether the ledger row was written cannot
            // be known here without racing the commit, so the parts are left to the orphan
            // sweep, which deletes only parts that no ledger row refers to.
            tracing::debug!(message_id = %self.id, "intake abandoned; the orphan sweep removes what it stored");
        }
    }
}
