//! Authentication failures at the public edge (HTTP intake, FIT-Connect callbacks), logged
//! so that anyone on the internet cannot flood the log by sending requests without a token.
//!
//! The first failure of a client (its address, see `amtsbote_listener::RemoteAddr`) is
//! logged at once — that is the line an operator needs when a new sender is misconfigured.
//! Further failures of that client are only counted, and one summary line per client and
//! [`SUMMARY_INTERVAL`] says how many there were and of which kind. A client quiet for a
//! whole interval starts afresh. At most [`MAX_CLIENTS`] clients are tracked at once; failures
//! from further clients are summarised together as "other clients". Every failure is still
//! counted in the metrics (`amtsbote_intake_refused_total`, `amtsbote_fit_connect_callbacks_total`).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How often a client that keeps failing gets a summary line, by default
/// (`log.auth_failure_summary`).
pub const SUMMARY_INTERVAL: Duration = Duration::from_secs(60);

/// The number of clients tracked one by one; beyond it failures are summarised together.
pub const MAX_CLIENTS: usize = 4096;

/// Where a failure happened: the endpoint, named in the log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    Intake,
    FitConnectCallback,
    /// The admin API and the console.
    Admin,
}

impl Endpoint {
    fn name(self) -> &'static str {
        match self {
            Endpoint::Intake => "intake",
            Endpoint::FitConnectCallback => "FIT-Connect callback",
            Endpoint::Admin => "admin API",
        }
    }
}

/// What the log should say about one failure.
#[derive(Debug, PartialEq, Eq)]
pub enum Report {
    /// The client's first failure (in a while): log it with its details.
    First,
    /// Counted; a summary follows.
    Counted,
    /// The interval is over: log a summary of `failures` (this one included) by kind.
    Summary {
        failures: u64,
        kinds: BTreeMap<&'static str, u64>,
    },
}

/// One client's failures since the last line about it.
#[derive(Debug)]
struct Window {
    since: Instant,
    failures: u64,
    kinds: BTreeMap<&'static str, u64>,
}

impl Window {
    fn new(now: Instant) -> Window {
        Window {
            since: now,
            failures: 0,
            kinds: BTreeMap::new(),
        }
    }

    fn count(&mut self, kind: &'static str) {
        self.failures += 1;
        *self.kinds.entry(kind).or_default() += 1;
    }

    /// Closes the window with a summary and opens the next one.
    fn summarise(&mut self, now: Instant) -> Report {
        let report = Report::Summary {
            failures: self.failures,
            kinds: std::mem::take(&mut self.kinds),
        };
        *self = Window::new(now);
        report
    }
}

/// The key a failure is counted under: the client, or `None` for "other clients".
type Key = (Endpoint, Option<IpAddr>);

/// Failure counts per client; see the module documentation.
#[derive(Debug)]
pub struct AuthFailures {
    interval: Duration,
    max_clients: usize,
    windows: Mutex<HashMap<Key, Window>>,
}

