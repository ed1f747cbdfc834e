//! creditburn: how a company's AWS credit awards are burning, every day and in money.
//!
//! See ARCHITECTURE.md for the map. The binary (`main.rs`) only calls [`cli::main`].

pub mod analysis;
pub mod config;
pub mod recording;
pub mod table;
pub mod usage_type;
