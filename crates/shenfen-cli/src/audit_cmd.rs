//! `shenfen audit verify`

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;

use crate::coded_error::{coded, verdict};
use crate::data_dir::{StoreArgs, runtime};

#[derive(Subcommand)]
pub(crate) enum AuditCommand {
    /// Verify the whole hash chain; on a break, name the first broken entry and exit 1.
    Verify {
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub(crate) fn run(command: AuditCommand) -> Result<ExitCode> {
    let AuditCommand::Verify { store } = command;
    let rt = runtime()?;
    let store = rt.block_on(store.open_existing_store())?;
    match rt.block_on(store.verify_audit()).map_err(coded)? {
        Ok(n) => {
            println!("audit chain intact: {n} {} verified", if n == 1 { "entry" } else { "entries" });
            Ok(ExitCode::SUCCESS)
        }
        Err(broken) => Err(verdict(
            "store.audit.broken",
            format!("audit chain broken at entry {}: {}", broken.seq, broken.reason),
            None,
        )),
    }
}
