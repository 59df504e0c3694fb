//! Connections to Redis: the poller's own connection and TLS to `rediss://` targets.

pub mod call;
pub(crate) mod conn;
pub(crate) mod multiplexed;
pub(crate) mod reply;
pub(crate) mod resp;
pub(crate) mod tls;

use crate::config::ConnectionInfo;

/// `info` without `CLIENT SETINFO` on connect: the exporter sends only what it reads (and what
/// a least-privilege ACL user allows).
pub(crate) fn without_lib_name(info: &ConnectionInfo) -> ConnectionInfo {
    info.clone()
        .set_redis_settings(info.redis_settings().clone().set_skip_set_lib_name())
}
