//! Shared helpers of the example jobs.
pub mod state_machine;
pub mod top_speed;
pub mod nexmark;
