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
            eprintln!("pcimig: error: {}", cli::output::terminal_safe(&error_text(&e)));
            ExitCode::from(cli::EXIT_UNDECIDED)
        }
    }
}

/// The error and its causes, `: `-separated, as anyhow's `{:#}` prints them, without repeating
/// a cause whose text a message already ends with (library errors print their cause and keep
/// it as their `source`).
fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let c = cause.to_string();
        if text.is_empty() {
            text = c;
        } else if !text.ends_with(&c) {
            text.push_str(": ");
            text.push_str(&c);
        }
    }
    text
}
