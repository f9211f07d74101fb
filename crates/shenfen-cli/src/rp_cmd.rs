//! `shenfen rp add`: register a relying party with the verifier service, with
//! the claims it is entitled to ask for — and, with redirect URIs, as an
//! OpenID Connect client of "Sign in with shenfen".

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Subcommand;
use serde_json::json;
use shenfen_credential::PublicJwk;
use shenfen_server::token_hash;
use shenfen_store::{AuditEvent, ClientAuthentication, OpenIdClient, RelyingParty, generate_password};

use crate::clock::now_unix;
use crate::coded_error::coded;
use crate::data_dir::{StoreArgs, runtime};

/// Claim paths and yes/no questions (`is:…`) a relying party may be entitled to.
const KNOWN_CLAIMS: [&str; 15] = [
    "is:age_over_18",
    "is:region",
    "is:edition",
    "name",
    "id_number_masked",
    "age_over_18",
    "region",
    "record/id_number",
    "record/sex",
    "record/birth_date",
    "record/ethnicity",
    "record/address",
    "record/issuing_authority",
    "record/card_valid_from",
    "record/card_valid_until",
];

#[derive(Subcommand)]
pub(crate) enum RpCommand {
    /// Register a relying party (or replace its entitlement and API key);
    /// prints its API key once. New credentials carry its pairwise pseudonym.
    Add {
        /// Its client identifier: its HTTPS origin, e.g. https://hotel.example.
        #[arg(long)]
        client_id: String,
        /// Its name, shown to citizens on the consent screen.
        #[arg(long)]
        name: String,
        /// Claims it may ask for, comma-separated (e.g. name,age_over_18; the
        /// full ID number is record/id_number and needs a legal basis), and
        /// yes/no questions it may ask (is:age_over_18, is:region, is:edition).
        #[arg(long, value_delimiter = ',', required = true)]
        claims: Vec<String>,
        /// Makes it an OpenID Connect client: the redirect URIs `/authorize`
        /// accepts (exact match), comma-separated.
        #[arg(long, value_delimiter = ',')]
        redirect_uri: Vec<String>,
        /// The sector its pairwise `sub` is derived for; by default the host
        /// of its redirect URIs (which must then share one host).
        #[arg(long, requires = "redirect_uri")]
        sector_identifier: Option<String>,
        /// Authenticate at /token with private_key_jwt, with the ES256 keys of
        /// this JWK Set file; without it, client_secret_basic with a secret
        /// printed once.
        #[arg(long, requires = "redirect_uri")]
        client_jwks: Option<PathBuf>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub(crate) fn run(command: RpCommand) -> Result<ExitCode> {
    let RpCommand::Add { client_id, name, claims, redirect_uri, sector_identifier, client_jwks, store } = command;
    if !(client_id.starts_with("https://") || client_id.starts_with("http://")) || client_id.contains(['?', '#']) {
        bail!("a client id is the relying party's origin, e.g. https://hotel.example");
    }
    if let Some(unknown) = claims.iter().find(|c| !KNOWN_CLAIMS.contains(&c.as_str())) {
        bail!("unknown claim {unknown:?}; one of {}", KNOWN_CLAIMS.join(", "));
    }
    let api_key = generate_password().map_err(coded)?;
    let (openid, client_secret) = match redirect_uri.is_empty() {
        true => (None, None),
        false => {
            let (client, secret) = openid_client(redirect_uri, sector_identifier, client_jwks)?;
            (Some(client), secret)
        }
    };
    let party = RelyingParty {
        client_id: client_id.clone(),
        name,
        claims: claims.clone(),
        api_key_hash: token_hash(&api_key),
        created_at: now_unix(),
        openid,
    };
    let event = AuditEvent {
        at: now_unix(),
        kind: "relying_party.saved".into(),
        actor: "operator:cli".into(),
        subject: None,
        details: json!({ "client_id": client_id, "claims": claims }),
    };
    let rt = runtime()?;
    let db = rt.block_on(store.open_store())?;
    rt.block_on(db.put_relying_party(&party, event)).map_err(coded)?;
    println!("relying party {client_id} saved; API key (shown once): {api_key}");
    if let Some(secret) = client_secret {
        println!("OpenID Connect client secret (client_secret_basic, shown once): {secret}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The OpenID Connect registration, and the client secret to show once
/// (none with `private_key_jwt`).
/// The host of a redirect URI fit to receive codes (RFC 9700 §2.1, RFC 8252
/// §7.3): https, or http to this machine only; no fragment, no user name.
fn redirect_host(uri: &str) -> Option<&str> {
    let (secure, rest) = match uri.strip_prefix("https://") {
        Some(rest) => (true, rest),
        None => (false, uri.strip_prefix("http://")?),
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once(':').filter(|(_, port)| port.parse::<u16>().is_ok()).map_or(authority, |(h, _)| h);
    let loopback = matches!(host, "localhost" | "127.0.0.1" | "[::1]");
    let fit = !host.is_empty() && !uri.contains('#') && !authority.contains('@') && (secure || loopback);
    fit.then_some(authority)
}

fn openid_client(
    redirect_uris: Vec<String>,
    sector_identifier: Option<String>,
    client_jwks: Option<PathBuf>,
) -> Result<(OpenIdClient, Option<String>)> {
    let mut hosts: Vec<&str> = Vec::new();
    for uri in &redirect_uris {
        let host = redirect_host(uri).ok_or_else(|| {
            anyhow::anyhow!(
                "a redirect URI is an absolute https URI (http only to a loopback host) without a fragment or \
                 user name: {uri:?}"
            )
        })?;
        if !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    let sector_identifier = match (sector_identifier, hosts.as_slice()) {
        (Some(sector), _) => sector,
        (None, [host]) => (*host).to_owned(),
        (None, _) => bail!("the redirect URIs have several hosts: name the --sector-identifier of their pairwise subs"),
    };
    let (authentication, secret) = match client_jwks {
        Some(path) => {
            let text = std::fs::read_to_string(&path)?;
            let jwks: serde_json::Value = serde_json::from_str(&text)?;
            let keys = jwks["keys"].as_array().map_or(&[][..], Vec::as_slice);
            if keys.is_empty()
                || keys.iter().any(|key| PublicJwk::from_value(key).map(|k| k.kid().is_none()).unwrap_or(true))
            {
                bail!("{} is not a JWK Set of P-256 keys, each with a kid", path.display());
            }
            (ClientAuthentication::PrivateKeyJwt { jwks: text }, None)
        }
        None => {
            let secret = generate_password().map_err(coded)?;
            (ClientAuthentication::ClientSecretBasic { secret_hash: token_hash(&secret) }, Some(secret))
        }
    };
    Ok((OpenIdClient { redirect_uris, sector_identifier, authentication }, secret))
}

#[cfg(test)]
mod tests {
    use super::redirect_host;

    #[test]
    fn only_https_or_loopback_redirects_without_fragment_or_user_name_are_registered() {
        assert_eq!(redirect_host("https://shop.example/cb?x=1"), Some("shop.example"));
        assert_eq!(redirect_host("http://127.0.0.1:8080/cb"), Some("127.0.0.1:8080"));
        assert_eq!(redirect_host("http://localhost/cb"), Some("localhost"));
        for refused in [
            "http://shop.example/cb",
            "https://shop.example/cb#frag",
            "https://victim.example@shop.example/cb",
            "javascript:alert(1)",
            "https:///cb",
        ] {
            assert_eq!(redirect_host(refused), None, "{refused}");
        }
    }
}
