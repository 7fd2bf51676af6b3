//! keyhygiene: audits the hygiene of long-term AWS access keys across an account or an AWS
//! Organization.
//!
//! Data flow: policy → source → [`inventory::Inventory`] → [`rules`] → [`findings::FindingSet`]
//! → [`report`] renderers → files and an exit code.

pub mod app;
pub mod baseline;
pub mod cli;
pub mod crawl;
pub mod credential_report;
pub mod findings;
pub mod fsio;
pub mod ident;
pub mod inventory;
pub mod org;
pub mod policy;
pub mod redact;
pub mod report;
pub mod rules;
pub mod spill;
pub mod text;
