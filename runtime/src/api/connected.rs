//! Two-input streams: connect, keyed connect, interval join and window join.

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::{DataStream, KeyedStream};
use crate::data::{Data, Key};
use crate::job::graph::{unbox_link, AnyBox, NodeKind, NodeSetup, StreamNode, TypeOps};
use crate::operators::{
    CoProcessFunction, CoProcessOperator, Collector, FnResult, IntervalJoinOperator, KeyedCoProcessFunction, KeyedCoProcessOperator,
    TaskInfo, TwoInputOperator,
};
use crate::task::{AnyLink, Outputs, TaskInput, TwoInputHead};
use crate::time::windows::{TimeWindow, WindowAssigner};

/// Adds a two-input node fed by `first` (input 0) and `second` (input 1).
fn add_two_input<A: Data, B: Data, Op>(
    first: &DataStream<A>,
    second: &DataStream<B>,
    name: &str,
    make: Arc<dyn Fn(&TaskInfo) -> Op + Send + Sync>,
) -> DataStream<Op::Out>
where
    Op: TwoInputOperator<In1 = A, In2 = B>,
{
    let factory = Arc::new(move |setup: &NodeSetup<'_>, next: AnyBox, sides: Vec<Box<dyn AnyLink>>| {
        let outputs = Outputs { main: unbox_link::<Op::Out>(next), sides };
        Box::new(TwoInputHead::new(setup.uid.clone(), make(setup.info), outputs, setup.collector())) as Box<dyn TaskInput>
    });
    let node = StreamNode {
        name: name.to_string(),
        kind_name: "TwoInput",
        uid: None,
        parallelism: None,
        max_parallelism: None,
        chainable: true,
        kind: NodeKind::TwoInput(factory),
        inputs: vec![first.edge(0), second.edge(1)],
        out: TypeOps::of::<Op::Out>(),
        side_outputs: Vec::new(),
        side_outputs_allowed: true,
    };
    DataStream::new(first.env.clone(), first.env.push_node(node))
}

/// Two streams of possibly different types processed by one operator (Flink's `ConnectedStreams`).
#[derive(Debug, Clone)]
pub struct ConnectedStreams<A, B> {
    pub(crate) first: DataStream<A>,
    pub(crate) second: DataStream<B>,
}

#[derive(Clone)]
struct CoMap<F1, F2>(F1, F2);

impl<A: Data, B: Data, O: Data, F1, F2> CoProcessFunction<A, B, O> for CoMap<F1, F2>
where
    F1: FnMut(A) -> O + Clone + Send + 'static,
    F2: FnMut(B) -> O + Clone + Send + 'static,
{
    fn process_element1(&mut self, v: A, out: &mut Collector<O>) -> FnResult {
        out.collect((self.0)(v));
        Ok(())
    }
    fn process_element2(&mut self, v: B, out: &mut Collector<O>) -> FnResult {
        out.collect((self.1)(v));
        Ok(())
    }
}

impl<A: Data, B: Data> ConnectedStreams<A, B> {
    /// Processes both streams with a [`CoProcessFunction`].
    pub fn process<O: Data, F: CoProcessFunction<A, B, O>>(&self, f: F) -> DataStream<O> {
        let f = Mutex::new(f);
        add_two_input(
            &self.first,
            &self.second,
            "CoProcess",
            Arc::new(move |_| CoProcessOperator::new(f.lock().expect("function lock").clone())),
        )
    }

    /// Maps each stream with its own function into one output type (Flink's `CoMap`).
    pub fn map<O: Data, F1, F2>(&self, f1: F1, f2: F2) -> DataStream<O>
    where
        F1: FnMut(A) -> O + Clone + Send + 'static,
        F2: FnMut(B) -> O + Clone + Send + 'static,
    {
        self.process(CoMap(f1, f2)).name("CoMap")
    }
}

/// Two keyed streams sharing keyed state (Flink's keyed `ConnectedStreams`).
#[derive(Debug, Clone)]
pub struct KeyedConnectedStreams<A, B, K> {
    pub(crate) first: KeyedStream<A, K>,
    pub(crate) second: KeyedStream<B, K>,
}

impl<A: Data, B: Data, K: Key> KeyedConnectedStreams<A, B, K> {
    /// Processes both streams with a [`KeyedCoProcessFunction`].
    pub fn process<O: Data, F: KeyedCoProcessFunction<K, A, B, O>>(&self, f: F) -> DataStream<O> {
        let (f, k1, k2) = (Mutex::new(f), self.first.key_of.clone(), self.second.key_of.clone());
        add_two_input(
            &self.first.stream,
            &self.second.stream,
            "KeyedCoProcess",
            Arc::new(move |_| KeyedCoProcessOperator::new(k1.clone(), k2.clone(), f.lock().expect("function lock").clone())),
        )
    }
}

/// An interval join being configured (Flink's `KeyedStream.IntervalJoin`).
#[derive(Debug, Clone)]
pub struct IntervalJoin<A, B, K> {
    pub(crate) first: KeyedStream<A, K>,
    pub(crate) second: KeyedStream<B, K>,
    pub(crate) lower: i64,
    pub(crate) upper: i64,
    pub(crate) lower_exclusive: bool,
    pub(crate) upper_exclusive: bool,
}

