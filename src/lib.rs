//! creditburn: how a company's AWS credit awards are burning, every day and in money.
//!
//! See ARCHITECTURE.md for the map. The binary (`main.rs`) only calls [`cli::main`].

pub mod alerts;
pub mod analysis;
pub mod aws;
pub mod cache;
pub mod cli;
pub mod config;
pub mod credits;
pub mod deliver;
pub mod email;
pub mod hints;
pub mod plan;
pub mod recording;
pub mod report;
pub mod table;
pub mod usage_type;
