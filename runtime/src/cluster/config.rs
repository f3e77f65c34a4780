//! The configuration of the JobManager and TaskManager processes: a YAML file of Flink's keys
//! (`--config PATH`, default `conf/config.yaml`), then the `STROM_PROPERTIES` environment
//! variable (YAML, like `FLINK_PROPERTIES` in Flink's images), then `-D key=value` arguments,
//! each overriding the one before.
//!
//! Nested YAML maps are flattened into dotted keys (`rest: {port: 8081}` is `rest.port`), as
//! Flink's `config.yaml` allows; lists become `;`-separated values.

use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

use crate::config::{Check, Configuration};
use crate::error::{Error, Result};

/// The environment variable with extra configuration (YAML).
pub const PROPERTIES_ENV: &str = "STROM_PROPERTIES";
/// Where the configuration file is looked for when `--config` is not given.
pub const DEFAULT_CONFIG_FILE: &str = "conf/config.yaml";

/// The JobManager's RPC address (TaskManagers connect to it).
pub const JOBMANAGER_RPC_ADDRESS: &str = "jobmanager.rpc.address";
/// The JobManager's RPC port (default 6123).
pub const JOBMANAGER_RPC_PORT: &str = "jobmanager.rpc.port";
/// The address the REST API is reached at (clients).
pub const REST_ADDRESS: &str = "rest.address";
/// The REST API's port (default 8081; 0 picks a free one).
pub const REST_PORT: &str = "rest.port";
/// The address the REST server binds (default 0.0.0.0).
pub const REST_BIND_ADDRESS: &str = "rest.bind-address";
/// Largest request body the REST server accepts, in bytes (job binary uploads).
pub const REST_MAX_CONTENT_LENGTH: &str = "rest.server.max-content-length";
/// Slots a TaskManager offers (default 1).
pub const NUMBER_OF_TASK_SLOTS: &str = "taskmanager.numberOfTaskSlots";
/// The host name a TaskManager reports (default: the address it reaches the JobManager from).
pub const TASKMANAGER_HOST: &str = "taskmanager.host";
/// Interval of heartbeats (default 10 s).
pub const HEARTBEAT_INTERVAL: &str = "heartbeat.interval";
/// A TaskManager without heartbeat for this long is lost (default 50 s).
pub const HEARTBEAT_TIMEOUT: &str = "heartbeat.timeout";
/// How long a job waits for enough slots before it fails (default 5 min).
pub const SLOT_REQUEST_TIMEOUT: &str = "slot.request.timeout";
/// `none` (default) or `kubernetes`.
pub const HIGH_AVAILABILITY: &str = "high-availability.type";
/// Where the JobManager keeps what survives it: job binaries, job records.
pub const HIGH_AVAILABILITY_STORAGE_DIR: &str = "high-availability.storageDir";
/// Whether jobs can be uploaded and started through the REST API (default true).
pub const WEB_SUBMIT_ENABLE: &str = "web.submit.enable";
/// Where uploaded job binaries are kept.
pub const WEB_UPLOAD_DIR: &str = "web.upload.dir";
/// How long a REST submission may take to learn the job's plan from its binary before the
/// binary is killed and the submission refused (default 10 min, as Flink's `web.timeout`).
pub const WEB_TIMEOUT: &str = "web.timeout";

/// Keys of the cluster processes, with their checks.
pub const CLUSTER_KEYS: &[(&str, Check)] = &[
    (JOBMANAGER_RPC_ADDRESS, |_, _| Ok(())),
    (JOBMANAGER_RPC_PORT, port),
    (REST_ADDRESS, |_, _| Ok(())),
    (REST_PORT, port),
    (REST_BIND_ADDRESS, |_, _| Ok(())),
    (REST_MAX_CONTENT_LENGTH, |c, k| c.get_positive_u64(k).map(drop)),
    (NUMBER_OF_TASK_SLOTS, |c, k| c.get_positive(k).map(drop)),
    (TASKMANAGER_HOST, |_, _| Ok(())),
    (HEARTBEAT_INTERVAL, |c, k| c.get_positive_duration(k).map(drop)),
    (HEARTBEAT_TIMEOUT, |c, k| c.get_positive_duration(k).map(drop)),
    (SLOT_REQUEST_TIMEOUT, |c, k| c.get_positive_duration(k).map(drop)),
    (HIGH_AVAILABILITY, |c, k| c.get_enum(k, &["none", "kubernetes"]).map(drop)),
    (HIGH_AVAILABILITY_STORAGE_DIR, |_, _| Ok(())),
    (WEB_SUBMIT_ENABLE, |c, k| c.get_bool(k).map(drop)),
    (WEB_UPLOAD_DIR, |_, _| Ok(())),
    (WEB_TIMEOUT, |c, k| c.get_positive_duration(k).map(drop)),
    ("kubernetes.cluster-id", |_, _| Ok(())),
    ("kubernetes.namespace", |_, _| Ok(())),
    ("metrics.port", port),
];

