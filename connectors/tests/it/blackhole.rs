//! `BlackholeSink`: counts what it discards, across subtasks.

use strom_connectors::{BlackholeSink, DataGenSource};
use strom_runtime::prelude::*;

use crate::support::PARALLELISMS;

#[test]
fn every_record_is_counted_once() {
    for p in PARALLELISMS {
        let env = StreamEnv::new();
        env.set_parallelism(p);
        let sink = BlackholeSink::new();
        env.add_source("Numbers", DataGenSource::new(Some(12_345), |i| i)).sink(sink.clone());
        env.execute("discard").expect("the job succeeds");
        assert_eq!(sink.count(), 12_345, "parallelism {p}");
    }
}
