//! The XTA 2 inbound adapter: the broker reads its tenants' XTA mailboxes.
//!
//! Per configured account (one client certificate, one reader identity = one mailbox) a loop
//! takes the poller lease `xta:<tenant>:<source>` (in a cluster one replica reads a mailbox
//! at a time), checks once with `checkAccountActive` that the XTA server lets the account in,
//! and then, every poll interval, pages through the status list (`getStatusList`,
//! `getNextStatusList`). The source's filter is applied to the list **before** anything is
//! downloaded: messages for other services stay in the mailbox for whoever can handle them.
//! A message the ledger does not know yet is fetched with `getMessage` and handed to intake
//! (the XTA MessageID is the transport id, so intake dedupes it; author, reader, service,
//! business scenario and message type travel as [`XtaMeta`] for routes to match on; the
//! content is the document, further content parts are attachments). Only when intake has
//! made it durable is it `close`d at the server. A crash in between leaves the message open
//! at the server: the next round lists it again, finds it in the ledger, and only closes it —
//! one ledger message, whatever happened.
//!
//! Errors decide what happens next, as the client classifies them: a permission fault
//! (9010–9014) or a refused client certificate stops polling this account (one error line,
//! the `amtsbote_xta_account_active` gauge drops to 0) and re-checks with
//! `checkAccountActive` with growing pauses; technical faults (9030–9032), HTTP 5xx,
//! timeouts and storage trouble are retried with exponential backoff; anything else concerns
//! one message, which is left at the server and tried again next round. Other accounts are
//! never affected. Logs name ids, codes and sizes, never content, subjects or file names.
//!
//! A message intake refuses (content it cannot take, too large, a schema violation) is kept
//! as `rejected` and closed all the same: XTA 2 v3/v4 gives a reader no way to refuse a
//! message (`close` only confirms receipt; transport reports belong to the author), so the
//! ledger reason and the log line say that no report was sent and whom to tell.

use super::{SourceKind, build_sources};
use crate::config::{Config, ConfigError, SourceConfig, XtaSource};
use crate::intake::{Accepted, Intake, IntakeError, Origin};
use crate::ledger::Ledger;
use crate::message::{MessageId, State, XtaMeta};
use crate::replica::replica_id;
use crate::routing::Pattern;
use crate::secrets;
use crate::telemetry::events::{
    CredentialExpiry, PollSucceeded, XtaAccountActive, XtaAccountRefused, XtaMessageClosed,
    XtaMessageRejected, XtaMessagesLeft, XtaPollFailed,
};
use crate::telemetry::spans;
use amtsbote_xta::client::{ClientConfig, ClientIdentity, Endpoints, TrustAnchors, XtaClient};
use amtsbote_xta::fault::ErrorCode;
use amtsbote_xta::{ContentContainer, MessageMetaData, PartyIdentifier, XtaError};
use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use bytes::Bytes;
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// Status list pages read in one round at most (a server that never stops saying
/// `ItemsPending` must not keep a round going forever).
const MAX_PAGES: usize = 10_000;

/// Longest pause between two `checkAccountActive` while the account is refused.
const MAX_RECHECK: Duration = Duration::from_secs(3600);

/// One configured XTA account and its mailbox, ready to run.
pub struct Account {
    /// The source id (configuration key).
    pub source: String,
    pub tenant: String,
    /// The mailbox: reader identity `prefix:kennung`.
    pub reader: String,
    client: XtaClient,
    poll_interval: Duration,
    max_list_items: u32,
    /// Messages fetched and taken in at once.
    concurrency: usize,
    filter: Filter,
    certificate_expires_at: i64,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("source", &self.source)
            .field("reader", &self.reader)
            .finish_non_exhaustive()
    }
}

impl Account {
    /// Says when the client certificate expires (gauge, and a warning within 30 days: order
    /// a new one from the XTA provider).
    pub fn report_expiry(&self) {
        CredentialExpiry {
            tenant: &self.tenant,
            source: &self.source,
            credential: "client_certificate",
            expires_at: self.certificate_expires_at,
        }
        .emit();
    }

