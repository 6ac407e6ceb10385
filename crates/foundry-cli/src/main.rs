//! `foundry`: the RustForge command.
//!
//! It owns project creation (`foundry new`), the generators (`foundry make:*`), `--help` and
//! `--version`, and forwards every other command to the app in the current directory by
//! running `cargo run --quiet -- <command> <args>` there, so `foundry migrate` is the app
//! binary's own `migrate`.

mod fields;
mod generate;
mod names;
mod new;
mod scaffold;
mod templates;

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, ExitCode};

const USAGE: &str = "\
foundry: the RustForge command

Usage:
  foundry new <name> [--template api|web] [--db sqlite|postgres]
                                create an app in ./<name>
  foundry make:<thing> <Name>   generate a file in the app in the current directory:
                                model, migration, controller, request, resource, seeder,
                                factory, middleware, command, test (`--help` on each)
  foundry <command> [args...]   run a command of the app in the current directory
                                (forwarded as `cargo run --quiet -- <command> [args...]`)
  foundry --help                show this help
  foundry --version             show the version

Inside an app, `foundry list` shows every command the app has (serve, about, route:list, …).
";

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let first = args.first().and_then(|a| a.to_str()).map(str::to_owned);
    match first.as_deref() {
        Some("--version" | "-V") => {
            println!("foundry {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        None | Some("--help" | "-h") => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    let cwd = match std::env::current_dir() {
        Ok(cwd) => cwd,
        Err(err) => {
            eprintln!("error: cannot read the current directory: {err}");
            return ExitCode::FAILURE;
        }
    };
    match first.as_deref() {
        Some("new") => match new::command().try_get_matches_from(&args) {
            Ok(matches) => report(new::run(&matches, &cwd)),
            Err(err) => usage(&err),
        },
        Some(name) if name.starts_with("make:") || name == "make" => {
            match generate::run(name, &args[1..], &cwd) {
                Ok(()) => ExitCode::SUCCESS,
                Err(generate::Failure::Usage(err)) => usage(&err),
                Err(generate::Failure::Unknown(message)) => {
                    eprintln!("error: {message}");
                    ExitCode::from(2)
                }
                Err(generate::Failure::Refused(message)) => report(Err(message)),
            }
        }
        _ => match scaffold::find_app(&cwd) {
            Ok((app, _)) => forward(&app, &args),
            Err(message) => report(Err(message)),
        },
    }
}

/// Exit 0, or print `error: …` and exit 1.
fn report(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// clap's own output for `--help` and bad arguments, with its exit code.
fn usage(err: &clap::Error) -> ExitCode {
    let _ = err.print();
    ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2))
}

/// Run the app's binary with the arguments; its exit status becomes ours.
fn forward(app: &Path, args: &[OsString]) -> ExitCode {
    // FOUNDRY_CARGO lets tests (and unusual setups) substitute the cargo program.
    let cargo = std::env::var_os("FOUNDRY_CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(&cargo)
        .current_dir(app)
        .args(["run", "--quiet", "--"])
        .args(args)
        .status();
    match status {
        Ok(status) => match status.code() {
            Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
            // Killed by a signal: report failure like a shell would.
            None => ExitCode::FAILURE,
        },
        Err(err) => {
            eprintln!(
                "error: cannot run `{} run` in {}: {err}; is cargo installed and on PATH?",
                cargo.to_string_lossy(),
                app.display()
            );
            ExitCode::FAILURE
        }
    }
}
