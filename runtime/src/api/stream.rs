//! `DataStream`: a stream of records and the operators that can be applied to it.

use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use super::{ConnectedStreams, JoinedStreams, KeyedStream, StreamEnv};
use crate::data::{Data, Key};
use crate::exchange::PartitionSpec;
use crate::job::graph::{unbox_link, AnyBox, NodeKind, NodeSetup, SidePort, StreamEdge, StreamNode, TypeOps};
use crate::operators::{Collector, Filter, FlatMap, Map, Operator, OutputTag, Sink, TaskInfo};
use crate::state::stable_hash;
use crate::task::{AnyLink, BoxLink, OperatorLink, Outputs, SinkLink};
use crate::time::{WatermarkAssigner, WatermarkStrategy};

/// A stream of records of type `T` (Flink's `DataStream`).
///
/// Methods that configure the operator that produced the stream (`name`, `uid`,
/// `parallelism`, ...) return the stream itself.
pub struct DataStream<T> {
    pub(crate) env: StreamEnv,
    pub(crate) node: usize,
    pub(crate) port: Option<Arc<str>>,
    pub(crate) partition: PartitionSpec,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for DataStream<T> {
    fn clone(&self) -> Self {
        Self { env: self.env.clone(), node: self.node, port: self.port.clone(), partition: self.partition.clone(), _t: PhantomData }
    }
}

impl<T> std::fmt::Debug for DataStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataStream").field("node", &self.node).field("partition", &self.partition).finish()
    }
}

/// A factory for a one-input operator, per subtask.
pub(crate) type OperatorFactory<Op> = Arc<dyn Fn(&TaskInfo) -> Op + Send + Sync>;

impl<T: Data> DataStream<T> {
    pub(crate) fn new(env: StreamEnv, node: usize) -> Self {
        Self { env, node, port: None, partition: PartitionSpec::Default, _t: PhantomData }
    }

    pub(crate) fn edge(&self, input: u8) -> StreamEdge {
        StreamEdge { from: self.node, port: self.port.clone(), partition: self.partition.clone(), input }
    }

    fn with_node(self, f: impl FnOnce(&mut StreamNode)) -> Self {
        f(&mut self.env.inner.borrow_mut().nodes[self.node]);
        self
    }

    /// Names the operator that produced this stream.
    pub fn name(self, name: &str) -> Self {
        self.with_node(|n| {
            n.name = match n.kind {
                NodeKind::Source(_) => format!("Source: {name}"),
                _ => name.to_string(),
            }
        })
    }

    /// Gives the operator a stable id, used to map state across job versions.
    pub fn uid(self, uid: &str) -> Self {
        self.with_node(|n| n.uid = Some(uid.to_string()))
    }

    /// Sets the operator's parallelism.
    pub fn parallelism(self, parallelism: u32) -> Self {
        self.with_node(|n| n.parallelism = Some(parallelism))
    }

    /// Sets the operator's max parallelism (number of key groups).
    pub fn max_parallelism(self, max_parallelism: u32) -> Self {
        self.with_node(|n| n.max_parallelism = Some(max_parallelism))
    }

    /// Starts a new chain at this operator (Flink's `disableChaining`).
    pub fn disable_chaining(self) -> Self {
        self.with_node(|n| n.chainable = false)
    }

    /// Adds a one-input node built by `link` per subtask.
    pub(crate) fn add_link<O: Data>(
        &self,
        name: &str,
        kind_name: &'static str,
        side_outputs: Vec<SidePort>,
        link: impl Fn(&NodeSetup<'_>, BoxLink<O>, Vec<Box<dyn AnyLink>>) -> BoxLink<T> + Send + Sync + 'static,
    ) -> DataStream<O> {
        let factory = Arc::new(move |setup: &NodeSetup<'_>, next: AnyBox, sides: Vec<Box<dyn AnyLink>>| {
            Box::new(link(setup, unbox_link::<O>(next), sides)) as AnyBox
        });
        let node = StreamNode {
            name: name.to_string(),
            kind_name,
            uid: None,
            parallelism: None,
            max_parallelism: None,
            chainable: true,
            kind: NodeKind::OneInput(factory),
            inputs: vec![self.edge(0)],
            out: TypeOps::of::<O>(),
            side_outputs,
            side_outputs_allowed: false,
        };
        DataStream::new(self.env.clone(), self.env.push_node(node))
    }

