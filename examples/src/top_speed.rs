//! The top-speed example: a port of Flink's `TopSpeedWindowing`
//! (`flink-examples-streaming`, `org.apache.flink.streaming.examples.windowing`).
//!
//! Cars report `(car id, speed in km/h, distance in m, timestamp)` every 100 ms. Per car,
//! whenever the car has driven more than 50 m since the last report that fired, the job
//! emits the fastest report of the last 10 seconds: a global window per car with
//! `DeltaTrigger.of(50, (old, new) -> new.distance - old.distance)`, `TimeEvictor.of(10 s)`
//! and `maxBy(speed)` (ties keep the earlier report).
//!
//! The data comes from [`CarSource`], Flink's `CarSource` logic: every step, each car's
//! speed goes up or down by 5 km/h on a coin flip (bounded to [0, 100]) and its distance
//! grows by `speed / 3.6` m.
//!
//! Where this port deviates from Flink's example:
//! - Event time is synthetic: step `k` (from 1) has timestamp `k · 100` ms, instead of the
//!   wall clock after a 100 ms sleep. Results therefore do not depend on timing, and the
//!   generator runs as fast as the job can take its output.
//! - The coin flips come from a port of `java.util.Random` seeded with `--seed` (default
//!   [`DEFAULT_SEED`]): Flink's `CarSource` with `new Random(seed)` emits exactly the same
//!   records, and results are reproducible.
//! - `--events N` ends the input after N reports; `--num-cars` replaces the hard-coded 2;
//!   there is no `--input` file option.
//! - Timestamps are assigned in the source's single subtask. Flink's example assigns them
//!   at the job's parallelism, behind a rebalance, so above parallelism 1 a car's reports
//!   can reach the window out of order there; here the output is the same at any
//!   parallelism.
//! - Output records print as Flink prints a `Tuple4<Integer, Integer, Double, Long>`:
//!   `(0,55,15.277777777777777,100)`.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use strom::prelude::*;
use strom::JobArgs;

use strom::connectors::JavaRandom;

/// The generator's seed when `--seed` is not given.
pub const DEFAULT_SEED: i64 = 42;
/// The number of cars when `--num-cars` is not given (Flink's `CarSource.create(2)`).
pub const DEFAULT_NUM_CARS: u32 = 2;
/// Event time between two reports of a car, in milliseconds.
pub const STEP_MS: i64 = 100;
/// The delta trigger's threshold: fire after more than this many meters.
pub const TRIGGER_METERS: f64 = 50.0;
/// The time evictor's window: keep the reports of the last 10 seconds.
pub const EVICTION_MS: i64 = 10_000;
/// The job's name, as in Flink.
pub const JOB_NAME: &str = "CarTopSpeedWindowingExample";

/// One report of a car (Flink's `Tuple4<Integer, Integer, Double, Long>`).
///
/// ```
/// use strom_examples::top_speed::CarEvent;
/// let car = CarEvent { car_id: 0, speed: 55, distance: 15.277777777777777, timestamp: 100 };
/// assert_eq!(car.to_string(), "(0,55,15.277777777777777,100)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CarEvent {
    /// The car (`f0`).
    pub car_id: i32,
    /// Speed in km/h (`f1`).
    pub speed: i32,
    /// Distance driven in meters (`f2`).
    pub distance: f64,
    /// Event time in milliseconds (`f3`).
    pub timestamp: i64,
}

impl fmt::Display for CarEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({},{},{},{})", self.car_id, self.speed, java_double(self.distance), self.timestamp)
    }
}

