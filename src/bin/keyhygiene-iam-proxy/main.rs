//! keyhygiene-iam-proxy: an HTTP/1.1 reverse proxy that makes a local AWS-compatible
//! endpoint (such as moto's server) answer more like IAM, STS, Organizations and S3 do.
//!
//! It understands the protocols these services use (`protocol.rs`): the query protocol
//! (IAM, STS: `Action=` and the parameters in the form body, XML errors), the JSON
//! protocol (Organizations: the action in `X-Amz-Target`, the parameters in the JSON body,
//! JSON errors) and S3's REST-XML protocol (the operation from the method, path and query;
//! the parameters `Bucket`, `Key` and `Name`, the key's last segment, so
//! `--deny PutObject:Name=report.json` denies one file of a report set; S3's XML errors).
//! Everything below applies to all three.
//!
//! - Latency: every answer leaves no earlier than `--latency-ms` plus up to `--jitter-ms`
//!   after its request arrived. The endpoint's own time counts inside that delay, as a
//!   real service's processing time does.
//! - Throttling: a token bucket per API action (and, with `--throttle-per-credential`, per
//!   access key id, so each account's session has its own), with the service's own error:
//!   IAM's and STS's `Throttling` / `Rate exceeded`, Organizations' HTTP 400
//!   `TooManyRequestsException`.
//! - Random transient faults at `--fault-rate`: HTTP 500 (`ServiceFailure`, or
//!   Organizations' `ServiceException`), a reset connection, an answer slower than the
//!   client's attempt timeout, or (`--fault-kinds slow-body`) an answer whose headers come
//!   at once and whose body trickles in a byte a second. `--hold-once RULE` holds only the
//!   first request a rule matches.
//! - Persistent faults by rule: `--deny ListAccessKeys:UserName=bob` answers AccessDenied
//!   (Organizations: `AccessDeniedException`), `--fail ListUserTags` answers HTTP 500 every
//!   time, `--empty GetAccountAuthorizationDetails` answers a well-formed, empty listing.
//! - A seed: the same crawl meets the same faults on the same calls.
//! - Counters: `GET /__proxy/stats` (JSON), `POST /__proxy/reset`, and the same JSON on
//!   stderr (and in `--stats-file`) when the proxy stops on SIGINT or SIGTERM.
//!
//! It prints `listening on http://ADDR` on stdout once it accepts connections, so a caller
//! can pass `--listen 127.0.0.1:0` and read the port.

mod faults;
mod protocol;
mod wire;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use faults::{ActionLimit, Counters, DenyRule, FaultKind, Limit, Outcome, Planner, Settings};
use protocol::ApiCall;
use wire::{Request, Response};

#[derive(Debug, Parser)]
#[command(
    name = "keyhygiene-iam-proxy",
    version,
    about = "A reverse proxy that adds AWS-like latency, throttling and faults in front of an IAM-, STS- and Organizations-compatible endpoint",
    long_about = "A reverse proxy that adds AWS-like latency, throttling and faults in front of an IAM-, STS- and Organizations-compatible endpoint (such as moto's server).\n\nIt reads the API action and its parameters from query-protocol requests (IAM, STS: Action= and the form body) and from JSON-protocol requests (Organizations: the X-Amz-Target header and the JSON body's top-level fields), and answers each service's faults with that service's own error: Throttling (IAM, STS) or TooManyRequestsException (Organizations, HTTP 400); AccessDenied or AccessDeniedException; ServiceFailure or ServiceException."
)]
struct Args {
    /// The endpoint to forward to, e.g. http://127.0.0.1:5000.
    #[arg(long, value_name = "URL")]
    upstream: String,

    /// Address to listen on; port 0 picks a free port (printed on stdout).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    listen: SocketAddr,

    /// Minimum time from a request's arrival to its answer, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    latency_ms: u64,

    /// Up to this much more, uniformly drawn per request, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    jitter_ms: u64,

    /// Token-bucket rate per API action (requests per second); no throttling without it.
    /// Actions of every protocol count, e.g. Organizations' ListAccounts.
    #[arg(long, value_name = "RPS")]
    throttle_rps: Option<f64>,

