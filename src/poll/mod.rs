//! The tasks that talk to one target: the poller ([`poller`], with its connection and backoff
//! in [`link`], what the target accepts in [`capabilities`], its settings in [`settings`]), the
//! key-prefix sampler ([`sampler_task`]), miss attribution's subscriber ([`attribution_task`]),
//! the lookup gate between them ([`gate`]) and when they
//! run ([`schedule`]).
//!
//! Imports `core`, `client`, `config` and `state`.

pub(crate) mod attribution_task;
pub(crate) mod capabilities;
pub(crate) mod gate;
pub(crate) mod link;
pub(crate) mod poller;
pub(crate) mod sampler_task;
pub(crate) mod schedule;
pub(crate) mod settings;
