//! The RabbitMQ topology: which exchanges and queues exist, named after a prefix `P`.
//!
//! - `P.work` (direct): per connector the quorum queue `P.q.<connector>`, bound with the
//!   connector id as routing key, dead-lettering to `P.dead`.
//! - `P.dead` (direct): per connector the quorum queue `P.dead.<connector>`.
//! - Delayed retries without plugins: per tier a fanout exchange `P.retry.<tier>` and a quorum
//!   queue of the same name whose messages expire after the tier's delay and are then
//!   dead-lettered to `P.work`. Dead-lettering keeps the routing key (the connector id), so
//!   the message returns to its connector's queue. A fixed set of tiers keeps every tier queue
//!   in FIFO order, which per-message TTLs in one queue would not.
//!
//! The same description is declared at start (idempotently) and rendered as RabbitMQ
//! definitions (`deploy/rabbitmq/definitions.json`), so operators can create it beforehand.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, ExchangeKind};
use serde_json::{Value, json};
use std::time::Duration;

/// The delays a retry can wait for. A retry waits for the smallest tier not shorter than the
/// delay the retry policy asked for (see [`retry_tier`]).
pub const RETRY_TIERS: [Duration; 6] = [
    Duration::from_secs(1),
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(120),
    Duration::from_secs(600),
    Duration::from_secs(3600),
];

/// The tier a retry after `delay` waits in: the smallest one not shorter than `delay`, or the
/// longest for longer delays.
pub fn retry_tier(delay: Duration) -> Duration {
    RETRY_TIERS
        .iter()
        .copied()
        .find(|t| *t >= delay)
        .unwrap_or(RETRY_TIERS[RETRY_TIERS.len() - 1])
}

/// A tier's name part: `1s`, `5s`, `30s`, `2m`, `10m`, `1h`.
pub fn tier_label(tier: Duration) -> String {
    humantime::format_duration(tier).to_string()
}

/// AMQP names are short strings: at most 255 bytes.
const MAX_NAME: usize = 255;

/// The names of exchanges and queues under one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    prefix: String,
}

