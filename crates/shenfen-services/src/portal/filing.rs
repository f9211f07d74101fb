//! Business registration (企业登记): the form's rules, and the evidence a
//! filing keeps of the legal representative's L3 sign-in.

use serde::{Deserialize, Serialize};

use crate::authority::{ID_NUMBER_CLAIM, SignedIn};

/// The company types a filing may name, with their Chinese and English names.
pub(crate) const COMPANY_TYPES: [(&str, &str, &str); 4] = [
    ("limited_liability", "有限责任公司", "Limited liability company"),
    ("joint_stock", "股份有限公司", "Joint-stock company"),
    ("sole_proprietorship", "个人独资企业", "Sole proprietorship"),
    ("partnership", "合伙企业", "Partnership"),
];

/// The largest registered capital accepted, in 万元 (10,000 yuan): one trillion yuan.
const MAX_CAPITAL: i64 = 100_000_000;

/// The form as posted (every field a string, so nothing is lost before it is checked).
#[derive(Debug, Default, Clone, Deserialize)]
pub(crate) struct FilingForm {
    #[serde(default)]
    pub(crate) company_name: String,
    #[serde(default)]
    pub(crate) company_type: String,
    #[serde(default)]
    pub(crate) registered_capital: String,
    #[serde(default)]
    pub(crate) address: String,
    #[serde(default)]
    pub(crate) business_scope: String,
    /// `yes` when the consent box is ticked.
    #[serde(default)]
    pub(crate) consent: Option<String>,
}

/// A company as a valid form describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Company {
    pub(crate) name: String,
    /// One of [`COMPANY_TYPES`]' codes.
    pub(crate) kind: String,
    /// In 万元.
    pub(crate) capital: i64,
    pub(crate) address: String,
    pub(crate) scope: String,
}

/// What is wrong with one field, in both languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub(crate) field: &'static str,
    pub(crate) zh: &'static str,
    pub(crate) en: &'static str,
}

/// A text field trimmed and checked for length (in characters) and control characters.
fn text(
    value: &str,
    field: &'static str,
    range: std::ops::RangeInclusive<usize>,
    errors: &mut Vec<FieldError>,
    (zh, en): (&'static str, &'static str),
) -> String {
    let value = value.trim();
    let length = value.chars().count();
    if !range.contains(&length) || value.chars().any(char::is_control) {
        errors.push(FieldError { field, zh, en });
    }
    value.to_owned()
}

impl FilingForm {
    /// The company, or every field's error at once; consent is checked apart ([`FilingForm::consented`]).
    pub(crate) fn company(&self) -> Result<Company, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = text(
            &self.company_name,
            "company_name",
            2..=50,
            &mut errors,
            ("请填写企业名称（2 到 50 个字）。", "Enter the company's name (2 to 50 characters)."),
        );
        let kind = self.company_type.trim().to_owned();
        if !COMPANY_TYPES.iter().any(|(code, ..)| *code == kind) {
            errors.push(FieldError {
                field: "company_type", zh: "请选择企业类型。", en: "Choose the company type."
            });
        }
        let capital = self.registered_capital.trim();
        let capital = match capital.parse::<i64>() {
            Ok(amount) if capital.chars().all(|c| c.is_ascii_digit()) && (1..=MAX_CAPITAL).contains(&amount) => amount,
            _ => {
                errors.push(FieldError {
                    field: "registered_capital",
                    zh: "注册资本请填写 1 到 100000000 之间的整数（万元）。",
                    en: "Enter the registered capital as a whole number from 1 to 100000000 (in 10,000 yuan).",
                });
                0
            }
        };
        let address = text(
            &self.address,
            "address",
            5..=120,
            &mut errors,
            ("请填写住所（5 到 120 个字）。", "Enter the registered address (5 to 120 characters)."),
        );
        let scope = text(
            &self.business_scope,
            "business_scope",
            2..=500,
            &mut errors,
            ("请填写经营范围（2 到 500 个字）。", "Enter the business scope (2 to 500 characters)."),
        );
        if errors.is_empty() { Ok(Company { name, kind, capital, address, scope }) } else { Err(errors) }
    }

    /// Whether the citizen ticked the consent box.
    pub(crate) fn consented(&self) -> bool {
        self.consent.as_deref() == Some("yes")
    }
}

/// The claims a filing asks the authority for, beyond `sub`: the legal identity.
pub(crate) const FILING_CLAIMS: [&str; 2] = ["name", ID_NUMBER_CLAIM];

/// What the filing keeps of the sign-in that confirmed the legal
/// representative, in clear: how and when, by whom, what was disclosed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Evidence {
    /// The level reached.
    pub(crate) acr: String,
    /// How it was reached.
    pub(crate) amr: Vec<String>,
    /// The authority that vouched.
    pub(crate) issuer: String,
    /// When the wallet answered.
    pub(crate) auth_time: i64,
    /// The claims disclosed.
    pub(crate) disclosed: Vec<String>,
}

/// The legal identity, kept sealed: the name and ID number, and the
/// id_token that carried them (verifiable later against the authority's keys).
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct LegalIdentity {
    pub(crate) name: String,
    pub(crate) id_number: String,
    pub(crate) id_token: String,
}

