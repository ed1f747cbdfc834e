//! The integration tests: one binary, a module per area.

mod advice;
mod analysis;
mod aws_server;
mod channels;
mod cli;
mod config;
#[path = "../../benches/lines/curgen.rs"]
mod curgen;
mod daemon;
mod deploy;
mod email;
mod export;
mod harness;
mod lines;
mod live;
mod page;
mod plan;
mod pricing;
mod props;
mod rejoin;
mod smtp;
mod store;
mod support;
mod tidy;
