//! The state machine every address must follow (Flink's `statemachine.dfa.State`,
//! `Transition` and `event.EventType`).
//!
//! ```text
//!           +--[a]--> W --[b]--> Y --[e]---+
//!           |                    ^         |
//!   Initial-+                    |         |
//!           |                    |         +--> (Z)-----[g]---> Terminal
//!           +--[c]--> X --[b]----+         |
//!                     |                    |
//!                     +--------[d]---------+
//! ```
//!
//! Each transition carries the probability with which the generator takes it; the
//! probabilities are Flink's `float`s, summed in `f32` as Flink does.

use std::fmt;

use serde::{Deserialize, Serialize};

use strom::connectors::JavaRandom;

/// The type of an event: the letter that drives a transition (Flink's `EventType`, whose
/// constants are the lowercase letters; they print as such).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventType {
    /// `a`
    A,
    /// `b`
    B,
    /// `c`
    C,
    /// `d`
    D,
    /// `e`
    E,
    /// `f`: no transition uses it, so it only appears in invalid events.
    F,
    /// `g`
    G,
}

impl EventType {
    /// All event types, in Flink's declaration order (`EventType.values()`).
    pub const ALL: [EventType; 7] = [EventType::A, EventType::B, EventType::C, EventType::D, EventType::E, EventType::F, EventType::G];

    /// Flink's name of the event type: its letter.
    pub fn name(self) -> &'static str {
        ["a", "b", "c", "d", "e", "f", "g"][self as usize]
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A state of the state machine (Flink's `State`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum State {
    /// The terminal state: no outgoing transitions.
    Terminal,
    /// Not a real state: what [`State::transition`] returns for an event the state does not
    /// accept.
    InvalidTransition,
    /// State `Z`.
    Z,
    /// State `Y`.
    Y,
    /// State `X`.
    X,
    /// State `W`.
    W,
    /// The state every address starts in.
    Initial,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// An outgoing transition: on `event_type`, go to `target`; the generator takes it with
/// probability `prob` (Flink's `Transition`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transition {
    /// The event that triggers the transition.
    pub event_type: EventType,
    /// The state after the transition.
    pub target: State,
    /// The probability that the generator picks this transition.
    pub prob: f32,
}

const fn to(event_type: EventType, target: State, prob: f32) -> Transition {
    Transition { event_type, target, prob }
}

impl State {
    /// Every state, in Flink's declaration order.
    pub const ALL: [State; 7] = [State::Terminal, State::InvalidTransition, State::Z, State::Y, State::X, State::W, State::Initial];

    /// The outgoing transitions, in Flink's order (which matters for [`Self::random_transition`]).
    pub fn transitions(self) -> &'static [Transition] {
        use EventType::{A, B, C, D, E, G};
        use State::*;
        match self {
            Terminal | InvalidTransition => &[],
            Z => const { &[to(G, Terminal, 1.0)] },
            Y => const { &[to(E, Z, 1.0)] },
            X => const { &[to(B, Y, 0.2), to(D, Z, 0.8)] },
            W => const { &[to(B, Y, 1.0)] },
            Initial => const { &[to(A, W, 0.6), to(C, X, 0.4)] },
        }
    }

    /// Whether the state has no outgoing transitions.
    pub fn is_terminal(self) -> bool {
        self.transitions().is_empty()
    }

    /// The state after `event`, or [`State::InvalidTransition`] if this state does not accept it.
    ///
    /// ```
    /// use strom_examples::state_machine::{EventType, State};
    /// assert_eq!(State::Initial.transition(EventType::A), State::W);
    /// assert_eq!(State::Initial.transition(EventType::B), State::InvalidTransition);
    /// ```
    pub fn transition(self, event: EventType) -> State {
        self.transitions().iter().find(|t| t.event_type == event).map_or(State::InvalidTransition, |t| t.target)
    }

    /// Picks an outgoing transition by its probability: one `nextFloat()` draw, compared with
    /// the running sum of the probabilities (Flink's `randomTransition`). `None` for a state
    /// without transitions (where Flink throws).
    pub(crate) fn random_transition(self, rnd: &mut JavaRandom) -> Option<(EventType, State)> {
        let transitions = self.transitions();
        let last = transitions.last()?;
        let p = rnd.next_float();
        let mut mass = 0.0_f32;
        let chosen = transitions.iter().find(|t| {
            mass += t.prob;
            p <= mass
        });
        // The probabilities sum to 1 and `p < 1`, so `chosen` is always found; falling back to
        // the last transition only guards against rounding.
        let t = chosen.unwrap_or(last);
        Some((t.event_type, t.target))
    }

    /// An event type this state does not accept, drawn uniformly by rejection (Flink's
    /// `randomInvalidTransition`).
    pub(crate) fn random_invalid_transition(self, rnd: &mut JavaRandom) -> EventType {
        loop {
            let candidate = EventType::ALL[rnd.next_int_bounded(EventType::ALL.len() as i32) as usize];
            if self.transition(candidate) == State::InvalidTransition {
                return candidate;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::EventType::{self, *};
    use super::State::{self, *};
    use strom::connectors::JavaRandom;

    /// The whole table, written out independently of `transitions()`: every (state, event)
    /// pair that is valid, with its target.
    const VALID: [(State, EventType, State); 7] =
        [(Initial, A, W), (Initial, C, X), (W, B, Y), (X, B, Y), (X, D, Z), (Y, E, Z), (Z, G, Terminal)];

    #[test]
    fn every_state_event_pair_follows_the_table() {
        for state in State::ALL {
            for event in EventType::ALL {
                let expected = VALID.iter().find(|(s, e, _)| *s == state && *e == event).map_or(InvalidTransition, |v| v.2);
                assert_eq!(state.transition(event), expected, "{state} --[{event}]-->");
            }
        }
    }

    #[test]
    fn only_terminal_states_have_no_transitions() {
        let terminal: Vec<State> = State::ALL.into_iter().filter(|s| s.is_terminal()).collect();
        assert_eq!(terminal, vec![Terminal, InvalidTransition]);
    }

    #[test]
    fn probabilities_of_each_state_sum_to_one() {
        for state in State::ALL.into_iter().filter(|s| !s.is_terminal()) {
            let sum: f32 = state.transitions().iter().map(|t| t.prob).sum();
            assert_eq!(sum, 1.0, "{state}");
        }
    }

    #[test]
    fn random_transitions_are_valid_and_follow_the_probabilities() {
        let mut rnd = JavaRandom::new(7);
        let draws = 100_000;
        let mut to_x = 0;
        for _ in 0..draws {
            let (event, target) = Initial.random_transition(&mut rnd).expect("Initial has transitions");
            assert_eq!(Initial.transition(event), target);
            to_x += usize::from(target == X);
        }
        // P(c) = 0.4; 100 000 draws put the share within 0.4 ± 0.01 with overwhelming probability.
        let share = to_x as f64 / draws as f64;
        assert!((share - 0.4).abs() < 0.01, "share of Initial --[c]--> X: {share}");
        assert_eq!(Terminal.random_transition(&mut rnd), None);
    }

    #[test]
    fn random_invalid_transitions_are_invalid_and_cover_all_rejected_events() {
        let mut rnd = JavaRandom::new(11);
        for state in State::ALL {
            let mut seen: Vec<EventType> = (0..1_000).map(|_| state.random_invalid_transition(&mut rnd)).collect();
            seen.sort();
            seen.dedup();
            let invalid: Vec<EventType> = EventType::ALL.into_iter().filter(|e| state.transition(*e) == InvalidTransition).collect();
            assert_eq!(seen, invalid, "{state}");
        }
    }
}
