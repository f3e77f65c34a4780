//! `top-speed-windowing`: Flink's `TopSpeedWindowing` on Strom.
//!
//! Per car, every time the car has driven more than 50 m, prints its fastest report of the
//! last 10 seconds of event time (see [`strom_examples::top_speed`] for the logic and the
//! deviations from Flink).
//!
//! ```text
//! top-speed-windowing [-p N] [--seed N] [--events N] [--num-cars N] [--output DIR]
//! ```

use std::path::PathBuf;

use strom::connectors::DataStreamExt;
use strom::prelude::*;
use strom_examples::top_speed::{self, CarEvent, TopSpeedOptions};

fn main() {
    strom::main(TopSpeedOptions::USAGE, |env| {
        let options = TopSpeedOptions::from_args(&env.args())?;
        let top_speeds = top_speed::build(env, &options);
        sink_top_speeds(&top_speeds, options.output);
        env.execute(top_speed::JOB_NAME).map(drop)
    })
}

/// Prints the top speeds (Flink's `print()`), or writes them as lines into part files in
/// `output` (Flink's `writeAsText`).
fn sink_top_speeds(top_speeds: &DataStream<CarEvent>, output: Option<PathBuf>) {
    match output {
        None => drop(top_speeds.print()),
        Some(dir) => drop(top_speeds.write_as_text(dir)),
    }
}
