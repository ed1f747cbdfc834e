//! What the outbox holds, as the report, the digest and `/health` show it.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// A delivery that will not be retried, for the report and the digest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failed {
    pub message_id: String,
    pub subject: String,
    pub recipient: String,
    pub error: String,
    pub failed_at: DateTime<Utc>,
}

/// Deliveries still queued after an attempt, grouped by what stopped them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Waiting {
    pub error: String,
    pub messages: u64,
}

/// Delivery counts for the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Deliveries {
    pub pending: u64,
    /// Delivered, all time (pruned deliveries included).
    pub sent: u64,
    /// The failed deliveries still kept (not yet pruned).
    pub failed: Vec<Failed>,
    /// Failed, all time (pruned deliveries included).
    pub failed_total: u64,
    /// Pending deliveries that met an error, by error (a login the server refused, a
    /// server that did not answer, ...).
    pub waiting: Vec<Waiting>,
}