    /// Adds an operator built by `make` per subtask, with the given side outputs (more can be
    /// declared later with `get_side_output`).
    pub(crate) fn add_operator<Op>(
        &self,
        name: &str,
        kind_name: &'static str,
        sides: Vec<SidePort>,
        make: OperatorFactory<Op>,
    ) -> DataStream<Op::Out>
    where
        Op: Operator<In = T>,
    {
        let stream = self.add_link(name, kind_name, sides, move |setup, main, side_links| {
            Box::new(OperatorLink::new(setup.uid.clone(), make(setup.info), Outputs { main, sides: side_links }, setup.collector()))
        });
        stream.env.inner.borrow_mut().nodes[stream.node].side_outputs_allowed = true;
        stream
    }

    /// Applies a custom operator, built per subtask by `make` (Flink's `transform`).
    ///
    /// ```
    /// use strom_runtime::prelude::*;
    /// struct Doubler;
    /// impl Operator for Doubler {
    ///     type In = u32;
    ///     type Out = u32;
    ///     fn process(&mut self, r: Record<u32>, out: &mut Collector<u32>, _: &mut OperatorContext<'_>) -> Result<()> {
    ///         out.collect_at(r.ts, r.value * 2);
    ///         Ok(())
    ///     }
    /// }
    /// let env = StreamEnv::new();
    /// let out = CollectSink::new();
    /// env.from_collection(vec![1, 2]).transform("double", |_: &TaskInfo| Doubler).sink(out.clone());
    /// env.execute("transform").unwrap();
    /// assert_eq!(out.sorted(), vec![2, 4]);
    /// ```
    pub fn transform<Op: Operator<In = T>>(
        &self,
        name: &str,
        make: impl Fn(&TaskInfo) -> Op + Send + Sync + 'static,
    ) -> DataStream<Op::Out> {
        self.add_operator(name, "Transform", vec![], Arc::new(make))
    }

