//! Test helpers: a local IAM endpoint (moto's server under libfaketime), the seeding script,
//! and running the keyhygiene binary against it.
//!
//! Nothing here skips: a missing component fails the test with the command that installs it.

#![allow(dead_code)]

pub mod apis;
pub mod counting;
pub mod s3;
pub mod saved;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Credentials the tool uses against the local endpoint. The key id is unknown to the
/// endpoint, so the crawl's own requests never mark a seeded key as used.
pub const AUDIT_KEY_ID: &str = "AKIAKEYHYGIENETEST00";
pub const AUDIT_SECRET: &str = "test-not-a-secret";

fn venv() -> PathBuf {
    std::env::var_os("KEYHYGIENE_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(ROOT).join(".venv"))
}

pub fn venv_python() -> PathBuf {
    let python = venv().join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup (or scripts/test), which creates the project's \
         virtualenv with the pinned moto[server]",
        python.display()
    );
    python
}

/// Users per ListUsers page the test endpoint answers at most, so a few hundred users span
/// several pages (IAM, too, may answer fewer users than MaxItems asks for).
pub const LIST_USERS_PAGE_CAP: usize = 100;

/// Accounts per ListAccounts page (and accounts or units per ListAccountsForParent and
/// ListOrganizationalUnitsForParent page) a server from [`Moto::start_org`] answers at most,
/// so a handful of accounts span several pages.
pub const ORG_PAGE_CAP: usize = 2;

/// The command that starts moto's server with IAM's ListUsers paging and Organizations'
/// paging (`scripts/moto_server.py`).
fn moto_server() -> Command {
    let server = venv().join("bin/moto_server");
    assert!(
        server.exists(),
        "{} is missing: run scripts/setup (or scripts/test), which installs the pinned \
         moto[server] from scripts/requirements.txt into .venv",
        server.display()
    );
    let mut cmd = Command::new(venv_python());
    cmd.arg(Path::new(ROOT).join("scripts/moto_server.py"))
        .env("KEYHYGIENE_MOTO_PAGE_CAP", LIST_USERS_PAGE_CAP.to_string());
    cmd
}

