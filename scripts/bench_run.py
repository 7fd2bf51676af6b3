#!/usr/bin/env python3
"""The benchmark behind scripts/bench: keyhygiene's crawl through keyhygiene-iam-proxy.

Seeds a local IAM-compatible endpoint (moto's server under libfaketime) once per account
size, then runs the scenarios of BENCHMARKS.md through the proxy and prints, per scenario:
wall time, API calls per operation, throttled responses, retries, failed calls, peak RSS,
the floor and wall / floor. Then the scale series (scenario A at several account sizes),
and optionally Prowler's five access-key checks against the same account and proxy.

The floor is max(calls x mean latency / concurrency, max over actions of calls / rate),
where "calls" counts the calls the crawl needs: the proxy's answered requests, without
the throttled and faulted attempts that were retried.

Accounts can outlive one run (--keep-accounts, then --reuse-accounts), since seeding a
5,000-user account takes minutes.
"""

import argparse
import csv
import datetime as dt
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AUDIT_KEY_ID = "AKIAKEYHYGIENEBENCH0"  # unknown to the endpoint: crawling marks no key used
AUDIT_SECRET = "bench-not-a-secret"
GNU_TIME = "/usr/bin/time"  # Debian package `time`, installed by scripts/bench
PROWLER_PIN = "prowler==5.46.0"  # the version BENCHMARKS.md reports
MAIN_OPS = ["GetAccountAuthorizationDetails", "ListUsers", "ListUserTags", "ListAccessKeys",
            "GetAccessKeyLastUsed"]
PROWLER_CHECKS = ["iam_no_root_access_key", "iam_rotate_access_key_90_days",
                  "iam_user_accesskey_unused", "iam_user_no_setup_initial_access_key",
                  "iam_user_two_active_access_key"]
# Prowler check -> the keyhygiene rule that answers the same question.
RULE_FOR_CHECK = {
    "iam_no_root_access_key": "root-access-key-present",
    "iam_rotate_access_key_90_days": "key-not-rotated",
    "iam_user_accesskey_unused": "key-unused",
    "iam_user_no_setup_initial_access_key": "key-never-used",
    "iam_user_two_active_access_key": "user-two-active-keys",
}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin-dir", required=True, help="where keyhygiene and the proxy were built")
    p.add_argument("--profile", default="dev", help="the cargo profile of --bin-dir (printed)")
    p.add_argument("--users", type=int, default=2000, help="users in the scenario account")
    p.add_argument("--scenarios", default="A,B,C,D")
    p.add_argument("--keys-per-user", type=float, default=1.25,
                   help="keys per user in the scenario account (2,000 users: ~2,500 keys)")
    p.add_argument("--scale-keys-per-user", type=float, default=2.0,
                   help="keys per user in the scale series (5,000 users: 10,000 keys)")
    p.add_argument("--scale", default="500,1000,2000,5000",
                   help="account sizes for the scale series in scenario A ('' for none)")
    p.add_argument("--prowler", action="store_true", help="also run Prowler's five key checks")
    p.add_argument("--call-plan", default="economical", choices=["economical", "full"],
                   help="keyhygiene --call-plan for the scenarios and the scale series")
    p.add_argument("--compare-plans", action="store_true",
                   help="also run scenario A with the other call plan and compare the findings")
    p.add_argument("--prowler-venv", default=str(ROOT / "target/bench/venv"))
    p.add_argument("--latency-ms", type=int, default=45)
    p.add_argument("--jitter-ms", type=int, default=10, help="uniform extra delay, 0..J ms")
    p.add_argument("--rate", type=float, default=20.0, help="scenario B: req/s per action")
    p.add_argument("--burst", type=float, default=20.0, help="scenario B: bucket size")
    p.add_argument("--fault-rate", type=float, default=0.05, help="scenario C")
    p.add_argument("--concurrency",
                   help="keyhygiene --concurrency (default: its own); a list such as 16,32,64 "
                        "runs the scenarios once per value (the scale series uses the first)")
    p.add_argument("--seed", type=int, default=1, help="seed of the proxy and the account plan")
    p.add_argument("--org", action="store_true",
                   help="the organization scenario (see --org-accounts, --org-users)")
    p.add_argument("--org-accounts", type=int, default=10, help="member accounts")
    p.add_argument("--org-no-loop", action="store_true",
                   help="organization scenario: skip the one-run-per-account loop")
    p.add_argument("--org-users", type=int, default=100, help="users per member account")
    p.add_argument("--org-fault-rate", type=float, default=0.0,
                   help="organization scenario: random faults (500, reset, slow) in every "
                        "account, as scenario C; with it the scenario is called F")
    p.add_argument("--org-rate", type=float, default=5.0,
                   help="organization scenario: req/s per action and account")
    p.add_argument("--burst-org", type=float, default=5.0,
                   help="organization scenario: bucket size per action and account")
    p.add_argument("--org-concurrency", type=int, default=16,
                   help="organization scenario: --concurrency (per account)")
    p.add_argument("--account-concurrency", default="4,8,16",
                   help="organization scenario: --account-concurrency values to measure")
    p.add_argument("--org-pages", default="",
                   help="organization report sizes to render and open in Chromium, e.g. 100 "
                        "(accounts of 313 keys each, from the demo account's saved inventory)")
    p.add_argument("--org-page-users", type=int, default=0,
                   help="--org-pages: users per account (default: the demo account's 302; more "
                        "are copies of its users under new names, ids and key ids)")
    p.add_argument("--history-runs", default="",
                   help="ACCOUNTS:RUNS, e.g. 100:12: an organization of ACCOUNTS copies of the demo "
                        "account audited offline RUNS times, a day apart, with --history (and "
                        "once more with --baseline), to measure what the comparison costs")
    p.add_argument("--work-dir", default=str(ROOT / "target/bench"))
    p.add_argument("--keep-accounts", action="store_true",
                   help="leave the seeded endpoints running for a later --reuse-accounts")
    p.add_argument("--reuse-accounts", action="store_true",
                   help="use endpoints left running by --keep-accounts when they are still up")
    p.add_argument("--parallel-seeding", type=int, default=2)
    return p.parse_args()


