//! `shenfen registry synth|import` and `shenfen audit verify` through the real
//! binary, on SQLite and on the real PostgreSQL server: bad rows reported by
//! line without echoing ID numbers, resumption after a kill -9 mid-import with
//! no partial batch, templates from real photos, an intact audit chain.

// Test helpers outside #[test] functions may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const MASTER: &str = "k1:4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a";
const INDEX: &str = "5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b";

fn workdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("shenfen-registry-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn shenfen(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shenfen"));
    cmd.current_dir(dir).args(args).env("SHENFEN_MASTER_KEYS", MASTER).env("SHENFEN_INDEX_KEY", INDEX);
    cmd
}

fn run(dir: &Path, args: &[&str]) -> Output {
    shenfen(dir, args).output().unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn postgres_url(name: &str) -> String {
    let base =
        std::env::var("SHENFEN_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!("shenfen_cli_{name}_{}", std::process::id());
    // Earlier runs' schemas (other process ids) are dropped first.
    let sweep = format!(
        "DO $$DECLARE s text; BEGIN FOR s IN SELECT nspname FROM pg_namespace WHERE nspname LIKE 'shenfen_cli_%' \
         AND nspname NOT LIKE '%\\_{pid}' LOOP EXECUTE format('DROP SCHEMA %I CASCADE', s); END LOOP; END$$;",
        pid = std::process::id()
    );
    let psql = Command::new("psql")
        .args([&base, "-qc", &sweep, "-qc", &format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")])
        .output()
        .unwrap();
    assert!(psql.status.success(), "{}", String::from_utf8_lossy(&psql.stderr));
    format!("{base}?options=-c%20search_path%3D{schema}")
}

fn import_synthetic_and_verify(db: &str, name: &str) {
    let dir = workdir(name);
    ok(&dir, &["registry", "synth", "--count", "3000", "--out", "syn"]);
    let out = ok(&dir, &["registry", "import", "--records", "syn/records.csv", "--no-faces", "--db", db]);
    assert!(out.contains("imported 3000 and rejected 0"), "{out}");
    let again = ok(&dir, &["registry", "import", "--records", "syn/records.csv", "--no-faces", "--db", db]);
    assert!(
        again.starts_with("nothing to import: the 3000 rows of syn/records.csv were imported before"),
        "re-running resumes, adds nothing, and says so: {again}"
    );
    assert!(again.contains("holds 3000 citizens"));
    assert!(ok(&dir, &["audit", "verify", "--db", db]).contains("2 entries verified"));
}

#[test]
fn synthetic_registry_imports_on_sqlite() {
    import_synthetic_and_verify("sqlite:registry.db", "sqlite");
}

#[test]
fn synthetic_registry_imports_on_postgres() {
    import_synthetic_and_verify(&postgres_url("synth"), "postgres");
}

#[test]
fn bad_rows_are_reported_by_line_and_never_echo_the_number() {
    let dir = workdir("bad");
    ok(&dir, &["registry", "synth", "--count", "5", "--out", "syn"]);
    let mut csv = std::fs::read_to_string(dir.join("syn/records.csv")).unwrap();
    csv.push_str("110105194912310021,张三,female,汉,1949-12-31,北京,北京市公安局,2010-01-01,,\n");
    csv.push_str("11010519491231002X,张三,male,汉,1949-12-31,北京,北京市公安局,2010-01-01,,\n");
    csv.push_str("11010519491231002X,张三,female,汉,1949/12/31,北京,北京市公安局,2010-01-01,,\n");
    std::fs::write(dir.join("syn/records.csv"), csv).unwrap();
    let out = run(&dir, &["registry", "import", "--records", "syn/records.csv", "--no-faces", "--db", "sqlite:r.db"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("records.csv:7: skipped: id_number: the check character"), "{stderr}");
    assert!(stderr.contains("records.csv:8: skipped: citizen record: sex"), "{stderr}");
    assert!(stderr.contains("records.csv:9: skipped: birth_date"), "{stderr}");
    assert!(!stderr.contains("11010519491231002"), "an ID number was echoed: {stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("imported 5 and rejected 3"));
}

#[test]
fn a_crashed_import_resumes_without_partial_batches() {
    let dir = workdir("kill");
    ok(&dir, &["registry", "synth", "--count", "6000", "--out", "syn"]);
    let db = "sqlite:registry.db";
    let import = ["registry", "import", "--records", "syn/records.csv", "--no-faces", "--batch", "500", "--db", db];
    // The import dies inside its third batch's transaction, between the rows
    // and the progress that commits with them (a deterministic crash point,
    // as abrupt as kill -9).
    let crashed = shenfen(&dir, &import).env("SHENFEN_CRASH_POINT", "import:before-progress:3").output().unwrap();
    assert!(!crashed.status.success(), "the crash point was reached");
    let out = ok(&dir, &import);
    assert!(out.contains("holds 6000 citizens"), "{out}");
    assert!(
        out.contains("imported 5000 and rejected 0 rows (resumed at line 1002, 1000 rows imported before)"),
        "two whole batches committed, the third rolled back with its progress: {out}"
    );
    let audit = ok(&dir, &["audit", "verify", "--db", db]);
    assert!(audit.contains("audit chain intact: 1 entry verified"), "the crashed run left no audit entry: {audit}");
}

#[test]
fn photos_become_templates_and_faceless_photos_are_refused() {
    let dir = workdir("faces");
    // The registry's photo folder: a real portrait, and a real image with no face in it.
    let photos = dir.join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    let portraits = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/photos");
    std::fs::copy(portraits.join("obama.jpg"), photos.join("obama.jpg")).unwrap();
    let landscape = image::RgbImage::from_fn(640, 480, |x, y| image::Rgb([(x / 3) as u8, (y / 2) as u8, 120]));
    landscape.save(photos.join("landscape.png")).unwrap();
    let jsonl = [
        r#"{"id_number":"440106199003071223","name":"林晓梅","sex":"female","ethnicity":"汉","birth_date":"1990-03-07","address":"广东省广州市天河区天河路1号","issuing_authority":"广州市公安局天河分局","valid_from":"2015-06-01","valid_until":"2035-06-01","photo":"obama.jpg"}"#,
        r#"{"id_number":"11010519491231002X","name":"张秀英","sex":"female","ethnicity":"汉","birth_date":"1949-12-31","address":"北京市朝阳区某街1号","issuing_authority":"北京市公安局朝阳分局","valid_from":"2010-01-01","valid_until":"长期","photo":"landscape.png"}"#,
        r#"{"id_number":"440524188001010014","name":"李大","sex":"male","ethnicity":"汉","birth_date":"1880-01-01","address":"广东省汕头市某街1号","issuing_authority":"汕头市公安局","valid_from":"2010-01-01","valid_until":"长期","photo":"missing.jpg"}"#,
    ]
    .join("\n");
    std::fs::write(dir.join("records.jsonl"), jsonl).unwrap();
    let import = ["registry", "import", "--records", "records.jsonl", "--photos", "photos", "--db", "sqlite:r.db"];
    let out = run(&dir, &import);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("records.jsonl:2: skipped: photo: [face.quality.no_face] photos/landscape.png: no face"),
        "{stderr}"
    );
    assert!(
        stderr.contains("records.jsonl:3: skipped: photo: [cli.file.read] cannot read photos/missing.jpg"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("imported 1 and rejected 2"));
    // The one imported entry holds the template of its photo; the others are not there at all.
    let (imported, refused) = tokio::runtime::Runtime::new().unwrap().block_on(async {
        use shenfen_store::{BlindIndex, LocalKeys, SqlStore};
        let keys = LocalKeys::parse(MASTER, INDEX).unwrap();
        let store = SqlStore::open(&format!("sqlite:{}", dir.join("r.db").display())).await.unwrap();
        let index = |id: &str| BlindIndex::of(&keys, &shenfen_core::IdNumber::parse(id).unwrap());
        let lin = store.entry(&index("440106199003071223")).await.unwrap().unwrap().open(&keys).unwrap();
        (lin, store.entry(&index("11010519491231002X")).await.unwrap())
    });
    let template = shenfen_face::Template::from_bytes(&imported.face_template.unwrap()).unwrap();
    let engine = shenfen_face::FaceEngine::load(shenfen_face::ModelConfig::standard(&portraits.join(".."))).unwrap();
    let photo = shenfen_face::decode_image(&std::fs::read(portraits.join("obama.jpg")).unwrap()).unwrap();
    let face = engine.analyse(&photo, &shenfen_face::QualityPolicy::default()).unwrap();
    let similarity = template.similarity_to_live(&face.embedding).unwrap();
    assert!(similarity > 0.99, "the stored template is its photo's face ({similarity})");
    assert!(refused.is_none(), "a row refused for its photo is not half-imported");
}

#[test]
fn rewrap_moves_every_record_to_the_new_master_key() {
    let dir = workdir("rewrap");
    ok(&dir, &["registry", "synth", "--count", "1200", "--out", "syn"]);
    ok(&dir, &["registry", "import", "--records", "syn/records.csv", "--no-faces", "--db", "sqlite:r.db"]);
    let rotated = format!("k2:{},{MASTER}", "6c".repeat(32));
    let rewrap = |masters: &str| {
        let out = shenfen(&dir, &["registry", "rewrap", "--db", "sqlite:r.db"])
            .env("SHENFEN_MASTER_KEYS", masters)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(rewrap(&rotated).contains("re-wrapped 1200 records under master key k2"));
    let only_new = format!("k2:{}", "6c".repeat(32));
    assert!(rewrap(&only_new).contains("re-wrapped 0 records"), "nothing is left under the retired key");
    assert!(ok(&dir, &["audit", "verify", "--db", "sqlite:r.db"]).contains("3 entries verified"));
}
