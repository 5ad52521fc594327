//! The queue of the cluster backend on RabbitMQ (lapin): durable quorum queues per connector,
//! persistent messages with publisher confirms, manual acks, dead-letter exchanges and delayed
//! retries through TTL queues (see [`topology`]).
//!
//! Queue moves are ledger events, as with the embedded queue, but RabbitMQ and the ledger
//! cannot share a transaction: taking a delivery records `delivering` before the worker sees
//! it, and settling records the outcome first and acks second. A copy that comes back after
//! its outcome was recorded (lost ack, duplicate publish from the outbox relay) is recognised
//! by the ledger state and dropped, so consumers are idempotent on the message id.
//!
//! Settling: `Ack` acks; `RetryAfter(d)` publishes the next attempt to the retry tier for `d`
//! (with a confirm) and acks; `Dead` publishes to the connector's dead letters (with a
//! confirm) and acks — the queue's own dead-lettering is at-most-once for quorum queues and only
//! the fallback. `release` publishes the unchanged copy again and acks, because a requeue
//! would count as an attempt (quorum queues' delivery count), which a release must not.
//!
//! Publishing and consuming use one connection each (a publisher blocked by a RabbitMQ
//! resource alarm must not stall the acks that drain the queues). Both heal themselves: when
//! one drops (RabbitMQ restart, node down), the next use reconnects, trying `url` and then `fallback_urls`, and declares the topology again;
//! consumers wait with backoff until that works and resume. Unacked deliveries come back on
//! channel loss (RabbitMQ's semantic), counted as an attempt (quorum queues' delivery count).

#[cfg(test)]
pub(crate) mod tests;
pub mod topology;

use crate::cluster::envelope::{CONTENT_TYPE, MESSAGE_TYPE, QueuedEnvelope};
use crate::config::cluster::RabbitConfig;
use crate::ledger::{Ledger, LedgerError, Outbox, Transition};
use crate::message::{Envelope, MessageId, State, now_millis};
use crate::queue::{Consumer, Delivery, Outcome, Queue, QueueDepth, QueueError, Settle};
use crate::secrets::{self, Secret};
use async_trait::async_trait;
use backon::{BackoffBuilder, ExponentialBuilder};
use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::uri::AMQPUri;
use lapin::{Acker, BasicProperties, Channel, Confirmation, Connection, ConnectionProperties};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
use topology::{Names, RETRY_TIERS, Topology, retry_tier};

/// Waiting longer than this for a TCP + AMQP handshake counts as the node being unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a batch waits for one more delivery after the previous one arrived. Short against
/// a delivery to a Fachverfahren, long enough to take a burst that RabbitMQ is pushing.
const BATCH_LINGER: Duration = Duration::from_millis(10);
/// Prefetch of a connector that `connect` was not told about.
const DEFAULT_PREFETCH: u16 = 8;
/// A delivery dropped without being settled (its worker task panicked) is handed back after
/// this long, like an expired lease, rather than being held until the channel closes.
const DROPPED_RETURN_AFTER: Duration = Duration::from_secs(5);

/// The RabbitMQ queue. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct RabbitQueue {
    inner: Arc<Inner>,
}

struct Inner {
    /// (configuration key, URL): the key names the URL in logs and errors; the URL carries a
    /// password, so it is never printed.
    urls: Vec<(String, AMQPUri)>,
    names: Names,
    confirm_timeout: Duration,
    ledger: Arc<dyn Ledger>,
    prefetch: HashMap<String, u16>,
    /// Connectors whose queues are declared on every (re)connect.
    connectors: StdMutex<BTreeSet<String>>,
    /// Deliveries this process holds, per connector.
    leased: StdMutex<BTreeMap<String, Arc<AtomicU64>>>,
    /// Publishing and consuming use separate connections: RabbitMQ blocks a publishing
    /// connection under a memory or disk alarm, and acks on a blocked connection would stall
    /// the very consumers that drain the queues.
    publishing: Mutex<Option<Arc<Live>>>,
    consuming: Mutex<Option<Arc<Live>>>,
    /// Connections opened so far (both roles), numbered for the logs.
    generation: AtomicU64,
    connection_name: String,
}

#[derive(Debug, Clone, Copy)]
enum Role {
    Publish,
    Consume,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Publish => "publishing",
            Role::Consume => "consuming",
        }
    }
}

/// One connection and what was set up on it.
struct Live {
    generation: u64,
    connection: Connection,
    /// In confirm mode. Replaced when a channel error closed it.
    publisher: Mutex<Channel>,
    /// Connectors whose topology was declared on this connection.
    declared: StdMutex<HashSet<String>>,
}

fn storage(e: impl std::fmt::Display) -> QueueError {
    QueueError::Storage(e.to_string())
}

impl Live {
    /// The connector's topology is to be declared again on next use.
    fn forget(&self, connector: &str) {
        self.declared
            .lock()
            .expect("never poisoned")
            .remove(connector);
    }

