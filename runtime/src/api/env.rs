//! The stream environment and the job's arguments.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use super::DataStream;
use crate::checkpoint::coordinator::CheckpointConfig;
use crate::cluster::{EmbeddedJob, LocalExecutor};
use crate::config::{self, Configuration};
use crate::error::{Error, Result};
use crate::exchange::ExchangeConfig;
use crate::job::graph::{build_job_graph, NodeKind, NodeSetup, StreamNode, TypeOps};
use crate::job::local::{new_job_id, run_with_failover, JobExecutionResult, LocalSettings, RestoreSpec};
use crate::job::restart::RestartStrategy;
use crate::job::JobClient;

/// The checkpoint or savepoint to restore from (Flink's key; `-s` sets it).
pub(crate) const SAVEPOINT_PATH: &str = "execution.savepoint.path";
/// Skip state of operators missing from the job (`--allow-non-restored-state`).
pub(crate) const SAVEPOINT_IGNORE_UNCLAIMED: &str = "execution.savepoint.ignore-unclaimed-state";
use crate::job::JobGraph;
use crate::operators::{Collector, Source};
use crate::task::{SourceHead, SourceTask};
use crate::time::{Clock, SystemClock};

/// How the job binary was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    /// Run the job in this process.
    Local,
    /// Print the job graph as JSON instead of running.
    Plan,
    /// Run the subtasks a JobMaster deploys to this process (started by a TaskManager, which
    /// sets [`WORKER_ENV`](crate::cluster::WORKER_ENV)).
    Worker,
}

pub(crate) struct EnvInner {
    pub(crate) nodes: Vec<StreamNode>,
    pub(crate) config: Configuration,
    pub(crate) mode: RunMode,
    pub(crate) args: JobArgs,
    pub(crate) clock: Arc<dyn Clock>,
    /// Errors found while building the graph, reported by `execute`.
    pub(crate) errors: Vec<String>,
    /// Runs `local` mode's jobs instead of the in-process driver (the embedded mini cluster).
    pub(crate) local_executor: Option<Arc<dyn LocalExecutor>>,
}

/// The context of a job: collects its dataflow and runs it (Flink's
/// `StreamExecutionEnvironment`).
///
/// ```
/// use strom_runtime::prelude::*;
/// let env = StreamEnv::new();
/// let out = CollectSink::new();
/// env.from_collection(vec![1, 2, 3]).map(|x: i32| x * 2).sink(out.clone());
/// env.execute("doubling").unwrap();
/// assert_eq!(out.sorted(), vec![2, 4, 6]);
/// ```
#[derive(Clone)]
pub struct StreamEnv {
    pub(crate) inner: Rc<RefCell<EnvInner>>,
}

impl std::fmt::Debug for StreamEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.inner.borrow();
        f.debug_struct("StreamEnv").field("nodes", &inner.nodes.len()).field("mode", &inner.mode).finish()
    }
}

impl Default for StreamEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamEnv {
    /// A local environment with the default configuration.
    pub fn new() -> Self {
        Self::with_config(Configuration::default())
    }

    /// A local environment with `config`.
    pub fn with_config(config: Configuration) -> Self {
        Self::build(config, RunMode::Local, JobArgs::default())
    }

    pub(crate) fn build(config: Configuration, mode: RunMode, args: JobArgs) -> Self {
        let inner =
            EnvInner { nodes: Vec::new(), config, mode, args, clock: Arc::new(SystemClock), errors: Vec::new(), local_executor: None };
        Self { inner: Rc::new(RefCell::new(inner)) }
    }

    /// Sets the default parallelism (`parallelism.default`).
    pub fn set_parallelism(&self, parallelism: u32) -> &Self {
        self.inner.borrow_mut().config.set(config::PARALLELISM_DEFAULT, parallelism.to_string());
        self
    }

    /// The default parallelism.
    pub fn parallelism(&self) -> u32 {
        self.inner.borrow().config.get_positive(config::PARALLELISM_DEFAULT).ok().flatten().unwrap_or(1)
    }

