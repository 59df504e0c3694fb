//! The countdown `check` shows while it samples: a bar and the seconds left on stderr, drawn
//! only when stderr is a terminal, so pipes, files, cron mail and the JSON on stdout get
//! nothing extra. The bar is cleared before the report is printed.

use std::io::IsTerminal as _;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often the bar moves: often enough to look alive, rarely enough to cost nothing.
const TICK: Duration = Duration::from_millis(250);

/// Waits `duration`; on a terminal, shows how much of it is left.
pub(super) async fn wait(duration: Duration) {
    during("sampling INFO", duration, tokio::time::sleep(duration)).await;
}

/// Runs `work`, expected to take about `duration`; on a terminal, shows `what` and how much
/// of `duration` is left until `work` ends (early on Ctrl-C, say), then clears the bar.
pub(super) async fn during<T>(
    what: &str,
    duration: Duration,
    work: impl std::future::Future<Output = T>,
) -> T {
    if !std::io::stderr().is_terminal() {
        return work.await;
    }
    let bar = bar(what, duration);
    let start = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(TICK);
    tokio::pin!(work);
    let out = loop {
        tokio::select! {
            out = &mut work => break out,
            _ = tick.tick() => {
                let elapsed = start.elapsed().min(duration);
                bar.set_position(millis(elapsed));
                bar.set_message(left(duration.checked_sub(elapsed).unwrap()));
            }
        }
    };
    bar.finish_and_clear();
    out
}

fn bar(what: &str, duration: Duration) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(millis(duration)), ProgressDrawTarget::stderr());
    // The template is built from constants: a parse error would be a bug here, and the plain
    // default style is still a usable bar, so fall back to it rather than fail the check.
    if let Ok(style) = ProgressStyle::with_template(&format!("{what} [{{bar:30}}] {{msg}}"))
        .map(|s| s.progress_chars("=> "))
    {
        bar.set_style(style);
    }
    bar.set_message(left(duration));
    bar
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// "12 s left", rounded up so the countdown ends at 1 s, not 0 s, before the report.
fn left(d: Duration) -> String {
    format!("{} s left", d.as_secs() + u64::from(d.subsec_nanos() > 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_left_round_up() {
        assert_eq!(left(Duration::from_millis(29_001)), "30 s left");
        assert_eq!(left(Duration::from_secs(3)), "3 s left");
        assert_eq!(left(Duration::from_millis(1)), "1 s left");
        assert_eq!(left(Duration::ZERO), "0 s left");
    }
}
