//! Which targets run: the configured ones ([`supervisor`], applying a configuration by
//! difference), what one instance runs ([`instance`]), the instances Cluster and Sentinel
//! entries discover ([`discovery`]), and the on-demand ones of `/scrape` ([`on_demand`]).
//!
//! Imports `poll`, `client`, `config`, `state` and `core`.

pub(crate) mod discovery;
pub(crate) mod instance;
pub(crate) mod on_demand;
pub(crate) mod supervisor;
