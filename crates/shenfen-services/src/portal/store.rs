//! The portal's tables: drafts, filings (their legal identity sealed),
//! clerks, their sessions and wrong-password windows, and every clerk's view
//! of a filing.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::filing::{Company, Evidence, LegalIdentity};
use crate::db::Db;
use crate::error::ServicesError;
use crate::sealed::Sealer;
use crate::secrets::{filing_reference, random_token};

/// A draft registration waiting for its L3 sign-in.
#[derive(Debug, Clone)]
pub(crate) struct Draft {
    pub(crate) id: String,
    pub(crate) company: Company,
}

/// A filing as its citizen sees it (no legal identity).
#[derive(Debug, Clone)]
pub(crate) struct FilingSummary {
    pub(crate) id: String,
    pub(crate) company: Company,
    pub(crate) acr: String,
    pub(crate) filed_at: i64,
}

/// A filing as a clerk sees it: with the legal identity opened and the evidence.
pub(crate) struct FilingRecord {
    pub(crate) summary: FilingSummary,
    pub(crate) evidence: Evidence,
    pub(crate) identity: LegalIdentity,
    /// How many times clerks have viewed it, this view included.
    pub(crate) views: i64,
}

fn company_of(row: &AnyRow) -> Result<Company, ServicesError> {
    Ok(Company {
        name: row.try_get("company_name")?,
        kind: row.try_get("company_type")?,
        capital: row.try_get("registered_capital")?,
        address: row.try_get("address")?,
        scope: row.try_get("business_scope")?,
    })
}

fn summary_of(row: &AnyRow) -> Result<FilingSummary, ServicesError> {
    Ok(FilingSummary {
        id: row.try_get("id")?,
        company: company_of(row)?,
        acr: row.try_get("acr")?,
        filed_at: row.try_get("filed_at")?,
    })
}

/// How many unfiled drafts a citizen may keep: a form open to every signed-in
/// citizen must not let one of them fill the database.
pub(crate) const MAX_DRAFTS: i64 = 20;

/// How long an unfiled draft is kept (30 days).
pub(crate) const DRAFT_FOR: i64 = 30 * 24 * 3600;

/// Saves a draft of `subject`'s, unless they keep [`MAX_DRAFTS`] already
/// (counted and inserted in one statement); answers its id.
pub(crate) async fn save_draft(
    db: &Db,
    subject: &str,
    company: &Company,
    now: i64,
) -> Result<Option<String>, ServicesError> {
    let id = random_token()?;
    let inserted = sqlx::query(
        "INSERT INTO portal_drafts (id, subject, company_name, company_type, registered_capital, address, \
         business_scope, consent_at, created_at) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 \
         WHERE (SELECT COUNT(*) FROM portal_drafts WHERE subject = $2) < $10",
    )
    .bind(id.as_str())
    .bind(subject)
    .bind(company.name.as_str())
    .bind(company.kind.as_str())
    .bind(company.capital)
    .bind(company.address.as_str())
    .bind(company.scope.as_str())
    .bind(now)
    .bind(now)
    .bind(MAX_DRAFTS)
    .execute(db.pool())
    .await?;
    Ok((inserted.rows_affected() == 1).then_some(id))
}

/// `subject`'s draft `id`, if it is theirs.
pub(crate) async fn draft_of(db: &Db, subject: &str, id: &str) -> Result<Option<Draft>, ServicesError> {
    let row = sqlx::query("SELECT * FROM portal_drafts WHERE id = $1 AND subject = $2")
        .bind(id)
        .bind(subject)
        .fetch_optional(db.pool())
        .await?;
    row.map(|row| Ok(Draft { id: row.try_get("id")?, company: company_of(&row)? })).transpose()
}

/// `subject`'s drafts and filings, newest first.
pub(crate) async fn space_of(db: &Db, subject: &str) -> Result<(Vec<Draft>, Vec<FilingSummary>), ServicesError> {
    let drafts = sqlx::query("SELECT * FROM portal_drafts WHERE subject = $1 ORDER BY created_at DESC LIMIT 50")
        .bind(subject)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|row| Ok(Draft { id: row.try_get("id")?, company: company_of(row)? }))
        .collect::<Result<_, ServicesError>>()?;
    let filings = sqlx::query(
        "SELECT id, company_name, company_type, registered_capital, address, business_scope, acr, filed_at \
         FROM portal_filings WHERE subject = $1 ORDER BY filed_at DESC LIMIT 50",
    )
    .bind(subject)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(summary_of)
    .collect::<Result<_, _>>()?;
    Ok((drafts, filings))
}

