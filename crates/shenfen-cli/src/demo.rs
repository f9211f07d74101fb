//! `shenfen demo`: the whole credential life cycle in one process, printed so
//! that a newcomer can follow what each party learns.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value, json};
use shenfen_core::{
    CardValidity, CitizenRecord, Edition, IdNumber, OperatorRole, PseudonymKey, Sex, pairwise_pseudonym,
};
use shenfen_credential::{
    PresentationPolicy, PrivateJwk, StatusList, StatusListToken, StatusReference, VcIssuer, present,
    verify_presentation,
};
use shenfen_server::Registration;
use shenfen_services::{
    HOTEL as HOTEL_KEY, ServicesError, add_hotel_desk, add_police_officer, add_portal_clerk, add_rail_gate,
};
use shenfen_store::generate_password;
use time::macros::date;

use crate::clock::now_unix;
use crate::coded_error::coded;
use crate::counter_cmd::add_counter_device;
use crate::data_dir::StoreArgs;
use crate::face_cmd::Common;
use crate::files::repository_path;
use crate::operator_cmd::put_operator;
use crate::registry_cmd::{ImportArgs, import, synth};
use crate::rp_cmd::save_registration;
use crate::rp_verifier_cmd::{Attesting, attest_registered};
use crate::serve_cmd;
use crate::serve_config::Liveness;

const ISSUER: &str = "https://authority.gd.shenfen.example";
const HOTEL: &str = "https://hotel.example";
const RAIL: &str = "https://rail.example";
const STATUS_URI: &str = "https://authority.gd.shenfen.example/status/1";
const STATUS_LIST_SIZE: u64 = 131_072;

#[derive(clap::Args)]
pub(crate) struct DemoArgs {
    /// Where to keep the demo's database and keys (default: a fresh temporary directory).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Address the demo server listens on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Set everything up, then exit instead of serving.
    #[arg(long)]
    no_serve: bool,
    /// Liveness checks for enrollment: `flash` (the default) asks for one look
    /// at the camera while the screen flashes colours; `passive` lets a still
    /// photo stand in for a camera, for scripting the CLI wallet.
    #[arg(long, value_enum, default_value = "flash")]
    liveness: Liveness,
    /// Address the government portal (`shenfen services`, started beside
    /// the server) listens on (default 127.0.0.1:8081, or a free port when
    /// --listen asks for one).
    #[arg(long)]
    portal_listen: Option<SocketAddr>,
    /// Address the railway (铁路客票, in `shenfen services`) listens on
    /// (default 127.0.0.1:8084, or a free port when --listen asks for one).
    #[arg(long)]
    rail_listen: Option<SocketAddr>,
    /// Address the hotel's front desk listens on (default 127.0.0.1:8082, or a free port).
    #[arg(long)]
    hotel_listen: Option<SocketAddr>,
    /// Address the police's guest register listens on (default 127.0.0.1:8083, or a free port).
    #[arg(long)]
    police_listen: Option<SocketAddr>,
}

/// Where the demo's services listen.
#[derive(Clone, Copy)]
struct ServiceAddresses {
    portal: SocketAddr,
    hotel: SocketAddr,
    police: SocketAddr,
    rail: SocketAddr,
}

