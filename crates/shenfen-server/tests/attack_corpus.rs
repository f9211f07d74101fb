//! The attack corpus (`attack_corpus/corpus.json`, made by
//! `attack_corpus/make_corpus.mjs` with Node's own crypto, not with ours):
//! each malicious QR code or credential meets the refusal the corpus names,
//! at the counter's check (`check_offline_qr`, shared by `shenfen verify` and
//! `/counter/verify`), with the clock the corpus was made for.

// Test helpers outside #[test] functions may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::cell::RefCell;
use std::collections::HashMap;

use serde_json::Value;
use shenfen_core::{AssuranceLevel, Purpose};
use shenfen_credential::{
    CachedStatusList, PublicJwk, SdJwt, TrustedIssuer, VerifierCache, VerifyOptions, encode_qr_payload, verify_vc,
};
use shenfen_server::{CounterPolicy, check_offline_qr};

fn corpus() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/attack_corpus/corpus.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn cache(spec: &Value, now: i64) -> VerifierCache {
    VerifierCache {
        synced_at: now - 10,
        trusted_until: spec["trusted_until"].as_i64(),
        issuers: spec["issuers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| TrustedIssuer {
                issuer: i["issuer"].as_str().unwrap().into(),
                keys: i["keys"].as_array().unwrap().clone(),
            })
            .collect(),
        status_lists: spec["status_lists"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| CachedStatusList {
                uri: l["uri"].as_str().unwrap().into(),
                token: l["token"].as_str().unwrap().into(),
            })
            .collect(),
    }
}

fn policy(purpose: &str, now: i64) -> CounterPolicy {
    CounterPolicy {
        purpose: purpose.parse::<Purpose>().unwrap(),
        level: AssuranceLevel::L1,
        now,
        max_qr_age_secs: 90,
        max_cache_age_secs: 86_400,
    }
}

/// The payload a wallet packs into the QR code for `presentation`.
fn payload(presentation: &str) -> Vec<u8> {
    encode_qr_payload(&SdJwt::parse(presentation).unwrap()).unwrap()
}

/// Checks a QR at `now` against one counter's memory of accepted presentations.
fn check(
    qr: &str,
    purpose: &str,
    cache: &VerifierCache,
    now: i64,
    seen: &RefCell<HashMap<String, i64>>,
) -> Result<i64, String> {
    let verdict = check_offline_qr(&payload(qr), cache, &policy(purpose, now), None, |key| {
        seen.borrow().get(key).is_some_and(|until| *until >= now)
    })
    .map_err(|e| e.code().to_owned())?;
    seen.borrow_mut().insert(verdict.replay_key, verdict.remember_until);
    Ok(verdict.remember_until)
}

#[test]
fn every_attack_of_the_corpus_meets_its_refusal() {
    let corpus = corpus();
    let now = corpus["now"].as_i64().unwrap();
    let caches: HashMap<&str, VerifierCache> =
        corpus["caches"].as_object().unwrap().iter().map(|(name, spec)| (name.as_str(), cache(spec, now))).collect();
    // One counter, so a replay after its original is seen as one.
    let seen = RefCell::new(HashMap::new());
    let mut outcomes: HashMap<String, String> = HashMap::new();
    for attack in corpus["attacks"].as_array().unwrap() {
        let name = attack["name"].as_str().unwrap();
        if let Some(before) = attack["after"].as_str() {
            assert_eq!(outcomes.get(before).map(String::as_str), Some("accepted"), "{name} runs after {before}");
        }
        let outcome = match (attack["qr"].as_str(), attack["credential"].as_str()) {
            (Some(qr), _) => {
                let cache = &caches[attack["cache"].as_str().unwrap_or("main")];
                check(qr, attack["purpose"].as_str().unwrap(), cache, now, &seen)
                    .map_or_else(|code| code, |_| "accepted".into())
            }
            (None, Some(credential)) => {
                let key = PublicJwk::from_value(&caches["main"].issuers[0].keys[0]).unwrap().verifying_key().unwrap();
                let options = VerifyOptions { now, clock_skew_secs: 60, expected_typ: None, key_binding: None };
                match verify_vc(&SdJwt::parse(credential).unwrap(), &key, &options) {
                    Ok(_) => "accepted".into(),
                    Err(e) => e.code().to_owned(),
                }
            }
            _ => panic!("{name}: neither a QR nor a credential"),
        };
        assert_eq!(outcome, attack["expect"].as_str().unwrap(), "{name}");
        outcomes.insert(name.to_owned(), outcome);
    }
    assert_eq!(outcomes.len(), corpus["attacks"].as_array().unwrap().len(), "every attack ran");
}

/// A QR whose key binding `iat` is 29 s in the future stays valid until
/// `iat + 90`: remembered exactly that long, refused as a replay at every
/// second of it (−1, 0), and as too old the second after (+1).
#[test]
fn a_qr_is_remembered_until_the_last_second_it_could_verify() {
    let corpus = corpus();
    let now = corpus["now"].as_i64().unwrap();
    let cache = cache(&corpus["caches"]["main"], now);
    let future = corpus["attacks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "a QR whose key binding iat is 29 s in the future")
        .unwrap()["qr"]
        .as_str()
        .unwrap();
    let seen = RefCell::new(HashMap::new());
    let until = check(future, "hotel_checkin", &cache, now, &seen).unwrap();
    assert_eq!(until, now + 29 + 90, "the last second it verifies: its iat plus the QR's 90 s");
    for at in [until - 1, until] {
        assert_eq!(
            check(future, "hotel_checkin", &cache, at, &seen).unwrap_err(),
            "credential.offline.replayed",
            "t = until{}",
            at - until
        );
        let fresh = RefCell::new(HashMap::new());
        assert!(
            check(future, "hotel_checkin", &cache, at, &fresh).is_ok(),
            "it does verify then, so it must be remembered"
        );
    }
    assert_eq!(check(future, "hotel_checkin", &cache, until + 1, &seen).unwrap_err(), "credential.kb.too_old");
    assert_eq!(
        check(future, "hotel_checkin", &cache, now - 30, &seen).unwrap_err(),
        "credential.time.future_iat",
        "59 s ahead of the counter's clock"
    );
}
