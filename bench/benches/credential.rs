//! Micro-benchmarks of the credential hot paths (divan).
//!
//! Each group carries its own baseline, measured in the same run:
//! - `es256`: the aws-lc-rs verify that shenfen uses, beside the pure-Rust
//!   `p256` crate (the alternative backend) — the measurement behind the choice.
//! - `verify`: a whole presentation verification, beside the two raw
//!   signature verifications it cannot avoid (the floor).
//!
//! Run: `cargo bench -p shenfen-bench` (`cargo bench -p shenfen-bench --bench credential -- --sample-count 300` for tighter numbers).

// Benchmark setup may panic: a broken fixture must stop the run, not be measured.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::LazyLock;

use divan::Bencher;
use p256::ecdsa::signature::Verifier as _;
use shenfen_credential::es256::{SigningKey, VerifyingKey};
use shenfen_credential::{
    Disclosure, KeyBindingCheck, PrivateJwk, SdJwt, StatusList, VcIssuance, VerifyOptions, issue_vc, present, verify_vc,
};

fn main() {
    divan::main();
}

const NOW: i64 = 1_800_000_000;
const AUD: &str = "https://hotel.example";
const NONCE: &str = "bench-nonce";

struct Fixture {
    issuer: VerifyingKey,
    presentation: String,
    issuer_jwt: String,
    disclosure: String,
    message: Vec<u8>,
    signature: [u8; 64],
    point: ([u8; 32], [u8; 32]),
    p256_key: p256::ecdsa::VerifyingKey,
}

/// One reference presentation: an SD-JWT VC with 3 selectively disclosable
/// claims, 1 disclosed, key-bound.
static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let issuer = PrivateJwk::generate().unwrap();
    let holder = PrivateJwk::generate().unwrap();
    let claims = serde_json::json!({
        "iss": "https://authority.gd.example", "name": "林晓梅", "id_number_masked": "440106********1223",
        "age_over_18": true, "edition": "lightweight",
    });
    let disclosable: Vec<String> = ["/name", "/id_number_masked", "/age_over_18"].map(String::from).to_vec();
    let params = VcIssuance {
        vct: "urn:shenfen:id:lightweight:1",
        holder: holder.public(),
        issued_at: NOW,
        expires_at: NOW + 3600,
        status: None,
        kid: None,
        disclosable: &disclosable,
        max_decoys: 3,
    };
    let credential = issue_vc(&issuer.signing_key().unwrap(), claims.as_object().unwrap().clone(), &params).unwrap();
    let presentation =
        present(&credential, &["/age_over_18".into()], &holder.signing_key().unwrap(), AUD, NONCE, NOW).unwrap();
    let raw = SigningKey::generate().unwrap();
    let message = presentation.issuer_jwt().as_bytes().to_vec();
    let signature = raw.sign(&message).unwrap();
    let point = raw.public_coordinates();
    let mut sec1 = vec![4u8];
    sec1.extend_from_slice(&point.0);
    sec1.extend_from_slice(&point.1);
    Fixture {
        issuer: issuer.public().verifying_key().unwrap(),
        issuer_jwt: presentation.issuer_jwt().to_owned(),
        disclosure: presentation.disclosures()[0].encoded().to_owned(),
        presentation: presentation.serialize(),
        message,
        signature,
        point,
        p256_key: p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).unwrap(),
    }
});

mod es256 {
    use super::*;

    #[divan::bench]
    fn aws_lc_rs_verify(bencher: Bencher) {
        let f = &*FIXTURE;
        let key = VerifyingKey::from_coordinates(&f.point.0, &f.point.1).unwrap();
        bencher.bench(|| assert!(key.verify(black_box(&f.message), black_box(&f.signature))));
    }

    #[divan::bench]
    fn aws_lc_rs_parse_key_and_verify(bencher: Bencher) {
        let f = &*FIXTURE;
        bencher.bench(|| {
            let key = VerifyingKey::from_coordinates(black_box(&f.point.0), black_box(&f.point.1)).unwrap();
            assert!(key.verify(&f.message, &f.signature));
        });
    }

    #[divan::bench]
    fn p256_crate_verify_baseline(bencher: Bencher) {
        let f = &*FIXTURE;
        let signature = p256::ecdsa::Signature::from_slice(&f.signature).unwrap();
        bencher.bench(|| assert!(f.p256_key.verify(black_box(&f.message), black_box(&signature)).is_ok()));
    }
}

mod parse {
    use super::*;

    #[divan::bench]
    fn sd_jwt_presentation(bencher: Bencher) {
        bencher.bench(|| SdJwt::parse(black_box(&FIXTURE.presentation)).unwrap());
    }

    #[divan::bench]
    fn issuer_jwt(bencher: Bencher) {
        bencher.bench(|| shenfen_credential::Jws::parse(black_box(&FIXTURE.issuer_jwt), "bench").unwrap());
    }

    #[divan::bench]
    fn disclosure_with_digest(bencher: Bencher) {
        bencher.bench(|| Disclosure::parse(black_box(&FIXTURE.disclosure)).unwrap());
    }

    #[divan::bench]
    fn holder_jwk(bencher: Bencher) {
        let jwk = PrivateJwk::generate().unwrap().public().to_value();
        bencher.bench(|| shenfen_credential::PublicJwk::from_value(black_box(&jwk)).unwrap());
    }
}

mod verify {
    use super::*;

    /// The floor: the two signature verifications (issuer JWT and KB-JWT) with pre-parsed keys.
    #[divan::bench]
    fn two_raw_signatures_floor(bencher: Bencher) {
        let f = &*FIXTURE;
        let key = VerifyingKey::from_coordinates(&f.point.0, &f.point.1).unwrap();
        bencher.bench(|| {
            assert!(key.verify(black_box(&f.message), black_box(&f.signature)));
            assert!(key.verify(black_box(&f.message), black_box(&f.signature)));
        });
    }

    #[divan::bench]
    fn presentation(bencher: Bencher) {
        let f = &*FIXTURE;
        let options = VerifyOptions {
            now: NOW,
            clock_skew_secs: 60,
            expected_typ: None,
            key_binding: Some(KeyBindingCheck { audience: AUD, nonce: NONCE, max_age_secs: 300 }),
        };
        bencher.bench(|| {
            let parsed = SdJwt::parse(black_box(&f.presentation)).unwrap();
            verify_vc(&parsed, &f.issuer, &options).unwrap()
        });
    }
}

mod status_list {
    use super::*;

    static LIST: LazyLock<serde_json::Value> = LazyLock::new(|| {
        let mut list = StatusList::new(1 << 20, 1).unwrap();
        for i in (0..1 << 20).step_by(97) {
            list.set(i, 1).unwrap();
        }
        list.to_json().unwrap()
    });

    #[divan::bench]
    fn decode_1m_entries(bencher: Bencher) {
        bencher.bench(|| StatusList::from_json(black_box(&LIST)).unwrap());
    }

    #[divan::bench]
    fn lookup(bencher: Bencher) {
        let list = StatusList::from_json(&LIST).unwrap();
        bencher.bench(|| list.get(black_box(777_777)).unwrap());
    }
}
