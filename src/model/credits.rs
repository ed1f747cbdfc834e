//! The account's credits as the Billing API reports them, and the reconciliation of an
//! award's modelled balance with AWS's: plain types, shared by the analysis, the report
//! and the cache.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::money::cents;

/// One Billing snapshot: the account's credits and how they were applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AwsCredits {
    pub fetched_at: DateTime<Utc>,
    pub credits: Vec<Credit>,
    pub allocations: Vec<Allocation>,
}

/// One credit as GetCredits describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Credit {
    pub credit_id: String,
    pub credit_type: String,
    pub description: String,
    pub currency: String,
    #[serde(serialize_with = "cents")]
    pub initial_amount: f64,
    #[serde(serialize_with = "cents")]
    pub remaining_amount: f64,
    pub start_date: NaiveDate,
    /// The expiry.
    pub end_date: Option<NaiveDate>,
    pub exhaust_date: Option<NaiveDate>,
    pub applicable_products: Vec<String>,
    pub status: String,
}

/// How much of a credit AWS applied to one service in one billing month (positive).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Allocation {
    pub credit_id: String,
    pub service: String,
    /// `YYYY-MM`.
    pub month: String,
    #[serde(serialize_with = "cents")]
    pub amount: f64,
    pub estimated: bool,
}

/// What AWS says about the credit an award names, beside the model.
#[derive(Debug, Clone, Serialize)]
pub struct Reconciliation {
    pub credit_id: String,
    /// False when the account has no credit with that id.
    pub found: bool,
    #[serde(serialize_with = "cents")]
    pub aws_remaining: f64,
    /// Modelled remaining minus AWS's remaining: positive when AWS shows less left than
    /// the award's own workloads explain (other spend is drawing the credit down).
    #[serde(serialize_with = "cents")]
    pub drift: f64,
    pub drift_percent: f64,
    /// Applied per service since the award's start, largest first, per AWS.
    pub applied_by_service: Vec<(String, f64)>,
    /// Where AWS's view comes from: "billing_api" (the credit's id), or "line_items"
    /// (the bill's Credit lines of the credit's name).
    pub basis: &'static str,
}
