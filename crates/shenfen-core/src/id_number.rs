//! The Chinese resident identity number, GB 11643-1999.
//!
//! Layout of the 18 characters: 6-digit administrative division, 8-digit birth
//! date (YYYYMMDD), 3-digit sequence code (odd for men, even for women) and an
//! ISO 7064 MOD 11-2 check character (`0`–`9` or `X`).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::{Date, Month};

use crate::{CoreError, Province, Sex};

/// ISO 7064 MOD 11-2 weights: 2^(17-i) mod 11 for positions 0..17.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character for each value of the weighted sum mod 11.
const CHECK_CHARS: [u8; 11] = *b"10X98765432";
/// How many characters the masked form hides: the whole birth date.
const MASKED_RANGE: std::ops::Range<usize> = 6..14;

/// A validated 18-character resident ID number.
///
/// Holding one proves the structure is right (region, date, checksum); it
/// does not prove the number was ever issued. `Debug` prints the masked form
/// so that the number cannot leak into logs by accident.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdNumber([u8; 18]);

impl IdNumber {
    /// Parses an 18-character number, or converts a 15-digit pre-1999 one.
    ///
    /// Surrounding whitespace is ignored and a lowercase `x` is accepted, since
    /// both are common when people type the number.
    pub fn parse(text: &str) -> Result<IdNumber, CoreError> {
        let text = text.trim();
        match text.chars().count() {
            18 => Self::parse_18(text),
            15 => Self::from_legacy_15(text),
            n => Err(CoreError::IdNumberLength(n)),
        }
    }

    fn parse_18(text: &str) -> Result<IdNumber, CoreError> {
        let mut digits = [0u8; 18];
        for (i, c) in text.chars().enumerate() {
            let is_check_x = i == 17 && (c == 'X' || c == 'x');
            if !c.is_ascii_digit() && !is_check_x {
                return Err(CoreError::IdNumberCharacter(c, i + 1));
            }
            // Both branches are ASCII, checked just above.
            digits[i] = c.to_ascii_uppercase() as u8;
        }
        let mut body = [0u8; 17];
        body.copy_from_slice(&digits[..17]);
        validate_body(&body)?;
        let expected = check_char(&body);
        if digits[17] != expected {
            return Err(CoreError::IdNumberChecksum { expected: char::from(expected), found: char::from(digits[17]) });
        }
        Ok(IdNumber(digits))
    }

    /// Converts a 15-digit number of the first-generation card (issued before
    /// 1999): the year gains its `19`, and a check character is appended.
    pub fn from_legacy_15(text: &str) -> Result<IdNumber, CoreError> {
        let text = text.trim();
        let len = text.chars().count();
        if len != 15 {
            return Err(CoreError::IdNumberLength(len));
        }
        if let Some((i, c)) = text.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
            return Err(CoreError::IdNumberCharacter(c, i + 1));
        }
        let bytes = text.as_bytes();
        let mut body = [0u8; 17];
        body[..6].copy_from_slice(&bytes[..6]);
        body[6..8].copy_from_slice(b"19");
        body[8..].copy_from_slice(&bytes[6..]);
        validate_body(&body)?;
        let mut digits = [0u8; 18];
        digits[..17].copy_from_slice(&body);
        digits[17] = check_char(&body);
        Ok(IdNumber(digits))
    }

    /// Builds the number of a person registered in `division` (6 digits), born
    /// on `birth_date`, with `sequence` (0–999; odd for men, even for women):
    /// the check character is computed. For synthetic registries and tests.
    pub fn from_parts(division: &str, birth_date: Date, sequence: u16) -> Result<IdNumber, CoreError> {
        let year = birth_date.year();
        if !(0..=9999).contains(&year) || sequence > 999 {
            return Err(CoreError::IdNumberBirthDate(birth_date.to_string()));
        }
        let body =
            format!("{division}{year:04}{:02}{:02}{sequence:03}", u8::from(birth_date.month()), birth_date.day());
        if body.len() != 17 || !body.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CoreError::IdNumberLength(body.chars().count() + 1));
        }
        let mut digits = [0u8; 17];
        digits.copy_from_slice(body.as_bytes());
        validate_body(&digits)?;
        let mut full = [0u8; 18];
        full[..17].copy_from_slice(&digits);
        full[17] = check_char(&digits);
        Ok(IdNumber(full))
    }

    /// The full number. Handle with care: this is the secret the platform
    /// exists to protect, so never log it or send it where a masked form will do.
    pub fn as_str(&self) -> &str {
        // Invariant: only ASCII digits and 'X' are ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The number for display: region code and last four characters kept, the
    /// eight birth-date digits replaced by `*` (e.g. `440106********123X`).
    ///
    /// The birth date is the part most useful to an identity thief and is
    /// disclosed separately (or as an age-over flag) when a verifier needs it.
    pub fn masked(&self) -> String {
        self.0.iter().enumerate().map(|(i, &b)| if MASKED_RANGE.contains(&i) { '*' } else { char::from(b) }).collect()
    }

    /// The 6-digit administrative division code of the place of first registration.
    pub fn division_code(&self) -> &str {
        &self.as_str()[..6]
    }

    /// The province-level division the number was issued in.
    pub fn province(&self) -> Province {
        // Invariant: validated at construction.
        Province::from_code(two_digits(&self.0[..2])).unwrap_or(Province { code: 0, name_zh: "", name_en: "" })
    }

    /// The birth date encoded in digits 7–14.
    pub fn birth_date(&self) -> Date {
        let mut body = [0u8; 17];
        body.copy_from_slice(&self.0[..17]);
        // Invariant: validated at construction.
        birth_date(&body).unwrap_or(Date::MIN)
    }

    /// Sex from the parity of the sequence code (odd: male, even: female).
    pub fn sex(&self) -> Sex {
        if (self.0[16] - b'0') % 2 == 1 { Sex::Male } else { Sex::Female }
    }
}