    async fn publisher(&self) -> Result<Channel, QueueError> {
        let mut channel = self.publisher.lock().await;
        if !channel.status().connected() {
            let fresh = self.connection.create_channel().await.map_err(|e| {
                storage(format!(
                    "cannot open a RabbitMQ channel for publishing: {e}"
                ))
            })?;
            fresh
                .confirm_select(ConfirmSelectOptions::default())
                .await
                .map_err(|e| storage(format!("cannot enable publisher confirms: {e}")))?;
            *channel = fresh;
        }
        Ok(channel.clone())
    }
}

/// Settings of the outbox relay (see [`RabbitQueue::spawn_relay`]).
#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// Entries claimed and published per round.
    pub batch: usize,
    /// How long a claim holds; must be longer than publishing one batch takes.
    pub claim_for: Duration,
    /// How long to wait for new entries before looking again.
    pub poll: Duration,
}

/// Result of [`raw_roundtrip`].
#[derive(Debug, Clone)]
pub struct RawRoundtrip {
    pub messages: usize,
    pub payload_size: usize,
    /// From the first publish until the last message was consumed and acked.
    pub elapsed: Duration,
    /// From the first publish until the last publisher confirm arrived.
    pub publish_elapsed: Duration,
}

impl RabbitQueue {
    /// Connects to RabbitMQ (`url`, then `fallback_urls`) and declares the topology for
    /// `connectors`. `prefetch` is per connector the number of unacked deliveries its
    /// consumer may hold: its worker concurrency. Fails when no node can be reached, so a
    /// broker that starts without RabbitMQ says so.
    pub async fn connect(
        cfg: &RabbitConfig,
        ledger: Arc<dyn Ledger>,
        prefetch: HashMap<String, u16>,
        connectors: &[String],
    ) -> Result<RabbitQueue, QueueError> {
        let mut urls = vec![(
            "storage.rabbitmq.url".to_string(),
            parse_url("storage.rabbitmq.url", &cfg.url)?,
        )];
        for (i, r) in cfg.fallback_urls.iter().enumerate() {
            let key = format!("storage.rabbitmq.fallback_urls[{i}]");
            let url = parse_url(&key, r)?;
            urls.push((key, url));
        }
        let names = Names::new(&cfg.prefix);
        for c in connectors {
            names.check(c).map_err(storage)?;
        }
        let queue = RabbitQueue {
            inner: Arc::new(Inner {
                urls,
                names,
                confirm_timeout: cfg.confirm_timeout,
                ledger,
                prefetch,
                connectors: StdMutex::new(connectors.iter().cloned().collect()),
                leased: StdMutex::new(BTreeMap::new()),
                publishing: Mutex::new(None),
                consuming: Mutex::new(None),
                generation: AtomicU64::new(0),
                connection_name: format!("amtsbote {} pid {}", cfg.prefix, std::process::id()),
            }),
        };
        queue.live(Role::Publish).await?;
        Ok(queue)
    }

    /// The names of this queue's exchanges and queues.
    pub fn names(&self) -> &Names {
        &self.inner.names
    }

    /// The open connection for `role`, or a new one if it was lost.
    async fn live(&self, role: Role) -> Result<Arc<Live>, QueueError> {
        let mut slot = match role {
            Role::Publish => self.inner.publishing.lock().await,
            Role::Consume => self.inner.consuming.lock().await,
        };
        if let Some(live) = slot.as_ref()
            && live.connection.status().connected()
        {
            return Ok(live.clone());
        }
        if let Some(lost) = slot.take() {
            tracing::warn!(
                generation = lost.generation,
                role = role.as_str(),
                "rabbitmq: the connection was lost; reconnecting"
            );
        }
        let live = Arc::new(self.open(role).await?);
        *slot = Some(live.clone());
        Ok(live)
    }

    async fn open(&self, role: Role) -> Result<Live, QueueError> {
        let generation = self.inner.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let mut failures = Vec::new();
        for (key, url) in &self.inner.urls {
            let props = ConnectionProperties::default().with_connection_name(
                format!(
                    "{} {} #{generation}",
                    self.inner.connection_name,
                    role.as_str()
                )
                .into(),
            );
            match tokio::time::timeout(CONNECT_TIMEOUT, Connection::connect_uri(url.clone(), props))
                .await
            {
                Ok(Ok(connection)) => {
                    let live = self.prepare(connection, generation).await?;
                    tracing::info!(url = %key, generation, role = role.as_str(), "rabbitmq: connected");
                    return Ok(live);
                }
                Ok(Err(e)) => failures.push(format!("{key}: {e}")),
                Err(_) => failures.push(format!("{key}: no answer within {CONNECT_TIMEOUT:?}")),
            }
        }
        Err(storage(format!(
            "cannot connect to RabbitMQ ({}); check that it runs and that [storage.rabbitmq] url, fallback_urls and their credentials are right",
            failures.join("; ")
        )))
    }

