//! The run's header: where the data came from, coverage and its gaps, the root user's keys,
//! the credential report and the crawl's figures.

use super::*;

#[derive(Clone, Debug)]
pub struct SourceView {
    /// `live` or `credential-report`: where the data was collected.
    pub kind: &'static str,
    pub endpoint: Option<String>,
    pub file: Option<String>,
    /// The saved inventory this run read, when the data was collected by an earlier run.
    pub saved_inventory: Option<String>,
    /// In words, for the header.
    pub label: String,
}

#[derive(Clone, Debug)]
pub struct CoverageView {
    pub complete: bool,
    pub users_listed: usize,
    pub users_fully_audited: usize,
    pub keys: usize,
    pub keys_with_last_use: usize,
    /// One line for the header, e.g. "complete: 120 users, 200 keys".
    pub label: String,
    pub gaps: Vec<GapView>,
    /// Gaps beyond the first [`GAPS_IN_BANNER`], which the HTML banner only counts.
    pub gaps_not_in_banner: usize,
    pub removed: Vec<RemovedView>,
}

/// Gaps listed in the HTML banner; the coverage section lists up to [`GAPS_IN_PAGE`].
pub const GAPS_IN_BANNER: usize = 10;

/// Gaps the HTML coverage section lists; `report.json` lists them all. A live crawl that
/// IAM throttles for good can leave a gap per user, and a page of 100,000 gaps helps no one.
pub const GAPS_IN_PAGE: usize = 5_000;

impl CoverageView {
    /// The gaps the HTML banner lists.
    pub fn banner_gaps(&self) -> &[GapView] {
        &self.gaps[..self.gaps.len().min(GAPS_IN_BANNER)]
    }

    /// The gaps the HTML coverage section lists.
    pub fn page_gaps(&self) -> &[GapView] {
        &self.gaps[..self.gaps.len().min(GAPS_IN_PAGE)]
    }

    /// Gaps left out of the HTML coverage section.
    pub fn gaps_not_in_page(&self) -> usize {
        self.gaps.len().saturating_sub(GAPS_IN_PAGE)
    }
}

#[derive(Clone, Debug)]
pub struct GapView {
    pub user: Option<String>,
    pub access_key_id: Option<String>,
    /// The user and key in words ("account", "alice", "alice / AKIA…").
    pub scope: String,
    pub operation: String,
    pub error_code: String,
    pub impact: String,
}

#[derive(Clone, Debug)]
pub struct RemovedView {
    pub user: String,
    pub access_key_id: Option<String>,
    pub operation: String,
}

#[derive(Clone, Debug)]
pub struct CredentialReportView {
    /// RFC 3339; `None` when the generation time is unknown.
    pub generated_at_text: Option<String>,
    pub generated_at_display: String,
    /// Minutes between generation and the as-of time (negative if generated later);
    /// `None` when the generation time is unknown.
    pub age_minutes: Option<i64>,
    /// The age in words, e.g. "2 h 15 min" (the absolute value when negative).
    pub age_label: String,
    /// The age relative to the as-of time, e.g. "2 h 15 min before as-of".
    pub relation_label: String,
    pub stale: bool,
    pub has_root_row: bool,
    /// What a stale report puts at risk: everything for a report file, only the root-key
    /// and console-login context for a live crawl (keys and last use come from the API).
    pub stale_impact: &'static str,
}

#[derive(Clone, Debug)]
pub struct RootView {
    /// `credential-report`, `account-summary` or `unknown`.
    pub source: &'static str,
    /// Some root key is (or may be) active.
    pub keys_present: Option<bool>,
    pub active_keys: usize,
    /// In words, for the header.
    pub label: String,
    /// `ok`, `bad` or `unknown`, for styling.
    pub state: &'static str,
}

#[derive(Clone, Debug)]
pub struct StatsView {
    /// The crawl's statistics as the inventory holds them.
    pub crawl: CrawlStats,
    /// Calls per operation, for the table.
    pub calls: Vec<(String, u64)>,
    /// API calls (retries included) per access key; `None` without keys.
    pub calls_per_key: Option<f64>,
    pub label: String,
}

/// Where the data came from. A saved inventory says so, with when and how it was collected:
/// its crawl statistics are those of that earlier run.
pub(super) fn source_view(
    source: &SourceInfo,
    saved_inventory: Option<&std::path::Path>,
    collected_at: DateTime<Utc>,
) -> SourceView {
    let (kind, endpoint, file, origin) = match source {
        SourceInfo::Live { endpoint } => (
            "live",
            endpoint.clone(),
            None,
            match endpoint {
                Some(e) => format!("live crawl of the IAM API at {e}"),
                None => "live crawl of the IAM API".to_string(),
            },
        ),
        SourceInfo::CredentialReport { file } => (
            "credential-report",
            None,
            Some(file.clone()),
            format!("credential report file {file}"),
        ),
    };
    let saved_inventory = saved_inventory.map(crate::storage::shown::path);
    let label = match &saved_inventory {
        Some(saved) => format!(
            "saved inventory {saved}, collected {} by a {origin}",
            display_time(collected_at)
        ),
        None => origin,
    };
    SourceView {
        kind,
        endpoint,
        file,
        saved_inventory,
        label,
    }
}

