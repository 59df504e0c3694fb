//! The pure core: INFO text → [`info::Sample`], history → [`derive::Derived`], the sampler's
//! arithmetic, miss attribution from keyspace events ([`attribution`]), the memory-sizing model
//! ([`ghost`]: evicted keys, stack distances, the hit ratio at larger sizes), the Cluster and
//! Sentinel reply parsers (on a reply type of its own), the verdicts of `check` and the status
//! page, one glob matcher, and the closed set of error kinds.
//!
//! Imports no other module of the crate, and neither tokio, nor the redis crate, nor any IO:
//! values in, values out, and most of the unit tests.

pub mod attribution;
pub mod cluster;
pub mod derive;
pub mod error_kind;
pub mod ghost;
pub(crate) mod glob;
pub mod info;
pub(crate) mod reply;
pub(crate) mod ring;
pub mod sampler;
pub(crate) mod sentinel;
pub(crate) mod verdict;
