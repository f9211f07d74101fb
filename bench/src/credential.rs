//! `shenfen-bench credential`: issue, present and verify rates on one thread,
//! beside the raw ES256 verify rate of the same backend measured in the same run.
//!
//! Verification runs over a pool of distinct presentations (distinct holder
//! keys, nonces and signatures), so no layer can cache a result, and is
//! measured in alternating chunks with the raw verify baseline.

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Result, ensure};
use clap::Args;
use serde_json::{Map, Value, json};
use shenfen_credential::es256::SigningKey;
use shenfen_credential::{
    PresentationPolicy, PrivateJwk, SdJwt, StatusList, StatusListToken, StatusReference, VcIssuer, present,
    verify_presentation,
};

use crate::timing::now_unix;

const AUDIENCE: &str = "https://hotel.example";
const STATUS_URI: &str = "https://authority.example/status/1";
const STATUS_LIST_SIZE: u64 = 1 << 20;
/// Distinct holder keys in the pool; each credential of a wallet batch has its own.
const HOLDER_KEYS: usize = 64;

#[derive(Args)]
pub(crate) struct BenchArgs {
    /// Operations per phase.
    #[arg(long, default_value_t = 4000, value_parser = clap::value_parser!(u64).range(10..))]
    iterations: u64,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// Rates of one run, in operations per second.
struct Rates {
    issue: f64,
    present: f64,
    verify: f64,
    raw_verify: f64,
    presentation_bytes: usize,
}

pub(crate) fn run(args: &BenchArgs) -> Result<ExitCode> {
    let n = usize::try_from(args.iterations)?;
    let rates = measure(n)?;
    let floor = rates.raw_verify / 2.0;
    let report = json!({
        "iterations": n,
        "threads": 1,
        "issue_per_sec": rates.issue.round(),
        "present_per_sec": rates.present.round(),
        "verify_per_sec": rates.verify.round(),
        "raw_es256_verify_per_sec": rates.raw_verify.round(),
        "two_signature_floor_per_sec": floor.round(),
        "verify_vs_floor": (rates.verify / floor * 1000.0).round() / 1000.0,
        "presentation_bytes": rates.presentation_bytes,
        "reference_case": "SD-JWT VC, 3 selectively disclosable claims, 1 disclosed, key binding, status list lookup",
    });
    if args.json {
        println!("{report}");
    } else {
        println!("shenfen-bench credential — one thread, {n} operations per phase");
        println!("  issue                {:>10.0} /s", rates.issue);
        println!("  present (KB-JWT)     {:>10.0} /s", rates.present);
        println!("  verify (+status)     {:>10.0} /s", rates.verify);
        println!("  raw ES256 verify     {:>10.0} /s   (aws-lc-rs, same run)", rates.raw_verify);
        println!("  2-signature floor    {:>10.0} /s", floor);
        println!("  verify / floor       {:>10.1} %", rates.verify / floor * 100.0);
        println!("  presentation size    {:>10} bytes", rates.presentation_bytes);
    }
    Ok(ExitCode::SUCCESS)
}

fn measure(n: usize) -> Result<Rates> {
    let issuer = PrivateJwk::generate()?.with_kid("bench-issuer");
    let holders = (0..HOLDER_KEYS).map(|_| PrivateJwk::generate()).collect::<Result<Vec<_>, _>>()?;
    let holder_signers = holders.iter().map(PrivateJwk::signing_key).collect::<Result<Vec<_>, _>>()?;
    let now = now_unix();
    let disclosable: Vec<String> = ["/name", "/id_number_masked", "/age_over_18"].map(String::from).to_vec();
    let disclose = vec!["/age_over_18".to_owned()];

    let signer = VcIssuer::new(&issuer)?;
    let (issue, credentials) = rate(n, |i| {
        let status = StatusReference { uri: STATUS_URI.into(), idx: (i as u64 * 7919) % STATUS_LIST_SIZE };
        signer.issue(
            holders[i % HOLDER_KEYS].public(),
            "urn:shenfen:id:lightweight:1",
            claims(),
            &disclosable,
            Some(&status),
            now..now + 3600,
        )
    })?;
    let (present_rate, presentations) = rate(n, |i| {
        let nonce = format!("nonce-{i}");
        present(&credentials[i], &disclose, &holder_signers[i % HOLDER_KEYS], AUDIENCE, &nonce, now)
            .map(|p: SdJwt| p.serialize())
    })?;
    let status_token = published_status_list(&issuer, now)?;
    let issuer_key = issuer.public().verifying_key()?;
    let raw = RawSignatures::new(n)?;
    let (verify, raw_verify) = interleaved_rates(
        n,
        |i| {
            let nonce = format!("nonce-{i}");
            let policy =
                PresentationPolicy { audience: AUDIENCE, nonce: &nonce, max_age_secs: 300, clock_skew_secs: 60 };
            verify_presentation(&presentations[i], &issuer_key, &policy, Some(&status_token), now)
                .map(|v| !v.claims.is_empty())
                .map_err(anyhow::Error::from)
        },
        |i| Ok(raw.verify(i)),
    )?;
    Ok(Rates {
        issue,
        present: present_rate,
        verify,
        raw_verify,
        presentation_bytes: presentations.first().map_or(0, String::len),
    })
}

fn claims() -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("iss".into(), json!("https://authority.gd.example"));
    claims.insert("name".into(), json!("张三"));
    claims.insert("id_number_masked".into(), json!("440106********123X"));
    claims.insert("age_over_18".into(), json!(true));
    claims.insert("edition".into(), json!("lightweight"));
    claims
}

