//! End-to-end tests: run the example binaries as processes on generated input and compare
//! their whole output with expectations computed independently of the runtime.

mod support;
mod window_count;
mod wordcount;
