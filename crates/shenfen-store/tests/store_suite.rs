//! One behavioural suite, run against both backends: SQLite in a temporary
//! file and the real PostgreSQL server (`SHENFEN_TEST_POSTGRES`, default
//! postgres://postgres@127.0.0.1:5432/test; `.ci/run` starts it), each test in
//! a schema of its own.

// Test helpers outside #[test] functions may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use serde_json::json;
use shenfen_core::{
    AssuranceLevel, CardValidity, CitizenRecord, Edition, IdNumber, OperatorRole, PinLockout, Question,
};
use shenfen_store::{
    Attestation, AuditEvent, Authorization, AuthorizationCode, BlindIndex, ClientAuthentication, CredentialHolder,
    EnrollmentSession, FRAME_PRINT_DAYS, Grant, GrantKind, ImportProgress, Issuance, KeyProvider, LocalKeys, Offer,
    OpenIdClient, Operator, PinReservation, PresentationQuery, PresentationRequest, PresentationStatus, RegistryEntry,
    RelyingParty, SealedValue, SqlStore, StoreError,
};
use sqlx::Connection;

static NEXT: AtomicU32 = AtomicU32::new(0);
static SWEPT: AtomicBool = AtomicBool::new(false);

/// Drops the schemas earlier runs of this suite left behind (other process ids).
async fn sweep_old_schemas(admin: &mut sqlx::AnyConnection) {
    if SWEPT.swap(true, Ordering::SeqCst) {
        return;
    }
    let mine = format!("shenfen_test_{}_%", std::process::id());
    let rows = sqlx::query(
        "SELECT nspname::text AS nspname FROM pg_namespace WHERE nspname LIKE 'shenfen_test_%' AND nspname NOT LIKE $1",
    )
    .bind(mine)
    .fetch_all(&mut *admin)
    .await
    .unwrap();
    for row in rows {
        let name: String = sqlx::Row::get(&row, "nspname");
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {name} CASCADE")))
            .execute(&mut *admin)
            .await
            .unwrap();
    }
}

/// A fresh, empty database of the given kind.
async fn fresh(kind: &str) -> (SqlStore, String) {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    match kind {
        "sqlite" => {
            let dir = std::env::temp_dir().join(format!("shenfen-store-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let url = format!("sqlite:{}", dir.join("registry.db").display());
            (SqlStore::open(&url).await.unwrap(), url)
        }
        _ => {
            let base = std::env::var("SHENFEN_TEST_POSTGRES")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
            let schema = format!("shenfen_test_{}_{n}", std::process::id());
            sqlx::any::install_default_drivers();
            let mut admin =
                sqlx::AnyConnection::connect(&base).await.unwrap_or_else(|e| panic!("PostgreSQL at {base}: {e}"));
            sweep_old_schemas(&mut admin).await;
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE")))
                .execute(&mut admin)
                .await
                .unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&mut admin).await.unwrap();
            let url = format!("{base}?options=-c%20search_path%3D{schema}");
            (SqlStore::open(&url).await.unwrap(), url)
        }
    }
}

fn keys() -> LocalKeys {
    LocalKeys::parse(&format!("k1:{}", "11".repeat(32)), &"22".repeat(32)).unwrap()
}

fn entry(id: &str, name: &str) -> RegistryEntry {
    let id_number = IdNumber::parse(id).unwrap();
    RegistryEntry {
        record: CitizenRecord {
            birth_date: id_number.birth_date(),
            sex: id_number.sex(),
            id_number,
            name: name.into(),
            ethnicity: "汉".into(),
            address: "广东省广州市天河区天河路1号".into(),
            issuing_authority: "广州市公安局天河分局".into(),
            validity: CardValidity { from: time::macros::date!(2015 - 06 - 01), until: None },
            photo_ref: "photos/x.jpg".into(),
        },
        face_template: Some(vec![1, 2, 3, 4]),
    }
}

const LIN: &str = "440106199003071223";
const ZHANG: &str = "11010519491231002X";

async fn entries_round_trip_sealed(kind: &str) {
    let (store, url) = fresh(kind).await;
    let keys = keys();
    let (lin, zhang) = (entry(LIN, "林晓梅"), entry(ZHANG, "张秀英"));
    let batch = [lin.seal(&keys).unwrap(), zhang.seal(&keys).unwrap()];
    store
        .put_entries(&batch, "registry.csv", ImportProgress { next_line: 3, imported: 2, rejected: 0 }, 1_800_000_000)
        .await
        .unwrap();
    let index = BlindIndex::of(&keys, &lin.record.id_number);
    assert_eq!(store.entry(&index).await.unwrap().unwrap().open(&keys).unwrap(), lin);
    assert_eq!(store.entry_count().await.unwrap(), 2);
    let unknown = BlindIndex::of(&keys, &IdNumber::parse("440524188001010014").unwrap());
    assert!(store.entry(&unknown).await.unwrap().is_none());
    assert_eq!(
        store.import_progress("registry.csv").await.unwrap(),
        Some(ImportProgress { next_line: 3, imported: 2, rejected: 0 })
    );
    assert_eq!(store.import_progress("other.csv").await.unwrap(), None);
    // A sealed row moved under another index does not open.
    let mut moved = store.entry(&index).await.unwrap().unwrap();
    moved.index = unknown;
    assert!(matches!(moved.open(&keys), Err(StoreError::Unseal(_))));
    store.close().await;
    // A copy of the database reveals no ID number, name, address or birth date:
    // the SQLite file and its WAL byte for byte, every PostgreSQL row as text
    // (bytea columns in hex, so a plaintext number stored as bytes shows too).
    let copy = database_copy(kind, &url).await;
    for secret in [LIN, ZHANG, "林晓梅", "张秀英", "天河路", "19900307"] {
        let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
        for needle in [secret.as_bytes(), hex.as_bytes()] {
            assert!(
                !copy.windows(needle.len()).any(|w| w == needle),
                "{secret} found in a copy of the {kind} database"
            );
        }
    }
    assert!(copy.len() > 1000, "the copy holds the sealed rows ({} bytes)", copy.len());
}

/// What a copy of the database holds: the SQLite file and its WAL, or every
/// row of every table of the PostgreSQL schema as JSON text.
async fn database_copy(kind: &str, url: &str) -> Vec<u8> {
    if kind == "sqlite" {
        let path = url.trim_start_matches("sqlite:");
        let mut bytes = std::fs::read(path).unwrap();
        bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
        return bytes;
    }
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    let tables = sqlx::query(
        "SELECT table_name::text AS name FROM information_schema.tables WHERE table_schema = current_schema()",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut bytes = Vec::new();
    for table in tables {
        let name: String = sqlx::Row::get(&table, "name");
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT row_to_json(t)::text AS j FROM \"{name}\" t")))
            .fetch_all(&mut conn)
            .await
            .unwrap();
        for row in rows {
            bytes.extend(sqlx::Row::get::<String, _>(&row, "j").into_bytes());
        }
    }
    bytes
}

