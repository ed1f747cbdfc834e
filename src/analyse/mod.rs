//! The analysis, pure: the cost table, attribution to workloads, each award's burn and
//! projection, the hints, the alerts, the reconciliation with AWS's credits, and the
//! report. No I/O, no clock: `as_of` is passed in.

pub mod alerts;
pub mod analysis;
pub mod burn;
pub mod credits;
pub mod drawdown;
pub mod export;
pub mod forecast;
pub mod hints;
pub mod levers;
pub mod lines;
pub mod plan;
pub mod project;
pub mod report;
pub mod table;
pub mod tokens;
pub mod whatif;
