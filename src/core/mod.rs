//! The pure core: INFO parsing, derivation, the sampler's arithmetic and the Cluster and
//! Sentinel reply parsers. No tokio, no redis, no IO.

pub mod cluster;
pub mod derive;
pub mod error_kind;
pub(crate) mod glob;
pub mod info;
pub(crate) mod reply;
pub mod sampler;
pub(crate) mod sentinel;
pub(crate) mod verdict;
