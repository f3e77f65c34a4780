//! Window assigners: which windows an element belongs to.

use std::time::Duration;

use super::{window_start, TimeWindow};
use crate::data::Timestamp;

/// Assigns elements to windows (Flink's `TumblingEventTimeWindows`, `SlidingEventTimeWindows`,
/// `EventTimeSessionWindows`, their processing-time variants and `GlobalWindows`).
///
/// ```
/// use std::time::Duration;
/// use strom_runtime::time::windows::{TimeWindow, WindowAssigner};
/// let mut out = Vec::new();
/// WindowAssigner::sliding_event_time(Duration::from_millis(10), Duration::from_millis(5)).assign(12, 0, &mut out);
/// assert_eq!(out, vec![TimeWindow::new(10, 20), TimeWindow::new(5, 15)]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowAssigner {
    /// Fixed-size, non-overlapping windows.
    Tumbling {
        /// Window size in ms.
        size: i64,
        /// Offset of window starts in ms.
        offset: i64,
        /// Event time (else processing time).
        event_time: bool,
    },
    /// Fixed-size windows starting every `slide`.
    Sliding {
        /// Window size in ms.
        size: i64,
        /// Slide in ms.
        slide: i64,
        /// Offset of window starts in ms.
        offset: i64,
        /// Event time (else processing time).
        event_time: bool,
    },
    /// Windows that close after a gap of inactivity; they merge.
    Session {
        /// Gap in ms.
        gap: i64,
        /// Event time (else processing time).
        event_time: bool,
    },
    /// One window for all elements of a key; needs a custom trigger.
    Global,
}

fn ms(d: Duration) -> i64 {
    d.as_millis() as i64
}

impl WindowAssigner {
    /// `TumblingEventTimeWindows.of(size)`.
    pub fn tumbling_event_time(size: Duration) -> Self {
        Self::Tumbling { size: ms(size), offset: 0, event_time: true }
    }
    /// `TumblingProcessingTimeWindows.of(size)`.
    pub fn tumbling_processing_time(size: Duration) -> Self {
        Self::Tumbling { size: ms(size), offset: 0, event_time: false }
    }
    /// `SlidingEventTimeWindows.of(size, slide)`.
    pub fn sliding_event_time(size: Duration, slide: Duration) -> Self {
        Self::Sliding { size: ms(size), slide: ms(slide), offset: 0, event_time: true }
    }
    /// `SlidingProcessingTimeWindows.of(size, slide)`.
    pub fn sliding_processing_time(size: Duration, slide: Duration) -> Self {
        Self::Sliding { size: ms(size), slide: ms(slide), offset: 0, event_time: false }
    }
    /// `EventTimeSessionWindows.withGap(gap)`.
    pub fn event_time_session(gap: Duration) -> Self {
        Self::Session { gap: ms(gap), event_time: true }
    }
    /// `ProcessingTimeSessionWindows.withGap(gap)`.
    pub fn processing_time_session(gap: Duration) -> Self {
        Self::Session { gap: ms(gap), event_time: false }
    }
    /// `GlobalWindows.create()`.
    pub fn global() -> Self {
        Self::Global
    }

    /// Shifts window starts by `offset` (tumbling and sliding windows).
    pub fn with_offset(self, offset: Duration) -> Self {
        match self {
            Self::Tumbling { size, event_time, .. } => Self::Tumbling { size, offset: ms(offset) % size, event_time },
            Self::Sliding { size, slide, event_time, .. } => Self::Sliding { size, slide, offset: ms(offset) % slide, event_time },
            other => other,
        }
    }

