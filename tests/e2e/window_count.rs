//! `window-count` at parallelism 1 and 4 against a simulation of Flink's WindowOperator.
//!
//! The simulation is written from Flink's documented semantics, independently of Strom's
//! operator: the watermark after each event is `max_ts - O - 1`; a window `[s, e)` is late
//! when `e - 1 + A <= watermark`; an element is dropped when all its windows are late; the
//! event-time trigger fires a window once when the watermark reaches `e - 1`, and at once for
//! an element that arrives later but within the allowed lateness `A`; state is dropped when
//! the watermark reaches `e - 1 + A`; session windows merge when they overlap or touch.

use std::collections::BTreeMap;

use crate::support::{output_lines, pseudo_random, run_err, run_ok};

const BIN: &str = env!("CARGO_BIN_EXE_window-count");

#[derive(Clone, Copy, Debug)]
pub(crate) enum Windows {
    Sliding { size: i64, slide: i64 },
    Session { gap: i64 },
}

#[derive(Debug)]
struct Window {
    start: i64,
    end: i64,
    count: u64,
    /// The trigger's timer at `end - 1` is registered and has not fired.
    timer: bool,
}

struct Simulation {
    kind: Windows,
    lateness: i64,
    watermark: i64,
    windows: BTreeMap<String, Vec<Window>>,
    fired: Vec<String>,
}

impl Simulation {
    fn emit(fired: &mut Vec<String>, key: &str, w: &Window) {
        fired.push(format!("{},{},{key},{}", w.start, w.end, w.count));
    }

    fn is_late(&self, end: i64) -> bool {
        end - 1 + self.lateness <= self.watermark
    }

    /// Adds an element; an element none of whose windows takes it is dropped as late.
    fn element(&mut self, ts: i64, key: &str) {
        match self.kind {
            Windows::Sliding { size, slide } => {
                let mut start = ts - ts.rem_euclid(slide);
                while start > ts - size {
                    self.add(key, start, start + size);
                    start -= slide;
                }
            }
            Windows::Session { gap } => self.add_session(key, ts, ts + gap),
        }
    }

    /// Adds an element to window [start, end) of `key` unless the window is late.
    fn add(&mut self, key: &str, start: i64, end: i64) {
        if self.is_late(end) {
            return;
        }
        let watermark = self.watermark;
        let windows = self.windows.entry(key.to_string()).or_default();
        let w = match windows.iter().position(|w| w.start == start && w.end == end) {
            Some(i) => &mut windows[i],
            None => {
                windows.push(Window { start, end, count: 0, timer: end - 1 > watermark });
                windows.last_mut().expect("just pushed")
            }
        };
        w.count += 1;
        if end - 1 <= watermark {
            Self::emit(&mut self.fired, key, w);
        }
    }

    /// Adds an element's session window, merging it with the windows it overlaps or touches.
    fn add_session(&mut self, key: &str, start: i64, end: i64) {
        let (watermark, lateness) = (self.watermark, self.lateness);
        let windows = self.windows.entry(key.to_string()).or_default();
        let (mut s, mut e, mut count) = (start, end, 0);
        let mut merged_existing = 0;
        while let Some(i) = windows.iter().position(|w| w.start <= e && w.end >= s) {
            let w = windows.swap_remove(i);
            s = s.min(w.start);
            e = e.max(w.end);
            count += w.count;
            merged_existing += 1;
        }
        if merged_existing == 0 && e - 1 + lateness <= watermark {
            return;
        }
        // A merged window registers its timer when its end is still ahead of the watermark.
        windows.push(Window { start: s, end: e, count, timer: e - 1 > watermark });
        let w = windows.last_mut().expect("just pushed");
        w.count += 1;
        if e - 1 <= watermark {
            Self::emit(&mut self.fired, key, w);
        }
    }

    fn advance(&mut self, watermark: i64) {
        if watermark <= self.watermark {
            return;
        }
        self.watermark = watermark;
        let lateness = self.lateness;
        for (key, windows) in &mut self.windows {
            for w in windows.iter_mut().filter(|w| w.timer && w.end - 1 <= watermark) {
                w.timer = false;
                Self::emit(&mut self.fired, key, w);
            }
            windows.retain(|w| w.end - 1 + lateness > watermark);
        }
    }
}

