//! The FIT-Connect inbound adapter: the broker as subscriber of its tenants' destinations
//! (Zustellpunkte).
//!
//! Per destination, a loop polls the Submission API (and wakes early when a verified
//! callback says something arrived). Each submission is first **claimed** in the inbound
//! journal — FIT-Connect hides a fetched submission from its list, so the claim is how a
//! restart finds work it had started — then fetched, its attachments decrypted straight into
//! the payload store, and the whole verified (metadata schema, hashes, attachment sets,
//! authentication tags of the Zustelldienst's submit event). A valid submission goes through
//! intake like any other message (XSD validation of its data included); only when intake has
//! made it durable is the sender answered with `accept-submission` carrying the
//! authentication tags. A submission that fails its checks is kept as `rejected` (the
//! encrypted submission as evidence) and answered with `reject-submission` listing the exact
//! problems. The claim is closed only after the answer reached the Zustelldienst, so a crash
//! anywhere in between leads to the same answer once, after the restart: intake's dedupe on
//! the submission id makes receiving idempotent, and a second answer (409) counts as done.
//!
//! With `accept = "delivery"` the answer waits for the Fachverfahren: a delivered message is
//! accepted, a dead one rejected.

use super::{SourceKind, build_sources};
use crate::config::{AcceptMode, Config, ConfigError, FitConnectSource, SecretRef, SourceConfig};
use crate::intake::{Draft, Intake, Origin};
use crate::ledger::Ledger;
use crate::message::{MessageId, State};
use crate::replica::replica_id;
use crate::secrets;
use crate::telemetry::events::{CredentialExpiry, FitConnectPollFailed, PollSucceeded};
use crate::telemetry::spans;
use amtsbote_fit_connect::callback::{CallbackError, CallbackSecret, CallbackVerifier};
use amtsbote_fit_connect::client::{
    ClientConfig, ClientCredentials, ClientError, SubmissionClient,
};
use amtsbote_fit_connect::events::{
    self, AuthenticationTags, Event, Problem, ProblemInstance, ProblemType, SetSubject,
};
use amtsbote_fit_connect::jose::{DecryptOptions, KeyUse, PrivateKey, PublicKey};
use amtsbote_fit_connect::verification::{self, AttachmentResult, SubmissionInput};
use amtsbote_fit_connect::wire::Submission;
use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// Prefix of LeiKa identifiers in FIT-Connect (`urn:de:fim:leika:leistung:<14 digits>`).
const LEIKA_URN: &str = "urn:de:fim:leika:leistung:";

/// The LeiKa Leistungsschlüssel of a FIT-Connect service identifier: its 14 digits, or the
/// identifier as it is when it is not a LeiKa URN.
fn leika(identifier: &str) -> String {
    identifier
        .strip_prefix(LEIKA_URN)
        .unwrap_or(identifier)
        .to_string()
}

/// Why a callback was refused: the `outcome` label of `amtsbote_fit_connect_callbacks_total`
/// and a reason for the log (never the body or the MAC).
#[derive(Debug)]
pub struct CallbackRefused {
    pub outcome: &'static str,
    pub reason: String,
}

/// One configured destination, ready to run.
pub struct Destination {
    /// The source id (configuration key) this destination is.
    pub source: String,
    pub tenant: String,
    pub destination_id: String,
    client: SubmissionClient,
    keys: Vec<PrivateKey>,
    signing: PrivateKey,
    callback: Option<CallbackVerifier>,
    poll_interval: Duration,
    /// Submissions handled at once: decryption is CPU work, fetching waits on the network.
    concurrency: usize,
    accept: AcceptMode,
    wake: Notify,
    /// The Zustelldienst's signing keys and when they were fetched.
    zustelldienst_keys: tokio::sync::Mutex<Option<(std::time::Instant, Vec<PublicKey>)>>,
}

impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Destination")
            .field("source", &self.source)
            .field("destination_id", &self.destination_id)
            .finish_non_exhaustive()
    }
}

