//! The hash-chained audit log: each entry commits to the one before, so a
//! changed, removed or reordered entry breaks the chain at that point.

use aws_lc_rs::digest;
use serde::Serialize;

use crate::BlindIndex;

/// Hash of the (virtual) entry before the first.
pub const GENESIS: [u8; 32] = [0; 32];

/// Something that happened, as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// Seconds since the epoch.
    pub at: i64,
    /// What happened (`enrollment.decision`, `credential.issued`, `operator.lookup`, …).
    pub kind: String,
    /// Who did it (`citizen`, `operator:alice`, `system`).
    pub actor: String,
    /// The citizen concerned, so they can read their own entries.
    pub subject: Option<BlindIndex>,
    /// Details as JSON; never PII in clear.
    pub details: serde_json::Value,
}

/// An entry of the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Position, from 1.
    pub seq: u64,
    /// The event.
    pub event: AuditEvent,
    /// The details exactly as hashed and stored.
    pub details_json: String,
    /// Hash of the previous entry.
    pub prev_hash: [u8; 32],
    /// This entry's hash.
    pub hash: [u8; 32],
}

/// SHA-256 over the previous hash and every field, each length-prefixed so no
/// field can bleed into its neighbour.
pub fn entry_hash(prev: &[u8; 32], seq: u64, event: &AuditEvent, details_json: &str) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(prev);
    ctx.update(&seq.to_be_bytes());
    ctx.update(&event.at.to_be_bytes());
    for field in [
        event.kind.as_bytes(),
        event.actor.as_bytes(),
        event.subject.as_ref().map_or(&[][..], |s| &s.0[..]),
        details_json.as_bytes(),
    ] {
        ctx.update(&(field.len() as u64).to_be_bytes());
        ctx.update(field);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// Where a chain stops verifying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenLink {
    /// The first entry that does not verify.
    pub seq: u64,
    /// Why.
    pub reason: String,
}

/// Checks entries in order from the start of the chain; returns how many verified.
pub fn verify_chain<'a>(
    entries: impl IntoIterator<Item = &'a AuditEntry>,
    mut prev: [u8; 32],
    mut expected_seq: u64,
) -> Result<u64, BrokenLink> {
    let mut count = 0;
    for entry in entries {
        let broken = |reason: &str| BrokenLink { seq: entry.seq, reason: reason.to_owned() };
        if entry.seq != expected_seq {
            return Err(broken(&format!("expected entry {expected_seq} here (an entry is missing or reordered)")));
        }
        if entry.prev_hash != prev {
            return Err(broken("its previous-hash does not match the entry before it"));
        }
        if entry.hash != entry_hash(&prev, entry.seq, &entry.event, &entry.details_json) {
            return Err(broken("its content does not match its hash (the entry was altered)"));
        }
        prev = entry.hash;
        expected_seq += 1;
        count += 1;
    }
    Ok(count)
}
