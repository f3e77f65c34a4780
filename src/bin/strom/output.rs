//! Human-readable and JSON formatting. Pure functions: they build strings,
//! the command layer decides where they go.

use std::collections::HashMap;
use std::io::Write;

use serde::{Deserialize, Deserializer, Serialize};

use crate::rest::JobOverview;

/// Writes `text` to stdout. A closed stdout (e.g. `strom list | head -1`)
/// is ignored instead of panicking like `print!` would.
pub(crate) fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

/// Serializes `value` as one line of compact JSON followed by a newline.
pub(crate) fn json_line(value: &impl Serialize) -> String {
    let mut s = serde_json::to_string(value).expect("output values always serialize");
    s.push('\n');
    s
}

/// `--json` output of `run` and `cancel`.
#[derive(Debug, Serialize)]
pub(crate) struct JobOutcome<'a> {
    /// Job id.
    pub jobid: &'a str,
    /// Job status; `SUBMITTED` for `run --detached`.
    pub state: &'a str,
    /// Id of the uploaded binary on the JobManager (`run` only).
    #[serde(rename = "jar-id", skip_serializing_if = "Option::is_none")]
    pub jar_id: Option<&'a str>,
    /// Net runtime in milliseconds, when the job ended.
    #[serde(rename = "duration-ms", skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Failure cause (stack trace or class) of a failed job.
    #[serde(rename = "failure-cause", skip_serializing_if = "Option::is_none")]
    pub failure_cause: Option<String>,
}

/// `--json` output of `savepoint` and `stop`.
#[derive(Debug, Serialize)]
pub(crate) struct SavepointOutcome<'a> {
    /// Job id.
    pub jobid: &'a str,
    /// Trigger id of the savepoint operation.
    #[serde(rename = "request-id")]
    pub request_id: &'a str,
    /// `COMPLETED`, `FAILED`, or `IN_PROGRESS` when the wait timed out.
    pub state: &'a str,
    /// Savepoint location, when completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<&'a str>,
    /// Failure cause, when failed.
    #[serde(rename = "failure-cause", skip_serializing_if = "Option::is_none")]
    pub failure_cause: Option<String>,
}

/// Formats a duration in milliseconds: `12.3 s`, `2 min 5.0 s`,
/// `3 h 2 min 5 s`.
pub(crate) fn format_duration(ms: u64) -> String {
    let tenths = (ms + 50) / 100;
    if tenths < 600 {
        return format!("{}.{} s", tenths / 10, tenths % 10);
    }
    if ms < 3_600_000 {
        let min = tenths / 600;
        let rest = tenths % 600;
        return format!("{min} min {}.{} s", rest / 10, rest % 10);
    }
    let secs = (ms + 500) / 1000;
    format!("{} h {} min {} s", secs / 3600, secs % 3600 / 60, secs % 60)
}

/// Formats epoch milliseconds as `dd.MM.yyyy HH:mm:ss` in UTC (Flink's
/// `flink list` format, which uses the local zone; UTC keeps the output
/// independent of the machine). Negative values mean "not set".
pub(crate) fn format_timestamp(ms: i64) -> String {
    if ms < 0 {
        return "--.--.---- --:--:--".to_string();
    }
    let secs = ms / 1000;
    let (days, sod) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{d:02}.{m:02}.{y:04} {:02}:{:02}:{:02}", sod / 3600, sod % 3600 / 60, sod % 60)
}

/// Days since 1970-01-01 to (year, month, day); Howard Hinnant's algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Whether a job status is globally terminal (the job will not run again).
pub(crate) fn is_terminal(state: &str) -> bool {
    matches!(state, "FINISHED" | "CANCELED" | "FAILED")
}