/// Why a sign-in does not file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotFiled {
    /// Not L3 with the PIN and a live face.
    LevelNotMet,
    /// The name or the ID number was not disclosed, or no auth_time.
    Incomplete,
}

impl Evidence {
    /// The evidence and the legal identity of an L3 sign-in with the PIN and
    /// a live face that disclosed the name and the ID number; anything less files nothing.
    pub(crate) fn of(signed: &SignedIn) -> Result<(Evidence, LegalIdentity), NotFiled> {
        let has = |method: &str| signed.amr.iter().any(|m| m == method);
        if signed.acr != "L3" || !has("pin") || !has("face") {
            return Err(NotFiled::LevelNotMet);
        }
        let (Some(name), Some(id_number), Some(auth_time)) = (&signed.name, &signed.id_number, signed.auth_time) else {
            return Err(NotFiled::Incomplete);
        };
        let evidence = Evidence {
            acr: signed.acr.clone(),
            amr: signed.amr.clone(),
            issuer: signed.issuer.clone(),
            auth_time,
            disclosed: FILING_CLAIMS.iter().map(|c| (*c).to_owned()).collect(),
        };
        let identity =
            LegalIdentity { name: name.clone(), id_number: id_number.clone(), id_token: signed.id_token.clone() };
        Ok((evidence, identity))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> FilingForm {
        FilingForm {
            company_name: " 广州晓梅茶饮有限公司 ".into(),
            company_type: "limited_liability".into(),
            registered_capital: "50".into(),
            address: "广东省广州市天河区天河路1号".into(),
            business_scope: "茶饮制售".into(),
            consent: Some("yes".into()),
        }
    }

    fn fields(form: &FilingForm) -> Vec<&'static str> {
        form.company().err().unwrap_or_default().iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_valid_form_gives_the_company_trimmed() {
        let company = valid().company().unwrap();
        assert_eq!(company.name, "广州晓梅茶饮有限公司");
        assert_eq!(company.capital, 50);
        assert!(valid().consented());
        assert!(!FilingForm { consent: Some("on".into()), ..valid() }.consented());
        assert!(!FilingForm { consent: None, ..valid() }.consented());
    }

    #[test]
    fn each_bad_field_is_named_and_all_at_once() {
        assert_eq!(fields(&FilingForm { company_name: "广".into(), ..valid() }), ["company_name"]);
        assert_eq!(fields(&FilingForm { company_name: "广州\u{0}公司".into(), ..valid() }), ["company_name"]);
        assert_eq!(fields(&FilingForm { company_type: "bank".into(), ..valid() }), ["company_type"]);
        for capital in ["0", "-5", "1.5", "+5", "", "100000001", "99999999999999999999", "五十"] {
            assert_eq!(fields(&FilingForm { registered_capital: capital.into(), ..valid() }), ["registered_capital"]);
        }
        assert_eq!(fields(&FilingForm { address: "广州".into(), ..valid() }), ["address"]);
        assert_eq!(fields(&FilingForm { business_scope: "茶".repeat(501), ..valid() }), ["business_scope"]);
        assert_eq!(
            fields(&FilingForm::default()),
            ["company_name", "company_type", "registered_capital", "address", "business_scope"]
        );
    }

    fn signed(acr: &str, amr: &[&str]) -> SignedIn {
        SignedIn {
            subject: "sub-1".into(),
            acr: acr.into(),
            amr: amr.iter().map(|m| (*m).to_owned()).collect(),
            issuer: "http://127.0.0.1:8080".into(),
            auth_time: Some(1_800_000_000),
            name: Some("王建国".into()),
            id_number: Some("110105196108040136".into()),
            id_token: "header.payload.signature".into(),
        }
    }

    #[test]
    fn the_evidence_records_level_methods_issuer_time_and_disclosures() {
        let (evidence, identity) = Evidence::of(&signed("L3", &["swk", "pin", "face"])).unwrap();
        assert_eq!(
            evidence,
            Evidence {
                acr: "L3".into(),
                amr: vec!["swk".into(), "pin".into(), "face".into()],
                issuer: "http://127.0.0.1:8080".into(),
                auth_time: 1_800_000_000,
                disclosed: vec!["name".into(), "id_number".into()],
            }
        );
        assert_eq!((identity.name.as_str(), identity.id_number.as_str()), ("王建国", "110105196108040136"));
        assert_eq!(identity.id_token, "header.payload.signature");
    }

    #[test]
    fn less_than_l3_with_pin_and_face_or_missing_claims_files_nothing() {
        assert_eq!(Evidence::of(&signed("L1", &["swk"])).err(), Some(NotFiled::LevelNotMet));
        assert_eq!(Evidence::of(&signed("L2", &["swk", "pin"])).err(), Some(NotFiled::LevelNotMet));
        assert_eq!(Evidence::of(&signed("L3", &["swk", "pin"])).err(), Some(NotFiled::LevelNotMet));
        let mut anonymous = signed("L3", &["swk", "pin", "face"]);
        anonymous.id_number = None;
        assert_eq!(Evidence::of(&anonymous).err(), Some(NotFiled::Incomplete));
    }
}
