//! Domain types and rules of shenfen, the virtual ID card platform.
//!
//! This crate is deliberately free of IO, clocks and async: every rule here is
//! a pure function of its inputs, so it can be tested exhaustively and reused
//! by the server, the wallet and the verifier alike.

mod assurance;
mod citizen;
mod edition;
mod error;
mod id_number;
mod operator_role;
mod pin;
mod pseudonym;
mod purpose;
mod question;
mod region;

pub use assurance::AssuranceLevel;
pub use citizen::{CardValidity, CitizenRecord, LONG_TERM, Sex};
pub use edition::Edition;
pub use error::CoreError;
pub use id_number::IdNumber;
pub use operator_role::OperatorRole;
pub use pin::{PIN_LENGTH, PinLockout, check_new_pin};
pub use pseudonym::{PseudonymKey, pairwise_pseudonym};
pub use purpose::{Purpose, SEALED_ID_NUMBER};
pub use question::Question;
pub use region::Province;