    /// Token-bucket size per API action (default: the rate, at least 1).
    #[arg(long, value_name = "N", requires = "throttle_rps")]
    throttle_burst: Option<f64>,

    /// A different bucket for one action (repeatable), e.g. GetAccessKeyLastUsed=10/10.
    #[arg(long = "throttle", value_name = "ACTION=RATE[/BURST]")]
    throttle_action: Vec<ActionLimit>,

    /// Keep the buckets per action and per access key id (from the request's signature,
    /// `Credential=AKID/...`), not per action alone: each account, reached through its own
    /// assumed-role session, is throttled on its own, as AWS throttles each account.
    /// Unsigned requests share their action's bucket.
    #[arg(long)]
    throttle_per_credential: bool,

    /// Fraction of requests (0 to 1) that meet a random transient fault.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = parse_rate)]
    fault_rate: f64,

    /// The kinds of random fault, drawn with equal chance.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "KINDS",
          default_values_t = [FaultKind::ServiceFailure, FaultKind::Reset, FaultKind::Slow])]
    fault_kinds: Vec<FaultKind>,

    /// How long a "slow" fault holds its answer, in milliseconds (choose more than the
    /// client's attempt timeout; keyhygiene's is 10 s).
    #[arg(long, value_name = "MS", default_value_t = 11_000)]
    slow_ms: u64,

    /// Persistent AccessDenied for requests that match (repeatable), e.g.
    /// ListAccessKeys:UserName=bob, or a bare action name for all its requests. The value may
    /// hold ':' and '=': AssumeRole:RoleArn=arn:aws:iam::111111111111:role/NAME denies
    /// one account's AssumeRole. JSON-protocol requests match on their body's top-level
    /// fields (ListAccountsForParent:ParentId=ou-ab12-cd34ef56) and are answered
    /// AccessDeniedException.
    #[arg(long, value_name = "ACTION[:PARAM=VALUE]")]
    deny: Vec<DenyRule>,

    /// Persistent HTTP 500 for requests that match (repeatable), e.g. ListUserTags, or
    /// ListAccessKeys:UserName=bob: a retryable error that never clears (ServiceFailure;
    /// Organizations: ServiceException). For a persistent AccessDenied, use --deny.
    #[arg(long, value_name = "ACTION[:PARAM=VALUE]")]
    fail: Vec<DenyRule>,

    /// Answer requests that match (repeatable) with a well-formed, empty listing instead of
    /// the endpoint's answer, e.g. GetAccountAuthorizationDetails, or
    /// ListAccessKeys:UserName=bob: an answer that leaves everything out.
    #[arg(long, value_name = "ACTION[:PARAM=VALUE]")]
    empty: Vec<DenyRule>,

    /// Hold the answers of requests that match (repeatable) for --slow-ms, every time, e.g.
    /// AssumeRole:RoleArn=arn:aws:iam::111111111111:role/NAME: one account that never
    /// answers in time.
    #[arg(long, value_name = "ACTION[:PARAM=VALUE]")]
    hold: Vec<DenyRule>,

    /// Hold the answer of requests that match (repeatable) for --slow-ms the first time
    /// each is seen only; sent again, it is answered at once: one slow answer a client
    /// should give up on early.
    #[arg(long, value_name = "ACTION[:PARAM=VALUE]")]
    hold_once: Vec<DenyRule>,

    /// Answer requests that match (repeatable) with a ValidationError that quotes the
    /// request's ExternalId (else its first parameter), as STS does for an external id it
    /// refuses, e.g. AssumeRole.
    #[arg(long, value_name = "ACTION[:PARAM=VALUE]")]
    invalid: Vec<DenyRule>,

    /// Seed for every random choice (faults, jitter, request ids).
    #[arg(long, default_value_t = 1)]
    seed: u64,

    /// Also write the final counters here (JSON) when the proxy stops.
    #[arg(long, value_name = "FILE")]
    stats_file: Option<PathBuf>,
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err("expected a fraction from 0 to 1, e.g. 0.05".into()),
    }
}

