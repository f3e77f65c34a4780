//! Integration tests of the connectors: each runs real dataflows on the local runtime, at
//! parallelism 1 and at a higher parallelism, and compares whole outputs with expectations
//! computed independently of the connector under test.

mod blackhole;
mod datagen;
mod file_sink;
mod file_source;
mod nexmark;
mod print;
mod support;