async fn a_citizen_twice_in_one_batch_keeps_the_last_row(kind: &str) {
    let (store, _) = fresh(kind).await;
    let keys = keys();
    let (first, second) = (entry(LIN, "林晓梅"), entry(LIN, "林小梅"));
    let mut batch = vec![first.seal(&keys).unwrap()];
    batch.extend((0..600).map(|_| entry(ZHANG, "张秀英").seal(&keys).unwrap()));
    batch.push(second.seal(&keys).unwrap());
    store.put_entries(&batch, "dup", ImportProgress::default(), 0).await.unwrap();
    assert_eq!(store.entry_count().await.unwrap(), 2);
    let index = BlindIndex::of(&keys, &first.record.id_number);
    assert_eq!(store.entry(&index).await.unwrap().unwrap().open(&keys).unwrap().record.name, "林小梅");
}

async fn key_rotation_rewraps_without_plaintext(kind: &str) {
    let (store, _) = fresh(kind).await;
    let old = keys();
    let lin = entry(LIN, "林晓梅");
    store.put_entries(&[lin.seal(&old).unwrap()], "r", ImportProgress::default(), 0).await.unwrap();
    let subject = BlindIndex::of(&old, &lin.record.id_number);
    let decided = AuditEvent {
        at: 5,
        kind: "enrollment.decision".into(),
        actor: "citizen".into(),
        subject: Some(subject),
        details: json!({}),
    };
    let print = SealedValue::seal(&old, &[7; 8], &subject.0).unwrap();
    store.record_decision(None, decided, None, Some(&print)).await.unwrap();
    let rotated =
        LocalKeys::parse(&format!("k2:{},k1:{}", "33".repeat(32), "11".repeat(32)), &"22".repeat(32)).unwrap();
    assert_eq!(store.rewrap(&rotated).await.unwrap(), 2, "the record and the frame print");
    assert_eq!(store.rewrap(&rotated).await.unwrap(), 0, "nothing left under the old key");
    let index = BlindIndex::of(&rotated, &lin.record.id_number);
    let sealed = store.entry(&index).await.unwrap().unwrap();
    assert_eq!(sealed.key_id, "k2");
    let only_new = LocalKeys::parse(&format!("k2:{}", "33".repeat(32)), &"22".repeat(32)).unwrap();
    assert_eq!(sealed.open(&only_new).unwrap(), lin, "the old master key can now be retired");
    assert!(matches!(sealed.open(&old), Err(StoreError::Key(_))));
    let print = &store.frame_prints(&subject, 0, 10).await.unwrap()[0];
    assert_eq!(print.key_id, "k2");
    assert_eq!(&*print.open(&only_new, &subject.0).unwrap(), &[7; 8]);
}

fn event(n: i64, subject: Option<BlindIndex>) -> AuditEvent {
    AuditEvent {
        at: 1_800_000_000 + n,
        kind: "enrollment.decision".into(),
        actor: "system".into(),
        subject,
        details: json!({"n": n, "outcome": "matched"}),
    }
}

async fn audit_chain_verifies_and_names_the_first_broken_link(kind: &str) {
    let (store, url) = fresh(kind).await;
    let keys = keys();
    let lin = BlindIndex::of(&keys, &IdNumber::parse(LIN).unwrap());
    for n in 1..=6 {
        store.append_audit(event(n, (n % 2 == 0).then_some(lin))).await.unwrap();
    }
    assert_eq!(store.verify_audit().await.unwrap(), Ok(6));
    let own = store.audit_of(&lin, 0, 100).await.unwrap();
    assert_eq!(own.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2, 4, 6]);
    let page = store.audit_of(&lin, 2, 1).await.unwrap();
    assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![4], "a page: after a seq, at most the limit");
    let login = AuditEvent { kind: "operator.login".into(), ..event(7, None) };
    store.append_audit(login).await.unwrap();
    let recent = store.audit_of_kind_since("enrollment.decision", 1_800_000_004, 0, 10).await.unwrap();
    assert_eq!(recent.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![4, 5, 6], "by kind, from a time on");
    assert_eq!(store.audit_of_kind_since("enrollment.decision", 0, 0, 2).await.unwrap().len(), 2, "at most the limit");
    let next = store.audit_of_kind_since("enrollment.decision", 0, 4, 10).await.unwrap();
    assert_eq!(next.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![5, 6], "the page after seq 4");

    let mut raw = sqlx::AnyConnection::connect(&url).await.unwrap();
    sqlx::query("UPDATE audit_log SET details = '{\"n\":4,\"outcome\":\"rejected\"}' WHERE seq = 4")
        .execute(&mut raw)
        .await
        .unwrap();
    let broken = store.verify_audit().await.unwrap().unwrap_err();
    assert_eq!(broken.seq, 4, "{broken:?}");

    let (store, url) = fresh(kind).await;
    for n in 1..=3 {
        store.append_audit(event(n, None)).await.unwrap();
    }
    let mut raw = sqlx::AnyConnection::connect(&url).await.unwrap();
    sqlx::query("DELETE FROM audit_log WHERE seq = 3").execute(&mut raw).await.unwrap();
    assert_eq!(store.verify_audit().await.unwrap().unwrap_err().seq, 3, "truncation at the end is caught by the head");
    sqlx::query("DELETE FROM audit_log WHERE seq = 1").execute(&mut raw).await.unwrap();
    assert_eq!(store.verify_audit().await.unwrap().unwrap_err().seq, 2, "a missing first entry is caught");
}

/// 24 appends at once through two handles on the same database, each with
/// its own connections — as two processes would (on SQLite each handle has
/// one connection, so the race is between the two; on PostgreSQL also within
/// each pool): the chain stays one, with no gap and no fork.
async fn concurrent_appends_keep_one_chain(kind: &str) {
    let (store, url) = fresh(kind).await;
    let handles = [std::sync::Arc::new(store), std::sync::Arc::new(SqlStore::open(&url).await.unwrap())];
    let tasks: Vec<_> = (0..24)
        .map(|n| {
            let store = handles[n % 2].clone();
            tokio::spawn(async move { store.append_audit(event(n as i64, None)).await.unwrap().seq })
        })
        .collect();
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=24).collect::<Vec<_>>());
    assert_eq!(handles[0].verify_audit().await.unwrap(), Ok(24));
}