/// The walk-through, then the whole local stack: a demo registry with real
/// photos in an embedded database, and the authority server.
pub(crate) fn run(args: &DemoArgs) -> Result<ExitCode> {
    walkthrough()?;
    let dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("shenfen-demo-{}", std::process::id())));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // Both origins are known before either serves: the portal's is its client id, the authority's its issuer.
    let listen = concrete(args.listen)?;
    let default = |port: u16| SocketAddr::from(([127, 0, 0, 1], if args.listen.port() == 0 { 0 } else { port }));
    let services = ServiceAddresses {
        portal: concrete(args.portal_listen.unwrap_or(default(8081)))?,
        hotel: concrete(args.hotel_listen.unwrap_or(default(8082)))?,
        police: concrete(args.police_listen.unwrap_or(default(8083)))?,
        rail: concrete(args.rail_listen.unwrap_or(default(8084)))?,
    };
    let rail_listen = services.rail;
    let portal_listen = services.portal;
    let store = StoreArgs::embedded(&dir);
    let face = Common { json: false, models: None, threshold: None };
    println!("\nSetting up the local authority in {}", dir.display());
    let citizens = repository_path("demo/citizens.csv")
        .context("demo/citizens.csv not found; run the demo from the repository")?;
    import(&ImportArgs {
        records: citizens,
        photos: Some(face.model_dir().join("photos")),
        no_faces: false,
        batch: 1000,
        store: store.clone(),
        face: face.clone(),
    })?;
    synth(1000, &dir, 2026)?;
    import(&ImportArgs {
        records: dir.join("records.csv"),
        photos: None,
        no_faces: true,
        batch: 1000,
        store: store.clone(),
        face,
    })?;
    println!(
        "\nDemo citizens who can enroll with a real face: see demo/README.md, e.g. 王建国 110105196108040136 (card: 长期)."
    );
    let counter_token = demo_operators(&store)?;
    let services_dir = dir.join("services");
    register_portal(&store, &services_dir, portal_listen)?;
    let gate_token = register_rail(&store, &services_dir, services.rail, &format!("http://{listen}"))?;
    let desk_token = register_hotel_and_police(&store, &services_dir, listen, services)?;
    println!(
        "Wallet and offline check-in from the command line: see demo/README.md (shenfen wallet …, shenfen verify --qr …)."
    );
    println!(
        "Try:  curl -s http://{listen}/openapi.json   (the API)  ·  curl -s http://{listen}/.well-known/openid-credential-issuer"
    );
    if args.no_serve {
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "\nIn a browser (with a camera):\n  http://{listen}/wallet/   the citizen's wallet: enroll, the card, the offline QR\n  http://{listen}/counter/#device={counter_token}\n                       a hotel front desk (a registered counter device): scan the QR\n  http://{listen}/console/  the operator console (the passwords above)\n  http://{portal_listen}/   政务服务 the government portal: sign in, register a business (upgraded edition)\n  http://{portal_listen}/clerk/  the registration clerks' view (the clerk password above)\n  http://{hotel}/desk/#device={desk_token}\n                       酒店入住 the hotel's front desk: the guest scans its check-in code, then shows their QR\n  http://{police}/   the police's guest register (the officer password above)\n  http://{rail_listen}/   铁路客票 real-name rail tickets: sign in with the wallet, buy, transfer, the boarding code\n  http://{rail_listen}/gate/#device={gate_token}\n                       the railway's gate (a registered gate device): the passenger shows the boarding code",
        hotel = services.hotel,
        police = services.police,
    );
    println!("Stop with Ctrl-C.\n");
    let _services = ServicesChild::spawn(&format!("http://{listen}"), services, &services_dir)?;
    let mut serve = serve_cmd::ServeArgs::demo(listen, store, args.liveness);
    // The authority seals each copy's ID number to the demo police's key.
    serve.police_key = Some(shenfen_services::police::police_public_key_path(&services_dir));
    serve_cmd::run(&serve)
}

/// `address`, with port 0 replaced by a port free now: the demo must know
/// each origin before it serves (the portal registers its own as client id,
/// and is told the authority's).
fn concrete(address: SocketAddr) -> Result<SocketAddr> {
    if address.port() != 0 {
        return Ok(address);
    }
    let probe = std::net::TcpListener::bind(address).with_context(|| format!("cannot listen on {address}"))?;
    Ok(probe.local_addr()?)
}

/// The government portal's side of the demo: its data directory and client
/// key, its registration with the authority (as `shenfen rp add` does it:
/// sign-in at its origin, `private_key_jwt`, entitled to the name and the
/// full ID number for business registration), and a clerk whose password is printed once.
fn register_portal(store: &StoreArgs, services_dir: &Path, portal: SocketAddr) -> Result<()> {
    let jwks = shenfen_services::prepare(services_dir)?;
    let origin = format!("http://{portal}");
    let registration = Registration {
        client_id: origin.clone(),
        name: "政务服务 Government portal".into(),
        claims: vec!["name".into(), "record/id_number".into()],
        redirect_uris: vec![format!("{origin}/callback")],
        sector_identifier: None,
        client_jwks: None,
        replace: true,
        share_sector: false,
    };
    save_registration(registration, Some(&jwks), store)?;
    let added = crate::data_dir::runtime()?.block_on(add_portal_clerk(services_dir, None, "demo-clerk"));
    let password = match added {
        Ok(password) => password,
        // A data directory used before keeps its clerk (and its password).
        Err(ServicesError::ClerkExists(_)) => "(unchanged)".into(),
        Err(e) => return Err(e.into()),
    };
    println!("Clerk demo-clerk         (portal) password: {password}");
    Ok(())
}

