//! Flink's JSON shapes, built from the [`model`](super::model) values.
//!
//! Field names and value spellings follow Flink's REST classes (`ClusterOverviewWithVersion`,
//! `MultipleJobsDetails`, `JobDetailsInfo`, `JobExceptionsInfoWithHistory`,
//! `JobExecutionResultResponseBody`, `AsynchronousOperationResult`, `TaskManagersInfo`, ...),
//! because Flink's Java client parses them with Jackson: a missing non-null field or a
//! misspelt enum value makes the `flink` CLI fail.

use serde_json::{json, Map, Value};

use super::model::{
    ClusterOverview, ExceptionEntry, ExecutionOutcome, ExecutionState, JobDetails, JobStatus, JobSummary, OperationStatus, PlanNode,
    TaskCounts, TaskManagerInfo, VertexDetails, VertexMetrics,
};
use super::throwable;
use super::Config;

/// The slot sharing group shown for vertices in the default group (Flink requires one).
const DEFAULT_SLOT_SHARING_GROUP: &str = "00000000000000000000000000000000";

/// The Java class named in failure causes produced by Strom.
pub(crate) const FAILURE_CLASS: &str = "org.apache.flink.util.FlinkException";

/// The Java class Flink names for a cancelled job's result.
const CANCELLATION_CLASS: &str = "org.apache.flink.runtime.client.JobCancellationException";

/// `GET /overview`: Flink's `ClusterOverviewWithVersion`.
pub(crate) fn cluster_overview(o: &ClusterOverview, version: &str, config: &Config) -> Value {
    json!({
        "taskmanagers": o.taskmanagers,
        "slots-total": o.slots_total,
        "slots-available": o.slots_available,
        "jobs-running": o.jobs_running,
        "jobs-finished": o.jobs_finished,
        "jobs-cancelled": o.jobs_cancelled,
        "jobs-failed": o.jobs_failed,
        "flink-version": version,
        "flink-commit": config.revision,
    })
}

/// `GET /config`: Flink's `DashboardConfiguration`.
pub(crate) fn dashboard_config(config: &Config, version: &str) -> Value {
    json!({
        "refresh-interval": config.refresh_interval_ms,
        "timezone-name": config.timezone_name,
        "timezone-offset": config.timezone_offset_ms,
        "flink-version": version,
        "flink-revision": config.revision,
        "features": {
            "web-submit": config.web_submit_enabled,
            "web-cancel": true,
            "web-rescale": false,
            "web-history": false,
        },
    })
}

/// `GET /jobmanager/config`: a list of `{"key", "value"}` entries.
pub(crate) fn configuration(entries: &[(String, String)]) -> Value {
    Value::Array(entries.iter().map(|(key, value)| json!({ "key": key, "value": value })).collect())
}

/// `GET /jobs`: Flink's `JobIdsWithStatusOverview`.
pub(crate) fn job_ids(jobs: &[JobSummary]) -> Value {
    let jobs: Vec<Value> = jobs.iter().map(|j| json!({ "id": j.id, "status": j.state.as_str() })).collect();
    json!({ "jobs": jobs })
}

/// `GET /jobs/overview`: Flink's `MultipleJobsDetails`.
pub(crate) fn jobs_overview(jobs: &[JobSummary]) -> Value {
    let jobs: Vec<Value> = jobs.iter().map(job_overview).collect();
    json!({ "jobs": jobs })
}

/// One job of `GET /jobs/overview`: Flink's `JobDetails`, whose `tasks` has lowercase state
/// names and `total` (the Java client fails without `total`).
fn job_overview(j: &JobSummary) -> Value {
    let mut tasks = Map::new();
    tasks.insert("total".into(), j.tasks.total().into());
    for state in ExecutionState::ALL {
        tasks.insert(state.as_str().to_ascii_lowercase(), j.tasks.get(state).into());
    }
    json!({
        "jid": j.id,
        "name": j.name,
        "start-time": j.start_time,
        "end-time": j.end_time,
        "duration": j.duration,
        "last-modification": j.last_modification,
        "state": j.state.as_str(),
        "tasks": tasks,
        // Flink 2's `JobDetails` has these; the flink CLI fails to read a job list without
        // `pending-operators`. Strom deploys whole graphs of streaming jobs.
        "pending-operators": 0,
        "jobType": "STREAMING",
        "schedulerType": "Default",
    })
}

