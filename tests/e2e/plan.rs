//! `plan` prints the job graph as JSON without running the job.

use crate::support::run_ok;

#[test]
fn window_count_plan_shows_chains_and_partitioning() {
    let out = run_ok(
        env!("CARGO_BIN_EXE_window-count"),
        &["plan", "-p", "3", "--input", "/nonexistent", "--output", "/nonexistent", "--size-ms", "100", "--out-of-orderness-ms", "5"],
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the plan is JSON");
    let vertices = plan["vertices"].as_array().expect("vertices");
    assert_eq!(vertices.len(), 2, "{plan:#}");
    assert_eq!(vertices[0]["parallelism"], 1);
    assert_eq!(vertices[1]["parallelism"], 3);
    assert!(vertices[1]["operators"].as_array().unwrap().iter().any(|o| o["kind"] == "Window"), "{plan:#}");
    let edges = plan["edges"].as_array().expect("edges");
    assert_eq!(edges.len(), 1);
    assert_eq!(edges[0]["partitioning"], "HASH");
    assert_eq!(edges[0]["source"], vertices[0]["id"]);
    assert!(!std::path::Path::new("/nonexistent").exists(), "plan mode writes nothing");
}
