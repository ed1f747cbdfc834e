//! A decoded page of a GetCostAndUsage answer, with the query it answers: what every
//! source (a recording, the live API, the cache) hands to the analysis. The SDK's output
//! types are plain data; no client comes with them.

use std::path::PathBuf;

use aws_sdk_costexplorer::operation::get_cost_and_usage::GetCostAndUsageOutput;

/// The years a day of the bill, or an award's date, may fall in: far enough apart for any
/// real bill, near enough that a day's arithmetic (the day after, a year of forecast)
/// cannot leave the calendar.
pub const MIN_YEAR: i32 = 2000;
pub const MAX_YEAR: i32 = 2200;

/// Which record types a query was filtered to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordScope {
    /// `RECORD_TYPE = Usage`.
    Usage,
    /// `NOT RECORD_TYPE = Usage`: credits, refunds, tax and the like.
    NotUsage,
}

/// One decoded page of a GetCostAndUsage answer.
#[derive(Debug, Clone)]
pub struct CostPage {
    pub query: String,
    pub file: PathBuf,
    pub scope: RecordScope,
    pub output: GetCostAndUsageOutput,
}
