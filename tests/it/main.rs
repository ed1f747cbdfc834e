//! The integration tests: one binary, a module per area.

mod advice;
mod analysis;
mod cli;
mod config;
mod email;
mod support;
