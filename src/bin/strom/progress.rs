//! Progress reporting on stderr.
//!
//! On a terminal a single line is redrawn in place (throttled); otherwise
//! (logs, CI) only a few whole lines are written, so logs stay readable.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use crate::output::format_duration;

/// Minimum time between redraws on a terminal.
const TTY_REDRAW: Duration = Duration::from_millis(100);
/// Time between progress lines when stderr is not a terminal.
const LOG_UPLOAD_EVERY: Duration = Duration::from_secs(5);
/// Time between "Waiting for response..." lines when stderr is not a terminal.
const LOG_WAIT_EVERY: Duration = Duration::from_secs(30);

fn err(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(text.as_bytes());
    let _ = stderr.flush();
}

/// Formats a byte count with binary units: `512 B`, `1.5 KiB`, `400.0 MiB`.
pub(crate) fn format_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Upload progress of one file.
pub(crate) struct UploadProgress {
    tty: bool,
    last: Instant,
    line_open: bool,
    finished: bool,
}

impl UploadProgress {
    /// Announces the upload of `name` (`size` bytes) to `address`.
    pub(crate) fn start(name: &str, size: u64, address: &str) -> Self {
        err(&format!("Uploading {name} ({}) to {address}\n", format_bytes(size)));
        Self { tty: std::io::stderr().is_terminal(), last: Instant::now(), line_open: false, finished: false }
    }

    /// Reports that `done` of `total` bytes have been sent.
    pub(crate) fn update(&mut self, done: u64, total: u64) {
        if self.finished {
            return;
        }
        let complete = done >= total;
        let due = if self.tty { TTY_REDRAW } else { LOG_UPLOAD_EVERY };
        if !complete && self.last.elapsed() < due {
            return;
        }
        self.last = Instant::now();
        let percent = (done * 100).checked_div(total).unwrap_or(100);
        let text = format!("  {} / {} ({percent}%)", format_bytes(done), format_bytes(total));
        if self.tty {
            // Pad to wipe a longer previous line.
            err(&format!("\r{text:<40}"));
            self.line_open = true;
            if complete {
                err("\n");
                self.line_open = false;
            }
        } else {
            err(&format!("{text}\n"));
        }
        self.finished = complete;
    }
}

impl Drop for UploadProgress {
    fn drop(&mut self) {
        if self.line_open {
            err("\n");
        }
    }
}

/// "Waiting for response..." with the elapsed time, while polling.
pub(crate) struct Waiting {
    tty: bool,
    started: Instant,
    last: Instant,
    line_open: bool,
}

impl Waiting {
    /// Prints `Waiting for response...`.
    pub(crate) fn start() -> Self {
        let tty = std::io::stderr().is_terminal();
        err(if tty { "Waiting for response..." } else { "Waiting for response...\n" });
        let now = Instant::now();
        Self { tty, started: now, last: now, line_open: tty }
    }

    /// Seconds since [`Waiting::start`].
    pub(crate) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Updates the elapsed time (redrawn on a terminal, an occasional line
    /// otherwise).
    pub(crate) fn tick(&mut self) {
        let waited = format_duration(self.started.elapsed().as_millis() as u64);
        if self.tty {
            if self.last.elapsed() >= TTY_REDRAW {
                self.last = Instant::now();
                err(&format!("\rWaiting for response... {waited}"));
            }
        } else if self.last.elapsed() >= LOG_WAIT_EVERY {
            self.last = Instant::now();
            err(&format!("Waiting for response... {waited}\n"));
        }
    }

    /// Ends the line on a terminal.
    pub(crate) fn done(&mut self) {
        if self.line_open {
            err("\n");
            self.line_open = false;
        }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.done();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes() {
        assert_eq!(format_bytes(0), "0 B");
        assert_eq!(format_bytes(1023), "1023 B");
        assert_eq!(format_bytes(1024), "1.0 KiB");
        assert_eq!(format_bytes(1536), "1.5 KiB");
        assert_eq!(format_bytes(400 * 1024 * 1024), "400.0 MiB");
        assert_eq!(format_bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }
}