/// `GET /jobs/:id/status`: Flink's `JobStatusInfo`.
pub(crate) fn job_status(state: JobStatus) -> Value {
    json!({ "status": state.as_str() })
}

/// `GET /jobs/:id`: Flink's `JobDetailsInfo`.
pub(crate) fn job_details(d: &JobDetails, now: i64) -> Value {
    let s = &d.summary;
    let mut timestamps = Map::new();
    for state in JobStatus::ALL {
        let at = d.state_timestamps.iter().find(|(st, _)| *st == state).map_or(0, |(_, at)| *at);
        timestamps.insert(state.as_str().into(), at.into());
    }
    let mut vertices_per_state = Map::new();
    for state in ExecutionState::ALL {
        let n = d.vertices.iter().filter(|v| v.status == state).count();
        vertices_per_state.insert(state.as_str().into(), n.into());
    }
    let vertices: Vec<Value> = d.vertices.iter().map(vertex).collect();
    json!({
        "jid": s.id,
        "name": s.name,
        "isStoppable": false,
        "state": s.state.as_str(),
        "job-type": "STREAMING",
        "start-time": s.start_time,
        "end-time": s.end_time,
        "duration": s.duration,
        "maxParallelism": d.max_parallelism,
        "now": now,
        "timestamps": timestamps,
        "vertices": vertices,
        "status-counts": vertices_per_state,
        "plan": plan(s, &d.plan),
    })
}

/// One vertex of `JobDetailsInfo`.
fn vertex(v: &VertexDetails) -> Value {
    json!({
        "id": v.id,
        "slotSharingGroupId": v
            .slot_sharing_group_id
            .as_deref()
            .unwrap_or(DEFAULT_SLOT_SHARING_GROUP),
        "name": v.name,
        "maxParallelism": v.max_parallelism,
        "parallelism": v.parallelism,
        "status": v.status.as_str(),
        "start-time": v.start_time,
        "end-time": v.end_time,
        "duration": v.duration,
        "tasks": tasks_per_state(&v.tasks),
        "metrics": metrics(&v.metrics),
    })
}

/// A task count map with Flink's uppercase `ExecutionState` keys.
fn tasks_per_state(t: &TaskCounts) -> Value {
    let mut m = Map::new();
    for state in ExecutionState::ALL {
        m.insert(state.as_str().into(), t.get(state).into());
    }
    Value::Object(m)
}

/// Flink's `IOMetricsInfo`.
fn metrics(m: &VertexMetrics) -> Value {
    // JSON has no NaN; Jackson would reject the `null` serde_json writes for it.
    let busy = if m.accumulated_busy_time.is_finite() { m.accumulated_busy_time } else { 0.0 };
    json!({
        "read-bytes": m.read_bytes,
        "read-bytes-complete": m.complete,
        "write-bytes": m.write_bytes,
        "write-bytes-complete": m.complete,
        "read-records": m.read_records,
        "read-records-complete": m.complete,
        "write-records": m.write_records,
        "write-records-complete": m.complete,
        "accumulated-backpressured-time": m.accumulated_backpressured_time,
        "accumulated-idle-time": m.accumulated_idle_time,
        "accumulated-busy-time": busy,
    })
}

/// Flink's `JobPlanInfo.Plan`, as its `JsonPlanGenerator` writes it. Every node has `inputs`
/// (empty for sources) and `optimizer_properties` as a string, which both the typed plan of
/// Flink 2.x clients and the raw-JSON plan of older clients accept.
fn plan(s: &JobSummary, nodes: &[PlanNode]) -> Value {
    let nodes: Vec<Value> = nodes
        .iter()
        .map(|n| {
            let inputs: Vec<Value> = n
                .inputs
                .iter()
                .enumerate()
                .map(|(num, input)| {
                    json!({
                        "num": num,
                        "id": input.id,
                        "ship_strategy": input.ship_strategy,
                        "exchange": "pipelined_bounded",
                    })
                })
                .collect();
            json!({
                "id": n.id,
                "parallelism": n.parallelism,
                "operator": "",
                "operator_strategy": "",
                "description": n.description,
                "optimizer_properties": "{}",
                "inputs": inputs,
            })
        })
        .collect();
    json!({ "jid": s.id, "name": s.name, "type": "STREAMING", "nodes": nodes })
}

