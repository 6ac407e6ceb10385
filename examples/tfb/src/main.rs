//! The TechEmpower benchmark app: `tfb serve`, `tfb migrate --seed`, …

use std::process::ExitCode;

fn main() -> ExitCode {
    foundry::run::<tfb::Tfb>()
}