    /// Publisher channel and topology on a new connection.
    async fn prepare(&self, connection: Connection, generation: u64) -> Result<Live, QueueError> {
        let publisher = connection
            .create_channel()
            .await
            .map_err(|e| storage(format!("cannot open a RabbitMQ channel: {e}")))?;
        publisher
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| storage(format!("cannot enable publisher confirms: {e}")))?;
        let connectors: Vec<String> = self.known_connectors();
        let setup = connection
            .create_channel()
            .await
            .map_err(|e| storage(format!("cannot open a RabbitMQ channel: {e}")))?;
        Topology::full(&self.inner.names, &connectors)
            .declare(&setup)
            .await
            .map_err(storage)?;
        Ok(Live {
            generation,
            connection,
            publisher: Mutex::new(publisher),
            declared: StdMutex::new(connectors.into_iter().collect()),
        })
    }

    fn known_connectors(&self) -> Vec<String> {
        let known = self.inner.connectors.lock().expect("never poisoned");
        known.iter().cloned().collect()
    }

    /// Declares a connector's queues on `live` unless that was done.
    async fn ensure_connector(&self, live: &Live, connector: &str) -> Result<(), QueueError> {
        if live
            .declared
            .lock()
            .expect("never poisoned")
            .contains(connector)
        {
            return Ok(());
        }
        self.inner.names.check(connector).map_err(storage)?;
        let setup = live
            .connection
            .create_channel()
            .await
            .map_err(|e| storage(format!("cannot open a RabbitMQ channel: {e}")))?;
        Topology::connector(&self.inner.names, connector)
            .declare(&setup)
            .await
            .map_err(storage)?;
        self.inner
            .connectors
            .lock()
            .expect("never poisoned")
            .insert(connector.to_string());
        live.declared
            .lock()
            .expect("never poisoned")
            .insert(connector.to_string());
        Ok(())
    }

    fn lease_counter(&self, connector: &str) -> Arc<AtomicU64> {
        let mut leased = self.inner.leased.lock().expect("never poisoned");
        leased.entry(connector.to_string()).or_default().clone()
    }

    /// Publishes `q` to `exchange` with its connector as routing key and waits for the
    /// broker's confirm. A nack, an unroutable message or no confirm within
    /// `confirm_timeout` is an error: the caller still owns the message.
    async fn publish_to(&self, exchange: &str, q: &QueuedEnvelope) -> Result<(), QueueError> {
        let connector = &q.envelope.connector;
        let id = q.envelope.message_id;
        let live = self.live(Role::Publish).await?;
        self.ensure_connector(&live, connector).await?;
        let channel = live.publisher().await?;
        let body = q.encode();
        let props = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type(CONTENT_TYPE.into())
            .with_type(MESSAGE_TYPE.into())
            .with_message_id(id.to_string().into())
            .with_timestamp((now_millis() / 1000).max(0) as u64);
        let timeout = self.inner.confirm_timeout;
        let confirmed = tokio::time::timeout(timeout, async {
            let options = BasicPublishOptions {
                // Unroutable (no queue bound) comes back instead of vanishing.
                mandatory: true,
                ..Default::default()
            };
            channel
                .basic_publish(
                    exchange.into(),
                    connector.as_str().into(),
                    options,
                    &body,
                    props,
                )
                .await?
                .await
        })
        .await;
        if matches!(confirmed, Ok(Ok(Confirmation::Nack(_))) | Err(_)) {
            // A channel whose quorum-queue client lost track of a queue's leader (its node
            // went down) can go on refusing publishes after a new leader was elected; a fresh
            // channel asks again. Publishes in flight on it fail and are retried by the caller.
            let _ = channel
                .close(
                    200,
                    "replaced after a refused or unconfirmed publish".into(),
                )
                .await;
        }
        match confirmed {
            Ok(Ok(Confirmation::Ack(None))) => Ok(()),
            Ok(Ok(Confirmation::Ack(Some(_)))) => {
                // Someone deleted the queue: declare it again before the next try.
                live.forget(connector);
                Err(storage(format!(
                    "message {id}: RabbitMQ has no queue for connector {connector} behind exchange {exchange} (deleted?); it is declared again for the next try"
                )))
            }
            Ok(Ok(Confirmation::Nack(_))) => Err(storage(format!(
                "message {id}: RabbitMQ refused (nack) the publish to exchange {exchange}; check the RabbitMQ log (disk or memory alarm, queue limits)"
            ))),
            Ok(Ok(Confirmation::NotRequested)) => Err(storage(format!(
                "message {id}: the publish to exchange {exchange} was not confirmed (the channel is not in confirm mode)"
            ))),
            Ok(Err(e)) => Err(storage(format!(
                "message {id}: publishing to exchange {exchange} failed: {e}"
            ))),
            Err(_) => Err(storage(format!(
                "message {id}: RabbitMQ did not confirm the publish to exchange {exchange} within {}; raise storage.rabbitmq.confirm_timeout if it is overloaded",
                humantime::format_duration(timeout)
            ))),
        }
    }

    /// Messages waiting in each retry tier (all connectors together), for metrics.
    pub async fn retry_depth(&self) -> Result<Vec<(Duration, u64)>, QueueError> {
        let live = self.live(Role::Publish).await?;
        let channel = live
            .connection
            .create_channel()
            .await
            .map_err(|e| storage(format!("cannot open a RabbitMQ channel: {e}")))?;
        let mut out = Vec::new();
        for tier in RETRY_TIERS {
            let name = self.inner.names.retry(tier);
            out.push((tier, passive_count(&channel, &name).await?));
        }
        Ok(out)
    }

    /// Starts the outbox relay with settings suited to this queue: it publishes the entries
    /// of the ledger's transactional outbox with publisher confirms and removes only the
    /// confirmed ones, until `shutdown` fires.
    pub fn spawn_relay(
        &self,
        outbox: Arc<dyn Outbox>,
        shutdown: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let settings = RelaySettings {
            batch: 256,
            // A claim must outlive the publishing of its batch (each publish waits at most
            // confirm_timeout, all in parallel), with room for a slow outbox_done.
            claim_for: (self.inner.confirm_timeout * 3).max(Duration::from_secs(30)),
            poll: Duration::from_secs(1),
        };
        self.spawn_relay_with(outbox, shutdown, settings)
    }

    pub fn spawn_relay_with(
        &self,
        outbox: Arc<dyn Outbox>,
        shutdown: CancellationToken,
        settings: RelaySettings,
    ) -> tokio::task::JoinHandle<()> {
        let queue = self.clone();
        tokio::spawn(async move { queue.relay(outbox, shutdown, settings).await })
    }

    async fn relay(&self, outbox: Arc<dyn Outbox>, shutdown: CancellationToken, s: RelaySettings) {
        let mut backoff = None;
        loop {
            let claimed = tokio::select! {
                c = outbox.outbox_claim(s.batch.max(1), s.claim_for) => c,
                _ = shutdown.cancelled() => return,
            };
            let trouble = match claimed {
                Err(e) => {
                    tracing::warn!(error = %e, "outbox relay: cannot claim outbox entries; retrying");
                    true
                }
                Ok(entries) if entries.is_empty() => {
                    backoff = None;
                    tokio::select! {
                        _ = outbox.outbox_wait(s.poll) => {}
                        _ = shutdown.cancelled() => return,
                    }
                    continue;
                }
                Ok(entries) => {
                    // All in flight at once: the confirms arrive together, not one round
                    // trip per message.
                    let results = futures::future::join_all(entries.iter().map(|e| async move {
                        let q = QueuedEnvelope::new(e.envelope.clone());
                        (
                            e,
                            self.publish_to(&self.inner.names.work_exchange(), &q).await,
                        )
                    }))
                    .await;
                    let mut confirmed = Vec::with_capacity(results.len());
                    let mut failed = false;
                    for (entry, result) in results {
                        match result {
                            Ok(()) => confirmed.push(entry.seq),
                            Err(e) => {
                                failed = true;
                                tracing::warn!(seq = entry.seq, message_id = %entry.envelope.message_id,
                                    error = %e, "outbox relay: not published; published again when its claim expires");
                            }
                        }
                    }
                    if !confirmed.is_empty()
                        && let Err(e) = outbox.outbox_done(&confirmed).await
                    {
                        // Published but still in the outbox: published again later, which
                        // consumers recognise by the message id.
                        tracing::warn!(error = %e, entries = confirmed.len(),
                            "outbox relay: cannot remove published entries; they will be published again");
                        failed = true;
                    }
                    failed
                }
            };
            if trouble {
                let delay = backoff
                    .get_or_insert_with(|| {
                        ExponentialBuilder::default()
                            .with_jitter()
                            .with_min_delay(Duration::from_millis(200))
                            .with_max_delay(Duration::from_secs(30))
                            .without_max_times()
                            .build()
                    })
                    .next()
                    .unwrap_or(Duration::from_secs(30));
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.cancelled() => return,
                }
            } else {
                backoff = None;
            }
        }
    }
}

