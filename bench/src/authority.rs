//! The benchmark authority: a fresh SQLite store and keys in a temporary
//! directory, a registry of one citizen, wired as `shenfen serve` wires it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;
use shenfen_core::{CardValidity, CitizenRecord, IdNumber};
use shenfen_credential::PrivateJwk;
use shenfen_face::{FaceEngine, QualityPolicy};
use shenfen_server::{AppState, Issuer, Policy, WebAssets};
use shenfen_store::{ImportProgress, LocalKeys, RegistryEntry, SqlStore};

use crate::models::Models;

/// The registered citizen of the benchmark authority.
pub(crate) const CITIZEN: &str = "110105196108040136";
/// The benchmark authority's issuer identifier.
pub(crate) const BENCH_ISSUER: &str = "http://bench.invalid";

/// The runtime the authority is served on: two workers, as `shenfen serve` has.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?)
}

/// The authority of a benchmark that does no face work (issuance,
/// presentation): the engine is loaded with one thread only because the
/// authority holds one; state in a fresh `shenfen-bench-<label>-<pid>`
/// directory. Returns the runtime that serves it, and the directory to remove after.
pub(crate) fn authority_without_face_work(
    label: &str,
    models: &Models,
    policy: Policy,
) -> Result<(tokio::runtime::Runtime, Arc<AppState>, PathBuf)> {
    let engine = Arc::new(models.engine(1)?);
    let rt = runtime()?;
    let dir = std::env::temp_dir().join(format!("shenfen-bench-{label}-{}", std::process::id()));
    let state = rt.block_on(bench_state(&dir, engine, models, policy))?;
    Ok((rt, state, dir))
}

/// A fresh authority in `dir` (SQLite, random keys and issuer key) whose
/// registry holds the demo citizen 王建国 with `obama.jpg` as registry photo.
pub(crate) async fn bench_state(
    dir: &Path,
    engine: Arc<FaceEngine>,
    models: &Models,
    policy: Policy,
) -> Result<Arc<AppState>> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    let keys = LocalKeys::parse(&format!("k1:{}", LocalKeys::generate_secret()?), &LocalKeys::generate_secret()?)?;
    let store = SqlStore::open(&format!("sqlite:{}", dir.join("bench.db").display())).await?;
    let registry_face = engine.analyse(&models.decode_photo("obama.jpg")?, &QualityPolicy::default())?;
    let sealed = RegistryEntry { record: citizen()?, face_template: Some(engine.template(&registry_face).to_bytes()) }
        .seal(&keys)?;
    store.put_entries(&[sealed], "bench", ImportProgress::default(), 0).await?;
    let issuer = Issuer::new(BENCH_ISSUER, &PrivateJwk::generate()?, Vec::new())?;
    Ok(AppState::build(Arc::new(store), Arc::new(keys), engine, issuer, policy, WebAssets::default())?)
}

/// The registry record of [`CITIZEN`].
fn citizen() -> Result<CitizenRecord> {
    let id_number = IdNumber::parse(CITIZEN)?;
    Ok(CitizenRecord {
        birth_date: id_number.birth_date(),
        sex: id_number.sex(),
        id_number,
        name: "王建国".into(),
        ethnicity: "汉".into(),
        address: "北京市朝阳区建国路88号".into(),
        issuing_authority: "北京市公安局朝阳分局".into(),
        validity: CardValidity { from: time::macros::date!(2012 - 03 - 01), until: None },
        photo_ref: "obama.jpg".into(),
    })
}