    /// The poller lease's name: one replica reads this mailbox at a time.
    pub fn lease_name(&self) -> String {
        format!("xta:{}:{}", self.tenant, self.source)
    }

    /// How long a lease lasts without renewal: three poll intervals, at least 30 s.
    pub fn lease_ttl(&self) -> Duration {
        (self.poll_interval * 3).max(Duration::from_secs(30))
    }
}

/// The source's filter, compiled.
#[derive(Debug, Clone, Default)]
struct Filter {
    services: Vec<Pattern>,
    business_scenarios: Vec<Pattern>,
    message_types: Vec<Pattern>,
}

impl Filter {
    fn new(f: &crate::config::XtaFilter) -> Filter {
        let compile = |v: &[String]| v.iter().map(|p| Pattern::new(p)).collect();
        Filter {
            services: compile(&f.services),
            business_scenarios: compile(&f.business_scenarios),
            message_types: compile(&f.message_types),
        }
    }

    /// Whether this source takes the message (empty lists allow everything).
    fn takes(&self, m: &MessageMetaData) -> bool {
        let allows = |list: &[Pattern], value: &str| {
            list.is_empty() || list.iter().any(|p| p.matches(value))
        };
        let q = &m.qualifier;
        allows(&self.services, &q.service)
            && allows(&self.business_scenarios, q.business_scenario.code())
            && allows(&self.message_types, &q.message_type.code.code)
    }
}