fn published_status_list(issuer: &PrivateJwk, now: i64) -> Result<StatusListToken> {
    let mut list = StatusList::new(STATUS_LIST_SIZE, 1)?;
    list.set(STATUS_LIST_SIZE - 1, 1)?;
    let token = StatusListToken {
        subject: STATUS_URI.into(),
        issued_at: now,
        expires_at: Some(now + 3600),
        ttl: Some(300),
        list,
    };
    let jwt = token.sign(&issuer.signing_key()?, None)?;
    Ok(StatusListToken::verify(&jwt, &issuer.public().verifying_key()?, now, 60)?)
}

/// Distinct messages of a credential's size, signed, with a pre-parsed key:
/// the raw ES256 verification that no verifier can avoid.
struct RawSignatures {
    verifier: shenfen_credential::es256::VerifyingKey,
    messages: Vec<Vec<u8>>,
    signatures: Vec<[u8; 64]>,
}

impl RawSignatures {
    fn new(n: usize) -> Result<RawSignatures> {
        let key = SigningKey::generate()?;
        let (x, y) = key.public_coordinates();
        let verifier = shenfen_credential::es256::VerifyingKey::from_coordinates(&x, &y)?;
        let messages: Vec<Vec<u8>> = (0..n).map(|i| format!("{i:0>600}").into_bytes()).collect();
        let signatures = messages.iter().map(|m| key.sign(m)).collect::<Result<Vec<_>, _>>()?;
        Ok(RawSignatures { verifier, messages, signatures })
    }

    fn verify(&self, i: usize) -> bool {
        self.verifier.verify(&self.messages[i], &self.signatures[i])
    }
}

/// Rates of `verify` and of its `baseline`, measured in alternating chunks so
/// that both see the same machine conditions (frequency, neighbours). Each op
/// must return `true`; anything else aborts the benchmark.
fn interleaved_rates(
    n: usize,
    mut verify: impl FnMut(usize) -> Result<bool>,
    mut baseline: impl FnMut(usize) -> Result<bool>,
) -> Result<(f64, f64)> {
    const ROUNDS: usize = 10;
    let (mut verify_secs, mut baseline_secs) = (0.0, 0.0);
    for round in 0..ROUNDS {
        let chunk = round * n / ROUNDS..(round + 1) * n / ROUNDS;
        let start = Instant::now();
        for i in chunk.clone() {
            ensure!(baseline(i)?, "a raw signature failed to verify");
        }
        baseline_secs += start.elapsed().as_secs_f64();
        let start = Instant::now();
        for i in chunk {
            ensure!(black_box(verify(i)?), "a presentation failed to verify");
        }
        verify_secs += start.elapsed().as_secs_f64();
    }
    let per_sec = |secs: f64| n as f64 / secs.max(f64::MIN_POSITIVE);
    Ok((per_sec(verify_secs), per_sec(baseline_secs)))
}

/// Runs `op` for 0..n after a short warm-up and returns (operations per second, results).
fn rate<T, E: Into<anyhow::Error>>(n: usize, mut op: impl FnMut(usize) -> Result<T, E>) -> Result<(f64, Vec<T>)> {
    for i in 0..n.min(50) {
        black_box(op(i).map_err(Into::into)?);
    }
    let mut results = Vec::with_capacity(n);
    let start = Instant::now();
    for i in 0..n {
        results.push(op(i).map_err(Into::into)?);
    }
    let secs = start.elapsed().as_secs_f64();
    Ok((n as f64 / secs.max(f64::MIN_POSITIVE), results))
}
