//! Yes/no questions a relying party may ask instead of reading a claim: the
//! verifier service reads the claim and passes on only the answer.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{CoreError, Edition};

/// One yes/no question. In JSON it is its text (`region=Guangdong`), as
/// relying parties write it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Question {
    /// `age_over_18`: is the holder 18 or older?
    AgeOver18,
    /// `region=NAME`: was the holder's number issued in this province-level region (English name)?
    Region(String),
    /// `edition=upgraded|lightweight`: does the holder have this edition?
    Edition(Edition),
}

impl Question {
    /// The claim the verifier must read to answer.
    pub fn claim(&self) -> &'static str {
        match self {
            Question::AgeOver18 => "age_over_18",
            Question::Region(_) => "region",
            Question::Edition(_) => "edition",
        }
    }

    /// What a relying party must be entitled to, to ask it.
    pub fn entitlement(&self) -> &'static str {
        match self {
            Question::AgeOver18 => "is:age_over_18",
            Question::Region(_) => "is:region",
            Question::Edition(_) => "is:edition",
        }
    }

    /// The answer, given the value of [`Question::claim`]; `None` if the value is not of the claim's kind.
    pub fn answer(&self, value: &serde_json::Value) -> Option<bool> {
        match self {
            Question::AgeOver18 => value.as_bool(),
            Question::Region(region) => value.as_str().map(|v| v.eq_ignore_ascii_case(region)),
            Question::Edition(edition) => value.as_str().map(|v| v == edition.as_str()),
        }
    }
}

impl fmt::Display for Question {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Question::AgeOver18 => f.write_str("age_over_18"),
            Question::Region(region) => write!(f, "region={region}"),
            Question::Edition(edition) => write!(f, "edition={edition}"),
        }
    }
}

impl From<Question> for String {
    fn from(question: Question) -> String {
        question.to_string()
    }
}

impl TryFrom<String> for Question {
    type Error = CoreError;

    fn try_from(text: String) -> Result<Question, CoreError> {
        text.parse()
    }
}

impl FromStr for Question {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Question, CoreError> {
        let unknown = || CoreError::UnknownValue {
            kind: "question",
            value: s.to_owned(),
            expected: "age_over_18, region=NAME, edition=lightweight|upgraded",
        };
        match s.split_once('=') {
            None if s == "age_over_18" => Ok(Question::AgeOver18),
            Some(("region", name)) if !name.trim().is_empty() && name.len() <= 64 => {
                Ok(Question::Region(name.trim().to_owned()))
            }
            Some(("edition", edition)) => edition.parse().map(Question::Edition).map_err(|_| unknown()),
            _ => Err(unknown()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn questions_parse_answer_and_print_back() {
        let region: Question = "region=Guangdong".parse().unwrap();
        assert_eq!(region.claim(), "region");
        assert_eq!(region.answer(&json!("Guangdong")), Some(true));
        assert_eq!(region.answer(&json!("Beijing")), Some(false));
        assert_eq!(region.to_string(), "region=Guangdong");
        let upgraded: Question = "edition=upgraded".parse().unwrap();
        assert_eq!(upgraded.answer(&json!("lightweight")), Some(false));
        assert_eq!(Question::AgeOver18.answer(&json!(true)), Some(true));
        assert_eq!(Question::AgeOver18.answer(&json!("yes")), None);
        for bad in ["age", "region=", "edition=gold", "name"] {
            assert_eq!(bad.parse::<Question>().unwrap_err().code(), "core.value.unknown", "{bad}");
        }
    }
}
