//! Round trips through our own issuer, holder and verifier, and the attacks a
//! malicious issuer, holder or network could mount against the verifier.

// Test helpers outside #[test] functions may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use shenfen_credential::{
    CredentialError, Disclosure, IssueOptions, KeyBindingCheck, PrivateJwk, SdJwt, StatusList, StatusListToken,
    StatusReference, StatusType, VcIssuance, VerifyOptions, bind, decode_qr_payload, encode_qr_payload, es256_header,
    issue, issue_vc, present, select, sign_compact, verify, verify_vc,
};

const NOW: i64 = 1_800_000_000;
const AUD: &str = "https://hotel.example";
const NONCE: &str = "n-0S6_WzA2Mj";

struct Parties {
    issuer: PrivateJwk,
    holder: PrivateJwk,
}

fn parties() -> Parties {
    Parties { issuer: PrivateJwk::generate().unwrap(), holder: PrivateJwk::generate().unwrap() }
}

fn kb_options() -> VerifyOptions<'static> {
    VerifyOptions {
        now: NOW,
        clock_skew_secs: 60,
        expected_typ: None,
        key_binding: Some(KeyBindingCheck { audience: AUD, nonce: NONCE, max_age_secs: 300 }),
    }
}

fn pointers(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

fn citizen_claims() -> Map<String, Value> {
    json!({
        "iss": "https://authority.gd.example",
        "name": "张三",
        "id_number_masked": "440106********123X",
        "age_over_18": true,
        "region": "Guangdong",
        "address": {"province": "广东省", "city": "广州市", "street": "天河路1号"},
        "nationalities": ["CN", "HK"],
    })
    .as_object()
    .unwrap()
    .clone()
}

fn issue_citizen(p: &Parties, disclosable: &[&str]) -> SdJwt {
    let mut claims = citizen_claims();
    let mut cnf = Map::new();
    cnf.insert("jwk".into(), p.holder.public().to_value());
    claims.insert("cnf".into(), Value::Object(cnf));
    claims.insert("exp".into(), json!(NOW + 3600));
    let disclosable = pointers(disclosable);
    let options = IssueOptions { typ: "dc+sd-jwt", kid: Some("k1"), disclosable: &disclosable, max_decoys: 3 };
    issue(&p.issuer.signing_key().unwrap(), claims, &options).unwrap()
}

fn present_as_holder(p: &Parties, sd_jwt: &SdJwt, disclose: &[&str]) -> SdJwt {
    present(sd_jwt, &pointers(disclose), &p.holder.signing_key().unwrap(), AUD, NONCE, NOW).unwrap()
}

fn verify_with(p: &Parties, presentation: &SdJwt) -> Result<Map<String, Value>, CredentialError> {
    let key = p.issuer.public().verifying_key().unwrap();
    verify(presentation, &key, &kb_options()).map(|v| v.claims)
}

#[test]
fn least_disclosure_reveals_only_what_was_chosen() {
    let p = parties();
    let sd_jwt = issue_citizen(&p, &["/name", "/id_number_masked", "/age_over_18", "/region"]);
    let claims = verify_with(&p, &present_as_holder(&p, &sd_jwt, &["/age_over_18"])).unwrap();
    assert_eq!(claims.get("age_over_18"), Some(&json!(true)));
    for hidden in ["name", "id_number_masked", "region"] {
        assert!(!claims.contains_key(hidden), "{hidden} leaked");
    }
    assert!(claims.contains_key("address"), "claims not made disclosable stay visible");
}

#[test]
fn nested_and_array_disclosures_bring_their_parents() {
    let p = parties();
    let sd_jwt = issue_citizen(&p, &["/address", "/address/street", "/address/city", "/nationalities/1"]);
    let only_city = verify_with(&p, &present_as_holder(&p, &sd_jwt, &["/address/city"])).unwrap();
    assert_eq!(only_city["address"], json!({"province": "广东省", "city": "广州市"}));
    assert_eq!(only_city["nationalities"], json!(["CN"]));
    let whole_address = verify_with(&p, &present_as_holder(&p, &sd_jwt, &["/address", "/nationalities"])).unwrap();
    assert_eq!(whole_address["address"], citizen_claims()["address"]);
    assert_eq!(whole_address["nationalities"], json!(["CN", "HK"]));
}

#[test]
fn disclosing_a_claim_the_credential_lacks_is_an_error() {
    let p = parties();
    let sd_jwt = issue_citizen(&p, &["/name"]);
    assert_eq!(select(&sd_jwt, &pointers(&["/email"])), Err(CredentialError::NotInCredential("/email".into())));
    assert!(select(&sd_jwt, &pointers(&["/region"])).is_ok(), "always-visible claims may be named");
}

#[test]
fn issuing_a_missing_claim_is_an_error() {
    let p = parties();
    let disclosable = pointers(&["/email"]);
    let options = IssueOptions { typ: "dc+sd-jwt", kid: None, disclosable: &disclosable, max_decoys: 0 };
    let err = issue(&p.issuer.signing_key().unwrap(), citizen_claims(), &options).unwrap_err();
    assert_eq!(err, CredentialError::NoSuchClaim("/email".into()));
}

#[test]
fn a_qr_payload_needs_key_binding_and_any_flipped_bit_is_caught() {
    let p = parties();
    let sd_jwt = issue_citizen(&p, &["/name", "/age_over_18"]);
    assert_eq!(encode_qr_payload(&sd_jwt).unwrap_err().code(), "credential.kb.missing");
    let presentation = present_as_holder(&p, &sd_jwt, &["/name"]);
    let qr = encode_qr_payload(&presentation).unwrap();
    for i in 0..qr.len() * 8 {
        let mut flipped = qr.clone();
        flipped[i / 8] ^= 1 << (i % 8);
        // A flip in the deflate stream's padding bits changes nothing; any other either
        // fails to decode or changes the presentation, which then fails to verify.
        if let Some(decoded) = decode_qr_payload(&flipped).ok().filter(|d| d.serialize() != presentation.serialize()) {
            assert!(verify_with(&p, &decoded).is_err(), "bit {i} flipped still verifies");
        }
    }
}

#[test]
fn key_binding_by_another_key_is_refused() {
    let p = parties();
    let sd_jwt = issue_citizen(&p, &["/name"]);
    let thief = PrivateJwk::generate().unwrap();
    let stolen = present(&sd_jwt, &pointers(&["/name"]), &thief.signing_key().unwrap(), AUD, NONCE, NOW).unwrap();
    assert_eq!(verify_with(&p, &stolen), Err(CredentialError::BadSignature("key binding JWT")));
}

#[test]
fn a_presentation_signed_by_another_issuer_is_refused() {
    let p = parties();
    let forger = Parties {
        issuer: PrivateJwk::generate().unwrap(),
        holder: PrivateJwk::from_value(&p.holder.to_value()).unwrap(),
    };
    let forged = present_as_holder(&p, &issue_citizen(&forger, &["/name"]), &["/name"]);
    assert_eq!(verify_with(&p, &forged), Err(CredentialError::BadSignature("issuer-signed JWT")));
}

#[test]
fn a_key_binding_jwt_with_the_wrong_typ_is_refused() {
    let p = parties();
    let sd_jwt = select(&issue_citizen(&p, &["/name"]), &pointers(&["/name"])).unwrap();
    let mut claims = Map::new();
    claims.insert("iat".into(), json!(NOW));
    claims.insert("aud".into(), json!(AUD));
    claims.insert("nonce".into(), json!(NONCE));
    claims.insert("sd_hash".into(), json!(sd_jwt.sd_hash()));
    let kb = sign_compact(&es256_header("JWT", None), &claims, &p.holder.signing_key().unwrap()).unwrap();
    let presented = SdJwt::parse(&format!("{}{kb}", sd_jwt.serialize())).unwrap();
    assert!(matches!(verify_with(&p, &presented), Err(CredentialError::WrongType { .. })));
}

/// Signs a hand-made payload as a malicious issuer would, with the given disclosures.
fn malicious(p: &Parties, payload: Value, disclosures: &[&Disclosure]) -> SdJwt {
    let jwt =
        sign_compact(&es256_header("dc+sd-jwt", None), payload.as_object().unwrap(), &p.issuer.signing_key().unwrap())
            .unwrap();
    let mut text = format!("{jwt}~");
    for d in disclosures {
        text.push_str(d.encoded());
        text.push('~');
    }
    SdJwt::parse(&text).unwrap()
}

fn verify_plain(p: &Parties, sd_jwt: &SdJwt) -> Result<Map<String, Value>, CredentialError> {
    let options = VerifyOptions { key_binding: None, ..kb_options() };
    verify(sd_jwt, &p.issuer.public().verifying_key().unwrap(), &options).map(|v| v.claims)
}

#[test]
fn structural_attacks_by_an_issuer_or_holder_each_get_their_own_error() {
    let p = parties();
    let name = Disclosure::property("name", json!("张三")).unwrap();
    let element = Disclosure::element(json!("CN")).unwrap();

    let collision = malicious(&p, json!({"name": "李四", "_sd": [name.digest()]}), &[&name]);
    assert_eq!(verify_plain(&p, &collision), Err(CredentialError::ClaimCollision("name".into())));

    let twice = malicious(&p, json!({"_sd": [name.digest()], "a": {"_sd": [name.digest()]}}), &[&name]);
    assert_eq!(verify_plain(&p, &twice), Err(CredentialError::DuplicateDigest(name.digest().into())));

    let wrong_kind = malicious(&p, json!({"_sd": [element.digest()]}), &[&element]);
    assert!(matches!(verify_plain(&p, &wrong_kind), Err(CredentialError::DisclosureKindMismatch { .. })));

    let wrong_kind_array = malicious(&p, json!({"n": [{"...": name.digest()}]}), &[&name]);
    assert!(matches!(verify_plain(&p, &wrong_kind_array), Err(CredentialError::DisclosureKindMismatch { .. })));

    let unreferenced = malicious(&p, json!({"_sd": []}), &[&name]);
    assert_eq!(verify_plain(&p, &unreferenced), Err(CredentialError::UnreferencedDisclosure));

    let bad_alg = malicious(&p, json!({"_sd_alg": "sha-1"}), &[]);
    assert_eq!(verify_plain(&p, &bad_alg), Err(CredentialError::UnsupportedHashAlgorithm("sha-1".into())));

    let not_array = malicious(&p, json!({"_sd": "x"}), &[]);
    assert!(matches!(verify_plain(&p, &not_array), Err(CredentialError::InvalidSdStructure(_))));

    let extra_key = malicious(&p, json!({"n": [{"...": element.digest(), "x": 1}]}), &[&element]);
    assert!(matches!(verify_plain(&p, &extra_key), Err(CredentialError::InvalidSdStructure(_))));

    let future = malicious(&p, json!({"iat": NOW + 3600}), &[]);
    assert!(matches!(verify_plain(&p, &future), Err(CredentialError::IssuedInFuture { .. })));

    let not_yet = malicious(&p, json!({"nbf": NOW + 3600}), &[]);
    assert!(matches!(verify_plain(&p, &not_yet), Err(CredentialError::NotYetValid { .. })));

    let bad_exp = malicious(&p, json!({"exp": "tomorrow"}), &[]);
    assert_eq!(verify_plain(&p, &bad_exp), Err(CredentialError::InvalidTimeClaim("exp")));

    let no_cnf = malicious(&p, json!({"name": "x"}), &[]);
    let bound = bind(no_cnf, &p.holder.signing_key().unwrap(), AUD, NONCE, NOW).unwrap();
    assert_eq!(verify_with(&p, &bound), Err(CredentialError::MissingHolderKey));
}

fn vc_issuance<'a>(p: &'a Parties, status: Option<&'a StatusReference>, disclosable: &'a [String]) -> VcIssuance<'a> {
    VcIssuance {
        vct: "urn:shenfen:id:lightweight:1",
        holder: p.holder.public(),
        issued_at: NOW - 10,
        expires_at: NOW + 86_400,
        status,
        kid: Some("issuer-2026"),
        disclosable,
        max_decoys: 2,
    }
}