/// Files `subject`'s draft `draft_id` with its evidence, the legal identity
/// sealed to the filing, in one transaction (the draft goes as the filing
/// comes); answers the filing's reference, or `None` when the draft is gone
/// (filed already by another tab).
pub(crate) async fn file_draft(
    db: &Db,
    sealer: &Sealer,
    subject: &str,
    draft_id: &str,
    evidence: &Evidence,
    identity: &LegalIdentity,
    now: i64,
) -> Result<Option<String>, ServicesError> {
    let id = filing_reference()?;
    let plain = zeroize::Zeroizing::new(
        serde_json::to_vec(identity).map_err(|e| ServicesError::Corrupt(format!("legal identity: {e}")))?,
    );
    let sealed = sealer.seal(&plain, &id)?;
    let mut tx = db.write().await?;
    let Some(draft) = sqlx::query("DELETE FROM portal_drafts WHERE id = $1 AND subject = $2 RETURNING *")
        .bind(draft_id)
        .bind(subject)
        .fetch_optional(&mut *tx)
        .await?
    else {
        return Ok(None);
    };
    let company = company_of(&draft)?;
    sqlx::query(
        "INSERT INTO portal_filings (id, subject, company_name, company_type, registered_capital, address, \
         business_scope, consent_at, acr, amr, issuer, auth_time, disclosed, filed_at, sealed_identity) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(id.as_str())
    .bind(subject)
    .bind(company.name)
    .bind(company.kind)
    .bind(company.capital)
    .bind(company.address)
    .bind(company.scope)
    .bind(draft.try_get::<i64, _>("consent_at")?)
    .bind(evidence.acr.as_str())
    .bind(evidence.amr.join(" "))
    .bind(evidence.issuer.as_str())
    .bind(evidence.auth_time)
    .bind(evidence.disclosed.join(","))
    .bind(now)
    .bind(sealed)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(id))
}