/// `audit verify` while the server writes: a second handle on the same
/// database (another process, as far as the database can tell) checks the
/// chain 200 times during a burst of appends — never a false alarm — and a
/// real truncation is still caught afterwards.
async fn the_audit_check_holds_while_others_write(kind: &str) {
    let (writer, url) = fresh(kind).await;
    let writer = std::sync::Arc::new(writer);
    let checker = SqlStore::open(&url).await.unwrap();
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let (writer, stop) = (writer.clone(), stop.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    writer.append_audit(event(w * 1_000_000 + n, None)).await.unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut verified = Vec::new();
    for _ in 0..200 {
        match checker.verify_audit().await.unwrap() {
            Ok(n) => verified.push(n),
            Err(broken) => panic!("false alarm during writes: {broken:?}"),
        }
    }
    stop.store(true, Ordering::Relaxed);
    let mut appended = 0;
    for w in writers {
        appended += w.await.unwrap();
    }
    assert!(verified.windows(2).all(|w| w[0] <= w[1]), "each check saw a chain at least as long as the one before");
    assert!(verified.last() > verified.first(), "the writes went on during the checks: {verified:?}");
    assert_eq!(checker.verify_audit().await.unwrap(), Ok(appended as u64));
    let mut raw = sqlx::AnyConnection::connect(&url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM audit_log WHERE seq = {appended}")))
        .execute(&mut raw)
        .await
        .unwrap();
    assert!(checker.verify_audit().await.unwrap().is_err(), "a truncated chain is still caught");
}

async fn nonces_are_single_use(kind: &str) {
    let (store, _) = fresh(kind).await;
    assert!(store.consume_nonce("n-1", 100).await.unwrap());
    assert!(!store.consume_nonce("n-1", 100).await.unwrap(), "replay");
    assert!(store.consume_nonce("n-2", 300).await.unwrap());
    assert_eq!(store.purge_expired(200).await.unwrap(), 1);
    assert!(!store.consume_nonce("n-2", 300).await.unwrap(), "unexpired nonces are still remembered");
}

async fn attempts_count_per_window(kind: &str) {
    let (store, _) = fresh(kind).await;
    for expected in 1..=3 {
        assert_eq!(store.count_attempt("id:abc", 600).await.unwrap(), expected);
    }
    assert_eq!(store.count_attempt("id:abc", 1200).await.unwrap(), 1, "a new window starts at 1");
    assert_eq!(store.count_attempt("client:1.2.3.4", 600).await.unwrap(), 1);
    assert_eq!(store.attempt_count("id:abc", 600).await.unwrap(), 3, "reading does not count");
    assert_eq!(store.attempt_count("id:never", 600).await.unwrap(), 0);
    assert_eq!(store.count_attempts("frames:1.2.3.4", 60, 20).await.unwrap(), 20, "many at once");
    assert_eq!(store.count_attempts("frames:1.2.3.4", 60, 7).await.unwrap(), 27);
    store.release_attempt("id:abc", 600).await.unwrap();
    assert_eq!(store.attempt_count("id:abc", 600).await.unwrap(), 2, "a released attempt no longer counts");
}

/// Fifty attempts at once against a limit of five: exactly five pass, on
/// both backends, because the count is taken in the same statement that adds it.
async fn a_limit_counted_first_holds_under_concurrency(kind: &str) {
    let (store, _) = fresh(kind).await;
    let store = std::sync::Arc::new(store);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.count_attempt("tx-code:abc", 0).await.unwrap() <= 5 })
        })
        .collect();
    let mut allowed = 0;
    for t in tasks {
        allowed += usize::from(t.await.unwrap());
    }
    assert_eq!(allowed, 5);
}

async fn sessions_decide_once_and_expire(kind: &str) {
    let (store, _) = fresh(kind).await;
    let subject = BlindIndex::of(&keys(), &IdNumber::parse(LIN).unwrap());
    let session = |id: &str, expires_at| EnrollmentSession {
        id: id.into(),
        subject,
        claim_digest: [7; 32],
        edition: Edition::Lightweight,
        challenge: "turn_left,blink".into(),
        created_at: 10,
        expires_at,
    };
    store.create_session(&session("s1", 1000)).await.unwrap();
    store.create_session(&session("s2", 1000)).await.unwrap();
    assert_eq!(store.take_session("s1", 900).await.unwrap(), Some(session("s1", 1000)));
    assert_eq!(store.take_session("s1", 900).await.unwrap(), None, "a session decides once");
    assert_eq!(store.take_session("s2", 1001).await.unwrap(), None, "expired");
    assert_eq!(store.take_session("nope", 900).await.unwrap(), None);
}

async fn grants_are_single_use_and_typed(kind: &str) {
    let (store, _) = fresh(kind).await;
    let subject = BlindIndex::of(&keys(), &IdNumber::parse(LIN).unwrap());
    let grant = Grant { subject, edition: Edition::Lightweight, tx_code_hash: None };
    store.put_grant(&[1; 32], GrantKind::PreAuthorizedCode, &grant, 1000).await.unwrap();
    store.put_grant(&[2; 32], GrantKind::AccessToken, &grant, 1000).await.unwrap();
    let redeem = |hash: [u8; 32], kind, tx: Option<[u8; 32]>, now| {
        let store = &store;
        async move { store.redeem_grant(&hash, kind, tx.as_ref(), now).await.unwrap() }
    };
    assert_eq!(redeem([1; 32], GrantKind::AccessToken, None, 900).await, None, "kinds do not mix");
    assert_eq!(redeem([1; 32], GrantKind::PreAuthorizedCode, None, 900).await, Some(grant.clone()));
    assert_eq!(redeem([1; 32], GrantKind::PreAuthorizedCode, None, 900).await, None, "single use");
    assert_eq!(redeem([2; 32], GrantKind::AccessToken, None, 1001).await, None, "expired");

    let upgraded = Grant { subject, edition: Edition::Upgraded, tx_code_hash: Some([7; 32]) };
    store.put_grant(&[3; 32], GrantKind::PreAuthorizedCode, &upgraded, 1000).await.unwrap();
    assert_eq!(redeem([3; 32], GrantKind::PreAuthorizedCode, None, 900).await, None, "a tx_code is required");
    assert_eq!(redeem([3; 32], GrantKind::PreAuthorizedCode, Some([8; 32]), 900).await, None, "the right one");
    assert_eq!(redeem([3; 32], GrantKind::PreAuthorizedCode, Some([7; 32]), 900).await, Some(upgraded));
}