/// Checks the region and birth date of the first 17 digits.
fn validate_body(body: &[u8; 17]) -> Result<(), CoreError> {
    let province = two_digits(&body[..2]);
    if Province::from_code(province).is_none() {
        return Err(CoreError::IdNumberRegion(province));
    }
    birth_date(body)?;
    Ok(())
}

fn birth_date(body: &[u8; 17]) -> Result<Date, CoreError> {
    let text = || String::from_utf8_lossy(&body[6..14]).into_owned();
    let year = body[6..10].iter().fold(0i32, |acc, &d| acc * 10 + i32::from(d - b'0'));
    let month = two_digits(&body[10..12]);
    let day = two_digits(&body[12..14]);
    if year < 1800 {
        return Err(CoreError::IdNumberBirthDate(text()));
    }
    let month = Month::try_from(month).map_err(|_| CoreError::IdNumberBirthDate(text()))?;
    Date::from_calendar_date(year, month, day).map_err(|_| CoreError::IdNumberBirthDate(text()))
}

fn two_digits(pair: &[u8]) -> u8 {
    pair.iter().fold(0u8, |acc, &d| acc * 10 + (d - b'0'))
}

/// ISO 7064 MOD 11-2 check character over the 17 leading digits.
fn check_char(body: &[u8; 17]) -> u8 {
    let sum: u32 = body.iter().zip(WEIGHTS).map(|(&d, w)| u32::from(d - b'0') * w).sum();
    CHECK_CHARS[(sum % 11) as usize]
}

impl std::str::FromStr for IdNumber {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

impl Serialize for IdNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for IdNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        IdNumber::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::date;

    /// The worked example of GB 11643-1999 itself.
    const STANDARD_EXAMPLE: &str = "11010519491231002X";

    #[test]
    fn standard_example_is_valid() {
        let id = IdNumber::parse(STANDARD_EXAMPLE).unwrap();
        assert_eq!(id.birth_date(), date!(1949 - 12 - 31));
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(id.province().name_en, "Beijing");
        assert_eq!(id.division_code(), "110105");
        assert_eq!(id.masked(), "110105********002X");
        assert_eq!(format!("{id:?}"), "IdNumber(110105********002X)");
    }

    #[test]
    fn second_standard_example_is_male() {
        let id = IdNumber::parse("440524188001010014").unwrap();
        assert_eq!(id.sex(), Sex::Male);
        assert_eq!(id.birth_date(), date!(1880 - 01 - 01));
        assert_eq!(id.province().name_en, "Guangdong");
    }

    #[test]
    fn lowercase_x_and_spaces_are_accepted() {
        assert_eq!(IdNumber::parse(" 11010519491231002x ").unwrap().as_str(), STANDARD_EXAMPLE);
    }

    #[test]
    fn wrong_check_character_names_the_right_one() {
        assert_eq!(
            IdNumber::parse("110105194912310021"),
            Err(CoreError::IdNumberChecksum { expected: 'X', found: '1' })
        );
    }