/// Renders `GET /jobs/overview` like Flink's `flink list -a`: running and
/// restarting jobs, scheduled (CREATED) jobs, then terminated jobs, each
/// section sorted by start time.
pub(crate) fn render_job_list(jobs: &[JobOverview]) -> String {
    let mut running = Vec::new();
    let mut scheduled = Vec::new();
    let mut terminated = Vec::new();
    for job in jobs {
        if job.state == "CREATED" || job.state == "INITIALIZING" {
            scheduled.push(job);
        } else if is_terminal(&job.state) {
            terminated.push(job);
        } else {
            running.push(job);
        }
    }
    let mut out = String::new();
    let section = |out: &mut String, title: &str, jobs: &mut Vec<&JobOverview>| {
        jobs.sort_by_key(|j| j.start_time);
        out.push_str(title);
        out.push('\n');
        for j in jobs.iter() {
            out.push_str(&format!("{} : {} : {} ({})\n", format_timestamp(j.start_time), j.jid, j.name, j.state));
        }
        out.push_str("--------------------------------------------------------------\n");
    };
    if running.is_empty() {
        out.push_str("No running jobs.\n");
    } else {
        section(&mut out, "------------------ Running/Restarting Jobs -------------------", &mut running);
    }
    if scheduled.is_empty() {
        out.push_str("No scheduled jobs.\n");
    } else {
        section(&mut out, "----------------------- Scheduled Jobs -----------------------", &mut scheduled);
    }
    if !terminated.is_empty() {
        section(&mut out, "---------------------- Terminated Jobs -----------------------", &mut terminated);
    }
    out
}

/// Job graph printed by `BINARY plan`.
#[derive(Debug, Deserialize)]
pub(crate) struct Plan {
    /// Job name.
    pub job: String,
    /// Job vertices (chains of operators).
    #[serde(default)]
    pub vertices: Vec<PlanVertex>,
    /// Edges between vertices.
    #[serde(default)]
    pub edges: Vec<PlanEdge>,
    /// Job configuration.
    #[serde(default)]
    pub config: serde_json::Map<String, serde_json::Value>,
}

/// One vertex of a [`Plan`].
#[derive(Debug, Deserialize)]
pub(crate) struct PlanVertex {
    /// Vertex id (referenced by edges).
    #[serde(deserialize_with = "id_string")]
    pub id: String,
    /// Vertex name.
    #[serde(default)]
    pub name: String,
    /// Parallelism.
    #[serde(default)]
    pub parallelism: Option<u64>,
    /// Maximum parallelism (number of key groups).
    #[serde(default)]
    pub max_parallelism: Option<u64>,
    /// Operators chained into this vertex, in chain order.
    #[serde(default)]
    pub operators: Vec<PlanOperator>,
}

/// One operator of a [`PlanVertex`].
#[derive(Debug, Deserialize)]
pub(crate) struct PlanOperator {
    /// Operator uid (state mapping key).
    #[serde(default)]
    pub uid: Option<String>,
    /// Operator name.
    #[serde(default)]
    pub name: String,
    /// Operator kind (`source`, `map`, `window`, ...).
    #[serde(default)]
    pub kind: Option<String>,
}

/// One edge of a [`Plan`].
#[derive(Debug, Deserialize)]
pub(crate) struct PlanEdge {
    /// Source vertex id.
    #[serde(deserialize_with = "id_string")]
    pub source: String,
    /// Target vertex id.
    #[serde(deserialize_with = "id_string")]
    pub target: String,
    /// Partitioning (`FORWARD`, `HASH`, `REBALANCE`, ...).
    #[serde(default)]
    pub partitioning: String,
    /// Side-output tag, if the edge carries a side output.
    #[serde(default)]
    pub side_output: Option<String>,
}

/// Accepts ids given as JSON strings or numbers.
fn id_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!("expected a string or number id, got {other}"))),
    }
}