    /// Sets the default max parallelism (`pipeline.max-parallelism`).
    pub fn set_max_parallelism(&self, max_parallelism: u32) -> &Self {
        self.inner.borrow_mut().config.set(config::MAX_PARALLELISM, max_parallelism.to_string());
        self
    }

    /// Sets a configuration value.
    pub fn set_config(&self, key: &str, value: &str) -> &Self {
        self.inner.borrow_mut().config.set(key, value);
        self
    }

    /// The configuration.
    pub fn config(&self) -> Configuration {
        self.inner.borrow().config.clone()
    }

    /// Uses `clock` for processing time (tests).
    pub fn set_clock(&self, clock: Arc<dyn Clock>) -> &Self {
        self.inner.borrow_mut().clock = clock;
        self
    }

    /// The job's own arguments (those the runtime did not consume).
    pub fn args(&self) -> JobArgs {
        self.inner.borrow().args.clone()
    }

    /// How the binary was started.
    pub fn mode(&self) -> RunMode {
        self.inner.borrow().mode
    }

    /// Runs this environment's jobs in `local` mode with `executor` instead of the runtime's
    /// own in-process driver. The `strom` crate's `main` installs the embedded mini cluster
    /// (a JobManager and a TaskManager in this process) this way; see
    /// [`LocalExecutor`](crate::cluster::LocalExecutor).
    pub fn set_local_executor(&self, executor: Arc<dyn LocalExecutor>) {
        self.inner.borrow_mut().local_executor = Some(executor);
    }