pub(crate) fn simulate(events: &[(i64, String)], kind: Windows, bound: i64, lateness: i64) -> Vec<String> {
    let mut sim = Simulation { kind, lateness, watermark: i64::MIN, windows: BTreeMap::new(), fired: Vec::new() };
    let mut max_ts = i64::MIN;
    for (ts, key) in events {
        sim.element(*ts, key);
        max_ts = max_ts.max(*ts);
        sim.advance(max_ts - bound - 1);
    }
    sim.advance(i64::MAX);
    let mut fired = sim.fired;
    fired.sort();
    fired
}

/// Events on a rising clock with jitter and occasional very late stragglers.
pub(crate) fn events() -> Vec<(i64, String)> {
    let keys = ["alpha", "beta", "gamma", "delta", "k-5"];
    pseudo_random(99)
        .take(8_000)
        .enumerate()
        .map(|(i, r)| {
            let jitter = if r % 50 == 0 { 400 } else { (r >> 8) % 60 } as i64;
            (i as i64 * 7 - jitter, keys[((r >> 20) % keys.len() as u64) as usize].to_string())
        })
        .collect()
}

fn check(label: &str, kind: Windows, bound: i64, lateness: i64) {
    let events = events();
    let want = simulate(&events, kind, bound, lateness);
    assert!(want.len() > 20, "{label}: the simulation produced output");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("events.csv");
    let text: String = events.iter().map(|(ts, k)| format!("{ts},{k}\n")).collect();
    std::fs::write(&input, text).unwrap();
    let mut args: Vec<String> =
        vec!["--input".into(), input.to_string_lossy().into_owned(), "--out-of-orderness-ms".into(), bound.to_string()];
    match kind {
        Windows::Sliding { size, slide } if size == slide => args.extend(["--size-ms".into(), size.to_string()]),
        Windows::Sliding { size, slide } => args.extend(["--size-ms".into(), size.to_string(), "--slide-ms".into(), slide.to_string()]),
        Windows::Session { gap } => args.extend(["--session-gap-ms".into(), gap.to_string()]),
    }
    if lateness > 0 {
        args.extend(["--allowed-lateness-ms".into(), lateness.to_string()]);
    }
    for p in ["1", "4"] {
        let out = dir.path().join(format!("out-{p}"));
        let mut run_args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_args.extend(["--output", out.to_str().unwrap(), "-p", p]);
        run_ok(BIN, &run_args);
        assert_eq!(output_lines(&out), want, "{label}, p={p}");
    }
}

#[test]
fn tumbling_windows() {
    check("tumbling", Windows::Sliding { size: 100, slide: 100 }, 20, 0);
}

#[test]
fn tumbling_windows_with_allowed_lateness() {
    check("tumbling+lateness", Windows::Sliding { size: 100, slide: 100 }, 20, 150);
}

#[test]
fn sliding_windows_with_allowed_lateness() {
    check("sliding", Windows::Sliding { size: 100, slide: 30 }, 25, 40);
}

#[test]
fn session_windows() {
    check("session", Windows::Session { gap: 15 }, 10, 0);
}

#[test]
fn session_windows_with_allowed_lateness() {
    check("session+lateness", Windows::Session { gap: 12 }, 10, 200);
}

#[test]
fn bad_arguments_exit_with_code_2() {
    let base = ["--input", "in", "--output", "out", "--out-of-orderness-ms", "5"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> { base.iter().chain(extra).copied().collect() };
    for (extra, needle) in [
        (&[][..], "--size-ms"),
        (&["--size-ms", "10", "--session-gap-ms", "5"][..], "--session-gap-ms"),
        (&["--session-gap-ms", "5", "--slide-ms", "2"][..], "--slide-ms"),
        (&["--size-ms", "0"][..], "--size-ms"),
    ] {
        let err = run_err(BIN, &with(extra), 2);
        assert!(err.contains(needle), "{extra:?}: {err}");
    }
}
