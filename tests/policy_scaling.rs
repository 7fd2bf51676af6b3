//! Policy files with many `[[suppress]]` entries: loading them and applying them grows in
//! proportion to the entries, and applying them keeps its meaning (the first matching
//! entry in file order wins).
//!
//! The growth tests compare a policy of N entries with one of 8 × N and check that the work
//! grew at most 12-fold; work that grows with the square of the entries grows about
//! 64-fold. Work is never measured as time: it is counted as
//! - heap allocations and bytes allocated, by a counting allocator (per thread, so tests
//!   running in parallel do not disturb each other);
//! - page reads of the policy text: the text sits in memory of which only the two pages
//!   read last are readable, so every move of the parser to another 4 KiB page of the text
//!   is counted. Reading the text once costs about one count per page; reading it again
//!   from the start for every entry costs a count per page per entry.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeSet;

use chrono::{DateTime, TimeZone, Utc};
use keyhygiene::inventory::Inventory;
use keyhygiene::policy::{self, Pattern, Policy, Suppression};

// ---------------------------------------------------------------------------------------
// Counting allocator

#[derive(Clone, Copy, Default)]
struct Counts {
    calls: u64,
    bytes: u64,
    live: i64,
    peak: i64,
}

thread_local! {
    static COUNTS: Cell<Counts> = const {
        Cell::new(Counts { calls: 0, bytes: 0, live: 0, peak: 0 })
    };
}

fn count(allocated: usize, freed: usize) {
    let _ = COUNTS.try_with(|c| {
        let mut n = c.get();
        if allocated > 0 {
            n.calls += 1;
            n.bytes += allocated as u64;
        }
        n.live += allocated as i64 - freed as i64;
        n.peak = n.peak.max(n.live);
        c.set(n);
    });
}

struct Counting;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size(), 0);
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size(), 0);
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(0, layout.size());
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size, layout.size());
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// What `f` allocated on this thread: (calls, bytes, peak of live bytes above the start).
fn allocations<T>(f: impl FnOnce() -> T) -> (T, Counts) {
    let before = COUNTS.with(|c| {
        let mut n = c.get();
        n.peak = n.live;
        c.set(n);
        n
    });
    let out = f();
    let after = COUNTS.with(Cell::get);
    (
        out,
        Counts {
            calls: after.calls - before.calls,
            bytes: after.bytes - before.bytes,
            live: after.live - before.live,
            peak: after.peak - before.live,
        },
    )
}

// ---------------------------------------------------------------------------------------
// Counting page reads of a text

#[cfg(target_os = "linux")]
mod page_reads {
    use std::ptr;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

    static REGION_START: AtomicUsize = AtomicUsize::new(0);
    static REGION_LEN: AtomicUsize = AtomicUsize::new(0);
    static PAGE: AtomicUsize = AtomicUsize::new(4096);
    /// The pages currently readable (0: none), and which of them goes next.
    static OPEN: [AtomicUsize; 2] = [AtomicUsize::new(0), AtomicUsize::new(0)];
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    static FAULTS: AtomicU64 = AtomicU64::new(0);
    static mut PREVIOUS: Option<libc::sigaction> = None;
    /// One counted text at a time.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

    extern "C" fn on_fault(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
        let addr = unsafe { (*info).si_addr() } as usize;
        let start = REGION_START.load(Ordering::SeqCst);
        let len = REGION_LEN.load(Ordering::SeqCst);
        if len == 0 || addr < start || addr >= start + len {
            // Not a read of the counted text: give the fault back to the previous handler
            // (the access faults again at once).
            unsafe {
                match &*ptr::addr_of!(PREVIOUS) {
                    Some(previous) => {
                        libc::sigaction(sig, previous, ptr::null_mut());
                    }
                    None => {
                        libc::signal(sig, libc::SIG_DFL);
                    }
                }
            }
            return;
        }
        let page_size = PAGE.load(Ordering::SeqCst);
        let page = addr & !(page_size - 1);
        let slot = NEXT.fetch_add(1, Ordering::SeqCst) % OPEN.len();
        let closing = OPEN[slot].swap(page, Ordering::SeqCst);
        unsafe {
            if closing != 0 {
                libc::mprotect(closing as *mut libc::c_void, page_size, libc::PROT_NONE);
            }
            libc::mprotect(page as *mut libc::c_void, page_size, libc::PROT_READ);
        }
        FAULTS.fetch_add(1, Ordering::SeqCst);
    }

