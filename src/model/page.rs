//! A decoded page of a GetCostAndUsage answer, with the query it answers: what every
//! source (a recording, the live API, the cache) hands to the analysis. The SDK's output
//! types are plain data; no client comes with them.

use std::path::PathBuf;

use aws_sdk_costexplorer::operation::get_cost_and_usage::GetCostAndUsageOutput;

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
