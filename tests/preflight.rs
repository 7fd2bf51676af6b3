//! The pre-flight check (`sts:GetCallerIdentity` before the crawl) against endpoints that
//! are not a working STS: one that accepts connections and never answers, one that answers
//! an HTML page, one whose STS fails with HTTP 500 `ServiceFailure`, one that rejects the
//! credentials, and a port where nothing listens.
//!
//! Each endpoint is a tiny HTTP server written here. Every run must end with exit code 2 and
//! one line that names what happened, and must give up on its own: a watchdog kills the
//! process after 30 s and fails the test, far below the 90 s a crawl call may take.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use support::{AUDIT_KEY_ID, AUDIT_SECRET, keyhygiene, stderr};

/// Longer than the pre-flight check's own limit, far shorter than a crawl call's 90 s.
const WATCHDOG: Duration = Duration::from_secs(30);

/// What the test server does with each request.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Reads the request and never answers (the connection stays open).
    Silent,
    /// A captive portal, or a wrong URL: 200 and an HTML page.
    Html,
    /// STS failing: 500 with STS's `ServiceFailure` error.
    ServiceFailure,
    /// STS rejecting the credentials: 403 `InvalidClientTokenId`.
    Rejected,
}

/// A local HTTP server on a free loopback port, serving until the test process ends.
struct Server {
    endpoint: String,
    requests: Arc<AtomicUsize>,
}

impl Server {
    fn start(behaviour: Behaviour) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let endpoint = format!("http://{}", listener.local_addr().expect("an address"));
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let counter = counter.clone();
                std::thread::spawn(move || serve(stream, behaviour, &counter));
            }
        });
        Server { endpoint, requests }
    }
}

/// Serves one connection: one answer per request, until the client closes it.
fn serve(mut stream: TcpStream, behaviour: Behaviour, requests: &AtomicUsize) {
    let mut held = Vec::new();
    while read_request(&mut stream).is_some() {
        requests.fetch_add(1, Ordering::SeqCst);
        let (status, content_type, body) = match behaviour {
            Behaviour::Silent => {
                // Keep the connection open and say nothing.
                held.push(stream.try_clone().expect("clone the connection"));
                continue;
            }
            Behaviour::Html => (
                "200 OK",
                "text/html; charset=utf-8",
                "<!DOCTYPE html><html><head><title>Sign in to the guest network</title></head>\
                 <body><form action=\"/login\"><input name=\"email\"></form></body></html>"
                    .to_string(),
            ),
            Behaviour::ServiceFailure => (
                "500 Internal Server Error",
                "text/xml",
                sts_error(
                    "Receiver",
                    "ServiceFailure",
                    "The request processing has failed because of an unknown error, exception or failure.",
                ),
            ),
            Behaviour::Rejected => (
                "403 Forbidden",
                "text/xml",
                sts_error(
                    "Sender",
                    "InvalidClientTokenId",
                    "The security token included in the request is invalid.",
                ),
            ),
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
             x-amzn-RequestId: 00000000-0000-4000-8000-000000000000\r\n\r\n",
            body.len()
        );
        if stream.write_all(head.as_bytes()).is_err() || stream.write_all(body.as_bytes()).is_err()
        {
            return;
        }
    }
}

fn sts_error(kind: &str, code: &str, message: &str) -> String {
    format!(
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>{kind}</Type>\
         <Code>{code}</Code><Message>{message}</Message></Error>\
         <RequestId>00000000-0000-4000-8000-000000000000</RequestId></ErrorResponse>"
    )
}

/// Reads one request (head and Content-Length body); `None` when the connection closed.
fn read_request(stream: &mut TcpStream) -> Option<()> {
    let mut data = Vec::new();
    let mut byte = [0u8; 1];
    while !data.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => data.push(byte[0]),
            _ => return None,
        }
    }
    let head = String::from_utf8_lossy(&data).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).ok()
}

