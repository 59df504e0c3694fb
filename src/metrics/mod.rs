//! The metric table and its renderings.

mod table;

pub use table::*;