fn port(c: &Configuration, k: &str) -> Result<()> {
    match c.get_non_negative(k)? {
        Some(p) if p > u32::from(u16::MAX) => Err(Error::config(k, format!("expected a port number (0 to 65535), got {p}"))),
        _ => Ok(()),
    }
}

/// A cluster process's command line after the configuration was taken out of it.
#[derive(Debug)]
pub struct ProcessArgs {
    /// The merged configuration, validated.
    pub config: Configuration,
    /// The file it was read from, if any.
    pub config_file: Option<PathBuf>,
    /// The remaining arguments, in order.
    pub rest: Vec<String>,
}

/// Reads `--config PATH`, `-D key=value` (also `-Dkey=value`) and [`PROPERTIES_ENV`], and checks
/// every value. A missing file given with `--config` is an error; a missing default file is not.
///
/// ```
/// use strom_runtime::cluster::config::load;
/// let dir = tempfile::tempdir().unwrap();
/// let file = dir.path().join("config.yaml");
/// std::fs::write(&file, "rest:\n  port: 9000\ntaskmanager.numberOfTaskSlots: 2\n").unwrap();
/// let args = ["--config", file.to_str().unwrap(), "-D", "rest.port=9001", "--job", "x"];
/// let loaded = load(args.iter().map(|s| s.to_string()), None).unwrap();
/// assert_eq!(loaded.config.get("rest.port"), Some("9001"));
/// assert_eq!(loaded.config.get("taskmanager.numberOfTaskSlots"), Some("2"));
/// assert_eq!(loaded.rest, vec!["--job", "x"]);
/// let bad = ["--config", file.to_str().unwrap(), "-D", "rest.port=http"];
/// assert!(load(bad.iter().map(|s| s.to_string()), None).unwrap_err().to_string().contains("'rest.port'"));
/// ```
pub fn load(args: impl IntoIterator<Item = String>, properties: Option<&str>) -> Result<ProcessArgs> {
    let mut file: Option<PathBuf> = None;
    let mut overrides = Configuration::default();
    let mut rest = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" | "-c" => file = Some(args.next().ok_or_else(|| Error::Usage("--config needs a file".into()))?.into()),
            "-D" => overrides.set_from_arg(&args.next().ok_or_else(|| Error::Usage("-D needs key=value".into()))?)?,
            _ if arg.starts_with("--config=") => file = Some(arg["--config=".len()..].into()),
            _ if arg.starts_with("-D") && arg.len() > 2 => overrides.set_from_arg(&arg[2..])?,
            _ => {
                rest.push(arg);
                rest.extend(args.by_ref());
            }
        }
    }
    let mut config = Configuration::default();
    let config_file = match file {
        Some(path) => {
            let text = std::fs::read_to_string(&path).map_err(|e| Error::io("reading the configuration file", &path, e))?;
            merge_yaml(&mut config, &text, &path.display().to_string())?;
            Some(path)
        }
        None => match std::fs::read_to_string(DEFAULT_CONFIG_FILE) {
            Ok(text) => {
                merge_yaml(&mut config, &text, DEFAULT_CONFIG_FILE)?;
                Some(PathBuf::from(DEFAULT_CONFIG_FILE))
            }
            Err(_) => None,
        },
    };
    if let Some(text) = properties {
        merge_yaml(&mut config, text, PROPERTIES_ENV)?;
    }
    for (k, v) in overrides.entries() {
        config.set(k, v);
    }
    config.validate_with(CLUSTER_KEYS)?;
    Ok(ProcessArgs { config, config_file, rest })
}

