//! `shenfen id-number check`

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use serde_json::json;
use shenfen_core::{IdNumber, Sex};

use crate::coded_error::verdict;
use crate::files::print_json;

#[derive(Subcommand)]
pub(crate) enum IdNumberCommand {
    /// Check an ID number's structure (region, birth date, check character) and print what it encodes.
    ///
    /// This checks the number's form only; it never tells whether the number was issued.
    Check {
        /// An 18-character number, or a 15-digit pre-1999 one (converted).
        number: String,
    },
}

pub(crate) fn run(command: IdNumberCommand) -> Result<ExitCode> {
    let IdNumberCommand::Check { number } = command;
    match IdNumber::parse(&number) {
        Ok(id) => {
            let province = id.province();
            print_json(&json!({
                "valid": true,
                "masked": id.masked(),
                "birth_date": id.birth_date().to_string(),
                "sex": match id.sex() { Sex::Male => "male", Sex::Female => "female" },
                "region": {
                    "division_code": id.division_code(),
                    "province_code": province.code,
                    "province_zh": province.name_zh,
                    "province_en": province.name_en,
                },
                "converted_from_15_digits": number.trim().len() == 15,
            }))?;
            Ok(ExitCode::SUCCESS)
        }
        // The number's form is the verdict asked for: printed as JSON like a valid one.
        Err(err) => Err(verdict(err.code(), err.to_string(), Some(json!({ "valid": false })))),
    }
}
