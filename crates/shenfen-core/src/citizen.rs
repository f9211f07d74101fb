//! The population-registry record that a virtual ID card mirrors.

use serde::{Deserialize, Serialize};
use time::Date;

use crate::{CoreError, IdNumber};

/// Sex as printed on the card; for a valid ID number it always agrees with the
/// parity of the sequence code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    /// 男
    Male,
    /// 女
    Female,
}

/// The validity period printed on the back of the card. Cards of people aged
/// 46 and over are "long-term" (长期) and have no end date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardValidity {
    /// First day the card is valid.
    pub from: Date,
    /// Last day the card is valid; `None` for a long-term card.
    pub until: Option<Date>,
}

/// How a long-term card prints its end date.
pub const LONG_TERM: &str = "长期";

impl CardValidity {
    /// The end date as the card prints it: `YYYY-MM-DD`, or `长期` for a
    /// long-term card. Registry and enrollment compare claims in this form.
    pub fn expiry_label(until: Option<Date>) -> String {
        until.map_or_else(|| LONG_TERM.to_owned(), |d| d.to_string())
    }

    /// Reads an end date as printed or typed: `YYYY-MM-DD`, or `长期` /
    /// `long-term` (`Some(None)`); `None` when it is neither.
    pub fn parse_expiry(text: &str) -> Option<Option<Date>> {
        match text.trim() {
            LONG_TERM | "long-term" => Some(None),
            text => Date::parse(text, time::macros::format_description!("[year]-[month]-[day]")).ok().map(Some),
        }
    }

    /// Whether the card is valid on `day`.
    pub fn covers(&self, day: Date) -> bool {
        day >= self.from && self.until.is_none_or(|end| day <= end)
    }
}

/// One person in the population registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CitizenRecord {
    /// The resident ID number; the record's natural key.
    pub id_number: IdNumber,
    /// Full name as on the card.
    pub name: String,
    /// Sex as on the card.
    pub sex: Sex,
    /// Ethnicity (民族) as on the card, e.g. "汉".
    pub ethnicity: String,
    /// Birth date as on the card.
    pub birth_date: Date,
    /// Registered address (住址).
    pub address: String,
    /// The public-security bureau that issued the card (签发机关).
    pub issuing_authority: String,
    /// The card's validity period.
    pub validity: CardValidity,
    /// Where the registry photo is kept (a file name or storage key, never the image).
    pub photo_ref: String,
}

impl CitizenRecord {
    /// Checks the rules that tie the fields together, so that a registry import
    /// refuses a row that contradicts itself instead of storing it.
    pub fn validate(&self) -> Result<(), CoreError> {
        require_text("name", &self.name, 64)?;
        require_text("ethnicity", &self.ethnicity, 16)?;
        require_text("address", &self.address, 256)?;
        require_text("issuing_authority", &self.issuing_authority, 128)?;
        require_text("photo_ref", &self.photo_ref, 512)?;
        if self.birth_date != self.id_number.birth_date() {
            return Err(invalid("birth_date", "differs from the birth date inside the ID number"));
        }
        if self.sex != self.id_number.sex() {
            return Err(invalid("sex", "differs from the sex encoded by the ID number's sequence code"));
        }
        if self.validity.until.is_some_and(|end| end < self.validity.from) {
            return Err(invalid("validity", "ends before it starts"));
        }
        if self.validity.from < self.birth_date {
            return Err(invalid("validity", "starts before the holder was born"));
        }
        Ok(())
    }

    /// Age in whole years on `day`, counting a 29 February birthday as reached
    /// on 1 March in common years.
    pub fn age_on(&self, day: Date) -> u32 {
        let born = self.birth_date;
        let mut years = day.year() - born.year();
        if (day.month() as u8, day.day()) < (born.month() as u8, born.day()) {
            years -= 1;
        }
        u32::try_from(years).unwrap_or(0)
    }

