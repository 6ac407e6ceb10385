//! The built-in commands: `serve`, `about`, `key:generate`, `route:list`, `completions`.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Arg, ArgAction, Command, value_parser};
use foundry_core::config::{LogConfig, ServerConfig};
use foundry_core::{AppKey, Config, Environment};
use foundry_http::{RouteInfo, Shutdown};
use serde_json::json;

use crate::cli::{CommandResult, Commands, Invocation};
use crate::logging::{self, LogTarget};

/// Register the built-in commands.
pub(crate) fn register(commands: &mut Commands) {
    commands
        .add(
            Command::new("serve")
                .about("Serve the app over HTTP (the default command)")
                .arg(
                    Arg::new("host")
                        .long("host")
                        .help("Interface to bind; overrides [server] host"),
                )
                .arg(
                    Arg::new("port")
                        .long("port")
                        .value_parser(value_parser!(u16))
                        .help("Port to bind; overrides [server] port"),
                ),
            serve,
        )
        .add(
            Command::new("about")
                .about("Show the environment, versions and drivers in use")
                .arg(json_flag()),
            about,
        )
        .add(
            Command::new("key:generate")
                .about("Set the application key in .env")
                .arg(
                    Arg::new("force")
                        .long("force")
                        .action(ArgAction::SetTrue)
                        .help("Replace an existing key (signed data and sessions become invalid)"),
                )
                .arg(
                    Arg::new("show")
                        .long("show")
                        .action(ArgAction::SetTrue)
                        .help("Print a key instead of writing it"),
                ),
            key_generate,
        )
        .add(
            Command::new("route:list")
                .about("List every route: method, path, name, middleware")
                .arg(json_flag())
                .arg(
                    Arg::new("method")
                        .long("method")
                        .help("Only routes answering this method"),
                )
                .arg(
                    Arg::new("name")
                        .long("name")
                        .help("Only routes whose name contains this"),
                )
                .arg(
                    Arg::new("path")
                        .long("path")
                        .help("Only routes whose path contains this"),
                ),
            route_list,
        )
        .add(Command::new("list").about("List every command"), list)
        .add(
            Command::new("completions")
                .about("Print a shell completion script")
                .arg(
                    Arg::new("shell")
                        .required(true)
                        .value_parser(value_parser!(clap_complete::Shell)),
                ),
            completions,
        );
}

fn json_flag() -> Arg {
    Arg::new("json")
        .long("json")
        .action(ArgAction::SetTrue)
        .help("Output JSON")
}

