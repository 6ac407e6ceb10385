//! The app's command line: one registry of commands, built-in and added, dispatched by name.
//!
//! The app binary is its own artisan: `serve` (the default), `about`, `key:generate`,
//! `route:list`, `completions`, and whatever components and the app add through
//! [`App::commands`](crate::App::commands):
//!
//! ```
//! use foundry::cli::{Commands, Invocation};
//! use std::process::ExitCode;
//!
//! fn register(commands: &mut Commands) {
//!     commands.add(
//!         clap::Command::new("greet")
//!             .about("Say hello")
//!             .arg(clap::Arg::new("name").required(true)),
//!         |inv: Invocation| async move {
//!             let name: &String = inv.args().get_one("name").expect("required by clap");
//!             println!("Hello, {name}!");
//!             Ok(ExitCode::SUCCESS)
//!         },
//!     );
//! }
//! ```
//!
//! An unknown command prints the closest known ones and exits with status 2.

use std::ffi::OsString;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{ArgMatches, Command};
use foundry_core::{BoxFuture, Config, ConfigError};

use crate::kernel::{BootError, Kernel};

/// clap, which command definitions are written with (`foundry::cli::clap::Command`), so an
/// app needs no clap dependency of its own.
pub use clap;

/// The error a command returns; printed as `error: …` with its causes, exit status 1.
pub type CommandError = Box<dyn std::error::Error + Send + Sync>;

/// What a command returns.
pub type CommandResult = Result<ExitCode, CommandError>;

type Handler = Arc<dyn Fn(Invocation) -> BoxFuture<'static, CommandResult> + Send + Sync>;
type Booter = fn(Config) -> BoxFuture<'static, Result<Kernel, BootError>>;

struct Entry {
    command: Command,
    handler: Handler,
}

/// The registry of commands.
#[derive(Default)]
pub struct Commands {
    entries: Vec<Entry>,
}

impl std::fmt::Debug for Commands {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl Commands {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a command: its clap definition (the name is the command's name) and what it runs.
    /// A command with the name of an existing one replaces it.
    pub fn add<F, Fut>(&mut self, command: Command, handler: F) -> &mut Self
    where
        F: Fn(Invocation) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = CommandResult> + Send + 'static,
    {
        let name = command.get_name().to_owned();
        self.entries.retain(|e| e.command.get_name() != name);
        self.entries.push(Entry {
            command,
            handler: Arc::new(move |inv| Box::pin(handler(inv))),
        });
        self
    }

    /// Every command name, in registration order.
    pub fn names(&self) -> Vec<&str> {
        self.entries.iter().map(|e| e.command.get_name()).collect()
    }

    /// Whether a command with this name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.entries.iter().any(|e| e.command.get_name() == name)
    }

    /// The full clap command tree (for help and shell completions).
    pub fn cli(&self, bin_name: &str) -> Command {
        let mut cli = Command::new(bin_name.to_owned())
            .about("The app's command line (run without a command to serve)")
            .version(crate::VERSION)
            .subcommand_required(false)
            .disable_help_subcommand(true);
        for entry in &self.entries {
            cli = cli.subcommand(entry.command.clone());
        }
        cli
    }

    /// Known commands close to `input`, best first: typos within a few edits, commands that
    /// start with it, and every command of a namespace (`make` → `make:*`).
    pub fn suggestions(&self, input: &str) -> Vec<String> {
        let mut scored: Vec<(usize, &str)> = self
            .names()
            .into_iter()
            .filter_map(|name| {
                let distance = strsim::levenshtein(input, name);
                let namespace = name.split_once(':').map(|(ns, _)| ns);
                let close = distance <= (input.chars().count() / 3).max(2);
                let related = name.starts_with(input)
                    || namespace == Some(input)
                    || namespace.is_some_and(|ns| {
                        input.starts_with(&format!("{ns}:")) && distance <= input.len() / 2
                    });
                (close || related).then_some((distance, name))
            })
            .collect();
        scored.sort();
        scored
            .into_iter()
            .take(5)
            .map(|(_, name)| name.to_owned())
            .collect()
    }

