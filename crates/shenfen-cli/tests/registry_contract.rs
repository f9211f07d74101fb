//! `shenfen registry synth|import` and `shenfen audit verify` through the real
//! binary, on SQLite and on the real PostgreSQL server: bad rows reported by
//! line without echoing ID numbers, resumption after a kill -9 mid-import with
//! no partial batch, templates from real photos, an intact audit chain.

// Test helpers outside #[test] functions may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

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
        again.contains("imported 3000") && again.contains("resumed at line"),
        "re-running resumes, adds nothing: {again}"
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
fn a_killed_import_resumes_without_partial_batches() {
    let dir = workdir("kill");
    ok(&dir, &["registry", "synth", "--count", "60000", "--out", "syn"]);
    let db = "sqlite:registry.db";
    let mut child = shenfen(
        &dir,
        &["registry", "import", "--records", "syn/records.csv", "--no-faces", "--batch", "500", "--db", db],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    // Kill it once the WAL shows committed batches, before the end.
    let start = Instant::now();
    while std::fs::metadata(dir.join("registry.db-wal")).map_or(0, |m| m.len()) < 400_000
        && start.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let out =
        ok(&dir, &["registry", "import", "--records", "syn/records.csv", "--no-faces", "--batch", "500", "--db", db]);
    assert!(out.contains("holds 60000 citizens"), "{out}");
    let resumed: u64 = out
        .split("resumed at line ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the kill came before any batch committed: {out}"));
    assert!(resumed < 60_001, "the kill came after the import finished: {out}");
    assert_eq!((resumed - 2) % 500, 0, "progress is only ever committed with whole batches");
    assert!(ok(&dir, &["audit", "verify", "--db", db]).contains("entries verified"));
}

#[test]
fn photos_become_templates_and_faceless_photos_are_refused() {
    let dir = workdir("faces");
    let photos = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/photos");
    let jsonl = [
        r#"{"id_number":"440106199003071223","name":"林晓梅","sex":"female","ethnicity":"汉","birth_date":"1990-03-07","address":"广东省广州市天河区天河路1号","issuing_authority":"广州市公安局天河分局","valid_from":"2015-06-01","valid_until":"2035-06-01","photo":"obama.jpg"}"#,
        r#"{"id_number":"11010519491231002X","name":"张秀英","sex":"female","ethnicity":"汉","birth_date":"1949-12-31","address":"北京市朝阳区某街1号","issuing_authority":"北京市公安局朝阳分局","valid_from":"2010-01-01","valid_until":"长期","photo":"missing.jpg"}"#,
    ]
    .join("\n");
    std::fs::write(dir.join("records.jsonl"), jsonl).unwrap();
    let out = run(
        &dir,
        &[
            "registry",
            "import",
            "--records",
            "records.jsonl",
            "--photos",
            photos.to_str().unwrap(),
            "--db",
            "sqlite:r.db",
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("records.jsonl:2: skipped: photo: cannot read"), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("imported 1 and rejected 1"));
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
