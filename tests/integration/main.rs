//! The one integration test binary (one link on a 2-core machine).
// Helpers shared by tests panic on broken fixtures by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli;
mod cli_io;
mod code_review;
mod dq;
mod durable;
mod engine;
mod example_runs;
mod examples;
mod exec;
mod file_access;
mod fmt;
mod graph;
mod lsp;
mod readme;
mod robustness;
mod runtime_ui;
#[cfg(unix)]
mod server;
#[cfg(target_os = "linux")]
mod signals;
mod steps;
mod ui;