/// Reads and checks an AMQP URL; errors name the configuration key, never the URL.
fn parse_url(key: &str, r: &crate::config::SecretRef) -> Result<AMQPUri, QueueError> {
    let url: Secret = secrets::read(r).map_err(|e| storage(format!("{key}: {e}")))?;
    url.expose().parse::<AMQPUri>().map_err(|e| {
        // The parser may quote the whole URL, password included.
        let why = if e.contains(url.expose()) {
            "not an absolute URL".to_string()
        } else {
            e
        };
        storage(format!(
            "{key} is not a valid AMQP URL ({why}); expected amqp://user:password@host:5672/%2f"
        ))
    })
}

async fn passive_count(channel: &Channel, name: &str) -> Result<u64, QueueError> {
    let options = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    let q = channel
        .queue_declare(name.into(), options, FieldTable::default())
        .await
        .map_err(|e| storage(format!("cannot read the depth of queue {name}: {e}")))?;
    Ok(u64::from(q.message_count()))
}

/// How often RabbitMQ has handed this copy out before (quorum queues count returns on nack
/// and on channel loss in `x-delivery-count`).
fn delivery_count(props: &BasicProperties) -> u32 {
    let Some(headers) = props.headers() else {
        return 0;
    };
    let n: i64 = match headers.inner().get("x-delivery-count") {
        Some(AMQPValue::LongLongInt(n)) => *n,
        Some(AMQPValue::LongInt(n)) => i64::from(*n),
        Some(AMQPValue::LongUInt(n)) => i64::from(*n),
        Some(AMQPValue::ShortInt(n)) => i64::from(*n),
        Some(AMQPValue::ShortUInt(n)) => i64::from(*n),
        Some(AMQPValue::ShortShortInt(n)) => i64::from(*n),
        Some(AMQPValue::ShortShortUInt(n)) => i64::from(*n),
        _ => 0,
    };
    n.clamp(0, i64::from(u32::MAX)) as u32
}

