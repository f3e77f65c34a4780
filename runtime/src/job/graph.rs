//! The stream graph the API builds, and the job graph of chained vertices the runtime executes.
//!
//! Every API call adds a [`StreamNode`] holding a factory that builds its operator for a given
//! subtask, with its types erased. Chaining groups nodes into [`JobVertex`]es following Flink's
//! rules: a node joins its predecessor's chain when it has exactly that one input, the edge is
//! forward and both have the same parallelism.

use std::any::Any;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::config::Configuration;
use crate::data::Data;
use crate::error::{Error, Result};
use crate::exchange::{ChannelWriter, ExchangeConfig, Outlet, PartitionSpec, Partitioning};
use crate::operators::TaskInfo;
use crate::state::{default_max_parallelism, stable_hash};
use crate::task::{AnyLink, BoxLink, Discard, Erased, Fanout, InputHead, SourceTask, TaskInput};

/// The kind of source operators (sources head their vertex; the coordinator triggers them).
pub(crate) const SOURCE_KIND: &str = "Source";

/// A type-erased `BoxLink<T>` (boxed once more so it can travel as `dyn Any`).
pub(crate) type AnyBox = Box<dyn Any>;

/// What a node's factory gets for one subtask.
pub(crate) struct NodeSetup<'a> {
    pub(crate) info: &'a TaskInfo,
    /// The operator's uid, under which its state is snapshotted and restored.
    pub(crate) uid: Arc<str>,
    /// The node's side outputs, in port order.
    pub(crate) side_ports: &'a [SidePort],
}

impl NodeSetup<'_> {
    /// A collector with a buffer for each of the node's side outputs.
    pub(crate) fn collector<T>(&self) -> crate::operators::Collector<T> {
        let mut out = crate::operators::Collector::new();
        out.sides = self.side_ports.iter().map(|p| (p.buffer)()).collect();
        out
    }
}

/// A side output of a node: its tag, its record type's operations, and a factory for the
/// buffer the operator's collector fills.
#[derive(Clone)]
pub(crate) struct SidePort {
    pub(crate) tag: Arc<str>,
    pub(crate) ops: TypeOps,
    pub(crate) buffer: crate::operators::SideBufferFactory,
    pub(crate) type_id: std::any::TypeId,
}