struct Proxy {
    upstream: String,
    client: Client<HttpConnector, Full<Bytes>>,
    planner: Planner,
    counters: Counters,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let upstream = args.upstream.trim_end_matches('/').to_string();
    if !upstream.starts_with("http://") {
        eprintln!("keyhygiene-iam-proxy: error: --upstream must be an http:// URL");
        return std::process::ExitCode::from(2);
    }
    let settings = Settings {
        latency: Duration::from_millis(args.latency_ms),
        jitter: Duration::from_millis(args.jitter_ms),
        default_limit: args.throttle_rps.map(|rate| Limit {
            rate,
            burst: args.throttle_burst.unwrap_or(rate).max(1.0),
        }),
        action_limits: args.throttle_action.clone(),
        fault_rate: args.fault_rate,
        fault_kinds: args.fault_kinds.clone(),
        slow: Duration::from_millis(args.slow_ms),
        deny: args.deny.clone(),
        fail: args.fail.clone(),
        empty: args.empty.clone(),
        hold: args.hold.clone(),
        hold_once: args.hold_once.clone(),
        invalid: args.invalid.clone(),
        throttle_per_credential: args.throttle_per_credential,
        seed: args.seed,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("keyhygiene-iam-proxy: error: cannot start the runtime: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    runtime.block_on(run(args, upstream, settings))
}

async fn run(args: Args, upstream: String, settings: Settings) -> std::process::ExitCode {
    let listener = match TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "keyhygiene-iam-proxy: error: cannot listen on {}: {e}",
                args.listen
            );
            return std::process::ExitCode::from(1);
        }
    };
    let local = listener.local_addr().expect("a bound address");
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let proxy = Arc::new(Proxy {
        upstream,
        client: Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector),
        planner: Planner::new(settings),
        counters: Counters::default(),
    });
    println!("listening on http://{local}");
    let _ = std::io::stdout().flush();

    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let proxy = proxy.clone();
                    tokio::spawn(async move { serve(proxy, stream).await });
                }
                Err(e) => eprintln!("keyhygiene-iam-proxy: accept failed: {e}"),
            },
            _ = tokio::signal::ctrl_c() => break,
            _ = terminate.recv() => break,
        }
    }

    let stats = proxy.counters.to_json(proxy.planner.settings());
    let text = serde_json::to_string_pretty(&stats).expect("JSON");
    eprintln!("{text}");
    if let Some(path) = &args.stats_file
        && let Err(e) = std::fs::write(path, format!("{text}\n"))
    {
        eprintln!("keyhygiene-iam-proxy: cannot write {}: {e}", path.display());
        return std::process::ExitCode::from(1);
    }
    std::process::ExitCode::SUCCESS
}

/// What to do with the connection after an exchange.
enum After {
    KeepOpen,
    Close,
    Reset,
    /// Headers at once, then the body a byte a second; the connection closes after.
    Trickle,
}

/// Serves one client connection until it closes.
async fn serve(proxy: Arc<Proxy>, mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = BytesMut::with_capacity(8 * 1024);
    loop {
        let request = match wire::read_request(&mut stream, &mut buf).await {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => {
                let body = format!("bad request: {e}\n");
                let _ = wire::write_response(
                    &mut stream,
                    &Response::new(400, "text/plain", body),
                    true,
                )
                .await;
                return;
            }
        };
        let arrived = Instant::now();
        let close = request.close;
        let (response, after) = handle(&proxy, request, arrived).await;
        if let After::Reset = after {
            reset(stream);
            return;
        }
        if let (After::Trickle, Some(response)) = (&after, &response) {
            let _ = wire::write_trickle(&mut stream, response).await;
            return;
        }
        let close = close || matches!(after, After::Close);
        if let Some(response) = response
            && wire::write_response(&mut stream, &response, close)
                .await
                .is_err()
        {
            return;
        }
        if close {
            return;
        }
    }
}

/// Drops the connection with a TCP RST instead of an orderly close.
fn reset(stream: TcpStream) {
    // A zero linger makes the close abortive; with zero it never blocks.
    #[allow(deprecated)]
    let _ = stream.set_linger(Some(Duration::ZERO));
    drop(stream);
}