async fn status_slots_are_random_unique_and_revocable(kind: &str) {
    let (store, _) = fresh(kind).await;
    let lin = BlindIndex::of(&keys(), &IdNumber::parse(LIN).unwrap());
    let zhang = BlindIndex::of(&keys(), &IdNumber::parse(ZHANG).unwrap());
    let issued = |subject| AuditEvent {
        at: 0,
        kind: "credential.issued".into(),
        actor: "citizen".into(),
        subject: Some(subject),
        details: json!({}),
    };
    let devices = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
    let tokens = AtomicU32::new(0);
    // Each issuance spends an access token of its own.
    let issue = |list_id: &'static str, subject: BlindIndex, devices: Vec<String>| {
        let (store, token) = (&store, [u8::try_from(tokens.fetch_add(1, Ordering::Relaxed)).unwrap(); 32]);
        async move {
            let grant = Grant { subject, edition: Edition::Lightweight, tx_code_hash: None };
            store.put_grant(&token, GrantKind::AccessToken, &grant, 100).await.unwrap();
            let issuance = Issuance {
                access_token_hash: &token,
                list_id,
                list_size: 64,
                subject: &subject,
                devices: &devices,
                now: 0,
            };
            let slots = store.issue_slots(issuance, issued(subject)).await.unwrap().unwrap();
            let spent = Issuance { access_token_hash: &token, ..issuance };
            assert_eq!(store.issue_slots(spent, issued(subject)).await.unwrap(), None, "a spent token issues nothing");
            slots
        }
    };

    let version = store.status_version().await.unwrap();
    let old = issue("list-1", lin, devices(&["old-1", "old-2"])).await;
    issue("list-1", zhang, devices(&["z-1"])).await;
    assert!(store.status_entries("list-1").await.unwrap().is_empty());
    assert_eq!(store.status_version().await.unwrap(), version, "new slots change no status");
    let new = issue("list-1", lin, devices(&["new-1"])).await;
    let version = {
        let after = store.status_version().await.unwrap();
        assert!(after > version, "revoking the old phone's slots changes the list's version");
        after
    };
    let mut revoked: Vec<u64> = store
        .status_entries("list-1")
        .await
        .unwrap()
        .into_iter()
        .map(|(idx, s)| {
            assert_eq!(s, 1);
            idx
        })
        .collect();
    revoked.sort_unstable();
    let mut expected = old.clone();
    expected.sort_unstable();
    assert_eq!(revoked, expected, "a new issuance revokes exactly the subject's earlier credentials");
    let last = store.audit_of(&lin, 0, 100).await.unwrap().pop().unwrap();
    assert_eq!(last.event.details, json!({ "count": 1, "previous_revoked": 2 }));
    assert_eq!(
        store.credential_holder("list-1", new[0]).await.unwrap(),
        Some(CredentialHolder { subject: lin, status: 0 })
    );
    assert_eq!(
        store.credential_holder("list-1", old[0]).await.unwrap(),
        Some(CredentialHolder { subject: lin, status: 1 }),
        "the old phone's credential is still lin's, and revoked"
    );
    assert_eq!(store.credential_holder("list-2", new[0]).await.unwrap(), None);
    let withdrawal =
        AuditEvent { kind: "credential.revoked".into(), details: json!({ "reason": "lost" }), ..issued(lin) };
    assert_eq!(store.revoke_subject(&lin, 1, withdrawal.clone()).await.unwrap(), 1, "withdrawal revokes the rest");
    let last = store.audit_of(&lin, 0, 100).await.unwrap().pop().unwrap();
    assert_eq!(last.event.details, json!({ "count": 1, "reason": "lost" }), "revocation and its entry together");
    assert!(store.status_version().await.unwrap() > version);
    let version = store.status_version().await.unwrap();
    assert_eq!(store.revoke_subject(&lin, 1, withdrawal).await.unwrap(), 0);
    assert_eq!(store.status_version().await.unwrap(), version, "nothing changed, same version");

    let many = issue("list-2", zhang, (0..40).map(|i| format!("d{i}")).collect()).await;
    let unique: std::collections::HashSet<_> = many.iter().collect();
    assert!(unique.len() == 40 && many.iter().all(|&i| i < 64), "random slots are unique and in range");
}

async fn decisions_are_recorded_atomically(kind: &str) {
    let (store, _) = fresh(kind).await;
    let lin = BlindIndex::of(&keys(), &IdNumber::parse(LIN).unwrap());
    let decision = |outcome: &str| AuditEvent {
        at: 0,
        kind: "enrollment.decision".into(),
        actor: "citizen".into(),
        subject: Some(lin),
        details: json!({ "outcome": outcome }),
    };
    assert_eq!(store.record_decision(None, decision("refused"), Some(("fail:lin", 0)), None).await.unwrap(), 1);
    assert_eq!(store.record_decision(None, decision("refused"), Some(("fail:lin", 0)), None).await.unwrap(), 2);
    let grant = Grant { subject: lin, edition: Edition::Lightweight, tx_code_hash: None };
    let offer = Offer { code_hash: &[4; 32], grant: &grant, expires_at: 100, pin_hash: None };
    store.record_decision(Some(offer), decision("accepted"), None, None).await.unwrap();
    assert_eq!(store.redeem_grant(&[4; 32], GrantKind::PreAuthorizedCode, None, 50).await.unwrap(), Some(grant));
    assert_eq!(store.audit_of(&lin, 0, 100).await.unwrap().len(), 3);
    assert_eq!(store.verify_audit().await.unwrap(), Ok(3));

    // An upgraded acceptance consumes the attestation and sets the PIN with its offer.
    let attestation = Attestation {
        subject: lin,
        operator: "wang.clerk".into(),
        method: "counter".into(),
        tx_code_hash: [9; 32],
        expires_at: 100,
    };
    store
        .put_attestation(&attestation, AuditEvent { kind: "operator.attested".into(), ..decision("x") })
        .await
        .unwrap();
    assert_eq!(store.attestation(&lin, 50).await.unwrap(), Some(attestation.clone()));
    assert_eq!(store.attestation(&lin, 101).await.unwrap(), None, "expired");
    let upgraded = Grant { subject: lin, edition: Edition::Upgraded, tx_code_hash: Some([9; 32]) };
    let offer = Offer { code_hash: &[5; 32], grant: &upgraded, expires_at: 100, pin_hash: Some("$argon2id$stand-in") };
    store.record_decision(Some(offer), decision("accepted"), None, None).await.unwrap();
    assert_eq!(store.attestation(&lin, 50).await.unwrap(), None, "one counter visit, one enrollment");
    let reserved = store.reserve_pin_attempt(&lin, &PinLockout::default(), 50).await.unwrap();
    assert!(matches!(reserved, PinReservation::Reserved { pin_hash, .. } if pin_hash == "$argon2id$stand-in"));
}