fn faketime_lib() -> PathBuf {
    [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/faketime/libfaketimeMT.so.1",
        "/usr/local/lib/faketime/libfaketimeMT.so.1",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
    .expect("libfaketime is missing: run scripts/setup (or `apt-get install faketime`)")
}

/// A free loopback port for a server this process starts, never the same one twice.
///
/// The ports come from a range below the kernel's ephemeral ports (32768 and up), so no
/// `bind(0)` listener and no outgoing connection can take one between this check and the
/// server's own bind; each test process starts at its own offset. Asking the kernel for a
/// port (`bind(0)`) instead can hand two concurrent tests the same port: the second server
/// then fails to bind while the readiness check connects to the first one.
fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    const BASE: u16 = 20_000;
    const SPAN: u16 = 12_000;
    let start = (std::process::id() % u32::from(SPAN)) as u16;
    for _ in 0..SPAN {
        let port = BASE + (start + NEXT.fetch_add(1, Ordering::Relaxed)) % SPAN;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {BASE}..{}", BASE + SPAN)
}

/// A running moto server, stopped when dropped.
pub struct Moto {
    child: Child,
    pub endpoint: String,
    pub clock_file: PathBuf,
    pub recording: Option<PathBuf>,
    pub dir: tempfile::TempDir,
}

impl Moto {
    pub fn start() -> Moto {
        Self::launch(false, None)
    }

    /// With `record`, the server records every request it receives (moto's recorder).
    pub fn start_with(record: bool) -> Moto {
        Self::launch(record, None)
    }

    /// A server for organization runs: its Organizations listings answer at most
    /// [`ORG_PAGE_CAP`] items a page. Seed it with [`Moto::seed_org_spec`] or
    /// [`Moto::seed_org_generated`].
    pub fn start_org() -> Moto {
        Self::launch(false, Some(ORG_PAGE_CAP))
    }

    fn launch(record: bool, org_page_cap: Option<usize>) -> Moto {
        let dir = tempfile::tempdir().expect("temp dir");
        let clock_file = dir.path().join("clock");
        std::fs::write(
            &clock_file,
            chrono::Utc::now().format("%Y-%m-%d %H:%M:%S\n").to_string(),
        )
        .expect("clock file");
        let recording = record.then(|| dir.path().join("recording.jsonl"));
        for _attempt in 0..3 {
            let port = free_port();
            let log = std::fs::File::create(dir.path().join("moto.log")).expect("log file");
            let mut cmd = moto_server();
            cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env("TZ", "UTC")
                .env("LD_PRELOAD", faketime_lib())
                .env("FAKETIME_TIMESTAMP_FILE", &clock_file)
                .env("FAKETIME_NO_CACHE", "1")
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log"))
                .stderr(log);
            if let Some(file) = &recording {
                cmd.env("MOTO_ENABLE_RECORDING", "true")
                    .env("MOTO_RECORDER_FILEPATH", file);
            }
            if let Some(cap) = org_page_cap {
                cmd.env("KEYHYGIENE_MOTO_ORG_PAGE_CAP", cap.to_string());
            }
            let mut child = cmd.spawn().expect("start moto_server");
            let deadline = Instant::now() + Duration::from_secs(30);
            let log_file = dir.path().join("moto.log");
            // Ready when this server says it listens on the port (so the answer comes from
            // it, not from another process on that port) and the port accepts connections.
            let ours = || {
                std::fs::read_to_string(&log_file)
                    .is_ok_and(|log| log.contains(&format!("Running on http://127.0.0.1:{port}")))
            };
            while Instant::now() < deadline {
                if ours() && TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Moto {
                        child,
                        endpoint: format!("http://127.0.0.1:{port}"),
                        clock_file,
                        recording,
                        dir,
                    };
                }
                if child.try_wait().expect("moto status").is_some() {
                    break; // the port was taken between the check and the bind: try another
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "moto's server did not start; its log: {}",
            std::fs::read_to_string(dir.path().join("moto.log")).unwrap_or_default()
        );
    }

    /// Seeds the account from a JSON plan (see scripts/seed_account.py) and returns the
    /// manifest of what was seeded.
    pub fn seed_spec(&self, spec: &Path) -> Value {
        self.seed(&["--spec", spec.to_str().expect("utf-8 path")])
    }

    /// Seeds a generated account of `users` users as of `now`.
    pub fn seed_generated(&self, users: usize, seed: u64, now: &str) -> Value {
        self.seed(&[
            "--users",
            &users.to_string(),
            "--seed",
            &seed.to_string(),
            "--now",
            now,
        ])
    }

    /// Seeds an organization from a JSON plan (see scripts/seed_org.py): the organization,
    /// its units, its member accounts and their users and keys. Returns the manifest of what
    /// was seeded. The endpoint's clock is back at the real time afterwards.
    pub fn seed_org_spec(&self, spec: &Path) -> Value {
        self.run_seed(
            "scripts/seed_org.py",
            &["--spec", spec.to_str().expect("utf-8 path")],
        )
    }

    /// Seeds a generated organization as of `now`: `accounts` member accounts of
    /// `users_per_account` generated users each (plus seed_account.py's two odd ones) and
    /// `management_users` users in the management account.
    pub fn seed_org_generated(
        &self,
        accounts: usize,
        users_per_account: usize,
        management_users: usize,
        seed: u64,
        now: &str,
    ) -> Value {
        self.run_seed(
            "scripts/seed_org.py",
            &[
                "--accounts",
                &accounts.to_string(),
                "--users-per-account",
                &users_per_account.to_string(),
                "--management-users",
                &management_users.to_string(),
                "--seed",
                &seed.to_string(),
                "--now",
                now,
            ],
        )
    }

    /// Changes the seeded account (scripts/change_account.py: delete or create keys, rename,
    /// delete or create users) as of the plan's `now`, without resetting the endpoint.
    /// Returns the manifest of what changed.
    pub fn change(&self, changes: &Value) -> Value {
        let file = self.dir.path().join("changes.json");
        std::fs::write(&file, changes.to_string()).expect("changes file");
        self.run_seed(
            "scripts/change_account.py",
            &["--changes", file.to_str().expect("utf-8 path")],
        )
    }

    fn seed(&self, plan: &[&str]) -> Value {
        self.run_seed("scripts/seed_account.py", plan)
    }

    fn run_seed(&self, script: &str, plan: &[&str]) -> Value {
        let manifest = self.dir.path().join("manifest.json");
        let status = Command::new(venv_python())
            .arg(Path::new(ROOT).join(script))
            .args(["--endpoint", &self.endpoint, "--clock-file"])
            .arg(&self.clock_file)
            .arg("--manifest")
            .arg(&manifest)
            .arg("--quiet")
            .args(plan)
            .status()
            .unwrap_or_else(|e| panic!("run {script}: {e}"));
        assert!(
            status.success(),
            "seeding the local endpoint failed; moto's log: {}",
            std::fs::read_to_string(self.dir.path().join("moto.log")).unwrap_or_default()
        );
        serde_json::from_str(&std::fs::read_to_string(manifest).expect("manifest"))
            .expect("manifest JSON")
    }

    /// POSTs to one of moto's own control endpoints (`/moto-api/...`).
    pub fn control(&self, path: &str) -> Vec<u8> {
        http(&self.endpoint, "POST", path)
    }

    /// Runs `keyhygiene audit` against this endpoint with throwaway credentials.
    pub fn audit(&self, args: &[&str]) -> Output {
        audit_at(&self.endpoint, args)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The keyhygiene binary, isolated from the machine's AWS configuration.
pub fn keyhygiene() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keyhygiene"));
    cmd.env_remove("AWS_PROFILE")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_ENDPOINT_URL")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "us-east-1")
        .stdin(Stdio::null());
    cmd
}

/// A minimal HTTP/1.1 request to the loopback endpoint; returns the body.
fn http(endpoint: &str, method: &str, path: &str) -> Vec<u8> {
    use std::io::{Read, Write};
    let host = endpoint.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).expect("connect to moto");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read");
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP response");
    let head = String::from_utf8_lossy(&response[..split]).to_string();
    assert!(
        head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
        "{method} {path}: {head}"
    );
    response[split + 4..].to_vec()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// A running keyhygiene-iam-proxy (latency, throttling and faults) in front of an endpoint,
/// stopped when dropped.
pub struct FaultProxy {
    child: Child,
    pub endpoint: String,
}

impl FaultProxy {
    /// Starts the proxy in front of `upstream` with these extra flags
    /// (see `keyhygiene-iam-proxy --help`).
    pub fn start(upstream: &str, flags: &[&str]) -> FaultProxy {
        use std::io::BufRead;
        let Some(proxy) = option_env!("CARGO_BIN_EXE_keyhygiene-iam-proxy") else {
            panic!(
                "keyhygiene-iam-proxy was not built: run the tests with `cargo test --features \
                 iam-proxy` (scripts/test does)"
            )
        };
        let mut child = Command::new(proxy)
            .args(["--upstream", upstream, "--listen", "127.0.0.1:0"])
            .args(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start keyhygiene-iam-proxy");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("proxy stdout"))
            .read_line(&mut line)
            .expect("the proxy's first line");
        let endpoint = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("the proxy did not start: {line:?}"))
            .to_string();
        FaultProxy { child, endpoint }
    }

    /// The proxy's counters (`GET /__proxy/stats`).
    pub fn stats(&self) -> Value {
        serde_json::from_slice(&http(&self.endpoint, "GET", "/__proxy/stats"))
            .expect("the proxy's stats are JSON")
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `keyhygiene audit` against `endpoint` as of `as_of`, saving the inventory to
/// `inventory` and the reports to `out_dir`, with `extra` flags.
pub fn audit_saving(
    endpoint: &str,
    as_of: &str,
    inventory: &Path,
    out_dir: &Path,
    extra: &[&str],
) -> Output {
    let mut args = vec![
        "--as-of",
        as_of,
        "--save-inventory",
        inventory.to_str().expect("a UTF-8 path"),
        "--out-dir",
        out_dir.to_str().expect("a UTF-8 path"),
    ];
    args.extend_from_slice(extra);
    audit_at(endpoint, &args)
}

/// Runs `keyhygiene audit` against any endpoint (for example a [`FaultProxy`]) with
/// throwaway credentials.
pub fn audit_at(endpoint: &str, args: &[&str]) -> Output {
    audit_command(endpoint, args)
        .output()
        .expect("run keyhygiene")
}

/// The `keyhygiene audit` command of [`audit_at`], to start without waiting for it.
pub fn audit_command(endpoint: &str, args: &[&str]) -> Command {
    let mut all = vec!["audit", "--endpoint-url", endpoint];
    all.extend_from_slice(args);
    let mut cmd = keyhygiene();
    cmd.args(&all)
        .env("AWS_ACCESS_KEY_ID", AUDIT_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", AUDIT_SECRET);
    cmd
}

/// LibreOffice's `soffice`, for the test that reads the workbook as a spreadsheet program
/// does; or a failure that says how to install it.
pub fn soffice() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["soffice", "libreoffice"] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "LibreOffice is required for the workbook test and was not found in PATH: run \
         `apt-get install libreoffice-calc-nogui` (scripts/setup installs it)"
    );
}

/// Headless Chromium, for the tests that open a report in a browser.
///
/// The Chromium binary, or a failure that says how to install it.
pub fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("KEYHYGIENE_CHROMIUM") {
        return PathBuf::from(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "headless Chromium is required for the HTML report test and was not found in PATH: \
         run `apt-get install chromium` (scripts/test installs it), or set KEYHYGIENE_CHROMIUM"
    );
}

pub fn run_chromium(profile: &Path, extra: &[String], url: &str) -> String {
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--virtual-time-budget=3000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(extra)
    .arg(url)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap_or_else(|e| {
        panic!(
            "cannot start {}: {e}; install headless Chromium with `apt-get install chromium`",
            chromium().display()
        )
    });
    let id = child.id();
    // A watchdog so a hung browser fails the test instead of blocking it.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if rx.recv_timeout(Duration::from_secs(90)).is_err() {
            let _ = Command::new("kill").arg("-9").arg(id.to_string()).status();
        }
    });
    let started = Instant::now();
    let output = child.wait_with_output().expect("chromium runs");
    let _ = tx.send(());
    assert!(
        output.status.success(),
        "chromium failed after {:?} ({}): {}",
        started.elapsed(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("the DOM is UTF-8")
}

/// The requests moto's recorder saw (one JSON object per line), each with its API action:
/// `Action=` of a query-protocol request (IAM, STS) or the `X-Amz-Target` of a JSON-protocol
/// one (Organizations).
pub fn recorded_requests(recording: &Path) -> Vec<(String, Value)> {
    use base64::Engine;
    let text = std::fs::read_to_string(recording).expect("the recording");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let entry: Value = serde_json::from_str(line).expect("a recorded request");
            let target = entry["headers"]["X-Amz-Target"]
                .as_str()
                .unwrap_or_default();
            let action = match target.split_once('.') {
                Some((_, action)) => action.to_string(),
                None => {
                    let body = entry["body"].as_str().unwrap_or_default();
                    let body = if entry["body_encoded"].as_bool() == Some(true) {
                        String::from_utf8(
                            base64::engine::general_purpose::STANDARD
                                .decode(body)
                                .expect("a base64 body"),
                        )
                        .expect("a UTF-8 body")
                    } else {
                        body.to_string()
                    };
                    body.split('&')
                        .find_map(|kv| kv.strip_prefix("Action="))
                        .unwrap_or_else(|| panic!("a request without an action: {line}"))
                        .to_string()
                }
            };
            (action, entry)
        })
        .collect()
}

/// A key of a seeding plan (scripts/seed_account.py's spec): created `created` days before
/// the plan's `now`, used `(days ago, service, region)` or never.
pub fn spec_key(created: u32, status: &str, used: Option<(u32, &str, &str)>) -> Value {
    serde_json::json!({"created_days_ago": created, "status": status,
           "used": used.map(|(days, service, region)|
               serde_json::json!({"days_ago": days, "service": service, "region": region}))})
}

/// A user of a seeding plan, at path `/`, without tags.
pub fn spec_user(name: &str, created: u32, keys: Vec<Value>) -> Value {
    serde_json::json!({"name": name, "path": "/", "created_days_ago": created, "tags": {}, "keys": keys})
}

/// The id of the `index`-th key of `user` in a seeding manifest (scripts/seed_account.py).
pub fn seeded_key_id(manifest: &Value, user: &str, index: usize) -> String {
    manifest["users"]
        .as_array()
        .expect("the manifest lists users")
        .iter()
        .find(|u| u["name"] == user)
        .unwrap_or_else(|| panic!("{user} was seeded"))["keys"][index]["id"]
        .as_str()
        .expect("a key id")
        .to_string()
}

/// A finding id for a hand-built finding in `account`: scheme 1 over its rule, user and key.
pub fn test_finding_id(account: &str, rule: &str, user: &str, key: Option<&str>) -> String {
    keyhygiene::findings::finding_id(
        Some(account),
        rule,
        keyhygiene::findings::id::Subject::Key {
            arn: user,
            key_id: key.unwrap_or("-"),
        },
    )
}

/// Opens `page` (a report file) at `#fragment` in headless Chromium and returns the DOM
/// once its scripts have run.
pub fn open_in_chromium(page: &Path, fragment: &str) -> scraper::Html {
    let profile = tempfile::tempdir().expect("a browser profile");
    let url = format!("file://{}#{fragment}", page.display());
    scraper::Html::parse_document(&run_chromium(
        profile.path(),
        &["--dump-dom".to_string()],
        &url,
    ))
}

/// Whether a golden test should write its golden files anew (`KEYHYGIENE_BLESS=1`) rather
/// than compare with them. Refused when `CI` is set: a golden test run by CI must never
/// bless itself, whatever its environment says.
pub fn bless() -> bool {
    match bless_decision(
        std::env::var_os("KEYHYGIENE_BLESS").as_deref(),
        std::env::var_os("CI").as_deref(),
    ) {
        Ok(bless) => bless,
        Err(message) => panic!("{message}"),
    }
}

/// [`bless`], from the two variables' values.
pub fn bless_decision(
    bless: Option<&std::ffi::OsStr>,
    ci: Option<&std::ffi::OsStr>,
) -> Result<bool, String> {
    let set = |v: Option<&std::ffi::OsStr>| v.is_some_and(|v| !v.is_empty() && v != "0");
    match (set(bless), set(ci)) {
        (true, true) => Err(
            "KEYHYGIENE_BLESS is refused when CI is set: golden files are regenerated on a developer's machine, reviewed and committed, never by CI".to_string(),
        ),
        (bless, _) => Ok(bless),
    }
}

/// Makes a FIFO at `path`: an input that never ends and must be refused, not read.
pub fn make_fifo(path: &Path) {
    let status = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}