/// Formats `d` as Java's `Double.toString` does (JDK 19 and later, which print the shortest
/// digits that identify the value, as Rust does): `0.0`, `15.25`, `1.0E7`, `1.0E-4`.
fn java_double(d: f64) -> String {
    if d.is_nan() {
        return "NaN".to_string();
    }
    if d.is_infinite() {
        return if d > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    let magnitude = d.abs();
    if magnitude == 0.0 || (1e-3..1e7).contains(&magnitude) {
        let s = d.to_string();
        return if s.contains('.') { s } else { format!("{s}.0") };
    }
    // Computerized scientific notation: one digit before the point, at least one after.
    let s = format!("{d:e}");
    let (mantissa, exponent) = s.split_once('e').expect("`{:e}` output has an exponent");
    let point = if mantissa.contains('.') { "" } else { ".0" };
    format!("{mantissa}{point}E{exponent}")
}

/// Reports per poll.
const BATCH: u64 = 1024;

/// Reports of `num_cars` cars, one report per car every 100 ms of event time (Flink's
/// `CarSource`). Not parallel: give it parallelism 1 (as [`build`] does).
///
/// ```
/// use strom::prelude::*;
/// use strom_examples::top_speed::CarSource;
/// let env = StreamEnv::new();
/// let out = CollectSink::new();
/// env.add_source("cars", CarSource::new(2, 42).with_max_events(4)).parallelism(1).sink(out.clone());
/// env.execute("cars").unwrap();
/// let printed: Vec<String> = out.values().iter().map(|c| c.to_string()).collect();
/// assert_eq!(printed, ["(0,55,15.277777777777777,100)", "(1,45,12.5,100)", "(0,60,31.944444444444443,200)", "(1,40,23.61111111111111,200)"]);
/// ```
#[derive(Debug, Clone)]
pub struct CarSource {
    rnd: JavaRandom,
    speeds: Vec<i32>,
    distances: Vec<f64>,
    /// Reports emitted so far.
    emitted: u64,
    max_events: Option<u64>,
}

impl CarSource {
    /// An unbounded source of `num_cars` cars, all starting at 50 km/h, with coin flips
    /// drawn from `new Random(seed)`.
    pub fn new(num_cars: u32, seed: i64) -> Self {
        let n = num_cars as usize;
        Self { rnd: JavaRandom::new(seed), speeds: vec![50; n], distances: vec![0.0; n], emitted: 0, max_events: None }
    }

    /// Ends after `events` reports (over all cars).
    pub fn with_max_events(mut self, events: u64) -> Self {
        self.max_events = Some(events);
        self
    }

    /// The next report: the next car of the current step.
    fn next_report(&mut self) -> CarEvent {
        let cars = self.speeds.len() as u64;
        let car = (self.emitted % cars) as usize;
        let step = (self.emitted / cars) as i64 + 1;
        self.emitted += 1;
        let speed = &mut self.speeds[car];
        *speed = if self.rnd.next_boolean() { (*speed + 5).min(100) } else { (*speed - 5).max(0) };
        self.distances[car] += f64::from(*speed) / 3.6;
        CarEvent { car_id: car as i32, speed: *speed, distance: self.distances[car], timestamp: step * STEP_MS }
    }

    fn finished(&self) -> bool {
        self.speeds.is_empty() || self.max_events.is_some_and(|n| self.emitted >= n)
    }
}

impl Source for CarSource {
    type Out = CarEvent;

    fn open(&mut self, ctx: &mut OperatorContext<'_>) -> Result<()> {
        if ctx.info().parallelism != 1 {
            return Err(Error::Graph(format!("the car source is not parallel; it runs with parallelism {}", ctx.info().parallelism)));
        }
        Ok(())
    }

    fn poll_next(&mut self, out: &mut Collector<CarEvent>, _: &mut OperatorContext<'_>) -> Result<SourceStatus> {
        for _ in 0..BATCH {
            if self.finished() {
                return Ok(SourceStatus::Finished);
            }
            let car = self.next_report();
            out.collect_at(car.timestamp, car);
        }
        Ok(if self.finished() { SourceStatus::Finished } else { SourceStatus::MoreAvailable })
    }
}

/// The job's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopSpeedOptions {
    /// `--seed`: the generator's seed.
    pub seed: i64,
    /// `--events`: stop after this many reports; `None`: unbounded.
    pub events: Option<u64>,
    /// `--num-cars`: the number of cars.
    pub num_cars: u32,
    /// `--output`: a directory for the file sink; `None`: print to stdout.
    pub output: Option<PathBuf>,
}

