//! The RustForge reference application.

use std::process::ExitCode;

fn main() -> ExitCode {
    foundry::run::<blog::Blog>()
}