    /// Runs `f` on a copy of `text` of which only the two pages read last are readable, and
    /// returns how many times `f` moved on to another page of it. `f` must not keep
    /// references into the text.
    pub fn count<T>(text: &str, f: impl FnOnce(&str) -> T) -> (T, u64) {
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        unsafe {
            let page_size = libc::sysconf(libc::_SC_PAGESIZE) as usize;
            let len = text.len().div_ceil(page_size).max(1) * page_size;
            let region = libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            assert_ne!(region, libc::MAP_FAILED, "mmap failed");
            ptr::copy_nonoverlapping(text.as_ptr(), region as *mut u8, text.len());
            let copy = std::str::from_utf8_unchecked(std::slice::from_raw_parts(
                region as *const u8,
                text.len(),
            ));

            PAGE.store(page_size, Ordering::SeqCst);
            OPEN.iter().for_each(|p| p.store(0, Ordering::SeqCst));
            FAULTS.store(0, Ordering::SeqCst);
            REGION_START.store(region as usize, Ordering::SeqCst);
            REGION_LEN.store(len, Ordering::SeqCst);
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_fault as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO;
            libc::sigemptyset(&mut action.sa_mask);
            let mut previous: libc::sigaction = std::mem::zeroed();
            assert_eq!(libc::sigaction(libc::SIGSEGV, &action, &mut previous), 0);
            *ptr::addr_of_mut!(PREVIOUS) = Some(previous);
            assert_eq!(libc::mprotect(region, len, libc::PROT_NONE), 0);

            let out = f(copy);

            let faults = FAULTS.load(Ordering::SeqCst);
            libc::sigaction(libc::SIGSEGV, &previous, ptr::null_mut());
            REGION_LEN.store(0, Ordering::SeqCst);
            libc::munmap(region, len);
            (out, faults)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Policies

const RULES: &[&str] = &[
    "root-access-key-present",
    "key-not-rotated",
    "key-unused",
    "key-never-used",
    "key-inactive-not-deleted",
    "user-two-active-keys",
    "*",
];

/// A small deterministic random number generator (64-bit LCG, high bits).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// A policy file with `n` varied suppressions, as it grows over years: every rule id and
/// `*`, plain user names, globs, key ids, reasons, expiry dates or none. With `problem`,
/// every entry also has an unknown key.
fn policy_text(n: usize, problem: bool) -> String {
    let mut rng = Lcg(n as u64);
    let mut text = String::from(
        "[rules.key-not-rotated]\nmax-age-days = 90\n\n[scope.exclude]\nusers = [\"break-glass-*\"]\n\n",
    );
    for i in 0..n {
        let user = match rng.below(6) {
            0 => format!("svc-ci-{i:06}-*"),
            1 => format!("team-{}/user-{i}?", rng.below(100)),
            2 => format!("app-{{blue,green}}-{i}"),
            3 => format!("ops-[a-c]{i}"),
            _ => format!("user.{i:07}"),
        };
        text.push_str("[[suppress]]\n");
        text.push_str(&format!("rule = \"{}\"\n", rng.pick(RULES)));
        text.push_str(&format!("user = \"{user}\"\n"));
        if rng.below(3) == 0 {
            text.push_str(&format!(
                "access-key-id = \"AKIA{:016}\"\n",
                rng.below(1 << 40)
            ));
        }
        text.push_str(&format!(
            "reason = \"accepted risk; ticket SEC-{}\"\n",
            rng.below(100_000)
        ));
        match rng.below(3) {
            0 => text.push_str(&format!("expires = 2026-{:02}-15\n", 1 + rng.below(12))),
            1 => text.push_str(&format!("expires = \"2027-{:02}-01\"\n", 1 + rng.below(12))),
            _ => {}
        }
        if problem {
            text.push_str("note = \"not a key of [[suppress]]\"\n");
        }
        text.push('\n');
    }
    text
}

fn ratio(small: u64, large: u64) -> f64 {
    large as f64 / small.max(1) as f64
}

const SMALL: usize = 500;
const LARGE: usize = 8 * SMALL;
/// The most 8 × the entries may cost: linear work with room for fixed costs, far below
/// the 64-fold of work that grows with the square of the entries.
const MAX_RATIO: f64 = 12.0;

// ---------------------------------------------------------------------------------------
// Growth

#[cfg(target_os = "linux")]
#[test]
fn a_valid_policy_is_read_a_bounded_number_of_times() {
    let parse = |n| {
        let text = policy_text(n, false);
        let (policy, reads) = page_reads::count(&text, |t| policy::parse_str(t, "policy.toml"));
        let policy = policy.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(policy.suppressions.len(), n);
        (reads, text.len())
    };
    let (small, small_len) = parse(SMALL);
    let (large, large_len) = parse(LARGE);
    let pages = |len: usize| len.div_ceil(4096) as u64;
    eprintln!(
        "page reads: {SMALL} entries {small} ({} pages), {LARGE} entries {large} ({} pages)",
        pages(small_len),
        pages(large_len)
    );
    assert!(
        ratio(small, large) < MAX_RATIO,
        "reading {LARGE} entries moved between pages of the text {large} times, {SMALL} entries {small} times: {:.1}x for 8x the entries",
        ratio(small, large)
    );
}

#[cfg(target_os = "linux")]
#[test]
fn a_policy_with_a_problem_in_every_entry_is_read_a_bounded_number_of_times() {
    let parse = |n| {
        let text = policy_text(n, true);
        let (problems, reads) = page_reads::count(&text, |t| {
            policy::parse_str(t, "policy.toml").expect_err("every entry has an unknown key")
        });
        assert_eq!(problems.problems.len(), n);
        reads
    };
    let (small, large) = (parse(SMALL), parse(LARGE));
    eprintln!("page reads with problems: {SMALL} entries {small}, {LARGE} entries {large}");
    assert!(
        ratio(small, large) < MAX_RATIO,
        "reporting {LARGE} problems moved between pages of the text {large} times, {SMALL} problems {small} times: {:.1}x for 8x the entries",
        ratio(small, large)
    );
}

#[test]
fn loading_allocates_in_proportion_to_the_suppressions() {
    let dir = tempfile::tempdir().unwrap();
    let load = |n| {
        let path = dir.path().join(format!("policy-{n}.toml"));
        std::fs::write(&path, policy_text(n, false)).unwrap();
        let (policy, counts) = allocations(|| policy::load(&path));
        assert_eq!(
            policy.unwrap_or_else(|e| panic!("{e}")).suppressions.len(),
            n
        );
        counts
    };
    let small = load(SMALL);
    let large = load(LARGE);
    eprintln!(
        "allocations: {SMALL} entries {} calls, {} bytes, peak {} bytes; {LARGE} entries {} calls, {} bytes, peak {} bytes",
        small.calls, small.bytes, small.peak, large.calls, large.bytes, large.peak
    );
    for (what, s, l) in [
        ("allocation calls", small.calls, large.calls),
        ("bytes allocated", small.bytes, large.bytes),
        ("peak live bytes", small.peak as u64, large.peak as u64),
    ] {
        assert!(
            ratio(s, l) < MAX_RATIO,
            "{what}: {s} for {SMALL} entries, {l} for {LARGE}: {:.1}x for 8x the entries",
            ratio(s, l)
        );
    }
    // The policy text is about 120 bytes an entry and its TOML tree about 3 KB at its
    // peak; compiling every glob into its own regular expression cost about 15 KB more.
    let per_entry = large.peak / LARGE as i64;
    assert!(
        per_entry < 6 * 1024,
        "loading used up to {per_entry} bytes of memory per suppression"
    );
}

// ---------------------------------------------------------------------------------------
// Meaning

/// globset's own matcher for a policy glob, built as the policy builds its globs.
fn globset_matcher(glob: &str) -> Option<globset::GlobMatcher> {
    globset::GlobBuilder::new(glob)
        .case_insensitive(true)
        .literal_separator(false)
        .build()
        .ok()
        .map(|g| g.compile_matcher())
}

fn expired(s: &Suppression, as_of: DateTime<Utc>) -> bool {
    s.expires.is_some_and(|d| as_of.date_naive() > d)
}

#[test]
fn the_first_matching_entry_in_file_order_wins_among_thousands() {
    let inventory = Inventory::from_json_file(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/demo-inventory-v1.json"),
    )
    .unwrap();
    let as_of = Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap();
    let all = keyhygiene::rules::evaluate(&inventory, &Policy::default().rules, as_of);
    assert!(all.len() > 100, "the sample account has findings");

    // Entries aimed at the findings in every way an entry can match one, mixed with entries
    // that match nothing, expired entries, and entries in other letter cases.
    let mut rng = Lcg(7);
    let mut text = String::new();
    // A fifth of the findings is not aimed at (broad entries may still match them).
    let aimed = &all[..all.len() * 4 / 5];
    for i in 0..2000 {
        let f = rng.pick(aimed);
        let rule = match rng.below(5) {
            0 => "*".to_string(),
            1 => rng.pick(RULES).to_string(),
            _ => f.rule_id.clone(),
        };
        let name = &f.user_name;
        let user = match rng.below(8) {
            0 => format!("*{}", &name[name.len().saturating_sub(2)..]),
            1 => format!("{}*", &name[..name.len().min(3)]),
            2 => name.to_uppercase(),
            3 => format!("{name}?"),
            4 => format!(
                "[{}]*",
                &name[..1].replace(['[', ']', '!', '^', '-', '\\'], "x")
            ),
            5 => format!("{{{name},nobody}}"),
            6 => format!("nobody-{i}"),
            _ => name.clone(),
        };
        let user = user.replace('\\', "\\\\").replace('"', "\\\"");
        text.push_str(&format!(
            "[[suppress]]\nrule = \"{rule}\"\nuser = \"{user}\"\nreason = \"entry {i}\"\n"
        ));
        match (rng.below(4), &f.access_key_id) {
            (0, Some(key)) => text.push_str(&format!("access-key-id = \"{key}\"\n")),
            (1, _) => text.push_str("access-key-id = \"AKIANOSUCHKEY0000000\"\n"),
            _ => {}
        }
        if rng.below(10) == 0 {
            text.push_str("expires = 2026-01-31\n");
        }
        text.push('\n');
    }
    // A broad entry last: it only gets what no entry before it took.
    text.push_str("[[suppress]]\nrule = \"key-never-used\"\nuser = \"*\"\nreason = \"last\"\n");
    let policy = policy::parse_str(&text, "policy.toml").unwrap_or_else(|e| panic!("{e}"));
    let globs: Vec<_> = policy
        .suppressions
        .iter()
        .map(|s| globset_matcher(s.user.as_str()).expect("a valid glob"))
        .collect();

    let set = keyhygiene::policy::apply(
        &policy,
        keyhygiene::rules::evaluate(&inventory, &policy.rules, as_of),
        as_of,
    );
    assert_eq!(set.findings.len(), all.len());
    let mut used = BTreeSet::new();
    for evaluated in &set.findings {
        let f = &evaluated.finding;
        let first = policy
            .suppressions
            .iter()
            .zip(&globs)
            .position(|(s, glob)| {
                !expired(s, as_of)
                    && (s.rule == "*" || s.rule == f.rule_id)
                    && glob.is_match(&f.user_name)
                    && s.access_key_id
                        .as_ref()
                        .is_none_or(|k| f.access_key_id.as_ref() == Some(k))
            });
        assert_eq!(
            evaluated.suppressed.as_ref().map(|a| a.reason.as_str()),
            first.map(|i| policy.suppressions[i].reason.as_str()),
            "finding {} / {} / {:?}",
            f.rule_id,
            f.user_name,
            f.access_key_id
        );
        used.extend(first);
    }
    eprintln!(
        "{} findings, {} suppressed by {} different entries",
        set.findings.len(),
        set.findings
            .iter()
            .filter(|f| f.suppressed.is_some())
            .count(),
        used.len()
    );
    assert!(used.len() > 50, "many entries are used");
    assert!(
        set.findings.iter().any(|f| f.suppressed.is_none()),
        "some findings are not suppressed"
    );
    let unused: Vec<&str> = policy
        .suppressions
        .iter()
        .enumerate()
        .filter(|(i, s)| !expired(s, as_of) && !used.contains(i))
        .map(|(_, s)| s.location.as_str())
        .collect();
    let reported: Vec<&str> = set
        .unused_suppressions
        .iter()
        .map(|n| n.location.as_str())
        .collect();
    assert_eq!(reported, unused);
}

#[test]
fn globs_match_exactly_like_globset() {
    let mut globs: Vec<String> = [
        "",
        "*",
        "**",
        "?",
        "alice",
        "ALICE",
        "ali*",
        "*ce",
        "a*c*e",
        "a?ice",
        "a??",
        "*.*",
        "ci-*-deploy",
        "svc-[a-c]*",
        "svc-[!a-c]*",
        "svc-[^a]*",
        "[]]x",
        "[!]]x",
        "[-a]",
        "[a-]",
        "[a-c-e]",
        "[Z-a]",
        "[A-Z]*",
        "{a,b}*",
        "{alice,bob}",
        "{a,}x",
        "x{,}",
        "{,a}{b,}",
        "{a,{b,c}d}",
        "a/**",
        "**/a",
        "a/**/b",
        "\\*",
        "a\\?b",
        "a,b",
        "é*",
        "*é",
        "?é",
        "é?",
        "[é]",
        "k",
        "K",
        "s",
        "\u{212a}",
        "{a*,*b}",
        "*a*a*a*a*b",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let alphabet: Vec<char> = "aAbBkKs-./*?[]!^{},\\é\u{212a}0".chars().collect();
    let mut rng = Lcg(11);
    for _ in 0..1500 {
        let len = rng.below(8);
        globs.push((0..len).map(|_| *rng.pick(&alphabet)).collect());
    }
    let mut names: Vec<String> = [
        "", "a", "A", "alice", "ALICE", "Alice", "alicex", "ace", "abce", "svc-a", "svc-d",
        "svc-D", "]x", "ax", "-", "x", "z", "Z", "[", "^", "_", "`", "ab", "ba", "bd", "cd", "a/b",
        "a/x/b", "a/", "/a", "*", "a?b", "a,b", "é", "É", "éa", "aé", "k", "K", "s", "S",
        "\u{212a}", "\u{17f}", "aaaaab", "aaaaa",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let letters: Vec<char> = "aAbBkKsS-./*?é\u{212a}0".chars().collect();
    for _ in 0..300 {
        let len = rng.below(7);
        names.push((0..len).map(|_| *rng.pick(&letters)).collect());
    }

    let mut compared = 0;
    for glob in &globs {
        let ours = Pattern::new(glob);
        let theirs = globset_matcher(glob);
        assert_eq!(
            ours.is_ok(),
            theirs.is_some(),
            "glob {glob:?} accepted differently"
        );
        let (Ok(ours), Some(theirs)) = (ours, theirs) else {
            continue;
        };
        for name in &names {
            assert_eq!(
                ours.is_match(name),
                theirs.is_match(name),
                "glob {glob:?} and name {name:?}"
            );
            compared += 1;
        }
    }
    assert!(compared > 100_000, "compared {compared} pairs");
}

#[test]
fn a_suppression_records_its_line() {
    // Lines are counted once for the whole file; entries far down keep exact lines.
    let text = policy_text(300, false);
    let policy = policy::parse_str(&text, "policy.toml").unwrap();
    let lines: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| *l == "[[suppress]]")
        .map(|(i, _)| i + 1)
        .collect();
    let recorded: Vec<usize> = policy
        .suppressions
        .iter()
        .map(|s| s.location.rsplit(':').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(recorded, lines);
}
