//! Routing: which connector a message goes to, decided by ordered, declarative rules.
//!
//! A tenant's own routes are tried first, in file order, then the global routes. The first
//! rule whose every given field matches wins. No match is not an error here: intake records
//! the message as `unrouted`, where it stays (listed, alert-worthy) until an operator adds a
//! route and replays it. Nothing is dropped.

use crate::config::{Config, ConfigError, RouteConfig, TestMessages, UnknownSchema};
use crate::message::XoevHeader;
use std::collections::{BTreeMap, BTreeSet};

/// A `*`/`?` wildcard pattern, compared ASCII case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern(String);

impl Pattern {
    pub fn new(p: &str) -> Pattern {
        Pattern(p.to_ascii_lowercase())
    }

    pub fn matches(&self, value: &str) -> bool {
        wildcard(self.0.as_bytes(), value.as_bytes())
    }
}

/// Iterative wildcard match with single-star backtracking: linear in practice, no recursion.
/// `p` is lower case already; `v` is compared as if it were (without allocating: routing runs
/// for every message, over many rules).
fn wildcard(p: &[u8], v: &[u8]) -> bool {
    let (mut pi, mut vi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == v[vi].to_ascii_lowercase()) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, vi));
            pi += 1;
        } else if let Some((sp, sv)) = star {
            pi = sp + 1;
            vi = sv + 1;
            star = Some((sp, sv + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == b'*')
}

/// What a route is matched against.
#[derive(Debug, Clone, Copy)]
pub struct RouteInput<'a> {
    pub tenant: &'a str,
    pub source: &'a str,
    pub header: &'a XoevHeader,
    /// LeiKa Leistungsschlüssel, when the transport names one.
    pub service_key: Option<&'a str>,
    /// The transport's destination (FIT-Connect destination id, XTA reader mailbox).
    pub destination: Option<&'a str>,
    /// The document is JSON: it has no XÖV standard and routes as standard `json`.
    pub json: bool,
}

/// The route a message took, with its policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch {
    pub route: String,
    pub connector: String,
    /// Validate XML against its schema pack.
    pub validate: bool,
    /// What to do when no schema pack knows the message.
    pub unknown_schema: UnknownSchema,
    /// Mapping id to apply before delivery.
    pub mapping: Option<String>,
}

#[derive(Debug, Clone)]
struct Rule {
    name: String,
    tenant: Option<Pattern>,
    source: Option<Pattern>,
    standard: Option<Pattern>,
    version: Option<Pattern>,
    message_type: Option<Pattern>,
    service_key: Option<Pattern>,
    destination: Option<Pattern>,
    reader: Option<Pattern>,
    author: Option<Pattern>,
    xta_service: Option<Pattern>,
    business_scenario: Option<Pattern>,
    test_messages: TestMessages,
    validate: bool,
    unknown_schema: UnknownSchema,
    mapping: Option<String>,
    connector: String,
}

fn field(p: &Option<Pattern>, value: Option<&str>) -> bool {
    match (p, value) {
        (None, _) => true,
        (Some(p), Some(v)) => p.matches(v),
        (Some(_), None) => false,
    }
}

/// A field known from two places (the XÖV header and the XTA transport order): the pattern
/// matches if either value does.
fn either(p: &Option<Pattern>, first: Option<&str>, second: Option<&str>) -> bool {
    match p {
        None => true,
        Some(p) => first.is_some_and(|v| p.matches(v)) || second.is_some_and(|v| p.matches(v)),
    }
}

impl Rule {
    fn compile(r: &RouteConfig, default_name: String) -> Rule {
        let pat = |o: &Option<String>| o.as_deref().map(Pattern::new);
        Rule {
            name: r.name.clone().unwrap_or(default_name),
            tenant: pat(&r.tenant),
            source: pat(&r.source),
            standard: pat(&r.standard),
            version: pat(&r.version),
            message_type: pat(&r.message_type),
            service_key: pat(&r.service_key),
            destination: pat(&r.destination),
            reader: pat(&r.reader),
            author: pat(&r.author),
            xta_service: pat(&r.xta_service),
            business_scenario: pat(&r.business_scenario),
            test_messages: r.test_messages,
            validate: r.validate,
            unknown_schema: r.unknown_schema,
            mapping: r.mapping.clone(),
            connector: r.connector.clone(),
        }
    }

    fn matches(&self, m: &RouteInput<'_>) -> bool {
        let h = m.header;
        let message_type = match &self.message_type {
            None => true,
            Some(p) => {
                h.root.as_deref().is_some_and(|r| p.matches(r))
                    || h.message_type.as_deref().is_some_and(|c| p.matches(c))
            }
        };
        let xta = h.xta.as_ref();
        let test = match self.test_messages {
            TestMessages::Exclude => !h.test,
            TestMessages::Include => true,
            TestMessages::Only => h.test,
        };
        test && field(&self.tenant, Some(m.tenant))
            && field(&self.source, Some(m.source))
            && field(
                &self.standard,
                h.standard.as_deref().or(m.json.then_some("json")),
            )
            && field(&self.version, h.version.as_deref())
            && message_type
            && field(&self.service_key, m.service_key)
            && field(&self.destination, m.destination)
            && either(
                &self.reader,
                h.reader.as_deref(),
                xta.map(|x| x.reader.as_str()),
            )
            && either(
                &self.author,
                h.author.as_deref(),
                xta.map(|x| x.author.as_str()),
            )
            && field(&self.xta_service, xta.map(|x| x.service.as_str()))
            && field(
                &self.business_scenario,
                xta.map(|x| x.business_scenario.as_str()),
            )
    }
}

