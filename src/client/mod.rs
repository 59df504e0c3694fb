//! Connections to Redis: the poller's own request/response connection (`conn`, framing in
//! `resp`), TLS to `rediss://` targets (`tls`), the redis crate's multiplexed connection
//! as discovery uses it (`multiplexed`), the keyspace-event subscriber's socket
//! (`subscriber`), the classification of failed calls and INFO-like
//! replies ([`call`]), and the redis crate's values as the core's replies (`reply`).
//!
//! Imports `config` (the targets' connection settings and TLS files) and `core` (the reply
//! type, the error kinds); nothing above them.

pub mod call;
pub(crate) mod conn;
pub(crate) mod multiplexed;
pub(crate) mod reply;
pub(crate) mod resp;
pub(crate) mod subscriber;
pub(crate) mod tls;

use crate::config::ConnectionInfo;

/// `info` without `CLIENT SETINFO` on connect: the exporter sends only what it reads (and what
/// a least-privilege ACL user allows).
pub(crate) fn without_lib_name(info: &ConnectionInfo) -> ConnectionInfo {
    info.clone()
        .set_redis_settings(info.redis_settings().clone().set_skip_set_lib_name())
}
