//! The verifier service: registered relying parties and their presentation
//! requests, from creation to the one read of the answer.

use serde::de::DeserializeOwned;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::audit::append_audit_on;
use super::{SqlStore, bytes32, optional_bytes32};
use crate::{
    AuditEvent, ClientAuthentication, OpenIdClient, PresentationRequest, PresentationStatus, RelyingParty, SealedValue,
    StoreError,
};

/// The columns of a relying party.
const RELYING_PARTY_COLUMNS: &str = "client_id, name, claims, api_key_hash, created_at, redirect_uris, \
    sector_identifier, token_auth_method, client_secret_hash, client_jwks";

/// The columns of a presentation request, result included.
const PRESENTATION_REQUEST_COLUMNS: &str = "id, client_id, nonce, state, query, expires_at, status, result_key_id, result_wrapped_key, result_ciphertext, \
     answered_at";

/// A column of JSON text, decoded into what this version writes there.
fn json_column<T: DeserializeOwned>(row: &AnyRow, name: &str) -> Result<T, StoreError> {
    let text: String = row.try_get(name)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{name}: {e}")))
}

fn relying_party_from(row: &AnyRow) -> Result<RelyingParty, StoreError> {
    Ok(RelyingParty {
        client_id: row.try_get("client_id")?,
        name: row.try_get("name")?,
        claims: json_column(row, "claims")?,
        api_key_hash: bytes32(row, "api_key_hash")?,
        created_at: row.try_get("created_at")?,
        openid: openid_client_from(row)?,
    })
}

/// The OpenID Connect registration of a relying party's row, if it has one.
fn openid_client_from(row: &AnyRow) -> Result<Option<OpenIdClient>, StoreError> {
    let Some(redirect_uris) = row.try_get::<Option<String>, _>("redirect_uris")? else {
        return Ok(None);
    };
    let redirect_uris =
        serde_json::from_str(&redirect_uris).map_err(|e| StoreError::Corrupt(format!("redirect_uris: {e}")))?;
    let method: Option<String> = row.try_get("token_auth_method")?;
    let authentication = match (method.as_deref(), optional_bytes32(row, "client_secret_hash")?) {
        (Some("client_secret_basic"), Some(secret_hash)) => ClientAuthentication::ClientSecretBasic { secret_hash },
        (Some("private_key_jwt"), None) => ClientAuthentication::PrivateKeyJwt {
            jwks: row
                .try_get::<Option<String>, _>("client_jwks")?
                .ok_or_else(|| StoreError::Corrupt("a private_key_jwt client without a JWKS".into()))?,
        },
        _ => return Err(StoreError::Corrupt(format!("token_auth_method {method:?}"))),
    };
    let sector_identifier = row
        .try_get::<Option<String>, _>("sector_identifier")?
        .ok_or_else(|| StoreError::Corrupt("an OpenID Connect client without a sector".into()))?;
    Ok(Some(OpenIdClient { redirect_uris, sector_identifier, authentication }))
}

fn presentation_request_from(row: &AnyRow) -> Result<PresentationRequest, StoreError> {
    let key_id: Option<String> = row.try_get("result_key_id")?;
    let wrapped_key: Option<Vec<u8>> = row.try_get("result_wrapped_key")?;
    let ciphertext: Option<Vec<u8>> = row.try_get("result_ciphertext")?;
    let result = match (key_id, wrapped_key, ciphertext) {
        (Some(key_id), Some(wrapped_key), Some(ciphertext)) => Some(SealedValue { key_id, wrapped_key, ciphertext }),
        (None, None, None) => None,
        _ => return Err(StoreError::Corrupt("a presentation result is partly stored".into())),
    };
    Ok(PresentationRequest {
        id: row.try_get("id")?,
        client_id: row.try_get("client_id")?,
        nonce: row.try_get("nonce")?,
        state: row.try_get("state")?,
        query: json_column(row, "query")?,
        expires_at: row.try_get("expires_at")?,
        status: PresentationStatus::from_stored(&row.try_get::<String, _>("status")?)?,
        result,
        answered_at: row.try_get("answered_at")?,
    })
}

