//! The metrics: the table of every family (`table`), the families as protobuf structures
//! ([`families`]), the text exposition written from the snapshots (`text`), the same gzipped on
//! several threads (`gzip`), and the Markdown reference (`reference`).
//!
//! Pure: no IO, no tokio, no redis. Imports `core` (the values) and `state` (the snapshots).

pub(crate) mod families;
pub(crate) mod gzip;
pub(crate) mod reference;
pub(crate) mod table;
pub(crate) mod text;

pub use families::families;
pub use gzip::GzipError;
pub use reference::reference;
pub use table::{MetricDef, TABLE};
pub use text::render_text_uncached;
pub(crate) use text::{render_chunks, render_text};
