//! Chaining and the plan's JSON.

use strom_runtime::prelude::*;

#[test]
fn operators_chain_by_flinks_rules_and_the_plan_shows_them() {
    let env = StreamEnv::new();
    env.set_parallelism(2);
    env.from_collection(vec![1_u32, 2, 3])
        .name("numbers")
        .uid("numbers")
        .map(|x: u32| x + 1)
        .filter(|x: &u32| *x > 1)
        .key_by(|x: &u32| *x % 2)
        .reduce(|a, b| a + b)
        .uid("sum")
        .sink(CollectSink::new())
        .name("collect");
    let graph = env.job_graph("plan-test").unwrap();
    let json = serde_json::to_value(&graph).unwrap();
    let vertices: Vec<(String, u64, Vec<String>)> = json["vertices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let ops = v["operators"].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap().to_string()).collect();
            (v["name"].as_str().unwrap().to_string(), v["parallelism"].as_u64().unwrap(), ops)
        })
        .collect();
    assert_eq!(
        vertices,
        vec![
            ("Source: numbers".to_string(), 1, vec!["Source: numbers".to_string()]),
            ("Map -> Filter".to_string(), 2, vec!["Map".to_string(), "Filter".to_string()]),
            ("Reduce -> Sink: collect".to_string(), 2, vec!["Reduce".to_string(), "Sink: collect".to_string()]),
        ]
    );
    let edges: Vec<&str> = json["edges"].as_array().unwrap().iter().map(|e| e["partitioning"].as_str().unwrap()).collect();
    assert_eq!(edges, vec!["REBALANCE", "HASH"]);
    assert_eq!(json["vertices"][0]["id"], "numbers");
    assert_eq!(json["vertices"][2]["id"], "sum");
    assert_eq!(json["vertices"][2]["max_parallelism"], 128);
}

#[test]
fn forward_between_different_parallelisms_is_an_error() {
    let env = StreamEnv::new();
    env.from_collection(vec![1_u32]).parallelism(1).forward().map(|x: u32| x).parallelism(2).sink(CollectSink::new());
    let err = env.execute("bad").unwrap_err().to_string();
    assert!(err.contains("forward partitioning") && err.contains("equal parallelism"), "{err}");
}

#[test]
fn state_backend_values_are_checked_by_name() {
    let env = StreamEnv::new();
    env.set_config("state.backend.type", "rockdb");
    env.from_collection(vec![1_u32]).sink(CollectSink::new());
    let err = env.execute("bad backend").unwrap_err().to_string();
    assert!(err.contains("state.backend.type") && err.contains("did you mean rocksdb?"), "{err}");
}

#[test]
fn unsupported_checkpoint_settings_are_refused_by_name() {
    for (key, value) in [("execution.checkpointing.max-concurrent-checkpoints", "2"), ("execution.checkpointing.unaligned", "true")] {
        let env = StreamEnv::new();
        env.set_config("execution.checkpointing.interval", "1 s").set_config(key, value);
        env.from_collection(vec![1_u32]).sink(CollectSink::new());
        let err = env.execute("unsupported").unwrap_err().to_string();
        assert!(err.contains(key), "{err}");
    }
}
