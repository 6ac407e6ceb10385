//! Structured logs through `tracing`: pretty in local, JSON in production.

use foundry_core::Environment;
use foundry_core::config::{LogConfig, LogFormat};
use tracing_subscriber::EnvFilter;

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTarget {
    /// Standard output (servers and workers).
    Stdout,
    /// Standard error (commands whose output is on stdout).
    Stderr,
}

/// Install the global subscriber: level from `RUST_LOG` when set, else from `[log] level`;
/// format from `[log] format`, else by environment. A second call does nothing.
pub fn init(config: &LogConfig, env: Environment, target: LogTarget) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.level))
        .unwrap_or_else(|err| {
            eprintln!(
                "warning: invalid [log] level \"{}\" ({err}); using \"info\"",
                config.level
            );
            EnvFilter::new("info")
        });
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let result = match (config.format_for(env), target) {
        (LogFormat::Json, LogTarget::Stdout) => builder.json().with_current_span(false).try_init(),
        (LogFormat::Json, LogTarget::Stderr) => builder
            .json()
            .with_current_span(false)
            .with_writer(std::io::stderr)
            .try_init(),
        (LogFormat::Pretty, LogTarget::Stdout) => builder.pretty().try_init(),
        (LogFormat::Pretty, LogTarget::Stderr) => {
            builder.pretty().with_writer(std::io::stderr).try_init()
        }
        (LogFormat::Compact, LogTarget::Stdout) => builder.compact().try_init(),
        (LogFormat::Compact, LogTarget::Stderr) => {
            builder.compact().with_writer(std::io::stderr).try_init()
        }
    };
    // Already installed (tests, or an app that set up its own): keep that one.
    drop(result);
}
