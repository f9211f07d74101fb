//! OpenID Connect sign-in: authorization requests waiting for the wallet,
//! authorization codes redeemed once, and the access tokens redeemed from them.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::audit::append_audit_on;
use super::verifier::create_presentation_request_on;
use super::{SqlStore, bytes32, sealed_value_from};
use crate::{AuditEvent, Authorization, AuthorizationCode, PresentationRequest, StoreError};

/// The columns of an authorization code.
const CODE_COLUMNS: &str = "code_hash, client_id, key_id, wrapped_key, ciphertext, expires_at, redeemed_at";

fn authorization_from(row: &AnyRow) -> Result<Authorization, StoreError> {
    Ok(Authorization {
        page_token_hash: bytes32(row, "page_token_hash")?,
        request_id: row.try_get("request_id")?,
        client_id: row.try_get("client_id")?,
        request: row.try_get("request")?,
        expires_at: row.try_get("expires_at")?,
    })
}

fn code_from(row: &AnyRow) -> Result<AuthorizationCode, StoreError> {
    Ok(AuthorizationCode {
        code_hash: bytes32(row, "code_hash")?,
        client_id: row.try_get("client_id")?,
        grant: sealed_value_from(row)?,
        expires_at: row.try_get("expires_at")?,
        redeemed_at: row.try_get("redeemed_at")?,
    })
}

impl SqlStore {
    /// Stores an authorization request and the presentation request its
    /// citizen's wallet answers, in one transaction.
    pub async fn start_authorization(
        &self,
        authorization: &Authorization,
        presentation: &PresentationRequest,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_transaction().await?;
        create_presentation_request_on(&mut tx, presentation).await?;
        sqlx::query(
            "INSERT INTO oidc_authorizations (page_token_hash, request_id, client_id, request, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(authorization.page_token_hash.to_vec())
        .bind(authorization.request_id.as_str())
        .bind(authorization.client_id.as_str())
        .bind(authorization.request.as_str())
        .bind(authorization.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The authorization request the sign-in page's token names, if unexpired.
    pub async fn authorization(
        &self,
        page_token_hash: &[u8; 32],
        now: i64,
    ) -> Result<Option<Authorization>, StoreError> {
        let row = sqlx::query(
            "SELECT page_token_hash, request_id, client_id, request, expires_at FROM oidc_authorizations \
             WHERE page_token_hash = $1 AND expires_at >= $2",
        )
        .bind(page_token_hash.to_vec())
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(authorization_from).transpose()
    }

    /// Closes an authorization request, once, in one transaction: forgets it
    /// and its presentation request, stores the code it ends with (none
    /// when the citizen did not sign in) and audits how it ended. `false`
    /// if it was already closed.
    pub async fn finish_authorization(
        &self,
        authorization: &Authorization,
        code: Option<&AuthorizationCode>,
        event: AuditEvent,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write_transaction().await?;
        let taken = sqlx::query("DELETE FROM oidc_authorizations WHERE page_token_hash = $1")
            .bind(authorization.page_token_hash.to_vec())
            .execute(&mut *tx)
            .await?;
        if taken.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM presentation_requests WHERE id = $1")
            .bind(authorization.request_id.as_str())
            .execute(&mut *tx)
            .await?;
        if let Some(code) = code {
            let statement = format!("INSERT INTO oidc_codes ({CODE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)");
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .bind(code.code_hash.to_vec())
                .bind(code.client_id.as_str())
                .bind(code.grant.key_id.as_str())
                .bind(code.grant.wrapped_key.as_slice())
                .bind(code.grant.ciphertext.as_slice())
                .bind(code.expires_at)
                .bind(code.redeemed_at)
                .execute(&mut *tx)
                .await?;
        }
        append_audit_on(&mut tx, self.backend, event).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The authorization code with this hash, redeemed or not.
    pub async fn authorization_code(&self, code_hash: &[u8; 32]) -> Result<Option<AuthorizationCode>, StoreError> {
        let statement = format!("SELECT {CODE_COLUMNS} FROM oidc_codes WHERE code_hash = $1");
        let row =
            sqlx::query(sqlx::AssertSqlSafe(statement)).bind(code_hash.to_vec()).fetch_optional(&self.pool).await?;
        row.as_ref().map(code_from).transpose()
    }

    /// Redeems an unexpired, unredeemed code for an access token, in one
    /// transaction: `false` if it was already redeemed or has expired.
    pub async fn redeem_authorization_code(
        &self,
        code_hash: &[u8; 32],
        now: i64,
        access_token_hash: &[u8; 32],
        access_expires_at: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write_transaction().await?;
        let redeemed = sqlx::query(
            "UPDATE oidc_codes SET redeemed_at = $1 WHERE code_hash = $2 AND redeemed_at IS NULL AND expires_at >= $1",
        )
        .bind(now)
        .bind(code_hash.to_vec())
        .execute(&mut *tx)
        .await?;
        if redeemed.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query("INSERT INTO oidc_access_tokens (token_hash, code_hash, expires_at) VALUES ($1, $2, $3)")
            .bind(access_token_hash.to_vec())
            .bind(code_hash.to_vec())
            .bind(access_expires_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Revokes the access tokens redeemed from a code (RFC 6749 §4.1.2: a
    /// code presented twice may have been stolen); returns how many.
    pub async fn revoke_code_tokens(&self, code_hash: &[u8; 32]) -> Result<u64, StoreError> {
        let revoked = sqlx::query("DELETE FROM oidc_access_tokens WHERE code_hash = $1")
            .bind(code_hash.to_vec())
            .execute(&self.pool)
            .await?;
        Ok(revoked.rows_affected())
    }

    /// The code an unexpired access token was redeemed from.
    pub async fn code_of_access_token(
        &self,
        access_token_hash: &[u8; 32],
        now: i64,
    ) -> Result<Option<AuthorizationCode>, StoreError> {
        let columns = CODE_COLUMNS.split(", ").map(|c| format!("c.{c}")).collect::<Vec<_>>().join(", ");
        let statement = format!(
            "SELECT {columns} FROM oidc_access_tokens t JOIN oidc_codes c ON c.code_hash = t.code_hash \
             WHERE t.token_hash = $1 AND t.expires_at >= $2"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(statement))
            .bind(access_token_hash.to_vec())
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(code_from).transpose()
    }
}