impl AuthFailures {
    pub fn new(interval: Duration, max_clients: usize) -> AuthFailures {
        AuthFailures {
            interval,
            max_clients,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Records a failure of `client` (`None`: address unknown) of `kind` at `now`.
    pub fn record(
        &self,
        endpoint: Endpoint,
        client: Option<IpAddr>,
        kind: &'static str,
        now: Instant,
    ) -> (Option<IpAddr>, Report) {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let tracked = windows.contains_key(&(endpoint, client));
        let client = if tracked || windows.len() < self.max_clients {
            client
        } else {
            None
        };
        let report = match windows.get_mut(&(endpoint, client)) {
            None if client.is_some() => {
                windows.insert((endpoint, client), Window::new(now));
                Report::First
            }
            None => {
                let mut w = Window::new(now);
                w.count(kind);
                windows.insert((endpoint, None), w);
                Report::Counted
            }
            Some(w) => {
                w.count(kind);
                if now.duration_since(w.since) >= self.interval {
                    w.summarise(now)
                } else {
                    Report::Counted
                }
            }
        };
        (client, report)
    }

    /// Summaries of every window whose interval is over and that counted failures; windows
    /// without failures are forgotten (the client's next failure is logged as a first one).
    pub fn due(&self, now: Instant) -> Vec<(Endpoint, Option<IpAddr>, Report)> {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let mut due = Vec::new();
        windows.retain(|&(endpoint, client), w| {
            if now.duration_since(w.since) < self.interval {
                return true;
            }
            if w.failures == 0 {
                return false;
            }
            due.push((endpoint, client, w.summarise(now)));
            true
        });
        due.sort_by_key(|(endpoint, client, _)| (*endpoint, *client));
        due
    }
}

static FAILURES: OnceLock<AuthFailures> = OnceLock::new();

/// Sets the summary interval of this process (`log.auth_failure_summary`); the first call
/// wins, as the log subscriber's does.
pub fn init(interval: Duration) {
    let _ = FAILURES.set(AuthFailures::new(interval, MAX_CLIENTS));
}

fn global() -> &'static AuthFailures {
    FAILURES.get_or_init(|| AuthFailures::new(SUMMARY_INTERVAL, MAX_CLIENTS))
}

/// The summary interval in force.
pub fn interval() -> Duration {
    global().interval
}

/// Logs an authentication failure as described in the module documentation. `detail` is the
/// broker's own description of the failure and `tenant` is already made log-safe.
pub fn log_failure(
    endpoint: Endpoint,
    client: Option<IpAddr>,
    tenant: &str,
    kind: &'static str,
    detail: &str,
) {
    let (client, report) = global().record(endpoint, client, kind, Instant::now());
    log(endpoint, client, report, Some((tenant, detail)));
}

/// Writes the summaries that are due; called periodically by the broker's maintenance.
pub fn log_due_summaries() {
    for (endpoint, client, report) in global().due(Instant::now()) {
        log(endpoint, client, report, None);
    }
}

fn log(endpoint: Endpoint, client: Option<IpAddr>, report: Report, first: Option<(&str, &str)>) {
    let client = client.map_or_else(|| "other clients".to_string(), |ip| ip.to_string());
    let endpoint = endpoint.name();
    let every = humantime::format_duration(global().interval);
    match report {
        Report::First => {
            let (tenant, detail) = first.unwrap_or(("-", "-"));
            tracing::warn!(
                endpoint,
                client,
                tenant,
                detail,
                "authentication failed; further failures from this client are summarised every {every}"
            );
        }
        Report::Counted => {}
        Report::Summary { failures, kinds } => {
            let kinds = kinds
                .iter()
                .map(|(kind, n)| format!("{kind}: {n}"))
                .collect::<Vec<_>>()
                .join(", ");
            tracing::warn!(
                endpoint,
                client,
                failures,
                kinds,
                "authentication failed repeatedly (summary of up to {every})"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIND: &str = "unknown token";

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([192, 0, 2, last]))
    }

    #[test]
    fn first_failure_is_reported_then_counted_then_summarised_once_per_interval() {
        let log = AuthFailures::new(Duration::from_secs(60), 10);
        let t0 = Instant::now();
        let e = Endpoint::Intake;
        assert_eq!(log.record(e, ip(1), KIND, t0).1, Report::First);
        for s in 1..=1000 {
            let at = t0 + Duration::from_millis(s * 50);
            assert_eq!(log.record(e, ip(1), "no token", at).1, Report::Counted);
        }
        assert!(log.due(t0 + Duration::from_secs(59)).is_empty());
        let due = log.due(t0 + Duration::from_secs(60));
        assert_eq!(due.len(), 1);
        assert_eq!(
            due[0].2,
            Report::Summary {
                failures: 1000,
                kinds: BTreeMap::from([("no token", 1000)])
            }
        );
        // Quiet for an interval: forgotten, the next failure is a first one again.
        assert!(log.due(t0 + Duration::from_secs(121)).is_empty());
        let later = t0 + Duration::from_secs(200);
        assert_eq!(log.record(e, ip(1), KIND, later).1, Report::First);
    }

    #[test]
    fn a_steady_stream_gets_a_summary_when_its_interval_ends_even_without_maintenance() {
        let log = AuthFailures::new(Duration::from_secs(60), 10);
        let t0 = Instant::now();
        let e = Endpoint::FitConnectCallback;
        log.record(e, ip(1), KIND, t0);
        let mut summaries = 0;
        for s in 1..=600 {
            let at = t0 + Duration::from_secs(s);
            if let Report::Summary { .. } = log.record(e, ip(1), KIND, at).1 {
                summaries += 1;
            }
        }
        assert_eq!(summaries, 10);
    }

    #[test]
    fn clients_beyond_the_bound_are_summarised_together() {
        let log = AuthFailures::new(Duration::from_secs(60), 3);
        let t0 = Instant::now();
        let e = Endpoint::Intake;
        for last in 1..=3 {
            assert_eq!(log.record(e, ip(last), KIND, t0), (ip(last), Report::First));
        }
        for last in 4..=200 {
            assert_eq!(log.record(e, ip(last), KIND, t0), (None, Report::Counted));
        }
        // A tracked client stays tracked.
        assert_eq!(log.record(e, ip(2), KIND, t0), (ip(2), Report::Counted));
        let due = log.due(t0 + Duration::from_secs(60));
        let others = due.iter().find(|(_, c, _)| c.is_none()).unwrap();
        assert_eq!(
            others.2,
            Report::Summary {
                failures: 197,
                kinds: BTreeMap::from([(KIND, 197)])
            }
        );
        // The map never grows beyond the bound (+ the "other clients" window).
        assert!(log.windows.lock().unwrap().len() <= 4);
    }

    #[test]
    fn endpoints_are_counted_apart() {
        let log = AuthFailures::new(Duration::from_secs(60), 10);
        let t0 = Instant::now();
        assert_eq!(
            log.record(Endpoint::Intake, ip(1), KIND, t0).1,
            Report::First
        );
        assert_eq!(
            log.record(Endpoint::FitConnectCallback, ip(1), KIND, t0).1,
            Report::First
        );
    }
}
