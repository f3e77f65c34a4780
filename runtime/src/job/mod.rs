//! Jobs: the graph the API builds, the job graph of chained tasks, local execution and the
//! job binary's entry point.

mod client;
pub(crate) mod graph;
pub(crate) mod invocation;
pub(crate) mod local;
pub(crate) mod restart;

pub use client::JobClient;
pub use graph::{JobEdge, JobGraph, JobVertex, OperatorInfo};
pub use invocation::{main, Invocation};
pub use local::JobExecutionResult;