    #[test]
    fn each_defect_has_its_own_error() {
        assert_eq!(IdNumber::parse("1234"), Err(CoreError::IdNumberLength(4)));
        assert_eq!(IdNumber::parse("11010519491231002A"), Err(CoreError::IdNumberCharacter('A', 18)));
        assert_eq!(IdNumber::parse("1101051949123100X2"), Err(CoreError::IdNumberCharacter('X', 17)));
        assert_eq!(IdNumber::parse("100105194912310029"), Err(CoreError::IdNumberRegion(10)));
        assert_eq!(IdNumber::parse("110105194902300021"), Err(CoreError::IdNumberBirthDate("19490230".into())));
        assert_eq!(
            IdNumber::parse("１１０１０５１９４９１２３１００２X").map(|_| ()),
            Err(CoreError::IdNumberCharacter('１', 1))
        );
    }

    #[test]
    fn from_parts_computes_the_check_character() {
        let id = IdNumber::from_parts("110105", date!(1949 - 12 - 31), 2).unwrap();
        assert_eq!(id.as_str(), STANDARD_EXAMPLE);
        assert!(IdNumber::from_parts("100105", date!(1949 - 12 - 31), 2).is_err());
        assert!(IdNumber::from_parts("1101", date!(1949 - 12 - 31), 2).is_err());
        assert!(IdNumber::from_parts("110105", date!(1949 - 12 - 31), 1000).is_err());
    }

    #[test]
    fn legacy_15_digit_numbers_convert() {
        // 15-digit form of the standard example: year loses "19", check char dropped.
        let id = IdNumber::parse("110105491231002").unwrap();
        assert_eq!(id.as_str(), STANDARD_EXAMPLE);
    }

    #[test]
    fn leap_days() {
        let body_2000 = "11010520000229001";
        let id = complete(body_2000);
        assert_eq!(IdNumber::parse(&id).unwrap().birth_date(), date!(2000 - 02 - 29));
        assert!(matches!(IdNumber::parse(&complete("11010519000229001")), Err(CoreError::IdNumberBirthDate(_))));
    }

    /// Appends the right check character, computed independently of `check_char`
    /// from the ISO 7064 definition (weights 2^(17-i) mod 11, (12 - sum mod 11) mod 11).
    fn complete(body: &str) -> String {
        let sum: u64 = body.bytes().enumerate().map(|(i, d)| u64::from(d - b'0') * (1u64 << (17 - i)) % 11).sum();
        let value = (12 - sum % 11) % 11;
        let check = if value == 10 { 'X' } else { char::from(b'0' + value as u8) };
        format!("{body}{check}")
    }

    proptest! {
        /// Any text either fails to parse with a typed error or parses to a
        /// canonical 18-character number that parses back to itself.
        #[test]
        fn any_text_is_refused_or_parses_to_a_canonical_number(s in "\\PC{0,40}|[0-9xX ]{14,20}") {
            match IdNumber::parse(&s) {
                Err(e) => prop_assert!(e.code().starts_with("core."), "{}", e.code()),
                Ok(id) => {
                    prop_assert_eq!(id.as_str().len(), 18);
                    prop_assert!(id.as_str().bytes().all(|b| b.is_ascii_digit() || b == b'X'), "{}", id.as_str());
                    prop_assert_eq!(IdNumber::parse(id.as_str()).unwrap(), id);
                }
            }
        }

        #[test]
        fn valid_numbers_round_trip(
            province in proptest::sample::select(Province::all().iter().map(|p| p.code).collect::<Vec<_>>()),
            rest in 0u32..10_000,
            days in 0i64..(365 * 120),
            seq in 0u32..1000,
        ) {
            let born = date!(1905 - 01 - 01) + time::Duration::days(days);
            let body = format!("{province:02}{rest:04}{:04}{:02}{:02}{seq:03}", born.year(), born.month() as u8, born.day());
            let text = complete(&body);
            let id = IdNumber::parse(&text).unwrap();
            prop_assert_eq!(id.as_str(), text.as_str());
            prop_assert_eq!(id.birth_date(), born);
            prop_assert_eq!(id.sex() == Sex::Male, seq % 2 == 1);
            let json = serde_json::to_string(&id).unwrap();
            prop_assert_eq!(serde_json::from_str::<IdNumber>(&json).unwrap(), id);
        }

        #[test]
        fn any_single_digit_change_is_caught(pos in 0usize..17, delta in 1u8..10) {
            let mut bytes = STANDARD_EXAMPLE.as_bytes().to_vec();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let text = String::from_utf8(bytes).unwrap();
            prop_assert!(IdNumber::parse(&text).is_err());
        }
    }
}
