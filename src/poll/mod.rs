//! The tasks that talk to one target: the poller and the key-prefix sampler.

pub mod capabilities;
pub mod gate;
pub mod link;
pub mod poller;
pub mod sampler_task;
pub mod schedule;
pub mod settings;
