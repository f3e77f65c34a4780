//! `state-machine`: Flink's `StateMachineExample` on Strom.
//!
//! Generates events of many per-address state machines, checks each address's events
//! against the state machine in keyed state, and prints an alert for every invalid
//! transition (see [`strom_examples::state_machine`] for the logic and the deviations from
//! Flink). `--error-rate` defaults to 0, as in Flink: pass e.g. `--error-rate 0.01` to see
//! alerts.
//!
//! ```text
//! state-machine [-p N] [--seed N] [--events N] [--error-rate P] [--sleep-ms MS] [--output DIR]
//! ```

use std::path::PathBuf;

use strom::connectors::{FileSink, PrintSink};
use strom::prelude::*;
use strom_examples::state_machine::{self, Alert, StateMachineOptions};

fn main() {
    strom::main(StateMachineOptions::USAGE, |env| {
        let options = StateMachineOptions::from_args(&env.args())?;
        let alerts = state_machine::build(env, &options)?;
        sink_alerts(&alerts, options.output);
        env.execute(state_machine::JOB_NAME).map(drop)
    })
}

/// Prints the alerts as Flink's `print()` does, or writes them as lines into part files in
/// `output` with one sink subtask named "output", as Flink's example does.
fn sink_alerts(alerts: &DataStream<Alert>, output: Option<PathBuf>) {
    match output {
        None => drop(alerts.sink(PrintSink::stdout()).name("Print to Std. Out")),
        Some(dir) => drop(alerts.sink(FileSink::lines(dir)).name("output").parallelism(1)),
    }
}