/// Renders a [`Plan`] for humans: numbered vertices with parallelism and
/// their chained operators, edges by vertex number with partitioning, and
/// the configuration (keys sorted).
pub(crate) fn render_plan(plan: &Plan) -> String {
    let mut out = format!("Job: {}\n\nVertices:\n", plan.job);
    let numbers: HashMap<&str, usize> = plan.vertices.iter().enumerate().map(|(i, v)| (v.id.as_str(), i + 1)).collect();
    if plan.vertices.is_empty() {
        out.push_str("  (none)\n");
    }
    let opt = |v: Option<u64>| v.map_or_else(|| "?".to_string(), |v| v.to_string());
    for (i, v) in plan.vertices.iter().enumerate() {
        out.push_str(&format!("  [{}] {}\n", i + 1, v.name));
        out.push_str(&format!("      id: {}  parallelism: {}  max parallelism: {}\n", v.id, opt(v.parallelism), opt(v.max_parallelism)));
        for op in &v.operators {
            let mut details = Vec::new();
            if let Some(kind) = &op.kind {
                details.push(kind.clone());
            }
            if let Some(uid) = &op.uid {
                details.push(format!("uid: {uid}"));
            }
            if details.is_empty() {
                out.push_str(&format!("      - {}\n", op.name));
            } else {
                out.push_str(&format!("      - {}  ({})\n", op.name, details.join(", ")));
            }
        }
    }
    out.push_str("\nEdges:\n");
    if plan.edges.is_empty() {
        out.push_str("  (none)\n");
    }
    let vertex = |id: &str| match numbers.get(id) {
        Some(n) => format!("[{n}]"),
        None => format!("[{id}?]"),
    };
    for e in &plan.edges {
        out.push_str(&format!("  {} -> {}  {}", vertex(&e.source), vertex(&e.target), e.partitioning));
        if let Some(tag) = &e.side_output {
            out.push_str(&format!(", side output \"{tag}\""));
        }
        out.push('\n');
    }
    if !plan.config.is_empty() {
        out.push_str("\nConfig:\n");
        for (key, value) in &plan.config {
            let value = match value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            out.push_str(&format!("  {key}: {value}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(format_duration(0), "0.0 s");
        assert_eq!(format_duration(12_345), "12.3 s");
        assert_eq!(format_duration(59_949), "59.9 s");
        assert_eq!(format_duration(59_950), "1 min 0.0 s");
        assert_eq!(format_duration(125_000), "2 min 5.0 s");
        assert_eq!(format_duration(3_600_000), "1 h 0 min 0 s");
        assert_eq!(format_duration(90_061_400), "25 h 1 min 1 s");
    }

    #[test]
    fn timestamps_are_utc() {
        assert_eq!(format_timestamp(0), "01.01.1970 00:00:00");
        // 2024-02-29T13:45:07.123Z
        assert_eq!(format_timestamp(1_709_214_307_123), "29.02.2024 13:45:07");
        // 2000-03-01T00:00:00Z
        assert_eq!(format_timestamp(951_868_800_000), "01.03.2000 00:00:00");
        assert_eq!(format_timestamp(-1), "--.--.---- --:--:--");
    }

    fn job(jid: &str, name: &str, state: &str, start: i64) -> JobOverview {
        JobOverview { jid: jid.into(), name: name.into(), state: state.into(), start_time: start, end_time: -1, duration: 0 }
    }

    #[test]
    fn job_list_sections() {
        let jobs = vec![
            job("b", "Second", "RESTARTING", 2_000),
            job("c", "Done", "FINISHED", 500),
            job("a", "First", "RUNNING", 1_000),
            job("d", "New", "CREATED", -1),
        ];
        assert_eq!(
            render_job_list(&jobs),
            "\
------------------ Running/Restarting Jobs -------------------
01.01.1970 00:00:01 : a : First (RUNNING)
01.01.1970 00:00:02 : b : Second (RESTARTING)
--------------------------------------------------------------
----------------------- Scheduled Jobs -----------------------
--.--.---- --:--:-- : d : New (CREATED)
--------------------------------------------------------------
---------------------- Terminated Jobs -----------------------
01.01.1970 00:00:00 : c : Done (FINISHED)
--------------------------------------------------------------
"
        );
        assert_eq!(render_job_list(&[]), "No running jobs.\nNo scheduled jobs.\n");
    }

    #[test]
    fn plan_rendering() {
        let plan: Plan = serde_json::from_str(
            r#"{"job":"J","vertices":[
                {"id":"v1","name":"Src -> Map","parallelism":2,"max_parallelism":128,
                 "operators":[{"uid":"src","name":"Src","kind":"source"},{"name":"Map"}]},
                {"id":7,"name":"Sink","operators":[]}],
              "edges":[{"source":"v1","target":7,"partitioning":"HASH"},
                       {"source":"v1","target":"zz","partitioning":"FORWARD","side_output":"late"}],
              "config":{"b":true,"a":"x"}}"#,
        )
        .unwrap();
        assert_eq!(
            render_plan(&plan),
            "\
Job: J

Vertices:
  [1] Src -> Map
      id: v1  parallelism: 2  max parallelism: 128
      - Src  (source, uid: src)
      - Map
  [2] Sink
      id: 7  parallelism: ?  max parallelism: ?

Edges:
  [1] -> [2]  HASH
  [1] -> [zz?]  FORWARD, side output \"late\"

Config:
  a: x
  b: true
"
        );
    }

    #[test]
    fn json_outcomes_omit_unset_fields() {
        let o = JobOutcome { jobid: "j", state: "SUBMITTED", jar_id: Some("x"), duration_ms: None, failure_cause: None };
        assert_eq!(json_line(&o), "{\"jobid\":\"j\",\"state\":\"SUBMITTED\",\"jar-id\":\"x\"}\n");
    }
}
