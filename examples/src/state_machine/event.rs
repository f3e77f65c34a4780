//! Events and alerts (Flink's `statemachine.event.Event` and `Alert`), printed as their
//! Java `toString()` prints them.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::dfa::{EventType, State};

/// An event from a source address (think IPv4 address) of some type (Flink's `Event`).
///
/// ```
/// use strom_examples::state_machine::{Event, EventType};
/// let e = Event { source_address: 0x0a00_0001, event_type: EventType::A };
/// assert_eq!(e.to_string(), "Event 10.0.0.1 : a");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Event {
    /// The originating address, most significant byte first.
    pub source_address: i32,
    /// The event type.
    pub event_type: EventType,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Event {} : {}", format_address(self.source_address), self.event_type)
    }
}

/// An event that the address's state machine did not accept (Flink's `Alert`).
///
/// ```
/// use strom_examples::state_machine::{Alert, EventType, State};
/// let alert = Alert { address: 0x7f00_0001, state: State::W, transition: EventType::C };
/// assert_eq!(alert.to_string(), "ALERT 127.0.0.1 : W -> c");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Alert {
    /// The originating address.
    pub address: i32,
    /// The state the address's state machine was in.
    pub state: State,
    /// The event type that state does not accept.
    pub transition: EventType,
}

impl fmt::Display for Alert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ALERT {} : {} -> {}", format_address(self.address), self.state, self.transition)
    }
}

/// Formats a 32-bit address as a dotted IPv4 address, most significant byte first (Flink's
/// `Event.formatAddress`).
pub fn format_address(address: i32) -> String {
    let [b1, b2, b3, b4] = address.to_be_bytes();
    format!("{b1}.{b2}.{b3}.{b4}")
}

#[cfg(test)]
mod tests {
    use super::format_address;

    #[test]
    fn addresses_print_like_java() {
        assert_eq!(format_address(0), "0.0.0.0");
        assert_eq!(format_address(i32::MAX), "127.255.255.255");
        assert_eq!(format_address(-1), "255.255.255.255");
        assert_eq!(format_address(0x0102_0304), "1.2.3.4");
    }
}