type SourceFactory = Arc<dyn Fn(&NodeSetup<'_>, AnyBox) -> Box<dyn SourceTask> + Send + Sync>;
type OneInputFactory = Arc<dyn Fn(&NodeSetup<'_>, AnyBox, Vec<Box<dyn AnyLink>>) -> AnyBox + Send + Sync>;
type TwoInputFactory = Arc<dyn Fn(&NodeSetup<'_>, AnyBox, Vec<Box<dyn AnyLink>>) -> Box<dyn TaskInput> + Send + Sync>;
type SinkFactory = Arc<dyn Fn(&NodeSetup<'_>) -> AnyBox + Send + Sync>;

/// How a node is built for a subtask.
#[derive(Clone)]
pub(crate) enum NodeKind {
    /// Builds the source with its downstream link.
    Source(SourceFactory),
    /// Builds a `BoxLink<In>` from the downstream links (main and sides).
    OneInput(OneInputFactory),
    /// Builds the task head from the downstream links.
    TwoInput(TwoInputFactory),
    /// Builds a `BoxLink<In>` that ends the chain.
    Sink(SinkFactory),
}

/// Builds the channel writer of an edge for one record type.
type WriterFn = fn(Partitioning, Option<&Arc<dyn Any + Send + Sync>>, u32, Vec<Outlet>, &ExchangeConfig) -> Result<AnyBox>;

/// Operations on values of one record type, captured where the type is known.
#[derive(Clone, Copy)]
pub(crate) struct TypeOps {
    pub(crate) fanout: fn(Vec<AnyBox>) -> AnyBox,
    pub(crate) discard: fn() -> AnyBox,
    pub(crate) writer: WriterFn,
    pub(crate) input_head: fn(AnyBox) -> Box<dyn TaskInput>,
    pub(crate) erase: fn(AnyBox) -> Box<dyn AnyLink>,
}

pub(crate) fn unbox_link<T: Data>(link: AnyBox) -> BoxLink<T> {
    *link.downcast::<BoxLink<T>>().expect("links are wired between nodes of matching types")
}

impl TypeOps {
    pub(crate) fn of<T: Data>() -> Self {
        Self {
            fanout: |links| {
                let targets = links.into_iter().map(unbox_link::<T>).collect();
                Box::new(Box::new(Fanout { targets }) as BoxLink<T>)
            },
            discard: || Box::new(Box::new(Discard) as BoxLink<T>),
            writer: |partitioning, hash, max_p, channels, config| {
                let writer = ChannelWriter::<T>::new(partitioning, hash, max_p, channels, config)?;
                Ok(Box::new(Box::new(writer) as BoxLink<T>))
            },
            input_head: |link| Box::new(InputHead(unbox_link::<T>(link))),
            erase: |link| Box::new(Erased(unbox_link::<T>(link))),
        }
    }
}

/// An input of a node.
#[derive(Clone, Debug)]
pub(crate) struct StreamEdge {
    pub(crate) from: usize,
    /// `None` for the main output, else the side output's tag.
    pub(crate) port: Option<Arc<str>>,
    pub(crate) partition: PartitionSpec,
    /// Which input of a two-input node (0 or 1).
    pub(crate) input: u8,
}

/// One operator of the stream graph.
#[derive(Clone)]
pub(crate) struct StreamNode {
    pub(crate) name: String,
    pub(crate) kind_name: &'static str,
    pub(crate) uid: Option<String>,
    pub(crate) parallelism: Option<u32>,
    pub(crate) max_parallelism: Option<u32>,
    pub(crate) chainable: bool,
    pub(crate) kind: NodeKind,
    pub(crate) inputs: Vec<StreamEdge>,
    pub(crate) out: TypeOps,
    pub(crate) side_outputs: Vec<SidePort>,
    /// Whether the node's operator wires side outputs (operators and two-input operators do;
    /// sources, unions, watermark assigners and sinks do not).
    pub(crate) side_outputs_allowed: bool,
}

/// An operator of a job vertex, as the plan shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OperatorInfo {
    /// Stable id: explicit `.uid(...)` or derived from the graph position.
    pub uid: String,
    /// Display name.
    pub name: String,
    /// Operator kind ("Source", "Map", "Window", ...).
    pub kind: String,
    #[serde(skip)]
    pub(crate) node: usize,
}

/// A task: chained operators running together, `parallelism` times.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobVertex {
    /// The head operator's uid.
    pub id: String,
    /// The chained operators' names joined by " -> ".
    pub name: String,
    /// Number of subtasks.
    pub parallelism: u32,
    /// Number of key groups of its keyed state.
    pub max_parallelism: u32,
    /// Chained operators, head first.
    pub operators: Vec<OperatorInfo>,
}

/// A data exchange between two vertices.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobEdge {
    /// Producing vertex id.
    pub source: String,
    /// Consuming vertex id.
    pub target: String,
    /// How records are distributed.
    pub partitioning: String,
    /// Side output the edge reads, if not the main output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub side_output: Option<String>,
    #[serde(skip)]
    pub(crate) from_vertex: usize,
    #[serde(skip)]
    pub(crate) to_vertex: usize,
    #[serde(skip)]
    pub(crate) from_node: usize,
    #[serde(skip)]
    pub(crate) to_node: usize,
    #[serde(skip)]
    pub(crate) resolved: Option<Partitioning>,
    #[serde(skip)]
    pub(crate) input: u8,
}

/// The job as the runtime executes it (Flink's `JobGraph`); `plan` prints it as JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobGraph {
    /// Job name.
    pub job: String,
    /// Vertices in topological order.
    pub vertices: Vec<JobVertex>,
    /// Edges between vertices.
    pub edges: Vec<JobEdge>,
    /// The configuration the job was built with.
    pub config: std::collections::BTreeMap<String, String>,
    #[serde(skip)]
    pub(crate) vertex_of_node: Vec<usize>,
    #[serde(skip)]
    pub(crate) uid_of_node: Vec<String>,
}

/// Configuration keys that differ between the processes of one job by design.
const PROCESS_LOCAL_KEYS: &[&str] = &[crate::config::TMP_DIRS, crate::config::ROCKSDB_LOCAL_DIR];

