//! Benchmarks of shenfen live in `benches/` (divan micro-benchmarks), in the
//! end-to-end drivers of `src/bin/` and in the scripts beside them
//! (side-by-side runs against other implementations). This library holds
//! what the drivers share.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};

/// Spawns `shenfen serve …` as `command` describes and waits for the line
/// saying where it serves: the child and its address (`host:port`).
pub fn spawn_serving(command: &mut Command) -> Result<(Child, String)> {
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?;
    let stdout = child.stdout.take().context("no stdout")?;
    for line in BufReader::new(stdout).lines() {
        if let Some(address) = line?.strip_prefix("shenfen serving on http://") {
            return Ok((child, address.trim().to_owned()));
        }
    }
    bail!("shenfen serve exited before serving")
}
