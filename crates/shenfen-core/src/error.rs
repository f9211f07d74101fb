use thiserror::Error;

/// Every way a domain rule can refuse its input.
///
/// Each variant has a stable code (see [`CoreError::code`]) so that a log line
/// or an API response points at exactly one place in the code, whatever the
/// wording of the message becomes.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CoreError {
    /// The ID number has the wrong number of characters.
    #[error("an ID number has 18 characters (or 15 for pre-1999 cards), this one has {0}")]
    IdNumberLength(usize),
    /// The ID number holds a character other than a digit (or a final `X`).
    #[error("an ID number holds only digits, with an optional final X; found {0:?} at position {1}")]
    IdNumberCharacter(char, usize),
    /// The first two digits name no province-level division.
    #[error("the ID number starts with {0:02}, which is no province-level region code")]
    IdNumberRegion(u8),
    /// Digits 7–14 are not a real calendar date.
    #[error("the birth date in the ID number ({0}) is not a valid date")]
    IdNumberBirthDate(String),
    /// The ISO 7064 MOD 11-2 check character does not match the first 17 digits.
    #[error("the check character of the ID number is wrong: it should be {expected}, not {found}")]
    IdNumberChecksum {
        /// The check character the first 17 digits call for.
        expected: char,
        /// The check character the number carries.
        found: char,
    },
    /// A citizen record field breaks a rule.
    #[error("citizen record: {field} {reason}")]
    InvalidRecord {
        /// The field at fault.
        field: &'static str,
        /// What is wrong with it, in words a person can act on.
        reason: String,
    },
    /// A textual edition or assurance level was not recognised.
    #[error("unknown {kind} {value:?}; expected one of {expected}")]
    UnknownValue {
        /// What was being parsed ("edition", "assurance level", …).
        kind: &'static str,
        /// The rejected text.
        value: String,
        /// The accepted spellings.
        expected: &'static str,
    },
    /// The pseudonym key is too short to be a secret.
    #[error("a pseudonym key needs at least 32 bytes of secret, got {0}")]
    PseudonymKeyTooShort(usize),
    /// A chosen PIN breaks a rule.
    #[error("PIN refused: {0}")]
    InvalidPin(String),
}

impl CoreError {
    /// The stable, documented code of this error (`docs/ERRORS.md`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::IdNumberLength(_) => "core.id_number.length",
            Self::IdNumberCharacter(..) => "core.id_number.character",
            Self::IdNumberRegion(_) => "core.id_number.region",
            Self::IdNumberBirthDate(_) => "core.id_number.birth_date",
            Self::IdNumberChecksum { .. } => "core.id_number.checksum",
            Self::InvalidRecord { .. } => "core.record.invalid",
            Self::UnknownValue { .. } => "core.value.unknown",
            Self::PseudonymKeyTooShort(_) => "core.pseudonym.key_too_short",
            Self::InvalidPin(_) => "core.pin.invalid",
        }
    }
}
