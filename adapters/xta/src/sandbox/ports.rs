//! What the sandbox does with one HTTP request: route by path to a port, read the body within
//! the size limit, unpack MTOM, check the envelope (SOAP 1.2, WS-Addressing `Action` and
//! `MessageID`, the action belongs to this port, mandatory headers understood), inject faults,
//! map the client certificate to an account, run the operation, and answer with an envelope —
//! or with a fault carrying the right XTA error number.
//!
//! Requests are checked structurally by the same decoders the client uses for answers (element
//! order, required elements and attributes, value types); what fails there is a
//! `MessageSchemaViolationException` 9050 naming the element, never quoting content.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use futures::stream;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::server::Peer;
use super::store::{Listing, StoredMessage};
use super::{RecordedExchange, Shared, lock};
use crate::container::ContentContainer;
use crate::fault::{ErrorCode, ExceptionKind, SoapCode, write_fault, write_soap_fault};
use crate::management::{
    Availability, ReportRecord, ReportStatus, ServiceAvailability, TransportReport,
    parse_lookup_request, write_lookup_response,
};
use crate::metadata::{BusinessScenario, KeyCode, MessageMetaData, PartyIdentifier};
use crate::msgbox::{
    IteratorRequest, ListForm, MsgAttributes, MsgBoxResponse, MsgBoxState, MsgSelector,
    REASON_NO_MATCH, REASON_REQUEST_ID_INVALID, REASON_SEARCH_ARGS_INVALID, StatusList,
    StatusListRequest, parse_fetch_request,
};
use crate::mtom::{ContentEncoding, MediaType, Received, package};
use crate::soap::{Addressing, Envelope, EnvelopeError, new_message_id, write_envelope};
use crate::wsdl::{NS_OSCI, NS_OSCIMETA, NS_WSA, NS_XTA, Operation, Port, WSA_FAULT_ACTION};
use crate::xml::{Malformed, XmlLimits};

/// The body type of every answer: a few chunks, content parts not copied.
pub(crate) type ResponseBody =
    StreamBody<stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>>;

/// The longest pause allowed while a request body arrives.
const BODY_STALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
/// Oversized request bodies are read and discarded up to this size before the fault is sent.
const DRAIN_LIMIT: u64 = 512 * 1024 * 1024;

/// Code list of the sandbox's transport report records.
const RECORD_LIST_URI: &str = "urn:amtsbote:sandbox:xta:record";

/// Why an operation is refused: an XTA fault, or a plain SOAP fault.
#[derive(Debug, Clone)]
pub(crate) enum Refusal {
    Xta(ExceptionKind, ErrorCode, String),
    Soap(SoapCode, Option<&'static str>, String),
}

impl Refusal {
    fn xta(code: ErrorCode, reason: impl Into<String>) -> Self {
        let kind = code.exception().unwrap_or(ExceptionKind::TechnicalProblem);
        Refusal::Xta(kind, code, reason.into())
    }

    fn schema(error: impl std::fmt::Display) -> Self {
        Refusal::xta(
            ErrorCode::SCHEMA_VIOLATION,
            format!("the request does not conform to the XTA schemas: {error}"),
        )
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Xta(kind, code, reason) => write!(f, "{kind} {code}: {reason}"),
            Refusal::Soap(code, sub, reason) => {
                write!(
                    f,
                    "SOAP fault {code:?}{}: {reason}",
                    sub.map(|s| format!(" {s}")).unwrap_or_default()
                )
            }
        }
    }
}

impl From<Malformed> for Refusal {
    fn from(e: Malformed) -> Self {
        Refusal::schema(e)
    }
}

/// What an operation answers.
enum Answer {
    Empty,
    MessageId(String),
    Lookup(Vec<ServiceAvailability>),
    Report(Box<TransportReport>),
    StatusList(StatusList),
    Message {
        metadata: Box<MessageMetaData>,
        container: ContentContainer,
        response: MsgBoxResponse,
    },
}

/// The caller of one request.
pub(crate) struct Caller {
    account: usize,
    name: String,
    /// All identifiers of the account.
    identifiers: Vec<String>,
    /// The identifiers this request acts for (the Author header's, or all).
    acting_as: Vec<String>,
    services: Vec<String>,
}

