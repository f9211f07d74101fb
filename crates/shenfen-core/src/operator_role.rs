//! What an authority operator may do. Every action is audited under the
//! operator's name, and appears in the log of the citizen it concerned.

use std::fmt;
use std::str::FromStr;

use crate::CoreError;

/// An operator's role; a supervisor may do everything a counter may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OperatorRole {
    /// Looks citizens up and attests them in person for the upgraded edition.
    Counter,
    /// Also revokes credentials and reads the whole audit log.
    Supervisor,
}

impl OperatorRole {
    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            OperatorRole::Counter => "counter",
            OperatorRole::Supervisor => "supervisor",
        }
    }

    /// Whether this role includes everything `needed` may do.
    pub fn includes(self, needed: OperatorRole) -> bool {
        self >= needed
    }
}

impl fmt::Display for OperatorRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OperatorRole {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<OperatorRole, CoreError> {
        match s {
            "counter" => Ok(OperatorRole::Counter),
            "supervisor" => Ok(OperatorRole::Supervisor),
            _ => Err(CoreError::UnknownValue {
                kind: "operator role",
                value: s.to_owned(),
                expected: "counter, supervisor",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supervisors_include_counters_not_the_reverse() {
        assert!(OperatorRole::Supervisor.includes(OperatorRole::Counter));
        assert!(!OperatorRole::Counter.includes(OperatorRole::Supervisor));
        assert_eq!("supervisor".parse::<OperatorRole>().unwrap(), OperatorRole::Supervisor);
        assert_eq!("admin".parse::<OperatorRole>().unwrap_err().code(), "core.value.unknown");
    }
}
