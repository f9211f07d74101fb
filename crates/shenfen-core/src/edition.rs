use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{AssuranceLevel, CoreError};

/// The two products a citizen can hold.
///
/// The lightweight edition proves "this is me"; the upgraded one adds a
/// stricter enrollment and a live face at each high-stakes use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Edition {
    /// ID number + name + card expiry + live selfie matched to the registry.
    Lightweight,
    /// Lightweight plus in-person (or chip) attestation and a PIN.
    Upgraded,
}

impl Edition {
    /// The highest assurance level a credential of this edition can reach.
    pub fn max_assurance(self) -> AssuranceLevel {
        match self {
            Edition::Lightweight => AssuranceLevel::L1,
            Edition::Upgraded => AssuranceLevel::L3,
        }
    }

    /// The lowercase name used on the wire and in the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Edition::Lightweight => "lightweight",
            Edition::Upgraded => "upgraded",
        }
    }
}

impl fmt::Display for Edition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Edition {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "lightweight" => Ok(Edition::Lightweight),
            "upgraded" => Ok(Edition::Upgraded),
            _ => {
                Err(CoreError::UnknownValue { kind: "edition", value: s.to_owned(), expected: "lightweight, upgraded" })
            }
        }
    }
}