/// Runs `keyhygiene audit` against `endpoint`; kills it and fails the test if it has not
/// given up within [`WATCHDOG`].
fn audit(endpoint: &str) -> Output {
    let out_dir = tempfile::tempdir().expect("temp dir");
    let mut child: Child = keyhygiene()
        .args(["audit", "--endpoint-url", endpoint, "--out-dir"])
        .arg(out_dir.path().join("report"))
        .env("AWS_ACCESS_KEY_ID", AUDIT_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", AUDIT_SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run keyhygiene");
    let started = Instant::now();
    loop {
        if child.try_wait().expect("the process status").is_some() {
            let output = child.wait_with_output().expect("its output");
            assert!(
                !out_dir.path().join("report").exists(),
                "a failed pre-flight check writes no report"
            );
            return output;
        }
        if started.elapsed() > WATCHDOG {
            let _ = child.kill();
            let output = child.wait_with_output().expect("its output");
            panic!(
                "the pre-flight check against {endpoint} had not given up after {WATCHDOG:?}; \
                 stderr so far:\n{}",
                stderr(&output)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The one error line of a failed pre-flight check.
fn error_line(output: &Output) -> String {
    assert_eq!(
        output.status.code(),
        Some(2),
        "a failed pre-flight check exits 2; stderr:\n{}",
        stderr(output)
    );
    let text = stderr(output);
    let errors: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("keyhygiene: error: "))
        .collect();
    assert_eq!(errors.len(), 1, "one error line; stderr:\n{text}");
    errors[0].to_string()
}

#[test]
fn an_endpoint_that_never_answers_times_out_and_says_so() {
    let server = Server::start(Behaviour::Silent);
    // The endpoint's user:password never appears in the message.
    let with_userinfo = server
        .endpoint
        .replace("http://", "http://auditor:s3cret-Pa55@");
    let output = audit(&with_userinfo);
    let line = error_line(&output);
    assert!(
        line.contains("no answer") && line.contains("within 10 s"),
        "{line}"
    );
    assert!(line.contains("http://***@127.0.0.1:"), "{line}");
    assert!(!line.contains("rejected the credentials"), "{line}");
    assert!(!stderr(&output).contains("s3cret"), "{}", stderr(&output));
    assert!(server.requests.load(Ordering::SeqCst) >= 1);
}

#[test]
fn an_html_page_is_not_taken_for_sts() {
    let server = Server::start(Behaviour::Html);
    let line = error_line(&audit(&server.endpoint));
    assert!(
        line.contains("not an AWS API response") && line.contains("does not look like AWS STS"),
        "{line}"
    );
    assert!(
        line.contains("HTML") && line.contains("--endpoint-url"),
        "{line}"
    );
    assert!(line.contains(&server.endpoint), "{line}");
    assert!(!line.contains("rejected the credentials"), "{line}");
    // A page is not retried: it will not turn into STS.
    assert_eq!(server.requests.load(Ordering::SeqCst), 1);
}

#[test]
fn sts_failing_with_service_failure_is_reported_as_the_service_failing() {
    let server = Server::start(Behaviour::ServiceFailure);
    let line = error_line(&audit(&server.endpoint));
    assert!(
        line.contains("ServiceFailure") && line.contains("HTTP 500"),
        "{line}"
    );
    assert!(
        line.contains("failing") && line.contains("try again later"),
        "{line}"
    );
    assert!(!line.contains("rejected the credentials"), "{line}");
    assert!(!line.contains("aws sso login"), "{line}");
    // Retried, but within the pre-flight check's limit.
    assert!(server.requests.load(Ordering::SeqCst) >= 2);
}

#[test]
fn rejected_credentials_are_reported_as_rejected() {
    let server = Server::start(Behaviour::Rejected);
    let line = error_line(&audit(&server.endpoint));
    assert!(
        line.contains("AWS rejected the credentials") && line.contains("InvalidClientTokenId"),
        "{line}"
    );
    // An authentication error is final: no retry.
    assert_eq!(server.requests.load(Ordering::SeqCst), 1);
}

#[test]
fn a_refused_connection_is_reported_as_refused() {
    // A port that was just free: nothing listens there.
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener.local_addr().expect("an address").port()
    };
    let endpoint = format!("http://127.0.0.1:{port}");
    let line = error_line(&audit(&endpoint));
    assert!(
        line.contains("connection refused") && line.contains(&endpoint),
        "{line}"
    );
    assert!(!line.contains("rejected the credentials"), "{line}");
}

/// A profile no configuration file defines is named, with the profiles that are defined,
/// before any credential source is tried.
#[test]
fn an_unknown_profile_names_the_profiles_there_are() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::write(
        &config,
        "[default]\nregion = eu-west-1\n\n[profile security-audit]\nrole_arn = arn:aws:iam::111111111111:role/x\nsource_profile = default\n\n[sso-session corp]\nsso_region = eu-west-1\n",
    )
    .unwrap();
    let credentials = dir.path().join("credentials");
    std::fs::write(&credentials, "[ci]\naws_access_key_id = AKIAEXAMPLE\n").unwrap();
    let output = keyhygiene()
        .args(["audit", "--profile", "nonexistent-prof", "--out-dir"])
        .arg(dir.path().join("report"))
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
        .output()
        .unwrap();
    let line = error_line(&output);
    assert!(
        line.contains("no AWS profile named nonexistent-prof in"),
        "{line}"
    );
    assert!(
        line.contains("the profiles there are ci, default, security-audit"),
        "{line}"
    );
    assert!(!line.contains("IMDS"), "{line}");
    assert!(!dir.path().join("report").exists());
}