impl Destination {
    /// Verifies a callback for this destination (HMAC over the raw body, 5-minute window, each
    /// callback once). A refusal says which metric outcome it counts as and why.
    pub fn verify_callback(
        &self,
        authentication: Option<&str>,
        timestamp: Option<&str>,
        body: &[u8],
    ) -> Result<(), CallbackRefused> {
        match &self.callback {
            None => Err(CallbackRefused {
                outcome: "not authentic",
                reason: "no callback secret configured for this destination".into(),
            }),
            Some(v) => v
                .verify(authentication, timestamp, body)
                .map_err(|e| CallbackRefused {
                    outcome: match e {
                        CallbackError::Replayed => "replayed",
                        _ => "not authentic",
                    },
                    reason: e.to_string(),
                }),
        }
    }

    /// Says when the certificates of the destination's keys expire (keys given as JWK with
    /// `x5c`, as FIT-Connect production keys are); bare keys have no expiry to report.
    pub fn report_expiry(&self) {
        let named = self
            .keys
            .iter()
            .enumerate()
            .map(|(i, k)| (format!("decryption_keys[{i}]"), k))
            .chain(std::iter::once(("signing_key".to_string(), &self.signing)));
        for (credential, key) in named {
            match key.certificate_expires_at() {
                Ok(Some(expires_at)) => CredentialExpiry {
                    tenant: &self.tenant,
                    source: &self.source,
                    credential: &credential,
                    expires_at,
                }
                .emit(),
                Ok(None) => {}
                Err(e) => tracing::warn!(source = %self.source, credential, error = %e,
                    "FIT-Connect: the key's certificate cannot be read; its expiry is not monitored"),
            }
        }
    }

    /// Polls now instead of at the next interval.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

fn private_key(r: &SecretRef, key_use: KeyUse) -> Result<PrivateKey, String> {
    let text = secrets::read(r)?;
    let text = text.expose();
    let key = if text.starts_with('{') {
        PrivateKey::from_jwk_json(text)
    } else {
        PrivateKey::from_pem(text.as_bytes(), None)
    }
    .map_err(|e| e.to_string())?;
    key.check_destination_key(key_use)
        .map_err(|e| e.to_string())?;
    Ok(key)
}

/// Builds every FIT-Connect destination of the configuration (reads secrets, loads keys).
pub fn build(config: &Config) -> Result<Vec<Arc<Destination>>, Vec<ConfigError>> {
    let kind = SourceKind {
        select: |s| match s {
            SourceConfig::FitConnect(f) => Some(f.as_ref()),
            _ => None,
        },
        needs_tenant: "a FIT-Connect destination belongs to one tenant: declare it under [tenants.<id>.sources]",
        identity: |f: &FitConnectSource| f.destination_id.clone(),
        duplicate: ("destination_id", "this destination is configured twice"),
    };
    build_sources(config, kind, build_one)
}

fn build_one(
    id: &str,
    tenant: &str,
    f: &FitConnectSource,
    key: &str,
) -> Result<Destination, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let err = |field: &str, reason: String| {
        ConfigError::new(None, Some(format!("{key}.{field}")), reason)
    };
    let secret = secrets::read(&f.client_secret)
        .map_err(|e| errors.push(err("client_secret", e)))
        .ok();
    if f.decryption_keys.is_empty() {
        errors.push(err(
            "decryption_keys",
            "at least one decryption key is needed".into(),
        ));
    }
    let mut keys = Vec::new();
    for (i, k) in f.decryption_keys.iter().enumerate() {
        match private_key(k, KeyUse::Encryption) {
            Ok(k) => keys.push(k),
            Err(e) => errors.push(err(&format!("decryption_keys[{i}]"), e)),
        }
    }
    let signing = match private_key(&f.signing_key, KeyUse::Signing) {
        Ok(k) if k.kid().is_none() => {
            errors.push(err(
                "signing_key",
                "the signing key needs a kid (give it as JWK)".into(),
            ));
            None
        }
        Ok(k) => Some(k),
        Err(e) => {
            errors.push(err("signing_key", e));
            None
        }
    };
    let callback = match &f.callback_secret {
        None => None,
        Some(r) => match secrets::read(r) {
            Ok(s) => Some(CallbackVerifier::new(CallbackSecret::new(
                s.expose().as_bytes().to_vec(),
            ))),
            Err(e) => {
                errors.push(err("callback_secret", e));
                None
            }
        },
    };
    let client = secret.and_then(|secret| {
        let credentials = ClientCredentials::new(f.client_id.clone(), secret.expose());
        SubmissionClient::new(ClientConfig::new(
            &f.submission_api,
            &f.token_url,
            credentials,
        ))
        .map_err(|e| errors.push(err("submission_api", e.to_string())))
        .ok()
    });
    match (client, signing) {
        (Some(client), Some(signing)) if errors.is_empty() => Ok(Destination {
            source: id.to_string(),
            tenant: tenant.to_string(),
            destination_id: f.destination_id.clone(),
            client,
            keys,
            signing,
            callback,
            poll_interval: f.poll_interval,
            concurrency: f.concurrency.max(1),
            accept: f.accept,
            wake: Notify::new(),
            zustelldienst_keys: tokio::sync::Mutex::new(None),
        }),
        _ => Err(errors),
    }
}