pub(crate) async fn handle(
    shared: &Arc<Shared>,
    peer: &Peer,
    request: Request<amtsbote_listener::RequestBody>,
) -> Response<ResponseBody> {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    if lock(&shared.down_until).is_some_and(|until| Instant::now() < until) {
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "maintenance (fault injection)",
        );
    }
    let Some(port) = shared.port_at(request.uri().path()) else {
        return plain(StatusCode::NOT_FOUND, "no XTA port at this path");
    };
    if request.method() != Method::POST {
        return plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "XTA ports take SOAP over POST",
        );
    }
    let Some(content_type) = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
    else {
        return plain(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type missing");
    };
    let max_message = shared.max_message_bytes.load(Ordering::SeqCst);
    // Inline base64 is 4/3 of the content; allow for the envelope around it.
    let limit = max_message.saturating_mul(4) / 3 + 1024 * 1024;
    let body = match read_body(request.into_body(), limit).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            let op = MediaType::parse(&content_type)
                .ok()
                .and_then(|t| t.soap_action())
                .and_then(|a| Operation::from_action(&a));
            let refusal = Refusal::xta(
                ErrorCode::MESSAGE_TOO_LARGE,
                format!("the request is larger than {limit} bytes"),
            );
            let encoding = *lock(&shared.response_encoding);
            let (status, out) = fault_answer(op, None, &refusal, encoding);
            return respond(status, out.content_type, out.chunks);
        }
        Err(BodyError::Timeout) => {
            return plain(StatusCode::REQUEST_TIMEOUT, "the request body stalled");
        }
        Err(BodyError::Broken) => {
            return plain(
                StatusCode::BAD_REQUEST,
                "the request body could not be read",
            );
        }
    };
    let recording = lock(&shared.recording).is_some();
    // Parsing, decoding and checking a large message takes a while: not on a runtime thread.
    let (op, status, out) = {
        let (shared, peer, content_type, body) = (
            shared.clone(),
            peer.clone(),
            content_type.clone(),
            body.clone(),
        );
        match tokio::task::spawn_blocking(move || {
            process(&shared, &peer, port, &content_type, body)
        })
        .await
        {
            Ok(result) => result,
            Err(_) => {
                return plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the sandbox failed on this request",
                );
            }
        }
    };
    if recording && let Some(log) = lock(&shared.recording).as_mut() {
        log.push(RecordedExchange {
            operation: op,
            request_content_type: content_type,
            request_body: body,
            status: status.as_u16(),
            response_content_type: out.content_type.clone(),
            response_body: out.to_bytes(),
        });
    }
    respond(status, out.content_type, out.chunks)
}

enum BodyError {
    TooLarge,
    Timeout,
    Broken,
}