async fn frame_prints_are_remembered_sealed_per_subject(kind: &str) {
    let (store, url) = fresh(kind).await;
    let lin = BlindIndex::of(&keys(), &IdNumber::parse(LIN).unwrap());
    let other = BlindIndex::of(&keys(), &IdNumber::parse("11010519491231002X").unwrap());
    let decision = |at: i64| AuditEvent {
        at,
        kind: "enrollment.decision".into(),
        actor: "citizen".into(),
        subject: Some(lin),
        details: json!({ "outcome": "refused" }),
    };
    let print = |bytes: [u8; 8]| SealedValue::seal(&keys(), &bytes, &lin.0).unwrap();
    store.record_decision(None, decision(1_000), None, Some(&print([1; 8]))).await.unwrap();
    store.record_decision(None, decision(2_000), None, Some(&print([2; 8]))).await.unwrap();
    let remembered = store.frame_prints(&lin, 0, 10).await.unwrap();
    let opened: Vec<Vec<u8>> = remembered.iter().map(|p| p.open(&keys(), &lin.0).unwrap().to_vec()).collect();
    assert_eq!(opened, [vec![2; 8], vec![1; 8]], "newest first");
    assert!(remembered[0].open(&keys(), &other.0).is_err(), "sealed to its subject");
    assert_eq!(store.frame_prints(&lin, 0, 1).await.unwrap().len(), 1, "at most the limit");
    assert_eq!(store.frame_prints(&lin, 1_500, 10).await.unwrap().len(), 1, "only since");
    assert!(store.frame_prints(&other, 0, 10).await.unwrap().is_empty(), "per subject");
    // Not in clear anywhere in the table.
    let mut raw = sqlx::AnyConnection::connect(&url).await.unwrap();
    let row = sqlx::query("SELECT ciphertext FROM frame_prints LIMIT 1").fetch_one(&mut raw).await.unwrap();
    let stored: Vec<u8> = sqlx::Row::get(&row, "ciphertext");
    assert!(!stored.windows(8).any(|w| w == [1; 8] || w == [2; 8]));

    let day = 86_400;
    assert_eq!(store.purge_expired(1_000 + FRAME_PRINT_DAYS * day).await.unwrap(), 0, "kept for the whole period");
    store.purge_expired(1_001 + FRAME_PRINT_DAYS * day).await.unwrap();
    assert_eq!(store.frame_prints(&lin, 0, 10).await.unwrap().len(), 1, "the older one is forgotten");
}

async fn operators_and_their_sessions(kind: &str) {
    let (store, _) = fresh(kind).await;
    let created = |username: &str| AuditEvent {
        at: 0,
        kind: "operator.created".into(),
        actor: "admin".into(),
        subject: None,
        details: json!({ "username": username }),
    };
    let mut operator = Operator {
        username: "wang.clerk".into(),
        password_hash: "$argon2id$stand-in".into(),
        role: OperatorRole::Counter,
        disabled: false,
        created_at: 10,
    };
    store.put_operator(&operator, created("wang.clerk")).await.unwrap();
    assert_eq!(store.operator("wang.clerk").await.unwrap(), Some(operator.clone()));
    assert_eq!(store.operator("nobody").await.unwrap(), None);
    store.create_operator_session(&[1; 32], "wang.clerk", 100).await.unwrap();
    store.create_operator_session(&[2; 32], "wang.clerk", 100).await.unwrap();
    assert_eq!(store.operator_of_session(&[1; 32], 50).await.unwrap(), Some(operator.clone()));
    assert_eq!(store.operator_of_session(&[1; 32], 101).await.unwrap(), None, "expired");
    assert!(store.end_operator_session(&[1; 32]).await.unwrap());
    assert_eq!(store.operator_of_session(&[1; 32], 50).await.unwrap(), None, "logged out");
    assert!(store.create_operator_session(&[3; 32], "nobody", 100).await.is_err(), "sessions belong to operators");
    operator.disabled = true;
    store.put_operator(&operator, created("wang.clerk")).await.unwrap();
    assert_eq!(store.operator_of_session(&[2; 32], 50).await.unwrap(), None, "disabling ends every session");
    assert_eq!(store.verify_audit().await.unwrap(), Ok(2));
}

/// 林晓梅 enrolled in the upgraded edition with a PIN (its hash a stand-in);
/// answers her blind index and the decision's audit event.
async fn with_pin_set(store: &SqlStore) -> (BlindIndex, AuditEvent) {
    let lin = BlindIndex::of(&keys(), &IdNumber::parse(LIN).unwrap());
    let grant = Grant { subject: lin, edition: Edition::Upgraded, tx_code_hash: Some([9; 32]) };
    let event = AuditEvent { at: 0, kind: "x".into(), actor: "citizen".into(), subject: Some(lin), details: json!({}) };
    let offer = Offer { code_hash: &[5; 32], grant: &grant, expires_at: 100, pin_hash: Some("$argon2id$stand-in") };
    store.record_decision(Some(offer), event.clone(), None, None).await.unwrap();
    (lin, event)
}

async fn pin_failures_lock_with_growing_delay(kind: &str) {
    let (store, _) = fresh(kind).await;
    let (lin, event) = with_pin_set(&store).await;
    let lockout = PinLockout::default();
    let locked = AuditEvent { kind: "pin.locked".into(), ..event };
    for attempt in 1..=5 {
        let PinReservation::Reserved { failures, locks_until, .. } =
            store.reserve_pin_attempt(&lin, &lockout, 1000).await.unwrap()
        else {
            panic!("attempt {attempt} should be checked");
        };
        assert_eq!(failures, attempt, "counted before the check");
        assert_eq!(locks_until, (attempt == 5).then_some(1030), "the fifth failure locks for 30 s");
        store.settle_pin_attempt(&lin, false, locks_until.map(|_| locked.clone()), 1000).await.unwrap();
    }
    assert_eq!(store.reserve_pin_attempt(&lin, &lockout, 1029).await.unwrap(), PinReservation::Locked(1030));
    let PinReservation::Reserved { failures: 6, locks_until: Some(1090), .. } =
        store.reserve_pin_attempt(&lin, &lockout, 1030).await.unwrap()
    else {
        panic!("after the wait, one more attempt, which doubles the wait");
    };
    store.settle_pin_attempt(&lin, false, Some(locked.clone()), 1030).await.unwrap();
    let kinds: Vec<String> = store.audit_of(&lin, 0, 100).await.unwrap().into_iter().map(|e| e.event.kind).collect();
    assert_eq!(kinds, ["x", "pin.locked", "pin.locked"], "each lock is audited");
    let PinReservation::Reserved { .. } = store.reserve_pin_attempt(&lin, &lockout, 2000).await.unwrap() else {
        panic!("the wait is over");
    };
    store.settle_pin_attempt(&lin, true, None, 2000).await.unwrap();
    let PinReservation::Reserved { failures: 1, locks_until: None, .. } =
        store.reserve_pin_attempt(&lin, &lockout, 2000).await.unwrap()
    else {
        panic!("success cleared the count");
    };
    let stranger = BlindIndex::of(&keys(), &IdNumber::parse(ZHANG).unwrap());
    assert_eq!(store.reserve_pin_attempt(&stranger, &lockout, 0).await.unwrap(), PinReservation::NotSet);
}