    /// Adds a parallel source; every subtask gets a clone of `source`.
    pub fn add_source<S: Source + Clone + Send>(&self, name: &str, source: S) -> DataStream<S::Out> {
        let proto = Mutex::new(source);
        let factory = Arc::new(move |setup: &NodeSetup<'_>, next| {
            let source = proto.lock().expect("source prototype lock").clone();
            let next = crate::job::graph::unbox_link::<S::Out>(next);
            let head = SourceHead { uid: setup.uid.clone(), source, out: Collector::new(), next };
            Box::new(head) as Box<dyn SourceTask>
        });
        let node = StreamNode {
            name: format!("Source: {name}"),
            kind_name: crate::job::graph::SOURCE_KIND,
            uid: None,
            parallelism: None,
            max_parallelism: None,
            chainable: true,
            kind: NodeKind::Source(factory),
            inputs: Vec::new(),
            out: TypeOps::of::<S::Out>(),
            side_outputs: Vec::new(),
            side_outputs_allowed: false,
        };
        DataStream::new(self.clone(), self.push_node(node))
    }

    /// A bounded source of the given elements, at parallelism 1.
    pub fn from_collection<T: crate::Data + Sync>(&self, elements: Vec<T>) -> DataStream<T> {
        self.add_source("Collection", super::CollectionSource::new(elements)).parallelism(1)
    }

    pub(crate) fn push_node(&self, node: StreamNode) -> usize {
        let mut inner = self.inner.borrow_mut();
        inner.nodes.push(node);
        inner.nodes.len() - 1
    }

    pub(crate) fn record_error(&self, message: String) {
        self.inner.borrow_mut().errors.push(message);
    }

    /// The job graph of what was built so far.
    pub fn job_graph(&self, job_name: &str) -> Result<JobGraph> {
        let inner = self.inner.borrow();
        if let Some(first) = inner.errors.first() {
            return Err(Error::Graph(first.clone()));
        }
        inner.config.validate()?;
        build_job_graph(job_name, &inner.nodes, &inner.config)
    }

    /// Runs the job (or prints its plan in `plan` mode) and returns when it has finished.
    pub fn execute(&self, job_name: &str) -> Result<JobExecutionResult> {
        if self.mode() == RunMode::Plan {
            self.inner.borrow().args.check_all_used()?;
            let graph = self.job_graph(job_name)?;
            let json = serde_json::to_string_pretty(&graph).map_err(|e| Error::Serialization(e.to_string()))?;
            println!("{json}");
            return Ok(JobExecutionResult {
                job_name: job_name.to_string(),
                job_id: String::new(),
                net_runtime: Default::default(),
                tasks: Vec::new(),
                checkpoints: Vec::new(),
            });
        }
        if self.mode() == RunMode::Worker {
            self.run_as_worker(job_name)?;
        }
        self.execute_async(job_name)?.wait()
    }

    /// Worker mode: runs the deployed subtasks, then ends the process (the job's `main` goes on
    /// only in the process that submitted it).
    fn run_as_worker(&self, job_name: &str) -> Result<()> {
        let spec = crate::cluster::WorkerSpec::from_env()
            .unwrap_or_else(|| Err(Error::Usage(format!("worker mode needs {}", crate::cluster::WORKER_ENV))))?;
        self.inner.borrow().args.check_all_used()?;
        let graph = self.job_graph(job_name)?;
        let inner = self.inner.borrow();
        let settings = local_settings(&inner.config, inner.clock.clone())?;
        let nodes = inner.nodes.clone();
        drop(inner);
        std::process::exit(crate::cluster::worker::run_worker(graph, nodes, settings, &spec))
    }

    /// Starts the job and returns at once with a handle to take savepoints, stop it, or wait
    /// for it. `plan` mode runs nothing: use [`execute`](Self::execute), which prints the plan.
    pub fn execute_async(&self, job_name: &str) -> Result<JobClient> {
        if self.mode() != RunMode::Local {
            return Err(Error::Usage("plan and worker modes run through execute, not execute_async".into()));
        }
        self.inner.borrow().args.check_all_used()?;
        let graph = self.job_graph(job_name)?;
        let inner = self.inner.borrow();
        let settings = local_settings(&inner.config, inner.clock.clone())?;
        let nodes = inner.nodes.clone();
        drop(inner);
        let strategy = RestartStrategy::from_config(&self.config(), settings.checkpoints.interval.is_some())?;
        tracing::info!(job = job_name, vertices = graph.vertices.len(), restart_strategy = %strategy, "running job locally");
        let job_id = new_job_id();
        let (requests_tx, requests) = crossbeam_channel::unbounded();
        let id = job_id.clone();
        let executor = self.inner.borrow().local_executor.clone();
        let handle = std::thread::Builder::new()
            .name(format!("job {job_name}"))
            .spawn(move || match executor {
                Some(executor) => executor.run(EmbeddedJob::new(graph, nodes, settings, id), requests),
                None => run_with_failover(graph, nodes, settings, strategy, &id, &requests),
            })
            .map_err(|e| Error::io("spawning", "the job's driver thread", e))?;
        Ok(JobClient::new(job_id, requests_tx, handle))
    }
}

fn local_settings(config: &Configuration, clock: Arc<dyn Clock>) -> Result<LocalSettings> {
    let mut exchange = ExchangeConfig::default();
    if let Some(n) = config.get_positive(config::BUFFER_RECORDS)? {
        exchange.batch_records = n as usize;
    }
    if let Some(n) = config.get_positive(config::BUFFERS_PER_CHANNEL)? {
        exchange.channel_capacity = n as usize;
    }
    if let Some(t) = config.get_duration(config::BUFFER_TIMEOUT)? {
        exchange.buffer_timeout = t;
    }
    let watermark_interval = config.get_duration(config::AUTO_WATERMARK_INTERVAL)?.unwrap_or(std::time::Duration::from_millis(200));
    let state_backend = crate::state::StateBackendConfig::from_config(config)?;
    let checkpoints = CheckpointConfig::from_config(config)?;
    let restore = config
        .get(SAVEPOINT_PATH)
        .map(|path| RestoreSpec { path: PathBuf::from(path), allow_non_restored: config.get(SAVEPOINT_IGNORE_UNCLAIMED) == Some("true") });
    Ok(LocalSettings { exchange, watermark_interval, clock, checkpoints, restore, state_backend })
}

