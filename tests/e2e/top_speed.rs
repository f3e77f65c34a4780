//! `top-speed-windowing` at parallelism 1 and 4 against a simulation of Flink's job:
//! global windows per car, `DeltaTrigger.of(50 m)`, `TimeEvictor.of(10 s)`, `maxBy(speed)`.

use std::collections::BTreeMap;

use strom::connectors::JavaRandom;
use strom_examples::top_speed::CarEvent;

use crate::support::{output_lines, run_ok};

const BIN: &str = env!("CARGO_BIN_EXE_top-speed-windowing");

/// Flink's CarSource: every 100 ms each car's speed goes up or down by 5 km/h (bounded to
/// 0..=100) by a coin flip from one `java.util.Random`, and it drives speed / 3.6 meters.
fn cars(seed: i64, num_cars: usize, events: usize) -> Vec<CarEvent> {
    let mut rnd = JavaRandom::new(seed);
    let (mut speeds, mut distances) = (vec![50; num_cars], vec![0.0; num_cars]);
    (0..events)
        .map(|i| {
            let car = i % num_cars;
            speeds[car] = if rnd.next_boolean() { (speeds[car] + 5).min(100) } else { (speeds[car] - 5).max(0) };
            distances[car] += f64::from(speeds[car]) / 3.6;
            CarEvent { car_id: car as i32, speed: speeds[car], distance: distances[car], timestamp: (i / num_cars + 1) as i64 * 100 }
        })
        .collect()
}

/// Per car: fire when the distance grew by more than 50 m since the last firing report; then
/// keep only reports newer than the newest minus 10 s and emit the fastest (the first on ties).
fn simulate(cars: &[CarEvent]) -> Vec<String> {
    let mut per_car: BTreeMap<i32, (Option<CarEvent>, Vec<CarEvent>)> = BTreeMap::new();
    let mut fired = Vec::new();
    for car in cars {
        let (last, window) = per_car.entry(car.car_id).or_default();
        window.push(*car);
        match last {
            None => *last = Some(*car),
            Some(l) if car.distance - l.distance > 50.0 => {
                *last = Some(*car);
                let newest = window.iter().map(|c| c.timestamp).max().unwrap_or(i64::MIN);
                window.retain(|c| c.timestamp > newest - 10_000);
                let fastest = window.iter().fold(window[0], |best, c| if c.speed > best.speed { *c } else { best });
                fired.push(fastest.to_string());
            }
            Some(_) => {}
        }
    }
    fired.sort();
    fired
}

#[test]
fn fastest_reports_match_the_simulation() {
    let dir = tempfile::tempdir().unwrap();
    for (seed, num_cars, events) in [(42_i64, 2_usize, 20_000_usize), (7, 5, 30_000)] {
        let want = simulate(&cars(seed, num_cars, events));
        assert!(want.len() > 100, "the simulation fires");
        for p in ["1", "4"] {
            let out = dir.path().join(format!("out-{seed}-{p}"));
            let (seed_s, cars_s, events_s) = (seed.to_string(), num_cars.to_string(), events.to_string());
            let args = ["--seed", &seed_s, "--num-cars", &cars_s, "--events", &events_s, "--output", out.to_str().unwrap(), "-p", p];
            run_ok(BIN, &args);
            assert_eq!(output_lines(&out), want, "seed={seed} cars={num_cars} p={p}");
        }
    }
}
