//! keyhygiene: audits the hygiene of long-term AWS access keys across an account or an AWS
//! Organization.
//!
//! One pipeline serves every run ([`app`]): the accounts of the run are collected (a live
//! crawl, saved inventories, a credential report), then each one in turn is settled,
//! scoped, judged by the [`rules`], given the [`policy`], compared with the [`baseline`] and
//! handed to the [`report`] writer of the run's layout; the run's figures
//! ([`findings::Totals`]) give the summary and the exit code.

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
pub mod storage;
pub mod text;