/// What the inbound journal keeps per submission (ids, tags, problems — no content).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Note {
    case_id: String,
    /// Tags for `accept-submission`, once verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tags: Option<AuthenticationTags>,
    /// Problems for `reject-submission`, once found.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    problems: Vec<Problem>,
}

/// Everything the loop needs.
pub struct Adapter {
    pub destination: Arc<Destination>,
    pub intake: Arc<Intake>,
    pub ledger: Arc<dyn Ledger>,
}

impl Adapter {
    /// The poller lease's name: one replica subscribes to this destination at a time.
    fn lease_name(&self) -> String {
        format!("fit-connect:{}", self.destination.destination_id)
    }

    /// How long the lease lasts without renewal: three poll intervals, at least 30 s.
    fn lease_ttl(&self) -> Duration {
        (self.destination.poll_interval * 3).max(Duration::from_secs(30))
    }

    /// Takes or renews the poller lease; false while another replica holds it.
    async fn hold_lease(&self, standby: &mut bool) -> Result<bool, String> {
        let d = &self.destination;
        let held = self
            .ledger
            .lease_poller(&self.lease_name(), replica_id(), self.lease_ttl())
            .await
            .map_err(|e| format!("poller lease: {e}"))?;
        if held && *standby {
            tracing::info!(source = %d.source, destination = %d.destination_id,
                "FIT-Connect: this replica polls the destination now");
        } else if !held && !*standby {
            tracing::info!(source = %d.source, destination = %d.destination_id, lease = %self.lease_name(),
                "FIT-Connect: another replica polls this destination; standing by");
        }
        *standby = !held;
        Ok(held)
    }