#[test]
fn vc_status_lifecycle() {
    let p = parties();
    let reference = StatusReference { uri: "https://authority.example/status/1".into(), idx: 4242 };
    let disclosable = pointers(&["/name"]);
    let key = p.issuer.signing_key().unwrap();
    let vc = issue_vc(&key, citizen_claims(), &vc_issuance(&p, Some(&reference), &disclosable)).unwrap();
    let presentation = present_as_holder(&p, &vc, &["/name"]);
    let verified = verify_vc(&presentation, &p.issuer.public().verifying_key().unwrap(), &kb_options()).unwrap();
    assert_eq!(verified.vct, "urn:shenfen:id:lightweight:1");
    assert_eq!(verified.status.as_ref(), Some(&reference));
    assert_eq!(verified.holder_key.as_ref(), Some(p.holder.public()));

    let mut list = StatusList::new(10_000, 2).unwrap();
    let mut token = StatusListToken {
        subject: reference.uri.clone(),
        issued_at: NOW,
        expires_at: Some(NOW + 3600),
        ttl: Some(300),
        list: list.clone(),
    };
    let verifying = p.issuer.public().verifying_key().unwrap();
    let published = StatusListToken::verify(&token.sign(&key, None).unwrap(), &verifying, NOW, 60).unwrap();
    assert_eq!(published.require_valid(&reference), Ok(()));

    list.set(reference.idx, 1).unwrap();
    token.list = list;
    let published = StatusListToken::verify(&token.sign(&key, None).unwrap(), &verifying, NOW, 60).unwrap();
    assert_eq!(published.require_valid(&reference), Err(CredentialError::Revoked(StatusType::Invalid)));
}

