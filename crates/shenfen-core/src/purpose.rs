//! What an offline presentation discloses, by purpose. Least disclosure is
//! the default: a counter learns what its job needs and no more, and the
//! verifier holds the wallet to the same table (a QR that shows more than its
//! purpose needs is not what the citizen's wallet would have made).

use std::fmt;
use std::str::FromStr;

use crate::{CoreError, Edition};

/// The claim holding the citizen's ID number and name sealed to the
/// police's key (a JWE, fresh in every single-use copy): what a hotel keeps
/// for the legally required guest register without being able to read it.
pub const SEALED_ID_NUMBER: &str = "sealed_id_number";

/// Why a citizen shows their card offline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// Hotel front desk: the guest register needs a name and an identity the
    /// desk can match to the person (masked number; the face template where
    /// the edition has one).
    HotelCheckIn,
    /// Age-restricted sale or venue: over 18, nothing else.
    AgeCheck,
    /// Train or event ticket gate: the name on the ticket.
    Ticket,
    /// Employer clock-in: the name.
    ClockIn,
}

impl Purpose {
    /// Every purpose, for help texts.
    pub const ALL: [Purpose; 4] = [Purpose::HotelCheckIn, Purpose::AgeCheck, Purpose::Ticket, Purpose::ClockIn];

    /// The wire and CLI name.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::HotelCheckIn => "hotel_checkin",
            Purpose::AgeCheck => "age_check",
            Purpose::Ticket => "ticket",
            Purpose::ClockIn => "clock_in",
        }
    }

    /// The claims (top-level names) disclosed for this purpose with a credential of `edition`.
    pub fn claims(self, edition: Edition) -> Vec<&'static str> {
        let mut claims = match self {
            Purpose::HotelCheckIn => vec!["name", "id_number_masked"],
            Purpose::AgeCheck => vec!["age_over_18"],
            Purpose::Ticket | Purpose::ClockIn => vec!["name"],
        };
        if self == Purpose::HotelCheckIn && edition == Edition::Upgraded {
            claims.push("face_template");
        }
        claims
    }

    /// The claims whose disclosed value must be `true` for the purpose to be
    /// met: an age check is passed by `age_over_18: true`, not by its presence.
    pub fn required_true(self) -> &'static [&'static str] {
        match self {
            Purpose::AgeCheck => &["age_over_18"],
            Purpose::HotelCheckIn | Purpose::Ticket | Purpose::ClockIn => &[],
        }
    }

    /// The key-binding audience of an offline presentation for this purpose:
    /// a presentation made for one purpose is refused at a counter of another.
    pub fn audience(self) -> String {
        format!("urn:shenfen:offline:{}", self.as_str())
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Purpose {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Purpose, CoreError> {
        Purpose::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| CoreError::UnknownValue {
            kind: "purpose",
            value: s.to_owned(),
            expected: "hotel_checkin, age_check, ticket, clock_in",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purposes_disclose_little_and_parse_back() {
        for purpose in Purpose::ALL {
            assert_eq!(purpose.as_str().parse::<Purpose>().unwrap(), purpose);
            assert!(!purpose.claims(Edition::Upgraded).contains(&"record"), "never the full record offline");
        }
        assert_eq!(Purpose::AgeCheck.claims(Edition::Upgraded), ["age_over_18"]);
        assert_eq!(Purpose::AgeCheck.required_true(), ["age_over_18"], "an age check needs the answer yes");
        for purpose in Purpose::ALL {
            assert!(purpose.required_true().iter().all(|c| purpose.claims(Edition::Lightweight).contains(c)));
        }
        assert_eq!(Purpose::HotelCheckIn.claims(Edition::Lightweight), ["name", "id_number_masked"]);
        assert_eq!(Purpose::HotelCheckIn.claims(Edition::Upgraded).last(), Some(&"face_template"));
        assert_eq!("party".parse::<Purpose>().unwrap_err().code(), "core.value.unknown");
    }
}
