//! The tasks that talk to one target: the poller ([`poller`], with its connection and backoff in
//! [`link`], what the target accepts in [`capabilities`], which INFO sections a poll asks for in
//! [`sections`], its settings in [`settings`]), the key-prefix sampler ([`sampler_task`]), miss
//! attribution's subscriber ([`attribution_task`]), the lookup gate between them ([`gate`]) and
//! when they run ([`schedule`]); what the poller needs of a connection ([`wire`]).
//!
//! Imports `core`, `client`, `config` and `state`.

pub(crate) mod attribution_task;
pub(crate) mod capabilities;
pub(crate) mod gate;
pub(crate) mod link;
pub(crate) mod poller;
#[cfg(test)]
mod replay;
pub(crate) mod sampler_task;
pub(crate) mod schedule;
pub(crate) mod sections;
pub(crate) mod settings;
pub(crate) mod wire;