def say(text):
    print(f"==> {text}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# The local endpoint and its accounts.

def faketime_lib():
    for c in ["/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
              "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
              "/usr/lib/faketime/libfaketimeMT.so.1",
              "/usr/local/lib/faketime/libfaketimeMT.so.1"]:
        if os.path.exists(c):
            return c
    sys.exit("libfaketime not found: run scripts/setup")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def port_open(endpoint):
    host, port = endpoint.removeprefix("http://").split(":")
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
        return True
    except OSError:
        return False


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


class Account:
    """A moto server seeded with a generated account of `users` users."""

    def __init__(self, work, users, now, seed, keys_per_user):
        self.dir = Path(work) / "accounts" / f"u{users}-k{keys_per_user:g}"
        self.users, self.now, self.seed = users, now, seed
        self.keys_per_user = keys_per_user
        self.label = f"{users}-user, {keys_per_user:g}-keys-per-user"
        self.info_file = self.dir / "account.json"
        self.proc = None
        self.seeding = None
        self.pid = None
        self.endpoint = None

    def reuse(self):
        if not self.info_file.exists():
            return False
        info = json.loads(self.info_file.read_text())
        if (info.get("seed"), info.get("keys_per_user")) != (self.seed, self.keys_per_user) \
                or not info.get("seeded"):
            return False
        if not (pid_alive(info["pid"]) and port_open(info["endpoint"])):
            return False
        self.pid, self.endpoint, self.now = info["pid"], info["endpoint"], info["now"]
        self.seconds_to_seed = info.get("seconds_to_seed")
        say(f"reusing the {self.label} account at {self.endpoint}")
        return True

    def start_seeding(self):
        """Starts moto and the seeding script; `finish_seeding` waits for it."""
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        clock = self.dir / "clock"
        clock.write_text(dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S\n"))
        port = free_port()
        self.endpoint = f"http://127.0.0.1:{port}"
        env = dict(os.environ, TZ="UTC", LD_PRELOAD=faketime_lib(),
                   FAKETIME_TIMESTAMP_FILE=str(clock), FAKETIME_NO_CACHE="1")
        # moto's server with IAM's ListUsers paging (at most 1,000 users a page).
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "scripts/moto_server.py"),
                                      "-H", "127.0.0.1", "-p", str(port)],
                                     env=env, stdin=subprocess.DEVNULL,
                                     stdout=open(self.dir / "moto.log", "w"),
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.proc.pid
        for _ in range(300):
            if port_open(self.endpoint):
                break
            if self.proc.poll() is not None:
                sys.exit(f"moto's server exited; see {self.dir / 'moto.log'}")
            time.sleep(0.1)
        else:
            sys.exit(f"moto's server did not start; see {self.dir / 'moto.log'}")
        say(f"seeding the {self.label} account into {self.endpoint}")
        self.started = time.monotonic()
        self.seeding = subprocess.Popen(self.seeding_command(clock), stdin=subprocess.DEVNULL)

    def seeding_command(self, clock):
        return [sys.executable, str(ROOT / "scripts/seed_account.py"), "--endpoint",
                self.endpoint, "--clock-file", str(clock), "--users", str(self.users),
                "--seed", str(self.seed), "--now", self.now, "--keys-per-user",
                str(self.keys_per_user), "--manifest", str(self.dir / "manifest.json"),
                "--quiet"]

    def finish_seeding(self):
        if self.seeding is None:
            return
        if self.seeding.wait() != 0:
            sys.exit(f"seeding the {self.label} account failed")
        self.seeding = None
        self.seconds_to_seed = round(time.monotonic() - self.started, 1)
        say(f"seeded the {self.label} account in {self.seconds_to_seed} s")
        self.info_file.write_text(json.dumps({
            "pid": self.pid, "endpoint": self.endpoint, "now": self.now, "seed": self.seed,
            "keys_per_user": self.keys_per_user, "seeded": True, "seconds_to_seed": self.seconds_to_seed}))

    @property
    def manifest(self):
        return json.loads((self.dir / "manifest.json").read_text())

    def stop(self):
        if self.pid and pid_alive(self.pid):
            os.kill(self.pid, signal.SIGTERM)
            if self.proc:
                self.proc.wait()
        self.info_file.unlink(missing_ok=True)


class Org(Account):
    """A moto server seeded with a generated organization: `accounts` member accounts of
    `users` users each (scripts/seed_org.py), reached through their
    OrganizationAccountAccessRole."""

    def __init__(self, work, accounts, users, now, seed):
        super().__init__(work, users, now, seed, 0)
        self.accounts = accounts
        self.dir = Path(work) / "orgs" / f"a{accounts}-u{users}"
        self.label = f"{accounts}-account, {users}-user organization"
        self.info_file = self.dir / "account.json"

    def seeding_command(self, clock):
        return [sys.executable, str(ROOT / "scripts/seed_org.py"), "--endpoint", self.endpoint,
                "--clock-file", str(clock), "--accounts", str(self.accounts),
                "--users-per-account", str(self.users), "--seed", str(self.seed),
                "--now", self.now, "--manifest", str(self.dir / "manifest.json"), "--quiet"]


# ---------------------------------------------------------------------------------------
# The proxy and the tools under test.

class Proxy:
    def __init__(self, bin_dir, upstream, flags, log):
        self.proc = subprocess.Popen(
            [str(Path(bin_dir) / "keyhygiene-iam-proxy"), "--upstream", upstream, *flags],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=open(log, "w"), text=True)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            sys.exit(f"the proxy did not start: {line!r}; see {log}")
        self.endpoint = line.removeprefix("listening on ")

    def stats(self):
        with urllib.request.urlopen(self.endpoint + "/__proxy/stats") as r:
            return json.load(r)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait()


def aws_env(endpoint=None):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and k not in ("LD_PRELOAD",)}
    env.update(AWS_ACCESS_KEY_ID=AUDIT_KEY_ID, AWS_SECRET_ACCESS_KEY=AUDIT_SECRET,
               AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1",
               AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
               AWS_EC2_METADATA_DISABLED="true")
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
    return env