/// What a cluster process (`strom-jobmanager`, `strom-taskmanager`) does first: logs to
/// stderr (filtered by `RUST_LOG`, default `info`), then [`load`]s its configuration from its
/// command line and [`PROPERTIES_ENV`]. `--help` prints `usage` and exits with 0; an invalid
/// configuration or an argument other than those `accepts` prints the error and `usage` and
/// exits with 2.
pub fn start_process(usage: &str, accepts: impl Fn(&[String]) -> bool) -> ProcessArgs {
    crate::job::invocation::init_tracing("info");
    let properties = std::env::var(PROPERTIES_ENV).ok();
    let exit = |message: String| -> ! {
        eprintln!("error: {message}\n{usage}");
        std::process::exit(2)
    };
    let loaded = load(std::env::args().skip(1), properties.as_deref()).unwrap_or_else(|e| exit(e.report()));
    if matches!(loaded.rest.first().map(String::as_str), Some("-h" | "--help")) {
        println!("{usage}");
        std::process::exit(0);
    }
    if !accepts(&loaded.rest) {
        exit(format!("unexpected arguments: {}", loaded.rest.join(" ")));
    }
    loaded
}

/// Adds the keys of a YAML document to `config`.
pub fn merge_yaml(config: &mut Configuration, text: &str, source: &str) -> Result<()> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| Error::Usage(format!("{source} is not valid YAML: {e}")))?;
    for doc in docs {
        match doc {
            Yaml::Hash(_) => flatten(config, "", &doc, source)?,
            Yaml::Null => {}
            _ => return Err(Error::Usage(format!("{source} must be a map of configuration keys to values"))),
        }
    }
    Ok(())
}

fn flatten(config: &mut Configuration, prefix: &str, node: &Yaml, source: &str) -> Result<()> {
    match node {
        Yaml::Hash(map) => {
            for (k, v) in map {
                let key = scalar(k).ok_or_else(|| Error::Usage(format!("{source}: a key under '{prefix}' is not a plain value")))?;
                let full = if prefix.is_empty() { key } else { format!("{prefix}.{key}") };
                flatten(config, &full, v, source)?;
            }
        }
        Yaml::Array(items) => {
            let values: Option<Vec<String>> = items.iter().map(scalar).collect();
            let values = values.ok_or_else(|| Error::config(prefix, format!("{source}: a list must hold plain values")))?;
            config.set(prefix, values.join(";"));
        }
        Yaml::Null => {}
        other => config.set(prefix, scalar(other).ok_or_else(|| Error::config(prefix, format!("{source}: not a plain value")))?),
    }
    Ok(())
}

fn scalar(node: &Yaml) -> Option<String> {
    match node {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `path` made absolute against the current directory (paths in the configuration are handed
/// to processes with other working directories).
pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_nesting_lists_env_and_overrides_merge_in_order() {
        let mut config = Configuration::default();
        merge_yaml(&mut config, "state:\n  checkpoints:\n    dir: /a\nio.tmp.dirs: [/x, /y]\nweb.submit.enable: false\n", "test").unwrap();
        assert_eq!(config.get("state.checkpoints.dir"), Some("/a"));
        assert_eq!(config.get("io.tmp.dirs"), Some("/x;/y"));
        assert_eq!(config.get("web.submit.enable"), Some("false"));
        let loaded = load(["-Dstate.checkpoints.dir=/c".to_string()], Some("state.checkpoints.dir: /b\nrest.port: 0")).unwrap();
        assert_eq!(loaded.config.get("state.checkpoints.dir"), Some("/c"));
        assert_eq!(loaded.config.get("rest.port"), Some("0"));
        assert!(merge_yaml(&mut config, "- a\n- b", "test").unwrap_err().to_string().contains("map"));
        assert!(merge_yaml(&mut config, "a: [b", "test").unwrap_err().to_string().contains("not valid YAML"));
        let missing = load(["--config".to_string(), "/nonexistent/config.yaml".into()], None).unwrap_err();
        assert!(missing.to_string().contains("/nonexistent/config.yaml"), "{missing}");
        let slots = load(["-D".to_string(), "taskmanager.numberOfTaskSlots=0".into()], None).unwrap_err();
        assert!(slots.to_string().contains("taskmanager.numberOfTaskSlots"), "{slots}");
    }
}
