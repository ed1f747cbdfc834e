//! What finance is told, pure: the alert state machine (which events to send), and the
//! emails and the burn-down chart they carry.

pub mod channels;
pub mod chart;
pub mod email;
pub mod notice;
pub mod page;
pub mod state;