pub(super) fn coverage_view(inv: &Inventory) -> CoverageView {
    let c = inv.compute_coverage();
    let label = if c.complete {
        format!(
            "complete: {}, {}",
            plural(c.users_listed, "user", "users"),
            plural(c.keys, "access key", "access keys")
        )
    } else {
        format!(
            "INCOMPLETE: {} ({} of {} users fully audited, last use known for {} of {} keys)",
            plural(c.gaps, "gap", "gaps"),
            c.users_fully_audited,
            c.users_listed,
            c.keys_with_last_use,
            c.keys
        )
    };
    CoverageView {
        complete: c.complete,
        users_listed: c.users_listed,
        users_fully_audited: c.users_fully_audited,
        keys: c.keys,
        keys_with_last_use: c.keys_with_last_use,
        label,
        gaps: inv.gaps.iter().map(gap_view).collect(),
        gaps_not_in_banner: inv.gaps.len().saturating_sub(GAPS_IN_BANNER),
        removed: inv.removed_during_crawl.iter().map(removed_view).collect(),
    }
}

pub(super) fn gap_view(g: &CoverageGap) -> GapView {
    let scope = match (&g.user, &g.access_key_id) {
        (Some(u), Some(k)) => format!("{u} / {k}"),
        (Some(u), None) => u.clone(),
        (None, Some(k)) => k.clone(),
        (None, None) => "account".to_string(),
    };
    GapView {
        user: g.user.clone(),
        access_key_id: g.access_key_id.clone(),
        scope,
        operation: g.operation.clone(),
        error_code: g.error_code.clone(),
        impact: g.impact.clone(),
    }
}

pub(super) fn removed_view(r: &Removed) -> RemovedView {
    RemovedView {
        user: r.user.clone(),
        access_key_id: r.access_key_id.clone(),
        operation: r.operation.clone(),
    }
}

pub(super) fn root_view(root: &RootKeys, source: &SourceInfo) -> RootView {
    match root {
        RootKeys::CredentialReport { keys, .. } => {
            let active = keys.iter().filter(|k| k.active).count();
            RootView {
                source: "credential-report",
                keys_present: Some(active > 0),
                active_keys: active,
                label: if active == 0 {
                    "no active root access keys".to_string()
                } else {
                    format!(
                        "{} ACTIVE",
                        plural(active, "root access key", "root access keys")
                    )
                },
                state: if active == 0 { "ok" } else { "bad" },
            }
        }
        RootKeys::AccountSummary { keys_present } => RootView {
            source: "account-summary",
            keys_present: Some(*keys_present),
            active_keys: usize::from(*keys_present),
            label: if *keys_present {
                "root access keys PRESENT (account summary)".to_string()
            } else {
                "no root access keys (account summary)".to_string()
            },
            state: if *keys_present { "bad" } else { "ok" },
        },
        RootKeys::Unknown => RootView {
            source: "unknown",
            keys_present: None,
            active_keys: 0,
            label: match source {
                SourceInfo::CredentialReport { .. } => {
                    "unknown: the credential report has no <root_account> row"
                }
                SourceInfo::Live { .. } => {
                    "unknown: neither the credential report nor the account summary could be read"
                }
            }
            .to_string(),
            state: "unknown",
        },
    }
}

/// "12.3 KiB", "4.5 MiB".
pub fn bytes_label(bytes: u64) -> String {
    let kib = bytes as f64 / 1024.0;
    if kib < 1024.0 {
        format!("{kib:.1} KiB")
    } else {
        format!("{:.1} MiB", kib / 1024.0)
    }
}

pub(super) fn stats_view(inv: &Inventory) -> StatsView {
    let s = &inv.stats;
    let keys = inv.compute_coverage().keys;
    StatsView {
        crawl: s.clone(),
        calls: s.calls.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        calls_per_key: s.calls_per_key(keys),
        label: format!(
            "{} API calls{}, {} retries, {} throttled, {} slow attempts cut, {} failed, {:.1} s{}",
            s.total_calls(),
            s.calls_per_key(keys)
                .map(|c| format!(" ({c:.2} per key)"))
                .unwrap_or_default(),
            s.retries,
            s.throttled,
            s.attempts_cut,
            s.gaps,
            s.wall_ms as f64 / 1000.0,
            if s.bytes_received > 0 {
                format!(", {} received", bytes_label(s.bytes_received))
            } else {
                String::new()
            }
        ) + &report_sourced_label(inv),
    }
}

/// "; last use of 209 keys from the credential report", when a live crawl left some.
pub(crate) fn report_sourced_label(inv: &Inventory) -> String {
    match inv.last_use_from_report() {
        0 => String::new(),
        n => format!(
            "; last use of {n} of {} keys from the credential report",
            inv.compute_coverage().keys
        ),
    }
}
