//! redis-cache-exporter: polls Redis instances used as caches and serves their health as
//! Prometheus metrics. See ARCHITECTURE.md for which file owns what.
pub mod config;