def measured(cmd, env, log):
    """Runs a command; returns (exit code, wall seconds, peak RSS in MiB).

    The peak RSS comes from GNU time, which forks the command from its own small process:
    a child forked straight from this Python process would inherit this process's own peak
    RSS (Linux keeps the high-water mark across exec) and report it as the command's."""
    rss_file = Path(str(log) + ".maxrss")
    with open(log, "w") as out:
        started = time.monotonic()
        proc = subprocess.run([GNU_TIME, "-f", "%M", "-o", str(rss_file), *cmd], env=env,
                              stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        wall = time.monotonic() - started
    rss_kib = int(rss_file.read_text().strip().splitlines()[-1])
    return proc.returncode, wall, rss_kib / 1024.0


def browser_check(report_html, log_dir, filter_fragment="filter=svc%20active",
                  sort_fragment="sort=age-desc"):
    """Opens a rendered report in headless Chromium, once filtered and once sorted through
    the URL fragment; returns the page's own timings of one filter and one sort over every
    row (data-filter-ms, data-sort-ms), Chromium's wall time and the JS error count."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        sys.exit("chromium not found: run scripts/setup")
    out = {}
    for name, fragment in (("filter", filter_fragment), ("sort", sort_fragment)):
        profile = Path(log_dir) / f"chromium-{name}"
        shutil.rmtree(profile, ignore_errors=True)
        started = time.monotonic()
        dom = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update",
             "--disable-dev-shm-usage", "--virtual-time-budget=10000",
             f"--user-data-dir={profile.resolve()}", "--dump-dom",
             f"file://{Path(report_html).resolve()}#{fragment}"],
            capture_output=True, text=True, timeout=300).stdout
        out[f"{name}_load_s"] = time.monotonic() - started
        body = re.search(r"<body[^>]*>", dom)
        attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', body.group(0))) if body else {}
        out[f"{name}_ms"] = float(attrs.get(f"data-{name}-ms", "nan"))
        out[f"{name}_js_errors"] = int(attrs.get("data-js-errors", "0"))
    return out


def default_concurrency(bin_dir):
    text = subprocess.run([str(Path(bin_dir) / "keyhygiene"), "audit", "--help"],
                          capture_output=True, text=True).stdout
    m = re.search(r"--concurrency <N>.*?\[default: (\d+)\]", text, re.S)
    return int(m.group(1)) if m else None


# ---------------------------------------------------------------------------------------
# Scenarios.

def scenario_flags(args, name, victim):
    common = ["--latency-ms", str(args.latency_ms), "--jitter-ms", str(args.jitter_ms),
              "--seed", str(args.seed)]
    extra = {
        "A": [],
        "B": ["--throttle-rps", str(args.rate), "--throttle-burst", str(args.burst)],
        "C": ["--fault-rate", str(args.fault_rate)],
        "D": ["--deny", f"ListAccessKeys:UserName={victim}"],
    }[name]
    return common + extra


def describe(args, name):
    lat = f"{args.latency_ms}+U[0,{args.jitter_ms}) ms latency"
    return {
        "A": f"{lat}, no throttle",
        "B": f"{lat}, {args.rate:g} req/s per action, burst {args.burst:g}",
        "C": f"A plus {args.fault_rate:.0%} random faults (500, reset, slow)",
        "D": "A plus AccessDenied on ListAccessKeys for one user",
    }[name]


def crawl(args, account, name, flags, concurrency, tag, direct=False, plan=None):
    """One crawl through a proxy with `flags` (or, with `direct`, straight to the endpoint)."""
    out = Path(args.work_dir) / "runs" / f"u{account.users}-k{account.keys_per_user:g}-{tag}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    proxy = None if direct else Proxy(args.bin_dir, account.endpoint, flags, out / "proxy.log")
    inventory = out / "inventory.json"
    endpoint = account.endpoint if direct else proxy.endpoint
    cmd = [str(Path(args.bin_dir) / "keyhygiene"), "audit", "--endpoint-url", endpoint,
           "--as-of", account.now, "--save-inventory", str(inventory), "--out-dir",
           str(out / "report"), "--fail-on", "none", "--concurrency", str(concurrency),
           "--call-plan", plan or args.call_plan]
    code, wall, rss = measured(cmd, aws_env(), out / "keyhygiene.log")
    stats = None
    if proxy:
        stats = proxy.stats()
        proxy.stop()
    inv = json.loads(inventory.read_text()) if inventory.exists() else None
    return {"scenario": name, "users": account.users, "exit": code, "wall": wall,
            "rss_mib": rss, "proxy": stats, "inventory": inv, "dir": str(out)}


def floor(run, args, concurrency, throttled):
    mean_latency = (args.latency_ms + args.jitter_ms / 2.0) / 1000.0
    needed = {a: c["forwarded"] + c["denied"] for a, c in run["proxy"]["actions"].items()}
    by_latency = sum(needed.values()) * mean_latency / concurrency
    by_rate = max((n / args.rate for n in needed.values()), default=0.0) if throttled else 0.0
    return max(by_latency, by_rate), sum(needed.values())


def comparable(inv, drop_user=None):
    inv = json.loads(json.dumps(inv))
    for k in ("collected_at", "source", "stats", "coverage"):
        inv.pop(k, None)
    if drop_user:
        inv["users"] = [u for u in inv["users"] if u["name"] != drop_user]
        inv["gaps"] = []
    return inv


def verdict(run, baseline, victim):
    inv = run["inventory"]
    if inv is None:
        return "no inventory"
    if run["scenario"] == "D":
        gaps = inv["gaps"]
        gap_ok = (len(gaps) == 1 and gaps[0].get("user") == victim
                  and gaps[0]["operation"] == "ListAccessKeys"
                  and gaps[0]["error_code"] == "AccessDenied")
        report = json.loads((Path(run["dir"]) / "report/report.json").read_text())
        rgaps = report["coverage"]["gaps"]
        report_ok = len(rgaps) == 1 and rgaps[0]["user"] == victim
        same = baseline is not None and comparable(inv, victim) == comparable(baseline, victim)
        return ("gap for " + victim + (" in inventory+report.json" if gap_ok and report_ok
                                        else " MISSING") + ", exit " + str(run["exit"])
                + (", rest identical to A" if same else ", rest DIFFERS from A"))
    complete = not inv["gaps"]
    if baseline is None or baseline is inv:
        return "complete" if complete else f"INCOMPLETE ({len(inv['gaps'])} gaps)"
    same = comparable(inv) == comparable(baseline)
    return (("complete" if complete else f"INCOMPLETE ({len(inv['gaps'])} gaps)")
            + (", identical to A" if same else ", DIFFERS from A"))


def calls_cell(inv):
    calls = inv["stats"]["calls"] if inv else {}
    main = "/".join(str(calls.get(op, 0)) for op in MAIN_OPS)
    other = sum(v for k, v in calls.items() if k not in MAIN_OPS)
    return f"{main}/{other}"


def per_key_cell(inv):
    """Requests (retries included) per access key."""
    if not inv:
        return "-"
    keys = sum(len(u["keys"]) for u in inv["users"])
    calls = sum(inv["stats"]["calls"].values())
    return f"{calls / keys:.2f}" if keys else "-"


def finding_keys(run):
    report = json.loads((Path(run["dir"]) / "report/report.json").read_text())
    return {(f["rule_id"], f["user_name"], f["access_key_id"], f["severity"])
            for f in report["findings"]}


def plans_section(args, account, a_run, concurrency):
    """Scenario A again with the other call plan: the findings must be the same."""
    other = "full" if args.call_plan == "economical" else "economical"
    say(f"scenario A with --call-plan {other}")
    run = crawl(args, account, "A", scenario_flags(args, "A", None), concurrency,
                f"A-{other}", plan=other)
    run["floor"], _ = floor(run, args, concurrency, False)
    same = finding_keys(run) == finding_keys(a_run)
    print()
    print(f"Call plans, scenario A (U={args.users}, concurrency {concurrency}):")
    print()
    print("| call plan | wall s | calls | calls per key | KiB received | floor s | wall/floor "
          "| peak RSS MiB | keys from the report |")
    print("|---|---|---|---|---|---|---|---|---|")
    for plan, r in ((args.call_plan, a_run), (other, run)):
        inv = r["inventory"]
        from_report = sum(1 for u in inv["users"] for k in u["keys"]
                          if k.get("last_used_source") == "credential-report")
        print(f"| {plan} | {r['wall']:.1f} | {calls_cell(inv)} | {per_key_cell(inv)} "
              f"| {inv['stats'].get('bytes_received', 0) / 1024:.0f} | {r['floor']:.1f} "
              f"| {r['wall'] / r['floor']:.2f} | {r['rss_mib']:.1f} | {from_report} |")
    print()
    print(f"findings (rule, user, key, severity) identical: {'yes' if same else 'NO'} "
          f"({len(finding_keys(a_run))} findings)")


def scenario_table(runs, args, concurrency):
    print()
    print(f"Scenarios: U={args.users} users, concurrency {concurrency}, "
          f"latency {args.latency_ms}+U[0,{args.jitter_ms}) ms, profile {args.profile}")
    print(f"call plan {args.call_plan}; calls = GetAccountAuthorizationDetails/ListUsers/"
          "ListUserTags/ListAccessKeys/GetAccessKeyLastUsed/other, retries included")
    print()
    print("| scenario | wall s | calls | calls per key | KiB received | throttled | retries "
          "| slow attempts cut | failed | gaps | peak RSS MiB "
          "| floor s | wall/floor | proxy: requests, throttled, faulted, denied | result |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in runs:
        st = r["inventory"]["stats"] if r["inventory"] else {}
        p = r["proxy"]
        print(f"| {r['scenario']} | {r['wall']:.1f} | {calls_cell(r['inventory'])} "
              f"| {per_key_cell(r['inventory'])} | {st.get('bytes_received', 0) / 1024:.0f} "
              f"| {st.get('throttled', '-')} | {st.get('retries', '-')} "
              f"| {st.get('attempts_cut', '-')} | {st.get('failed_calls', '-')} "
              f"| {len(r['inventory']['gaps']) if r['inventory'] else '-'} "
              f"| {r['rss_mib']:.1f} | {r['floor']:.1f} "
              f"| {r['wall'] / r['floor']:.2f} | {p['requests']}, {p['throttled']}, "
              f"{p['faulted']}, {p['denied']} | {r['verdict']} |")
    print()
    for r in runs:
        print(f"  {r['scenario']}: {describe(args, r['scenario'])}")


# ---------------------------------------------------------------------------------------
# Prowler.

def run_prowler(args, account, concurrency):
    prowler = Path(args.prowler_venv) / "bin/prowler"
    if not prowler.exists():
        say(f"installing Prowler into {args.prowler_venv}")
        subprocess.run([sys.executable, "-m", "venv", args.prowler_venv], check=True)
        subprocess.run([str(Path(args.prowler_venv) / "bin/pip"), "install", "--quiet",
                        "--disable-pip-version-check", PROWLER_PIN], check=True)
    out = Path(args.work_dir) / "runs" / f"u{account.users}-prowler"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    proxy = Proxy(args.bin_dir, account.endpoint, scenario_flags(args, "A", None),
                  out / "proxy.log")
    cmd = [str(prowler), "aws", "--checks", *PROWLER_CHECKS, "-f", "us-east-1",
           "--output-formats", "csv", "--output-directory", str(out / "output"),
           "--no-banner"]
    say("running Prowler's five access-key checks through the proxy (scenario A)")
    code, wall, rss = measured(cmd, aws_env(proxy.endpoint), out / "prowler.log")
    stats = proxy.stats()
    proxy.stop()
    version = subprocess.run([str(prowler), "--version"], capture_output=True,
                             text=True).stdout.strip()
    return {"exit": code, "wall": wall, "rss_mib": rss, "proxy": stats, "dir": str(out),
            "version": version}


def prowler_findings(run):
    files = glob.glob(str(Path(run["dir"]) / "output" / "*.csv"))
    fails = {}
    for f in files:
        with open(f, newline="") as fh:
            for row in csv.DictReader(fh, delimiter=";"):
                if row["STATUS"] == "FAIL":
                    user = row["RESOURCE_UID"].rsplit("/", 1)[-1]
                    fails.setdefault(row["CHECK_ID"], []).append((user, row["STATUS_EXTENDED"]))
    return fails


def days_between(later, earlier):
    def parse(text):
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (parse(later) - parse(earlier)).days


def why_differs(check, user, only_in, inventory, as_of):
    """The reason one tool flags `user` for this check and the other does not."""
    u = next((x for x in inventory["users"] if x["name"] == user), None)
    if u is None:
        return "user not in keyhygiene's inventory"
    active = [k for k in u["keys"] if k["status"] == "Active"]
    never = [k for k in active if k["last_used"].get("state") == "never"]
    password = bool((u.get("login") or {}).get("password_enabled"))
    if check == "iam_user_accesskey_unused" and only_in == "keyhygiene":
        if never and all(days_between(as_of, k["created"]) > 45 for k in never):
            return "an active key never used, created over 45 days ago: Prowler skips keys without a last use"
    if check == "iam_user_no_setup_initial_access_key":
        if only_in == "keyhygiene" and never and not password:
            return "a never-used active key on a user without a console password: Prowler's check only looks at console users"
        if only_in == "Prowler" and never and all(days_between(as_of, k["created"]) <= 7 for k in never):
            return "the never-used key is at most 7 days old: inside keyhygiene's grace-days"
    return "unexplained"


def compare_findings(prowler_run, kh_run):
    report = json.loads((Path(kh_run["dir"]) / "report/report.json").read_text())
    kh = {}
    for f in report["findings"]:
        kh.setdefault(f["rule_id"], []).append(f["user_name"] or "<root>")
    pf = prowler_findings(prowler_run)
    rows = []
    for check, rule in RULE_FOR_CHECK.items():
        p_users = {u for u, _ in pf.get(check, [])}
        k_users = set(kh.get(rule, []))
        reasons = {}
        for only_in, users in (("Prowler", p_users - k_users), ("keyhygiene", k_users - p_users)):
            for user in users:
                why = why_differs(check, user, only_in, kh_run["inventory"], report["as_of"])
                key = f"only {only_in}: {why}"
                reasons[key] = reasons.get(key, 0) + 1
        rows.append({
            "check": check, "rule": rule,
            "prowler_findings": len(pf.get(check, [])), "keyhygiene_findings": len(kh.get(rule, [])),
            "users_both": len(p_users & k_users),
            "only_prowler": sorted(p_users - k_users), "only_keyhygiene": sorted(k_users - p_users),
            "reasons": reasons,
        })
    return rows


def prowler_section(prowler_run, kh_run):
    print()
    print(f"Prowler ({prowler_run['version']}) vs keyhygiene, scenario A, same account and proxy:")
    print()
    print("| tool | wall s | API requests | peak RSS MiB | exit |")
    print("|---|---|---|---|---|")
    print(f"| Prowler, 5 key checks | {prowler_run['wall']:.1f} | "
          f"{prowler_run['proxy']['requests']} | {prowler_run['rss_mib']:.1f} | "
          f"{prowler_run['exit']} |")
    print(f"| keyhygiene audit | {kh_run['wall']:.1f} | {kh_run['proxy']['requests']} | "
          f"{kh_run['rss_mib']:.1f} | {kh_run['exit']} |")
    print()
    print(f"Prowler / keyhygiene wall time: {prowler_run['wall'] / kh_run['wall']:.1f}x")
    top = sorted(prowler_run["proxy"]["actions"].items(), key=lambda kv: -kv[1]["requests"])
    print("Prowler's requests per action: " + ", ".join(
        f"{a}={c['requests']}" for a, c in top))
    print()
    print("| Prowler check | keyhygiene rule | Prowler FAIL | keyhygiene findings "
          "| users in both | users only Prowler | users only keyhygiene |")
    print("|---|---|---|---|---|---|---|")
    rows = compare_findings(prowler_run, kh_run)
    for r in rows:
        def names(xs):
            return f"{len(xs)}" + (f" (e.g. {', '.join(xs[:3])})" if xs else "")
        print(f"| {r['check']} | {r['rule']} | {r['prowler_findings']} "
              f"| {r['keyhygiene_findings']} | {r['users_both']} | {names(r['only_prowler'])} "
              f"| {names(r['only_keyhygiene'])} |")
    print()
    print("Why the users differ:")
    for r in rows:
        for why, n in sorted(r["reasons"].items()):
            print(f"  {r['check']} / {r['rule']}: {n} users {why}")
    return rows


# ---------------------------------------------------------------------------------------
# The organization scenario: every member account behind latency, each throttled on its own
# (the proxy's buckets are per action and per access key id, and each account is one
# assumed-role session), crawled in one organization run; then the same accounts audited one
# at a time in a loop, the way users script it without organization support.

def org_members(org):
    return [a for a in org.manifest["accounts"] if not a.get("management")]


def account_floor(account, args, concurrency):
    """The fastest one account's crawl can be: its calls at the proxy's latency with
    `concurrency` in flight, or its busiest action at the throttle rate, whichever is longer."""
    users = len(account["users"])
    keys = sum(len(u["keys"]) for u in account["users"])
    needed = {"ListUsers": max(1, -(-users // 100)), "ListUserTags": users,
              "ListAccessKeys": users, "GetAccessKeyLastUsed": keys}
    mean_latency = (args.latency_ms + args.jitter_ms / 2.0) / 1000.0
    by_latency = (sum(needed.values()) + 4) * mean_latency / concurrency
    by_rate = max(max(0.0, n - args.burst_org) / args.org_rate for n in needed.values())
    return max(by_latency, by_rate), sum(needed.values()) + 4


def org_crawl(args, org, flags, extra, tag, direct=False):
    out = Path(args.work_dir) / "runs" / f"org-a{org.accounts}-u{org.users}-{tag}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    proxy = None if direct else Proxy(args.bin_dir, org.endpoint, flags, out / "proxy.log")
    endpoint = org.endpoint if direct else proxy.endpoint
    cmd = [str(Path(args.bin_dir) / "keyhygiene"), "audit", "--endpoint-url", endpoint,
           "--as-of", org.now, "--save-inventory", str(out / "saved"), "--out-dir",
           str(out / "report"), "--fail-on", "none", *extra]
    code, wall, rss = measured(cmd, aws_env(), out / "keyhygiene.log")
    if proxy:
        proxy.stop()
    inventories = {}
    for f in sorted((out / "saved").glob("account-*.json")):
        inv = json.loads(f.read_text())
        inventories[inv["account_id"]] = inv
    return {"exit": code, "wall": wall, "rss_mib": rss, "inventories": inventories,
            "dir": str(out)}


def org_scenario(args, org):
    flags = ["--latency-ms", str(args.latency_ms), "--jitter-ms", str(args.jitter_ms),
             "--seed", str(args.seed), "--throttle-rps", str(args.org_rate),
             "--throttle-burst", str(args.burst_org), "--throttle-per-credential"]
    if args.org_fault_rate > 0:
        flags += ["--fault-rate", str(args.org_fault_rate)]
    members = org_members(org)
    floors = {a["id"]: account_floor(a, args, args.org_concurrency) for a in members}
    org_floor = max(f for f, _ in floors.values())
    results = {"accounts": len(members), "users_per_account": org.users,
               "floor": org_floor, "rows": []}
    say(f"organization: {len(members)} accounts; the endpoint alone (no proxy)")
    direct = org_crawl(args, org, [], ["--org", "--concurrency", str(args.org_concurrency)],
                       "direct", direct=True)
    results["direct_wall"] = direct["wall"]
    for ac in [int(c) for c in args.account_concurrency.split(",") if c]:
        say(f"organization run, --account-concurrency {ac}")
        run = org_crawl(args, org, flags, ["--org", "--account-concurrency", str(ac),
                                           "--concurrency", str(args.org_concurrency)], f"ac{ac}")
        complete = all(not inv["gaps"] for inv in run["inventories"].values()) \
            and len(run["inventories"]) == len(members) + 1
        stats = [inv["stats"] for inv in run["inventories"].values()]
        results["rows"].append({"account_concurrency": ac, "wall": run["wall"],
                                "rss_mib": run["rss_mib"], "exit": run["exit"],
                                "complete": complete, "inventories": run["inventories"],
                                "retries": sum(s.get("retries", 0) for s in stats),
                                "cut": sum(s.get("attempts_cut", 0) for s in stats)})
        say(f"  {run['wall']:.1f} s ({run['wall'] / org_floor:.2f} x floor {org_floor:.1f} s)")
    say("the same accounts one at a time, one keyhygiene run each")
    loop_wall, same, loop_rss = 0.0, 0, 0.0
    best = min(results["rows"], key=lambda r: r["wall"])
    for a in ([] if args.org_no_loop else members):
        run = org_crawl(args, org, flags, ["--accounts", a["id"], "--concurrency",
                                           str(args.org_concurrency)], f"loop-{a['id']}")
        loop_wall += run["wall"]
        loop_rss = max(loop_rss, run["rss_mib"])
        single = run["inventories"].get(a["id"])
        in_org = best["inventories"].get(a["id"])
        if single and in_org and comparable(single) == comparable(in_org):
            same += 1
    results.update(loop_wall=loop_wall, loop_rss_mib=loop_rss, identical=same)
    for r in results["rows"]:
        r.pop("inventories")
    print()
    name = "Organization scenario F" if args.org_fault_rate > 0 else "Organization scenario"
    faults = (f", {args.org_fault_rate:.0%} random faults (500, reset, slow) in each account"
              if args.org_fault_rate > 0 else "")
    print(f"{name}: {len(members)} member accounts x {org.users} users{faults}, "
          f"{args.latency_ms}+U[0,{args.jitter_ms}) ms latency, {args.org_rate:g} req/s per "
          f"action and account (burst {args.burst_org:g}), --concurrency {args.org_concurrency}, "
          f"profile {args.profile}:")
    print()
    print("| run | wall s | org floor s | wall/floor | retries | slow attempts cut "
          "| peak RSS MiB | coverage |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results["rows"]:
        print(f"| --org, --account-concurrency {r['account_concurrency']} | {r['wall']:.1f} "
              f"| {org_floor:.1f} | {r['wall'] / org_floor:.2f} | {r['retries']} | {r['cut']} "
              f"| {r['rss_mib']:.1f} "
              f"| {'complete' if r['complete'] else 'INCOMPLETE'}, exit {r['exit']} |")
    if not args.org_no_loop:
        print(f"| one run per account, in a loop | {loop_wall:.1f} | {org_floor:.1f} "
              f"| {loop_wall / org_floor:.2f} | {loop_rss:.1f} (largest run) | "
              f"{same} of {len(members)} accounts identical to the organization run |")
    print(f"| --org straight to the endpoint, no proxy | {direct['wall']:.1f} | | | "
          f"{direct['rss_mib']:.1f} | endpoint capacity |")
    return results


# ---------------------------------------------------------------------------------------
# The organization report at size: N accounts, each a copy of the demo account's saved
# inventory (302 users, 313 keys) under its own account id, audited offline.

SAMPLE_INVENTORY = ROOT / "tests/fixtures/demo-inventory-v1.json"  # API-sourced: any as-of
SAMPLE_ACCOUNT = "123456789012"


def sample_inventory_text(users):
    """The demo account's saved inventory, grown to `users` users (0: as it is) by copying
    its users under new names, user ids and key ids."""
    text = SAMPLE_INVENTORY.read_text()
    if users <= 0:
        return text
    doc = json.loads(text)
    originals = doc["users"]
    grown = list(originals)
    n = 0
    while len(grown) < users:
        source = originals[n % len(originals)]
        n += 1
        copy = json.loads(json.dumps(source))
        copy["name"] = f"{source['name']}-copy{n}"
        copy["arn"] = f"{source['arn']}-copy{n}"
        copy["user_id"] = f"AIDACOPY{n:012d}"
        for i, key in enumerate(copy["keys"]):
            key["id"] = f"AKIACOPY{n:010d}{i:02d}"
        grown.append(copy)
    doc["users"] = grown[:users]
    doc.pop("coverage", None)
    return json.dumps(doc, indent=2)


def org_pages(args, n):
    users = getattr(args, "org_page_users", 0)
    out = Path(args.work_dir) / f"org-pages-{n}" if not users else \
        Path(args.work_dir) / f"org-pages-{n}x{users}"
    shutil.rmtree(out, ignore_errors=True)
    saved = out / "inventories"
    saved.mkdir(parents=True)
    text = sample_inventory_text(users)
    ids = [f"{200000000000 + i:012d}" for i in range(n)]
    for account in ids:
        (saved / f"account-{account}.json").write_text(text.replace(SAMPLE_ACCOUNT, account))
    keys = sum(len(u["keys"]) for u in json.loads(text)["users"])
    code, wall, rss = measured(
        [str(Path(args.bin_dir) / "keyhygiene"), "audit", "--from-inventory", str(saved),
         "--as-of", "2026-11-23T09:00:00Z", "--out-dir", str(out / "rendered"),
         "--fail-on", "none", "--quiet"], aws_env(), out / "render.log")
    rendered = out / "rendered"
    sizes = {p.name: p.stat().st_size for p in rendered.iterdir()}
    overview = browser_check(rendered / "report.html", out, "filter=2000000000", "sort=keys-desc")
    page = browser_check(rendered / f"account-{ids[0]}.html", out)
    row = {"accounts": n, "users": len(json.loads(text)["users"]), "keys": keys * n,
           "render_wall": wall, "render_rss_mib": rss,
           "render_exit": code, "overview_bytes": sizes.get("report.html", 0),
           "page_bytes": sizes.get(f"account-{ids[0]}.html", 0),
           "overview": overview, "page": page}
    say(f"organization report, {n} accounts: render {wall:.2f} s, {rss:.1f} MiB")
    return row


def history_runs(args, accounts, runs):
    """An organization audited `runs` times with --history, then with --baseline: the cost of
    comparing and recording, against the same audit without either."""
    out = Path(args.work_dir) / f"history-{accounts}x{runs}"
    shutil.rmtree(out, ignore_errors=True)
    saved = out / "inventories"
    saved.mkdir(parents=True)
    text = SAMPLE_INVENTORY.read_text()
    for i in range(accounts):
        account = f"{200000000000 + i:012d}"
        (saved / f"account-{account}.json").write_text(text.replace(SAMPLE_ACCOUNT, account))
    history = out / "history"
    binary = str(Path(args.bin_dir) / "keyhygiene")

    def audit(day, extra, tag):
        as_of = f"2026-11-{23 + day:02d}T09:00:00Z" if day < 8 else f"2026-12-{day - 7:02d}T09:00:00Z"
        return measured([binary, "audit", "--from-inventory", str(saved), "--as-of", as_of,
                         "--out-dir", str(out / tag), "--fail-on", "none", "--quiet"] + extra,
                        aws_env(), out / f"{tag}.log")

    _, plain_wall, plain_rss = audit(0, [], "plain")
    walls = []
    for day in range(runs):
        code, wall, rss = audit(day, ["--history", str(history)], f"run-{day}")
        walls.append((wall, rss, code))
    last = out / f"run-{runs - 1}"
    _, baseline_wall, baseline_rss = audit(runs, ["--baseline", str(last)], "baseline")
    records = sorted(history.iterdir())
    doc = json.loads((last / "report.json").read_text())
    row = {"accounts": accounts, "runs": runs, "findings": len(doc["findings"]),
           "plain_wall": plain_wall, "plain_rss_mib": plain_rss,
           "first_wall": walls[0][0], "first_rss_mib": walls[0][1],
           "last_wall": walls[-1][0], "last_rss_mib": walls[-1][1],
           "baseline_wall": baseline_wall, "baseline_rss_mib": baseline_rss,
           "record_bytes": records[-1].stat().st_size, "records": len(records),
           "trend_points": len(doc["history"]["trend"]), "comparison": doc["comparison"]}
    say(f"history, {accounts} accounts x {runs} runs: plain {plain_wall:.2f} s, "
        f"last history run {walls[-1][0]:.2f} s, baseline {baseline_wall:.2f} s")
    return row


def history_table(row):
    print()
    print(f"Runs with a baseline: {row['accounts']} accounts x 313 keys, {row['findings']} "
          f"findings, {row['runs']} runs a day apart with --history:")
    print()
    print("| run | wall s | peak RSS MiB |")
    print("|---|---|---|")
    print(f"| no baseline, no history | {row['plain_wall']:.2f} | {row['plain_rss_mib']:.1f} |")
    print(f"| --history, first run (empty folder) | {row['first_wall']:.2f} | {row['first_rss_mib']:.1f} |")
    print(f"| --history, run {row['runs']} (baseline + trend of {row['trend_points']} runs) "
          f"| {row['last_wall']:.2f} | {row['last_rss_mib']:.1f} |")
    print(f"| --baseline report.json | {row['baseline_wall']:.2f} | {row['baseline_rss_mib']:.1f} |")
    print()
    print(f"History record: {row['record_bytes'] / 1024:.0f} KiB per run; comparison of the last "
          f"history run: {row['comparison']}")


def org_pages_table(rows):
    print()
    print("Organization report from saved inventories (each account: the demo account's "
          "users, copied up to the users shown):")
    print()
    print("| accounts | users each | keys | render s | render peak RSS MiB | overview KiB "
          "| overview filter / sort ms | account page KiB | account page filter / sort ms "
          "| JS errors |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        o, p = r["overview"], r["page"]
        errors = sum(x[f"{k}_js_errors"] for x in (o, p) for k in ("filter", "sort"))
        print(f"| {r['accounts']} | {r['users']} | {r['keys']} | {r['render_wall']:.2f} "
              f"| {r['render_rss_mib']:.1f} | {r['overview_bytes'] / 1024:.0f} "
              f"| {o['filter_ms']:.0f} / {o['sort_ms']:.0f} | {r['page_bytes'] / 1024:.0f} "
              f"| {p['filter_ms']:.0f} / {p['sort_ms']:.0f} | {errors} |")
    for a, b in zip(rows, rows[1:]):
        print(f"peak RSS, {b['accounts']} accounts against {a['accounts']}: "
              f"{b['render_rss_mib'] / a['render_rss_mib']:.2f}x")


def main():
    args = parse_args()
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    concurrencies = ([int(c) for c in args.concurrency.split(",") if c] if args.concurrency
                     else [default_concurrency(args.bin_dir) or 16])
    concurrency = concurrencies[0]
    scenarios = [s for s in args.scenarios.split(",") if s]
    scale = [int(u) for u in args.scale.split(",") if u]
    # One account for the scenarios (and Prowler), one per size of the scale series; the
    # same size and density is seeded once.
    wanted = [(u, args.scale_keys_per_user) for u in scale]
    if scenarios or args.prowler:
        wanted.append((args.users, args.keys_per_user))
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")

    accounts = {w: Account(work, w[0], now, args.seed, w[1]) for w in sorted(set(wanted))}
    if args.org:
        accounts["org"] = Org(work, args.org_accounts, args.org_users, now, args.seed)
    started = []
    try:
        pending = [a for a in accounts.values() if not (args.reuse_accounts and a.reuse())]
        # Seed a few accounts at once (each is one moto process and one client).
        while pending:
            batch, pending = pending[:args.parallel_seeding], pending[args.parallel_seeding:]
            for a in batch:
                a.start_seeding()
                started.append(a)
            for a in batch:
                a.finish_seeding()

        results = {"now": now, "concurrency": concurrencies, "profile": args.profile,
                   "settings": vars(args), "scenarios": [], "scale": []}
        runs = []
        baseline = None
        main_account = accounts.get((args.users, args.keys_per_user))
        victim = None
        if main_account and scenarios:
            users = main_account.manifest["users"]
            victim = min(u["name"] for u in users
                         if u["keys"] and re.fullmatch(r"[A-Za-z0-9.-]+", u["name"]))
            for c in concurrencies:
                these = []
                for name in scenarios:
                    say(f"scenario {name}, concurrency {c}: {describe(args, name)}")
                    tag = name if len(concurrencies) == 1 else f"{name}-c{c}"
                    run = crawl(args, main_account, name, scenario_flags(args, name, victim),
                                c, tag)
                    run["concurrency"] = c
                    run["floor"], run["needed_calls"] = floor(run, args, c, name == "B")
                    if name == "A" and baseline is None:
                        baseline = run["inventory"]
                    run["verdict"] = verdict(run, baseline, victim)
                    say(f"scenario {name}, concurrency {c}: {run['wall']:.1f} s, {run['verdict']}")
                    these.append(run)
                scenario_table(these, args, c)
                runs.extend(these)
                if args.compare_plans and "A" in scenarios:
                    plans_section(args, main_account, these[scenarios.index("A")], c)

        scale_rows = []
        for u in scale:
            account = accounts[(u, args.scale_keys_per_user)]
            reuse = None
            if args.scale_keys_per_user == args.keys_per_user:
                reuse = next((r for r in runs if r["scenario"] == "A" and r["users"] == u
                              and r["concurrency"] == concurrency), None)
            run = reuse or crawl(args, account, "A", scenario_flags(args, "A", None),
                                 concurrency, "scale-A")
            if not reuse:
                run["floor"], run["needed_calls"] = floor(run, args, concurrency, False)
            inventory = Path(run["dir"]) / "inventory.json"
            code, render_wall, render_rss = measured(
                [str(Path(args.bin_dir) / "keyhygiene"), "audit", "--from-inventory",
                 str(inventory), "--as-of", account.now, "--out-dir",
                 str(Path(run["dir"]) / "rendered"), "--fail-on", "none", "--quiet"],
                aws_env(), Path(run["dir"]) / "render.log")
            keys = sum(len(x["keys"]) for x in run["inventory"]["users"])
            browser = browser_check(Path(run["dir"]) / "rendered/report.html", run["dir"])
            # The same crawl straight to the endpoint, without the proxy's latency: how fast
            # the local endpoint itself can answer.
            bare = crawl(args, account, "A", [], concurrency, "scale-direct", direct=True)
            scale_rows.append({"users": u, "keys": keys, "wall": run["wall"],
                               "direct_wall": bare["wall"],
                               "floor": run["floor"], "calls": run["needed_calls"],
                               "rss_mib": run["rss_mib"], "render_wall": render_wall,
                               "render_rss_mib": render_rss, "render_exit": code,
                               "seed_seconds": getattr(account, "seconds_to_seed", None),
                               "verdict": verdict(run, None, None), **browser})
            say(f"scale U={u}: {run['wall']:.1f} s, render {render_wall:.2f} s")
        if scale_rows:
            print()
            print(f"Scale series, scenario A, concurrency {concurrency}, profile {args.profile}:")
            print()
            print("| users | keys | API calls | crawl wall s | floor s | wall/floor "
                  "| same crawl straight to moto, no latency, s "
                  "| crawl peak RSS MiB | render from saved inventory s | render peak RSS MiB "
                  "| HTML in Chromium: one filter / one sort of all rows, ms, JS errors "
                  "| coverage |")
            print("|---|---|---|---|---|---|---|---|---|---|---|---|")
            for r in scale_rows:
                print(f"| {r['users']} | {r['keys']} | {r['calls']} | {r['wall']:.1f} "
                      f"| {r['floor']:.1f} | {r['wall'] / r['floor']:.2f} | {r['direct_wall']:.1f} "
                      f"| {r['rss_mib']:.1f} "
                      f"| {r['render_wall']:.2f} | {r['render_rss_mib']:.1f} "
                      f"| {r['filter_ms']:.0f} / {r['sort_ms']:.0f}, "
                      f"{r['filter_js_errors'] + r['sort_js_errors']} "
                      f"| {r['verdict']} |")

        if args.org:
            results["org"] = org_scenario(args, accounts["org"])

        if args.history_runs:
            h_accounts, h_runs = (int(x) for x in args.history_runs.split(":"))
            history_row = history_runs(args, h_accounts, h_runs)
            history_table(history_row)
            results["history_runs"] = history_row
        org_rows = [org_pages(args, int(n)) for n in args.org_pages.split(",") if n]
        if org_rows:
            org_pages_table(org_rows)
            results["org_pages"] = org_rows

        if args.prowler and main_account:
            a_run = next((r for r in runs if r["scenario"] == "A"
                          and r["concurrency"] == concurrency), None)
            if a_run is None:
                a_run = crawl(args, main_account, "A", scenario_flags(args, "A", None),
                              concurrency, "A")
            prowler_run = run_prowler(args, main_account, concurrency)
            results["prowler"] = {k: v for k, v in prowler_run.items()}
            results["prowler"]["comparison"] = prowler_section(prowler_run, a_run)

        for r in runs:
            r = dict(r)
            r.pop("inventory")
            results["scenarios"].append(r)
        results["scale"] = scale_rows
        (work / "results.json").write_text(json.dumps(results, indent=1))
        say(f"results saved to {work / 'results.json'}")
    finally:
        if not args.keep_accounts:
            for a in started:
                a.stop()
            for a in accounts.values():
                if a not in started and a.pid:
                    a.stop()
        else:
            say("accounts left running (--keep-accounts): reuse with --reuse-accounts")


if __name__ == "__main__":
    main()