impl TopSpeedOptions {
    /// The arguments, for the usage line.
    pub const USAGE: &'static str = "[--seed N] [--events N] [--num-cars N] [--output DIR]";

    /// Reads the options from the job's arguments.
    ///
    /// ```
    /// use strom::JobArgs;
    /// use strom_examples::top_speed::TopSpeedOptions;
    /// let options = TopSpeedOptions::from_args(&JobArgs::parse(["--num-cars", "3"]).unwrap()).unwrap();
    /// assert_eq!((options.num_cars, options.events, options.seed), (3, None, 42));
    /// ```
    pub fn from_args(args: &JobArgs) -> Result<Self> {
        let num_cars = args.get_or("num-cars", DEFAULT_NUM_CARS)?;
        if num_cars == 0 {
            return Err(Error::Usage("--num-cars must be at least 1".to_string()));
        }
        Ok(Self { seed: args.get_or("seed", DEFAULT_SEED)?, events: args.get("events")?, num_cars, output: args.get("output")? })
    }

    /// The source these options describe.
    pub fn source(&self) -> CarSource {
        let source = CarSource::new(self.num_cars, self.seed);
        match self.events {
            Some(n) => source.with_max_events(n),
            None => source,
        }
    }
}

/// Flink's `maxBy(1)`: the report with the higher speed; on a tie the earlier one.
pub fn max_by_speed(a: CarEvent, b: CarEvent) -> CarEvent {
    if b.speed > a.speed {
        b
    } else {
        a
    }
}

/// Event time from the reports' timestamps, which never decrease per source subtask.
pub fn watermark_strategy() -> WatermarkStrategy<CarEvent> {
    WatermarkStrategy::for_monotonous_timestamps().with_timestamp_assigner(|car: &CarEvent, _| car.timestamp)
}

/// The reports of [`CarSource`], with event time. Timestamps are assigned in the source's
/// (single) subtask, so every car's reports keep their order.
pub fn car_reports(env: &StreamEnv, options: &TopSpeedOptions) -> DataStream<CarEvent> {
    let cars = env.add_source("Car Source", options.source()).parallelism(1).uid("car-source");
    cars.assign_timestamps_and_watermarks(watermark_strategy()).parallelism(1).uid("car-timestamps")
}

/// Per car, every time it has driven more than 50 m since the last firing, the fastest
/// report of the last 10 seconds of event time. `cars` must carry event time, and each
/// car's reports must arrive in order.
pub fn top_speeds(cars: &DataStream<CarEvent>) -> DataStream<CarEvent> {
    cars.key_by(|car: &CarEvent| car.car_id)
        .window(WindowAssigner::global())
        .trigger(DeltaTrigger::of(TRIGGER_METERS, |old: &CarEvent, new: &CarEvent| new.distance - old.distance))
        .evictor(TimeEvictor::of_ms(EVICTION_MS))
        .reduce(max_by_speed)
        .name("TopSpeed")
        .uid("top-speed")
}