/// The railway's side of the demo, before any citizen enrolls (so cards
/// carry its pseudonym): its registration (entitled to the name, and to an
/// upgraded card's face template for the gate's live-face check), the
/// Verifier Attestation for its own verifier's key and response URI (as
/// `shenfen rp attest` makes it), and a gate device, whose token it answers.
fn register_rail(store: &StoreArgs, services_dir: &Path, rail: SocketAddr, issuer: &str) -> Result<String> {
    let origin = format!("http://{rail}");
    let registration = Registration {
        client_id: origin.clone(),
        name: "铁路客票 Rail tickets".into(),
        claims: vec!["name".into(), "face_template".into()],
        redirect_uris: vec![],
        sector_identifier: None,
        client_jwks: None,
        replace: true,
        share_sector: false,
    };
    save_registration(registration, None, store)?;
    let key = shenfen_services::client_key(services_dir, shenfen_services::RAIL)?;
    let response_uri = shenfen_verifier::response_uri(&format!("{origin}{}", shenfen_services::rail::VERIFIER_PATH));
    let jwt = attest_registered(&Attesting {
        store,
        client_id: &origin,
        key: key.public().clone(),
        response_uris: &[response_uri],
        issuer,
        valid_days: 30,
        issuer_key: None,
    })?;
    crate::files::write_file(&shenfen_services::rail_attestation_path(services_dir), &jwt)?;
    let token = crate::data_dir::runtime()?.block_on(add_rail_gate(services_dir, None, "Demo station, gate 1"))?;
    println!("Gate \"Demo station, gate 1\" (rail) token: {token}");
    Ok(token)
}

/// The hotel and the police of the demo: the hotel registered with the
/// authority as a relying party entitled to the name, the age answer, the
/// sealed ID number and the face template (no OpenID Connect sign-in: it
/// verifies offline QR codes), attested for its key (the check-in link the
/// desk shows), a desk device (its token returned), and an officer whose
/// password is printed once. The police's key is made by `prepare`.
fn register_hotel_and_police(
    store: &StoreArgs,
    services_dir: &Path,
    authority: SocketAddr,
    at: ServiceAddresses,
) -> Result<String> {
    let origin = format!("http://{}", at.hotel);
    let registration = Registration {
        client_id: origin.clone(),
        name: "酒店入住 Demo hotel".into(),
        claims: ["name", "age_over_18", "sealed_id_number", "face_template"].map(String::from).to_vec(),
        redirect_uris: Vec::new(),
        sector_identifier: None,
        client_jwks: None,
        replace: true,
        share_sector: false,
    };
    save_registration(registration, None, store)?;
    let public_key = services_dir.join("hotel.pub.jwk");
    let key = shenfen_services::client_key(services_dir, HOTEL_KEY)?;
    std::fs::write(&public_key, key.public().to_value().to_string())?;
    let out = services_dir.join("hotel.attestation.jwt");
    // A data directory used before gets a fresh attestation (for this run's authority address).
    let _ = std::fs::remove_file(&out);
    crate::rp_verifier_cmd::attest(&crate::rp_verifier_cmd::AttestArgs {
        client_id: origin.clone(),
        public_key,
        response_uri: vec![format!("{origin}/openid4vp/response")],
        issuer: format!("http://{authority}"),
        valid_days: 30,
        issuer_key: None,
        out: Some(out),
        store: store.clone(),
    })?;
    let rt = crate::data_dir::runtime()?;
    let desk = match rt.block_on(add_hotel_desk(services_dir, None, "Front desk 1")) {
        Ok(token) => token,
        Err(ServicesError::ClerkExists(_)) => {
            let again = format!("Front desk {}", now_unix());
            rt.block_on(add_hotel_desk(services_dir, None, &again))?
        }
        Err(e) => return Err(e.into()),
    };
    println!("Hotel desk \"Front desk 1\" token: {desk}");
    let password = match rt.block_on(add_police_officer(services_dir, None, "demo-officer")) {
        Ok(password) => password,
        Err(ServicesError::ClerkExists(_)) => "(unchanged)".into(),
        Err(e) => return Err(e.into()),
    };
    println!("Officer demo-officer     (police) password: {password}");
    Ok(desk)
}

/// `shenfen services` as a child process of the demo, talking to the
/// authority over HTTP only; killed when the demo stops.
struct ServicesChild(std::process::Child);