/// Reads a request body of at most `limit` bytes. A larger body is still read to its end (up
/// to [`DRAIN_LIMIT`]) and discarded, so that the client, which is still sending, gets to read
/// the fault instead of a reset connection.
async fn read_body(
    mut body: amtsbote_listener::RequestBody,
    limit: u64,
) -> Result<Bytes, BodyError> {
    use hyper::body::Body as _;
    let expected = body.size_hint().exact().unwrap_or(64 * 1024).min(limit);
    let mut buf = BytesMut::with_capacity(expected as usize);
    let mut total = 0u64;
    loop {
        let frame = match tokio::time::timeout(BODY_STALL_TIMEOUT, body.frame()).await {
            Err(_) => return Err(BodyError::Timeout),
            Ok(None) => break,
            Ok(Some(Err(_))) => return Err(BodyError::Broken),
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        total += data.len() as u64;
        if total > limit {
            buf = BytesMut::new();
            if total > DRAIN_LIMIT.max(limit) {
                break;
            }
            continue;
        }
        buf.extend_from_slice(&data);
    }
    if total > limit {
        return Err(BodyError::TooLarge);
    }
    Ok(buf.freeze())
}

fn plain(status: StatusCode, text: &'static str) -> Response<ResponseBody> {
    respond(
        status,
        "text/plain; charset=UTF-8".into(),
        vec![Bytes::from_static(text.as_bytes())],
    )
}

fn respond(status: StatusCode, content_type: String, chunks: Vec<Bytes>) -> Response<ResponseBody> {
    let length: usize = chunks.iter().map(Bytes::len).sum();
    let frames: Vec<Result<Frame<Bytes>, Infallible>> =
        chunks.into_iter().map(|c| Ok(Frame::data(c))).collect();
    let mut response = Response::new(StreamBody::new(stream::iter(frames)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if let Ok(v) = header::HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(header::CONTENT_LENGTH, header::HeaderValue::from(length));
    if status == StatusCode::SERVICE_UNAVAILABLE {
        headers.insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    }
    response
}

/// Runs one SOAP request; returns the operation (if known), the HTTP status and the answer.
fn process(
    shared: &Shared,
    peer: &Peer,
    port: Port,
    content_type: &str,
    body: Bytes,
) -> (Option<Operation>, StatusCode, crate::mtom::OutgoingBody) {
    let encoding = *lock(&shared.response_encoding);
    let received = match Received::from_http(content_type, body) {
        Ok(r) => r,
        Err(e) => {
            let (s, o) = fault_answer(None, None, &Refusal::schema(format!("MIME: {e}")), encoding);
            return (None, s, o);
        }
    };
    let envelope = match Envelope::parse(&received.root, &XmlLimits::default()) {
        Ok(e) => e,
        Err(EnvelopeError::VersionMismatch) => {
            let refusal = Refusal::Soap(
                SoapCode::VersionMismatch,
                None,
                "only SOAP 1.2 envelopes are accepted".into(),
            );
            let (s, o) = fault_answer(None, None, &refusal, encoding);
            return (None, s, o);
        }
        Err(e) => {
            let op = received.action.as_deref().and_then(Operation::from_action);
            let (s, o) = fault_answer(op, None, &Refusal::schema(e), encoding);
            return (op, s, o);
        }
    };
    let request_id = envelope.addressing.message_id.clone();
    let op = match check_addressing(&envelope, &received, port) {
        Ok(op) => op,
        Err((op, refusal)) => {
            let (s, o) = fault_answer(op, request_id.as_deref(), &refusal, encoding);
            return (op, s, o);
        }
    };
    let result = answer(shared, peer, op, &envelope, &received);
    let (status, out) = match result {
        Ok(answer) => (
            StatusCode::OK,
            write_answer(op, request_id.as_deref(), &answer, encoding),
        ),
        Err(refusal) => {
            tracing::info!(operation = %op, refusal = %refusal, "sandbox XTA server refused a request");
            fault_answer(Some(op), request_id.as_deref(), &refusal, encoding)
        }
    };
    (Some(op), status, out)
}

/// WS-Addressing and SOAP processing rules before the operation runs.
fn check_addressing(
    envelope: &Envelope<'_>,
    received: &Received,
    port: Port,
) -> Result<Operation, (Option<Operation>, Refusal)> {
    let addressing = &envelope.addressing;
    if addressing.action.is_empty() {
        return Err((
            None,
            Refusal::Soap(
                SoapCode::Sender,
                Some("wsa:MessageAddressingHeaderRequired"),
                "wsa:Action is required".into(),
            ),
        ));
    }
    let Some(op) = Operation::from_action(&addressing.action).filter(|op| op.port() == port) else {
        return Err((
            None,
            Refusal::Soap(
                SoapCode::Sender,
                Some("wsa:ActionNotSupported"),
                format!("this endpoint is the {port}; the action is not one of its operations"),
            ),
        ));
    };
    if let Some(http_action) = &received.action
        && http_action.trim() != addressing.action
    {
        return Err((
            Some(op),
            Refusal::Soap(
                SoapCode::Sender,
                Some("wsa:ActionMismatch"),
                "the action of the Content-Type differs from wsa:Action".into(),
            ),
        ));
    }
    if addressing.message_id.is_none() {
        return Err((
            Some(op),
            Refusal::Soap(
                SoapCode::Sender,
                Some("wsa:MessageAddressingHeaderRequired"),
                "wsa:MessageID is required".into(),
            ),
        ));
    }
    let not_understood = envelope.not_understood(&[
        (NS_OSCIMETA, "Author"),
        (NS_OSCIMETA, "MessageMetaData"),
        (NS_OSCI, "X509TokenContainer"),
    ]);
    if !not_understood.is_empty() {
        return Err((
            Some(op),
            Refusal::Soap(
                SoapCode::MustUnderstand,
                None,
                format!(
                    "header blocks not understood: {}",
                    not_understood.join(", ")
                ),
            ),
        ));
    }
    Ok(op)
}

fn answer(
    shared: &Shared,
    peer: &Peer,
    op: Operation,
    envelope: &Envelope<'_>,
    received: &Received,
) -> Result<Answer, Refusal> {
    let injected = shared
        .technical_faults
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if injected {
        return Err(Refusal::xta(
            ErrorCode::INTERNAL_ERROR,
            "internal error (fault injection)",
        ));
    }
    let caller = authenticate(shared, peer, envelope)?;
    tracing::debug!(operation = %op, account = %caller.name, "sandbox XTA request");
    match op {
        Operation::CheckAccountActive => Ok(Answer::Empty),
        Operation::CreateMessageId => {
            let id = format!(
                "urn:de:xta:messageid:amtsbote-sandbox:{}",
                uuid::Uuid::new_v4()
            );
            lock(&shared.store)
                .issued
                .insert(id.clone(), caller.account);
            Ok(Answer::MessageId(id))
        }
        Operation::LookupService => lookup_service(shared, envelope),
        Operation::GetTransportReport => transport_report(shared, &caller, envelope),
        Operation::CancelMessage => {
            let body = envelope.body_element(NS_WSA, "MessageID")?;
            body.leaf_text("/Envelope/Body/MessageID")?;
            Err(Refusal::xta(
                ErrorCode::NOT_BEFORE_NOT_SET,
                "the sandbox delivers at once; transport orders cannot be withdrawn",
            ))
        }
        Operation::SendMessage => send_message(shared, &caller, envelope, received),
        Operation::SendMessageSync => Err(Refusal::xta(
            ErrorCode::ONLY_ASYNCHRONOUS,
            "the sandbox transports asynchronously only; use sendMessage",
        )),
        Operation::GetStatusList => status_list(shared, &caller, envelope),
        Operation::GetNextStatusList => next_status_list(shared, &caller, envelope),
        Operation::GetMessage => get_message(shared, &caller, envelope),
        Operation::GetNextMessage => Err(Refusal::Soap(
            SoapCode::Sender,
            Some("wsa:ActionNotSupported"),
            "getNextMessage is not implemented by the sandbox; use getMessage".into(),
        )),
        Operation::Close => close(shared, &caller, envelope),
    }
}

/// Certificate → account (9012 unknown, 9011 locked); Author header → acting identity (9014).
fn authenticate(shared: &Shared, peer: &Peer, envelope: &Envelope<'_>) -> Result<Caller, Refusal> {
    let account = shared.account_for(peer).ok_or_else(|| {
        Refusal::xta(
            ErrorCode::ACCOUNT_UNKNOWN,
            "no account is bound to this client certificate",
        )
    })?;
    let (name, active, identifiers, services) = {
        let a = lock(&shared.accounts[account]);
        (
            a.config.name.clone(),
            a.active,
            a.config
                .identifiers
                .iter()
                .map(|i| i.value.clone())
                .collect::<Vec<_>>(),
            a.config.services.clone(),
        )
    };
    if !active {
        return Err(Refusal::xta(
            ErrorCode::ACCOUNT_LOCKED,
            "the account is locked",
        ));
    }
    let acting_as = match envelope.header(NS_OSCIMETA, "Author") {
        Some(author) => {
            let author = PartyIdentifier::parse_party(author, "/Envelope/Header/Author")?;
            if !identifiers.contains(&author.value) {
                return Err(Refusal::xta(
                    ErrorCode::IDENTITY_MISMATCH,
                    "the Author identifier does not belong to the account of this certificate",
                ));
            }
            vec![author.value]
        }
        None => identifiers.clone(),
    };
    Ok(Caller {
        account,
        name,
        identifiers,
        acting_as,
        services,
    })
}

fn lookup_service(shared: &Shared, envelope: &Envelope<'_>) -> Result<Answer, Refusal> {
    let path = "/Envelope/Body/LookupServiceRequest";
    let queries =
        parse_lookup_request(envelope.body_element(NS_XTA, "LookupServiceRequest")?, path)?;
    let answers = queries
        .into_iter()
        .map(|q| {
            let owner = shared.accounts.iter().find_map(|a| {
                let a = lock(a);
                a.config
                    .identifiers
                    .iter()
                    .any(|i| i.value == q.reader.value)
                    .then(|| a.config.services.clone())
            });
            let availability = match owner {
                Some(services) if services.is_empty() || services.contains(&q.service) => {
                    Availability::Available
                }
                _ => Availability::NotAvailable,
            };
            ServiceAvailability {
                reader: q.reader,
                service: q.service,
                availability,
                parameters: Vec::new(),
            }
        })
        .collect();
    Ok(Answer::Lookup(answers))
}

fn send_message(
    shared: &Shared,
    caller: &Caller,
    envelope: &Envelope<'_>,
    received: &Received,
) -> Result<Answer, Refusal> {
    let header = envelope
        .header(NS_OSCIMETA, "MessageMetaData")
        .ok_or_else(|| {
            Refusal::xta(
                ErrorCode::NO_PARAMETERS,
                "sendMessage needs the MessageMetaData header",
            )
        })?;
    let metadata = MessageMetaData::parse(header, "/Envelope/Header/MessageMetaData")?;
    let path = "/Envelope/Body/GenericContentContainer";
    let container = ContentContainer::parse(
        envelope.body_element(NS_XTA, "GenericContentContainer")?,
        path,
        received,
    )?;
    deliver(shared, Some(caller), metadata, container)?;
    Ok(Answer::Empty)
}

/// Puts a message into its reader's mailbox after the checks of `sendMessage`
/// (`sender: None` skips the sender's permissions, for seeding).
pub(crate) fn deliver(
    shared: &Shared,
    sender: Option<&Caller>,
    mut metadata: MessageMetaData,
    container: ContentContainer,
) -> Result<(), Refusal> {
    if let Some(caller) = sender {
        if !caller.identifiers.contains(&metadata.author.value) {
            return Err(Refusal::xta(
                ErrorCode::IDENTITY_MISMATCH,
                "the Author of the message does not belong to the account of this certificate",
            ));
        }
        if !caller.services.is_empty() && !caller.services.contains(&metadata.qualifier.service) {
            return Err(Refusal::xta(
                ErrorCode::SERVICE_NOT_BOOKED,
                "the account has not booked the message's service",
            ));
        }
    }
    let size = container.content_bytes();
    let max = shared.max_message_bytes.load(Ordering::SeqCst);
    if size > max {
        return Err(Refusal::xta(
            ErrorCode::MESSAGE_TOO_LARGE,
            format!("the content has {size} bytes; at most {max} are accepted"),
        ));
    }
    if !shared.mailbox_exists(&metadata.reader.value) {
        return Err(Refusal::xta(
            ErrorCode::INVALID_PARAMETER_COMBINATION,
            "the reader has no mailbox on this XTA server",
        ));
    }
    if shared.check_xml_payloads && names_xml(&container.message.content_type) {
        let limits = XmlLimits {
            max_depth: 256,
            max_elements: 10_000_000,
            max_attributes: 256,
        };
        if let Err(e) = crate::xml::parse(&container.message.data, &limits) {
            return Err(Refusal::xta(
                ErrorCode::SCHEMA_VIOLATION,
                format!("the message (content type XML) is not well-formed XML: {e}"),
            ));
        }
    }
    let now = OffsetDateTime::now_utc();
    let mut store = lock(&shared.store);
    if store.messages.contains_key(&metadata.message_id) {
        return Err(Refusal::xta(
            ErrorCode::DUPLICATE_MESSAGE_ID,
            "a message with this MessageID exists already",
        ));
    }
    if let Some(caller) = sender
        && shared.require_issued_message_ids
        && store.issued.get(&metadata.message_id) != Some(&caller.account)
    {
        return Err(Refusal::xta(
            ErrorCode::INVALID_PARAMETER_COMBINATION,
            "the MessageID was not issued to this account by createMessageId",
        ));
    }
    metadata.delivery.delivery = Some(rfc3339(now));
    metadata
        .delivery
        .initial_send
        .get_or_insert_with(|| rfc3339(now));
    metadata.msg_size = (size > 0).then_some(size);
    store.issued.remove(&metadata.message_id);
    store.insert(StoredMessage {
        metadata,
        container,
        sender_account: sender.map(|c| c.name.clone()),
        delivered_at: now,
        fetch_count: 0,
        first_fetch: None,
        closed_at: None,
    });
    Ok(())
}

fn names_xml(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "text/xml" || essence == "application/xml" || essence.ends_with("+xml")
}

fn status_list(
    shared: &Shared,
    caller: &Caller,
    envelope: &Envelope<'_>,
) -> Result<Answer, Refusal> {
    let path = "/Envelope/Body/MsgBoxStatusListRequest";
    let request = StatusListRequest::parse(
        envelope.body_element(NS_OSCI, "MsgBoxStatusListRequest")?,
        path,
    )?;
    let form = request.list_form.unwrap_or_default();
    let page_size = request.max_list_items.map_or(usize::MAX, |n| n as usize);
    let request_id = new_message_id();
    let mut store = lock(&shared.store);
    store.expire_listings(shared.iterator_lifetime);
    let selector = request.selector.unwrap_or_default();
    let Some(filter) = Filter::new(&selector) else {
        return Ok(Answer::StatusList(nothing(
            request_id,
            REASON_SEARCH_ARGS_INVALID,
        )));
    };
    let ids: VecDeque<String> = store
        .open_for(&caller.acting_as)
        .filter(|m| filter.matches(m))
        .map(|m| m.metadata.message_id.clone())
        .collect();
    if ids.is_empty() {
        return Ok(Answer::StatusList(nothing(request_id, REASON_NO_MATCH)));
    }
    let mut listing = Listing {
        account: caller.account,
        remaining: ids,
        page_size,
        form,
        touched: Instant::now(),
    };
    let page = take_page(&store, caller, &mut listing);
    let pending = listing.remaining.len() as u64;
    store.listings.insert(request_id.clone(), listing);
    Ok(Answer::StatusList(page_answer(
        &store, page, form, request_id, pending,
    )))
}

fn next_status_list(
    shared: &Shared,
    caller: &Caller,
    envelope: &Envelope<'_>,
) -> Result<Answer, Refusal> {
    let path = "/Envelope/Body/MsgBoxGetNextRequest";
    let request = IteratorRequest::parse(
        envelope.body_element(NS_OSCI, "MsgBoxGetNextRequest")?,
        path,
    )?;
    let mut store = lock(&shared.store);
    store.expire_listings(shared.iterator_lifetime);
    let Some(mut listing) = store
        .listings
        .remove(&request.request_id)
        .filter(|l| l.account == caller.account)
    else {
        return Ok(Answer::StatusList(nothing(
            request.request_id,
            REASON_REQUEST_ID_INVALID,
        )));
    };
    let page = take_page(&store, caller, &mut listing);
    if page.is_empty() {
        return Ok(Answer::StatusList(nothing(
            request.request_id,
            REASON_NO_MATCH,
        )));
    }
    let pending = listing.remaining.len() as u64;
    let form = listing.form;
    listing.touched = Instant::now();
    store.listings.insert(request.request_id.clone(), listing);
    Ok(Answer::StatusList(page_answer(
        &store,
        page,
        form,
        request.request_id,
        pending,
    )))
}

/// The next page of a listing, skipping messages closed (or no longer visible) since.
fn take_page(store: &super::store::Store, caller: &Caller, listing: &mut Listing) -> Vec<String> {
    let mut page = Vec::new();
    while page.len() < listing.page_size {
        let Some(id) = listing.remaining.pop_front() else {
            break;
        };
        let visible = store.messages.get(&id).is_some_and(|m| {
            m.closed_at.is_none() && caller.acting_as.contains(&m.metadata.reader.value)
        });
        if visible {
            page.push(id);
        }
    }
    page
}

fn nothing(request_id: String, reason: &str) -> StatusList {
    StatusList {
        response: Some(MsgBoxResponse {
            request_id,
            state: MsgBoxState::NoMessageAvailable {
                reason: reason.to_string(),
            },
        }),
        messages: Vec::new(),
        attributes: Vec::new(),
    }
}

fn page_answer(
    store: &super::store::Store,
    page: Vec<String>,
    form: ListForm,
    request_id: String,
    pending: u64,
) -> StatusList {
    let stored = page.iter().filter_map(|id| store.messages.get(id));
    let (messages, attributes) = match form {
        ListForm::MessageMetaData => (stored.map(|m| m.metadata.clone()).collect(), Vec::new()),
        ListForm::MsgAttributes => (Vec::new(), stored.map(attributes_of).collect()),
    };
    StatusList {
        response: Some(MsgBoxResponse {
            request_id,
            state: MsgBoxState::ItemsPending(pending),
        }),
        messages,
        attributes,
    }
}

fn attributes_of(m: &StoredMessage) -> MsgAttributes {
    MsgAttributes {
        message_id: m.metadata.message_id.clone(),
        relates_to: m.metadata.in_reply_to.clone(),
        type_of_business_scenario: match &m.metadata.qualifier.business_scenario {
            BusinessScenario::Defined(k) => k.code.clone(),
            BusinessScenario::Undefined(s) => s.clone(),
        },
        msg_size: i32::try_from(m.container.content_bytes()).unwrap_or(i32::MAX),
        obsolete_after_date: m.metadata.delivery.obsolete_after.clone(),
        delivery_time: rfc3339(m.delivered_at),
        initial_fetched_time: m.first_fetch.map(rfc3339),
    }
}

/// A `MsgSelector` applied to stored messages.
struct Filter<'s> {
    selector: &'s MsgSelector,
    from: Option<OffsetDateTime>,
    to: Option<OffsetDateTime>,
}

impl<'s> Filter<'s> {
    /// `None` if the time bounds are not valid `xs:dateTime` values with time zone.
    fn new(selector: &'s MsgSelector) -> Option<Self> {
        let parse = |t: &Option<String>| match t {
            None => Some(None),
            Some(t) => OffsetDateTime::parse(t, &Rfc3339).ok().map(Some),
        };
        Some(Filter {
            selector,
            from: parse(&selector.entry_time_from)?,
            to: parse(&selector.entry_time_to)?,
        })
    }

    fn matches(&self, m: &StoredMessage) -> bool {
        let s = self.selector;
        (s.message_ids.is_empty() || s.message_ids.contains(&m.metadata.message_id))
            && (s.relates_to.is_empty()
                || m.metadata
                    .in_reply_to
                    .iter()
                    .any(|r| s.relates_to.contains(r)))
            && self.from.is_none_or(|from| m.delivered_at >= from)
            && self.to.is_none_or(|to| m.delivered_at <= to)
            && (s.new_entry != Some(true) || m.fetch_count == 0)
    }
}

fn get_message(
    shared: &Shared,
    caller: &Caller,
    envelope: &Envelope<'_>,
) -> Result<Answer, Refusal> {
    let path = "/Envelope/Body/MsgBoxFetchRequest";
    let selector =
        parse_fetch_request(envelope.body_element(NS_OSCI, "MsgBoxFetchRequest")?, path)?;
    let message_id = match selector.message_ids.as_slice() {
        [one] => one.clone(),
        [] => {
            return Err(Refusal::xta(
                ErrorCode::NO_PARAMETERS,
                "getMessage needs MsgSelector/wsa:MessageID",
            ));
        }
        _ => {
            return Err(Refusal::xta(
                ErrorCode::INVALID_PARAMETER_COMBINATION,
                "getMessage fetches one MessageID at a time",
            ));
        }
    };
    let now = OffsetDateTime::now_utc();
    let mut store = lock(&shared.store);
    let message = store
        .messages
        .get_mut(&message_id)
        .filter(|m| m.closed_at.is_none() && caller.acting_as.contains(&m.metadata.reader.value))
        .ok_or_else(|| {
            Refusal::xta(
                ErrorCode::UNKNOWN_MESSAGE_ID,
                "no open message with this MessageID in the caller's mailbox",
            )
        })?;
    message.fetch_count += 1;
    if message.first_fetch.is_none() {
        message.first_fetch = Some(now);
        message.metadata.delivery.initial_fetch = Some(rfc3339(now));
    }
    let metadata = Box::new(message.metadata.clone());
    let container = message.container.clone();
    let others = store
        .open_for(&caller.acting_as)
        .filter(|m| m.metadata.message_id != message_id)
        .count() as u64;
    Ok(Answer::Message {
        metadata,
        container,
        response: MsgBoxResponse {
            request_id: new_message_id(),
            state: MsgBoxState::ItemsPending(others),
        },
    })
}

fn close(shared: &Shared, caller: &Caller, envelope: &Envelope<'_>) -> Result<Answer, Refusal> {
    let path = "/Envelope/Body/MsgBoxCloseRequest";
    let request =
        IteratorRequest::parse(envelope.body_element(NS_OSCI, "MsgBoxCloseRequest")?, path)?;
    let now = OffsetDateTime::now_utc();
    let mut store = lock(&shared.store);
    // All or nothing: check every MessageID before closing any.
    for id in &request.last_msg_received {
        let mine = store
            .messages
            .get(id)
            .is_some_and(|m| caller.acting_as.contains(&m.metadata.reader.value));
        if !mine {
            return Err(Refusal::xta(
                ErrorCode::UNKNOWN_MESSAGE_ID,
                "LastMsgReceived names a MessageID that is not in the caller's mailbox",
            ));
        }
    }
    for id in &request.last_msg_received {
        if let Some(m) = store.messages.get_mut(id)
            && m.closed_at.is_none()
        {
            // Closing twice is harmless: a retried close after a lost answer must not fail.
            m.closed_at = Some(now);
        }
    }
    if store
        .listings
        .get(&request.request_id)
        .is_some_and(|l| l.account == caller.account)
    {
        store.listings.remove(&request.request_id);
    }
    Ok(Answer::Empty)
}

fn transport_report(
    shared: &Shared,
    caller: &Caller,
    envelope: &Envelope<'_>,
) -> Result<Answer, Refusal> {
    let message_id = envelope
        .body_element(NS_WSA, "MessageID")?
        .leaf_text("/Envelope/Body/MessageID")?
        .trim()
        .to_string();
    let store = lock(&shared.store);
    let message = store
        .messages
        .get(&message_id)
        .filter(|m| {
            m.sender_account.as_deref() == Some(caller.name.as_str())
                || caller.identifiers.contains(&m.metadata.reader.value)
        })
        .ok_or_else(|| {
            Refusal::xta(
                ErrorCode::UNKNOWN_MESSAGE_ID,
                "the account neither sent nor received a message with this MessageID",
            )
        })?;
    let record = |at: OffsetDateTime, code: &str, reason: &str| ReportRecord {
        timestamp: rfc3339(at),
        code: KeyCode::new(code, RECORD_LIST_URI, "1.0"),
        reason: reason.to_string(),
    };
    let mut infos = vec![record(
        message.delivered_at,
        "DELIVERED",
        "delivered into the reader's mailbox",
    )];
    if let Some(at) = message.first_fetch {
        infos.push(record(at, "FETCHED", "fetched by the reader"));
    }
    if let Some(at) = message.closed_at {
        infos.push(record(
            at,
            "CLOSED",
            "receipt confirmed by the reader (close)",
        ));
    }
    let last = message
        .closed_at
        .or(message.first_fetch)
        .unwrap_or(message.delivered_at);
    Ok(Answer::Report(Box::new(TransportReport {
        metadata: message.metadata.clone(),
        report_time: rfc3339(last),
        server_identity: lock(&shared.server_identity).clone(),
        status: if message.closed_at.is_some() {
            ReportStatus::Green
        } else {
            ReportStatus::Open
        },
        errors: Vec::new(),
        warnings: Vec::new(),
        infos,
        additional_reports: Vec::new(),
    })))
}

fn write_answer(
    op: Operation,
    request_id: Option<&str>,
    answer: &Answer,
    encoding: ContentEncoding,
) -> crate::mtom::OutgoingBody {
    let addressing = Addressing::response(op.action(), request_id);
    let envelope = write_envelope(
        &addressing,
        encoding,
        |w| match answer {
            Answer::StatusList(list) => {
                if let Some(r) = &list.response {
                    r.write(w);
                }
            }
            Answer::Message {
                metadata, response, ..
            } => {
                metadata.write(w);
                response.write(w);
            }
            _ => {}
        },
        |w, attachments| match answer {
            Answer::Empty => {}
            Answer::MessageId(id) => w.leaf("wsa:MessageID", &[], id),
            Answer::Lookup(answers) => write_lookup_response(w, answers),
            Answer::Report(report) => report.write(w),
            Answer::StatusList(list) => list.write_body(w),
            Answer::Message { container, .. } => container.write(w, attachments),
        },
    );
    package(envelope.xml, envelope.attachments, op.action())
}

/// A fault envelope. Faults of an operation carry its action (XTA.wsdl gives faults the
/// operation's `wsam:Action`); faults before an operation is known carry WS-Addressing's
/// fault action. HTTP status 500 for all (see the module documentation of `sandbox`).
fn fault_answer(
    op: Option<Operation>,
    request_id: Option<&str>,
    refusal: &Refusal,
    encoding: ContentEncoding,
) -> (StatusCode, crate::mtom::OutgoingBody) {
    let action = op.map_or(WSA_FAULT_ACTION, Operation::action);
    let addressing = Addressing::response(action, request_id);
    let envelope = write_envelope(
        &addressing,
        encoding,
        |_| {},
        |w, _| match refusal {
            Refusal::Xta(kind, code, reason) => write_fault(w, *kind, *code, reason),
            Refusal::Soap(code, subcode, reason) => write_soap_fault(w, *code, *subcode, reason),
        },
    );
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        package(envelope.xml, envelope.attachments, action),
    )
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_default()
}
