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
    /// The instant a live crawl settled its last-use values (its last account's): no
    /// record of the crawl is newer, so it is the default as-of that is never refused.
    pub settled_at: Option<DateTime<Utc>>,
}

impl Collected {
    /// What an organization run collected.
    fn organization(
        manifest: Manifest,
        store: InventoryStore,
        origin: String,
        settled_at: Option<DateTime<Utc>>,
    ) -> Collected {
        Collected {
            accounts: Accounts::Organization {
                manifest: Box::new(manifest),
                store,
            },
            origin,
            settled_at,
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
            let (inventory, path) = if let Some(path) = args.from_inventory.first() {
                (
                    Inventory::from_json_file(path).map_err(|e| e.to_string())?,
                    path,
                )
            } else if let Some(path) = &args.from_credential_report {
                let inventory =
                    crate::credential_report::load_inventory(path, args.report_generated_at)
                        .map_err(|e| e.to_string())?;
                (inventory, path)
            } else {
                return live::crawl_caller(args, policy, endpoint);
            };
            Ok(Collected {
                accounts: Accounts::One(Box::new(inventory)),
                origin: path.display().to_string(),
                settled_at: None,
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
        "keyhygiene: crawled {} users, {} keys in {:.1}s: {} API calls ({}){}, {} received, {} retries, {} throttled, {} failed{}; coverage {}",
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
        stats.gaps,
        crate::report::model::report_sourced_label(inv),
        if coverage.complete {
            "complete".to_string()
        } else {
            format!("INCOMPLETE ({} gaps)", coverage.gaps)
        }
    )
}
