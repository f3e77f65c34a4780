//! End-to-end tests: run the example binaries as processes on generated input and compare
//! their whole output with expectations computed independently of the runtime.

mod exactly_once;
mod nexmark;
mod plan;
mod state_machine;
mod support;
mod top_speed;
mod window_count;
mod wordcount;
