//! Checkpoint statistics in the JSON shape of Flink's REST API (`/jobs/:id/checkpoints`), so
//! that the REST server and Flink tooling read them as they read Flink's.

use serde_json::{json, Value};

use super::CheckpointStats;

/// min / max / avg / percentiles of some values, as Flink's `StatsSummaryDto`.
fn summary(values: &[u64]) -> Value {
    if values.is_empty() {
        return json!({ "min": 0, "max": 0, "avg": 0, "p50": 0.0, "p90": 0.0, "p95": 0.0, "p99": 0.0, "p999": 0.0 });
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let at = |q: f64| sorted[((q * (sorted.len() - 1) as f64).round() as usize).min(sorted.len() - 1)] as f64;
    json!({
        "min": sorted[0],
        "max": sorted[sorted.len() - 1],
        "avg": sorted.iter().sum::<u64>() / sorted.len() as u64,
        "p50": at(0.5), "p90": at(0.9), "p95": at(0.95), "p99": at(0.99), "p999": at(0.999),
    })
}

/// One checkpoint as an entry of Flink's `history` (and of `/checkpoints/details/:cid`).
pub fn checkpoint_json(c: &CheckpointStats) -> Value {
    let completed = c.status == "COMPLETED";
    let tasks: serde_json::Map<String, Value> = c
        .tasks
        .iter()
        .map(|(vertex, t)| {
            let task = json!({
                "id": c.id,
                "status": c.status,
                "latest_ack_timestamp": t.latest_ack_timestamp,
                "checkpointed_size": t.checkpointed_size,
                "state_size": t.state_size,
                "end_to_end_duration": (t.latest_ack_timestamp - c.trigger_timestamp).max(0),
                "alignment_buffered": 0,
                "processed_data": 0,
                "persisted_data": 0,
                "num_subtasks": t.num_subtasks,
                "num_acknowledged_subtasks": t.num_acknowledged_subtasks,
            });
            (vertex.clone(), task)
        })
        .collect();
    json!({
        "className": if completed { ".CompletedCheckpointStatistics" } else { ".FailedCheckpointStatistics" },
        "id": c.id,
        "status": c.status,
        "is_savepoint": c.is_savepoint,
        "savepointFormat": if c.is_savepoint { json!("CANONICAL") } else { Value::Null },
        "trigger_timestamp": c.trigger_timestamp,
        "latest_ack_timestamp": c.latest_ack_timestamp,
        "checkpointed_size": c.checkpointed_size,
        "state_size": c.state_size,
        "end_to_end_duration": c.duration_ms,
        "alignment_buffered": 0,
        "processed_data": 0,
        "persisted_data": 0,
        "num_subtasks": c.num_subtasks,
        "num_acknowledged_subtasks": c.num_acknowledged_subtasks,
        "checkpoint_type": if c.is_savepoint { "SAVEPOINT" } else { "CHECKPOINT" },
        "tasks": tasks,
        "external_path": if completed { json!(c.external_path) } else { Value::Null },
        "discarded": false,
        "failure_message": c.failure,
    })
}

/// The whole `/jobs/:id/checkpoints` body for a job's checkpoint history (oldest first).
///
/// ```
/// let json = strom_runtime::checkpoint::checkpoints_json(&[]);
/// assert_eq!(json["counts"]["total"], 0);
/// assert!(json["history"].as_array().unwrap().is_empty());
/// ```
pub fn checkpoints_json(history: &[CheckpointStats]) -> Value {
    let completed: Vec<&CheckpointStats> = history.iter().filter(|c| c.status == "COMPLETED").collect();
    let failed = history.len() - completed.len();
    let sizes: Vec<u64> = completed.iter().map(|c| c.state_size).collect();
    let checkpointed: Vec<u64> = completed.iter().map(|c| c.checkpointed_size).collect();
    let durations: Vec<u64> = completed.iter().map(|c| c.duration_ms).collect();
    let latest = |pred: &dyn Fn(&CheckpointStats) -> bool| history.iter().rev().find(|c| pred(c)).map_or(Value::Null, checkpoint_json);
    json!({
        "counts": { "restored": 0, "total": history.len(), "in_progress": 0, "completed": completed.len(), "failed": failed },
        "summary": {
            "checkpointed_size": summary(&checkpointed),
            "state_size": summary(&sizes),
            "end_to_end_duration": summary(&durations),
            "alignment_buffered": summary(&[]),
            "processed_data": summary(&[]),
            "persisted_data": summary(&[]),
        },
        "latest": {
            "completed": latest(&|c| c.status == "COMPLETED" && !c.is_savepoint),
            "savepoint": latest(&|c| c.status == "COMPLETED" && c.is_savepoint),
            "failed": latest(&|c| c.status != "COMPLETED"),
            "restored": Value::Null,
        },
        "history": history.iter().rev().map(checkpoint_json).collect::<Vec<_>>(),
    })
}
