//! keyhygiene.xlsx (`--format xlsx`), read by independent readers: openpyxl (the cells'
//! types and values, every sheet's rows against the CSVs) and LibreOffice (converted to
//! flat OpenDocument, whose XML says each cell's type): account ids and names are text
//! (leading zeros kept, a user named `=1+2` is `=1+2`), dates are dates, day counts are
//! numbers, no formula anywhere, non-ASCII text intact; the same run gives the same bytes.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

const AS_OF: &str = "2026-11-23T08:00:00Z";
/// An account id with a leading zero: a spreadsheet reading the CSV makes it a number.
const ACCOUNT: &str = "012345678901";
const NON_ASCII: &str = "Sauvegarde de l'équipe – Müller 日本 백업";

fn inventory(dir: &Path, account: &str) -> PathBuf {
    let mut inv = support::saved::sample_as(account);
    let user = &mut inv["users"].as_array_mut().unwrap()[1];
    user["tags"]
        .as_array_mut()
        .unwrap()
        .push(json!({"key": "note", "value": NON_ASCII}));
    if let Some(key) = user["keys"].as_array_mut().unwrap().first_mut() {
        key["description"] = Value::String(NON_ASCII.into());
    }
    let file = dir.join(format!("inventory-{account}.json"));
    std::fs::write(&file, inv.to_string()).unwrap();
    file
}

fn audit(from: &Path, out: &Path) -> std::process::Output {
    support::keyhygiene()
        .args([
            "audit",
            "--as-of",
            AS_OF,
            "--fail-on",
            "none",
            "--format",
            "csv,xlsx,json",
        ])
        .arg("--from-inventory")
        .arg(from)
        .arg("--out-dir")
        .arg(out)
        .output()
        .unwrap()
}

/// Runs Python from the project's virtualenv with `args`; returns its stdout.
fn python(code: &str, args: &[&Path]) -> String {
    let out = Command::new(support::venv_python())
        .args(["-c", code])
        .args(args)
        .output()
        .expect("run the project's python (scripts/setup installs openpyxl)");
    assert!(
        out.status.success(),
        "{} (scripts/setup installs openpyxl into the virtualenv)",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The workbook as openpyxl reads it: per sheet, the header and every row, each cell as
/// [type, value as text]; and the document's creation time.
fn read_workbook(file: &Path) -> Value {
    let code = r#"
import sys, json, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
out = {"created": wb.properties.created.isoformat(), "sheets": {}}
for ws in wb:
    rows = []
    for row in ws.iter_rows():
        rows.append([[c.data_type, None if c.value is None else (c.value.isoformat() if hasattr(c.value, "isoformat") else str(c.value))] for c in row])
    out["sheets"][ws.title] = {"rows": rows, "freeze": ws.freeze_panes, "filter": ws.auto_filter.ref}
print(json.dumps(out))
"#;
    serde_json::from_str(&python(code, &[file])).unwrap()
}

/// Every cell of a CSV file, rows of text.
fn csv_cells(path: &Path) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .unwrap();
    reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// What a workbook cell must hold for a CSV value of `column`.
fn expected(column: &str, value: &str) -> (Option<&'static str>, String) {
    if value.is_empty() {
        return (None, String::new());
    }
    match column {
        "key_created" | "last_used_date" | "last_used_source_time" => {
            (Some("d"), value.trim_end_matches('Z').to_string())
        }
        "first_seen" => (Some("d"), format!("{value}T00:00:00")),
        "key_age_days" | "days_since_last_use" => (Some("n"), value.to_string()),
        _ => {
            // The CSV's formula neutralising is not the workbook's: its text is exact.
            let raw = match value.strip_prefix('\'') {
                Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
                _ => value,
            };
            (Some("s"), raw.to_string())
        }
    }
}

/// A data sheet equals its CSV, cell by cell, with the types the columns call for.
fn check_sheet(sheet: &Value, csv: &[Vec<String>]) {
    let rows = sheet["rows"].as_array().unwrap();
    assert_eq!(
        rows.len(),
        csv.len(),
        "one row per CSV row, header included"
    );
    let header = &csv[0];
    for (r, (row, record)) in rows.iter().zip(csv).enumerate() {
        for (c, value) in record.iter().enumerate() {
            let cell = &row[c];
            let got = (cell[0].as_str().unwrap(), cell[1].as_str().unwrap_or(""));
            if r == 0 {
                assert_eq!(got.1, value);
                continue;
            }
            let (kind, text) = expected(&header[c], value);
            match kind {
                None => assert!(cell[1].is_null(), "{} row {r}: {cell}", header[c]),
                Some(k) => {
                    assert_eq!(got.0, k, "{} row {r}: {cell} for {value:?}", header[c]);
                    assert_eq!(got.1, text, "{} row {r}", header[c]);
                }
            }
        }
    }
    assert_eq!(sheet["freeze"], "A2");
    assert!(
        sheet["filter"]
            .as_str()
            .is_some_and(|f| f.starts_with("A1:"))
    );
}

#[test]
fn the_workbook_keeps_ids_as_text_dates_as_dates_and_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let from = inventory(dir.path(), ACCOUNT);
    let out = dir.path().join("out");
    let output = audit(&from, &out);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        support::stderr(&output)
    );
    let book = read_workbook(&out.join("keyhygiene.xlsx"));
    assert_eq!(book["created"], "2026-11-23T08:00:00", "dated by the as-of");
    let sheets = &book["sheets"];
    let names: Vec<&String> = sheets.as_object().unwrap().keys().collect();
    assert_eq!(names.len(), 3, "{names:?}");
    check_sheet(&sheets["Findings"], &csv_cells(&out.join("findings.csv")));
    check_sheet(&sheets["Keys"], &csv_cells(&out.join("keys.csv")));
    // Spot checks of what a spreadsheet loses from the CSV.
    let findings = sheets["Findings"]["rows"].as_array().unwrap();
    assert_eq!(findings[1][0], json!(["s", ACCOUNT]), "leading zero kept");
    assert!(
        findings.iter().any(|r| r[3] == json!(["s", "=1+2"])),
        "a user named =1+2 is that text"
    );
    let keys = serde_json::to_string(&sheets["Keys"]).unwrap();
    assert!(keys.contains(NON_ASCII), "non-ASCII text intact");
    let everything = serde_json::to_string(&book).unwrap();
    assert!(!everything.contains("[\"f\","), "no formula anywhere");
    // The Summary states the run.
    let summary = serde_json::to_string(&sheets["Summary"]).unwrap();
    assert!(
        summary.contains("account 012345678901") && summary.contains("2026-11-23T08:00:00"),
        "{summary}"
    );

    // The same run gives the same bytes.
    let again = dir.path().join("again");
    let output = audit(&from, &again);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        std::fs::read(out.join("keyhygiene.xlsx")).unwrap(),
        std::fs::read(again.join("keyhygiene.xlsx")).unwrap()
    );

    // LibreOffice, converting to flat OpenDocument, sees the same types: text ids and
    // names, dates, numbers, and no formula.
    let soffice = support::soffice();
    let fods = dir.path().join("fods");
    let status = Command::new(&soffice)
        .args([
            "--headless",
            "--norestore",
            "--convert-to",
            "fods",
            "--outdir",
        ])
        .arg(&fods)
        .arg(out.join("keyhygiene.xlsx"))
        .env("HOME", dir.path())
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let code = r#"
import sys, json, xml.etree.ElementTree as ET
T = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
O = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
X = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
root = ET.parse(sys.argv[1]).getroot()
out = {"formulas": 0}
for table in root.iter("{%s}table" % T):
    name = table.get("{%s}name" % T)
    rows = []
    for row in table.iter("{%s}table-row" % T):
        cells = []
        for cell in row.iter("{%s}table-cell" % T):
            if cell.get("{%s}formula" % T):
                out["formulas"] += 1
            repeat = int(cell.get("{%s}number-columns-repeated" % T, "1"))
            text = "".join(p.text or "" for p in cell.iter("{%s}p" % X))
            cells.extend([[cell.get("{%s}value-type" % O), text]] * min(repeat, 30))
        rows.append(cells)
        if len(rows) >= 4:
            break
    out[name] = rows
