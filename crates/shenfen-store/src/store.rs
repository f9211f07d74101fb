//! The storage seam. Every piece of state that several server instances must
//! share lives behind it, so N stateless instances behave as one.

use std::future::Future;

use shenfen_core::PinLockout;

use crate::{
    Attestation, AuditEntry, AuditEvent, BlindIndex, BrokenLink, CredentialHolder, EnrollmentSession, Grant, GrantKind,
    Issuance, KeyProvider, Offer, Operator, PinReservation, PresentationRequest, RelyingParty, SealedEntry,
    SealedValue, StoreError,
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

/// How long the prints of enrollment frames are remembered, in days: long
/// enough to see one photo fed to sessions over weeks, short enough to keep
/// little of anyone's face.
pub const FRAME_PRINT_DAYS: i64 = 30;

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

    /// Entries of one `kind` at or after `since` (seconds) with `seq > after`,
    /// in order, at most `limit`: the operator console's statistics, a page at a time.
    fn audit_of_kind_since(
        &self,
        kind: &str,
        since: i64,
        after: u64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<AuditEntry>, StoreError>> + Send;

    /// Entries about one citizen with `seq > after`, in order, at most
    /// `limit`: what they may read of their own log, a page at a time.
    fn audit_of(
        &self,
        subject: &BlindIndex,
        after: u64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<AuditEntry>, StoreError>> + Send;

    /// Verifies the chain up to the head as it was when the check began, and
    /// that the head matches its entry: entries appended meanwhile are not
    /// read, so a check during writes sees one consistent chain.
    fn verify_audit(&self) -> impl Future<Output = Result<Result<u64, BrokenLink>, StoreError>> + Send;

    /// Records a nonce as used. `true` the first time, `false` for a replay.
    fn consume_nonce(&self, nonce: &str, expires_at: i64) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Forgets what expired before `now` — nonces, enrollment sessions, grants,
    /// operator sessions, attestations, presentation requests and their results —
    /// attempt windows older than two days and frame prints older than
    /// [`FRAME_PRINT_DAYS`]; returns how many rows went.
    fn purge_expired(&self, now: i64) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Counts one attempt under `key` in the window starting at `window_start`
    /// and returns the count including it (rate limits, lockouts).
    fn count_attempt(&self, key: &str, window_start: i64) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Counts `n` attempts at once (frames of one submission against a
    /// per-minute budget) and returns the count including them.
    fn count_attempts(
        &self,
        key: &str,
        window_start: i64,
        n: u64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Takes back one attempt counted under `key` (a sign-in counted before
    /// its check turned out right).
    fn release_attempt(&self, key: &str, window_start: i64) -> impl Future<Output = Result<(), StoreError>> + Send;

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

    /// The unused, unexpired grant of `kind` under `token_hash`, without
    /// redeeming it (the credential endpoint checks the proofs first).
    fn peek_grant(
        &self,
        token_hash: &[u8; 32],
        kind: GrantKind,
        now: i64,
    ) -> impl Future<Output = Result<Option<Grant>, StoreError>> + Send;

    /// Redeems an unused, unexpired grant of `kind` once — if it asks for a
    /// transaction code, only together with the hash of the right one.
    fn redeem_grant(
        &self,
        token_hash: &[u8; 32],
        kind: GrantKind,
        tx_code_hash: Option<&[u8; 32]>,
        now: i64,
    ) -> impl Future<Output = Result<Option<Grant>, StoreError>> + Send;

    /// One enrollment decision as one transaction: the offer (if accepted:
    /// its pre-authorized code; for the upgraded edition also the PIN, and the
    /// consumed attestation), the failure count (if refused; returned), the
    /// sealed print of the frames (remembered under the event's subject, at
    /// its time), the audit entry.
    fn record_decision(
        &self,
        offer: Option<Offer<'_>>,
        event: AuditEvent,
        failure: Option<(&str, i64)>,
        print: Option<&SealedValue>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The sealed frame prints remembered for `subject` since `since`, newest
    /// first, at most `limit`.
    fn frame_prints(
        &self,
        subject: &BlindIndex,
        since: i64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<SealedValue>, StoreError>> + Send;

    /// One issuance as one transaction: redeems the access token (`None` if
    /// it is already spent or expired, and nothing else happens), revokes
    /// every credential the subject held, allocates a random slot of the list
    /// per device key, and appends `event` (whose JSON object details gain
    /// `count` and `previous_revoked`).
    fn issue_slots(
        &self,
        issuance: Issuance<'_>,
        event: AuditEvent,
    ) -> impl Future<Output = Result<Option<Vec<u64>>, StoreError>> + Send;

    /// Sets `status` on every valid credential of `subject` and appends
    /// `event` (whose JSON object details gain `count`), in one transaction;
    /// returns how many changed (lost phone, operator revocation).
    fn revoke_subject(
        &self,
        subject: &BlindIndex,
        status: u8,
        event: AuditEvent,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The citizen a credential was issued to and its current status, from
    /// its status-list slot.
    fn credential_holder(
        &self,
        list_id: &str,
        idx: u64,
    ) -> impl Future<Output = Result<Option<CredentialHolder>, StoreError>> + Send;

    /// A number that changes with every status change (revocation,
    /// suspension): a signed status list is re-signed only when it changed.
    fn status_version(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The non-VALID entries of a list, as (index, status).
    fn status_entries(&self, list_id: &str) -> impl Future<Output = Result<Vec<(u64, u8)>, StoreError>> + Send;

    /// Creates or replaces an operator account and audits it, in one transaction.
    fn put_operator(
        &self,
        operator: &Operator,
        event: AuditEvent,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The operator with this user name, disabled or not.
    fn operator(&self, username: &str) -> impl Future<Output = Result<Option<Operator>, StoreError>> + Send;

    /// Opens an operator session under the SHA-256 of its bearer token.
    fn create_operator_session(
        &self,
        token_hash: &[u8; 32],
        username: &str,
        expires_at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The enabled operator an unexpired session belongs to.
    fn operator_of_session(
        &self,
        token_hash: &[u8; 32],
        now: i64,
    ) -> impl Future<Output = Result<Option<Operator>, StoreError>> + Send;

    /// Ends a session (logout); `true` if there was one.
    fn end_operator_session(&self, token_hash: &[u8; 32]) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Records an in-person verification (replacing an open one of the same
    /// citizen) and audits it, in one transaction.
    fn put_attestation(
        &self,
        attestation: &Attestation,
        event: AuditEvent,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The citizen's open, unexpired attestation.
    fn attestation(
        &self,
        subject: &BlindIndex,
        now: i64,
    ) -> impl Future<Output = Result<Option<Attestation>, StoreError>> + Send;

    /// Reserves one PIN attempt before the PIN is checked: in one statement
    /// it counts the attempt as a failure and, if that many failures lock
    /// the PIN under `lockout`, locks it — so of N parallel guesses only
    /// those the policy allows are ever checked.
    fn reserve_pin_attempt(
        &self,
        subject: &BlindIndex,
        lockout: &PinLockout,
        now: i64,
    ) -> impl Future<Output = Result<PinReservation, StoreError>> + Send;

    /// Settles a reserved attempt: a right PIN clears the failures and any
    /// lock; a wrong one stays counted, and `lock_event` is appended if it
    /// was the attempt that locked.
    fn settle_pin_attempt(
        &self,
        subject: &BlindIndex,
        success: bool,
        lock_event: Option<AuditEvent>,
        now: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Registers a counter device (a hotel's front desk, a ticket gate) under
    /// the SHA-256 of its token, and audits it, in one transaction.
    fn put_counter_device(
        &self,
        token_hash: &[u8; 32],
        name: &str,
        now: i64,
        event: AuditEvent,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The name of the enabled counter device holding this token.
    fn counter_device(&self, token_hash: &[u8; 32]) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// Registers or updates a relying party and audits it, in one transaction.
    fn put_relying_party(
        &self,
        party: &RelyingParty,
        event: AuditEvent,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The relying party with this client id.
    fn relying_party(&self, client_id: &str) -> impl Future<Output = Result<Option<RelyingParty>, StoreError>> + Send;

    /// Every registered relying party, by client id.
    fn relying_parties(&self) -> impl Future<Output = Result<Vec<RelyingParty>, StoreError>> + Send;

    /// Stores a new, pending presentation request.
    fn create_presentation_request(
        &self,
        request: &PresentationRequest,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The presentation request with this id, answered or not.
    fn presentation_request(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<PresentationRequest>, StoreError>> + Send;

    /// Answers a pending, unexpired request whose state matches, once:
    /// `false` if it was already answered, expired, or the state differs.
    fn answer_presentation_request(
        &self,
        id: &str,
        state: &str,
        now: i64,
        status: &str,
        result: &SealedValue,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Removes and returns an answered request of `client_id`: a relying
    /// party reads the verified claims once, and they are not kept after.
    fn take_answered_request(
        &self,
        id: &str,
        client_id: &str,
    ) -> impl Future<Output = Result<Option<PresentationRequest>, StoreError>> + Send;

    /// The status of one credential's slot, if it was issued.
    fn credential_status(&self, list_id: &str, idx: u64)
    -> impl Future<Output = Result<Option<u8>, StoreError>> + Send;
}