/// The newest filings with their legal identity opened, recording in the
/// same transaction that `clerk` viewed each of them.
pub(crate) async fn filings_for_clerk(
    db: &Db,
    sealer: &Sealer,
    clerk: &str,
    now: i64,
) -> Result<Vec<FilingRecord>, ServicesError> {
    let mut tx = db.write().await?;
    let rows = sqlx::query(
        "SELECT f.*, (SELECT COUNT(*) FROM portal_filing_views v WHERE v.filing_id = f.id) AS views \
             FROM portal_filings f ORDER BY f.filed_at DESC, f.id LIMIT 100",
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut records = Vec::with_capacity(rows.len());
    for row in &rows {
        let summary = summary_of(row)?;
        let sealed: Vec<u8> = row.try_get("sealed_identity")?;
        let identity: LegalIdentity = serde_json::from_slice(&sealer.open(&sealed, &summary.id)?)
            .map_err(|e| ServicesError::Corrupt(format!("filing {}: {e}", summary.id)))?;
        let amr: String = row.try_get("amr")?;
        let disclosed: String = row.try_get("disclosed")?;
        let evidence = Evidence {
            acr: summary.acr.clone(),
            amr: amr.split(' ').filter(|m| !m.is_empty()).map(str::to_owned).collect(),
            issuer: row.try_get("issuer")?,
            auth_time: row.try_get("auth_time")?,
            disclosed: disclosed.split(',').filter(|c| !c.is_empty()).map(str::to_owned).collect(),
        };
        sqlx::query("INSERT INTO portal_filing_views (filing_id, clerk, viewed_at) VALUES ($1, $2, $3)")
            .bind(summary.id.as_str())
            .bind(clerk)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let views = row.try_get::<i64, _>("views")? + 1;
        records.push(FilingRecord { summary, evidence, identity, views });
    }
    tx.commit().await?;
    Ok(records)
}

/// Every clerk's view of filing `id`: who and when, oldest first.
#[cfg(test)]
pub(crate) async fn views_of(db: &Db, id: &str) -> Result<Vec<(String, i64)>, ServicesError> {
    sqlx::query("SELECT clerk, viewed_at FROM portal_filing_views WHERE filing_id = $1 ORDER BY id")
        .bind(id)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|row| Ok((row.try_get("clerk")?, row.try_get("viewed_at")?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::fresh_postgres;

    fn company() -> Company {
        Company {
            name: "广州晓梅茶饮有限公司".into(),
            kind: "limited_liability".into(),
            capital: 50,
            address: "广东省广州市天河区天河路1号".into(),
            scope: "茶饮制售".into(),
        }
    }

    fn evidence() -> Evidence {
        Evidence {
            acr: "L3".into(),
            amr: vec!["swk".into(), "pin".into(), "face".into()],
            issuer: "http://127.0.0.1:8080".into(),
            auth_time: 150,
            disclosed: vec!["name".into(), "id_number".into()],
        }
    }

    fn identity() -> LegalIdentity {
        LegalIdentity { name: "王建国".into(), id_number: "110105196108040136".into(), id_token: "a.b.c".into() }
    }

    /// A draft filed once, only by its citizen, with its evidence and sealed
    /// identity; each clerk view recorded, a failed one not.
    async fn a_filing_round_trip(db: &Db) {
        let sealer = Sealer::new(&[3; 32]).unwrap();
        let draft = save_draft(db, "sub-1", &company(), 100).await.unwrap().unwrap();
        assert!(draft_of(db, "sub-2", &draft).await.unwrap().is_none(), "another citizen's draft");
        assert_eq!(file_draft(db, &sealer, "sub-2", &draft, &evidence(), &identity(), 160).await.unwrap(), None);
        let id = file_draft(db, &sealer, "sub-1", &draft, &evidence(), &identity(), 160).await.unwrap().unwrap();
        let again = file_draft(db, &sealer, "sub-1", &draft, &evidence(), &identity(), 161).await.unwrap();
        assert_eq!(again, None, "filed once");
        let (drafts, filings) = space_of(db, "sub-1").await.unwrap();
        assert!(drafts.is_empty());
        assert_eq!(
            (filings[0].id.as_str(), filings[0].company.name.as_str(), filings[0].acr.as_str()),
            (id.as_str(), "广州晓梅茶饮有限公司", "L3")
        );

        let records = filings_for_clerk(db, &sealer, "clerk-li", 200).await.unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].evidence, evidence());
        assert_eq!(records[0].identity.id_number, "110105196108040136");
        assert_eq!(views_of(db, &id).await.unwrap(), vec![("clerk-li".to_owned(), 200)]);
        assert_eq!(records[0].views, 1);
        let again = filings_for_clerk(db, &sealer, "clerk-zhao", 210).await.unwrap();
        assert_eq!(again[0].views, 2, "the second clerk sees that the filing was viewed before");
        assert_eq!(views_of(db, &id).await.unwrap()[1], ("clerk-zhao".to_owned(), 210));
        let other_key = Sealer::new(&[4; 32]).unwrap();
        assert!(matches!(filings_for_clerk(db, &other_key, "clerk-li", 201).await, Err(ServicesError::Sealed)));
        assert_eq!(views_of(db, &id).await.unwrap().len(), 2, "a view that failed is not recorded");
    }

    #[tokio::test]
    async fn a_filing_keeps_its_evidence_seals_the_identity_and_records_each_clerk_view_on_sqlite() {
        let path = std::env::temp_dir().join(format!("shenfen-services-filing-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let db = Db::open(&format!("sqlite:{}", path.display())).await.unwrap();
        a_filing_round_trip(&db).await;
        db.close().await;
        let bytes = std::fs::read(&path).unwrap();
        assert!(!bytes.windows(18).any(|w| w == b"110105196108040136"), "no ID number in clear in the database file");
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }

    #[tokio::test]
    async fn a_citizen_keeps_a_bounded_number_of_drafts_and_old_ones_are_forgotten() {
        let db = Db::open(&fresh_postgres("drafts").await).await.unwrap();
        for _ in 0..MAX_DRAFTS {
            assert!(save_draft(&db, "sub-1", &company(), 100).await.unwrap().is_some());
        }
        assert_eq!(save_draft(&db, "sub-1", &company(), 100).await.unwrap(), None, "one more is refused");
        assert!(save_draft(&db, "sub-2", &company(), 100).await.unwrap().is_some(), "another citizen's are their own");
        db.purge_expired(100 + DRAFT_FOR).await.unwrap();
        assert!(
            save_draft(&db, "sub-1", &company(), 100 + DRAFT_FOR).await.unwrap().is_some(),
            "unfiled for 30 days: gone"
        );
        db.close().await;
    }

    #[tokio::test]
    async fn a_filing_keeps_its_evidence_seals_the_identity_and_records_each_clerk_view_on_postgres() {
        let db = Db::open(&fresh_postgres("filing").await).await.unwrap();
        a_filing_round_trip(&db).await;
        db.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn one_draft_confirmed_in_two_tabs_at_once_is_filed_once() {
        let db = Db::open(&fresh_postgres("race").await).await.unwrap();
        let sealer = std::sync::Arc::new(Sealer::new(&[3; 32]).unwrap());
        for round in 0..5 {
            let draft = save_draft(&db, "sub-1", &company(), 100).await.unwrap().unwrap();
            let tabs: Vec<_> = (0..8)
                .map(|_| {
                    let (db, sealer, draft) = (db.clone(), sealer.clone(), draft.clone());
                    tokio::spawn(async move {
                        file_draft(&db, &sealer, "sub-1", &draft, &evidence(), &identity(), 160).await.unwrap()
                    })
                })
                .collect();
            let mut filed = 0;
            for tab in tabs {
                filed += usize::from(tab.await.unwrap().is_some());
            }
            assert_eq!(filed, 1, "round {round}");
        }
        assert_eq!(space_of(&db, "sub-1").await.unwrap().1.len(), 5);
        db.close().await;
    }
}