#[async_trait]
impl Queue for RabbitQueue {
    async fn publish(&self, envelope: &Envelope) -> Result<(), QueueError> {
        let q = QueuedEnvelope::new(envelope.clone());
        self.publish_to(&self.inner.names.work_exchange(), &q).await
    }

    async fn consume(&self, connector: &str) -> Result<Box<dyn Consumer>, QueueError> {
        self.inner.names.check(connector).map_err(storage)?;
        let mut consumer = RabbitConsumer {
            queue: self.clone(),
            connector: connector.to_string(),
            stream: None,
            backoff: None,
        };
        // Opened now so a wrong setup shows at once; later losses are healed in next_batch.
        consumer.stream = Some(consumer.open().await?);
        Ok(Box::new(consumer))
    }

    async fn depth(&self) -> Result<Vec<QueueDepth>, QueueError> {
        let live = self.live(Role::Publish).await?;
        let channel = live
            .connection
            .create_channel()
            .await
            .map_err(|e| storage(format!("cannot open a RabbitMQ channel: {e}")))?;
        let mut out = Vec::new();
        for connector in self.known_connectors() {
            let names = &self.inner.names;
            let ready = passive_count(&channel, &names.work_queue(&connector)).await?;
            let dead = passive_count(&channel, &names.dead_queue(&connector)).await?;
            out.push(QueueDepth {
                // RabbitMQ reports ready messages only; what is unacked is counted here, for
                // this process (other replicas count their own).
                leased: self.lease_counter(&connector).load(Ordering::SeqCst),
                connector,
                ready,
                // Retry tiers are shared by all connectors: see `retry_depth`.
                delayed: 0,
                dead,
                // RabbitMQ does not tell the age of a queue's head without reading it.
                oldest_ms: 0,
            });
        }
        Ok(out)
    }
}

/// A consumer's channel and subscription.
struct Stream {
    /// Keeps the connection open while the channel is used.
    _live: Arc<Live>,
    consumer: lapin::Consumer,
}

struct RabbitConsumer {
    queue: RabbitQueue,
    connector: String,
    stream: Option<Stream>,
    backoff: Option<backon::ExponentialBackoff>,
}

impl RabbitConsumer {
    async fn open(&self) -> Result<Stream, QueueError> {
        let queue = &self.queue;
        let live = queue.live(Role::Consume).await?;
        queue.ensure_connector(&live, &self.connector).await?;
        let channel = live
            .connection
            .create_channel()
            .await
            .map_err(|e| storage(format!("cannot open a RabbitMQ channel: {e}")))?;
        let prefetch = queue
            .inner
            .prefetch
            .get(&self.connector)
            .copied()
            .unwrap_or(DEFAULT_PREFETCH)
            .max(1);
        channel
            .basic_qos(prefetch, BasicQosOptions::default())
            .await
            .map_err(|e| {
                storage(format!(
                    "cannot set the prefetch of {}: {e}",
                    self.connector
                ))
            })?;
        let name = queue.inner.names.work_queue(&self.connector);
        let consumer = channel
            .basic_consume(
                name.as_str().into(),
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| {
                // Perhaps deleted: declare it again before the next try.
                live.forget(&self.connector);
                storage(format!("cannot consume from queue {name}: {e}"))
            })?;
        Ok(Stream {
            _live: live,
            consumer,
        })
    }

