//! Connections to Redis: the poller's own connection and TLS to `rediss://` targets.

pub mod call;
pub mod conn;
pub mod multiplexed;
pub mod reply;
pub mod tls;
