//! window-count: counts events per key and event-time window.
//!
//! ```text
//! window-count --input PATH --output DIR (--size-ms S [--slide-ms L] | --session-gap-ms G)
//!              --out-of-orderness-ms O [--allowed-lateness-ms A] [--rate N]
//! ```
//! Input lines are `timestamp_ms,key` (whitespace around the fields is ignored). Windows are tumbling (`--size-ms`), sliding
//! (`--size-ms` and `--slide-ms`) or session windows (`--session-gap-ms`), per key. Every
//! firing of a window writes `window_start,window_end,key,count` into the part files of
//! `DIR`; with allowed lateness, a window fires again with its updated count for each late
//! element that arrives within the lateness.
//!
//! Watermarks are bounded-out-of-orderness watermarks (`max_timestamp - O - 1`) emitted after
//! every event rather than periodically. The source and the watermark assigner run at
//! parallelism 1, so events and watermarks are interleaved in file order whatever the job's
//! parallelism (`-p`) is; the output therefore does not depend on timing or parallelism and
//! equals Apache Flink's with a watermark generator that emits on every event.
//!
//! `--rate N` reads at most N events per second (to watch a job run, or to fail it midway in
//! tests); the output does not depend on it.
//!
//! A malformed input line fails the job with a message that names the file and line number
//! and quotes the line; nothing is dropped silently.

use std::time::Duration;

use strom::connectors::{FileSink, TextFileSource};
use strom::prelude::*;
use strom::JobArgs;

const USAGE: &str = "--input PATH --output DIR (--size-ms S [--slide-ms L] | --session-gap-ms G) \
                     --out-of-orderness-ms O [--allowed-lateness-ms A] [--rate N]";

/// An input event: its timestamp in milliseconds and its key.
type Event = (i64, String);

fn main() {
    strom::main(USAGE, |env| {
        let args = env.args();
        let input: String = args.required("input")?;
        let output: String = args.required("output")?;
        let windows = window_assigner(&args)?;
        let out_of_orderness = non_negative_ms(&args, "out-of-orderness-ms")?
            .ok_or_else(|| Error::Usage("missing required argument --out-of-orderness-ms".into()))?;
        let allowed_lateness = non_negative_ms(&args, "allowed-lateness-ms")?.unwrap_or_default();
        let rate: Option<u64> = args.get("rate")?;

        let watermarks = WatermarkStrategy::for_bounded_out_of_orderness(out_of_orderness)
            .with_timestamp_assigner(|event: &Event, _| event.0)
            .with_emission(WatermarkEmission::PerEvent);
        let mut events = env.add_source("Events", TextFileSource::with_parser(input, parse_event)).uid("events").parallelism(1);
        if let Some(rate) = rate.filter(|r| *r > 0) {
            events = events.map(Throttle::per_second(rate)).name("Throttle").uid("throttle").parallelism(1);
        }
        events
            .assign_timestamps_and_watermarks(watermarks)
            .uid("watermarks")
            .parallelism(1)
            .key_by(|event: &Event| event.1.clone())
            .window(windows)
            .allowed_lateness(allowed_lateness)
            .aggregate_with(CountAggregate, |key: &String, window: TimeWindow, count: u64, out: &mut Collector<String>| {
                out.collect(format!("{},{},{key},{count}", window.start, window.end));
            })
            .name("Count per window")
            .uid("count-per-window")
            .sink(FileSink::lines(output))
            .name("Window counts")
            .uid("window-counts");
        env.execute("WindowCount").map(drop)
    })
}

/// Passes events through at most `rate` per second, pausing the task when ahead.
#[derive(Clone)]
struct Throttle {
    rate: u64,
    started: Option<std::time::Instant>,
    seen: u64,
}

impl Throttle {
    fn per_second(rate: u64) -> impl FnMut(Event) -> Event + Clone + Send + 'static {
        let mut throttle = Throttle { rate, started: None, seen: 0 };
        move |event| {
            throttle.pace();
            event
        }
    }

    fn pace(&mut self) {
        let started = *self.started.get_or_insert_with(std::time::Instant::now);
        self.seen += 1;
        if self.seen % 64 == 0 {
            let due = Duration::from_secs_f64(self.seen as f64 / self.rate as f64);
            if let Some(ahead) = due.checked_sub(started.elapsed()) {
                // Rate limiting is the point of this operator.
                std::thread::sleep(ahead);
            }
        }
    }
}

