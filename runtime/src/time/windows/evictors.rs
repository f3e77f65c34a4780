//! Evictors: remove elements from a window before or after its function runs.

use super::TimeWindow;
use crate::data::{Record, MIN_TIMESTAMP};

/// Removes elements from a window's contents (Flink's `Evictor`).
pub trait Evictor<T>: Send + Sync + 'static {
    /// Before the window function runs.
    fn evict_before(&self, _elements: &mut Vec<Record<T>>, _window: TimeWindow) {}
    /// After the window function ran.
    fn evict_after(&self, _elements: &mut Vec<Record<T>>, _window: TimeWindow) {}
}

/// No eviction.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEvictor;

impl<T> Evictor<T> for NoEvictor {}

/// Keeps elements newer than `newest - window_size` (Flink's `TimeEvictor`).
///
/// ```
/// use strom_runtime::{Record, time::windows::{Evictor, TimeEvictor, TimeWindow}};
/// let mut elements: Vec<Record<u8>> = [1, 5, 9, 10].iter().map(|&t| Record::new(t, 0)).collect();
/// TimeEvictor::of_ms(5).evict_before(&mut elements, TimeWindow::GLOBAL);
/// assert_eq!(elements.iter().map(|r| r.ts).collect::<Vec<_>>(), vec![9, 10]);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct TimeEvictor {
    window_size: i64,
    after: bool,
}

impl TimeEvictor {
    /// Evicts before the function, keeping `window_size` ms.
    pub fn of_ms(window_size: i64) -> Self {
        Self { window_size, after: false }
    }
    /// Evicts after the function instead.
    pub fn of_ms_after(window_size: i64) -> Self {
        Self { window_size, after: true }
    }

    fn evict<T>(&self, elements: &mut Vec<Record<T>>) {
        if elements.first().is_none_or(|r| r.ts == MIN_TIMESTAMP) {
            return;
        }
        let newest = elements.iter().map(|r| r.ts).max().unwrap_or(MIN_TIMESTAMP);
        // Flink removes `timestamp <= max - window_size`.
        let cutoff = newest - self.window_size;
        elements.retain(|r| r.ts > cutoff);
    }
}

impl<T> Evictor<T> for TimeEvictor {
    fn evict_before(&self, elements: &mut Vec<Record<T>>, _: TimeWindow) {
        if !self.after {
            self.evict(elements);
        }
    }
    fn evict_after(&self, elements: &mut Vec<Record<T>>, _: TimeWindow) {
        if self.after {
            self.evict(elements);
        }
    }
}

/// Keeps at most `max_count` elements, dropping the oldest (Flink's `CountEvictor`).
#[derive(Debug, Clone, Copy)]
pub struct CountEvictor {
    max_count: usize,
    after: bool,
}

impl CountEvictor {
    /// Evicts before the function.
    pub fn of(max_count: usize) -> Self {
        Self { max_count, after: false }
    }
    /// Evicts after the function.
    pub fn of_after(max_count: usize) -> Self {
        Self { max_count, after: true }
    }
    fn evict<T>(&self, elements: &mut Vec<Record<T>>) {
        if elements.len() > self.max_count {
            elements.drain(..elements.len() - self.max_count);
        }
    }
}

impl<T> Evictor<T> for CountEvictor {
    fn evict_before(&self, elements: &mut Vec<Record<T>>, _: TimeWindow) {
        if !self.after {
            self.evict(elements);
        }
    }
    fn evict_after(&self, elements: &mut Vec<Record<T>>, _: TimeWindow) {
        if self.after {
            self.evict(elements);
        }
    }
}
