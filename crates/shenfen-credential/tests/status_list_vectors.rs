//! The examples of the IETF Token Status List draft as vectors: the inputs of
//! its example generator (`src/main.py`) against its published encodings.

// Test helpers outside #[test] functions may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

use serde_json::{Value, json};
use shenfen_credential::{CredentialError, PublicJwk, StatusList, StatusListToken, StatusReference, StatusType};

fn load(name: &str) -> Value {
    let path = format!("{}/tests/vectors/status_list/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn published_encodings_decode_to_the_generator_inputs() {
    for v in load("encodings.json")["vectors"].as_array().unwrap() {
        let name = v["name"].as_str().unwrap();
        let list = StatusList::from_json(&json!({"bits": v["bits"], "lst": v["lst"]})).unwrap();
        assert_eq!(u64::from(list.bits()), v["bits"].as_u64().unwrap(), "{name}");
        assert!(list.len() >= v["size"].as_u64().unwrap(), "{name}");
        let set: Vec<(u64, u8)> = v["set"]
            .as_array()
            .unwrap()
            .iter()
            .map(|pair| (pair[0].as_u64().unwrap(), pair[1].as_u64().unwrap() as u8))
            .collect();
        for &(index, value) in &set {
            assert_eq!(list.get(index).unwrap(), value, "{name} index {index}");
        }
        let nonzero = (0..list.len()).filter(|&i| list.get(i).unwrap() != 0).count();
        let expected_nonzero = set.iter().filter(|(_, value)| *value != 0).count();
        assert_eq!(nonzero, expected_nonzero, "{name}: no other entry is set");
        // Re-encoding may compress differently (DEFLATE is not canonical), but must decode the same.
        assert_eq!(StatusList::from_json(&list.to_json().unwrap()).unwrap(), list, "{name}");
    }
}

#[test]
fn generator_inputs_encode_to_the_published_bytes() {
    for v in load("encodings.json")["vectors"].as_array().unwrap() {
        let Some(bytes) = v.get("bytes") else {
            continue;
        };
        let mut list = StatusList::new(v["size"].as_u64().unwrap(), v["bits"].as_u64().unwrap() as u8).unwrap();
        for pair in v["set"].as_array().unwrap() {
            list.set(pair[0].as_u64().unwrap(), pair[1].as_u64().unwrap() as u8).unwrap();
        }
        let bytes: Vec<u8> = bytes.as_array().unwrap().iter().map(|b| b.as_u64().unwrap() as u8).collect();
        assert_eq!(list.as_bytes(), bytes.as_slice(), "{}", v["name"]);
    }
}

#[test]
fn published_status_list_token_verifies() {
    let v = load("status_list_jwt.json");
    let key = PublicJwk::from_value(&v["issuer_jwk"]).unwrap().verifying_key().unwrap();
    let iat = v["iat"].as_i64().unwrap();
    let token = StatusListToken::verify(v["jwt"].as_str().unwrap(), &key, iat + 10, 60).unwrap();
    assert_eq!(token.subject, v["sub"].as_str().unwrap());
    assert_eq!(token.ttl, Some(43_200));
    assert_eq!(token.expires_at, v["exp"].as_i64());
    let at = |idx| token.status_of(&StatusReference { uri: token.subject.clone(), idx });
    assert_eq!(at(0), Ok(StatusType::Invalid));
    assert_eq!(at(1), Ok(StatusType::Valid));
    let elsewhere = StatusReference { uri: "https://example.com/statuslists/2".into(), idx: 1 };
    assert!(matches!(token.status_of(&elsewhere), Err(CredentialError::StatusListSubjectMismatch { .. })));
    let after_exp = v["exp"].as_i64().unwrap() + 61;
    assert!(matches!(
        StatusListToken::verify(v["jwt"].as_str().unwrap(), &key, after_exp, 60),
        Err(CredentialError::Expired { what: "status list", .. })
    ));
}