    /// Checks the parameters as Flink's constructors do.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            Self::Tumbling { size, offset, .. } if size <= 0 || offset.abs() >= size => {
                Err(format!("tumbling windows need 0 < size and |offset| < size (size {size}, offset {offset})"))
            }
            Self::Sliding { size, slide, offset, .. } if size <= 0 || slide <= 0 || offset.abs() >= slide => {
                Err(format!("sliding windows need 0 < size, 0 < slide and |offset| < slide (size {size}, slide {slide})"))
            }
            Self::Session { gap, .. } if gap <= 0 => Err(format!("session windows need a positive gap (gap {gap})")),
            _ => Ok(()),
        }
    }

    /// Whether windows are in event time.
    pub fn is_event_time(&self) -> bool {
        match *self {
            Self::Tumbling { event_time, .. } | Self::Sliding { event_time, .. } | Self::Session { event_time, .. } => event_time,
            Self::Global => false,
        }
    }

    /// Whether windows merge (sessions).
    pub fn is_merging(&self) -> bool {
        matches!(self, Self::Session { .. })
    }

    /// The windows of an element with timestamp `ts` at processing time `now`, into `out`
    /// (cleared first).
    pub fn assign(&self, ts: Timestamp, now: Timestamp, out: &mut Vec<TimeWindow>) {
        out.clear();
        let t = if self.is_event_time() { ts } else { now };
        match *self {
            Self::Tumbling { size, offset, .. } => {
                let start = window_start(t, offset, size);
                out.push(TimeWindow::new(start, start + size));
            }
            Self::Sliding { size, slide, offset, .. } => {
                let mut start = window_start(t, offset, slide);
                while start > t - size {
                    out.push(TimeWindow::new(start, start + size));
                    start -= slide;
                }
            }
            Self::Session { gap, .. } => out.push(TimeWindow::new(t, t + gap)),
            Self::Global => out.push(TimeWindow::GLOBAL),
        }
    }
}

/// Merges overlapping windows (Flink's `TimeWindow.mergeWindows`): returns each merged window
/// with the windows it covers, for groups of more than one window.
pub(crate) fn merge_windows(windows: &[TimeWindow]) -> Vec<(TimeWindow, Vec<TimeWindow>)> {
    let mut sorted = windows.to_vec();
    sorted.sort_by_key(|w| w.start);
    let mut merged: Vec<(TimeWindow, Vec<TimeWindow>)> = Vec::new();
    for w in sorted {
        match merged.last_mut() {
            Some((cover, members)) if cover.intersects(&w) => {
                *cover = cover.cover(&w);
                members.push(w);
            }
            _ => merged.push((w, vec![w])),
        }
    }
    merged.retain(|(_, members)| members.len() > 1);
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn windows(a: WindowAssigner, ts: Timestamp) -> Vec<(i64, i64)> {
        let mut out = Vec::new();
        a.assign(ts, 0, &mut out);
        out.into_iter().map(|w| (w.start, w.end)).collect()
    }

    #[test]
    fn tumbling_windows_including_negative_timestamps() {
        let a = WindowAssigner::tumbling_event_time(Duration::from_millis(10));
        assert_eq!(windows(a, 0), vec![(0, 10)]);
        assert_eq!(windows(a, 9), vec![(0, 10)]);
        assert_eq!(windows(a, 10), vec![(10, 20)]);
        assert_eq!(windows(a, -1), vec![(-10, 0)]);
        let shifted = a.with_offset(Duration::from_millis(3));
        assert_eq!(windows(shifted, 2), vec![(-7, 3)]);
    }

    #[test]
    fn sliding_windows_cover_each_element_size_over_slide_times() {
        let a = WindowAssigner::sliding_event_time(Duration::from_millis(10), Duration::from_millis(3));
        assert_eq!(windows(a, 7), vec![(6, 16), (3, 13), (0, 10)]);
        assert_eq!(windows(a, 6), vec![(6, 16), (3, 13), (0, 10), (-3, 7)]);
        assert_eq!(windows(a, 5), vec![(3, 13), (0, 10), (-3, 7)]);
    }

    #[test]
    fn touching_sessions_merge() {
        let m = merge_windows(&[TimeWindow::new(0, 5), TimeWindow::new(5, 9), TimeWindow::new(20, 25)]);
        assert_eq!(m, vec![(TimeWindow::new(0, 9), vec![TimeWindow::new(0, 5), TimeWindow::new(5, 9)])]);
        assert!(merge_windows(&[TimeWindow::new(0, 5), TimeWindow::new(6, 9)]).is_empty());
    }

    #[test]
    fn invalid_parameters_are_rejected() {
        assert!(WindowAssigner::tumbling_event_time(Duration::ZERO).validate().is_err());
        assert!(WindowAssigner::event_time_session(Duration::ZERO).validate().is_err());
        assert!(WindowAssigner::sliding_event_time(Duration::from_millis(5), Duration::from_millis(1)).validate().is_ok());
    }
}