impl<A: Data, B: Data, K: Key> IntervalJoin<A, B, K> {
    /// Joins `b` with `a` when `a.ts + lower <= b.ts <= a.ts + upper` (bounds may be negative).
    pub fn between(mut self, lower: i64, upper: i64) -> Self {
        self.lower = lower;
        self.upper = upper;
        self
    }

    /// Makes the lower bound exclusive.
    pub fn lower_bound_exclusive(mut self) -> Self {
        self.lower_exclusive = true;
        self
    }

    /// Makes the upper bound exclusive.
    pub fn upper_bound_exclusive(mut self) -> Self {
        self.upper_exclusive = true;
        self
    }

    /// Emits `f(a, b)`'s output for every joined pair, timestamped with the larger timestamp.
    pub fn process<O: Data, F: FnMut(&A, &B, &mut Collector<O>) + Clone + Send + 'static>(&self, f: F) -> DataStream<O> {
        let lower = self.lower + i64::from(self.lower_exclusive);
        let upper = self.upper - i64::from(self.upper_exclusive);
        if lower > upper {
            self.first.stream.env.record_error(format!("interval join: lower bound {lower} is above upper bound {upper}"));
        }
        let (f, k1, k2) = (Mutex::new(f), self.first.key_of.clone(), self.second.key_of.clone());
        add_two_input(
            &self.first.stream,
            &self.second.stream,
            "IntervalJoin",
            Arc::new(move |_| IntervalJoinOperator::new(k1.clone(), k2.clone(), lower, upper, f.lock().expect("function lock").clone())),
        )
    }
}

/// An element of either input of a window join (Flink's `TaggedUnion`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaggedUnion<A, B> {
    /// From the first stream.
    One(A),
    /// From the second stream.
    Two(B),
}

/// A window join being configured: `join(other).where_key(..).equal_to(..).window(..).apply(..)`.
#[derive(Debug, Clone)]
pub struct JoinedStreams<A, B> {
    pub(crate) first: DataStream<A>,
    pub(crate) second: DataStream<B>,
}

/// A window join with the first stream's key.
pub struct JoinWhere<A, B, K> {
    first: DataStream<A>,
    second: DataStream<B>,
    key_a: Arc<dyn Fn(&A) -> K + Send + Sync>,
}

/// A window join with both keys.
pub struct JoinEqual<A, B, K> {
    first: DataStream<A>,
    second: DataStream<B>,
    key_a: Arc<dyn Fn(&A) -> K + Send + Sync>,
    key_b: Arc<dyn Fn(&B) -> K + Send + Sync>,
}

/// A window join with its keys and window, ready for `apply`.
pub struct JoinWindow<A, B, K> {
    keys: JoinEqual<A, B, K>,
    assigner: WindowAssigner,
}

macro_rules! opaque_debug {
    ($($t:ident),*) => {$(
        impl<A, B, K> std::fmt::Debug for $t<A, B, K> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(stringify!($t))
            }
        }
    )*};
}
opaque_debug!(JoinWhere, JoinEqual, JoinWindow);

impl<A: Data, B: Data> JoinedStreams<A, B> {
    /// The key of the first stream's elements.
    pub fn where_key<K: Key>(&self, key_a: impl Fn(&A) -> K + Send + Sync + 'static) -> JoinWhere<A, B, K> {
        JoinWhere { first: self.first.clone(), second: self.second.clone(), key_a: Arc::new(key_a) }
    }
}

impl<A: Data, B: Data, K: Key> JoinWhere<A, B, K> {
    /// The key of the second stream's elements.
    pub fn equal_to(self, key_b: impl Fn(&B) -> K + Send + Sync + 'static) -> JoinEqual<A, B, K> {
        JoinEqual { first: self.first, second: self.second, key_a: self.key_a, key_b: Arc::new(key_b) }
    }
}

impl<A: Data, B: Data, K: Key> JoinEqual<A, B, K> {
    /// The windows in which elements are joined.
    pub fn window(self, assigner: WindowAssigner) -> JoinWindow<A, B, K> {
        JoinWindow { keys: self, assigner }
    }
}

impl<A: Data, B: Data, K: Key> JoinWindow<A, B, K> {
    /// Emits `f(a, b)` for every pair of elements with equal keys in the same window,
    /// timestamped with the window's max timestamp (Flink's `JoinedStreams.apply`).
    pub fn apply<O: Data, F: FnMut(&A, &B) -> O + Clone + Send + 'static>(self, mut f: F) -> DataStream<O> {
        let JoinEqual { first, second, key_a, key_b } = self.keys;
        let ones = first.map(TaggedUnion::<A, B>::One);
        let twos = second.map(TaggedUnion::<A, B>::Two);
        ones.union(&[twos])
            .key_by(move |t: &TaggedUnion<A, B>| match t {
                TaggedUnion::One(a) => key_a(a),
                TaggedUnion::Two(b) => key_b(b),
            })
            .window(self.assigner)
            .process(move |_: &K, _: TimeWindow, elements: Vec<TaggedUnion<A, B>>, out: &mut Collector<O>| {
                let firsts = elements.iter().filter_map(|e| match e {
                    TaggedUnion::One(a) => Some(a),
                    TaggedUnion::Two(_) => None,
                });
                for a in firsts {
                    for e in &elements {
                        if let TaggedUnion::Two(b) = e {
                            out.collect(f(a, b));
                        }
                    }
                }
            })
            .name("Window Join")
    }
}