/// Fifty PIN attempts at once: the five the policy allows are reserved for a
/// check, every other one finds the lock the fifth set — on both backends.
async fn parallel_pin_guesses_get_no_more_checks_than_the_policy_allows(kind: &str) {
    let (store, _) = fresh(kind).await;
    let (lin, _) = with_pin_set(&store).await;
    let store = std::sync::Arc::new(store);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.reserve_pin_attempt(&lin, &PinLockout::default(), 1000).await.unwrap() })
        })
        .collect();
    let mut reserved = Vec::new();
    for t in tasks {
        if let PinReservation::Reserved { failures, .. } = t.await.unwrap() {
            reserved.push(failures);
        }
    }
    reserved.sort_unstable();
    assert_eq!(reserved, [1, 2, 3, 4, 5], "exactly the five free attempts, each counted once");
}

async fn counter_devices_are_found_by_their_token_hash(kind: &str) {
    let (store, _) = fresh(kind).await;
    let event =
        AuditEvent { at: 1, kind: "counter.registered".into(), actor: "cli".into(), subject: None, details: json!({}) };
    store.put_counter_device(&[6; 32], "Hotel Example front desk", 1, event.clone()).await.unwrap();
    assert_eq!(store.counter_device(&[6; 32]).await.unwrap().as_deref(), Some("Hotel Example front desk"));
    assert_eq!(store.counter_device(&[7; 32]).await.unwrap(), None);
    assert!(store.put_counter_device(&[6; 32], "again", 1, event).await.is_err(), "one device per token");
    assert_eq!(store.verify_audit().await.unwrap(), Ok(1), "registered and audited together");
}

/// What expired goes at the next purge: nonces, sessions, grants, operator
/// sessions, attestations, presentation requests with their results.
async fn purge_forgets_every_kind_of_expired_state(kind: &str) {
    let (store, url) = fresh(kind).await;
    let lin = BlindIndex::of(&keys(), &IdNumber::parse(LIN).unwrap());
    let event = AuditEvent { at: 1, kind: "x".into(), actor: "cli".into(), subject: Some(lin), details: json!({}) };
    store.consume_nonce("n", 100).await.unwrap();
    let session = EnrollmentSession {
        id: "s".into(),
        subject: lin,
        claim_digest: [7; 32],
        edition: Edition::Lightweight,
        challenge: "blink".into(),
        created_at: 1,
        expires_at: 100,
    };
    store.create_session(&session).await.unwrap();
    let grant = Grant { subject: lin, edition: Edition::Lightweight, tx_code_hash: None };
    store.put_grant(&[1; 32], GrantKind::AccessToken, &grant, 100).await.unwrap();
    let operator = Operator {
        username: "wang.clerk".into(),
        password_hash: "$argon2id$stand-in".into(),
        role: OperatorRole::Counter,
        disabled: false,
        created_at: 1,
    };
    store.put_operator(&operator, event.clone()).await.unwrap();
    store.create_operator_session(&[2; 32], "wang.clerk", 100).await.unwrap();
    let attestation = Attestation {
        subject: lin,
        operator: "wang.clerk".into(),
        method: "counter".into(),
        tx_code_hash: [3; 32],
        expires_at: 100,
    };
    store.put_attestation(&attestation, event.clone()).await.unwrap();
    let hotel = hotel(&["name"]);
    store.put_relying_party(&hotel, event).await.unwrap();
    let request = PresentationRequest {
        id: "r1".into(),
        client_id: hotel.client_id.clone(),
        nonce: "n".into(),
        state: "s".into(),
        query: asking(&[]),
        expires_at: 100,
        status: PresentationStatus::Pending,
        result: None,
        answered_at: None,
    };
    store.create_presentation_request(&request).await.unwrap();
    let sealed = SealedValue::seal(&keys(), b"{}", b"r1").unwrap();
    assert!(store.answer_presentation_request("r1", "s", 50, PresentationStatus::Verified, &sealed).await.unwrap());
    let answered = store.presentation_request("r1").await.unwrap().unwrap();
    assert_eq!(answered.answered_at, Some(50), "the answer keeps its time");

    assert_eq!(store.purge_expired(100).await.unwrap(), 0, "nothing has expired yet");
    assert_eq!(store.purge_expired(101).await.unwrap(), 6);
    let mut raw = sqlx::AnyConnection::connect(&url).await.unwrap();
    for table in
        ["nonces", "enrollment_sessions", "grants", "operator_sessions", "attestations", "presentation_requests"]
    {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) AS n FROM {table}")))
            .fetch_one(&mut raw)
            .await
            .unwrap();
        assert_eq!(sqlx::Row::get::<i64, _>(&row, "n"), 0, "{table}");
    }
}

/// The hotel relying party, entitled to `claims`.
fn hotel(claims: &[&str]) -> RelyingParty {
    RelyingParty {
        client_id: "https://hotel.example".into(),
        name: "Hotel".into(),
        claims: claims.iter().map(|c| (*c).to_owned()).collect(),
        api_key_hash: [5; 32],
        created_at: 1,
        openid: None,
    }
}

/// A presentation query for `claims`, at the lowest level.
fn asking(claims: &[&str]) -> PresentationQuery {
    PresentationQuery {
        claims: claims.iter().map(|c| (*c).to_owned()).collect(),
        optional_claims: Vec::new(),
        questions: Vec::new(),
        purpose: "check-in".into(),
        level: AssuranceLevel::L1,
        sign_in_sector: None,
        sign_in_origin: None,
    }
}