print(json.dumps(out))
"#;
    let odf: Value = serde_json::from_str(&python(code, &[&fods.join("keyhygiene.fods")])).unwrap();
    assert_eq!(odf["formulas"], 0, "no formula in LibreOffice's reading");
    let header: Vec<&str> = odf["Findings"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c[1].as_str().unwrap())
        .collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let row = &odf["Findings"][1];
    assert_eq!(row[col("account_id")], json!(["string", ACCOUNT]));
    assert_eq!(row[col("key_created")][0], "date");
    assert_eq!(row[col("key_age_days")][0], "float");
    assert_eq!(row[col("first_seen")][0], "date");
    assert_eq!(row[col("user_name")][0], "string");
}

#[test]
fn an_organizations_workbook_lists_its_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("saved");
    std::fs::create_dir(&saved).unwrap();
    for account in [ACCOUNT, "200000000002"] {
        let file = inventory(dir.path(), account);
        std::fs::rename(file, saved.join(format!("account-{account}.json"))).unwrap();
    }
    let out = dir.path().join("out");
    let output = audit(&saved, &out);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        support::stderr(&output)
    );
    let book = read_workbook(&out.join("keyhygiene.xlsx"));
    let sheets = &book["sheets"];
    check_sheet(&sheets["Findings"], &csv_cells(&out.join("findings.csv")));
    check_sheet(&sheets["Keys"], &csv_cells(&out.join("keys.csv")));
    let accounts = sheets["Accounts"]["rows"].as_array().unwrap();
    assert_eq!(accounts.len(), 3, "a header and two accounts");
    let ids: Vec<&Value> = accounts[1..].iter().map(|r| &r[0]).collect();
    assert!(ids.contains(&&json!(["s", ACCOUNT])), "{ids:?}");
}

#[test]
fn each_owner_gets_a_workbook_of_its_own_rows() {
    let dir = tempfile::tempdir().unwrap();
    let from = inventory(dir.path(), ACCOUNT);
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "[report]\nowner-tags = [\"team\"]\n").unwrap();
    let out = dir.path().join("out");
    let output = support::keyhygiene()
        .args([
            "audit",
            "--as-of",
            AS_OF,
            "--fail-on",
            "none",
            "--format",
            "xlsx,csv",
        ])
        .args(["--split-by-owner", "--config"])
        .arg(&policy)
        .arg("--from-inventory")
        .arg(&from)
        .arg("--out-dir")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        support::stderr(&output)
    );
    let mut total = 0;
    for entry in std::fs::read_dir(out.join("by-owner")).unwrap() {
        let folder = entry.unwrap().path();
        let book = read_workbook(&folder.join("keyhygiene.xlsx"));
        check_sheet(
            &book["sheets"]["Findings"],
            &csv_cells(&folder.join("findings.csv")),
        );
        check_sheet(
            &book["sheets"]["Keys"],
            &csv_cells(&folder.join("keys.csv")),
        );
        let summary = serde_json::to_string(&book["sheets"]["Summary"]).unwrap();
        assert!(summary.contains("\"owner\""), "{summary}");
        total += book["sheets"]["Findings"]["rows"].as_array().unwrap().len() - 1;
    }
    assert_eq!(
        total,
        csv_cells(&out.join("findings.csv")).len() - 1,
        "every finding once"
    );
}