fn check_mapping(config: &Config, r: &RouteConfig, key: &str, errors: &mut Vec<ConfigError>) {
    if let Some(m) = &r.mapping
        && !config.mappings.contains_key(m)
    {
        errors.push(ConfigError::new(
            None,
            Some(format!("{key}.mapping")),
            format!("no mapping `{m}` (declare it under [mappings.{m}])"),
        ));
    }
}

/// The compiled routing table.
#[derive(Debug, Clone, Default)]
pub struct Router {
    tenants: BTreeMap<String, Vec<Rule>>,
    global: Vec<Rule>,
}

impl Router {
    /// Compiles the routes and checks that each names a connector it may use: global routes
    /// global connectors, tenant routes global ones or the tenant's own.
    pub fn compile(config: &Config) -> Result<Router, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let global_connectors: BTreeSet<&str> =
            config.connectors.keys().map(String::as_str).collect();
        let mut router = Router::default();
        for (i, r) in config.routes.iter().enumerate() {
            let key = format!("routes[{i}].connector");
            if !global_connectors.contains(r.connector.as_str()) {
                errors.push(ConfigError::new(
                    None,
                    Some(key),
                    format!(
                        "no global connector `{}` (global routes can only use [connectors.*])",
                        r.connector
                    ),
                ));
            }
            check_mapping(config, r, &format!("routes[{i}]"), &mut errors);
            router
                .global
                .push(Rule::compile(r, format!("route-{}", i + 1)));
        }
        for (tenant, t) in &config.tenants {
            let mut rules = Vec::new();
            for (i, r) in t.routes.iter().enumerate() {
                let key = format!("tenants.{tenant}.routes[{i}]");
                if r.tenant.is_some() {
                    errors.push(ConfigError::new(
                        None,
                        Some(format!("{key}.tenant")),
                        "a tenant's own route cannot match on tenant",
                    ));
                }
                if !global_connectors.contains(r.connector.as_str())
                    && !t.connectors.contains_key(&r.connector)
                {
                    errors.push(ConfigError::new(
                        None,
                        Some(format!("{key}.connector")),
                        format!("no connector `{}` for tenant `{tenant}`", r.connector),
                    ));
                }
                check_mapping(config, r, &key, &mut errors);
                rules.push(Rule::compile(r, format!("{tenant}/route-{}", i + 1)));
            }
            router.tenants.insert(tenant.clone(), rules);
        }
        if errors.is_empty() {
            Ok(router)
        } else {
            Err(errors)
        }
    }

    pub fn route(&self, input: &RouteInput<'_>) -> Option<RouteMatch> {
        let own = self.tenants.get(input.tenant).into_iter().flatten();
        own.chain(self.global.iter())
            .find(|r| r.matches(input))
            .map(|r| RouteMatch {
                route: r.name.clone(),
                connector: r.connector.clone(),
                validate: r.validate,
                unknown_schema: r.unknown_schema,
                mapping: r.mapping.clone(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConnectorConfig, TenantConfig};

    #[test]
    fn wildcards() {
        assert!(Pattern::new("*.gewerbemeldung.0500").matches("abh.gewerbemeldung.0500"));
        assert!(Pattern::new("xgewerbe*").matches("XGewerbeanzeige"));
        assert!(Pattern::new("2.?").matches("2.2"));
        assert!(!Pattern::new("2.?").matches("2.10"));
        assert!(Pattern::new("*").matches(""));
        assert!(Pattern::new("a*b*c").matches("aXXbYYc"));
        assert!(!Pattern::new("a*b*c").matches("aXXbYY"));
        assert!(Pattern::new("psw:11*").matches("psw:11113110"));
    }

    fn file_connector() -> ConnectorConfig {
        ConnectorConfig::File {
            directory: "x".into(),
            concurrency: 1,
            retry: Default::default(),
        }
    }

    fn route(connector: &str) -> RouteConfig {
        RouteConfig {
            connector: connector.into(),
            ..Default::default()
        }
    }

    fn config() -> Config {
        let mut c = Config::default();
        for id in ["gewerbe", "dms", "fallback"] {
            c.connectors.insert(id.into(), file_connector());
        }
        let mut t = TenantConfig {
            name: "Musterstadt".into(),
            ..Default::default()
        };
        t.connectors.insert("own".into(), file_connector());
        t.routes.push(RouteConfig {
            name: Some("own-xdomea".into()),
            standard: Some("xdomea".into()),
            ..route("own")
        });
        c.tenants.insert("musterstadt".into(), t);
        c.tenants.insert(
            "beispielheim".into(),
            TenantConfig {
                name: "B".into(),
                ..Default::default()
            },
        );
        c.routes.push(RouteConfig {
            name: Some("gewerbe".into()),
            standard: Some("xgewerbeanzeige".into()),
            message_type: Some("*.gewerbemeldung.0500".into()),
            ..route("gewerbe")
        });
        c.routes.push(RouteConfig {
            name: Some("dms".into()),
            standard: Some("xdomea".into()),
            ..route("dms")
        });
        c.routes.push(RouteConfig {
            name: Some("psw-readers".into()),
            reader: Some("psw:*".into()),
            ..route("fallback")
        });
        c
    }

    fn header(standard: &str, root: &str, code: &str) -> XoevHeader {
        XoevHeader {
            standard: Some(standard.into()),
            root: Some(root.into()),
            message_type: Some(code.into()),
            ..Default::default()
        }
    }

    fn input<'a>(tenant: &'a str, h: &'a XoevHeader) -> RouteInput<'a> {
        RouteInput {
            tenant,
            source: "formserver",
            header: h,
            service_key: None,
            destination: None,
            json: false,
        }
    }

    #[test]
    fn tenant_routes_win_over_global_ones_and_first_match_wins() {
        let r = Router::compile(&config()).unwrap();
        let xdomea = header("xdomea", "Aussonderung.Aussonderung.0503", "0503");
        assert_eq!(
            r.route(&input("musterstadt", &xdomea)).unwrap().route,
            "own-xdomea"
        );
        assert_eq!(
            r.route(&input("beispielheim", &xdomea)).unwrap().route,
            "dms"
        );
        let gewerbe = header("xgewerbeanzeige", "abh.gewerbemeldung.0500", "0500");
        assert_eq!(
            r.route(&input("beispielheim", &gewerbe)).unwrap().connector,
            "gewerbe"
        );
        let other = header("xgewerbeanzeige", "abh.gewerbemeldung.0501", "0501");
        assert_eq!(r.route(&input("beispielheim", &other)), None, "unrouted");
        let mut with_reader = other.clone();
        with_reader.reader = Some("psw:11113110".into());
        assert_eq!(
            r.route(&input("beispielheim", &with_reader)).unwrap().route,
            "psw-readers"
        );
    }

    #[test]
    fn test_messages_need_a_route_that_takes_them() {
        let mut c = config();
        let mut h = header("xgewerbeanzeige", "abh.gewerbemeldung.0500", "0500");
        h.test = true;
        let r = Router::compile(&c).unwrap();
        assert_eq!(
            r.route(&input("beispielheim", &h)),
            None,
            "excluded by default"
        );
        c.routes.insert(
            0,
            RouteConfig {
                name: Some("test-instance".into()),
                test_messages: TestMessages::Only,
                ..route("fallback")
            },
        );
        c.routes[1].test_messages = TestMessages::Include;
        let r = Router::compile(&c).unwrap();
        assert_eq!(
            r.route(&input("beispielheim", &h)).unwrap().route,
            "test-instance"
        );
        h.test = false;
        assert_eq!(
            r.route(&input("beispielheim", &h)).unwrap().route,
            "gewerbe",
            "`only` skips production messages"
        );
    }

    #[test]
    fn message_type_matches_code_too() {
        let mut c = config();
        c.routes.insert(
            0,
            RouteConfig {
                message_type: Some("2010".into()),
                ..route("dms")
            },
        );
        let r = Router::compile(&c).unwrap();
        let h = header("xwasser", "vorgang.transportieren.2010", "2010");
        assert_eq!(
            r.route(&input("beispielheim", &h)).unwrap().route,
            "route-1"
        );
    }

    #[test]
    fn a_given_field_does_not_match_a_missing_value() {
        let r = Router::compile(&config()).unwrap();
        let json = XoevHeader::default();
        assert_eq!(r.route(&input("beispielheim", &json)), None);
        let mut c = config();
        c.routes.push(RouteConfig {
            standard: Some("json".into()),
            ..route("dms")
        });
        let r = Router::compile(&c).unwrap();
        let i = RouteInput {
            json: true,
            ..input("beispielheim", &json)
        };
        assert_eq!(r.route(&i).unwrap().connector, "dms");
    }

    #[test]
    fn routes_must_name_reachable_connectors() {
        let mut c = config();
        c.routes.push(route("own")); // a tenant's connector is not global
        c.tenants
            .get_mut("beispielheim")
            .unwrap()
            .routes
            .push(route("nope"));
        let errs = Router::compile(&c).unwrap_err();
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs.iter().any(|e| e.reason.contains("`own`")));
        assert!(
            errs.iter()
                .any(|e| e.key.as_deref() == Some("tenants.beispielheim.routes[0].connector"))
        );
    }
}