/// The windows the arguments ask for: tumbling, sliding or session windows.
fn window_assigner(args: &JobArgs) -> Result<WindowAssigner> {
    let size = positive_ms(args, "size-ms")?;
    let slide = positive_ms(args, "slide-ms")?;
    let gap = positive_ms(args, "session-gap-ms")?;
    match (size, slide, gap) {
        (Some(size), None, None) => Ok(WindowAssigner::tumbling_event_time(size)),
        (Some(size), Some(slide), None) => Ok(WindowAssigner::sliding_event_time(size, slide)),
        (None, None, Some(gap)) => Ok(WindowAssigner::event_time_session(gap)),
        (None, Some(_), _) => Err(Error::Usage("--slide-ms needs --size-ms (sliding windows)".into())),
        (Some(_), _, Some(_)) => Err(Error::Usage("give either --size-ms or --session-gap-ms, not both".into())),
        (None, None, None) => {
            Err(Error::Usage("give --size-ms (tumbling or sliding windows) or --session-gap-ms (session windows)".into()))
        }
    }
}

/// The value of `--name` in milliseconds, which must be positive.
fn positive_ms(args: &JobArgs, name: &str) -> Result<Option<Duration>> {
    match args.get::<i64>(name)? {
        Some(ms) if ms <= 0 => Err(Error::Usage(format!("--{name} must be positive, got {ms}"))),
        ms => Ok(ms.map(|ms| Duration::from_millis(ms.unsigned_abs()))),
    }
}

/// The value of `--name` in milliseconds, which must not be negative.
fn non_negative_ms(args: &JobArgs, name: &str) -> Result<Option<Duration>> {
    match args.get::<i64>(name)? {
        Some(ms) if ms < 0 => Err(Error::Usage(format!("--{name} must not be negative, got {ms}"))),
        ms => Ok(ms.map(|ms| Duration::from_millis(ms.unsigned_abs()))),
    }
}

/// Parses `timestamp_ms,key`.
fn parse_event(line: &str) -> std::result::Result<Event, String> {
    let (ts, key) = line.split_once(',').ok_or("expected timestamp_ms,key")?;
    let ts = ts.trim().parse::<i64>().map_err(|e| format!("invalid timestamp '{}': {e}", ts.trim()))?;
    let key = key.trim();
    if key.is_empty() || key.contains(',') {
        return Err(format!("expected timestamp_ms,key with a non-empty key without commas, got key '{key}'"));
    }
    Ok((ts, key.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assigner(args: &[&str]) -> Result<WindowAssigner> {
        window_assigner(&JobArgs::parse(args.iter().copied())?)
    }

    #[test]
    fn events_parse_or_explain_why_not() {
        assert_eq!(parse_event("1000,a"), Ok((1000, "a".to_string())));
        assert_eq!(parse_event(" -5 , key b "), Ok((-5, "key b".to_string())));
        assert_eq!(parse_event("1000"), Err("expected timestamp_ms,key".to_string()));
        assert!(parse_event("x,a").is_err_and(|e| e.starts_with("invalid timestamp 'x'")));
        assert!(parse_event("1,").is_err());
        assert!(parse_event("1,a,b").is_err());
    }

    #[test]
    fn window_arguments_choose_the_assigner() -> Result<()> {
        let ms = Duration::from_millis;
        assert_eq!(assigner(&["--size-ms", "10"])?, WindowAssigner::tumbling_event_time(ms(10)));
        assert_eq!(assigner(&["--size-ms", "10", "--slide-ms", "5"])?, WindowAssigner::sliding_event_time(ms(10), ms(5)));
        assert_eq!(assigner(&["--session-gap-ms", "7"])?, WindowAssigner::event_time_session(ms(7)));
        Ok(())
    }

    #[test]
    fn inconsistent_window_arguments_are_usage_errors() {
        for (args, message) in [
            (&["--size-ms", "10", "--session-gap-ms", "5"][..], "not both"),
            (&[][..], "give --size-ms"),
            (&["--slide-ms", "5"][..], "--slide-ms needs --size-ms"),
            (&["--slide-ms", "5", "--session-gap-ms", "5"][..], "--slide-ms needs --size-ms"),
            (&["--size-ms", "0"][..], "--size-ms must be positive, got 0"),
            (&["--session-gap-ms", "-1"][..], "--session-gap-ms must be positive, got -1"),
        ] {
            match assigner(args) {
                Err(Error::Usage(m)) => assert!(m.contains(message), "{args:?}: {m}"),
                other => panic!("{args:?}: {other:?}"),
            }
        }
    }
}
