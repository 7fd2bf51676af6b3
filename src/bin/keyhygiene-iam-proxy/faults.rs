//! What happens to each request: the scenario's settings and the decisions made from them.
//!
//! Random choices come from a seeded generator keyed by the request itself (its action and
//! parameters) and by how many times that same request was seen before. So the same crawl
//! against the same seed meets the same faults on the same calls, whatever order its
//! concurrent requests arrive in. Throttling is the one thing that depends on timing, as it
//! does in IAM.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The kinds of random transient fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum FaultKind {
    /// HTTP 500 with IAM's `ServiceFailure` error.
    ServiceFailure,
    /// The connection is reset (TCP RST) instead of answered.
    Reset,
    /// The answer is held back for `--slow-ms`, longer than the client's attempt timeout.
    Slow,
    /// The answer's headers come at once and its body trickles in, a byte a second.
    SlowBody,
}

/// A per-action override of the token bucket: `ACTION=RATE[/BURST]`.
#[derive(Clone, Debug)]
pub struct ActionLimit {
    pub action: String,
    pub limit: Limit,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limit {
    /// Tokens added per second.
    pub rate: f64,
    /// Bucket size: requests that may arrive at once after a quiet spell.
    pub burst: f64,
}

impl FromStr for ActionLimit {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let usage = "expected ACTION=RATE or ACTION=RATE/BURST, e.g. ListAccessKeys=20/20";
        let (action, limit) = text.split_once('=').ok_or(usage)?;
        let (rate, burst) = match limit.split_once('/') {
            Some((rate, burst)) => (rate, Some(burst)),
            None => (limit, None),
        };
        let rate: f64 = rate.parse().map_err(|_| usage)?;
        let burst: f64 = match burst {
            Some(b) => b.parse().map_err(|_| usage)?,
            None => rate.max(1.0),
        };
        if action.is_empty() || rate <= 0.0 || burst < 1.0 {
            return Err(usage.into());
        }
        Ok(ActionLimit {
            action: action.to_string(),
            limit: Limit { rate, burst },
        })
    }
}

/// The requests a persistent fault applies to (`--deny`, `--fail`): `ACTION` or
/// `ACTION:PARAM=VALUE`. The action ends at the first `:` and the parameter's name at the
/// first `=`, so a value may hold both, as an ARN does:
/// `AssumeRole:RoleArn=arn:aws:iam::111111111111:role/auditor`.
#[derive(Clone, Debug)]
pub struct DenyRule {
    pub action: String,
    pub param: Option<(String, String)>,
}

impl FromStr for DenyRule {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let usage = "expected ACTION or ACTION:PARAM=VALUE, e.g. ListAccessKeys:UserName=bob";
        let (action, param) = match text.split_once(':') {
            Some((action, cond)) => {
                let (k, v) = cond.split_once('=').ok_or(usage)?;
                if k.is_empty() {
                    return Err(usage.into());
                }
                (action, Some((k.to_string(), v.to_string())))
            }
            None => (text, None),
        };
        if action.is_empty() {
            return Err(usage.into());
        }
        Ok(DenyRule {
            action: action.to_string(),
            param,
        })
    }
}

impl std::fmt::Display for DenyRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.param {
            Some((k, v)) => write!(f, "{}:{k}={v}", self.action),
            None => f.write_str(&self.action),
        }
    }
}

impl DenyRule {
    fn matches(&self, action: &str, form: &[(String, String)]) -> bool {
        self.action == action
            && self
                .param
                .as_ref()
                .is_none_or(|(k, v)| form.iter().any(|(fk, fv)| fk == k && fv == v))
    }
}

/// The scenario: everything the command line chose.
#[derive(Clone, Debug)]
pub struct Settings {
    pub latency: Duration,
    pub jitter: Duration,
    pub default_limit: Option<Limit>,
    pub action_limits: Vec<ActionLimit>,
    pub fault_rate: f64,
    pub fault_kinds: Vec<FaultKind>,
    pub slow: Duration,
    pub deny: Vec<DenyRule>,
    /// Requests that always meet HTTP 500 `ServiceFailure`.
    pub fail: Vec<DenyRule>,
    /// Requests answered with a well-formed, empty listing (an answer that leaves
    /// everything out).
    pub empty: Vec<DenyRule>,
    /// Requests whose answer is always held for `slow` (a persistent "slow" fault).
    pub hold: Vec<DenyRule>,
    /// Requests whose answer is held for `slow` the first time they are seen, and answered
    /// at once when they are sent again.
    pub hold_once: Vec<DenyRule>,
    /// Requests answered with a ValidationError that quotes a parameter's value, as STS
    /// quotes an external id it refuses.
    pub invalid: Vec<DenyRule>,
    /// One token bucket per action and access key id, instead of one per action: each
    /// account (one assumed-role session each) is throttled on its own, as AWS does.
    pub throttle_per_credential: bool,
    pub seed: u64,
}

