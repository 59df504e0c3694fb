//! Connections to Redis: the poller's own connection and TLS to `rediss://` targets.

pub mod conn;
pub mod tls;
