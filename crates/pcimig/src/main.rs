//! `pcimig`: will the destination accept this device's PCI config space, and if not, exactly
//! which register breaks it and why?

use clap::Parser;
use std::process::ExitCode;

mod cli;

#[allow(unused_imports)]
use pcimig as _;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("pcimig: error: {e:#}");
            ExitCode::from(cli::EXIT_UNDECIDED)
        }
    }
}
