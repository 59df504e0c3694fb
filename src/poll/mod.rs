//! The tasks that talk to one target: the poller and the key-prefix sampler.

pub mod gate;
pub mod poller;
pub mod sampler_task;
pub mod schedule;
