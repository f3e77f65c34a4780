//! End-to-end tests: run the example binaries as processes on generated input and compare
//! their whole output with expectations computed independently of the runtime.

mod cluster;
mod exactly_once;
mod local_cluster;
mod nexmark;
mod plan;
mod state_machine;
mod support;
mod top_speed;
mod window_count;
mod wordcount;
