//! Aligned checkpoints: a job that fails after a checkpoint completed, restored from it at
//! another parallelism, produces exactly what an uninterrupted run produces.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use strom_runtime::checkpoint::{CheckpointId, OperatorRestore, OperatorSnapshot};
use strom_runtime::prelude::*;

/// Emits `(ts, key)` for ts in `0..total`, 50 per poll, pacing itself so that checkpoints
/// interleave; keeps its position in list state; fails once a checkpoint completed and it
/// emitted at least `fail_at` records, when asked to.
#[derive(Clone)]
struct ReplayableSource {
    total: u64,
    next: u64,
    fail_at: Option<u64>,
    completed: bool,
}

impl Source for ReplayableSource {
    type Out = (i64, u64);

    fn poll_next(&mut self, out: &mut Collector<(i64, u64)>, _: &mut OperatorContext<'_>) -> Result<SourceStatus> {
        if self.fail_at.is_some_and(|n| self.next >= n) {
            if self.completed {
                return Err(Error::TaskFailed { task: "source".into(), message: "injected failure".into() });
            }
            // Hold the failure point until a checkpoint completed, however slow the machine.
            return Ok(SourceStatus::Wait(Duration::from_millis(1)));
        }
        for _ in 0..50 {
            if self.next == self.total {
                return Ok(SourceStatus::Finished);
            }
            out.collect_at(self.next as i64, (self.next as i64, self.next % 7));
            self.next += 1;
        }
        Ok(SourceStatus::Wait(Duration::from_millis(1)))
    }

    fn snapshot_state(&mut self, _: CheckpointId) -> Result<OperatorSnapshot> {
        Ok(OperatorSnapshot { list: vec![self.next.to_le_bytes().to_vec()], ..Default::default() })
    }

    fn restore_state(&mut self, state: OperatorRestore) -> Result<()> {
        let bytes: [u8; 8] = state.list.first().and_then(|b| b.as_slice().try_into().ok()).expect("one position entry");
        self.next = u64::from_le_bytes(bytes);
        Ok(())
    }

    fn notify_checkpoint_complete(&mut self, _: CheckpointId) -> Result<()> {
        self.completed = true;
        Ok(())
    }
}

type Counts = BTreeMap<(i64, u64), u64>;

/// The job under test: `source` at parallelism 1, counts per key and 100 ms window (fired at
/// the end of input only) at `parallelism`, into `out`.
fn count_per_window<S: Source<Out = (i64, u64)> + Clone + Send>(
    env: &StreamEnv,
    name: &str,
    source: S,
    parallelism: u32,
    out: &CollectSink<((i64, u64), u64)>,
) {
    env.add_source(name, source)
        .uid("source")
        .parallelism(1)
        .assign_timestamps_and_watermarks(WatermarkStrategy::no_watermarks())
        .key_by(|e: &(i64, u64)| e.1)
        .window(WindowAssigner::tumbling_event_time(Duration::from_millis(100)))
        .aggregate_with(CountAggregate, |k: &u64, w: TimeWindow, n: u64, out: &mut Collector<((i64, u64), u64)>| {
            out.collect(((w.start, *k), n))
        })
        .uid("counts")
        .parallelism(parallelism)
        .sink(out.clone())
        .uid("sink")
        .parallelism(1);
}

/// The counts of an uninterrupted run over `0..total`.
fn expected_counts(total: u64) -> Counts {
    let mut expected = Counts::new();
    for i in 0..total {
        *expected.entry(((i as i64 / 100) * 100, i % 7)).or_default() += 1;
    }
    expected
}

fn run(source: ReplayableSource, window_parallelism: u32, checkpoints: &Path, restore: Option<&Path>, backend: Backend) -> Result<Counts> {
    let mut config = vec![("restart-strategy.type", "none")];
    config.extend(backend.config());
    run_with(source, window_parallelism, checkpoints, restore, &config)
}

/// A state backend setting of the tests.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Backend {
    HashMap,
    RocksDb,
    RocksDbIncremental,
}

