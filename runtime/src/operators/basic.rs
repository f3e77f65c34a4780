//! Stateless one-input operators: map, filter, flat_map. They work a batch at a time.

use std::marker::PhantomData;

use super::{Collector, Operator, OperatorContext};
use crate::data::{Data, Record};
use crate::error::Result;

/// Applies a function to every record, keeping its timestamp.
pub(crate) struct Map<I, O, F> {
    f: F,
    _t: PhantomData<fn(I) -> O>,
}

impl<I, O, F> Map<I, O, F> {
    pub(crate) fn new(f: F) -> Self {
        Self { f, _t: PhantomData }
    }
}

impl<I: Data, O: Data, F: FnMut(I) -> O + 'static> Operator for Map<I, O, F> {
    type In = I;
    type Out = O;

    fn process(&mut self, r: Record<I>, out: &mut Collector<O>, _: &mut OperatorContext<'_>) -> Result<()> {
        out.buf.push(Record { ts: r.ts, value: (self.f)(r.value) });
        Ok(())
    }

    fn process_batch(&mut self, batch: &mut Vec<Record<I>>, out: &mut Collector<O>, _: &mut OperatorContext<'_>) -> Result<()> {
        let f = &mut self.f;
        out.buf.extend(batch.drain(..).map(|r| Record { ts: r.ts, value: f(r.value) }));
        Ok(())
    }
}

/// Keeps the records a predicate accepts.
pub(crate) struct Filter<T, F> {
    f: F,
    _t: PhantomData<fn(T)>,
}

impl<T, F> Filter<T, F> {
    pub(crate) fn new(f: F) -> Self {
        Self { f, _t: PhantomData }
    }
}

impl<T: Data, F: FnMut(&T) -> bool + 'static> Operator for Filter<T, F> {
    type In = T;
    type Out = T;

    fn process(&mut self, r: Record<T>, out: &mut Collector<T>, _: &mut OperatorContext<'_>) -> Result<()> {
        if (self.f)(&r.value) {
            out.buf.push(r);
        }
        Ok(())
    }

    fn process_batch(&mut self, batch: &mut Vec<Record<T>>, out: &mut Collector<T>, _: &mut OperatorContext<'_>) -> Result<()> {
        let f = &mut self.f;
        out.buf.extend(batch.drain(..).filter(|r| f(&r.value)));
        Ok(())
    }
}

/// Emits zero or more records per input record through a collector.
pub(crate) struct FlatMap<I, O, F> {
    f: F,
    _t: PhantomData<fn(I) -> O>,
}

impl<I, O, F> FlatMap<I, O, F> {
    pub(crate) fn new(f: F) -> Self {
        Self { f, _t: PhantomData }
    }
}

impl<I: Data, O: Data, F: FnMut(I, &mut Collector<O>) + 'static> Operator for FlatMap<I, O, F> {
    type In = I;
    type Out = O;

    fn process(&mut self, r: Record<I>, out: &mut Collector<O>, _: &mut OperatorContext<'_>) -> Result<()> {
        out.ts = r.ts;
        (self.f)(r.value, out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operators::testing::OneInputHarness;

    #[test]
    fn map_filter_flat_map_keep_timestamps() {
        let mut h = OneInputHarness::new(Map::new(|x: i32| x * 10));
        h.process_all([(1, 1), (2, 2)]);
        assert_eq!(h.take_output(), vec![(1, 10), (2, 20)]);

        let mut h = OneInputHarness::new(Filter::new(|x: &i32| x % 2 == 0));
        h.process_all([(1, 1), (2, 2), (3, 4)]);
        assert_eq!(h.take_output(), vec![(2, 2), (3, 4)]);

        let mut h = OneInputHarness::new(FlatMap::new(|s: String, out: &mut Collector<String>| {
            s.split(' ').for_each(|w| out.collect(w.to_string()))
        }));
        h.process_all([(7, "a b".to_string())]);
        assert_eq!(h.take_output(), vec![(7, "a".to_string()), (7, "b".to_string())]);
    }
}
