//! The plain types and facts every stage shares: money and its formatting, text for
//! people, the decoded pages of the bill, Bedrock's billing names, the account's
//! credits, the outbox's delivery counts. Depends on nothing else in the crate.

pub mod credits;
pub mod deliveries;
pub mod line;
pub mod money;
pub mod outcome;
pub mod page;
pub mod severity;
pub mod text;
pub mod usage_type;