async fn handle(proxy: &Proxy, request: Request, arrived: Instant) -> (Option<Response>, After) {
    if let Some(control) = request.target.strip_prefix("/__proxy/") {
        return (
            Some(control_endpoint(proxy, &request.method, control)),
            After::KeepOpen,
        );
    }
    let Some(call) = ApiCall::parse(&request) else {
        // Not an API call (for example the endpoint's own control API): passed through as is.
        return (Some(forward(proxy, &request).await), After::KeepOpen);
    };
    let credential = protocol::access_key_id(&request);
    let decision = proxy.planner.decide(
        &call.action,
        &request.body,
        &call.params,
        credential.as_deref(),
        arrived,
    );
    proxy.counters.record(&call.action, decision.outcome);
    let release = arrived + decision.delay;
    match decision.outcome {
        Outcome::Forward => {
            let response = forward(proxy, &request).await;
            tokio::time::sleep_until(release).await;
            (Some(response), After::KeepOpen)
        }
        Outcome::Fault(FaultKind::Reset) => {
            tokio::time::sleep_until(release).await;
            (None, After::Reset)
        }
        Outcome::Fault(FaultKind::SlowBody) => {
            let response = forward(proxy, &request).await;
            tokio::time::sleep_until(release).await;
            (Some(response), After::Trickle)
        }
        Outcome::Fault(FaultKind::Slow) => {
            let response = forward(proxy, &request).await;
            let slow = arrived + proxy.planner.settings().slow.max(decision.delay);
            tokio::time::sleep_until(slow).await;
            // The client has most likely given up by now; close after answering anyway.
            (Some(response), After::Close)
        }
        Outcome::Empty => {
            tokio::time::sleep_until(release).await;
            (
                Some(call.empty_listing(&decision.request_id)),
                After::KeepOpen,
            )
        }
        outcome => {
            tokio::time::sleep_until(release).await;
            // The service's own error for the outcome, in the request's protocol.
            let response = call.error_response(outcome, &decision.request_id);
            (response, After::KeepOpen)
        }
    }
}

fn control_endpoint(proxy: &Proxy, method: &str, path: &str) -> Response {
    match (method, path) {
        ("GET", "stats") => {
            let stats = proxy.counters.to_json(proxy.planner.settings());
            Response::new(
                200,
                "application/json",
                serde_json::to_vec_pretty(&stats).expect("JSON"),
            )
        }
        ("POST", "reset") => {
            proxy.counters.reset();
            proxy.planner.reset();
            Response::new(200, "text/plain", "reset\n")
        }
        _ => Response::new(
            404,
            "text/plain",
            "unknown: use GET /__proxy/stats or POST /__proxy/reset\n",
        ),
    }
}

/// Sends the request upstream and returns its answer (502 when the upstream fails).
async fn forward(proxy: &Proxy, request: &Request) -> Response {
    let uri = format!("{}{}", proxy.upstream, request.target);
    let mut builder = hyper::Request::builder()
        .method(request.method.as_str())
        .uri(uri);
    for (name, value) in &request.headers {
        if !wire::is_hop_by_hop(name) {
            builder = builder.header(name.as_str(), value.as_slice());
        }
    }
    let upstream_request = match builder.body(Full::new(request.body.clone())) {
        Ok(r) => r,
        Err(e) => return Response::new(400, "text/plain", format!("bad request: {e}\n")),
    };
    let result = async {
        let response = proxy
            .client
            .request(upstream_request)
            .await
            .map_err(|e| e.to_string())?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok::<_, String>((parts, body))
    }
    .await;
    match result {
        Ok((parts, body)) => Response {
            status: parts.status.as_u16(),
            headers: parts
                .headers
                .iter()
                .map(|(n, v)| (n.as_str().to_string(), v.as_bytes().to_vec()))
                .collect(),
            body,
        },
        Err(e) => Response::new(502, "text/plain", format!("the upstream failed: {e}\n")),
    }
}
