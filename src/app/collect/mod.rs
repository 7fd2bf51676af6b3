//! The first step of a run: what it audits, and each audited account's inventory, from one
//! of three sources:
//! - a live crawl ([`live`]): the caller's own account, or the accounts an organization
//!   run selects ([`select`]), crawled concurrently and in isolation;
//! - saved inventories: one file, or several files and folders written by
//!   `--save-inventory DIR` ([`saved`]);
//! - a credential report file.
//!
//! The layout follows the mode ([`crate::report::Layout`]): a plain run collects one
//! account; an organization run (or saved folders) collects every selected account's
//! record and keeps the audited ones' inventories in a [`store::InventoryStore`] until
//! their turn.

mod live;
mod saved;
mod select;
mod store;

pub(super) use store::InventoryStore;

use chrono::{DateTime, Utc};

use crate::cli::{AuditArgs, Endpoint};
use crate::inventory::Inventory;
use crate::org::Manifest;
use crate::policy::Policy;
use crate::report::Layout;

/// The accounts of a run.
pub(super) enum Accounts {
    /// A plain run: its one account.
    One(Box<Inventory>),
    /// The organization layout: every selected account's record, and where the audited
    /// ones' inventories are.
    Organization {
        manifest: Box<Manifest>,
        store: InventoryStore,
    },
}

/// What a run collected.
pub(super) struct Collected {
    pub accounts: Accounts,
    /// Where the data came from, for messages: the endpoint or the files read.
    pub origin: String,
    /// The as-of of a run without `--as-of`.
    pub default_as_of: DefaultAsOf,
}

impl Collected {
    /// What an organization run collected.
    fn organization(
        manifest: Manifest,
        store: InventoryStore,
        origin: String,
        default_as_of: DefaultAsOf,
    ) -> Collected {
        Collected {
            accounts: Accounts::Organization {
                manifest: Box::new(manifest),
                store,
            },
            origin,
            default_as_of,
        }
    }
}

/// The as-of a run takes without `--as-of`: an instant at which every value it judges is
/// exact, so the default is never refused and never turns a value into a gap.
pub(super) enum DefaultAsOf {
    /// A live crawl's: the instant it settled its last-use values (its last account's);
    /// no record of the crawl is newer.
    Settled(DateTime<Utc>),
    /// Saved inventories': the latest instant at which all of them are exact.
    Saved(Exact),
    /// A credential report's, or a crawl that audited no account: now.
    Now,
}

impl DefaultAsOf {
    pub fn instant(&self) -> Result<DateTime<Utc>, String> {
        match self {
            DefaultAsOf::Settled(at) => Ok(*at),
            DefaultAsOf::Saved(exact) => exact.latest(),
            DefaultAsOf::Now => Ok(Utc::now()),
        }
    }
}

/// When saved inventories are exact, gathered file by file. An inventory whose last uses
/// a crawl settled from the credential report is exact within the window it settled them
/// for (`last_use_settled`, from the crawl to a day later when it was saved); one without
/// such values (every last use from the API, or a version before windows were saved) from
/// its newest record on.
#[derive(Default)]
pub(super) struct Exact {
    /// The latest instant before which some inventory is not exact yet, and its file.
    from: Option<(DateTime<Utc>, String)>,
    /// The earliest instant after which some inventory is no longer exact, and its file.
    until: Option<(DateTime<Utc>, String)>,
}

impl Exact {
    pub fn add(&mut self, inventory: &Inventory, file: &str) {
        let newest = inventory.newest_date().unwrap_or(inventory.collected_at);
        let (from, until) = match inventory.last_use_settled {
            Some(window) => (window.from.max(newest), Some(window.until)),
            None => (inventory.collected_at.max(newest), None),
        };
        if self.from.as_ref().is_none_or(|(at, _)| from > *at) {
            self.from = Some((from, file.to_string()));
        }
        if let Some(until) = until
            && self.until.as_ref().is_none_or(|(at, _)| until < *at)
        {
            self.until = Some((until, file.to_string()));
        }
    }

    /// The end of the common window when some inventory has one, else the newest start;
    /// an error naming two files when no instant is exact for both.
    pub fn latest(&self) -> Result<DateTime<Utc>, String> {
        let shown = |at: DateTime<Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        match (&self.from, &self.until) {
            (None, None) => Ok(Utc::now()),
            (Some((from, _)), None) => Ok(*from),
            (None, Some((until, _))) => Ok(*until),
            (Some((from, _)), Some((until, _))) if from <= until => Ok(*until),
            (Some((from, later)), Some((until, earlier))) => Err(format!(
                "{earlier}: its last uses are exact until {}, but {later} holds data from {}: no instant judges both exactly; pass --as-of (the report marks what it cannot judge as coverage gaps), or --as-of now",
                shown(*until),
                shown(*from)
            )),
        }
    }
}

/// Collects the run's accounts from the source the command line names.
pub(super) fn collect(
    args: &AuditArgs,
    policy: &Policy,
    endpoint: Option<&Endpoint>,
    layout: Layout,
) -> Result<Collected, String> {
    match layout {
        Layout::Organization if args.from_inventory.is_empty() => {
            live::crawl_organization(args, policy, endpoint)
        }
        Layout::Organization => saved::load_saved(&args.from_inventory, args.only_shard),
        Layout::Account => {
            let (inventory, path, default_as_of) = if let Some(path) = args.from_inventory.first() {
                let inventory = Inventory::from_json_file(path).map_err(|e| e.to_string())?;
                let mut exact = Exact::default();
                exact.add(&inventory, &path.display().to_string());
                (inventory, path, DefaultAsOf::Saved(exact))
            } else if let Some(path) = &args.from_credential_report {
                let inventory =
                    crate::credential_report::load_inventory(path, args.report_generated_at)
                        .map_err(|e| e.to_string())?;
                (inventory, path, DefaultAsOf::Now)
            } else {
                return live::crawl_caller(args, policy, endpoint);
            };
            Ok(Collected {
                accounts: Accounts::One(Box::new(inventory)),
                origin: path.display().to_string(),
                default_as_of,
            })
        }
    }
}

/// The one-line crawl summary on stderr.
pub(super) fn stats_line(inv: &Inventory) -> String {
    let stats = &inv.stats;
    let calls: Vec<String> = stats
        .calls
        .iter()
        .map(|(op, n)| format!("{op}={n}"))
        .collect();
    let coverage = inv.compute_coverage();
    format!(
        "keyhygiene: crawled {} users, {} keys in {:.1}s: {} API calls ({}){}, {} received, {} retries, {} throttled, {} slow attempts cut, {} failed{}; coverage {}",
        coverage.users_listed,
        coverage.keys,
        stats.wall_ms as f64 / 1000.0,
        stats.total_calls(),
        calls.join(" "),
        stats
            .calls_per_key(coverage.keys)
            .map(|c| format!(", {c:.2} per key"))
            .unwrap_or_default(),
        crate::report::model::bytes_label(stats.bytes_received),
        stats.retries,
        stats.throttled,
        stats.attempts_cut,
        stats.gaps,
        crate::report::model::report_sourced_label(inv),
        if coverage.complete {
            "complete".to_string()
        } else {
            format!("INCOMPLETE ({} gaps)", coverage.gaps)
        }
    )
}
