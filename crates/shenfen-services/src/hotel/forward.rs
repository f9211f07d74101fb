//! The register goes to the police: each entry — room, dates and the
//! guest's presentation as shown at the desk, with the ID number still
//! sealed to the police's key — is POSTed to the police's intake with the
//! hotel's intake token, right after the check-in and again on every refresh
//! until the police answer. The police verify the presentation against the
//! authority's keys, so the register holds only guests who showed their card.

use std::time::Duration;

use serde_json::json;

use super::{Hotel, store};

/// Entries sent in one request.
const BATCH: i64 = 50;

/// Where and how the hotel reaches the police's intake.
#[derive(Clone)]
pub(crate) struct PoliceLink {
    /// `<police origin>/intake`.
    pub(crate) intake: String,
    /// The bearer token the police issued this hotel.
    pub(crate) token: String,
}

/// Sends every entry the police have not acknowledged; failures are logged and retried on the next refresh.
pub(super) async fn forward_pending(hotel: &Hotel) {
    let Some(police) = hotel.police.clone() else { return };
    let pending = match store::unforwarded(&hotel.db, &hotel.sealer, BATCH).await {
        Ok(pending) if !pending.is_empty() => pending,
        Ok(_) => return,
        Err(e) => return tracing::warn!(error = %e, "could not read the register to forward"),
    };
    let ids: Vec<String> = pending.iter().map(|entry| entry.entry_id.clone()).collect();
    let body = json!({ "hotel": hotel.client_id, "entries": pending });
    let sent = tokio::task::spawn_blocking(move || post(&police, &body)).await;
    match sent {
        Ok(Ok(answer)) => {
            // Refused entries are told here, for good; deferred ones go again on the next refresh.
            for refused in answer["refused"].as_array().into_iter().flatten() {
                tracing::error!(entry = %refused["entry_id"], reason = %refused["reason"], "the police refused a register entry");
            }
            let deferred: Vec<&str> =
                answer["deferred"].as_array().into_iter().flatten().filter_map(|d| d.as_str()).collect();
            let answered: Vec<String> = ids.into_iter().filter(|id| !deferred.contains(&id.as_str())).collect();
            if let Err(e) = store::mark_forwarded(&hotel.db, &answered, crate::now()).await {
                tracing::warn!(error = %e, "the police have the entries; marking them failed (they are sent again)");
            }
        }
        Ok(Err(reason)) => tracing::warn!(%reason, "the police's intake refused or was unreachable; retrying later"),
        Err(e) => tracing::warn!(error = %e, "forwarding stopped"),
    }
}

/// POSTs a batch; answers the police's answer (`received`, `refused`, `deferred`).
fn post(police: &PoliceLink, body: &serde_json::Value) -> Result<serde_json::Value, String> {
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(10)))
            .build(),
    );
    let response = agent
        .post(&police.intake)
        .header("authorization", &format!("Bearer {}", police.token))
        .send_json(body)
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    response.into_body().read_json().map_err(|e| format!("the police's answer: {e}"))
}
