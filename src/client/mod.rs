//! Connections to Redis, one stack for all of them: a resolved target (`endpoint`), the connector
//! and connection every caller uses (`conn`: the poller, the sampler, Cluster and Sentinel
//! discovery, `check`, `/scrape`; the keyspace-event subscriber's socket loop is `subscriber`), the
//! one place TLS is configured (`tls`), the framer that tells when a reply is complete ([`resp`],
//! the redis crate parses and encodes), the one error type of a call and INFO-like replies
//! ([`call`]), and the redis crate's values as the core's replies (`reply`).
//!
//! Imports `config` (the targets' connection settings and TLS files) and `core` (the reply
//! type, the error kinds); nothing above them.

pub mod call;
mod conn;
mod endpoint;
pub(crate) mod reply;
pub mod resp;
pub(crate) mod subscriber;
pub(crate) mod tls;

pub use call::{CallError, CallKind};
pub use conn::{Conn, Connector};
pub use endpoint::Endpoint;
/// A reply, as the redis crate parses it.
pub use redis::Value;