#[test]
fn vc_refuses_to_hide_what_must_stay_visible() {
    let p = parties();
    let key = p.issuer.signing_key().unwrap();
    for claim in ["/iss", "/exp", "/cnf", "/vct", "/status"] {
        let disclosable = pointers(&[claim]);
        let err = issue_vc(&key, citizen_claims(), &vc_issuance(&p, None, &disclosable)).unwrap_err();
        assert_eq!(err, CredentialError::NotDisclosable(claim[1..].into()));
    }
}

fn claim_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map("[a-z~/]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Names with a meaning of their own in an SD-JWT, kept out of random claims.
const RESERVED: &[&str] = &["_sd", "_sd_alg", "...", "cnf", "exp", "nbf", "iat"];

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Any claim set, any choice of top-level disclosable claims, any
    /// selection: the verifier sees exactly the visible claims plus the selection.
    #[test]
    fn issue_present_verify_round_trip(
        claims in proptest::collection::btree_map(
            "[a-z_~/]{1,8}".prop_filter("registered or reserved claim name", |n| !RESERVED.contains(&n.as_str())),
            claim_value(),
            1..8,
        ),
        sd_mask in any::<u16>(),
        disclose_mask in any::<u16>(),
        decoys in 0u8..4,
    ) {
        let p = Parties { issuer: PrivateJwk::generate().unwrap(), holder: PrivateJwk::generate().unwrap() };
        let claims: Map<String, Value> = claims.into_iter().collect();
        let names: Vec<&String> = claims.keys().collect();
        let sd: Vec<String> = names.iter().enumerate().filter(|(i, _)| sd_mask & (1 << i) != 0)
            .map(|(_, n)| shenfen_credential::child_pointer("", n)).collect();
        let shown: Vec<String> = sd.iter().enumerate().filter(|(i, _)| disclose_mask & (1 << i) != 0)
            .map(|(_, n)| n.clone()).collect();
        let mut with_cnf = claims.clone();
        with_cnf.insert("cnf".into(), json!({"jwk": p.holder.public().to_value()}));
        let options = IssueOptions { typ: "dc+sd-jwt", kid: None, disclosable: &sd, max_decoys: decoys };
        let sd_jwt = issue(&p.issuer.signing_key().unwrap(), with_cnf, &options).unwrap();
        prop_assert_eq!(SdJwt::parse(&sd_jwt.serialize()).unwrap(), sd_jwt.clone());
        let presentation = present(&sd_jwt, &shown, &p.holder.signing_key().unwrap(), AUD, NONCE, NOW).unwrap();
        let reparsed = SdJwt::parse(&presentation.serialize()).unwrap();
        let qr = encode_qr_payload(&presentation).unwrap();
        prop_assert_eq!(decode_qr_payload(&qr).unwrap().serialize(), presentation.serialize(), "the QR form is lossless");
        prop_assert!(qr.len() < presentation.serialize().len(), "and smaller");
        let got = verify_with(&p, &reparsed).unwrap();
        for (name, value) in &claims {
            let pointer = shenfen_credential::child_pointer("", name);
            let expected_visible = !sd.contains(&pointer) || shown.contains(&pointer);
            prop_assert_eq!(got.get(name), expected_visible.then_some(value), "claim {}", name);
        }
    }
}