    /// Opens the subscription again, waiting with backoff as long as it takes: a consumer
    /// outlives RabbitMQ restarts.
    async fn reopen(&mut self) {
        loop {
            match self.open().await {
                Ok(stream) => {
                    tracing::info!(connector = %self.connector, "rabbitmq: consuming again");
                    self.stream = Some(stream);
                    self.backoff = None;
                    return;
                }
                Err(e) => {
                    let delay = self
                        .backoff
                        .get_or_insert_with(|| {
                            ExponentialBuilder::default()
                                .with_jitter()
                                .with_min_delay(Duration::from_millis(100))
                                .with_max_delay(Duration::from_secs(15))
                                .without_max_times()
                                .build()
                        })
                        .next()
                        .unwrap_or(Duration::from_secs(15));
                    tracing::warn!(connector = %self.connector, error = %e,
                        retry_in = ?delay, "rabbitmq: cannot consume; retrying");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// Records `delivering` for each raw delivery and turns it into a [`Delivery`]; drops
    /// stale copies and parks unreadable ones.
    async fn take(
        &self,
        raw: Vec<lapin::message::Delivery>,
        actor: &str,
    ) -> Result<Vec<Delivery>, QueueError> {
        let ledger = &self.queue.inner.ledger;
        let mut out = Vec::with_capacity(raw.len());
        let mut raw = raw.into_iter();
        while let Some(d) = raw.next() {
            let mut q = match QueuedEnvelope::decode(&d.data) {
                Ok(q) => q,
                Err(e) => {
                    let id = d.properties.message_id().as_ref().map(|s| s.to_string());
                    tracing::error!(connector = %self.connector, message_id = ?id, error = %e,
                        "rabbitmq: unreadable queue message moved to the dead letters");
                    nack(&d.acker, false, "dead-letter an unreadable message").await;
                    continue;
                }
            };
            let id = q.envelope.message_id;
            q.attempt = q
                .attempt
                .max(1)
                .saturating_add(delivery_count(&d.properties));
            if q.first_attempt_at == 0 {
                q.first_attempt_at = now_millis();
            }
            let start = Transition::new(State::Delivering, actor, format!("attempt {}", q.attempt))
                .attempt(q.attempt);
            match ledger.transition(id, start).await {
                Ok(_) => {
                    let lease = LeaseGuard::new(self.queue.lease_counter(&self.connector));
                    let (attempt, first) = (q.attempt, q.first_attempt_at);
                    let envelope = q.envelope.clone();
                    let settle = Box::new(RabbitSettle {
                        queue: self.queue.clone(),
                        acker: d.acker,
                        queued: q,
                        settled: false,
                        _lease: lease,
                    });
                    out.push(Delivery::new(envelope, attempt, first, settle));
                }
                Err(LedgerError::TransitionNotAllowed { from, .. }) => {
                    // Its outcome is recorded (ack lost, or a duplicate from the outbox).
                    ack(&d.acker, "drop a stale copy").await;
                    tracing::info!(message_id = %id, state = %from,
                        "rabbitmq: dropped a stale copy of a message that is already {from}");
                }
                Err(LedgerError::NotFound(_)) => {
                    nack(
                        &d.acker,
                        false,
                        "dead-letter a message unknown to the ledger",
                    )
                    .await;
                    tracing::error!(message_id = %id, connector = %self.connector,
                        "rabbitmq: a queued message is not in the ledger; moved to the dead letters");
                }
                Err(e) => {
                    // The ledger is unavailable: give this and the rest back at once.
                    nack(&d.acker, true, "give back").await;
                    for rest in raw.by_ref() {
                        nack(&rest.acker, true, "give back").await;
                    }
                    if out.is_empty() {
                        return Err(e.into());
                    }
                    tracing::warn!(error = %e, "rabbitmq: cannot record delivering; gave deliveries back");
                }
            }
        }
        Ok(out)
    }
}

async fn ack(acker: &Acker, what: &str) -> bool {
    match acker.ack(BasicAckOptions::default()).await {
        Ok(true) => true,
        Ok(false) => {
            tracing::warn!(
                what,
                "rabbitmq: the channel closed before the ack; the message comes back and is recognised by its ledger state"
            );
            false
        }
        Err(e) => {
            tracing::warn!(what, error = %e, "rabbitmq: ack failed; the message comes back and is recognised by its ledger state");
            false
        }
    }
}

async fn nack(acker: &Acker, requeue: bool, what: &str) -> bool {
    let options = BasicNackOptions {
        requeue,
        ..Default::default()
    };
    match acker.nack(options).await {
        Ok(true) => true,
        Ok(false) => {
            tracing::warn!(
                what,
                "rabbitmq: the channel closed before the nack; the message comes back"
            );
            false
        }
        Err(e) => {
            tracing::warn!(what, error = %e, "rabbitmq: nack failed; the message comes back");
            false
        }
    }
}

#[async_trait]
impl Consumer for RabbitConsumer {
    async fn next_batch(&mut self, max: usize, actor: &str) -> Result<Vec<Delivery>, QueueError> {
        loop {
            if self.stream.is_none() {
                self.reopen().await;
            }
            let stream = self.stream.as_mut().expect("opened above");
            let mut raw = Vec::new();
            let mut broken = None;
            match stream.consumer.next().await {
                Some(Ok(d)) => raw.push(d),
                Some(Err(e)) => broken = Some(e.to_string()),
                None => broken = Some("the subscription was cancelled".into()),
            }
            // Whatever else is here. RabbitMQ pushes a burst one delivery after the other, so
            // "already here" means arriving within a moment of the previous one.
            while broken.is_none() && raw.len() < max.max(1) {
                match tokio::time::timeout(BATCH_LINGER, stream.consumer.next()).await {
                    Ok(Some(Ok(d))) => raw.push(d),
                    Ok(Some(Err(e))) => broken = Some(e.to_string()),
                    Ok(None) => broken = Some("the subscription was cancelled".into()),
                    Err(_) => break,
                }
            }
            if let Some(why) = broken {
                tracing::warn!(connector = %self.connector, error = %why,
                    "rabbitmq: consumer lost its channel; resubscribing");
                self.stream = None;
            }
            let batch = self.take(raw, actor).await?;
            if !batch.is_empty() {
                return Ok(batch);
            }
        }
    }
}

/// Counts a delivery as held by this process until it is settled or dropped.
struct LeaseGuard(Arc<AtomicU64>);

impl LeaseGuard {
    fn new(counter: Arc<AtomicU64>) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        LeaseGuard(counter)
    }
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

struct RabbitSettle {
    queue: RabbitQueue,
    acker: Acker,
    /// As delivered: attempt and first_attempt_at of this delivery.
    queued: QueuedEnvelope,
    settled: bool,
    _lease: LeaseGuard,
}

#[async_trait]
impl Settle for RabbitSettle {
    async fn settle(
        mut self: Box<Self>,
        outcome: Outcome,
        record: Transition,
    ) -> Result<(), QueueError> {
        self.settled = true;
        let id = self.queued.envelope.message_id;
        // The record first: if it fails, the queue is not changed (beyond giving back).
        if let Err(e) = self.queue.inner.ledger.transition(id, record).await {
            match &e {
                LedgerError::TransitionNotAllowed { .. } => {
                    // The ledger has moved on (another copy was settled): this copy is stale.
                    ack(&self.acker, "drop a stale copy").await;
                }
                _ => {
                    // Not recorded: the message is attempted again, as after a lost lease.
                    nack(&self.acker, true, "give back an unrecorded delivery").await;
                }
            }
            return Err(e.into());
        }
        match outcome {
            Outcome::Ack => {
                ack(&self.acker, "ack").await;
            }
            Outcome::Dead(_) => {
                // Published to the dead letters with a confirm, then acked: the queue's own
                // dead-lettering (nack without requeue) is at-most-once for quorum queues and
                // happens after the nack returns. It remains the fallback.
                let exchange = self.queue.inner.names.dead_exchange();
                match self.queue.publish_to(&exchange, &self.queued).await {
                    Ok(()) => {
                        ack(&self.acker, "ack after dead-lettering").await;
                    }
                    Err(e) => {
                        tracing::warn!(message_id = %id, error = %e,
                            "rabbitmq: dead letter not confirmed; dead-lettering through the queue instead");
                        nack(&self.acker, false, "dead-letter").await;
                    }
                }
            }
            Outcome::RetryAfter(delay) => {
                let tier = retry_tier(delay);
                let mut next = self.queued.clone();
                next.attempt = next.attempt.saturating_add(1);
                let exchange = self.queue.inner.names.retry(tier);
                match self.queue.publish_to(&exchange, &next).await {
                    Ok(()) => {
                        ack(&self.acker, "ack after scheduling the retry").await;
                    }
                    Err(e) => {
                        // The retry is recorded but not scheduled: give the delivery back
                        // after the delay instead, so a failing Fachverfahren is not hammered.
                        let wait = delay.min(Duration::from_secs(30));
                        let acker = self.acker.clone();
                        tokio::spawn(async move {
                            tokio::time::sleep(wait).await;
                            nack(&acker, true, "give back an unscheduled retry").await;
                        });
                        return Err(storage(format!(
                            "{e}; the delivery is given back in {} instead",
                            humantime::format_duration(wait)
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    async fn release(mut self: Box<Self>) -> Result<(), QueueError> {
        self.settled = true;
        // A nack with requeue would count as an attempt (quorum queues' delivery count),
        // which a release must not: publish the unchanged copy again and ack this one.
        let exchange = self.queue.inner.names.work_exchange();
        match self.queue.publish_to(&exchange, &self.queued).await {
            Ok(()) => {
                ack(&self.acker, "ack a released delivery").await;
                Ok(())
            }
            Err(e) => {
                // Given back all the same, counted as an attempt.
                nack(&self.acker, true, "give back").await;
                tracing::warn!(message_id = %self.queued.envelope.message_id, error = %e,
                    "rabbitmq: released delivery given back with a nack; it counts as an attempt");
                Ok(())
            }
        }
    }
}

impl Drop for RabbitSettle {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        // Dropped without settlement (the worker task panicked or was aborted): hand it back
        // after a while, as an expired lease would be.
        if !self.acker.usable() {
            // Its channel is gone, and with it the delivery (RabbitMQ hands it out again).
            return;
        }
        let acker = self.acker.clone();
        let id: MessageId = self.queued.envelope.message_id;
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                tokio::time::sleep(DROPPED_RETURN_AFTER).await;
                if nack(&acker, true, "give back a dropped delivery").await {
                    tracing::warn!(message_id = %id, "rabbitmq: a delivery was dropped without settlement; gave it back");
                }
            });
        }
    }
}

/// Baseline for `amtsbote bench cluster`: raw lapin, no ledger and no envelope. Publishes `n`
/// persistent messages of `payload_size` bytes with publisher confirms (pipelined) to a
/// temporary quorum queue and consumes them with manual acks at the same time; the queue is
/// deleted afterwards.
pub async fn raw_roundtrip(
    url: &str,
    n: usize,
    payload_size: usize,
) -> Result<RawRoundtrip, QueueError> {
    /// Publishes awaiting their confirm at once.
    const WINDOW: usize = 512;
    let fail = |what: &str, e: lapin::Error| storage(format!("raw round trip: {what}: {e}"));
    let connection = Connection::connect(
        url,
        ConnectionProperties::default().with_connection_name("amtsbote bench".into()),
    )
    .await
    .map_err(|e| fail("connect", e))?;
    let publisher = connection
        .create_channel()
        .await
        .map_err(|e| fail("channel", e))?;
    publisher
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(|e| fail("confirm_select", e))?;
    let name = format!("amtsbote.bench.{}", uuid::Uuid::new_v4().simple());
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    publisher
        .queue_declare(name.as_str().into(), durable, args)
        .await
        .map_err(|e| fail("declare", e))?;
    let consuming = connection
        .create_channel()
        .await
        .map_err(|e| fail("channel", e))?;
    consuming
        .basic_qos(256, BasicQosOptions::default())
        .await
        .map_err(|e| fail("qos", e))?;
    let mut consumer = consuming
        .basic_consume(
            name.as_str().into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| fail("consume", e))?;

    let started = Instant::now();
    let reader = tokio::spawn(async move {
        let mut got = 0;
        while got < n {
            match consumer.next().await {
                Some(Ok(d)) => {
                    d.acker.ack(BasicAckOptions::default()).await?;
                    got += 1;
                }
                Some(Err(e)) => return Err(e),
                None => break,
            }
        }
        // Handed back so that it is dropped only after its channel is closed: cancelling a
        // subscription while its queue is deleted confuses lapin (unexpected cancel-ok).
        Ok((got, consumer))
    });
    let payload = vec![0x5a_u8; payload_size];
    let mut pending = std::collections::VecDeque::new();
    let check = |c: Result<Confirmation, lapin::Error>| match c {
        Ok(Confirmation::Ack(None)) => Ok(()),
        Ok(other) => Err(storage(format!("raw round trip: not confirmed: {other:?}"))),
        Err(e) => Err(fail("confirm", e)),
    };
    for _ in 0..n {
        let confirm = publisher
            .basic_publish(
                "".into(),
                name.as_str().into(),
                BasicPublishOptions::default(),
                &payload,
                BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .map_err(|e| fail("publish", e))?;
        pending.push_back(confirm);
        if pending.len() >= WINDOW {
            check(pending.pop_front().expect("not empty").await)?;
        }
    }
    while let Some(confirm) = pending.pop_front() {
        check(confirm.await)?;
    }
    let publish_elapsed = started.elapsed();
    let (got, consumer) = reader
        .await
        .map_err(|e| storage(format!("raw round trip: consumer task failed: {e}")))?
        .map_err(|e| fail("consume", e))?;
    let elapsed = started.elapsed();
    consuming
        .close(200, "done".into())
        .await
        .map_err(|e| fail("close the consuming channel", e))?;
    drop(consumer);
    publisher
        .queue_delete(name.as_str().into(), QueueDeleteOptions::default())
        .await
        .map_err(|e| fail("delete the queue", e))?;
    if got != n {
        return Err(storage(format!(
            "raw round trip: consumed {got} of {n} messages"
        )));
    }
    Ok(RawRoundtrip {
        messages: n,
        payload_size,
        elapsed,
        publish_elapsed,
    })
}
