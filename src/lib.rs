//! redis-cache-exporter: polls Redis instances used as caches and serves their health as
//! Prometheus metrics. See ARCHITECTURE.md for which file owns what.

#![warn(unreachable_pub)]

pub mod app;
pub mod check;
pub mod cli;
pub mod client;
pub mod config;
pub mod core;
pub mod http;
pub mod metrics;
pub(crate) mod poll;
pub mod state;
pub(crate) mod targets;
pub mod telemetry;
