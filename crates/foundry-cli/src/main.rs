//! `foundry`: the RustForge command.
//!
//! It owns the commands that work without an app (`--help`, `--version`; project creation and
//! generators come later) and forwards every other command to the app in the current
//! directory by running `cargo run --quiet -- <command> <args>` there, so `foundry migrate`
//! is the app binary's own `migrate`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "\
foundry: the RustForge command

Usage:
  foundry <command> [args...]   run a command of the app in the current directory
                                (forwarded as `cargo run --quiet -- <command> [args...]`)
  foundry --help                show this help
  foundry --version             show the version

Inside an app, `foundry list` shows every command the app has (serve, about, route:list, …).
";

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    match args.first().and_then(|a| a.to_str()) {
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
    match find_app(&cwd) {
        Ok(app) => forward(&app, &args),
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The app directory: the current directory when its `Cargo.toml` declares a package that
/// depends on `foundry`.
fn find_app(dir: &Path) -> Result<PathBuf, String> {
    let manifest = dir.join("Cargo.toml");
    let hint = "run `foundry` from the directory of a RustForge app (the one with its Cargo.toml and foundry.toml)";
    let text = std::fs::read_to_string(&manifest).map_err(|_| {
        format!(
            "{} is not a RustForge app: there is no Cargo.toml; {hint}",
            dir.display()
        )
    })?;
    let doc: toml::Table = text
        .parse()
        .map_err(|err| format!("cannot parse {}: {err}", manifest.display()))?;
    if !doc.contains_key("package") {
        return Err(format!(
            "{} is not a RustForge app: its Cargo.toml has no [package] (a workspace root?); {hint}",
            dir.display()
        ));
    }
    let depends = ["dependencies", "dev-dependencies"]
        .iter()
        .filter_map(|section| doc.get(*section).and_then(toml::Value::as_table))
        .any(|deps| deps.contains_key("foundry"));
    if !depends {
        return Err(format!(
            "{} is not a RustForge app: its Cargo.toml does not depend on `foundry`; {hint}",
            dir.display()
        ));
    }
    Ok(dir.to_path_buf())
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