/// The job's own command-line arguments, `--name value` or `--flag` (Flink's `ParameterTool`).
/// Every argument must be read by the job before `execute`, so that a typo is an error.
///
/// ```
/// use strom_runtime::JobArgs;
/// let args = JobArgs::parse(["--input", "in.txt", "--size-ms", "500", "--verbose"]).unwrap();
/// assert_eq!(args.required::<String>("input").unwrap(), "in.txt");
/// assert_eq!(args.get::<u64>("size-ms").unwrap(), Some(500));
/// assert!(args.flag("verbose"));
/// assert!(args.required::<String>("output").unwrap_err().to_string().contains("--output"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct JobArgs {
    values: Rc<RefCell<BTreeMap<String, ArgValue>>>,
}

/// An argument's value (`None` for a flag) and whether the job read it.
#[derive(Debug, Clone)]
struct ArgValue {
    value: Option<String>,
    used: bool,
}

impl JobArgs {
    /// Parses `--name value`, `--name=value` and `--flag` arguments.
    pub fn parse<I: IntoIterator<Item = S>, S: Into<String>>(args: I) -> Result<Self> {
        let args: Vec<String> = args.into_iter().map(Into::into).collect();
        let mut values = BTreeMap::new();
        let mut i = 0;
        while i < args.len() {
            let Some(name) = args[i].strip_prefix("--").filter(|n| !n.is_empty()) else {
                return Err(Error::Usage(format!("unexpected argument '{}' (job arguments are --name value)", args[i])));
            };
            let (name, value) = match name.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None if args.get(i + 1).is_some_and(|v| !v.starts_with("--")) => {
                    i += 1;
                    (name.to_string(), Some(args[i].clone()))
                }
                None => (name.to_string(), None),
            };
            if values.insert(name.clone(), ArgValue { value, used: false }).is_some() {
                return Err(Error::Usage(format!("--{name} is given more than once")));
            }
            i += 1;
        }
        Ok(Self { values: Rc::new(RefCell::new(values)) })
    }

    fn take(&self, name: &str) -> Option<Option<String>> {
        let mut values = self.values.borrow_mut();
        let arg = values.get_mut(name)?;
        arg.used = true;
        Some(arg.value.clone())
    }

    /// The value of `--name`, parsed; `None` when absent.
    pub fn get<T: FromStr>(&self, name: &str) -> Result<Option<T>>
    where
        T::Err: std::fmt::Display,
    {
        match self.take(name) {
            None => Ok(None),
            Some(None) => Err(Error::Usage(format!("--{name} needs a value"))),
            Some(Some(v)) => v.parse().map(Some).map_err(|e| Error::Usage(format!("invalid value '{v}' for --{name}: {e}"))),
        }
    }

    /// The value of `--name`, parsed; an error naming the argument when absent.
    pub fn required<T: FromStr>(&self, name: &str) -> Result<T>
    where
        T::Err: std::fmt::Display,
    {
        self.get(name)?.ok_or_else(|| Error::Usage(format!("missing required argument --{name}")))
    }

    /// The value of `--name`, or `default`.
    pub fn get_or<T: FromStr>(&self, name: &str, default: T) -> Result<T>
    where
        T::Err: std::fmt::Display,
    {
        Ok(self.get(name)?.unwrap_or(default))
    }

    /// Whether `--name` was given (as a flag, or with value `true`).
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.take(name), Some(None)) || matches!(self.take(name), Some(Some(v)) if v == "true")
    }

    /// An error naming arguments nobody read.
    pub fn check_all_used(&self) -> Result<()> {
        let unused: Vec<String> = self.values.borrow().iter().filter(|(_, arg)| !arg.used).map(|(k, _)| format!("--{k}")).collect();
        if unused.is_empty() {
            Ok(())
        } else {
            Err(Error::Usage(format!("unknown argument(s): {}", unused.join(", "))))
        }
    }
}