/// `GET /jobs/:id/exceptions`: Flink's `JobExceptionsInfoWithHistory`, with both the
/// exception history and the legacy `root-exception`/`timestamp`/`all-exceptions` fields.
pub(crate) fn exceptions(entries: &[ExceptionEntry]) -> Value {
    let root = entries.first();
    let all: Vec<Value> = entries
        .iter()
        .filter_map(|e| {
            let task = e.task_name.as_ref()?;
            let location = e.location.as_deref().unwrap_or("(unassigned)");
            // Flink 1.20's client requires `endpoint`; `location` is its deprecated twin.
            Some(json!({
                "exception": e.stacktrace,
                "task": task,
                "location": location,
                "endpoint": location,
                "timestamp": e.timestamp,
                "taskManagerId": e.task_manager_id.as_deref().unwrap_or("(unassigned)"),
            }))
        })
        .collect();
    let history: Vec<Value> = entries.iter().map(root_exception_info).collect();
    json!({
        "root-exception": root.map(|e| e.stacktrace.clone()),
        "timestamp": root.map(|e| e.timestamp),
        "all-exceptions": all,
        "truncated": false,
        "exceptionHistory": { "entries": history, "truncated": false },
    })
}

/// One entry of the exception history: Flink's `RootExceptionInfo`, whose optional fields
/// are left out when unknown (`@JsonInclude(NON_NULL)` in Flink).
fn root_exception_info(e: &ExceptionEntry) -> Value {
    let mut m = Map::new();
    m.insert("exceptionName".into(), e.exception_name.clone().into());
    m.insert("stacktrace".into(), e.stacktrace.clone().into());
    m.insert("timestamp".into(), e.timestamp.into());
    if let Some(task) = &e.task_name {
        m.insert("taskName".into(), task.clone().into());
    }
    if let Some(location) = &e.location {
        m.insert("location".into(), location.clone().into());
        m.insert("endpoint".into(), location.clone().into());
    }
    if let Some(tm) = &e.task_manager_id {
        m.insert("taskManagerId".into(), tm.clone().into());
    }
    m.insert("failureLabels".into(), json!({}));
    m.insert("concurrentExceptions".into(), json!([]));
    Value::Object(m)
}

/// `GET /jobs/:id/execution-result`: Flink's `JobExecutionResultResponseBody`.
pub(crate) fn execution_result(job_id: &str, outcome: &ExecutionOutcome) -> Value {
    let r = match outcome {
        ExecutionOutcome::Running => {
            return json!({ "status": { "id": "IN_PROGRESS" }, "job-execution-result": null });
        }
        ExecutionOutcome::Finished(r) => r,
    };
    let application_status = match r.state {
        JobStatus::Finished => "SUCCEEDED",
        JobStatus::Failed => "FAILED",
        JobStatus::Canceled => "CANCELED",
        _ => "UNKNOWN",
    };
    let mut result = Map::new();
    result.insert("id".into(), job_id.into());
    result.insert("name".into(), r.name.clone().into());
    result.insert("application-status".into(), application_status.into());
    result.insert("accumulator-results".into(), json!({}));
    result.insert("net-runtime".into(), r.net_runtime.into());
    // Flink's client decides success by the presence of `failure-cause`, so a failed or
    // cancelled job always carries one, as in Flink.
    let cause = match (r.state, &r.failure) {
        (_, Some(failure)) => Some((FAILURE_CLASS, failure.clone())),
        (JobStatus::Failed, None) => Some((FAILURE_CLASS, "Job failed.".to_string())),
        (JobStatus::Canceled, None) => Some((CANCELLATION_CLASS, "Job was cancelled.".into())),
        _ => None,
    };
    if let Some((class, message)) = cause {
        result.insert("failure-cause".into(), serialized_throwable(class, &message));
    }
    result.insert("start-time".into(), r.start_time.into());
    result.insert("end-time".into(), r.end_time.into());
    json!({ "status": { "id": "COMPLETED" }, "job-execution-result": result })
}