    /// Parse `args` (program name first) and run the chosen command.
    pub(crate) async fn dispatch(
        self,
        args: Vec<OsString>,
        root: PathBuf,
        booter: Booter,
    ) -> ExitCode {
        let bin_name = args
            .first()
            .map(|a| {
                Path::new(a).file_name().map_or_else(
                    || a.to_string_lossy().into_owned(),
                    |n| n.to_string_lossy().into_owned(),
                )
            })
            .unwrap_or_else(|| "app".to_owned());
        let mut args = args;
        match args.get(1).map(|a| a.to_string_lossy().into_owned()) {
            // No command: serve, as `php artisan serve` would be the first thing one runs.
            None => args.push("serve".into()),
            Some(name) if !name.starts_with('-') && !self.contains(&name) => {
                eprintln!("error: command \"{name}\" is not defined");
                let suggestions = self.suggestions(&name);
                if suggestions.is_empty() {
                    eprintln!("\n  Run `{bin_name} --help` to see every command.");
                } else {
                    eprintln!("\n  Did you mean one of these?");
                    for suggestion in suggestions {
                        eprintln!("    {suggestion}");
                    }
                }
                return ExitCode::from(2);
            }
            Some(_) => {}
        }
        let cli = self.cli(&bin_name);
        let matches = match cli.clone().try_get_matches_from(args) {
            Ok(matches) => matches,
            Err(err) => {
                let _ = err.print();
                return ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2));
            }
        };
        let Some((name, sub_matches)) = matches.subcommand() else {
            // Only flags such as `--verbose` with no command: clap already handled help and
            // version, so show the help.
            let _ = cli.clone().print_help();
            return ExitCode::from(2);
        };
        let Some(entry) = self.entries.iter().find(|e| e.command.get_name() == name) else {
            return ExitCode::from(2);
        };
        let invocation = Invocation {
            args: sub_matches.clone(),
            root,
            booter,
            cli,
        };
        match (entry.handler)(invocation).await {
            Ok(code) => code,
            Err(err) => {
                eprintln!("error: {}", error_chain(err.as_ref()));
                ExitCode::FAILURE
            }
        }
    }
}

/// An error and its causes, joined for one line (skipping causes the message already shows).
pub use foundry_core::error::error_chain;

/// What a command receives: its arguments and access to the app.
pub struct Invocation {
    args: ArgMatches,
    root: PathBuf,
    booter: Booter,
    cli: Command,
}

impl Invocation {
    /// The command's parsed arguments.
    pub fn args(&self) -> &ArgMatches {
        &self.args
    }

    /// The app's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Load the configuration from the root and the process environment.
    pub fn load_config(&self) -> Result<Config, ConfigError> {
        Config::load(&self.root)
    }

    /// Load the configuration and boot the app (providers, routes).
    pub async fn boot(&self) -> Result<Kernel, BootError> {
        let config = self.load_config()?;
        (self.booter)(config).await
    }

    /// Boot the app with an already loaded configuration.
    pub async fn boot_with(&self, config: Config) -> Result<Kernel, BootError> {
        (self.booter)(config).await
    }

    /// The whole command tree (for completions and help).
    pub fn cli(&self) -> &Command {
        &self.cli
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> Commands {
        let mut commands = Commands::new();
        for name in [
            "serve",
            "about",
            "route:list",
            "key:generate",
            "migrate",
            "migrate:fresh",
            "migrate:rollback",
            "make:model",
            "make:controller",
        ] {
            commands.add(Command::new(name), |_| async { Ok(ExitCode::SUCCESS) });
        }
        commands
    }

    #[test]
    fn suggestions_cover_typos_prefixes_and_namespaces() {
        let commands = registry();
        assert_eq!(commands.suggestions("migrat")[0], "migrate");
        assert_eq!(commands.suggestions("serv"), ["serve"]);
        assert_eq!(commands.suggestions("route:lst"), ["route:list"]);
        assert_eq!(commands.suggestions("makez:model")[0], "make:model");
        let make = commands.suggestions("make");
        assert!(
            make.contains(&"make:model".to_owned()) && make.contains(&"make:controller".to_owned())
        );
        assert!(commands.suggestions("zzzzzzzz").is_empty());
    }

    #[test]
    fn adding_a_command_with_an_existing_name_replaces_it() {
        let mut commands = registry();
        let before = commands.names().len();
        commands.add(Command::new("about").about("mine"), |_| async {
            Ok(ExitCode::SUCCESS)
        });
        assert_eq!(commands.names().len(), before);
        let cli = commands.cli("app");
        let about = cli.find_subcommand("about").unwrap();
        assert_eq!(
            about.get_about().map(ToString::to_string).as_deref(),
            Some("mine")
        );
    }

    #[test]
    fn error_chain_skips_repeated_causes() {
        let inner = std::io::Error::other("disk full");
        let outer = foundry_core::Error::internal(inner);
        assert_eq!(error_chain(&outer), "Server Error: disk full");
    }
}
