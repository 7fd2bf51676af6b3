//! One row of the overview per account: audited (with its figures and its page), not
//! audited (why), or not assessed on purpose; and the overview's "worst first" order.

use crate::findings::{Figures, Severity};
use crate::org::{AccessProblem, AccountRecord, Outcome};

/// How much of an account the run covered, for the overview's styling and filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountCoverage {
    /// Audited, with complete coverage.
    Complete,
    /// Audited with gaps, or not audited at all: a coverage gap of the run.
    Incomplete,
    /// Not active, excluded, out of scope or in another shard: left out on purpose.
    NotAssessed,
}

impl AccountCoverage {
    /// The CSS class suffix of the row and its coverage cell.
    pub fn css(self) -> &'static str {
        match self {
            AccountCoverage::Complete => "ok",
            AccountCoverage::Incomplete => "gap",
            AccountCoverage::NotAssessed => "na",
        }
    }
}

/// One account's row in the overview.
#[derive(Clone, Debug)]
pub struct AccountView {
    pub id: String,
    pub name: Option<String>,
    pub ou_path: Option<String>,
    /// As Organizations spells it (`ACTIVE`, `CLOSED`…); `NOT_LISTED` when named by id.
    pub state: String,
    /// `audited`, `not active`, `excluded`, `out of scope`, `not audited`.
    pub outcome: &'static str,
    pub coverage: AccountCoverage,
    /// Why an active account was not audited.
    pub problem: Option<AccessProblem>,
    /// The account's coverage in words.
    pub coverage_label: String,
    pub users: usize,
    pub keys: usize,
    pub gaps: usize,
    /// Open findings, critical first (four counts).
    pub open: [usize; 4],
    pub suppressed: usize,
    /// Keys with at least one open finding.
    pub keys_flagged: usize,
    /// Open findings new since the baseline.
    pub new: usize,
    pub worst: Option<Severity>,
    /// The account's page (`account-<id>.html`), when it was audited.
    pub page: Option<String>,
    /// Audited: it has a page, and its rows are in the CSV and JSON files.
    pub audited: bool,
    /// The row's place in the overview's "worst first" order, counted from the end (the
    /// worst account has the highest): the page's "Worst" column sorts by it.
    pub rank: usize,
}

impl AccountView {
    /// The overview's severity filter and sort: 4 critical … 1 low, 0 none.
    pub fn severity_rank(&self) -> u8 {
        Severity::rank(self.worst)
    }

    pub fn open_total(&self) -> usize {
        self.open.iter().sum()
    }

    pub fn is_complete(&self) -> bool {
        self.coverage == AccountCoverage::Complete
    }

    pub fn is_incomplete(&self) -> bool {
        self.coverage == AccountCoverage::Incomplete
    }
}

/// The overview's order, worst first: not audited, then by open findings (critical first),
/// then accounts with gaps, then by id. Sets each row's [`AccountView::rank`].
pub fn rank_accounts(accounts: &mut [AccountView]) {
    accounts.sort_by(|a, b| {
        let unreachable = |v: &AccountView| v.problem.is_some();
        unreachable(b)
            .cmp(&unreachable(a))
            .then_with(|| b.open.cmp(&a.open))
            .then_with(|| (b.gaps > 0).cmp(&(a.gaps > 0)))
            .then_with(|| a.id.cmp(&b.id))
    });
    let n = accounts.len();
    for (i, view) in accounts.iter_mut().enumerate() {
        view.rank = n - i;
    }
}

/// An audited account's row, from its figures; `coverage_label` says its coverage in words.
pub fn audited_view(
    record: &AccountRecord,
    figures: &Figures,
    coverage_label: &str,
) -> AccountView {
    let mut view = blank_view(record);
    view.audited = true;
    view.new = figures.new_open;
    view.users = figures.coverage.users_listed;
    view.keys = figures.coverage.keys;
    view.gaps = figures.coverage.gaps;
    view.open = figures.open.0;
    view.suppressed = figures.suppressed.total();
    view.keys_flagged = figures.keys_flagged;
    view.worst = figures.worst;
    view.coverage = if figures.coverage.complete {
        AccountCoverage::Complete
    } else {
        AccountCoverage::Incomplete
    };
    view.coverage_label = coverage_label.to_string();
    view.page = Some(account_page(&record.account.id));
    view
}

/// The row of an account that was not audited: unreachable, or not assessed on purpose.
pub fn other_view(record: &AccountRecord) -> AccountView {
    let mut view = blank_view(record);
    view.coverage_label = match &record.result {
        Outcome::Unreachable(p) => {
            view.coverage = AccountCoverage::Incomplete;
            view.problem = Some(p.clone());
            format!("{} failed with {}", p.operation, p.error_code)
        }
        Outcome::NotActive => format!("not assessed: the account is {}", view.state),
        Outcome::Excluded => "not assessed: excluded with --exclude-accounts".to_string(),
        Outcome::OutOfScope => "not assessed: out of the policy's scope".to_string(),
        Outcome::OtherShard => "not assessed: audited by another shard".to_string(),
        Outcome::Audited { .. } => "not assessed: no inventory".to_string(),
    };
    view
}

fn blank_view(record: &AccountRecord) -> AccountView {
    let account = &record.account;
    AccountView {
        id: account.id.to_string(),
        name: account.name.clone(),
        ou_path: account.ou_path.clone(),
        state: account.state.as_str().to_string(),
        outcome: record.result.label(),
        coverage: AccountCoverage::NotAssessed,
        problem: None,
        coverage_label: String::new(),
        users: 0,
        keys: 0,
        gaps: 0,
        open: [0; 4],
        suppressed: 0,
        keys_flagged: 0,
        new: 0,
        worst: None,
        page: None,
        audited: false,
        rank: 0,
    }
}

/// The file name of an account's page in an organization report.
pub fn account_page(account_id: &str) -> String {
    format!("account-{account_id}.html")
}
