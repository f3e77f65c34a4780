//! Strom's runtime: the DataStream API, operators, time and windows, keyed state, the data
//! exchange between tasks, and task execution.
//!
//! How the parts fit:
//! - [`api`] builds a graph of stream nodes (`StreamEnv`, `DataStream`, `KeyedStream`, ...).
//! - `job` chains nodes into a [`JobGraph`] of vertices and runs it: one thread per subtask.
//! - `task` is a subtask's mailbox loop over a chain of [`operators`]; `exchange` moves
//!   batches of records between tasks through bounded channels, with watermarks in-band.
//! - [`time`] holds watermarks, timers and [`time::windows`]; [`state`] holds keyed state.
//! - [`checkpoint`] holds aligned checkpoints: barriers, the coordinator, the storage layout
//!   on the shared directory and the redistribution of state on restore. A job restarts
//!   from its latest checkpoint under its restart strategy ([`RestartStrategy`]); savepoints
//!   are taken through the [`JobClient`] of [`StreamEnv::execute_async`].
//!
//! Vocabulary: an `Operator` has lifecycle hooks (`open`, `process`, `on_watermark`,
//! `on_processing_time`, `finish`, and for checkpoints `snapshot_state`, `restore_state`,
//! `notify_checkpoint_complete`); a `Source` is polled; a `Sink` ends a chain; a `Collector`
//! takes an operator's output; `*Context` is what the runtime hands user code.

pub mod api;
pub mod checkpoint;
pub mod cluster;
pub mod config;
mod data;
mod error;
mod exchange;
mod ids;
mod job;
pub mod operators;
pub mod state;
mod task;
pub mod time;

pub use api::{CollectSink, CollectionSource, DataStream, JobArgs, KeyedStream, RunMode, StreamEnv};
pub use config::{parse_duration, suggest, Configuration};
pub use data::{Data, Key, Record, Timestamp, MAX_TIMESTAMP, MIN_TIMESTAMP};
pub use error::{Error, Fault, Result};
pub use ids::random_hex;
pub use job::restart::{RestartDecision, RestartStrategy};
pub use job::{main, Invocation, JobClient, JobEdge, JobExecutionResult, JobGraph, JobVertex, OperatorInfo};
pub use task::TaskMetrics;

/// Configuration keys the runtime understands.
pub mod keys {
    pub use crate::config::{
        defaults, AUTO_WATERMARK_INTERVAL, BUFFERS_PER_CHANNEL, BUFFER_RECORDS, BUFFER_TIMEOUT, CHECKPOINTING_INTERVAL,
        CHECKPOINTING_TIMEOUT, CHECKPOINTS_DIRECTORY, INCREMENTAL_CHECKPOINTS, MAX_CONCURRENT_CHECKPOINTS, MAX_PARALLELISM,
        MAX_RETAINED_CHECKPOINTS, MIN_PAUSE_BETWEEN_CHECKPOINTS, PARALLELISM_DEFAULT, RESTART_STRATEGY,
        RESTART_STRATEGY_EXPONENTIAL_DELAY_ATTEMPTS, RESTART_STRATEGY_EXPONENTIAL_DELAY_BACKOFF_MULTIPLIER,
        RESTART_STRATEGY_EXPONENTIAL_DELAY_INITIAL_BACKOFF, RESTART_STRATEGY_EXPONENTIAL_DELAY_JITTER_FACTOR,
        RESTART_STRATEGY_EXPONENTIAL_DELAY_MAX_BACKOFF, RESTART_STRATEGY_EXPONENTIAL_DELAY_RESET_BACKOFF_THRESHOLD,
        RESTART_STRATEGY_FAILURE_RATE_DELAY, RESTART_STRATEGY_FAILURE_RATE_FAILURE_RATE_INTERVAL,
        RESTART_STRATEGY_FAILURE_RATE_MAX_FAILURES_PER_INTERVAL, RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, RESTART_STRATEGY_FIXED_DELAY_DELAY,
        ROCKSDB_LOCAL_DIR, SAVEPOINT_DIRECTORY, STATE_BACKEND, TMP_DIRS, TOLERABLE_FAILURE_NUMBER,
    };
}

/// What a job usually needs, in one import.
pub mod prelude {
    pub use crate::api::{CollectSink, DataStream, KeyedStream, StreamEnv, TaggedUnion};
    pub use crate::data::{Data, Key, Record, Timestamp};
    pub use crate::operators::{
        CoProcessFunction, Collector, FnResult, KeyedCoProcessFunction, KeyedContext, KeyedProcessFunction, Operator, OperatorContext,
        OutputTag, Sink, Source, SourceStatus, TaskInfo, TimeDomain,
    };
    pub use crate::state::{KeyedStateContext, ListState, MapState, ReducingState, ValueState};
    pub use crate::time::windows::{
        AggregateFunction, CountAggregate, CountEvictor, CountTrigger, DeltaTrigger, EventTimeTrigger, ProcessWindowFunction, TimeEvictor,
        TimeWindow, WindowAssigner,
    };
    pub use crate::time::{WatermarkEmission, WatermarkStrategy};
    pub use crate::{Error, Result};
}