/// Adds the car source and the windowing to `env`; returns the top speeds.
pub fn build(env: &StreamEnv, options: &TopSpeedOptions) -> DataStream<CarEvent> {
    top_speeds(&car_reports(env, options))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn car(car_id: i32, speed: i32, distance: f64, timestamp: i64) -> CarEvent {
        CarEvent { car_id, speed, distance, timestamp }
    }

    /// Flink's semantics, written out without the runtime: per car, the delta trigger fires
    /// when the distance since the last firing report exceeds 50 m; the time evictor then
    /// drops reports at or before `newest − 10 s`; `maxBy` keeps the first fastest report.
    /// The result is grouped by car, each car's firings in order.
    fn simulate(cars: &[CarEvent]) -> BTreeMap<i32, Vec<CarEvent>> {
        let mut windows: BTreeMap<i32, (Vec<CarEvent>, Option<CarEvent>)> = BTreeMap::new();
        let mut fired: BTreeMap<i32, Vec<CarEvent>> = BTreeMap::new();
        for &c in cars {
            let (contents, last) = windows.entry(c.car_id).or_default();
            contents.push(c);
            match last {
                None => *last = Some(c),
                Some(l) if c.distance - l.distance > TRIGGER_METERS => {
                    *last = Some(c);
                    let newest = contents.iter().map(|e| e.timestamp).max().unwrap_or(i64::MIN);
                    contents.retain(|e| e.timestamp > newest - EVICTION_MS);
                    let fastest = contents.iter().fold(None::<CarEvent>, |best, &e| match best {
                        Some(b) if b.speed >= e.speed => Some(b),
                        _ => Some(e),
                    });
                    fired.entry(c.car_id).or_default().extend(fastest);
                }
                Some(_) => {}
            }
        }
        fired
    }

    /// Runs the pipeline over `cars` at `parallelism`; the output grouped by car.
    fn run(cars: &[CarEvent], parallelism: u32) -> BTreeMap<i32, Vec<CarEvent>> {
        let env = StreamEnv::new();
        env.set_parallelism(parallelism);
        let out = CollectSink::new();
        let cars = env.from_collection(cars.to_vec()).assign_timestamps_and_watermarks(watermark_strategy()).parallelism(1);
        top_speeds(&cars).sink(out.clone());
        env.execute("top speeds").unwrap();
        group(out.values())
    }

    fn group(cars: Vec<CarEvent>) -> BTreeMap<i32, Vec<CarEvent>> {
        let mut grouped: BTreeMap<i32, Vec<CarEvent>> = BTreeMap::new();
        cars.into_iter().for_each(|c| grouped.entry(c.car_id).or_default().push(c));
        grouped
    }

    /// A hand-made sequence: car 1 fires three times (the second after older reports were
    /// evicted, the third on a speed tie), car 2 twice.
    fn fixed_sequence() -> Vec<CarEvent> {
        vec![
            car(1, 50, 0.0, 0),
            car(2, 10, 0.0, 500),
            car(2, 100, 51.0, 600),    // 2: +51 m > 50: fires, window {500, 600}: speed 100
            car(1, 60, 30.0, 1_000),   // 1: +30 m
            car(1, 90, 60.0, 2_000),   // 1: +60 m: fires, window {0, 1000, 2000}: speed 90
            car(1, 40, 100.0, 9_000),  // 1: +40 m since 2000
            car(2, 20, 101.5, 10_599), // 2: +50.5 m: fires, evicts ts <= 599 (500): speed 100 at 600
            car(1, 70, 120.5, 12_500), // 1: +60.5 m: fires, evicts ts <= 2500: speed 70 at 12500
            car(1, 70, 200.0, 13_000), // 1: +79.5 m: fires, speeds 40, 70, 70: the earlier 70
        ]
    }

    #[test]
    fn fixed_sequence_by_hand() {
        let expected = BTreeMap::from([
            (1, vec![car(1, 90, 60.0, 2_000), car(1, 70, 120.5, 12_500), car(1, 70, 120.5, 12_500)]),
            (2, vec![car(2, 100, 51.0, 600), car(2, 100, 51.0, 600)]),
        ]);
        assert_eq!(simulate(&fixed_sequence()), expected, "the simulation disagrees with the hand-computed result");
        for parallelism in [1, 2] {
            assert_eq!(run(&fixed_sequence(), parallelism), expected, "parallelism {parallelism}");
        }
    }

    /// The time evictor drops a report exactly `10 s` older than the newest
    /// (`timestamp <= newest − 10 s`, Flink's `TimeEvictor.evict`).
    #[test]
    fn eviction_includes_the_boundary() {
        let cars = [car(2, 10, 0.0, 500), car(2, 100, 51.0, 600), car(2, 20, 101.5, 10_600)];
        let expected = BTreeMap::from([(2, vec![car(2, 100, 51.0, 600), car(2, 20, 101.5, 10_600)])]);
        assert_eq!(simulate(&cars), expected);
        for parallelism in [1, 2] {
            assert_eq!(run(&cars, parallelism), expected, "parallelism {parallelism}");
        }
    }

    #[test]
    fn generated_job_matches_the_simulation() {
        let options = TopSpeedOptions { seed: 7, events: Some(3 * 600), num_cars: 3, output: None };
        let cars: Vec<CarEvent> = {
            let mut source = options.source();
            (0..1_800).map(|_| source.next_report()).collect()
        };
        let expected = simulate(&cars);
        assert!(expected.values().all(|fired| fired.len() > 20), "{expected:?}");
        for parallelism in [1, 2] {
            let env = StreamEnv::new();
            env.set_parallelism(parallelism);
            let out = CollectSink::new();
            build(&env, &options).sink(out.clone());
            env.execute(JOB_NAME).unwrap();
            let actual = group(out.values());
            for (car, fired) in &expected {
                let got = &actual[car];
                let first_diff = fired.iter().zip(got).position(|(a, b)| a != b);
                assert_eq!(
                    first_diff,
                    None,
                    "car {car}, parallelism {parallelism}: expected {:?}, got {:?}",
                    first_diff.map(|i| fired[i]),
                    first_diff.map(|i| got[i])
                );
            }
            assert_eq!(actual, expected, "parallelism {parallelism}");
        }
    }

    /// The first reports of Flink's `CarSource` loop with `new Random(42)`, 2 cars, printed by
    /// Java (OpenJDK 17) with the synthetic timestamps.
    #[test]
    fn source_reproduces_the_java_car_source() {
        let mut source = CarSource::new(2, 42);
        let printed: Vec<String> = (0..6).map(|_| source.next_report().to_string()).collect();
        assert_eq!(
            printed,
            [
                "(0,55,15.277777777777777,100)",
                "(1,45,12.5,100)",
                "(0,60,31.944444444444443,200)",
                "(1,40,23.61111111111111,200)",
                "(0,55,47.22222222222222,300)",
                "(1,45,36.111111111111114,300)",
            ]
        );
    }

    #[test]
    fn speeds_stay_within_bounds_and_change_by_five() {
        let mut source = CarSource::new(3, 1);
        let mut last = [50; 3];
        for _ in 0..30_000 {
            let c = source.next_report();
            let previous = std::mem::replace(&mut last[c.car_id as usize], c.speed);
            assert!((0..=100).contains(&c.speed), "{c}");
            assert!((c.speed - previous).abs() == 5 || (c.speed == previous && (previous == 0 || previous == 100)), "{previous} -> {c}");
        }
    }

    /// Java's `Double.toString` of the same values (OpenJDK 17).
    #[test]
    fn doubles_print_like_java() {
        let cases = [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (100.0, "100.0"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (9_999_999.999, "9999999.999"),
            (1.0e7, "1.0E7"),
            (12_345_678.9, "1.23456789E7"),
            (1.0e-5, "1.0E-5"),
            (123_456_789_012.0, "1.23456789012E11"),
            (f64::MAX, "1.7976931348623157E308"),
            (1.0 / 3.0, "0.3333333333333333"),
            (2.5e-3, "0.0025"),
            (0.1 + 0.2, "0.30000000000000004"),
            (-1.5e10, "-1.5E10"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (d, java) in cases {
            assert_eq!(java_double(d), java, "{d:?}");
        }
    }
}