impl JobGraph {
    /// Identifies the graph's structure: equal for the same job built with the same arguments.
    /// A worker process checks that the graph it built is the one the JobManager planned.
    ///
    /// ```
    /// use strom_runtime::prelude::*;
    /// let env = StreamEnv::new();
    /// env.from_collection(vec![1u32]).sink(CollectSink::new());
    /// let graph = env.job_graph("job").unwrap();
    /// let planned: strom_runtime::JobGraph = serde_json::from_str(&serde_json::to_string(&graph).unwrap()).unwrap();
    /// assert_eq!(planned.fingerprint(), graph.fingerprint());
    ///
    /// let mut elsewhere = graph.clone();
    /// elsewhere.config.insert("io.tmp.dirs".into(), "/tmp/tm-2".into());
    /// assert_eq!(elsewhere.fingerprint(), graph.fingerprint());
    /// elsewhere.config.insert("parallelism.default".into(), "3".into());
    /// assert_ne!(elsewhere.fingerprint(), graph.fingerprint());
    /// ```
    ///
    /// Keys that name where a process keeps its local files (`io.tmp.dirs`, set by each
    /// TaskManager for its workers) are not part of the structure.
    pub fn fingerprint(&self) -> u64 {
        let mut structure = self.clone();
        structure.config.retain(|k, _| !PROCESS_LOCAL_KEYS.contains(&k.as_str()));
        stable_hash(&serde_json::to_string(&structure).unwrap_or_default())
    }

    /// Slots the job needs: subtask `i` of every vertex shares slot `i` (slot sharing).
    pub fn slots_needed(&self) -> u32 {
        self.vertices.iter().map(|v| v.parallelism).max().unwrap_or(0)
    }
}

impl JobEdge {
    pub(crate) fn partitioning(&self) -> Partitioning {
        self.resolved.expect("edges are resolved when the job graph is built")
    }
}

/// Builds the job graph from the stream graph.
pub(crate) fn build_job_graph(job: &str, nodes: &[StreamNode], config: &Configuration) -> Result<JobGraph> {
    let default_p = config.get_positive(crate::config::PARALLELISM_DEFAULT)?.unwrap_or(1);
    let default_max_p = config.get_positive(crate::config::MAX_PARALLELISM)?;
    let parallelism: Vec<u32> = nodes.iter().map(|n| n.parallelism.unwrap_or(default_p)).collect();
    let uids = derive_uids(nodes)?;
    let mut vertex_of_node = vec![usize::MAX; nodes.len()];
    let mut vertices: Vec<JobVertex> = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        let chained_to = chain_predecessor(nodes, i, &parallelism)?;
        let info = OperatorInfo { uid: uids[i].clone(), name: node.name.clone(), kind: node.kind_name.to_string(), node: i };
        match chained_to {
            Some(pred) => {
                let v = vertex_of_node[pred];
                vertex_of_node[i] = v;
                vertices[v].operators.push(info);
            }
            None => {
                vertex_of_node[i] = vertices.len();
                vertices.push(JobVertex {
                    id: uids[i].clone(),
                    name: String::new(),
                    parallelism: parallelism[i],
                    max_parallelism: 0,
                    operators: vec![info],
                });
            }
        }
    }
    for v in &mut vertices {
        v.name = v.operators.iter().map(|o| o.name.as_str()).collect::<Vec<_>>().join(" -> ");
        let explicit = v.operators.iter().filter_map(|o| nodes[o.node].max_parallelism).max();
        v.max_parallelism = explicit.or(default_max_p).unwrap_or_else(|| default_max_parallelism(v.parallelism));
        if v.max_parallelism < v.parallelism {
            return Err(Error::Graph(format!(
                "'{}' has parallelism {} above its max parallelism {}",
                v.name, v.parallelism, v.max_parallelism
            )));
        }
    }
    let edges = job_edges(nodes, &vertex_of_node, &vertices, &parallelism)?;
    let config = config.entries().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Ok(JobGraph { job: job.to_string(), vertices, edges, config, vertex_of_node, uid_of_node: uids })
}