async fn sign_in_state_is_single_use_and_oidc_clients_round_trip(kind: &str) {
    let (store, _) = fresh(kind).await;
    let event = AuditEvent { at: 1, kind: "rp.saved".into(), actor: "cli".into(), subject: None, details: json!({}) };
    for authentication in [
        ClientAuthentication::ClientSecretBasic { secret_hash: [9; 32] },
        ClientAuthentication::PrivateKeyJwt { jwks: "{\"keys\":[]}".into() },
    ] {
        let openid = OpenIdClient {
            redirect_uris: vec!["https://shop.example/cb".into()],
            sector_identifier: "shop.example".into(),
            authentication,
        };
        let shop = RelyingParty { openid: Some(openid), ..hotel(&["name"]) };
        store.put_relying_party(&shop, event.clone()).await.unwrap();
        assert_eq!(store.relying_party(&shop.client_id).await.unwrap(), Some(shop));
    }
    let presentation = PresentationRequest {
        id: "r1".into(),
        client_id: "https://hotel.example".into(),
        nonce: "n".into(),
        state: "s".into(),
        query: PresentationQuery { sign_in_sector: Some("shop.example".into()), ..asking(&["name"]) },
        expires_at: 100,
        status: PresentationStatus::Pending,
        result: None,
        answered_at: None,
    };
    let authorization = Authorization {
        page_token_hash: [1; 32],
        request_id: "r1".into(),
        client_id: "https://hotel.example".into(),
        request: "{}".into(),
        expires_at: 100,
    };
    store.start_authorization(&authorization, &presentation).await.unwrap();
    assert_eq!(store.presentation_request("r1").await.unwrap(), Some(presentation));
    let answer = SealedValue::seal(&keys(), b"{}", b"r1").unwrap();
    assert!(store.answer_presentation_request("r1", "s", 50, PresentationStatus::Verified, &answer).await.unwrap());
    let taken = store.take_answered_request("r1", "https://hotel.example").await.unwrap();
    assert_eq!(taken, None, "a sign-in's answer is not the relying party's to take by its API key");
    let answered = store.presentation_request("r1").await.unwrap().unwrap();
    assert_eq!(answered.status, PresentationStatus::Verified, "still there for the sign-in");
    assert_eq!(store.authorization(&[1; 32], 100).await.unwrap(), Some(authorization.clone()));
    assert_eq!(store.authorization(&[1; 32], 101).await.unwrap(), None, "expired");
    let code = AuthorizationCode {
        code_hash: [2; 32],
        client_id: "https://hotel.example".into(),
        grant: SealedValue::seal(&keys(), b"{}", &[2; 32]).unwrap(),
        expires_at: 60,
        redeemed_at: None,
    };
    let signed_in = || AuditEvent {
        at: 50,
        kind: "oidc.sign_in".into(),
        actor: "https://hotel.example".into(),
        subject: None,
        details: json!({ "outcome": "signed_in" }),
    };
    assert!(store.finish_authorization(&authorization, Some(&code), signed_in()).await.unwrap());
    assert!(!store.finish_authorization(&authorization, Some(&code), signed_in()).await.unwrap(), "once");
    let audited = store.audit_after(0, 100).await.unwrap();
    assert_eq!(audited.iter().filter(|e| e.event.kind == "oidc.sign_in").count(), 1, "audited with the code, once");
    assert_eq!(store.presentation_request("r1").await.unwrap(), None);
    assert_eq!(store.authorization_code(&[2; 32]).await.unwrap(), Some(code.clone()));
    assert!(!store.redeem_authorization_code(&[2; 32], 61, &[3; 32], 300).await.unwrap(), "expired");
    assert!(store.redeem_authorization_code(&[2; 32], 50, &[3; 32], 300).await.unwrap());
    assert!(!store.redeem_authorization_code(&[2; 32], 50, &[4; 32], 300).await.unwrap(), "redeemed once");
    assert_eq!(store.authorization_code(&[2; 32]).await.unwrap().unwrap().redeemed_at, Some(50));
    assert_eq!(store.code_of_access_token(&[3; 32], 300).await.unwrap().map(|c| c.code_hash), Some([2; 32]));
    assert_eq!(store.code_of_access_token(&[3; 32], 301).await.unwrap(), None, "expired");
    assert_eq!(store.revoke_code_tokens(&[2; 32]).await.unwrap(), 1);
    assert_eq!(store.code_of_access_token(&[3; 32], 300).await.unwrap(), None, "revoked");
    assert_eq!(store.purge_expired(60 + 3601).await.unwrap(), 1, "the code, an hour after it expired");
}

async fn presentation_requests_are_answered_once_and_read_once(kind: &str) {
    let (store, _) = fresh(kind).await;
    let hotel = hotel(&["name", "id_number_masked"]);
    let event = AuditEvent { at: 1, kind: "rp.saved".into(), actor: "cli".into(), subject: None, details: json!({}) };
    store.put_relying_party(&hotel, event).await.unwrap();
    assert_eq!(store.relying_party("https://hotel.example").await.unwrap(), Some(hotel.clone()));
    assert_eq!(store.relying_parties().await.unwrap(), vec![hotel]);
    let request = PresentationRequest {
        id: "r1".into(),
        client_id: "https://hotel.example".into(),
        nonce: "n".into(),
        state: "s".into(),
        query: asking(&["name"]),
        expires_at: 100,
        status: PresentationStatus::Pending,
        result: None,
        answered_at: None,
    };
    store.create_presentation_request(&request).await.unwrap();
    assert_eq!(store.presentation_request("r1").await.unwrap(), Some(request));
    assert_eq!(store.take_answered_request("r1", "https://hotel.example").await.unwrap(), None, "pending");
    let result = SealedValue::seal(&keys(), json!({ "name": "王建国" }).to_string().as_bytes(), b"r1").unwrap();
    assert!(
        !store.answer_presentation_request("r1", "wrong", 50, PresentationStatus::Verified, &result).await.unwrap(),
        "state must match"
    );
    assert!(
        !store.answer_presentation_request("r1", "s", 101, PresentationStatus::Verified, &result).await.unwrap(),
        "expired"
    );
    assert!(store.answer_presentation_request("r1", "s", 50, PresentationStatus::Verified, &result).await.unwrap());
    assert!(
        !store.answer_presentation_request("r1", "s", 50, PresentationStatus::Verified, &result).await.unwrap(),
        "answered once"
    );
    assert_eq!(store.take_answered_request("r1", "https://shop.example").await.unwrap(), None, "only by its asker");
    let taken = store.take_answered_request("r1", "https://hotel.example").await.unwrap().unwrap().result.unwrap();
    assert_eq!(&*taken.open(&keys(), b"r1").unwrap(), json!({ "name": "王建国" }).to_string().as_bytes());
    assert!(taken.open(&keys(), b"r2").is_err(), "bound to its request");
    assert_eq!(store.presentation_request("r1").await.unwrap(), None, "read once, then gone");
}

/// The text one column of the first row of `statement` holds.
async fn text_of(raw: &mut sqlx::AnyConnection, statement: &'static str) -> String {
    sqlx::Row::get(&sqlx::query(statement).fetch_one(&mut *raw).await.unwrap(), 0)
}

