//! What every baseline must satisfy, whatever file it came from: a known id scheme, and
//! findings that do not contradict themselves.

use std::collections::HashSet;

use serde::Deserialize;

use crate::findings::{ID_SCHEME, IdSource, is_finding_id};

use super::Baseline;

/// `finding_ids` of a report or a history record.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
pub struct Ids {
    pub scheme: String,
    pub source: IdSource,
}

pub(super) fn check_scheme(ids: &Ids, name: &str) -> Result<(), String> {
    if ids.scheme != ID_SCHEME {
        return Err(format!(
            "{name}: finding ids of scheme \"{}\", which this keyhygiene does not know (it writes \"{ID_SCHEME}\"); upgrade keyhygiene",
            ids.scheme
        ));
    }
    Ok(())
}

/// Refuses contradictions: a malformed or repeated id, a first sighting after the run.
pub(super) fn check_findings(b: &Baseline) -> Result<(), String> {
    let mut seen = HashSet::new();
    let run_date = b.as_of.date_naive();
    for f in &b.findings {
        if !is_finding_id(&f.finding_id) {
            return Err(format!(
                "{}: \"{}\" is not a finding id (the file was changed by hand or damaged; pass an unmodified one)",
                b.file, f.finding_id
            ));
        }
        if !seen.insert(f.finding_id.as_str()) {
            return Err(format!(
                "{}: finding {} appears twice (the file was changed by hand or damaged; pass an unmodified one)",
                b.file, f.finding_id
            ));
        }
        if f.first_seen > run_date {
            return Err(format!(
                "{}: finding {} was first seen {}, after the run's own as-of date {} (the file was changed by hand or damaged; pass an unmodified one)",
                b.file, f.finding_id, f.first_seen, run_date
            ));
        }
    }
    Ok(())
}