impl ServicesChild {
    fn spawn(authority: &str, at: ServiceAddresses, dir: &Path) -> Result<ServicesChild> {
        let exe = std::env::current_exe().context("cannot find the shenfen binary")?;
        let child = std::process::Command::new(exe)
            .args(["services", "--authority", authority, "--portal-listen", &at.portal.to_string()])
            .args(["--hotel-listen", &at.hotel.to_string(), "--police-listen", &at.police.to_string()])
            .args(["--rail-listen", &at.rail.to_string(), "--data-dir"])
            .arg(dir)
            .env_remove("SHENFEN_SERVICES_DB")
            .spawn()
            .context("cannot start shenfen services")?;
        Ok(ServicesChild(child))
    }
}

impl Drop for ServicesChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A counter clerk and a supervisor with fresh passwords, printed once, so
/// the upgraded edition's in-person step can be tried.
/// The demo's operators (their passwords printed) and its hotel front desk;
/// returns the desk's counter-device token.
fn demo_operators(store: &StoreArgs) -> Result<String> {
    let rt = crate::data_dir::runtime()?;
    let db = rt.block_on(store.open_store())?;
    for (username, role) in [("demo-counter", OperatorRole::Counter), ("demo-supervisor", OperatorRole::Supervisor)] {
        let password = generate_password().map_err(coded)?;
        rt.block_on(put_operator(&db, username, role, &password, false))?;
        println!("Operator {username:<16} ({role}) password: {password}");
    }
    let token = rt.block_on(add_counter_device(&db, "Demo hotel, front desk"))?;
    println!("Counter device \"Demo hotel, front desk\" token: {token}");
    rt.block_on(db.close());
    Ok(token)
}

/// The credential life cycle in one process, printed step by step.
fn walkthrough() -> Result<()> {
    let now = now_unix();
    println!("shenfen demo — a virtual ID card, from the registry to a hotel check-in\n");

    let authority = PrivateJwk::generate()?;
    let kid = format!("gd-{}", &authority.public().thumbprint()[..8]);
    let authority = authority.with_kid(kid);
    step(1, "The authority (Guangdong public-security bureau) holds its signing key");
    detail("key id", authority.public().kid().unwrap_or_default());

    let citizen = demo_citizen()?;
    step(2, "The population registry holds a citizen's record");
    detail("name", &citizen.name);
    detail(
        "ID number",
        &format!("{} (shown masked; the full number never leaves the authority)", citizen.id_number.masked()),
    );
    detail("region", citizen.id_number.province().name_en);

    let phone = PrivateJwk::generate()?;
    step(3, "Her phone creates a device key; only its public half leaves the phone");
    detail("key thumbprint", &phone.public().thumbprint());

    let index = 40_961;
    let status = StatusReference { uri: STATUS_URI.into(), idx: index };
    let disclosable: Vec<String> =
        ["/name", "/id_number_masked", "/age_over_18", "/region", "/hotel_pseudonym"].map(String::from).to_vec();
    let credential = VcIssuer::new(&authority)?.issue(
        phone.public(),
        "urn:shenfen:id:lightweight:1",
        credential_claims(&citizen, now)?,
        &disclosable,
        Some(&status),
        now..now + 7 * 24 * 3600,
    )?;
    step(4, "After face-verified enrollment, the authority issues a lightweight virtual ID (SD-JWT VC)");
    detail(
        "size",
        &format!("{} bytes, {} salted disclosures", credential.serialize().len(), credential.disclosures().len()),
    );
    detail("selectively disclosable", "name, masked ID number, age over 18, region, hotel pseudonym");
    detail("revocation", &format!("entry {index} of {STATUS_URI}"));

    let nonce = format!("checkin-{now}");
    step(5, "The hotel asks for her name and whether she is over 18, with a fresh nonce");
    detail("nonce", &nonce);

    let asked = vec!["/name".to_owned(), "/age_over_18".to_owned(), "/hotel_pseudonym".to_owned()];
    let presentation = present(&credential, &asked, &phone.signing_key()?, HOTEL, &nonce, now)?.serialize();
    step(6, "Her wallet discloses only that, bound to the hotel and its nonce by her device key");
    detail("presentation", &format!("{} bytes", presentation.len()));

    let issuer_key = authority.public().verifying_key()?;
    let mut list = StatusList::new(STATUS_LIST_SIZE, 1)?;
    let published = publish(&authority, &list, now)?;
    let hotel = PresentationPolicy { audience: HOTEL, nonce: &nonce, max_age_secs: 300, clock_skew_secs: 60 };
    let verified = verify_presentation(&presentation, &issuer_key, &hotel, Some(&published), now).map_err(coded)?;
    step(7, "The hotel verifies signature, disclosures, key binding and revocation status");
    println!("{}", indent(&serde_json::to_string_pretty(&only_personal(&verified.claims))?));
    for secret in ["id_number", "id_number_masked", "birth_date", "address"] {
        if verified.claims.contains_key(secret) {
            bail!("the demo disclosed {secret}, which the hotel did not ask for");
        }
    }
    detail("not learned", "ID number, birth date, address, region");

    let rail = PresentationPolicy { audience: RAIL, nonce: &nonce, max_age_secs: 300, clock_skew_secs: 60 };
    let replay = verify_presentation(&presentation, &issuer_key, &rail, Some(&published), now);
    step(8, "Someone replays the hotel's copy at the railway: refused");
    detail("railway says", &refusal(replay.map(|_| ()))?);

    list.set(index, 1)?;
    let republished = publish(&authority, &list, now)?;
    let after = verify_presentation(&presentation, &issuer_key, &hotel, Some(&republished), now);
    step(9, "She reports her phone lost; the authority revokes the credential in its status list");
    detail("hotel now says", &refusal(after.map(|_| ()))?);

    Ok(())
}