/// The node `i` is chained to, if any.
fn chain_predecessor(nodes: &[StreamNode], i: usize, parallelism: &[u32]) -> Result<Option<usize>> {
    let node = &nodes[i];
    let [edge] = node.inputs.as_slice() else { return Ok(None) };
    if !node.chainable || matches!(node.kind, NodeKind::TwoInput(_) | NodeKind::Source(_)) {
        return Ok(None);
    }
    let same_p = parallelism[edge.from] == parallelism[i];
    Ok(match resolve(&edge.partition, same_p, nodes, edge.from, i)? {
        Partitioning::Forward => Some(edge.from),
        _ => None,
    })
}

fn resolve(spec: &PartitionSpec, same_p: bool, nodes: &[StreamNode], from: usize, to: usize) -> Result<Partitioning> {
    Ok(match spec {
        PartitionSpec::Default if same_p => Partitioning::Forward,
        PartitionSpec::Default | PartitionSpec::Rebalance => Partitioning::Rebalance,
        PartitionSpec::Forward if same_p => Partitioning::Forward,
        PartitionSpec::Forward => {
            return Err(Error::Graph(format!(
                "forward partitioning between '{}' and '{}' needs equal parallelism",
                nodes[from].name, nodes[to].name
            )))
        }
        PartitionSpec::Broadcast => Partitioning::Broadcast,
        PartitionSpec::Hash(_) => Partitioning::Hash,
    })
}

fn job_edges(nodes: &[StreamNode], vertex_of_node: &[usize], vertices: &[JobVertex], parallelism: &[u32]) -> Result<Vec<JobEdge>> {
    let mut edges = Vec::new();
    for (to, node) in nodes.iter().enumerate() {
        for e in &node.inputs {
            let (fv, tv) = (vertex_of_node[e.from], vertex_of_node[to]);
            if fv == tv {
                continue;
            }
            let p = resolve(&e.partition, parallelism[e.from] == parallelism[to], nodes, e.from, to)?;
            edges.push(JobEdge {
                source: vertices[fv].id.clone(),
                target: vertices[tv].id.clone(),
                partitioning: format!("{p:?}").to_uppercase(),
                side_output: e.port.as_deref().map(str::to_string),
                from_vertex: fv,
                to_vertex: tv,
                from_node: e.from,
                to_node: to,
                resolved: Some(p),
                input: e.input,
            });
        }
    }
    Ok(edges)
}

/// Explicit uids, or ones derived from the node's position and its inputs' uids.
fn derive_uids(nodes: &[StreamNode]) -> Result<Vec<String>> {
    let mut uids: Vec<String> = Vec::with_capacity(nodes.len());
    for (i, node) in nodes.iter().enumerate() {
        let uid = match &node.uid {
            Some(uid) => uid.clone(),
            None => {
                let inputs: Vec<&str> = node.inputs.iter().map(|e| uids[e.from].as_str()).collect();
                format!("{:016x}", stable_hash(&(i, node.kind_name, inputs)))
            }
        };
        if uids.contains(&uid) {
            return Err(Error::Graph(format!("uid '{uid}' is used by more than one operator")));
        }
        uids.push(uid);
    }
    Ok(uids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_uids_are_stable_and_explicit_uids_must_be_unique() {
        let node = |uid: Option<&str>, inputs: Vec<usize>| StreamNode {
            name: "n".into(),
            kind_name: "Map",
            uid: uid.map(str::to_string),
            parallelism: None,
            max_parallelism: None,
            chainable: true,
            kind: NodeKind::Sink(Arc::new(|_| Box::new(()))),
            inputs: inputs.into_iter().map(|from| StreamEdge { from, port: None, partition: PartitionSpec::Default, input: 0 }).collect(),
            out: TypeOps::of::<()>(),
            side_outputs: vec![],
            side_outputs_allowed: false,
        };
        let a = derive_uids(&[node(None, vec![]), node(None, vec![0])]).unwrap();
        let b = derive_uids(&[node(None, vec![]), node(None, vec![0])]).unwrap();
        assert_eq!(a, b);
        assert_ne!(a[0], a[1]);
        let err = derive_uids(&[node(Some("x"), vec![]), node(Some("x"), vec![0])]).unwrap_err();
        assert!(err.to_string().contains("uid 'x'"), "{err}");
    }
}
