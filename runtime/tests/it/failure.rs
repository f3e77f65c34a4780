//! A failing task fails the job with its message; no task is left hanging.

use strom_runtime::prelude::*;

use crate::PARALLELISMS;

#[test]
fn panic_in_a_user_function_fails_the_job_with_its_message() {
    for p in PARALLELISMS {
        let env = StreamEnv::new();
        env.set_parallelism(p);
        env.from_collection((0..100_000_u64).collect())
            .rebalance()
            .map(|x: u64| {
                assert!(x != 5_000, "bad record {x}");
                x
            })
            .key_by(|x: &u64| x % 10)
            .reduce(|a, b| a + b)
            .sink(CollectSink::new());
        let err = env.execute("failing").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("bad record 5000") && msg.contains("Map"), "p={p}: {msg}");
        assert_eq!(err.fault(), strom_runtime::Fault::User);
    }
}

#[derive(Clone)]
struct FailOnKey;

impl KeyedProcessFunction<u64, u64, u64> for FailOnKey {
    fn process_element(&mut self, v: u64, _: &mut KeyedContext<'_, u64>, out: &mut Collector<u64>) -> FnResult {
        if v == 777 {
            return Err(format!("cannot handle {v}").into());
        }
        out.collect(v);
        Ok(())
    }
}

#[test]
fn error_returned_by_a_function_fails_the_job() {
    for p in PARALLELISMS {
        let env = StreamEnv::new();
        env.set_parallelism(p);
        env.from_collection((0..10_000_u64).collect()).key_by(|x: &u64| *x).process(FailOnKey).sink(CollectSink::new());
        let msg = env.execute("failing").unwrap_err().to_string();
        assert!(msg.contains("cannot handle 777"), "p={p}: {msg}");
    }
}
