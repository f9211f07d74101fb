//! The storage seam. Every piece of state that several server instances must
//! share lives behind it, so N stateless instances behave as one.

use std::future::Future;

use crate::{
    AuditEntry, AuditEvent, BlindIndex, BrokenLink, EnrollmentSession, Grant, GrantKind, KeyProvider, SealedEntry,
    StoreError,
};

/// How far a registry import has come, committed with each batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportProgress {
    /// The first input line not yet processed.
    pub next_line: u64,
    /// Rows stored so far.
    pub imported: u64,
    /// Rows refused so far.
    pub rejected: u64,
}

/// Persistent, shared state.
pub trait Store: Send + Sync {
    /// Stores a batch of sealed entries (replacing any with the same index) and
    /// the import's progress, in one transaction: after a crash either both or
    /// neither are there.
    fn put_entries(
        &self,
        batch: &[SealedEntry],
        source: &str,
        progress: ImportProgress,
        now: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The sealed entry at `index`, if any.
    fn entry(&self, index: &BlindIndex) -> impl Future<Output = Result<Option<SealedEntry>, StoreError>> + Send;

    /// Number of registry entries.
    fn entry_count(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Where the import of `source` stopped, if it ever started.
    fn import_progress(&self, source: &str) -> impl Future<Output = Result<Option<ImportProgress>, StoreError>> + Send;

    /// Re-wraps every data key not under the provider's current master key, in
    /// batches of one transaction each; returns how many were re-wrapped.
    fn rewrap(&self, keys: &dyn KeyProvider) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Appends to the audit chain (one transaction, serialised on the chain head).
    fn append_audit(&self, event: AuditEvent) -> impl Future<Output = Result<AuditEntry, StoreError>> + Send;

    /// Entries with `seq > after`, in order, at most `limit`.
    fn audit_after(&self, after: u64, limit: u32) -> impl Future<Output = Result<Vec<AuditEntry>, StoreError>> + Send;

    /// Every entry about one citizen, in order: what they may read of their own log.
    fn audit_of(&self, subject: &BlindIndex) -> impl Future<Output = Result<Vec<AuditEntry>, StoreError>> + Send;

    /// Verifies the whole chain and that the head matches its last entry.
    fn verify_audit(&self) -> impl Future<Output = Result<Result<u64, BrokenLink>, StoreError>> + Send;

    /// Records a nonce as used. `true` the first time, `false` for a replay.
    fn consume_nonce(&self, nonce: &str, expires_at: i64) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Forgets what expired before `now` — nonces, enrollment sessions, grants —
    /// and attempt windows older than two days; returns how many rows went.
    fn purge_expired(&self, now: i64) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Counts one attempt under `key` in the window starting at `window_start`
    /// and returns the count including it (rate limits, lockouts).
    fn count_attempt(&self, key: &str, window_start: i64) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The count under `key` in a window, without adding to it.
    fn attempt_count(&self, key: &str, window_start: i64) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Opens an enrollment session.
    fn create_session(&self, session: &EnrollmentSession) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Takes an open, unexpired session, marking it consumed in the same
    /// statement: a session decides once, so a replayed submission finds nothing.
    fn take_session(
        &self,
        id: &str,
        now: i64,
    ) -> impl Future<Output = Result<Option<EnrollmentSession>, StoreError>> + Send;

    /// Stores a grant under the SHA-256 of its token.
    fn put_grant(
        &self,
        token_hash: &[u8; 32],
        kind: GrantKind,
        grant: &Grant,
        expires_at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Redeems an unused, unexpired grant of `kind` once.
    fn redeem_grant(
        &self,
        token_hash: &[u8; 32],
        kind: GrantKind,
        now: i64,
    ) -> impl Future<Output = Result<Option<Grant>, StoreError>> + Send;

    /// One enrollment decision as one transaction: the offer's pre-authorized
    /// code (if accepted), the failure count (if refused; returned), the audit entry.
    fn record_decision(
        &self,
        offer: Option<(&[u8; 32], &Grant, i64)>,
        event: AuditEvent,
        failure: Option<(&str, i64)>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// One issuance as one transaction: revokes every credential `subject` held,
    /// allocates a random slot of `list_id` per device key, and appends `event`
    /// (whose JSON object details gain `count` and `previous_revoked`).
    fn issue_slots(
        &self,
        list_id: &str,
        list_size: u64,
        subject: &BlindIndex,
        devices: &[String],
        now: i64,
        event: AuditEvent,
    ) -> impl Future<Output = Result<Vec<u64>, StoreError>> + Send;

    /// Sets `status` on every credential of `subject` whose device key is not
    /// `keep_device`; returns how many changed (re-enrollment, lost phone).
    fn set_status_of_subject(
        &self,
        subject: &BlindIndex,
        keep_device: Option<&str>,
        status: u8,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The citizen a credential was issued to, from its status-list slot.
    fn credential_subject(
        &self,
        list_id: &str,
        idx: u64,
    ) -> impl Future<Output = Result<Option<BlindIndex>, StoreError>> + Send;

    /// The non-VALID entries of a list, as (index, status).
    fn status_entries(&self, list_id: &str) -> impl Future<Output = Result<Vec<(u64, u8)>, StoreError>> + Send;
}
