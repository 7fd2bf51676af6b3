//! `report.html`: one self-contained page for a security review.
//!
//! Rendered by askama from `templates/report.html` (which extends `templates/base.html`);
//! `report.css` and `report.js` are inlined, so the page makes no request of any kind and
//! works offline or as an email attachment. Every value goes through askama's HTML escaping;
//! only the key-age chart, which is built from numbers in [`super::model`], is marked safe.

use askama::Template;

use super::model::{OrgModel, ReportModel};

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage<'a> {
    m: &'a ReportModel<'a>,
}

/// Writes `report.html`.
pub fn write_report_html(m: &ReportModel, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    ReportPage { m }.write_into(out)
}

#[derive(Template)]
#[template(path = "org.html")]
struct OrgPage<'a> {
    m: &'a OrgModel,
}

/// Writes an organization's overview, `report.html`: one row per account, each audited
/// account linking to its own page.
pub fn write_org_html(m: &OrgModel, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    OrgPage { m }.write_into(out)
}