    /// Applies `f` to every record (Flink's `map`).
    pub fn map<U: Data, F: FnMut(T) -> U + Clone + Send + 'static>(&self, f: F) -> DataStream<U> {
        let f = Mutex::new(f);
        self.add_operator("Map", "Map", vec![], Arc::new(move |_| Map::new(f.lock().expect("function lock").clone())))
    }

    /// Keeps the records `f` accepts.
    pub fn filter<F: FnMut(&T) -> bool + Clone + Send + 'static>(&self, f: F) -> DataStream<T> {
        let f = Mutex::new(f);
        self.add_operator("Filter", "Filter", vec![], Arc::new(move |_| Filter::new(f.lock().expect("function lock").clone())))
    }

    /// Emits zero or more records per record through the collector.
    pub fn flat_map<U: Data, F: FnMut(T, &mut Collector<U>) + Clone + Send + 'static>(&self, f: F) -> DataStream<U> {
        let f = Mutex::new(f);
        self.add_operator("FlatMap", "FlatMap", vec![], Arc::new(move |_| FlatMap::new(f.lock().expect("function lock").clone())))
    }

    /// Partitions the stream by key into key groups (Flink's `keyBy`).
    pub fn key_by<K: Key, F: Fn(&T) -> K + Send + Sync + 'static>(&self, key_of: F) -> KeyedStream<T, K> {
        let key_of: Arc<dyn Fn(&T) -> K + Send + Sync> = Arc::new(key_of);
        let k = key_of.clone();
        let hash: Arc<dyn Fn(&T) -> u64 + Send + Sync> = Arc::new(move |v| stable_hash(&k(v)));
        let mut stream = self.clone();
        stream.partition = PartitionSpec::Hash(Arc::new(hash));
        KeyedStream { stream, key_of }
    }

    /// Distributes records round-robin over the next operator's subtasks.
    pub fn rebalance(&self) -> DataStream<T> {
        self.repartition(PartitionSpec::Rebalance)
    }

    /// Sends every record to every subtask of the next operator.
    pub fn broadcast(&self) -> DataStream<T> {
        self.repartition(PartitionSpec::Broadcast)
    }

    /// Sends records to the subtask with the same index (parallelisms must match).
    pub fn forward(&self) -> DataStream<T> {
        self.repartition(PartitionSpec::Forward)
    }

    fn repartition(&self, partition: PartitionSpec) -> DataStream<T> {
        let mut s = self.clone();
        s.partition = partition;
        s
    }

    /// Merges streams of the same type.
    pub fn union(&self, others: &[DataStream<T>]) -> DataStream<T> {
        let inputs = std::iter::once(self).chain(others).map(|s| s.edge(0)).collect();
        self.add_link::<T>("Union", "Union", vec![], |_, next, _| next).with_inputs(inputs)
    }

    fn with_inputs(self, inputs: Vec<StreamEdge>) -> Self {
        self.with_node(|n| n.inputs = inputs)
    }

    /// Connects with a stream of another type, for two-input operators.
    pub fn connect<U: Data>(&self, other: &DataStream<U>) -> ConnectedStreams<T, U> {
        ConnectedStreams { first: self.clone(), second: other.clone() }
    }

    /// Starts a window join with `other` (Flink's `join(...).where(...).equalTo(...).window(...)`).
    pub fn join<U: Data>(&self, other: &DataStream<U>) -> JoinedStreams<T, U> {
        JoinedStreams { first: self.clone(), second: other.clone() }
    }

    /// Assigns event timestamps and generates watermarks.
    pub fn assign_timestamps_and_watermarks(&self, strategy: WatermarkStrategy<T>) -> DataStream<T> {
        self.add_link("Timestamps/Watermarks", "Watermarks", vec![], move |setup, next, _| {
            Box::new(WatermarkAssigner::new(setup.uid.clone(), strategy.clone(), next))
        })
    }

    /// The stream of records the operator that produced this stream sent to side output
    /// `tag` (`out.side(&tag, value)` in its function; Flink's `getSideOutput`).
    ///
    /// ```
    /// use strom_runtime::prelude::*;
    /// let odd = OutputTag::<u32>::new("odd");
    /// let env = StreamEnv::new();
    /// let (evens, odds) = (CollectSink::new(), CollectSink::new());
    /// let tag = odd.clone();
    /// let main = env.from_collection(vec![1, 2, 3, 4]).flat_map(move |x: u32, out: &mut Collector<u32>| {
    ///     if x % 2 == 0 { out.collect(x) } else { out.side(&tag, x) }
    /// });
    /// main.get_side_output(&odd).sink(odds.clone());
    /// main.sink(evens.clone());
    /// env.execute("split").unwrap();
    /// assert_eq!((evens.sorted(), odds.sorted()), (vec![2, 4], vec![1, 3]));
    /// ```
    pub fn get_side_output<S: Data>(&self, tag: &OutputTag<S>) -> DataStream<S> {
        let mut inner = self.env.inner.borrow_mut();
        let node = &mut inner.nodes[self.node];
        let existing = node.side_outputs.iter().find(|p| p.tag == tag.name).map(|p| p.type_id);
        match existing {
            None if !node.side_outputs_allowed => {
                let message = format!(
                    "'{}' cannot have side outputs (asked for '{}'): only operators such as process functions and windows can",
                    node.name,
                    tag.name()
                );
                drop(inner);
                self.env.record_error(message);
            }
            None => node.side_outputs.push(tag.port()),
            Some(t) if t != std::any::TypeId::of::<S>() => {
                let message = format!("side output '{}' of '{}' is used with two record types", tag.name(), node.name);
                drop(inner);
                self.env.record_error(message);
            }
            Some(_) => {}
        }
        DataStream {
            env: self.env.clone(),
            node: self.node,
            port: Some(tag.name.clone()),
            partition: PartitionSpec::Default,
            _t: PhantomData,
        }
    }

    /// Writes the stream to `sink`; every subtask gets a clone.
    pub fn sink<S: Sink<In = T> + Clone + Send>(&self, sink: S) -> DataStreamSink {
        let proto = Mutex::new(sink);
        let factory = Arc::new(move |setup: &NodeSetup<'_>| {
            let sink = proto.lock().expect("sink prototype lock").clone();
            Box::new(Box::new(SinkLink { uid: setup.uid.clone(), sink }) as BoxLink<T>) as AnyBox
        });
        let node = StreamNode {
            name: "Sink".to_string(),
            kind_name: "Sink",
            uid: None,
            parallelism: None,
            max_parallelism: None,
            chainable: true,
            kind: NodeKind::Sink(factory),
            inputs: vec![self.edge(0)],
            out: TypeOps::of::<()>(),
            side_outputs: Vec::new(),
            side_outputs_allowed: false,
        };
        DataStreamSink { stream: DataStream::<()>::new(self.env.clone(), self.env.push_node(node)) }
    }
}

/// The end of a stream: configures the sink operator.
#[derive(Debug)]
pub struct DataStreamSink {
    stream: DataStream<()>,
}

impl DataStreamSink {
    /// Names the sink.
    pub fn name(self, name: &str) -> Self {
        Self { stream: self.stream.name(&format!("Sink: {name}")) }
    }
    /// Gives the sink a stable id.
    pub fn uid(self, uid: &str) -> Self {
        Self { stream: self.stream.uid(uid) }
    }
    /// Sets the sink's parallelism.
    pub fn parallelism(self, parallelism: u32) -> Self {
        Self { stream: self.stream.parallelism(parallelism) }
    }
    /// Starts a new chain at the sink.
    pub fn disable_chaining(self) -> Self {
        Self { stream: self.stream.disable_chaining() }
    }
}
