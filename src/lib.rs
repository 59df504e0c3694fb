//! redis-cache-exporter: polls Redis instances used as caches and serves their health as
//! Prometheus metrics. See ARCHITECTURE.md for which file owns what.

pub mod check;
pub mod cluster;
pub mod config;
pub mod conn;
pub mod derive;
pub mod discovery;
pub mod http;
pub mod info;
pub mod metrics;
pub mod poller;
pub mod sampler;
pub mod scrape;
pub mod sentinel;
pub mod state;
pub mod status;
pub mod supervisor;
pub mod tls;
pub mod web;