impl Backend {
    fn config(self) -> Vec<(&'static str, &'static str)> {
        match self {
            Backend::HashMap => vec![("state.backend.type", "hashmap")],
            Backend::RocksDb => vec![("state.backend.type", "rocksdb")],
            Backend::RocksDbIncremental => vec![("state.backend.type", "rocksdb"), ("state.backend.incremental", "true")],
        }
    }
}

fn run_with(
    source: ReplayableSource,
    window_parallelism: u32,
    checkpoints: &Path,
    restore: Option<&Path>,
    config: &[(&str, &str)],
) -> Result<Counts> {
    let env = StreamEnv::new();
    env.set_config("execution.checkpointing.interval", "20 ms").set_config("state.checkpoints.dir", &checkpoints.display().to_string());
    for (k, v) in config {
        env.set_config(k, v);
    }
    if let Some(path) = restore {
        env.set_config("execution.savepoint.path", &path.display().to_string());
    }
    let out = CollectSink::new();
    count_per_window(&env, "replayable", source, window_parallelism, &out);
    env.execute("checkpointed").map(|_| out.values().into_iter().collect())
}

/// The newest completed checkpoint under `root` (any job).
fn latest_checkpoint(root: &Path) -> PathBuf {
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
    for job in std::fs::read_dir(root).unwrap().flatten() {
        for chk in std::fs::read_dir(job.path()).unwrap().flatten() {
            let metadata = chk.path().join("_metadata");
            if let Ok(m) = std::fs::metadata(&metadata) {
                found.push((m.modified().unwrap(), chk.path()));
            }
        }
    }
    found.sort();
    found.pop().expect("a completed checkpoint").1
}

#[test]
fn restore_after_failure_is_exact_also_rescaled() {
    const TOTAL: u64 = 6_000;
    let expected = expected_counts(TOTAL);
    let backends = [
        (Backend::HashMap, Backend::HashMap),
        (Backend::RocksDbIncremental, Backend::RocksDbIncremental),
        (Backend::RocksDb, Backend::HashMap),
        (Backend::HashMap, Backend::RocksDb),
    ];
    for (from, to) in backends {
        for (before, after) in [(2, 4), (4, 1)] {
            let dir = tempfile::tempdir().unwrap();
            let failing = ReplayableSource { total: TOTAL, next: 0, fail_at: Some(2_000), completed: false };
            let err = run(failing, before, dir.path(), None, from).unwrap_err();
            assert!(err.report().contains("injected failure"), "{}", err.report());
            let checkpoint = latest_checkpoint(dir.path());
            let metadata = strom_runtime::checkpoint::CheckpointStorage::read_metadata(&checkpoint).unwrap();
            let counts_state = metadata.operators.iter().find(|op| op.uid == "counts").expect("window state");
            let native = counts_state.subtasks.iter().filter_map(|s| s.file.as_ref()).any(|f| f.native.is_some());
            assert_eq!(native, from != Backend::HashMap, "RocksDB checkpoints are native, heap ones canonical");
            // Without a restore this source emits nothing and the window state is empty, so only a
            // restore of both (position and keyed state, rescaled) yields the full counts.
            let resumed = ReplayableSource { total: TOTAL, next: TOTAL, fail_at: None, completed: false };
            let counts = run(resumed, after, dir.path(), Some(&checkpoint), to).unwrap();
            assert_eq!(counts, expected, "restored from {} at {before}->{after}, {from:?} -> {to:?}", checkpoint.display());
        }
    }
}

#[test]
fn restoring_from_an_incomplete_checkpoint_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let chk = dir.path().join("job").join("chk-3");
    std::fs::create_dir_all(&chk).unwrap();
    let source = ReplayableSource { total: 10, next: 0, fail_at: None, completed: false };
    let err = run(source, 1, dir.path(), Some(&chk), Backend::HashMap).unwrap_err().report();
    assert!(err.contains("chk-3") && err.contains("incomplete"), "{err}");
}

