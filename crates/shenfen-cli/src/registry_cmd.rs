//! `shenfen registry synth|import`

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shenfen_core::{CardValidity, CitizenRecord, IdNumber, Sex};
use shenfen_face::FaceEngine;
use shenfen_store::{AuditEvent, KeyProvider, RegistryEntry, SealedEntry};
use time::Date;
use time::macros::format_description;

use crate::clock::now_unix;
use crate::coded_error::{FILE_READ, FILE_WRITE, FORMAT, coded, coded_line, fail};
use crate::data_dir::{StoreArgs, runtime};
use crate::face_cmd::{Common, analyse_file};
use crate::files::{io_reason, print_json};
use crate::registry_synth::synthesize;

#[derive(Subcommand)]
pub(crate) enum RegistryCommand {
    /// Generate a synthetic registry (valid ID numbers, names, addresses) as records.csv.
    Synth {
        /// How many citizens.
        #[arg(long)]
        count: usize,
        /// Directory to write records.csv to.
        #[arg(long)]
        out: PathBuf,
        /// Seed: the same seed gives the same registry.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Import records (CSV or JSON Lines) and their photos into the registry.
    Import(ImportArgs),
    /// After a master-key rotation (new key first in the key file), re-wrap every
    /// record's data key under the current key; then the old key can be retired.
    Rewrap {
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Args)]
pub(crate) struct ImportArgs {
    /// The records: .csv with a header row, or .jsonl with one object per line.
    #[arg(long)]
    pub records: PathBuf,
    /// Directory the records' `photo` paths are relative to.
    #[arg(long)]
    pub photos: Option<PathBuf>,
    /// Store records without computing face templates (load tests; such
    /// citizens cannot enroll until their photo is imported).
    #[arg(long)]
    pub no_faces: bool,
    /// Records per transaction.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub batch: u64,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub face: Common,
}

/// One input row, as written in the file.
#[derive(Debug, Serialize, Deserialize)]
struct RawRecord {
    id_number: String,
    name: String,
    sex: String,
    ethnicity: String,
    birth_date: String,
    address: String,
    issuing_authority: String,
    valid_from: String,
    #[serde(default)]
    valid_until: String,
    #[serde(default)]
    photo: String,
}

pub(crate) fn run(command: RegistryCommand) -> Result<ExitCode> {
    match command {
        RegistryCommand::Synth { count, out, seed } => synth(count, &out, seed),
        RegistryCommand::Import(args) => import(&args),
        RegistryCommand::Rewrap { store } => rewrap(&store),
    }
}

fn today() -> Date {
    time::OffsetDateTime::from_unix_timestamp(now_unix()).map_or(Date::MIN, |t| t.date())
}

fn rewrap(args: &StoreArgs) -> Result<ExitCode> {
    let rt = runtime()?;
    // The keys first: a missing key file creates no database.
    let keys = args.keys()?;
    let store = rt.block_on(args.open_store())?;
    let rewrapped = rt.block_on(store.rewrap(&keys)).map_err(coded)?;
    rt.block_on(store.append_audit(AuditEvent {
        at: now_unix(),
        kind: "keys.rewrap".into(),
        actor: "operator:cli".into(),
        subject: None,
        details: json!({ "rewrapped": rewrapped, "current_key": keys.current_key_id() }),
    }))
    .map_err(coded)?;
    println!("re-wrapped {rewrapped} records under master key {}", keys.current_key_id());
    Ok(ExitCode::SUCCESS)
}

/// Writes `count` synthetic citizens to `out/records.csv`.
pub(crate) fn synth(count: usize, out: &Path, seed: u64) -> Result<ExitCode> {
    let path = out.join("records.csv");
    let cannot_write = |reason: String| fail(FILE_WRITE, format!("cannot write {}: {reason}", path.display()));
    std::fs::create_dir_all(out).map_err(|e| cannot_write(io_reason(&e)))?;
    let mut writer = csv::Writer::from_path(&path).map_err(|e| cannot_write(e.to_string()))?;
    for record in synthesize(count, seed, today()) {
        writer.serialize(raw_of(&record)).map_err(|e| cannot_write(e.to_string()))?;
    }
    writer.flush().map_err(|e| cannot_write(io_reason(&e)))?;
    println!("{count} synthetic citizens in {}", path.display());
    Ok(ExitCode::SUCCESS)
}

fn raw_of(r: &CitizenRecord) -> RawRecord {
    RawRecord {
        id_number: r.id_number.as_str().to_owned(),
        name: r.name.clone(),
        sex: match r.sex {
            Sex::Male => "male",
            Sex::Female => "female",
        }
        .into(),
        ethnicity: r.ethnicity.clone(),
        birth_date: r.birth_date.to_string(),
        address: r.address.clone(),
        issuing_authority: r.issuing_authority.clone(),
        valid_from: r.validity.from.to_string(),
        valid_until: CardValidity::expiry_label(r.validity.until),
        photo: r.photo_ref.clone(),
    }
}

/// Turns a row into a validated record, or says what is wrong without
/// repeating the ID number.
fn parse_row(raw: RawRecord) -> Result<CitizenRecord, String> {
    let date = |field: &str, text: &str| {
        Date::parse(text.trim(), format_description!("[year]-[month]-[day]"))
            .map_err(|_| format!("{field} {text:?} is not YYYY-MM-DD"))
    };
    let id_number = IdNumber::parse(&raw.id_number).map_err(|e| format!("id_number: {e}"))?;
    let sex = match raw.sex.trim() {
        "male" | "男" | "M" => Sex::Male,
        "female" | "女" | "F" => Sex::Female,
        other => return Err(format!("sex {other:?} is not male/female (男/女)")),
    };
    let until = match raw.valid_until.trim() {
        "" => None,
        text => {
            CardValidity::parse_expiry(text).ok_or_else(|| format!("valid_until {text:?} is not YYYY-MM-DD or 长期"))?
        }
    };
    let record = CitizenRecord {
        id_number,
        name: raw.name.trim().to_owned(),
        sex,
        ethnicity: raw.ethnicity.trim().to_owned(),
        birth_date: date("birth_date", &raw.birth_date)?,
        address: raw.address.trim().to_owned(),
        issuing_authority: raw.issuing_authority.trim().to_owned(),
        validity: CardValidity { from: date("valid_from", &raw.valid_from)?, until },
        photo_ref: if raw.photo.trim().is_empty() { "(none)".into() } else { raw.photo.trim().to_owned() },
    };
    record.validate().map_err(|e| e.to_string())?;
    Ok(record)
}

/// Input rows with their 1-based line numbers (the CSV header is line 1),
/// streamed: a 20-million-row registry never sits in memory.
type Rows = Box<dyn Iterator<Item = (u64, Result<RawRecord, String>)>>;

fn read_rows(path: &Path) -> Result<Rows> {
    let file = open_records(path)?;
    let is_jsonl = path.extension().and_then(|e| e.to_str()).is_some_and(|e| e == "jsonl" || e == "ndjson");
    if is_jsonl {
        let rows = std::io::BufReader::new(file).lines().enumerate().filter_map(|(i, line)| {
            let number = i as u64 + 1;
            match line {
                Err(e) => Some((number, Err(format!("unreadable line: {e}")))),
                Ok(line) if line.trim().is_empty() => None,
                Ok(line) => {
                    Some((number, serde_json::from_str(&line).map_err(|e| format!("not a record object: {e}"))))
                }
            }
        });
        return Ok(Box::new(rows));
    }
    let reader = csv::Reader::from_reader(std::io::BufReader::new(file));
    let rows = reader.into_deserialize::<RawRecord>().enumerate().map(|(i, row)| match row {
        Ok(raw) => (i as u64 + 2, Ok(raw)),
        Err(e) => (e.position().map_or(i as u64 + 2, |p| p.line()), Err(format!("not a record row: {e}"))),
    });
    Ok(Box::new(rows))
}

/// Opens the records file (`cli.file.read`).
fn open_records(path: &Path) -> Result<std::fs::File> {
    std::fs::File::open(path).map_err(|e| fail(FILE_READ, format!("cannot read {}: {}", path.display(), io_reason(&e))))
}

/// The records file's identity for resuming: its canonical path and size.
fn source_of(path: &Path) -> Result<String> {
    let described =
        std::fs::canonicalize(path).and_then(|full| Ok(format!("{}#{}", full.display(), full.metadata()?.len())));
    described.map_err(|e| fail(FILE_READ, format!("cannot read {}: {}", path.display(), io_reason(&e))))
}

/// Lines in the file, for the progress bar (a fast first pass).
fn count_lines(path: &Path) -> Result<u64> {
    let file = open_records(path)?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut lines = 0u64;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(lines);
        }
        lines += buf.iter().filter(|&&b| b == b'\n').count() as u64;
        let n = buf.len();
        reader.consume(n);
    }
}