/// Whether `s` is a party identifier `prefix:kennung` (DVDV prefix, authority key): a prefix
/// of letters, digits, `-`, `_` or `.`, a colon, and a key without blanks.
pub fn valid_reader(s: &str) -> bool {
    let Some((prefix, key)) = s.split_once(':') else {
        return false;
    };
    !prefix.is_empty()
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !key.is_empty()
        && !key.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Builds every XTA account of the configuration (reads the password, opens the client
/// certificate, loads the CA). Errors name the key and say what to fix.
pub fn build(config: &Config) -> Result<Vec<Arc<Account>>, Vec<ConfigError>> {
    let kind = SourceKind {
        select: |s| match s {
            SourceConfig::Xta(x) => Some(x.as_ref()),
            _ => None,
        },
        needs_tenant: "an XTA mailbox belongs to one tenant: declare it under [tenants.<id>.sources]",
        identity: |x: &XtaSource| {
            (
                x.endpoint.trim_end_matches('/').to_string(),
                x.reader.clone(),
            )
        },
        duplicate: (
            "reader",
            "this mailbox is configured twice for the same XTA server",
        ),
    };
    build_sources(config, kind, build_one)
}

fn build_one(
    id: &str,
    tenant: &str,
    x: &XtaSource,
    key: &str,
) -> Result<Account, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let err = |field: &str, reason: String| {
        ConfigError::new(None, Some(format!("{key}.{field}")), reason)
    };
    if !valid_reader(&x.reader) {
        errors.push(err(
            "reader",
            "a reader is `prefix:kennung`, e.g. `ags:12052000` or `psw:11007007`".into(),
        ));
    }
    if x.poll_interval.is_zero() {
        errors.push(err("poll_interval", "must be longer than 0".into()));
    }
    if x.max_list_items == 0 {
        errors.push(err("max_list_items", "must be at least 1".into()));
    }
    if x.concurrency == 0 {
        errors.push(err("concurrency", "must be at least 1".into()));
    }
    let identity = match secrets::read(&x.client_certificate_password) {
        Err(e) => {
            errors.push(err("client_certificate_password", e));
            None
        }
        Ok(password) => {
            match ClientIdentity::from_pkcs12_file(&x.client_certificate, password.expose()) {
                Ok(identity) => Some(identity),
                Err(e) => {
                    errors.push(err("client_certificate", e.to_string()));
                    None
                }
            }
        }
    };
    let trust = match &x.ca_certificate {
        None => None,
        Some(path) => match TrustAnchors::from_pem_file(path) {
            Ok(t) => Some(t),
            Err(e) => {
                errors.push(err("ca_certificate", e.to_string()));
                None
            }
        },
    };
    let mut endpoints = Endpoints::from_base(&x.endpoint);
    if let Some(url) = &x.msg_box_url {
        endpoints.msg_box = port_url(&x.endpoint, url);
    }
    if let Some(url) = &x.management_url {
        endpoints.management = port_url(&x.endpoint, url);
    }
    let Some(identity) = identity else {
        return Err(errors);
    };
    let certificate_expires_at = identity.expires_at_unix();
    let mut client_config = ClientConfig::new(endpoints);
    client_config.builtin_roots = trust.is_none();
    client_config.trust = trust;
    client_config.identity = Some(identity);
    client_config.author = Some(PartyIdentifier::xoev(x.reader.clone()));
    let client = XtaClient::new(client_config)
        .map_err(|e| errors.push(err("endpoint", e.to_string())))
        .ok();
    match client {
        Some(client) if errors.is_empty() => Ok(Account {
            source: id.to_string(),
            tenant: tenant.to_string(),
            reader: x.reader.clone(),
            client,
            poll_interval: x.poll_interval,
            max_list_items: x.max_list_items,
            concurrency: x.concurrency,
            filter: Filter::new(&x.filter),
            certificate_expires_at,
        }),
        _ => Err(errors),
    }
}

/// A port's URL as configured: a full URL as it is, a path (`/services/XTAService/MsgBoxPort`)
/// under the endpoint's scheme, host and port — providers differ only in the paths, so the
/// host need not be repeated.
fn port_url(endpoint: &str, configured: &str) -> String {
    if !configured.starts_with('/') {
        return configured.to_string();
    }
    match reqwest::Url::parse(endpoint) {
        Ok(mut url) => {
            url.set_path(configured);
            url.set_query(None);
            url.to_string()
        }
        // The client reports the unusable endpoint with its key.
        Err(_) => format!("{}{configured}", endpoint.trim_end_matches('/')),
    }
}

/// What the transport order says, as the ledger keeps it.
fn meta_of(m: &MessageMetaData) -> XtaMeta {
    XtaMeta {
        message_id: m.message_id.clone(),
        author: m.author.value.clone(),
        reader: m.reader.value.clone(),
        service: m.qualifier.service.clone(),
        business_scenario: m.qualifier.business_scenario.code().to_string(),
        message_type: m.qualifier.message_type.code.code.clone(),
        payload_schema: m.qualifier.message_type.payload_schema.clone(),
        test: m.test_msg,
    }
}

/// Why a round (or one message) did not go through.
#[derive(Debug)]
enum Failure {
    /// The account is refused: stop polling it, alert, re-check later.
    Account(String),
    /// Worth trying again soon with backoff (server, network, storage).
    Transient(String),
    /// About one message only; it stays at the server and is tried again next round.
    Message(String),
}

impl From<XtaError> for Failure {
    fn from(e: XtaError) -> Self {
        if e.is_permanent_for_account() {
            Failure::Account(e.to_string())
        } else if e.is_transient() {
            Failure::Transient(e.to_string())
        } else {
            Failure::Message(e.to_string())
        }
    }
}

/// What the loop remembers between rounds.
struct LoopState {
    /// `checkAccountActive` succeeded and nothing refused the account since.
    active: bool,
    /// The account was refused (the alert was given; not repeated on every re-check).
    refused: bool,
    /// Another replica holds the lease (said once).
    standby: bool,
    transient: Option<ExponentialBackoff>,
    recheck: Option<ExponentialBackoff>,
}

/// Everything the loop needs.
pub struct Adapter {
    pub account: Arc<Account>,
    pub intake: Arc<Intake>,
    pub ledger: Arc<dyn Ledger>,
}

impl Adapter {
    /// Runs until `shutdown`: lease, check the account, read the mailbox, wait; releases the
    /// lease at the end.
    pub async fn run(self, shutdown: CancellationToken) {
        let a = &self.account;
        a.report_expiry();
        let mut state = LoopState {
            active: false,
            refused: false,
            standby: false,
            transient: None,
            recheck: None,
        };
        loop {
            let pause = tokio::select! {
                pause = self.step(&mut state) => pause,
                _ = shutdown.cancelled() => break,
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = shutdown.cancelled() => break,
            }
        }
        if let Err(e) = self
            .ledger
            .release_poller(&a.lease_name(), replica_id())
            .await
        {
            tracing::warn!(source = %a.source, error = %e, "XTA: could not release the poller lease; it expires by itself");
        }
    }

    /// One turn of the loop; returns how long to wait before the next.
    async fn step(&self, state: &mut LoopState) -> Duration {
        let a = &self.account;
        match self
            .ledger
            .lease_poller(&a.lease_name(), replica_id(), a.lease_ttl())
            .await
        {
            Ok(true) => {
                if state.standby {
                    tracing::info!(source = %a.source, "XTA: this replica polls the mailbox now");
                }
                state.standby = false;
            }
            Ok(false) => {
                if !state.standby {
                    tracing::info!(source = %a.source, lease = %a.lease_name(),
                        "XTA: another replica polls this mailbox; standing by");
                }
                state.standby = true;
                return a.poll_interval;
            }
            Err(e) => return self.transient(state, &format!("poller lease: {e}")),
        }
        if !state.active {
            match a.client.check_account_active().await {
                Ok(()) => {
                    XtaAccountActive {
                        tenant: &a.tenant,
                        source: &a.source,
                        reader: &a.reader,
                        recovered: state.refused,
                        certificate_expires_at: a.certificate_expires_at,
                    }
                    .emit();
                    state.active = true;
                    state.refused = false;
                    state.recheck = None;
                }
                Err(e) => {
                    return match Failure::from(e) {
                        Failure::Account(e) => self.refused(state, &e),
                        Failure::Transient(e) | Failure::Message(e) => self.transient(state, &e),
                    };
                }
            }
        }
        match self
            .round()
            .instrument(spans::xta_list(&self.account.source))
            .await
        {
            Ok(()) => {
                state.transient = None;
                PollSucceeded {
                    tenant: &a.tenant,
                    source: &a.source,
                    transport: "xta",
                }
                .emit();
                a.poll_interval
            }
            Err(Failure::Account(e)) => {
                state.active = false;
                self.refused(state, &e)
            }
            Err(Failure::Transient(e)) | Err(Failure::Message(e)) => self.transient(state, &e),
        }
    }

    /// The account is refused: alert once, re-check after a growing pause.
    fn refused(&self, state: &mut LoopState, error: &str) -> Duration {
        let a = &self.account;
        let pause = state
            .recheck
            .get_or_insert_with(|| {
                ExponentialBuilder::default()
                    .with_min_delay(a.poll_interval)
                    .with_max_delay(MAX_RECHECK.max(a.poll_interval))
                    .without_max_times()
                    .build()
            })
            .next()
            .unwrap_or(MAX_RECHECK);
        if !state.refused {
            XtaAccountRefused {
                tenant: &a.tenant,
                source: &a.source,
                reader: &a.reader,
                error,
                recheck_in: pause,
            }
            .emit();
        } else {
            tracing::debug!(source = %a.source, error, "XTA account still refused");
        }
        state.refused = true;
        state.active = false;
        pause
    }

    /// Something worth retrying: back off (with jitter), at most one poll interval.
    fn transient(&self, state: &mut LoopState, error: &str) -> Duration {
        let a = &self.account;
        let pause = state
            .transient
            .get_or_insert_with(|| {
                ExponentialBuilder::default()
                    .with_min_delay(a.poll_interval.min(Duration::from_secs(1)))
                    .with_max_delay(a.poll_interval)
                    .with_jitter()
                    .without_max_times()
                    .build()
            })
            .next()
            .unwrap_or(a.poll_interval)
            .min(a.poll_interval);
        XtaPollFailed {
            tenant: &a.tenant,
            source: &a.source,
            error,
            retry_in: pause,
        }
        .emit();
        pause
    }

    /// Reads the whole mailbox page by page and takes in what the filter allows.
    async fn round(&self) -> Result<(), Failure> {
        let a = &self.account;
        let mut page = a.client.get_status_list(a.max_list_items).await?;
        let mut left = 0u64;
        let mut outcome = Ok(());
        for _ in 0..MAX_PAGES {
            let (take, leave): (Vec<_>, Vec<_>) = std::mem::take(&mut page.messages)
                .into_iter()
                .partition(|m| a.filter.takes(m));
            left += leave.len() as u64;
            let results: Vec<Result<(), Failure>> = futures::stream::iter(take)
                .map(|m| async move { self.take(&m).await })
                .buffer_unordered(a.concurrency)
                .collect()
                .await;
            for r in results {
                match r {
                    Ok(()) => {}
                    // The account or the server is gone: no point in going on.
                    Err(f @ (Failure::Account(_) | Failure::Transient(_))) => return Err(f),
                    Err(Failure::Message(e)) => outcome = Err(Failure::Message(e)),
                }
            }
            if page.items_pending() == 0 {
                break;
            }
            // A long mailbox takes longer than the lease: renew it between pages, and stop
            // if another replica has taken over meanwhile.
            match self
                .ledger
                .lease_poller(&a.lease_name(), replica_id(), a.lease_ttl())
                .await
            {
                Ok(true) => {}
                Ok(false) => {
                    tracing::info!(source = %a.source, "XTA: the poller lease went to another replica during the round; stopping it");
                    return outcome;
                }
                Err(e) => return Err(Failure::Transient(format!("poller lease: {e}"))),
            }
            let Some(request_id) = page.request_id().map(str::to_string) else {
                break;
            };
            page = a.client.get_next_status_list(&request_id).await?;
            if page.messages.is_empty() {
                break;
            }
        }
        XtaMessagesLeft {
            tenant: &a.tenant,
            source: &a.source,
            count: left,
        }
        .emit();
        outcome
    }

    /// One listed message: fetch unless known, intake, close.
    async fn take(&self, listed: &MessageMetaData) -> Result<(), Failure> {
        let a = &self.account;
        let transport_id = listed.message_id.as_str();
        let storage = |e: crate::ledger::LedgerError| Failure::Transient(e.to_string());
        let known = self
            .ledger
            .find_by_transport(&a.source, transport_id)
            .await
            .map_err(storage)?;
        // Known from before a crash: only the close is left, in the message's own trace.
        let traceparent = match known {
            Some(id) => self
                .ledger
                .get(id)
                .await
                .map_err(storage)?
                .and_then(|d| d.message.traceparent),
            None => None,
        };
        let span = spans::xta_message(
            &a.tenant,
            &a.source,
            transport_id,
            known.map(|id| (id, traceparent.as_deref())),
        );
        self.take_in(listed, known).instrument(span).await
    }

    async fn take_in(
        &self,
        listed: &MessageMetaData,
        known: Option<MessageId>,
    ) -> Result<(), Failure> {
        let a = &self.account;
        let transport_id = listed.message_id.as_str();
        let (id, size, repeat, rejected_by) = match known {
            // Taken in before, not closed (a crash, a lost answer): only close it now.
            Some(id) => (id, 0, true, None),
            None => {
                let fetched = a.client.get_message(transport_id).await.map_err(|e| {
                    let f = Failure::from(e);
                    if let Failure::Message(reason) = &f {
                        tracing::warn!(source = %a.source, xta_message_id = transport_id, error = %reason,
                            "XTA: message could not be fetched; it stays at the server and is tried again next round");
                    }
                    f
                })?;
                // The answer's own metadata if the server sent it; the list entry otherwise.
                let metadata = fetched.metadata.as_ref().unwrap_or(listed);
                if metadata.message_id != listed.message_id {
                    return Err(Failure::Message(format!(
                        "XTA message {transport_id}: the server answered getMessage with metadata of another MessageID; not taken"
                    )));
                }
                let size = fetched.container.content_bytes();
                let accepted = self
                    .store(metadata, &fetched.container)
                    .await
                    .map_err(|e| Failure::Transient(format!("XTA message {transport_id}: {e}")))?;
                let rejected_by = (accepted.state == State::Rejected && !accepted.duplicate)
                    .then(|| metadata.author.value.clone());
                (accepted.id, size, false, rejected_by)
            }
        };
        // Crash tests: the process dies after intake made the message durable and before it
        // is closed at the XTA server (`FAILPOINTS=xta-before-close=return`).
        fail::fail_point!("xta-before-close", |_| {
            tracing::error!("failpoint xta-before-close: aborting");
            std::process::abort()
        });
        let span = tracing::Span::current();
        span.record("message_id", tracing::field::display(id));
        span.record("size", size);
        match a
            .client
            .close(None, &[transport_id])
            .instrument(spans::xta_close())
            .await
        {
            Ok(()) => {}
            // Closed already (by us, before a lost answer): done.
            Err(e) if e.error_code() == Some(ErrorCode::UNKNOWN_MESSAGE_ID) => {
                tracing::info!(message_id = %id, source = %a.source, xta_message_id = transport_id,
                    "XTA: the server no longer lists the message as open; nothing to close");
            }
            Err(e) => return Err(e.into()),
        }
        XtaMessageClosed {
            id,
            tenant: &a.tenant,
            source: &a.source,
            transport_id,
            size,
            repeat,
        }
        .emit();
        if let Some(author) = &rejected_by {
            XtaMessageRejected {
                id,
                tenant: &a.tenant,
                source: &a.source,
                transport_id,
                author,
            }
            .emit();
        }
        Ok(())
    }

    /// Hands the message to intake; durable when this returns `Ok`. Content intake cannot
    /// take (not XML or JSON, not well-formed, too large) is kept as `rejected` so that the
    /// message can be closed rather than fetched again every round; the ledger says why.
    async fn store(
        &self,
        metadata: &MessageMetaData,
        container: &ContentContainer,
    ) -> Result<Accepted, IntakeError> {
        let result = match self.receive(metadata, container, None).await {
            Err(e)
                if e.is_document_fault()
                    || matches!(
                        e,
                        IntakeError::Unsupported(_) | IntakeError::MissingDocument
                    ) =>
            {
                self.receive(metadata, container, Some(e.to_string())).await
            }
            other => other,
        };
        match result {
            Err(e @ (IntakeError::TooLarge { .. } | IntakeError::PartTooLarge { .. })) => {
                self.too_large(metadata, container, e).await
            }
            other => other,
        }
    }

    fn origin(&self, metadata: &MessageMetaData) -> Origin {
        let a = &self.account;
        Origin {
            tenant: a.tenant.clone(),
            source: a.source.clone(),
            transport_id: Some(metadata.message_id.clone()),
            service_key: None,
            destination: Some(metadata.reader.value.clone()),
        }
    }

    /// The content as document, the further parts as attachments; `rejected` records it
    /// as refused with that reason.
    async fn receive(
        &self,
        metadata: &MessageMetaData,
        container: &ContentContainer,
        rejected: Option<String>,
    ) -> Result<Accepted, IntakeError> {
        let mut draft = match self.intake.open(self.origin(metadata)).await? {
            Ok(draft) => draft,
            Err(dup) => return Ok(dup),
        };
        draft.set_xta(meta_of(metadata));
        for part in &container.attachments {
            let data: Bytes = part.data.clone();
            let stream = futures::stream::once(async move { Ok::<_, std::io::Error>(data) });
            if let Err(e) = draft
                .attach(
                    part.filename.clone(),
                    Some(part.content_type.clone()),
                    Box::pin(stream),
                )
                .await
            {
                draft.discard().await;
                return Err(e);
            }
        }
        let message = &container.message;
        draft.set_document_filename(message.filename.as_deref());
        if let Err(e) = draft.set_document(Some(message.content_type.clone()), message.data.clone())
        {
            draft.discard().await;
            return Err(e);
        }
        let accepted = match rejected {
            None => draft.commit().await?,
            Some(reason) => {
                draft
                    .commit_rejected(format!(
                        "XTA message {}: intake cannot take its content ({reason}); it was closed at the XTA server and is kept here. No report was sent to the author {} (XTA 2 offers a reader none): ask them to send it again as XML or JSON",
                        metadata.message_id, metadata.author.value
                    ))
                    .await?
            }
        };
        Ok(accepted)
    }

    /// A message over the intake limits: kept as `rejected` with a note of its sizes (the
    /// content itself cannot be stored), so that an operator sees it and asks the sender.
    async fn too_large(
        &self,
        metadata: &MessageMetaData,
        container: &ContentContainer,
        error: IntakeError,
    ) -> Result<Accepted, IntakeError> {
        let mut draft = match self.intake.open(self.origin(metadata)).await? {
            Ok(draft) => draft,
            Err(dup) => return Ok(dup),
        };
        draft.set_xta(meta_of(metadata));
        let note = serde_json::json!({
            "xta_message_id": metadata.message_id,
            "content_bytes": container.message.data.len(),
            "attachments": container.attachments.iter().map(|p| p.data.len()).collect::<Vec<_>>(),
        });
        draft.set_document(
            Some("application/json".into()),
            Bytes::from(serde_json::to_vec(&note).expect("JSON serializes")),
        )?;
        let accepted = draft
            .commit_rejected(format!(
                "XTA message {}: {error}; it was closed at the XTA server, only its sizes are kept. No report was sent to the author {} (XTA 2 offers a reader none): ask them to send it in smaller parts, or raise the intake limits",
                metadata.message_id, metadata.author.value
            ))
            .await?;
        Ok(accepted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use amtsbote_xta::metadata::{BusinessScenario, KeyCode, MessageType, Qualifier};

    fn metadata(service: &str, scenario: &str, message_type: &str) -> MessageMetaData {
        MessageMetaData::new(
            "urn:de:xta:messageid:1",
            PartyIdentifier::xoev("ags:09162000"),
            PartyIdentifier::xoev("ags:12052000"),
            Qualifier {
                subject: None,
                service: service.into(),
                business_scenario: BusinessScenario::Defined(KeyCode::new(scenario, "urn:x", "1")),
                message_type: MessageType {
                    code: KeyCode::new(message_type, "urn:y", "1"),
                    payload_schema: "urn:z".into(),
                },
            },
        )
    }

    #[test]
    fn port_urls_are_full_urls_or_paths_on_the_endpoints_host() {
        let e = "https://xta.example.de:8443/MB_XTA-WS";
        assert_eq!(
            port_url(e, "/services/XTAService/MsgBoxPort"),
            "https://xta.example.de:8443/services/XTAService/MsgBoxPort"
        );
        assert_eq!(
            port_url(e, "https://other.example.de/x"),
            "https://other.example.de/x"
        );
    }

    #[test]
    fn readers_are_prefix_and_key() {
        assert!(valid_reader("ags:12052000"));
        assert!(valid_reader("psw:11007007"));
        assert!(valid_reader("dvdv:ab-12.x"));
        for bad in ["12052000", ":1", "ags:", "ags: 1", "a g:1", ""] {
            assert!(!valid_reader(bad), "{bad}");
        }
    }

    #[test]
    fn the_filter_takes_what_all_lists_allow() {
        let all = Filter::default();
        assert!(all.takes(&metadata("urn:a", "XDOMEA_DATA", "0401")));
        let f = Filter::new(&crate::config::XtaFilter {
            services: vec!["urn:xoev-de:xdomea:*".into()],
            business_scenarios: vec![],
            message_types: vec!["0401".into(), "0503".into()],
        });
        assert!(f.takes(&metadata("urn:xoev-de:xdomea:schema:3.0", "X", "0503")));
        assert!(!f.takes(&metadata("urn:xoev-de:xmeld:1", "X", "0503")));
        assert!(!f.takes(&metadata("urn:xoev-de:xdomea:schema:3.0", "X", "0200")));
    }
}