/// Fails (panics) once, the first time it passes `fail_at` after a checkpoint completed.
#[derive(Clone)]
struct PanicOnce {
    inner: ReplayableSource,
    failed: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Positions it was restored at.
    restored: std::sync::Arc<std::sync::Mutex<Vec<u64>>>,
}

#[test]
fn a_panic_restarts_the_job_from_its_latest_checkpoint_exactly_once() {
    const TOTAL: u64 = 5_000;
    let expected = expected_counts(TOTAL);
    for (p, backend) in [(1, Backend::HashMap), (3, Backend::HashMap), (3, Backend::RocksDbIncremental)] {
        let dir = tempfile::tempdir().unwrap();
        let failed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let restored = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let inner = ReplayableSource { total: TOTAL, next: 0, fail_at: Some(1_500), completed: false };
        let source = PanicOnce { inner, failed: failed.clone(), restored: restored.clone() };
        let mut config = vec![
            ("restart-strategy.type", "fixed-delay"),
            ("restart-strategy.fixed-delay.attempts", "2"),
            ("restart-strategy.fixed-delay.delay", "10 ms"),
        ];
        config.extend(backend.config());
        let counts = run_panicking(source, p, dir.path(), &config).unwrap();
        assert!(failed.load(std::sync::atomic::Ordering::SeqCst), "the failure was injected");
        let restored = restored.lock().unwrap().clone();
        assert!(restored.len() == 1 && restored[0] > 0, "restarted from a checkpoint, not from scratch: {restored:?}");
        assert_eq!(counts, expected, "p={p} {backend:?}");
    }
}

impl Source for PanicOnce {
    type Out = (i64, u64);

    fn poll_next(&mut self, out: &mut Collector<(i64, u64)>, ctx: &mut OperatorContext<'_>) -> Result<SourceStatus> {
        let at_failure_point = self.inner.fail_at.is_some_and(|n| self.inner.next >= n);
        if at_failure_point && !self.failed.load(std::sync::atomic::Ordering::SeqCst) {
            if !self.inner.completed {
                // Hold the failure point until a checkpoint completed.
                return Ok(SourceStatus::Wait(Duration::from_millis(1)));
            }
            self.failed.store(true, std::sync::atomic::Ordering::SeqCst);
            panic!("injected panic at record {}", self.inner.next);
        }
        let mut inner = self.inner.clone();
        inner.fail_at = None;
        let status = inner.poll_next(out, ctx);
        self.inner.next = inner.next;
        status
    }
    fn snapshot_state(&mut self, id: CheckpointId) -> Result<OperatorSnapshot> {
        self.inner.snapshot_state(id)
    }
    fn restore_state(&mut self, state: OperatorRestore) -> Result<()> {
        self.inner.restore_state(state)?;
        self.restored.lock().expect("test lock").push(self.inner.next);
        Ok(())
    }
    fn notify_checkpoint_complete(&mut self, id: CheckpointId) -> Result<()> {
        self.inner.notify_checkpoint_complete(id)
    }
}

fn run_panicking(source: PanicOnce, window_parallelism: u32, checkpoints: &Path, config: &[(&str, &str)]) -> Result<Counts> {
    let env = StreamEnv::new();
    env.set_config("execution.checkpointing.interval", "20 ms").set_config("state.checkpoints.dir", &checkpoints.display().to_string());
    for (k, v) in config {
        env.set_config(k, v);
    }
    let out = CollectSink::new();
    count_per_window(&env, "panicking", source, window_parallelism, &out);
    env.execute("failover").map(|_| out.values().into_iter().collect())
}