async fn stored_names_keep_their_spelling_and_read_back_typed(kind: &str) {
    let (store, url) = fresh(kind).await;
    let mut raw = sqlx::AnyConnection::connect(&url).await.unwrap();
    let subject = BlindIndex([3; 32]);
    let grant = Grant { subject, edition: Edition::Upgraded, tx_code_hash: None };
    store.put_grant(&[1; 32], GrantKind::AccessToken, &grant, 100).await.unwrap();
    assert_eq!(text_of(&mut raw, "SELECT edition FROM grants").await, "upgraded");
    sqlx::query("UPDATE grants SET edition = 'premium'").execute(&mut raw).await.unwrap();
    assert!(matches!(store.peek_grant(&[1; 32], GrantKind::AccessToken, 50).await, Err(StoreError::Corrupt(_))));

    let hotel = hotel(&["name", "is:age_over_18"]);
    let event = AuditEvent { at: 1, kind: "rp.saved".into(), actor: "cli".into(), subject: None, details: json!({}) };
    store.put_relying_party(&hotel, event).await.unwrap();
    let query = PresentationQuery { questions: vec![Question::AgeOver18], level: AssuranceLevel::L2, ..asking(&[]) };
    let request = PresentationRequest {
        id: "r1".into(),
        client_id: "https://hotel.example".into(),
        nonce: "n".into(),
        state: "s".into(),
        query,
        expires_at: 100,
        status: PresentationStatus::Pending,
        result: None,
        answered_at: None,
    };
    store.create_presentation_request(&request).await.unwrap();
    assert_eq!(text_of(&mut raw, "SELECT status FROM presentation_requests").await, "pending");
    let stored: serde_json::Value =
        serde_json::from_str(&text_of(&mut raw, "SELECT query FROM presentation_requests").await).unwrap();
    assert_eq!((&stored["level"], &stored["questions"]), (&json!("L2"), &json!(["age_over_18"])));
    // As earlier versions wrote it: the level as the relying party spelled it, no optional lists.
    sqlx::query(
        "UPDATE presentation_requests SET query = '{\"claims\":[\"name\"],\"purpose\":\"p\",\"level\":\"l2\"}'",
    )
    .execute(&mut raw)
    .await
    .unwrap();
    let read = store.presentation_request("r1").await.unwrap().unwrap().query;
    assert_eq!(read, PresentationQuery { purpose: "p".into(), level: AssuranceLevel::L2, ..asking(&["name"]) });
    sqlx::query("UPDATE presentation_requests SET status = 'lost'").execute(&mut raw).await.unwrap();
    assert!(matches!(store.presentation_request("r1").await, Err(StoreError::Corrupt(_))));
    // An answer this version cannot read is not lost by the attempt to read it.
    sqlx::query("UPDATE presentation_requests SET status = 'verified', query = 'x'").execute(&mut raw).await.unwrap();
    let taken = store.take_answered_request("r1", "https://hotel.example").await;
    assert!(matches!(taken, Err(StoreError::Corrupt(_))), "{taken:?}");
    assert_eq!(text_of(&mut raw, "SELECT status FROM presentation_requests").await, "verified", "still stored");
}

macro_rules! suite {
    ($($backend:ident),*) => {$(
        mod $backend {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn entries_round_trip_sealed() { super::entries_round_trip_sealed(stringify!($backend)).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn stored_names_keep_their_spelling_and_read_back_typed() { super::stored_names_keep_their_spelling_and_read_back_typed(stringify!($backend)).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_citizen_twice_in_one_batch_keeps_the_last_row() { super::a_citizen_twice_in_one_batch_keeps_the_last_row(stringify!($backend)).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn key_rotation_rewraps_without_plaintext() { super::key_rotation_rewraps_without_plaintext(stringify!($backend)).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn audit_chain_verifies_and_names_the_first_broken_link() { super::audit_chain_verifies_and_names_the_first_broken_link(stringify!($backend)).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn concurrent_appends_keep_one_chain() { super::concurrent_appends_keep_one_chain(stringify!($backend)).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sessions_decide_once_and_expire() { super::sessions_decide_once_and_expire(stringify!($backend)).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn grants_are_single_use_and_typed() { super::grants_are_single_use_and_typed(stringify!($backend)).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn status_slots_are_random_unique_and_revocable() { super::status_slots_are_random_unique_and_revocable(stringify!($backend)).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn decisions_are_recorded_atomically() { super::decisions_are_recorded_atomically(stringify!($backend)).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn frame_prints_are_remembered_sealed_per_subject() { super::frame_prints_are_remembered_sealed_per_subject(stringify!($backend)).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn nonces_are_single_use() { super::nonces_are_single_use(stringify!($backend)).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn attempts_count_per_window() { super::attempts_count_per_window(stringify!($backend)).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn operators_and_their_sessions() { super::operators_and_their_sessions(stringify!($backend)).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn pin_failures_lock_with_growing_delay() { super::pin_failures_lock_with_growing_delay(stringify!($backend)).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn presentation_requests_are_answered_once_and_read_once() { super::presentation_requests_are_answered_once_and_read_once(stringify!($backend)).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sign_in_state_is_single_use_and_oidc_clients_round_trip() { super::sign_in_state_is_single_use_and_oidc_clients_round_trip(stringify!($backend)).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn the_audit_check_holds_while_others_write() { super::the_audit_check_holds_while_others_write(stringify!($backend)).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_limit_counted_first_holds_under_concurrency() { super::a_limit_counted_first_holds_under_concurrency(stringify!($backend)).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn parallel_pin_guesses_get_no_more_checks_than_the_policy_allows() { super::parallel_pin_guesses_get_no_more_checks_than_the_policy_allows(stringify!($backend)).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn counter_devices_are_found_by_their_token_hash() { super::counter_devices_are_found_by_their_token_hash(stringify!($backend)).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn purge_forgets_every_kind_of_expired_state() { super::purge_forgets_every_kind_of_expired_state(stringify!($backend)).await }
        }
    )*};
}

suite!(sqlite, postgres);

#[test]
fn blind_indexes_depend_on_the_key_and_hide_the_number() {
    let id = IdNumber::parse(LIN).unwrap();
    let a = BlindIndex::of(&keys(), &id);
    let other = LocalKeys::parse(&format!("k1:{}", "11".repeat(32)), &"23".repeat(32)).unwrap();
    assert_ne!(a, BlindIndex::of(&other, &id), "another index key, another index: no table of numbers to look up");
    assert_ne!(a, BlindIndex::of(&keys(), &IdNumber::parse(ZHANG).unwrap()));
    assert_eq!(a, BlindIndex::of(&keys(), &id), "stable under the same key");
    assert_eq!(keys().current_key_id(), "k1");
}
