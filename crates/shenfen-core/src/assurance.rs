use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::CoreError;

/// How strongly a presentation binds the credential to the person present.
///
/// Levels are ordered, so a relying party asks for a minimum and compares:
/// `reached >= asked`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AssuranceLevel {
    /// Credential plus proof of the device key.
    L1,
    /// L1 plus a PIN checked by the authority.
    L2,
    /// L2 plus a live face matched online or against the signed template offline.
    L3,
}

impl fmt::Display for AssuranceLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AssuranceLevel::L1 => "L1",
            AssuranceLevel::L2 => "L2",
            AssuranceLevel::L3 => "L3",
        })
    }
}

impl FromStr for AssuranceLevel {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "L1" | "l1" => Ok(AssuranceLevel::L1),
            "L2" | "l2" => Ok(AssuranceLevel::L2),
            "L3" | "l3" => Ok(AssuranceLevel::L3),
            _ => Err(CoreError::UnknownValue { kind: "assurance level", value: s.to_owned(), expected: "L1, L2, L3" }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Edition;

    #[test]
    fn levels_are_ordered_and_editions_cap_them() {
        assert!(AssuranceLevel::L1 < AssuranceLevel::L2 && AssuranceLevel::L2 < AssuranceLevel::L3);
        assert_eq!(Edition::Lightweight.max_assurance(), AssuranceLevel::L1);
        assert_eq!(Edition::Upgraded.max_assurance(), AssuranceLevel::L3);
        assert_eq!("L2".parse::<AssuranceLevel>(), Ok(AssuranceLevel::L2));
        assert_eq!("upgraded".parse::<Edition>(), Ok(Edition::Upgraded));
        assert!("L4".parse::<AssuranceLevel>().is_err());
        assert!("premium".parse::<Edition>().is_err());
    }
}