#[test]
fn stop_with_savepoint_then_resume_at_other_parallelisms() {
    const TOTAL: u64 = 60_000;
    let expected = expected_counts(TOTAL);
    let dir = tempfile::tempdir().unwrap();
    let build = |source: ReplayableSource, p: u32, restore: Option<&Path>, backend: Backend| {
        let env = StreamEnv::new();
        for (k, v) in backend.config() {
            env.set_config(k, v);
        }
        env.set_config("state.checkpoints.dir", &dir.path().join("chk").display().to_string());
        env.set_config("state.savepoints.dir", &dir.path().join("sp").display().to_string());
        if let Some(path) = restore {
            env.set_config("execution.savepoint.path", &path.display().to_string());
        }
        let out = CollectSink::new();
        count_per_window(&env, "replayable", source, p, &out);
        (env, out)
    };
    for taken_with in [Backend::HashMap, Backend::RocksDbIncremental] {
        let (env, out) = build(ReplayableSource { total: TOTAL, next: 0, fail_at: None, completed: false }, 2, None, taken_with);
        let job = env.execute_async("savepointed").unwrap();
        let savepoint = job.stop_with_savepoint(None).unwrap();
        job.wait().unwrap();
        assert!(out.values().is_empty(), "stopping without drain fires no window");
        let name = savepoint.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("savepoint-") && savepoint.join("_metadata").exists(), "{}", savepoint.display());
        // Relocatable: move the savepoint before restoring from it.
        let moved = dir.path().join(format!("moved-savepoint-{taken_with:?}"));
        std::fs::rename(&savepoint, &moved).unwrap();
        for p in [1, 4] {
            for restored_with in [Backend::HashMap, Backend::RocksDb] {
                let source = ReplayableSource { total: TOTAL, next: TOTAL, fail_at: None, completed: false };
                let (env, out) = build(source, p, Some(&moved), restored_with);
                env.execute("resumed").unwrap();
                let counts: Counts = out.values().into_iter().collect();
                assert_eq!(counts, expected, "taken with {taken_with:?} at p=2, restored at p={p} with {restored_with:?}");
            }
        }
    }
}

/// Remembers its position at each checkpoint; on its first failure it truncates the newest
/// checkpoint's `_metadata` (a checkpoint damaged on disk) before failing.
#[derive(Clone)]
struct CorruptingSource {
    inner: ReplayableSource,
    root: PathBuf,
    failed: std::sync::Arc<std::sync::atomic::AtomicBool>,
    at_checkpoint: std::sync::Arc<std::sync::Mutex<BTreeMap<u64, u64>>>,
    completed: std::sync::Arc<std::sync::Mutex<Vec<u64>>>,
    restored: std::sync::Arc<std::sync::Mutex<Vec<u64>>>,
    /// The id of the checkpoint it damaged.
    damaged: std::sync::Arc<std::sync::Mutex<Option<u64>>>,
}

impl Source for CorruptingSource {
    type Out = (i64, u64);

    fn poll_next(&mut self, out: &mut Collector<(i64, u64)>, ctx: &mut OperatorContext<'_>) -> Result<SourceStatus> {
        let failed = self.failed.load(std::sync::atomic::Ordering::SeqCst);
        if !failed && self.inner.next >= 5_000 && self.completed.lock().unwrap().len() < 3 {
            // Hold here until three checkpoints completed.
            return Ok(SourceStatus::Wait(Duration::from_millis(1)));
        }
        if !failed && self.completed.lock().unwrap().len() >= 3 && !self.failed.swap(true, std::sync::atomic::Ordering::SeqCst) {
            let newest = latest_checkpoint(&self.root);
            std::fs::write(newest.join("_metadata"), b"STROMCHK").unwrap();
            let id = newest.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_prefix("chk-")).and_then(|n| n.parse().ok());
            *self.damaged.lock().unwrap() = id;
            return Err(Error::TaskFailed {
                task: "source".into(),
                message: format!("injected failure after damaging {}", newest.display()),
            });
        }
        self.inner.poll_next(out, ctx)
    }
    fn snapshot_state(&mut self, id: CheckpointId) -> Result<OperatorSnapshot> {
        self.at_checkpoint.lock().unwrap().insert(id.0, self.inner.next);
        self.inner.snapshot_state(id)
    }
    fn restore_state(&mut self, state: OperatorRestore) -> Result<()> {
        self.inner.restore_state(state)?;
        self.restored.lock().unwrap().push(self.inner.next);
        Ok(())
    }
    fn notify_checkpoint_complete(&mut self, id: CheckpointId) -> Result<()> {
        self.completed.lock().unwrap().push(id.0);
        Ok(())
    }
}

