//! Which targets run: the configured ones, the instances Cluster and Sentinel entries
//! discover, and the on-demand ones of `/scrape`.

pub(crate) mod discovery;
pub(crate) mod instance;
pub(crate) mod on_demand;
pub(crate) mod supervisor;
