//! An organization's rows kept on disk until the shared files are written: each account's
//! CSV rows and `report.json` items go to a spill file ([`crate::spill::Spill`]) when the
//! account is written, and come back in the overview's order.
//!
//! A `report.json` item is printed when it is spilled, by serde_json's own pretty printer
//! set at the depth the document holds it (`Part::depth`), and goes back into the
//! document as it is: the bytes the document's printer would have written there.

use std::cell::RefCell;
use std::io::{self, Write};

use serde::Serialize;

use crate::spill::Spill;

/// The parts of the shared files one account contributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    FindingsCsv,
    KeysCsv,
    OpenFindings,
    SuppressedFindings,
    Account,
    Gaps,
    Removed,
}

impl Part {
    /// How deep `report.json` holds this part's items: the items of a list of the document
    /// itself (`findings`, `accounts`) at 2, of a list in `coverage` at 3.
    fn depth(self) -> usize {
        match self {
            Part::Gaps | Part::Removed => 3,
            _ => 2,
        }
    }

    fn key(self, account_id: &str) -> String {
        let prefix = match self {
            Part::FindingsCsv => "findings.csv",
            Part::KeysCsv => "keys.csv",
            Part::OpenFindings => "open",
            Part::SuppressedFindings => "suppressed",
            Part::Account => "account",
            Part::Gaps => "gaps",
            Part::Removed => "removed",
        };
        format!("{prefix}:{account_id}")
    }
}

/// The accounts' spilled parts.
pub struct Spilled {
    spill: RefCell<Spill>,
    /// The accounts in the order their parts are read back.
    order: Vec<String>,
}

impl Spilled {
    pub fn new() -> io::Result<Spilled> {
        Ok(Spilled {
            spill: RefCell::new(Spill::new()?),
            order: Vec::new(),
        })
    }

    /// Appends bytes (CSV rows) to an account's `part`.
    pub fn append(&mut self, part: Part, account_id: &str, bytes: &[u8]) -> io::Result<()> {
        self.spill.get_mut().append(&part.key(account_id), bytes)
    }

    /// Appends one `report.json` item to an account's `part`, printed as the document
    /// prints it there: serde_json's pretty printer, opened to the part's depth.
    pub fn append_item(
        &mut self,
        part: Part,
        account_id: &str,
        item: &impl Serialize,
    ) -> io::Result<()> {
        use serde_json::ser::{Formatter, PrettyFormatter, Serializer};
        let mut formatter = PrettyFormatter::new();
        for _ in 0..part.depth() {
            formatter.begin_array(&mut io::sink())?;
        }
        let mut bytes = Vec::new();
        item.serialize(&mut Serializer::with_formatter(&mut bytes, formatter))?;
        self.spill
            .get_mut()
            .append_item(&part.key(account_id), &bytes)
    }

    /// Sets the order in which the accounts' parts are read back.
    pub fn set_order(&mut self, order: Vec<String>) {
        self.order = order;
    }

    /// Copies every account's `part`, in order.
    pub fn copy(&self, part: Part, out: &mut dyn Write) -> io::Result<()> {
        let mut spill = self.spill.borrow_mut();
        for account in &self.order {
            spill.copy_to(&part.key(account), out)?;
        }
        Ok(())
    }

    /// Every account's `part` as one list of the document, in order.
    pub fn list(&self, part: Part) -> SpilledList<'_> {
        SpilledList {
            spilled: self,
            part,
        }
    }
}

/// A list of `report.json` items read back from the spill file as it is serialized.
pub struct SpilledList<'s> {
    spilled: &'s Spilled,
    part: Part,
}

impl Serialize for SpilledList<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        let mut seq = serializer.serialize_seq(None)?;
        let mut spill = self.spilled.spill.borrow_mut();
        for account in &self.spilled.order {
            let items = spill
                .items(&self.part.key(account))
                .map_err(S::Error::custom)?;
            for item in items {
                let text = String::from_utf8(item).map_err(S::Error::custom)?;
                let raw =
                    serde_json::value::RawValue::from_string(text).map_err(S::Error::custom)?;
                seq.serialize_element(&raw)?;
            }
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Item<'a> {
        name: &'a str,
        tags: Vec<&'a str>,
        empty: Vec<u8>,
        ratio: f64,
        nested: Option<Box<Item<'a>>>,
    }

    fn item(name: &str) -> Item<'_> {
        Item {
            name,
            tags: vec!["a\"b", "\u{1f}"],
            empty: Vec::new(),
            ratio: 0.25,
            nested: Some(Box::new(Item {
                name: "inner",
                tags: Vec::new(),
                empty: Vec::new(),
                ratio: 1e-7,
                nested: None,
            })),
        }
    }

    #[test]
    fn spilled_items_print_as_the_document_would_have_printed_them() {
        let mut spilled = Spilled::new().unwrap();
        spilled.append_item(Part::Gaps, "2", &item("b")).unwrap();
        spilled.append_item(Part::Gaps, "1", &item("a")).unwrap();
        spilled.append_item(Part::Account, "1", &item("x")).unwrap();
        spilled.append_item(Part::Account, "2", &item("y")).unwrap();
        spilled.set_order(vec!["1".into(), "2".into()]);
        // The document's shape: `accounts` a list of its own, `gaps` inside `coverage`.
        #[derive(Serialize)]
        struct Doc<L> {
            accounts: L,
            coverage: Coverage<L>,
        }
        #[derive(Serialize)]
        struct Coverage<L> {
            complete: bool,
            gaps: L,
        }
        let printed = serde_json::to_string_pretty(&Doc {
            accounts: spilled.list(Part::Account),
            coverage: Coverage {
                complete: true,
                gaps: spilled.list(Part::Gaps),
            },
        })
        .unwrap();
        let expected = serde_json::to_string_pretty(&Doc {
            accounts: vec![item("x"), item("y")],
            coverage: Coverage {
                complete: true,
                gaps: vec![item("a"), item("b")],
            },
        })
        .unwrap();
        assert_eq!(printed, expected);
    }

    #[test]
    fn rows_come_back_in_the_order_set() {
        let mut spilled = Spilled::new().unwrap();
        spilled.append(Part::KeysCsv, "b", b"b1\n").unwrap();
        spilled.append(Part::KeysCsv, "a", b"a1\n").unwrap();
        spilled.append(Part::KeysCsv, "b", b"b2\n").unwrap();
        spilled.set_order(vec!["a".into(), "b".into()]);
        let mut out = Vec::new();
        spilled.copy(Part::KeysCsv, &mut out).unwrap();
        assert_eq!(out, b"a1\nb1\nb2\n");
    }
}