/// Imports a records file into the registry (see `ImportArgs`).
pub(crate) fn import(args: &ImportArgs) -> Result<ExitCode> {
    // The inputs first: a missing records file, key file or model set creates no database.
    let rows = read_rows(&args.records)?;
    let source = source_of(&args.records)?;
    let engine: Option<FaceEngine> = if args.no_faces { None } else { Some(args.face.engine(1)?) };
    let keys = args.store.keys()?;
    let rt = runtime()?;
    let store = rt.block_on(args.store.open_store())?;
    let photos = args.photos.clone().unwrap_or_else(|| args.records.parent().unwrap_or(Path::new(".")).to_path_buf());
    let mut progress = rt.block_on(store.import_progress(&source)).map_err(coded)?.unwrap_or_default();
    let resumed_at = progress.next_line;
    let before = (progress.imported, progress.rejected);
    let bar = ProgressBar::new(count_lines(&args.records)?).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} rows  {per_sec}  eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let start = Instant::now();
    let mut batch: Vec<SealedEntry> = Vec::new();
    let mut skipped = 0u64;
    for (line, row) in rows {
        bar.inc(1);
        if line < progress.next_line {
            skipped += 1;
            continue;
        }
        let outcome = row.and_then(parse_row).and_then(|record| {
            let face_template = match &engine {
                None => None,
                Some(engine) => {
                    let face = analyse_file(engine, &photos.join(&record.photo_ref))
                        .map_err(|e| format!("photo: {}", coded_line(&e)))?;
                    Some(engine.template(&face).to_bytes())
                }
            };
            RegistryEntry { record, face_template }.seal(&keys).map_err(|e| e.to_string())
        });
        match outcome {
            Ok(sealed) => batch.push(sealed),
            Err(reason) => {
                progress.rejected += 1;
                bar.suspend(|| eprintln!("{}:{line}: skipped: {reason}", args.records.display()));
            }
        }
        progress.next_line = line + 1;
        if batch.len() as u64 >= args.batch {
            progress.imported += batch.len() as u64;
            rt.block_on(store.put_entries(&batch, &source, progress, now_unix())).map_err(coded)?;
            batch.clear();
        }
    }
    progress.imported += batch.len() as u64;
    rt.block_on(store.put_entries(&batch, &source, progress, now_unix())).map_err(coded)?;
    bar.finish_and_clear();
    let elapsed = start.elapsed().as_secs_f64();
    let (imported, rejected) = (progress.imported - before.0, progress.rejected - before.1);
    let summary = json!({"imported": imported, "rejected": rejected, "skipped_already_imported": skipped, "resumed_at_line": resumed_at});
    rt.block_on(store.append_audit(AuditEvent {
        at: now_unix(),
        kind: "registry.import".into(),
        actor: "operator:cli".into(),
        subject: None,
        details: json!({ "source": args.records.file_name().and_then(|n| n.to_str()), "summary": summary }),
    }))
    .map_err(coded)?;
    let total = rt.block_on(store.entry_count()).map_err(coded)?;
    if rejected > 0 && imported == 0 {
        let reason = format!("no row of {} could be imported ({rejected} rejected)", args.records.display());
        return Err(fail(FORMAT, reason));
    }
    if args.face.json {
        let mut report = summary;
        report["registry_citizens"] = json!(total);
        report["seconds"] = json!(elapsed);
        print_json(&report)?;
    } else if imported == 0 && rejected == 0 && skipped > 0 {
        println!(
            "nothing to import: the {skipped} rows of {} were imported before; the registry holds {total} citizens",
            args.records.display()
        );
    } else {
        println!(
            "imported {imported} and rejected {rejected} rows{} in {elapsed:.1} s; the registry holds {total} citizens",
            if skipped > 0 {
                format!(" (resumed at line {resumed_at}, {skipped} rows imported before)")
            } else {
                String::new()
            },
        );
    }
    Ok(ExitCode::SUCCESS)
}