/// Which asynchronous operation a trigger id is polled under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OperationKind {
    /// `GET /jobs/:id/checkpoints/:triggerid`: Flink's `CheckpointInfo`.
    Checkpoint,
    /// `GET /jobs/:id/savepoints/:triggerid`: Flink's `SavepointInfo`.
    Savepoint,
}

/// Flink's `AsynchronousOperationResult`, or `None` when the status belongs to the other kind
/// of operation (a savepoint's trigger id polled as a checkpoint's, or the reverse).
pub(crate) fn operation_result(kind: OperationKind, status: &OperationStatus) -> Option<Value> {
    let operation = match (kind, status) {
        (_, OperationStatus::InProgress) => {
            return Some(json!({ "status": { "id": "IN_PROGRESS" }, "operation": null }));
        }
        (OperationKind::Savepoint, OperationStatus::SavepointCompleted { location }) => {
            json!({ "location": location })
        }
        (OperationKind::Checkpoint, OperationStatus::CheckpointCompleted { checkpoint_id }) => {
            json!({ "checkpointId": checkpoint_id })
        }
        // The two classes spell the field differently.
        (OperationKind::Savepoint, OperationStatus::Failed { cause }) => {
            json!({ "failure-cause": serialized_throwable(FAILURE_CLASS, cause) })
        }
        (OperationKind::Checkpoint, OperationStatus::Failed { cause }) => {
            json!({ "failureCause": serialized_throwable(FAILURE_CLASS, cause) })
        }
        _ => return None,
    };
    Some(json!({ "status": { "id": "COMPLETED" }, "operation": operation }))
}

/// Flink's JSON for a `SerializedThrowable`: the class name, the printed stack trace, and the
/// Java-serialized object that Flink's Java client deserializes (it fails on `null`).
pub(crate) fn serialized_throwable(class: &str, message: &str) -> Value {
    let stack_trace = format!("{class}: {message}");
    json!({
        "class": class,
        "stack-trace": stack_trace,
        "serialized-throwable": throwable::serialized_throwable_base64(class, message, &stack_trace),
    })
}

/// `GET /taskmanagers`: Flink's `TaskManagersInfo`.
pub(crate) fn taskmanagers(tms: &[TaskManagerInfo]) -> Value {
    let tms: Vec<Value> = tms.iter().map(taskmanager).collect();
    json!({ "taskmanagers": tms })
}

/// One TaskManager: Flink's `TaskManagerInfo`. Flink's resource profiles count memory in MiB.
fn taskmanager(tm: &TaskManagerInfo) -> Value {
    const MIB: u64 = 1024 * 1024;
    let hw = &tm.hardware;
    let per_slot = |n: u32| -> Value {
        let share = |total: u64| {
            if tm.slots_number == 0 {
                0
            } else {
                total * u64::from(n) / u64::from(tm.slots_number)
            }
        };
        json!({
            "cpuCores": if tm.slots_number == 0 { 0.0 } else {
                f64::from(hw.cpu_cores) * f64::from(n) / f64::from(tm.slots_number)
            },
            "taskHeapMemory": 0,
            "taskOffHeapMemory": 0,
            "managedMemory": share(hw.managed_memory) / MIB,
            "networkMemory": 0,
            "extendedResources": {},
        })
    };
    json!({
        "id": tm.id,
        "path": tm.path,
        "dataPort": tm.data_port,
        "jmxPort": -1,
        "timeSinceLastHeartbeat": tm.last_heartbeat,
        "slotsNumber": tm.slots_number,
        "freeSlots": tm.free_slots,
        "totalResource": per_slot(tm.slots_number),
        "freeResource": per_slot(tm.free_slots),
        "hardware": {
            "cpuCores": hw.cpu_cores,
            "physicalMemory": hw.physical_memory,
            "freeMemory": hw.free_memory,
            "managedMemory": hw.managed_memory,
        },
        "memoryConfiguration": {
            "frameworkHeap": 0,
            "taskHeap": 0,
            "frameworkOffHeap": 0,
            "taskOffHeap": 0,
            "networkMemory": 0,
            "managedMemory": hw.managed_memory,
            "jvmMetaspace": 0,
            "jvmOverhead": 0,
            "totalFlinkMemory": hw.physical_memory,
            "totalProcessMemory": hw.physical_memory,
        },
    })
}
