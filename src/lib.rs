//! redis-cache-exporter: polls Redis instances used as caches and serves their health as
//! Prometheus metrics. See ARCHITECTURE.md for which file owns what.

pub mod app;
pub mod check;
pub mod cli;
pub mod client;
pub mod config;
pub mod core;
pub mod http;
pub mod metrics;
pub mod poll;
pub mod state;
pub mod targets;
pub mod telemetry;