    /// The name as an operator's search result shows it: the first character
    /// (usually the family name) and one `*` per further character, so a
    /// lookup confirms a record without reading it out.
    pub fn masked_name(&self) -> String {
        let mut chars = self.name.chars();
        chars.next().map(|first| std::iter::once(first).chain(chars.map(|_| '*')).collect()).unwrap_or_default()
    }
}

fn require_text(field: &'static str, value: &str, max_chars: usize) -> Result<(), CoreError> {
    if value.trim().is_empty() {
        return Err(invalid(field, "is empty"));
    }
    if value.chars().count() > max_chars {
        return Err(invalid(field, &format!("is longer than {max_chars} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(field, "contains control characters"));
    }
    Ok(())
}

fn invalid(field: &'static str, reason: &str) -> CoreError {
    CoreError::InvalidRecord { field, reason: reason.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn record() -> CitizenRecord {
        CitizenRecord {
            id_number: IdNumber::parse("11010519491231002X").unwrap(),
            name: "张三".into(),
            sex: Sex::Female,
            ethnicity: "汉".into(),
            birth_date: date!(1949 - 12 - 31),
            address: "北京市朝阳区某街道1号".into(),
            issuing_authority: "北京市公安局朝阳分局".into(),
            validity: CardValidity { from: date!(2010 - 01 - 01), until: None },
            photo_ref: "photos/0001.jpg".into(),
        }
    }

    #[test]
    fn masked_names_keep_only_the_first_character() {
        assert_eq!(record().masked_name(), "张*");
        assert_eq!(CitizenRecord { name: "欧阳娜娜".into(), ..record() }.masked_name(), "欧***");
        assert_eq!(CitizenRecord { name: String::new(), ..record() }.masked_name(), "");
    }

    #[test]
    fn consistent_record_validates() {
        assert_eq!(record().validate(), Ok(()));
    }

    #[test]
    fn contradictions_are_refused_by_field() {
        let field_of = |r: CitizenRecord| match r.validate() {
            Err(CoreError::InvalidRecord { field, .. }) => field,
            other => panic!("expected an invalid record, got {other:?}"),
        };
        assert_eq!(field_of(CitizenRecord { sex: Sex::Male, ..record() }), "sex");
        assert_eq!(field_of(CitizenRecord { birth_date: date!(1950 - 01 - 01), ..record() }), "birth_date");
        assert_eq!(field_of(CitizenRecord { name: " ".into(), ..record() }), "name");
        assert_eq!(field_of(CitizenRecord { address: "a\u{0}b".into(), ..record() }), "address");
        let backwards = CardValidity { from: date!(2020 - 01 - 01), until: Some(date!(2019 - 01 - 01)) };
        assert_eq!(field_of(CitizenRecord { validity: backwards, ..record() }), "validity");
    }

    #[test]
    fn age_counts_birthdays() {
        let r = record();
        assert_eq!(r.age_on(date!(1967 - 12 - 30)), 17);
        assert_eq!(r.age_on(date!(1967 - 12 - 31)), 18);
        assert_eq!(r.age_on(date!(1940 - 01 - 01)), 0);
    }

    #[test]
    fn expiry_labels_round_trip() {
        for until in [None, Some(date!(2035 - 06 - 01))] {
            assert_eq!(CardValidity::parse_expiry(&CardValidity::expiry_label(until)), Some(until));
        }
        assert_eq!(CardValidity::parse_expiry(" long-term "), Some(None));
        assert_eq!(CardValidity::parse_expiry("2035/06/01"), None);
        assert_eq!(CardValidity::parse_expiry(""), None);
    }

    #[test]
    fn long_term_cards_never_expire() {
        let v = CardValidity { from: date!(2010 - 01 - 01), until: None };
        assert!(v.covers(date!(2099 - 01 - 01)));
        assert!(!v.covers(date!(2009 - 12 - 31)));
    }
}
