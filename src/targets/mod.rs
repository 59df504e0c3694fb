//! Which targets run: the configured ones, the instances Cluster and Sentinel entries
//! discover, and the on-demand ones of `/scrape`.

pub mod discovery;
pub mod instance;
pub mod on_demand;
pub mod supervisor;