    /// Runs until `shutdown`: poll, handle, wait (interval or callback). In a cluster only
    /// the replica holding the destination's poller lease polls; the others stand by and take
    /// over when the lease expires (a callback reaching a standby replica is only a hint:
    /// the holder's polling finds the submission).
    pub async fn run(self, shutdown: CancellationToken) {
        let d = &self.destination;
        d.report_expiry();
        let mut failures = 0u32;
        let mut standby = false;
        loop {
            let round = async {
                if self.hold_lease(&mut standby).await? {
                    self.poll()
                        .instrument(spans::fit_connect_poll(&d.source, &d.destination_id))
                        .await
                        .map(|()| true)
                } else {
                    Ok(false)
                }
            };
            let pause = match tokio::select! {
                r = round => r,
                _ = shutdown.cancelled() => break,
            } {
                Ok(polled) => {
                    failures = 0;
                    if polled {
                        PollSucceeded {
                            tenant: &d.tenant,
                            source: &d.source,
                            transport: "fit-connect",
                        }
                        .emit();
                    }
                    d.poll_interval
                }
                Err(e) => {
                    failures += 1;
                    // Back off while the Zustelldienst is away, but never beyond the interval.
                    let backoff = Duration::from_secs(1 << failures.min(6)).min(d.poll_interval);
                    FitConnectPollFailed {
                        tenant: &d.tenant,
                        source: &d.source,
                        destination: &d.destination_id,
                        error: &e,
                        retry_in: backoff,
                    }
                    .emit();
                    backoff
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = d.wake.notified() => {}
                _ = shutdown.cancelled() => break,
            }
        }
        if let Err(e) = self
            .ledger
            .release_poller(&self.lease_name(), replica_id())
            .await
        {
            tracing::warn!(source = %d.source, error = %e,
                "FIT-Connect: could not release the poller lease; it expires by itself");
        }
    }

    /// One round: open claims first (unfinished work, answers waiting for delivery), then
    /// whatever the Zustelldienst lists as new.
    async fn poll(&self) -> Result<(), String> {
        let d = &self.destination;
        let open = self
            .ledger
            .inbound_open(&d.source)
            .await
            .map_err(|e| e.to_string())?;
        let seen: BTreeSet<String> = open.iter().map(|c| c.transport_id.clone()).collect();
        let open = open.into_iter().map(|claim| {
            let note: Note = serde_json::from_str(&claim.note).unwrap_or_default();
            (claim.transport_id, note, false)
        });
        let listed = d
            .client
            .list_all_submissions(Some(&d.destination_id))
            .await
            .map_err(|e| e.to_string())?;
        let new = listed
            .into_iter()
            .filter(|s| s.destination_id == d.destination_id && !seen.contains(&s.submission_id))
            .map(|s| {
                let note = Note {
                    case_id: s.case_id,
                    ..Default::default()
                };
                (s.submission_id, note, true)
            });
        let results: Vec<Result<(), String>> = futures::stream::iter(open.chain(new))
            .map(|(submission_id, note, claim)| async move {
                if claim {
                    // Claimed before it is fetched: fetching hides it from the list.
                    self.claim(&submission_id, &note).await?;
                }
                self.handle(&submission_id, note).await
            })
            .buffer_unordered(d.concurrency)
            .collect()
            .await;
        results.into_iter().collect()
    }

    async fn claim(&self, submission_id: &str, note: &Note) -> Result<(), String> {
        let text = serde_json::to_string(note).expect("notes serialize");
        self.ledger
            .inbound_claim(&self.destination.source, submission_id, &text)
            .await
            .map_err(|e| e.to_string())
    }

    /// Receives the submission if the ledger does not know it yet, then answers if due.
    async fn handle(&self, submission_id: &str, mut note: Note) -> Result<(), String> {
        let d = &self.destination;
        let known = self
            .ledger
            .find_by_transport(&d.source, submission_id)
            .await
            .map_err(|e| e.to_string())?;
        let id = match known {
            Some(id) => id,
            None => match self
                .receive(submission_id, &mut note)
                .instrument(spans::fit_connect_submission(
                    &d.tenant,
                    &d.source,
                    submission_id,
                ))
                .await?
            {
                Some(id) => id,
                None => return Ok(()),
            },
        };
        // Crash tests: the process dies after intake made the submission durable and before
        // the sender is answered (`FAILPOINTS=fit-connect-before-answer=return`).
        fail::fail_point!("fit-connect-before-answer", |_| {
            tracing::error!("failpoint fit-connect-before-answer: aborting");
            std::process::abort()
        });
        self.answer(submission_id, id, &note).await
    }

    /// Fetches, decrypts, verifies and hands the submission to intake. `None` when the
    /// Zustelldienst no longer has it (the claim is closed).
    async fn receive(
        &self,
        submission_id: &str,
        note: &mut Note,
    ) -> Result<Option<MessageId>, String> {
        let d = &self.destination;
        let submission = match d.client.get_submission(submission_id).await {
            Ok(s) => s,
            Err(e) if e.status() == Some(404) => {
                tracing::warn!(source = %d.source, submission_id,
                    "FIT-Connect: submission no longer available (rejected by the Zustelldienst?); forgetting it");
                self.done(submission_id).await?;
                return Ok(None);
            }
            Err(e) => return Err(e.to_string()),
        };
        note.case_id = submission.case_id.clone();
        let origin = Origin {
            tenant: d.tenant.clone(),
            source: d.source.clone(),
            transport_id: Some(submission_id.to_string()),
            service_key: None,
            destination: Some(d.destination_id.clone()),
        };
        let mut draft = match self.intake.open(origin).await.map_err(|e| e.to_string())? {
            Ok(draft) => draft,
            Err(dup) => return Ok(Some(dup.id)),
        };

        let submit_tags = match self.submit_event_tags(&submission).await {
            Ok(Ok(tags)) => tags,
            Err(e) => {
                draft.discard().await;
                return Err(e);
            }
            Ok(Err(problem)) => {
                draft.discard().await;
                return self
                    .reject_at_intake(&submission, vec![problem], note)
                    .await
                    .map(Some);
            }
        };
        let mut attachments = Vec::new();
        for attachment_id in &submission.attachments {
            match self
                .fetch_attachment(&mut draft, submission_id, attachment_id)
                .await
            {
                Ok(result) => attachments.push(result),
                Err(e) => {
                    draft.discard().await;
                    return Err(e);
                }
            }
        }
        // RSA and AES work: off the async workers, which must keep serving I/O.
        let verifying = spans::decrypt_verify(attachments.len());
        let verified = tokio::task::block_in_place(|| {
            let _in = verifying.enter();
            verification::verify_submission(SubmissionInput {
                submission: &submission,
                keys: &d.keys,
                attachments,
                submit_event_tags: submit_tags.as_ref(),
                decrypt_options: DecryptOptions::default(),
            })
        });
        spans::record_outcome(
            &verifying,
            if verified.is_ok() {
                "verified"
            } else {
                "rejected"
            },
        );
        let verified = match verified {
            Ok(v) => v,
            Err(rejection) => {
                draft.discard().await;
                return self
                    .reject_at_intake(&submission, rejection.problems, note)
                    .await
                    .map(Some);
            }
        };
        note.tags = Some(verified.authentication_tags.clone());
        self.claim(submission_id, note).await?;

        draft.set_service_key(Some(leika(&verified.service_identifier)));
        for a in &verified.attachments {
            draft.describe_attachment(&a.attachment_id, a.filename.clone(), a.mime_type.clone());
        }
        // The metadata travels along: the Fachverfahren may need what it says about the
        // sender's authentication, payment and reply channel.
        let metadata =
            Bytes::from(serde_json::to_vec(&verified.metadata).expect("JSON serializes"));
        let metadata = futures::stream::once(async move { Ok::<_, std::io::Error>(metadata) });
        if let Err(e) = draft
            .attach(
                Some("fit-connect-metadata.json".into()),
                Some("application/json".into()),
                Box::pin(metadata),
            )
            .await
        {
            draft.discard().await;
            return Err(e.to_string());
        }
        let (mime, document) = match (&verified.data, &verified.data_schema) {
            (Some(data), Some(schema)) => (schema.mime_type.clone(), Bytes::from(data.clone())),
            (Some(data), None) => (
                "application/octet-stream".to_string(),
                Bytes::from(data.clone()),
            ),
            // No Fachdaten: the metadata is the document (the application is in the attachments).
            (None, _) => (
                "application/json".to_string(),
                Bytes::from(serde_json::to_vec(&verified.metadata).expect("JSON serializes")),
            ),
        };
        if let Err(e) = draft.set_document(Some(mime), document) {
            let problem = Problem::new(
                ProblemType::SchemaViolation,
                ProblemInstance::Data,
                e.to_string(),
            );
            draft.discard().await;
            return self
                .reject_at_intake(&submission, vec![problem], note)
                .await
                .map(Some);
        }
        match draft.commit().await {
            Ok(accepted) => {
                if let Some(r) = &accepted.rejection {
                    // The data violates its XSD: the sender hears which elements.
                    note.problems = vec![Problem::new(
                        ProblemType::SchemaViolation,
                        ProblemInstance::Data,
                        r.reason.clone(),
                    )];
                    self.claim(submission_id, note).await?;
                }
                Ok(Some(accepted.id))
            }
            Err(e)
                if e.is_document_fault()
                    || matches!(e, crate::intake::IntakeError::Unsupported(_)) =>
            {
                let problem = Problem::new(
                    ProblemType::SyntaxViolation,
                    ProblemInstance::Data,
                    e.to_string(),
                );
                self.reject_at_intake(&submission, vec![problem], note)
                    .await
                    .map(Some)
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// Keeps a submission that failed its checks as `rejected` (the encrypted submission as
    /// evidence) and notes the problems for the answer.
    async fn reject_at_intake(
        &self,
        submission: &Submission,
        problems: Vec<Problem>,
        note: &mut Note,
    ) -> Result<MessageId, String> {
        let d = &self.destination;
        note.problems = problems;
        self.claim(&submission.submission_id, note).await?;
        let origin = Origin {
            tenant: d.tenant.clone(),
            source: d.source.clone(),
            transport_id: Some(submission.submission_id.clone()),
            service_key: Some(leika(&submission.service_type.identifier)),
            destination: Some(d.destination_id.clone()),
        };
        let mut draft = match self.intake.open(origin).await.map_err(|e| e.to_string())? {
            Ok(draft) => draft,
            Err(dup) => return Ok(dup.id),
        };
        let evidence = serde_json::to_vec(submission).expect("JSON serializes");
        draft
            .set_document(Some("application/json".into()), Bytes::from(evidence))
            .map_err(|e| e.to_string())?;
        let reason = format!(
            "FIT-Connect submission refused: {}",
            note.problems
                .iter()
                .map(|p| format!("{} ({}): {}", p.problem_type.name(), p.instance, p.detail))
                .collect::<Vec<_>>()
                .join("; ")
        );
        let accepted = draft
            .commit_rejected(reason)
            .await
            .map_err(|e| e.to_string())?;
        Ok(accepted.id)
    }

    /// Tags from the Zustelldienst's own submit event, verified with its published keys.
    async fn submit_event_tags(
        &self,
        submission: &Submission,
    ) -> Result<Result<Option<AuthenticationTags>, Problem>, String> {
        let d = &self.destination;
        // Unreadable now is a network matter: try again later, do not reject.
        let log = d
            .client
            .event_log(&submission.case_id)
            .await
            .map_err(|e| format!("event log unreadable: {e}"))?;
        let keys = self.zustelldienst_keys(false).await?;
        match verification::submit_event_tags(&log, &keys, &submission.submission_id) {
            Ok(tags) => Ok(Ok(tags)),
            // The Zustelldienst may have rotated its key: look again once before refusing.
            Err(_) => {
                let keys = self.zustelldienst_keys(true).await?;
                Ok(verification::submit_event_tags(
                    &log,
                    &keys,
                    &submission.submission_id,
                ))
            }
        }
    }

    /// The Zustelldienst's published signing keys, cached for an hour.
    async fn zustelldienst_keys(&self, refresh: bool) -> Result<Vec<PublicKey>, String> {
        let d = &self.destination;
        let mut cache = d.zustelldienst_keys.lock().await;
        if let Some((at, keys)) = cache.as_ref()
            && !refresh
            && at.elapsed() < Duration::from_secs(3600)
        {
            return Ok(keys.clone());
        }
        let jwks = d
            .client
            .zustelldienst_keys()
            .await
            .map_err(|e| format!("Zustelldienst keys unreadable: {e}"))?;
        let keys: Vec<PublicKey> = jwks
            .keys
            .iter()
            .filter_map(|k| PublicKey::from_jwk(k).ok())
            .collect();
        *cache = Some((std::time::Instant::now(), keys.clone()));
        Ok(keys)
    }

    /// Streams one attachment through decryption into the draft.
    async fn fetch_attachment(
        &self,
        draft: &mut Draft,
        submission_id: &str,
        attachment_id: &str,
    ) -> Result<AttachmentResult, String> {
        let d = &self.destination;
        let (mut writer, reader) = tokio::io::duplex(64 * 1024);
        let fetch = async {
            let r = d
                .client
                .fetch_attachment(
                    submission_id,
                    attachment_id,
                    &d.keys,
                    DecryptOptions::default(),
                    &mut writer,
                )
                .await;
            drop(writer);
            r
        };
        let stream = tokio_util::io::ReaderStream::new(reader);
        // Labelled with its id until the metadata names it (see `describe_attachment`).
        let store = draft.attach(Some(attachment_id.to_string()), None, Box::pin(stream));
        let (fetched, stored) = tokio::join!(fetch, store);
        let result: Result<AttachmentResult, ClientError> = fetched;
        let result = result.map_err(|e| e.to_string())?;
        stored.map_err(|e| e.to_string())?;
        Ok(result)
    }

    /// Sends the answer that is due for a received submission, then closes the claim.
    async fn answer(&self, submission_id: &str, id: MessageId, note: &Note) -> Result<(), String> {
        let d = &self.destination;
        let detail = self.ledger.get(id).await.map_err(|e| e.to_string())?;
        let Some(detail) = detail else { return Ok(()) };
        let state = detail.message.state;
        let subject = SetSubject::new(&d.destination_id, submission_id, &note.case_id);
        let event = match (state, d.accept) {
            (State::Rejected, _) => {
                let problems = if note.problems.is_empty() {
                    vec![Problem::new(
                        ProblemType::SchemaViolation,
                        ProblemInstance::Data,
                        detail.message.last_reason.clone(),
                    )]
                } else {
                    note.problems.clone()
                };
                Event::Reject { problems }
            }
            (State::Dead, AcceptMode::Delivery) => {
                let problem = Problem::new(
                    ProblemType::Other(
                        "https://schema.fitko.de/fit-connect/events/problems/technical-error"
                            .into(),
                    ),
                    ProblemInstance::Data,
                    "the receiving authority's system could not take the submission",
                );
                Event::Reject {
                    problems: vec![problem],
                }
            }
            // Resolved: an operator dealt with the application by hand (an unrouted one entered
            // into the Fachverfahren directly), so the authority has it.
            (State::Delivered | State::Resolved | State::Purged, AcceptMode::Delivery)
            | (_, AcceptMode::Intake) => {
                let Some(tags) = note.tags.clone() else {
                    return Err(format!(
                        "submission {submission_id}: no authentication tags noted; cannot accept"
                    ));
                };
                Event::Accept {
                    authentication_tags: tags,
                }
            }
            // Delivery mode: not there yet.
            _ => return Ok(()),
        };
        let answer = if matches!(event, Event::Reject { .. }) {
            "reject-submission"
        } else {
            "accept-submission"
        };
        // The answer belongs to the application's trace, however long after intake it goes.
        let span =
            spans::fit_connect_answer(id, &d.source, answer, detail.message.traceparent.as_deref());
        async {
            // Signing is an RSA private-key operation: off the async workers.
            let set = tokio::task::block_in_place(|| {
                events::sign_set(&events::SetClaims::new(&subject, &event), &d.signing)
            })
            .map_err(|e| e.to_string())?;
            match d.client.post_event(&note.case_id, &set).await {
                Ok(()) => {}
                Err(e) if e.status() == Some(409) => {
                    tracing::info!(source = %d.source, message_id = %id, "FIT-Connect: the submission was answered before");
                }
                Err(e) => return Err(e.to_string()),
            }
            tracing::info!(source = %d.source, message_id = %id, state = %state, answer,
                "FIT-Connect: sender answered");
            Ok(())
        }
        .instrument(span)
        .await?;
        self.done(submission_id).await
    }

    async fn done(&self, submission_id: &str) -> Result<(), String> {
        self.ledger
            .inbound_done(&self.destination.source, submission_id)
            .await
            .map_err(|e| e.to_string())
    }
}
