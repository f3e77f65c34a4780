//! The DataStream API: what job code is written against.
//!
//! A [`StreamEnv`] collects the dataflow; [`DataStream`], [`KeyedStream`], [`WindowedStream`]
//! and [`ConnectedStreams`] add operators to it; [`StreamEnv::execute`] runs it (or prints its
//! plan, depending on how the job binary was started).

mod connected;
pub(crate) mod env;
mod keyed;
mod stream;
mod testing;
mod window;

pub use connected::{ConnectedStreams, IntervalJoin, JoinEqual, JoinWhere, JoinWindow, JoinedStreams, KeyedConnectedStreams, TaggedUnion};
pub use env::{JobArgs, RunMode, StreamEnv};
pub use keyed::KeyedStream;
pub use stream::{DataStream, DataStreamSink};
pub use testing::{CollectSink, CollectionSource};
pub use window::WindowedStream;