/// Stores a new, pending presentation request on `conn` (a transaction, or not).
pub(super) async fn create_presentation_request_on(
    conn: &mut AnyConnection,
    request: &PresentationRequest,
) -> Result<(), StoreError> {
    let query = serde_json::to_string(&request.query)
        .map_err(|source| StoreError::Encode { what: "presentation query", source })?;
    sqlx::query(
        "INSERT INTO presentation_requests (id, client_id, nonce, state, query, expires_at, status) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(request.id.as_str())
    .bind(request.client_id.as_str())
    .bind(request.nonce.as_str())
    .bind(request.state.as_str())
    .bind(query)
    .bind(request.expires_at)
    .bind(request.status.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl SqlStore {
    /// Registers or replaces a relying party and audits it, in one transaction.
    pub async fn put_relying_party(&self, party: &RelyingParty, event: AuditEvent) -> Result<(), StoreError> {
        let replace = "DO UPDATE SET name = excluded.name, claims = excluded.claims, \
             api_key_hash = excluded.api_key_hash, redirect_uris = excluded.redirect_uris, \
             sector_identifier = excluded.sector_identifier, token_auth_method = excluded.token_auth_method, \
             client_secret_hash = excluded.client_secret_hash, client_jwks = excluded.client_jwks";
        self.save_relying_party(party, event, replace).await.map(|_| ())
    }

    /// Registers a relying party whose client id is new, and audits it, in
    /// one transaction; `false` (and nothing written) when the client id is
    /// registered — even by a concurrent call.
    pub async fn add_relying_party(&self, party: &RelyingParty, event: AuditEvent) -> Result<bool, StoreError> {
        self.save_relying_party(party, event, "DO NOTHING").await
    }

    /// Inserts the party, `on_conflict` deciding about an existing client id;
    /// the audit entry is written only with a row.
    async fn save_relying_party(
        &self,
        party: &RelyingParty,
        event: AuditEvent,
        on_conflict: &str,
    ) -> Result<bool, StoreError> {
        let claims = serde_json::to_string(&party.claims)
            .map_err(|source| StoreError::Encode { what: "relying party claims", source })?;
        let openid = party.openid.as_ref();
        let redirect_uris = openid
            .map(|client| serde_json::to_string(&client.redirect_uris))
            .transpose()
            .map_err(|source| StoreError::Encode { what: "redirect URIs", source })?;
        let (secret_hash, jwks) = match openid.map(|client| &client.authentication) {
            Some(ClientAuthentication::ClientSecretBasic { secret_hash }) => (Some(secret_hash.to_vec()), None),
            Some(ClientAuthentication::PrivateKeyJwt { jwks }) => (None, Some(jwks.as_str())),
            None => (None, None),
        };
        let mut tx = self.write_transaction().await?;
        let statement = format!(
            "INSERT INTO relying_parties ({RELYING_PARTY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (client_id) {on_conflict}"
        );
        let written = sqlx::query(sqlx::AssertSqlSafe(statement))
            .bind(party.client_id.as_str())
            .bind(party.name.as_str())
            .bind(claims)
            .bind(party.api_key_hash.to_vec())
            .bind(party.created_at)
            .bind(redirect_uris)
            .bind(openid.map(|client| client.sector_identifier.as_str()))
            .bind(openid.map(|client| client.authentication.method()))
            .bind(secret_hash)
            .bind(jwks)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if written == 0 {
            return Ok(false);
        }
        append_audit_on(&mut tx, self.backend, event).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The relying party with this client id.
    pub async fn relying_party(&self, client_id: &str) -> Result<Option<RelyingParty>, StoreError> {
        let statement = format!("SELECT {RELYING_PARTY_COLUMNS} FROM relying_parties WHERE client_id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(statement)).bind(client_id).fetch_optional(&self.pool).await?;
        row.as_ref().map(relying_party_from).transpose()
    }

    /// Every registered relying party, by client id.
    pub async fn relying_parties(&self) -> Result<Vec<RelyingParty>, StoreError> {
        let statement = format!("SELECT {RELYING_PARTY_COLUMNS} FROM relying_parties ORDER BY client_id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(statement)).fetch_all(&self.pool).await?;
        rows.iter().map(relying_party_from).collect()
    }

    /// Stores a new, pending presentation request.
    pub async fn create_presentation_request(&self, request: &PresentationRequest) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        create_presentation_request_on(&mut conn, request).await
    }

    /// The presentation request with this id, answered or not.
    pub async fn presentation_request(&self, id: &str) -> Result<Option<PresentationRequest>, StoreError> {
        let statement = format!("SELECT {PRESENTATION_REQUEST_COLUMNS} FROM presentation_requests WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(statement)).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(presentation_request_from).transpose()
    }

    /// Answers a pending, unexpired request whose state matches, once, at
    /// `now` (kept as its answer time): `false` if it was already answered,
    /// expired, or the state differs.
    pub async fn answer_presentation_request(
        &self,
        id: &str,
        state: &str,
        now: i64,
        status: PresentationStatus,
        result: &SealedValue,
    ) -> Result<bool, StoreError> {
        let answered = sqlx::query(
            "UPDATE presentation_requests SET status = $1, result_key_id = $2, result_wrapped_key = $3, \
             result_ciphertext = $4, answered_at = $8 WHERE id = $5 AND state = $6 AND status = $7 AND expires_at >= $8",
        )
        .bind(status.as_str())
        .bind(result.key_id.as_str())
        .bind(result.wrapped_key.as_slice())
        .bind(result.ciphertext.as_slice())
        .bind(id)
        .bind(state)
        .bind(PresentationStatus::Pending.as_str())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(answered.rows_affected() == 1)
    }

    /// Removes and returns an answered request of `client_id`: a relying
    /// party reads the verified claims once, and they are not kept after.
    /// The removal commits only once the row has decoded: an answer this
    /// version cannot read stays stored rather than being lost. A sign-in's
    /// answer is never taken here: it is the sign-in's, released only as a
    /// code to the browser that started it.
    pub async fn take_answered_request(
        &self,
        id: &str,
        client_id: &str,
    ) -> Result<Option<PresentationRequest>, StoreError> {
        let statement = format!(
            "DELETE FROM presentation_requests WHERE id = $1 AND client_id = $2 AND status <> $3 \
             RETURNING {PRESENTATION_REQUEST_COLUMNS}"
        );
        let mut tx = self.write_transaction().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(statement))
            .bind(id)
            .bind(client_id)
            .bind(PresentationStatus::Pending.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let taken = row.as_ref().map(presentation_request_from).transpose()?;
        if taken.as_ref().is_some_and(|request| request.query.sign_in_sector.is_some()) {
            return Ok(None);
        }
        tx.commit().await?;
        Ok(taken)
    }
}