fn demo_citizen() -> Result<CitizenRecord> {
    let record = CitizenRecord {
        id_number: IdNumber::parse("440106199003071223")?,
        name: "林晓梅".into(),
        sex: Sex::Female,
        ethnicity: "汉".into(),
        birth_date: date!(1990 - 03 - 07),
        address: "广东省广州市天河区天河路1号".into(),
        issuing_authority: "广州市公安局天河分局".into(),
        validity: CardValidity { from: date!(2015 - 06 - 01), until: Some(date!(2035 - 06 - 01)) },
        photo_ref: "demo/photos/lin-xiaomei.jpg".into(),
    };
    record.validate()?;
    Ok(record)
}

/// The lightweight edition's claim set: the minimum that proves "this is me".
fn credential_claims(citizen: &CitizenRecord, now: i64) -> Result<Map<String, Value>> {
    let today = time::OffsetDateTime::from_unix_timestamp(now).context("clock out of range")?.date();
    // A demo key; a real authority loads its pseudonym key from its key provider.
    let pseudonyms = PseudonymKey::new(&[0x5a; 32])?;
    let claims = json!({
        "iss": ISSUER,
        "edition": Edition::Lightweight.as_str(),
        "name": citizen.name,
        "id_number_masked": citizen.id_number.masked(),
        "age_over_18": citizen.age_on(today) >= 18,
        "region": citizen.id_number.province().name_en,
        "hotel_pseudonym": pairwise_pseudonym(&pseudonyms, &citizen.id_number, HOTEL),
    });
    Ok(claims.as_object().cloned().unwrap_or_default())
}

fn publish(authority: &PrivateJwk, list: &StatusList, now: i64) -> Result<StatusListToken> {
    let token = StatusListToken {
        subject: STATUS_URI.into(),
        issued_at: now,
        expires_at: Some(now + 3600),
        ttl: Some(300),
        list: list.clone(),
    };
    let jwt = token.sign(&authority.signing_key()?, authority.public().kid())?;
    StatusListToken::verify(&jwt, &authority.public().verifying_key()?, now, 60).map_err(coded)
}

/// The claims about the person, without the envelope (iss, cnf, status…).
fn only_personal(claims: &Map<String, Value>) -> Value {
    let envelope = ["iss", "iat", "exp", "cnf", "status", "vct"];
    Value::Object(
        claims.iter().filter(|(k, _)| !envelope.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect(),
    )
}

/// Describes the refusal the demo expects; an acceptance means a broken verifier.
fn refusal(outcome: Result<(), shenfen_credential::CredentialError>) -> Result<String> {
    match outcome {
        Ok(()) => bail!("the verifier accepted a presentation it must refuse"),
        Err(err) => Ok(format!("refused [{}] {err}", err.code())),
    }
}

fn step(n: u32, text: &str) {
    println!("{n}. {text}");
}

fn detail(label: &str, value: &str) {
    println!("     {label:<24} {value}");
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("     {l}")).collect::<Vec<_>>().join("\n")
}
