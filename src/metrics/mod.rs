//! The metrics: the table of every family ([`table`]), the families as protobuf structures
//! ([`families`]), the text exposition written from the snapshots ([`text`]), and the Markdown
//! reference ([`reference`]).
//!
//! Pure: no IO, no tokio, no redis; only the core's values and the shared state's snapshots.

pub mod families;
pub mod reference;
pub mod table;
pub mod text;

pub use families::families;
pub use reference::reference;
pub use table::TABLE;
pub use text::{render_chunks, render_text, render_text_uncached};
