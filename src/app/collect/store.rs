//! Where an organization run keeps its accounts' inventories between collecting them and
//! evaluating them: a crawled account's inventory in the run's spill file, a saved one in
//! its own file, read again when its turn comes. Either way one inventory at a time is in
//! memory, whatever the number of accounts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::findings::IdSource;
use crate::inventory::Inventory;
use crate::spill::Spill;

enum Held {
    /// In the spill file, under the account's id.
    Spilled,
    /// A saved inventory file.
    File(PathBuf),
}

struct Entry {
    held: Held,
    id_source: IdSource,
}

/// The audited accounts' inventories, by account id.
#[derive(Default)]
pub struct InventoryStore {
    spill: Option<Spill>,
    entries: BTreeMap<String, Entry>,
}

impl InventoryStore {
    pub fn new() -> InventoryStore {
        InventoryStore::default()
    }

    /// Keeps a crawled inventory in the spill file.
    pub fn put(&mut self, account_id: &str, inventory: &mut Inventory) -> std::io::Result<()> {
        let mut bytes = Vec::new();
        inventory.write_json(&mut bytes)?;
        let spill = match &mut self.spill {
            Some(spill) => spill,
            None => self.spill.insert(Spill::new()?),
        };
        spill.forget(account_id);
        spill.append(account_id, &bytes)?;
        self.entries.insert(
            account_id.to_string(),
            Entry {
                held: Held::Spilled,
                id_source: IdSource::of(inventory),
            },
        );
        Ok(())
    }

    /// Notes a saved inventory (already read once, and checked) by its file.
    pub fn put_file(&mut self, account_id: &str, file: &Path, inventory: &Inventory) {
        self.entries.insert(
            account_id.to_string(),
            Entry {
                held: Held::File(file.to_path_buf()),
                id_source: IdSource::of(inventory),
            },
        );
    }

    pub fn remove(&mut self, account_id: &str) {
        self.entries.remove(account_id);
        if let Some(spill) = &mut self.spill {
            spill.forget(account_id);
        }
    }

    /// `credential-report` when any account's inventory comes from a credential report.
    pub fn id_source(&self) -> IdSource {
        if self
            .entries
            .values()
            .any(|e| e.id_source == IdSource::CredentialReport)
        {
            IdSource::CredentialReport
        } else {
            IdSource::Api
        }
    }

    /// The account's inventory, read back (and forgotten by the store).
    pub fn take(&mut self, account_id: &str) -> Result<Option<Inventory>, String> {
        let Some(entry) = self.entries.remove(account_id) else {
            return Ok(None);
        };
        let inventory = match entry.held {
            Held::Spilled => {
                let spill = self.spill.as_mut().ok_or("the spill file is gone")?;
                let bytes = spill.read(account_id).map_err(|e| {
                    format!("cannot read account {account_id}'s inventory back from the temporary directory: {e}")
                })?;
                spill.forget(account_id);
                let text = String::from_utf8(bytes).map_err(|e| e.to_string())?;
                Inventory::from_json_str(&text, &format!("account {account_id}'s inventory"))
                    .map_err(|e| e.to_string())?
            }
            Held::File(path) => {
                let inventory = Inventory::from_json_file(&path).map_err(|e| e.to_string())?;
                // The file was read once before, to learn its account: it must not have
                // become another account's since.
                if inventory.account_id.as_deref() != Some(account_id) {
                    return Err(format!(
                        "{}: now holds account {}, but held account {account_id} when the run started; do not change saved inventories while a run reads them",
                        path.display(),
                        inventory.account_id.as_deref().unwrap_or("(none)")
                    ));
                }
                inventory
            }
        };
        Ok(Some(inventory))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::{active, days_ago, inventory, used, user};

    fn account(id: &str) -> Inventory {
        let mut inv = inventory(vec![user(
            "alice",
            vec![active("AKIAALICE", days_ago(200), used(days_ago(1)))],
        )]);
        inv.account_id = Some(id.parse().unwrap());
        inv.users[0].arn = format!("arn:aws:iam::{id}:user/alice");
        inv.normalize();
        inv
    }

    #[test]
    fn a_spilled_inventory_comes_back_as_it_was_and_only_once() {
        let mut store = InventoryStore::new();
        let mut a = account("111111111111");
        let mut b = account("222222222222");
        store.put("111111111111", &mut a).unwrap();
        store.put("222222222222", &mut b).unwrap();
        let back = store.take("111111111111").unwrap().unwrap();
        assert_eq!(
            serde_json::to_value(&back).unwrap(),
            serde_json::to_value(&a).unwrap()
        );
        assert!(store.take("111111111111").unwrap().is_none());
        store.remove("222222222222");
        assert!(store.take("222222222222").unwrap().is_none());
        assert_eq!(store.id_source(), IdSource::Api);
    }

    #[test]
    fn a_saved_file_that_changed_account_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("account-111111111111.json");
        let mut a = account("111111111111");
        let mut bytes = Vec::new();
        a.write_json(&mut bytes).unwrap();
        std::fs::write(&path, &bytes).unwrap();
        let mut store = InventoryStore::new();
        store.put_file("111111111111", &path, &a);
        let mut b = account("222222222222");
        let mut other = Vec::new();
        b.write_json(&mut other).unwrap();
        std::fs::write(&path, &other).unwrap();
        let err = store.take("111111111111").unwrap_err();
        assert!(err.contains("now holds account 222222222222"), "{err}");
    }
}
