//! The workload generator (`examples/workload.rs`) running in a thread of its own until stopped,
//! for tests that need steady cache traffic at a known hit ratio.
//!
//! Not declared in `support/mod.rs`: a test that uses it includes the generator as `workload`
//! and this file beside `support`:
//! ```text
//! #[path = "../examples/workload.rs"]
//! mod workload;
//! #[path = "support/traffic.rs"]
//! mod traffic;
//! ```

use std::thread::JoinHandle;

use clap::Parser;

use crate::workload;

/// The workload generator running in its own thread (and tokio runtime) until stopped.
pub(crate) struct Traffic {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<workload::Report>>,
}

impl Traffic {
    /// Starts `examples/workload.rs` with the given command-line arguments (after `--url`).
    pub(crate) fn start(url: &str, extra: &[&str]) -> Traffic {
        let mut argv = vec!["workload", "--url", url, "--report-every", "0s"];
        argv.extend_from_slice(extra);
        let args = workload::Args::try_parse_from(&argv)
            .unwrap_or_else(|e| panic!("workload arguments {argv:?}: {e}"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            rt.block_on(workload::run(&args, async {
                let _ = rx.await;
            }))
            .unwrap_or_else(|e| panic!("workload against {}: {e}", args.url))
        });
        Traffic {
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    /// Stops the generator and returns what it did.
    pub(crate) fn stop(mut self) -> workload::Report {
        self.halt().expect("workload report")
    }

    fn halt(&mut self) -> Option<workload::Report> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.thread.take().and_then(|t| t.join().ok())
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.halt();
    }
}
