//! Shared helpers of the example jobs.