/// What the proxy does with one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Forward,
    Throttle,
    Deny,
    Fault(FaultKind),
    /// A well-formed listing with nothing in it, instead of the endpoint's answer.
    Empty,
    /// A ValidationError quoting the request's parameter.
    Invalid,
}

#[derive(Debug)]
pub struct Decision {
    pub outcome: Outcome,
    /// How long after its arrival the answer may leave (latency plus jitter).
    pub delay: Duration,
    pub request_id: String,
}

struct Bucket {
    limit: Limit,
    tokens: f64,
    refilled: Instant,
}

impl Bucket {
    fn new(limit: Limit, now: Instant) -> Self {
        Bucket {
            limit,
            tokens: limit.burst,
            refilled: now,
        }
    }

    fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.limit.rate).min(self.limit.burst);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Decides the fate of each request.
pub struct Planner {
    settings: Settings,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    buckets: HashMap<String, Bucket>,
    /// How many times each distinct request was seen, for replayable random draws.
    seen: HashMap<u64, u64>,
}

impl Planner {
    pub fn new(settings: Settings) -> Self {
        Planner {
            settings,
            state: Mutex::new(State::default()),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Forgets buckets and seen requests, as if the proxy had just started.
    pub fn reset(&self) {
        *self.state.lock().expect("planner lock") = State::default();
    }

    /// The token bucket a request takes from: its action's, or with
    /// `throttle_per_credential` its action's for its access key id.
    fn bucket_key(&self, action: &str, credential: Option<&str>) -> String {
        match credential.filter(|_| self.settings.throttle_per_credential) {
            Some(key_id) => format!("{action} {key_id}"),
            None => action.to_string(),
        }
    }

    fn limit_for(&self, action: &str) -> Option<Limit> {
        self.settings
            .action_limits
            .iter()
            .find(|l| l.action == action)
            .map(|l| l.limit)
            .or(self.settings.default_limit)
    }

    /// Decides what happens to a request for `action` whose body is `body` and parameters
    /// `params`, signed with the access key id `credential`.
    pub fn decide(
        &self,
        action: &str,
        body: &[u8],
        params: &[(String, String)],
        credential: Option<&str>,
        now: Instant,
    ) -> Decision {
        let key = fnv1a(action.as_bytes()) ^ fnv1a(body).rotate_left(17);
        let (occurrence, allowed) = {
            let mut state = self.state.lock().expect("planner lock");
            let seen = state.seen.entry(key).or_insert(0);
            let occurrence = *seen;
            *seen += 1;
            let allowed = match self.limit_for(action) {
                Some(limit) => state
                    .buckets
                    .entry(self.bucket_key(action, credential))
                    .or_insert_with(|| Bucket::new(limit, now))
                    .take(now),
                None => true,
            };
            (occurrence, allowed)
        };
        let mut rng = SplitMix64::new(
            self.settings.seed ^ key ^ occurrence.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        let fault_draw = rng.next_f64();
        let kind_draw = rng.next_u64();
        let jitter_draw = rng.next_f64();
        let request_id = request_id(&mut rng);

        let outcome = if !allowed {
            Outcome::Throttle
        } else if self.settings.deny.iter().any(|r| r.matches(action, params)) {
            Outcome::Deny
        } else if self.settings.fail.iter().any(|r| r.matches(action, params)) {
            Outcome::Fault(FaultKind::ServiceFailure)
        } else if self
            .settings
            .empty
            .iter()
            .any(|r| r.matches(action, params))
        {
            Outcome::Empty
        } else if self
            .settings
            .invalid
            .iter()
            .any(|r| r.matches(action, params))
        {
            Outcome::Invalid
        } else if self.settings.hold.iter().any(|r| r.matches(action, params))
            || (occurrence == 0
                && self
                    .settings
                    .hold_once
                    .iter()
                    .any(|r| r.matches(action, params)))
        {
            Outcome::Fault(FaultKind::Slow)
        } else if fault_draw < self.settings.fault_rate && !self.settings.fault_kinds.is_empty() {
            let kinds = &self.settings.fault_kinds;
            Outcome::Fault(kinds[(kind_draw % kinds.len() as u64) as usize])
        } else {
            Outcome::Forward
        };
        let delay = self.settings.latency + self.settings.jitter.mul_f64(jitter_draw);
        Decision {
            outcome,
            delay,
            request_id,
        }
    }
}

/// A UUID-shaped request id.
fn request_id(rng: &mut SplitMix64) -> String {
    let a = rng.next_u64();
    let b = rng.next_u64();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        ((b >> 48) & 0x3fff) | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

/// Sebastiano Vigna's splitmix64: small, fast, and good enough for fault injection.
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The fields of an `application/x-www-form-urlencoded` body, decoded.
pub fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    body.split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let mut it = pair.splitn(2, |b| *b == b'=');
            let k = percent_decode(it.next().unwrap_or_default());
            let v = percent_decode(it.next().unwrap_or_default());
            (k, v)
        })
        .collect()
}

fn percent_decode(text: &[u8]) -> String {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'+' => out.push(b' '),
            b'%' => match text.get(i + 1..i + 3) {
                Some([hi, lo]) if hi.is_ascii_hexdigit() && lo.is_ascii_hexdigit() => {
                    let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
                    out.push(hex(*hi) * 16 + hex(*lo));
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Counters per action, and what the proxy did with each request.
#[derive(Default)]
pub struct Counters {
    actions: Mutex<BTreeMap<String, ActionCounters>>,
}

#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct ActionCounters {
    pub requests: u64,
    pub forwarded: u64,
    pub throttled: u64,
    pub denied: u64,
    pub service_failure: u64,
    pub reset: u64,
    pub slow: u64,
    pub slow_body: u64,
    pub emptied: u64,
}

impl Counters {
    pub fn record(&self, action: &str, outcome: Outcome) {
        let mut actions = self.actions.lock().expect("counters lock");
        let c = actions.entry(action.to_string()).or_default();
        c.requests += 1;
        match outcome {
            Outcome::Forward => c.forwarded += 1,
            Outcome::Throttle => c.throttled += 1,
            Outcome::Deny => c.denied += 1,
            Outcome::Fault(FaultKind::ServiceFailure) => c.service_failure += 1,
            Outcome::Fault(FaultKind::Reset) => c.reset += 1,
            Outcome::Fault(FaultKind::Slow) => c.slow += 1,
            Outcome::Fault(FaultKind::SlowBody) => c.slow_body += 1,
            Outcome::Empty => c.emptied += 1,
            Outcome::Invalid => c.denied += 1,
        }
    }

    pub fn reset(&self) {
        self.actions.lock().expect("counters lock").clear();
    }

    /// The counters as JSON: per action, and totals.
    pub fn to_json(&self, settings: &Settings) -> serde_json::Value {
        let actions = self.actions.lock().expect("counters lock").clone();
        let mut total = ActionCounters::default();
        for c in actions.values() {
            total.requests += c.requests;
            total.forwarded += c.forwarded;
            total.throttled += c.throttled;
            total.denied += c.denied;
            total.service_failure += c.service_failure;
            total.reset += c.reset;
            total.slow += c.slow;
            total.slow_body += c.slow_body;
            total.emptied += c.emptied;
        }
        let limits: BTreeMap<&str, serde_json::Value> = settings
            .action_limits
            .iter()
            .map(|l| {
                (
                    l.action.as_str(),
                    serde_json::json!({"rate": l.limit.rate, "burst": l.limit.burst}),
                )
            })
            .collect();
        serde_json::json!({
            "requests": total.requests,
            "forwarded": total.forwarded,
            "throttled": total.throttled,
            "denied": total.denied,
            "emptied": total.emptied,
            "faulted": total.service_failure + total.reset + total.slow + total.slow_body,
            "faults": {
                "service_failure": total.service_failure,
                "reset": total.reset,
                "slow": total.slow,
                "slow_body": total.slow_body,
            },
            "actions": actions,
            "settings": {
                "latency_ms": settings.latency.as_millis() as u64,
                "jitter_ms": settings.jitter.as_millis() as u64,
                "throttle": settings.default_limit.map(|l| serde_json::json!({"rate": l.rate, "burst": l.burst})),
                "throttle_overrides": limits,
                "fault_rate": settings.fault_rate,
                "slow_ms": settings.slow.as_millis() as u64,
                "deny": settings.deny.iter().map(DenyRule::to_string).collect::<Vec<_>>(),
                "fail": settings.fail.iter().map(DenyRule::to_string).collect::<Vec<_>>(),
                "empty": settings.empty.iter().map(DenyRule::to_string).collect::<Vec<_>>(),
                "hold": settings.hold.iter().map(DenyRule::to_string).collect::<Vec<_>>(),
                "hold_once": settings.hold_once.iter().map(DenyRule::to_string).collect::<Vec<_>>(),
                "invalid": settings.invalid.iter().map(DenyRule::to_string).collect::<Vec<_>>(),
                "throttle_per_credential": settings.throttle_per_credential,
                "seed": settings.seed,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            latency: Duration::from_millis(50),
            jitter: Duration::from_millis(10),
            default_limit: None,
            action_limits: Vec::new(),
            fault_rate: 0.0,
            fault_kinds: vec![FaultKind::ServiceFailure, FaultKind::Reset, FaultKind::Slow],
            slow: Duration::from_secs(11),
            deny: Vec::new(),
            fail: Vec::new(),
            empty: Vec::new(),
            hold: Vec::new(),
            hold_once: Vec::new(),
            invalid: Vec::new(),
            throttle_per_credential: false,
            seed: 7,
        }
    }

    #[test]
    fn form_bodies_decode() {
        let form = parse_form(b"Action=ListAccessKeys&Version=2010-05-08&UserName=a%2Bb+c%40x");
        assert_eq!(form[0], ("Action".into(), "ListAccessKeys".into()));
        assert_eq!(form[2], ("UserName".into(), "a+b c@x".into()));
        assert_eq!(parse_form(b"A=%zz&B=%4")[0].1, "%zz");
        assert_eq!(parse_form(b"A=%zz&B=%4")[1].1, "%4");
    }

    #[test]
    fn the_bucket_allows_a_burst_then_the_rate() {
        let now = Instant::now();
        let mut b = Bucket::new(
            Limit {
                rate: 20.0,
                burst: 20.0,
            },
            now,
        );
        assert_eq!((0..25).filter(|_| b.take(now)).count(), 20);
        assert!(b.take(now + Duration::from_millis(50)));
        assert!(!b.take(now + Duration::from_millis(50)));
    }

    #[test]
    fn deny_rules_match_on_a_parameter() {
        let rule: DenyRule = "ListAccessKeys:UserName=bob".parse().unwrap();
        assert!(rule.matches("ListAccessKeys", &parse_form(b"UserName=bob")));
        assert!(!rule.matches("ListAccessKeys", &parse_form(b"UserName=bobby")));
        assert!(!rule.matches("ListUserTags", &parse_form(b"UserName=bob")));
        let all: DenyRule = "GetAccountSummary".parse().unwrap();
        assert!(all.matches("GetAccountSummary", &[]));
        assert!("ListAccessKeys:UserName".parse::<DenyRule>().is_err());
    }

    #[test]
    fn limits_parse() {
        let l: ActionLimit = "GetAccessKeyLastUsed=20/40".parse().unwrap();
        assert_eq!(l.limit.rate, 20.0);
        assert_eq!(l.limit.burst, 40.0);
        assert!("X=0".parse::<ActionLimit>().is_err());
    }

    #[test]
    fn faults_replay_per_request_whatever_the_order() {
        let plan = |order: &[&[u8]]| {
            let p = Planner::new(Settings {
                fault_rate: 0.3,
                ..settings()
            });
            let now = Instant::now();
            let mut out: Vec<(Vec<u8>, Outcome, Duration)> = order
                .iter()
                .map(|b| {
                    let d = p.decide("ListAccessKeys", b, &[], None, now);
                    (b.to_vec(), d.outcome, d.delay)
                })
                .collect();
            out.sort_by(|a, b| a.0.cmp(&b.0));
            out
        };
        let bodies: Vec<Vec<u8>> = (0..200)
            .map(|i| format!("Action=ListAccessKeys&UserName=u{i}").into_bytes())
            .collect();
        let forward: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
        let backward: Vec<&[u8]> = forward.iter().rev().copied().collect();
        let a = plan(&forward);
        assert_eq!(a, plan(&backward));
        let faults = a.iter().filter(|x| x.1 != Outcome::Forward).count();
        assert!((30..=90).contains(&faults), "{faults} faults of 200");
        assert!(
            a.iter()
                .all(|x| x.2 >= Duration::from_millis(50) && x.2 < Duration::from_millis(60))
        );
    }

    #[test]
    fn fail_rules_answer_service_failure_every_time() {
        let p = Planner::new(Settings {
            fail: vec!["ListUserTags".parse().unwrap()],
            ..settings()
        });
        let now = Instant::now();
        for _ in 0..10 {
            assert_eq!(
                p.decide("ListUserTags", b"UserName=a", &[], None, now)
                    .outcome,
                Outcome::Fault(FaultKind::ServiceFailure)
            );
        }
        assert_eq!(
            p.decide("ListAccessKeys", b"UserName=a", &[], None, now)
                .outcome,
            Outcome::Forward
        );
    }

    #[test]
    fn throttling_comes_before_other_outcomes() {
        let p = Planner::new(Settings {
            default_limit: Some(Limit {
                rate: 1.0,
                burst: 1.0,
            }),
            deny: vec!["ListUsers".parse().unwrap()],
            ..settings()
        });
        let now = Instant::now();
        assert_eq!(
            p.decide("ListUsers", b"", &[], None, now).outcome,
            Outcome::Deny
        );
        assert_eq!(
            p.decide("ListUsers", b"", &[], None, now).outcome,
            Outcome::Throttle
        );
        // Each action has its own bucket.
        assert_eq!(
            p.decide("ListUserTags", b"", &[], None, now).outcome,
            Outcome::Forward
        );
    }

    #[test]
    fn deny_rules_match_a_role_arn() {
        let rule: DenyRule = "AssumeRole:RoleArn=arn:aws:iam::111111111111:role/auditor"
            .parse()
            .unwrap();
        assert_eq!(rule.action, "AssumeRole");
        assert_eq!(
            rule.param,
            Some((
                "RoleArn".to_string(),
                "arn:aws:iam::111111111111:role/auditor".to_string()
            ))
        );
        let form = |account: &str| {
            parse_form(
                format!(
                    "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A{account}%3Arole%2Fauditor&RoleSessionName=kh"
                )
                .as_bytes(),
            )
        };
        assert!(rule.matches("AssumeRole", &form("111111111111")));
        assert!(!rule.matches("AssumeRole", &form("222222222222")));
        assert_eq!(
            rule.to_string(),
            "AssumeRole:RoleArn=arn:aws:iam::111111111111:role/auditor"
        );

        let p = Planner::new(Settings {
            deny: vec![rule],
            ..settings()
        });
        let now = Instant::now();
        let decide = |account: &str| {
            p.decide("AssumeRole", account.as_bytes(), &form(account), None, now)
                .outcome
        };
        assert_eq!(decide("111111111111"), Outcome::Deny);
        assert_eq!(decide("222222222222"), Outcome::Forward);
    }

    #[test]
    fn buckets_per_credential_throttle_each_key_on_its_own() {
        let limited = |per_credential: bool| {
            Planner::new(Settings {
                default_limit: Some(Limit {
                    rate: 1.0,
                    burst: 1.0,
                }),
                throttle_per_credential: per_credential,
                ..settings()
            })
        };
        let now = Instant::now();
        let p = limited(true);
        let call = |key: Option<&str>| p.decide("ListUsers", b"", &[], key, now).outcome;
        assert_eq!(call(Some("ASIAONE")), Outcome::Forward);
        assert_eq!(call(Some("ASIATWO")), Outcome::Forward);
        assert_eq!(call(Some("ASIAONE")), Outcome::Throttle);
        assert_eq!(call(Some("ASIATWO")), Outcome::Throttle);
        // An unsigned request takes from the action's own bucket.
        assert_eq!(call(None), Outcome::Forward);
        assert_eq!(call(None), Outcome::Throttle);

        let shared = limited(false);
        let call = |key: Option<&str>| shared.decide("ListUsers", b"", &[], key, now).outcome;
        assert_eq!(call(Some("ASIAONE")), Outcome::Forward);
        assert_eq!(call(Some("ASIATWO")), Outcome::Throttle);
    }
}
