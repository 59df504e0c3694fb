//! The tasks that talk to one target: the poller and the key-prefix sampler.

pub(crate) mod capabilities;
pub(crate) mod gate;
pub(crate) mod link;
pub(crate) mod poller;
pub(crate) mod sampler_task;
pub(crate) mod schedule;
pub(crate) mod settings;
