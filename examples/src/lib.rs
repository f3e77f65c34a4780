//! The example jobs' logic, shared by their binaries (`src/bin/`), the end-to-end tests and
//! the Nexmark benchmark harness:
//! - [`state_machine`]: Flink's `StateMachineExample` (keyed state machine with alerts);
//! - [`top_speed`]: Flink's `TopSpeedWindowing` (global windows, delta trigger, time evictor);
//! - [`nexmark`]: the Nexmark queries q0–q8 on the runtime and as bare loops.
//!
//! `wordcount` and `window-count` are small enough to live in their binaries.

pub mod nexmark;
pub mod state_machine;
pub mod top_speed;