async fn serve(inv: Invocation) -> CommandResult {
    let config = inv.load_config()?;
    let log: LogConfig = config.section("log")?;
    logging::init(&log, config.environment(), LogTarget::Stdout);
    if config.environment() == Environment::Production {
        config.app().require_key()?;
    }
    let mut server: ServerConfig = config.section("server")?;
    if let Some(host) = inv.args().get_one::<String>("host") {
        server.host.clone_from(host);
    }
    if let Some(port) = inv.args().get_one::<u16>("port") {
        server.port = *port;
    }
    let kernel = inv.boot_with(config).await?;
    let address = format!("{}:{}", server.host, server.port);
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .map_err(|err| {
            format!(
                "cannot listen on {address}: {err}; another process may be using the port \
             (set [server] port in foundry.toml, FOUNDRY_SERVER__PORT, or --port)"
            )
        })?;
    let local: SocketAddr = listener.local_addr()?;
    let ctx = kernel.context().clone();
    tracing::info!(
        app = %ctx.config().app().name,
        env = %ctx.config().environment(),
        "listening on http://{local}"
    );
    let grace = Duration::from_secs(server.shutdown_grace_secs);
    let outcome = foundry_http::serve(
        listener,
        kernel.service(),
        foundry_http::shutdown_signal(),
        grace,
    )
    .await?;
    ctx.run_shutdown_hooks().await;
    match outcome {
        Shutdown::Graceful => tracing::info!("stopped"),
        Shutdown::GraceExpired => {
            tracing::warn!("stopped after the grace period; some requests were cut off");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One line of `about`: a section and its key/value pairs.
type AboutSection = (&'static str, Vec<(&'static str, String)>);

fn about_sections(config: &Config) -> Result<Vec<AboutSection>, crate::cli::CommandError> {
    let server: ServerConfig = config.section("server")?;
    let log: LogConfig = config.section("log")?;
    let env = config.environment();
    let driver = |key: &str| -> String {
        match config.raw(key) {
            Some(toml::Value::String(s)) if key.ends_with("url") => s
                .split_once(':')
                .map_or(s.clone(), |(scheme, _)| scheme.to_owned()),
            Some(toml::Value::String(s)) => s,
            Some(other) => other.to_string(),
            None => "not configured".to_owned(),
        }
    };
    Ok(vec![
        (
            "Environment",
            vec![
                ("Application Name", config.app().name.clone()),
                ("RustForge Version", crate::VERSION.to_owned()),
                ("Rust Version", env!("FOUNDRY_RUSTC_VERSION").to_owned()),
                ("Environment", env.to_string()),
                (
                    "Debug Mode",
                    if config.debug() { "ENABLED" } else { "OFF" }.to_owned(),
                ),
                ("URL", config.app().url.clone()),
                (
                    "Application Key",
                    if config.app().key.is_some() {
                        "set"
                    } else {
                        "NOT SET"
                    }
                    .to_owned(),
                ),
                ("Root", config.root().display().to_string()),
            ],
        ),
        (
            "Drivers",
            vec![
                ("Server", format!("{}:{}", server.host, server.port)),
                (
                    "Log",
                    format!("{:?} at {}", log.format_for(env), log.level).to_lowercase(),
                ),
                ("Database", driver("database.url")),
                (
                    "Cache",
                    match config.raw("cache.default") {
                        Some(_) => driver("cache.default"),
                        None => "memory".to_owned(),
                    },
                ),
                ("Queue", driver("queue.driver")),
                ("Session", driver("session.driver")),
            ],
        ),
    ])
}

async fn about(inv: Invocation) -> CommandResult {
    let config = inv.load_config()?;
    let sections = about_sections(&config)?;
    let mut out = std::io::stdout().lock();
    if inv.args().get_flag("json") {
        let mut doc = serde_json::Map::new();
        for (section, rows) in &sections {
            let rows: serde_json::Map<_, _> =
                rows.iter().map(|(k, v)| (snake(k), json!(v))).collect();
            doc.insert(snake(section), serde_json::Value::Object(rows));
        }
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    for (section, rows) in sections {
        writeln!(out, "\n  {section}")?;
        for (key, value) in rows {
            let dots = ".".repeat(
                60usize
                    .saturating_sub(key.len() + value.chars().count())
                    .max(2),
            );
            writeln!(out, "  {key} {dots} {value}")?;
        }
    }
    writeln!(out)?;
    Ok(ExitCode::SUCCESS)
}

fn snake(text: &str) -> String {
    text.to_lowercase().replace(' ', "_")
}

async fn key_generate(inv: Invocation) -> CommandResult {
    let key = AppKey::generate()?;
    if inv.args().get_flag("show") {
        println!("{key}");
        return Ok(ExitCode::SUCCESS);
    }
    write_key(inv.root(), &key, inv.args().get_flag("force"))?;
    println!("Application key set successfully.");
    Ok(ExitCode::SUCCESS)
}

/// The variable holding the key in `.env`.
const KEY_VAR: &str = "FOUNDRY_APP__KEY";

/// Write `key` into `<root>/.env` (created from `.env.example` when missing); an existing
/// non-empty key is kept unless `force`.
pub(crate) fn write_key(
    root: &Path,
    key: &AppKey,
    force: bool,
) -> Result<(), crate::cli::CommandError> {
    let path = root.join(".env");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            std::fs::read_to_string(root.join(".env.example")).unwrap_or_default()
        }
        Err(err) => return Err(format!("cannot read {}: {err}", path.display()).into()),
    };
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let line = format!("{KEY_VAR}={key}");
    let existing = lines.iter().position(|l| {
        l.trim_start()
            .strip_prefix(KEY_VAR)
            .is_some_and(|rest| rest.trim_start().starts_with('='))
    });
    match existing {
        Some(index) => {
            let value = lines[index]
                .split_once('=')
                .map_or("", |(_, v)| v.trim().trim_matches(['"', '\'']));
            if !value.is_empty() && !force {
                return Err(format!(
                    "an application key is already set in {}; run with --force to replace it \
                     (data signed or encrypted with the old key, such as sessions, becomes unreadable)",
                    path.display()
                )
                .into());
            }
            lines[index] = line;
        }
        None => lines.push(line),
    }
    let mut out = lines.join("\n");
    out.push('\n');
    std::fs::write(&path, out).map_err(|err| format!("cannot write {}: {err}", path.display()))?;
    Ok(())
}

async fn route_list(inv: Invocation) -> CommandResult {
    let kernel = inv.boot().await?;
    let args = inv.args();
    let method = args.get_one::<String>("method").map(|m| m.to_uppercase());
    let name = args.get_one::<String>("name");
    let path = args.get_one::<String>("path");
    let routes: Vec<&RouteInfo> = kernel
        .routes()
        .iter()
        .filter(|r| method.as_ref().is_none_or(|m| r.methods.contains(m)))
        .filter(|r| {
            name.is_none_or(|n| r.name.as_deref().is_some_and(|rn| rn.contains(n.as_str())))
        })
        .filter(|r| path.is_none_or(|p| r.path.contains(p.as_str())))
        .collect();
    let mut out = std::io::stdout().lock();
    if args.get_flag("json") {
        writeln!(out, "{}", serde_json::to_string_pretty(&routes)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<[String; 4]> = routes
        .iter()
        .map(|r| {
            [
                r.methods.join("|"),
                r.path.clone(),
                r.name.clone().unwrap_or_default(),
                r.middleware.join(", "),
            ]
        })
        .collect();
    let header = ["METHOD", "PATH", "NAME", "MIDDLEWARE"].map(str::to_owned);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let line = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect::<Vec<_>>()
            .join("  ");
        writeln!(out, "  {}", line.trim_end())?;
    }
    writeln!(out, "\n  Showing [{}] routes", rows.len())?;
    Ok(ExitCode::SUCCESS)
}

async fn list(inv: Invocation) -> CommandResult {
    let mut out = std::io::stdout().lock();
    let cli = inv.cli();
    writeln!(
        out,
        "{} {}\n\nAvailable commands:",
        cli.get_name(),
        crate::VERSION
    )?;
    let width = cli
        .get_subcommands()
        .map(|c| c.get_name().len())
        .max()
        .unwrap_or(0);
    let mut commands: Vec<_> = cli.get_subcommands().collect();
    commands.sort_by_key(|c| c.get_name());
    for command in commands {
        let about = command
            .get_about()
            .map(ToString::to_string)
            .unwrap_or_default();
        writeln!(out, "  {:<width$}  {about}", command.get_name())?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn completions(inv: Invocation) -> CommandResult {
    let shell = *inv
        .args()
        .get_one::<clap_complete::Shell>("shell")
        .ok_or("the shell argument is required")?;
    let mut cli = inv.cli().clone();
    let name = cli.get_name().to_owned();
    clap_complete::generate(shell, &mut cli, name, &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_written_kept_and_forced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(".env.example"),
            "APP=demo\nFOUNDRY_APP__KEY=\n",
        )
        .unwrap();
        let first = AppKey::generate().unwrap();
        write_key(dir.path(), &first, false).unwrap();
        let env = std::fs::read_to_string(dir.path().join(".env")).unwrap();
        assert_eq!(
            env,
            format!("APP=demo\nFOUNDRY_APP__KEY={first}\n"),
            "created from .env.example"
        );

        let second = AppKey::generate().unwrap();
        let err = write_key(dir.path(), &second, false)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("already set") && err.contains("--force"),
            "{err}"
        );
        assert!(
            std::fs::read_to_string(dir.path().join(".env"))
                .unwrap()
                .contains(&first.to_string())
        );

        write_key(dir.path(), &second, true).unwrap();
        let env = std::fs::read_to_string(dir.path().join(".env")).unwrap();
        assert!(env.contains(&second.to_string()) && !env.contains(&first.to_string()));
        assert_eq!(env.matches(KEY_VAR).count(), 1);
    }

    #[test]
    fn key_is_appended_when_env_has_none() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".env"), "OTHER=1").unwrap();
        let key = AppKey::generate().unwrap();
        write_key(dir.path(), &key, false).unwrap();
        let env = std::fs::read_to_string(dir.path().join(".env")).unwrap();
        assert_eq!(env, format!("OTHER=1\nFOUNDRY_APP__KEY={key}\n"));
        let config = foundry_core::config::ConfigLoader::new(dir.path())
            .vars(Vec::<(String, String)>::new())
            .load()
            .unwrap();
        assert_eq!(
            config.app().key.as_ref(),
            Some(&key),
            "the written key loads back"
        );
    }
}