#[test]
fn failover_skips_a_damaged_checkpoint_for_the_previous_one() {
    const TOTAL: u64 = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let source = CorruptingSource {
        inner: ReplayableSource { total: TOTAL, next: 0, fail_at: None, completed: false },
        root: dir.path().to_path_buf(),
        failed: Default::default(),
        at_checkpoint: Default::default(),
        completed: Default::default(),
        restored: Default::default(),
        damaged: Default::default(),
    };
    let (positions, damaged, restored) = (source.at_checkpoint.clone(), source.damaged.clone(), source.restored.clone());
    let env = StreamEnv::new();
    env.set_config("execution.checkpointing.interval", "20 ms")
        .set_config("state.checkpoints.dir", &dir.path().display().to_string())
        .set_config("state.checkpoints.num-retained", "3")
        .set_config("restart-strategy.type", "fixed-delay")
        .set_config("restart-strategy.fixed-delay.delay", "1 ms");
    let out = CollectSink::new();
    count_per_window(&env, "corrupting", source, 2, &out);
    env.execute("fallback").unwrap();
    // The newest completed checkpoint at failure time was damaged: the restore used the one
    // before it.
    let damaged = damaged.lock().unwrap().expect("a checkpoint was damaged");
    let restored = restored.lock().unwrap().clone();
    assert_eq!(restored, vec![positions.lock().unwrap()[&(damaged - 1)]], "chk-{damaged} damaged");
    let expected = expected_counts(TOTAL);
    let counts: Counts = out.values().into_iter().collect();
    assert_eq!(counts, expected);
}

#[test]
fn checkpoint_history_has_flinks_rest_shape() {
    let dir = tempfile::tempdir().unwrap();
    let env = StreamEnv::new();
    env.set_config("execution.checkpointing.interval", "20 ms").set_config("state.checkpoints.dir", &dir.path().display().to_string());
    let source = ReplayableSource { total: 20_000, next: 0, fail_at: None, completed: false };
    env.add_source("replayable", source)
        .parallelism(1)
        .key_by(|e: &(i64, u64)| e.1)
        .reduce(|a, b| (a.0.max(b.0), a.1))
        .parallelism(2)
        .sink(CollectSink::new());
    let graph = env.job_graph("stats").unwrap();
    let result = env.execute("stats").unwrap();
    let json = strom_runtime::checkpoint::checkpoints_json(&result.checkpoints);
    let completed = json["counts"]["completed"].as_u64().unwrap();
    assert!(completed >= 2, "{json:#}");
    assert_eq!(json["counts"]["total"].as_u64().unwrap() as usize, result.checkpoints.len());
    let history = json["history"].as_array().unwrap();
    assert_eq!(history.len(), result.checkpoints.len());
    assert!(history.windows(2).all(|w| w[0]["id"].as_u64() > w[1]["id"].as_u64()), "newest first");
    let vertex_ids: Vec<&str> = graph.vertices.iter().map(|v| v.id.as_str()).collect();
    let subtasks: u64 = graph.vertices.iter().map(|v| u64::from(v.parallelism)).sum();
    for entry in history.iter().filter(|e| e["status"] == "COMPLETED") {
        assert_eq!(entry["num_subtasks"], subtasks);
        assert_eq!(entry["num_acknowledged_subtasks"], subtasks);
        assert_eq!(entry["checkpoint_type"], "CHECKPOINT");
        let tasks = entry["tasks"].as_object().unwrap();
        assert_eq!(tasks.keys().map(String::as_str).collect::<Vec<_>>().len(), vertex_ids.len());
        assert!(tasks.keys().all(|k| vertex_ids.contains(&k.as_str())), "{tasks:?}");
        assert!(
            std::path::Path::new(entry["external_path"].as_str().unwrap()).join("_metadata").exists()
                || entry["id"] != json["latest"]["completed"]["id"]
        );
    }
    assert_eq!(json["latest"]["completed"]["status"], "COMPLETED");
    assert!(json["summary"]["end_to_end_duration"]["max"].as_u64().is_some());
}
