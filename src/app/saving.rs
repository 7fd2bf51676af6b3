//! `--save-inventory`: each audited account's inventory as collected (before the scope),
//! staged while the run goes and committed with the reports. A plain run saves its one
//! account to the file named; an organization run saves one `account-<id>.json` per
//! audited account into the folder named, and its manifest (`manifest.json`, or one
//! `manifest-shard-K-of-N.json` per shard, so shards can share a folder).

use std::path::Path;

use crate::fsio::FileSet;
use crate::inventory::Inventory;
use crate::org::{AccountRecord, Manifest, Outcome, Shard, inventory_file_name};
use crate::report::Layout;

use super::outputs::parent_dir;

pub(super) enum Saving {
    /// A single account's inventory, to the file `name` of the set's folder.
    File { set: FileSet, name: String },
    /// An organization's inventories and manifest, into the set's folder.
    Folder { set: FileSet },
}

impl Saving {
    /// The saving `--save-inventory PATH` asks for in `layout`, if any.
    pub fn new(path: Option<&Path>, layout: Layout) -> Result<Option<Saving>, String> {
        let Some(path) = path else {
            return Ok(None);
        };
        Ok(Some(match layout {
            Layout::Account => Saving::File {
                set: FileSet::new(parent_dir(path)).map_err(|e| e.to_string())?,
                name: path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            },
            Layout::Organization => Saving::Folder {
                set: FileSet::new(path).map_err(|e| e.to_string())?,
            },
        }))
    }

    /// The folder `--save-inventory PATH` writes into in `layout`.
    pub fn dir(path: &Path, layout: Layout) -> &Path {
        match layout {
            Layout::Account => parent_dir(path),
            Layout::Organization => path,
        }
    }

    /// Stages one audited account's inventory, and notes its file in the account's record
    /// (the organization layout's). Nothing is visible until the set is committed.
    pub fn stage(
        &mut self,
        record: Option<&mut AccountRecord>,
        inventory: &mut Inventory,
    ) -> Result<(), String> {
        let (set, name) = match (self, record) {
            (Saving::File { set, name }, _) => (set, name.clone()),
            (Saving::Folder { set }, Some(record)) => {
                let name = inventory_file_name(&record.account.id);
                if let Outcome::Audited { file } = &mut record.result {
                    *file = Some(name.clone());
                }
                (set, name)
            }
            (Saving::Folder { .. }, None) => {
                return Err("an organization's saved inventory needs its account's record".into());
            }
        };
        set.stage(&name, |out| inventory.write_json(out))
            .map_err(|e| e.to_string())
    }

    /// The set to commit: with the organization's manifest staged last.
    pub fn finish(self, manifest: Option<&Manifest>) -> Result<FileSet, String> {
        match (self, manifest) {
            (Saving::File { set, .. }, _) => Ok(set),
            (Saving::Folder { mut set }, Some(manifest)) => {
                set.stage(&Shard::manifest_file(manifest.selection.shard), |out| {
                    serde_json::to_writer_pretty(&mut *out, manifest)?;
                    out.write_all(b"\n")
                })
                .map_err(|e| e.to_string())?;
                Ok(set)
            }
            (Saving::Folder { set }, None) => Ok(set),
        }
    }

    /// The line the summary ends with.
    pub fn saved_line(path: &Path, layout: Layout) -> String {
        let what = match layout {
            Layout::Account => "inventory",
            Layout::Organization => "inventories",
        };
        format!("{what} saved to {}", super::terminal_path(path))
    }
}
