//! redis-cache-exporter: polls Redis instances used as caches and serves their health as
//! Prometheus metrics. See ARCHITECTURE.md for which file owns what.
//!
//! # Layout
//!
//! The folders follow the data, one way:
//!
//! ```text
//! config ──► targets ──► poll (one poller per target, over client) ──► core (parse, derive)
//!        ──► state (latest snapshot per target) ──► metrics (table, text) ──► http (/metrics)
//! ```
//!
//! - [`config`]: flags, environment and TOML merged into a validated `Config`.
//! - [`core`]: pure: INFO → `Sample`, history → `Derived`, the sampler's arithmetic, the
//!   Cluster and Sentinel reply parsers, the verdicts of `check`, the error kinds.
//! - [`client`]: every connection to Redis, from one resolved target (`Endpoint`) through one
//!   `Connector` (TLS in one place); the one error type of a call, classified once; replies
//!   framed, and converted to the core's.
//! - `poll`: the tasks of one target: poller (link, capabilities, history; what it needs of a
//!   connection as two small traits, so its decisions are tested with paused time) and sampler.
//! - `targets`: which tasks run: supervisor, one instance's tasks, discovery, `/scrape`'s
//!   on-demand registry.
//! - [`state`]: the snapshots shared between pollers and /metrics.
//! - [`metrics`]: the metric table and its renderings.
//! - [`http`]: router, /metrics, /scrape, /sd, status page, listener security.
//! - [`cli`], [`app`], [`check`], [`telemetry`]: the command line, the running exporter, the
//!   `check` subcommand, logging. `main.rs` is the binary only.
//!
//! # The dependency rule
//!
//! A module imports only modules below it (checked by `tests/layout.rs`):
//!
//! - `core` depends on no other module of the crate; `config` only on `core` (for the
//!   sampler's built-in group labels and prefix length, which validation refuses);
//! - `client` depends on `config` and `core` (the reply type, the error kinds);
//! - `state` on `core` only; `metrics` on `core` and `state`;
//! - `poll` on `core`, `client`, `config` and `state`;
//! - `targets` on `poll`, `client`, `config`, `state` and `core`;
//! - `http` on `metrics`, `state`, `core`, `config` and `targets::on_demand`;
//! - `check` on `config`, `core` and `client`; `cli` on `config`, `check` and `metrics` (where
//!   a configuration meets the metric table); `telemetry` on `config`; `app` on anything.
//!
//! `core`, `metrics` and `state` are pure: no tokio, no redis crate, no IO. The redis crate is
//! named only under `client` and in `config/redis_url.rs` (the URL parser behind the
//! configuration's `ConnectionInfo`).

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