impl Names {
    pub fn new(prefix: &str) -> Self {
        Names {
            prefix: prefix.to_string(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn work_exchange(&self) -> String {
        format!("{}.work", self.prefix)
    }

    pub fn dead_exchange(&self) -> String {
        format!("{}.dead", self.prefix)
    }

    pub fn work_queue(&self, connector: &str) -> String {
        format!("{}.q.{connector}", self.prefix)
    }

    pub fn dead_queue(&self, connector: &str) -> String {
        format!("{}.dead.{connector}", self.prefix)
    }

    /// Exchange and queue of a retry tier share this name.
    pub fn retry(&self, tier: Duration) -> String {
        format!("{}.retry.{}", self.prefix, tier_label(tier))
    }

    /// Checks that the prefix and a connector id make valid AMQP names.
    pub fn check(&self, connector: &str) -> Result<(), String> {
        if self.prefix.is_empty() {
            return Err("storage.rabbitmq.prefix is empty; leave it out for `amtsbote`".into());
        }
        if connector.is_empty() {
            return Err("a connector id is empty".into());
        }
        let longest = self.dead_queue(connector);
        if longest.len() > MAX_NAME || connector.len() > MAX_NAME {
            return Err(format!(
                "queue name `{longest}` is longer than RabbitMQ allows (255 bytes); shorten the connector id or storage.rabbitmq.prefix"
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeType {
    Direct,
    Fanout,
}

impl ExchangeType {
    fn as_str(self) -> &'static str {
        match self {
            ExchangeType::Direct => "direct",
            ExchangeType::Fanout => "fanout",
        }
    }
}

/// A queue argument value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    Str(String),
    Int(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeSpec {
    pub name: String,
    pub kind: ExchangeType,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    pub name: String,
    pub arguments: Vec<(&'static str, Arg)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingSpec {
    pub exchange: String,
    pub queue: String,
    pub routing_key: String,
}

/// A set of exchanges, queues and bindings; everything is durable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Topology {
    pub exchanges: Vec<ExchangeSpec>,
    pub queues: Vec<QueueSpec>,
    pub bindings: Vec<BindingSpec>,
}

fn quorum() -> (&'static str, Arg) {
    ("x-queue-type", Arg::Str("quorum".into()))
}

impl Topology {
    /// What all connectors share: the work and dead-letter exchanges and the retry tiers.
    pub fn shared(names: &Names) -> Topology {
        let mut t = Topology::default();
        t.exchanges.push(ExchangeSpec {
            name: names.work_exchange(),
            kind: ExchangeType::Direct,
        });
        t.exchanges.push(ExchangeSpec {
            name: names.dead_exchange(),
            kind: ExchangeType::Direct,
        });
        for tier in RETRY_TIERS {
            let name = names.retry(tier);
            t.exchanges.push(ExchangeSpec {
                name: name.clone(),
                kind: ExchangeType::Fanout,
            });
            t.queues.push(QueueSpec {
                name: name.clone(),
                arguments: vec![
                    quorum(),
                    ("x-message-ttl", Arg::Int(tier.as_millis() as i64)),
                    ("x-dead-letter-exchange", Arg::Str(names.work_exchange())),
                ],
            });
            t.bindings.push(BindingSpec {
                exchange: name.clone(),
                queue: name,
                routing_key: String::new(),
            });
        }
        t
    }

    /// One connector's work and dead-letter queues.
    pub fn connector(names: &Names, connector: &str) -> Topology {
        let mut t = Topology::default();
        t.queues.push(QueueSpec {
            name: names.work_queue(connector),
            arguments: vec![
                quorum(),
                ("x-dead-letter-exchange", Arg::Str(names.dead_exchange())),
            ],
        });
        t.bindings.push(BindingSpec {
            exchange: names.work_exchange(),
            queue: names.work_queue(connector),
            routing_key: connector.to_string(),
        });
        t.queues.push(QueueSpec {
            name: names.dead_queue(connector),
            arguments: vec![quorum()],
        });
        t.bindings.push(BindingSpec {
            exchange: names.dead_exchange(),
            queue: names.dead_queue(connector),
            routing_key: connector.to_string(),
        });
        t
    }

    /// The shared part and every connector's queues.
    pub fn full<S: AsRef<str>>(names: &Names, connectors: &[S]) -> Topology {
        let mut t = Topology::shared(names);
        for c in connectors {
            t.extend(Topology::connector(names, c.as_ref()));
        }
        t
    }

    pub fn extend(&mut self, other: Topology) {
        self.exchanges.extend(other.exchanges);
        self.queues.extend(other.queues);
        self.bindings.extend(other.bindings);
    }

    /// The topology as RabbitMQ definitions (the format of `rabbitmqctl import_definitions`
    /// and the management UI), for the virtual host `vhost`.
    pub fn definitions(&self, vhost: &str) -> Value {
        let arg = |a: &Arg| match a {
            Arg::Str(s) => json!(s),
            Arg::Int(i) => json!(i),
        };
        json!({
            "exchanges": self.exchanges.iter().map(|e| json!({
                "name": e.name,
                "vhost": vhost,
                "type": e.kind.as_str(),
                "durable": true,
                "auto_delete": false,
                "internal": false,
                "arguments": {},
            })).collect::<Vec<_>>(),
            "queues": self.queues.iter().map(|q| json!({
                "name": q.name,
                "vhost": vhost,
                "durable": true,
                "auto_delete": false,
                "arguments": q.arguments.iter()
                    .map(|(k, v)| (k.to_string(), arg(v)))
                    .collect::<serde_json::Map<_, _>>(),
            })).collect::<Vec<_>>(),
            "bindings": self.bindings.iter().map(|b| json!({
                "source": b.exchange,
                "vhost": vhost,
                "destination": b.queue,
                "destination_type": "queue",
                "routing_key": b.routing_key,
                "arguments": {},
            })).collect::<Vec<_>>(),
        })
    }

    /// Declares everything (idempotent while the existing objects have the same settings).
    /// A failure closes `channel`; the error names the object and what to do.
    pub async fn declare(&self, channel: &Channel) -> Result<(), String> {
        let hint = "if it exists with other settings (e.g. as a classic queue), delete it or choose another storage.rabbitmq.prefix";
        for e in &self.exchanges {
            let kind = match e.kind {
                ExchangeType::Direct => ExchangeKind::Direct,
                ExchangeType::Fanout => ExchangeKind::Fanout,
            };
            let options = ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            };
            channel
                .exchange_declare(e.name.as_str().into(), kind, options, FieldTable::default())
                .await
                .map_err(|err| format!("cannot declare exchange {}: {err}; {hint}", e.name))?;
        }
        for q in &self.queues {
            let mut args = FieldTable::default();
            for (k, v) in &q.arguments {
                // Integers as AMQP `long` (64 bit), as RabbitMQ stores JSON numbers from
                // definitions: a different integer type would make redeclaring fail.
                let v = match v {
                    Arg::Str(s) => AMQPValue::LongString(s.as_str().into()),
                    Arg::Int(i) => AMQPValue::LongLongInt(*i),
                };
                args.insert((*k).into(), v);
            }
            let options = QueueDeclareOptions {
                durable: true,
                ..Default::default()
            };
            channel
                .queue_declare(q.name.as_str().into(), options, args)
                .await
                .map_err(|err| format!("cannot declare queue {}: {err}; {hint}", q.name))?;
        }
        for b in &self.bindings {
            channel
                .queue_bind(
                    b.queue.as_str().into(),
                    b.exchange.as_str().into(),
                    b.routing_key.as_str().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .map_err(|err| {
                    format!(
                        "cannot bind queue {} to exchange {}: {err}",
                        b.queue, b.exchange
                    )
                })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_in_the_smallest_sufficient_tier() {
        let s = Duration::from_secs;
        assert_eq!(retry_tier(Duration::ZERO), s(1));
        assert_eq!(retry_tier(Duration::from_millis(700)), s(1));
        assert_eq!(retry_tier(s(1)), s(1));
        assert_eq!(retry_tier(Duration::from_millis(1001)), s(5));
        assert_eq!(retry_tier(s(90)), s(120));
        assert_eq!(retry_tier(s(3600)), s(3600));
        assert_eq!(retry_tier(s(86_400)), s(3600), "capped at the longest tier");
        let labels: Vec<String> = RETRY_TIERS.iter().map(|t| tier_label(*t)).collect();
        assert_eq!(labels, ["1s", "5s", "30s", "2m", "10m", "1h"]);
    }

    #[test]
    fn names_follow_the_prefix() {
        let n = Names::new("amtsbote");
        assert_eq!(n.work_exchange(), "amtsbote.work");
        assert_eq!(
            n.work_queue("gewerberegister"),
            "amtsbote.q.gewerberegister"
        );
        assert_eq!(
            n.dead_queue("gewerberegister"),
            "amtsbote.dead.gewerberegister"
        );
        assert_eq!(n.retry(Duration::from_secs(120)), "amtsbote.retry.2m");
        assert!(n.check("gewerberegister").is_ok());
        assert!(n.check(&"x".repeat(250)).unwrap_err().contains("255"));
        assert!(Names::new("").check("c").is_err());
    }

    /// `deploy/rabbitmq/definitions.json` is what the code declares for the example connector.
    /// After a topology change, regenerate it with `AMTSBOTE_BLESS=1 cargo test definitions`.
    #[test]
    fn shipped_definitions_match_the_code() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/deploy/rabbitmq/definitions.json"
        );
        let expected =
            Topology::full(&Names::new("amtsbote"), &["gewerberegister"]).definitions("/");
        if std::env::var_os("AMTSBOTE_BLESS").is_some() {
            let text = serde_json::to_string_pretty(&expected).unwrap() + "\n";
            std::fs::write(path, text).unwrap();
        }
        let shipped: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(
            shipped, expected,
            "{path} is out of date; regenerate it with AMTSBOTE_BLESS=1 cargo test definitions"
        );
    }
}
