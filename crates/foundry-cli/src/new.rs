//! `foundry new <name>`: a ready-to-run app.

use std::path::{Path, PathBuf};

use clap::{Arg, ArgMatches, Command};
use minijinja::context;

use crate::names::{check_project_name, crate_ident, studly_case};
use crate::scaffold::Plan;
use crate::templates::render;

/// The framework checkout this binary was built from (`crates/foundry-cli/../..`).
const BUILT_FROM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// The `new` command's arguments.
pub(crate) fn command() -> Command {
    Command::new("new")
        .bin_name("foundry new")
        .about("Create a new RustForge app in ./<name>")
        .disable_version_flag(true)
        .arg(
            Arg::new("name")
                .required(true)
                .help("The app's name: a cargo package name such as `my-app`"),
        )
        .arg(
            Arg::new("template")
                .long("template")
                .value_parser(["api", "web"])
                .default_value("api")
                .help("`api`: a JSON API; `web`: HTML pages with resources/views too"),
        )
        .arg(
            Arg::new("db")
                .long("db")
                .value_parser(["sqlite", "postgres"])
                .default_value("sqlite")
                .help("The database the app is configured for"),
        )
        .arg(
            Arg::new("path")
                .long("path")
                .value_name("DIR")
                .conflicts_with("version")
                .help("Depend on the framework checkout in DIR (default: the one this foundry was built from)"),
        )
        .arg(
            Arg::new("version")
                .long("version")
                .value_name("VERSION")
                .help("Depend on this version of foundry from crates.io instead of a checkout"),
        )
}

/// How the app depends on the framework.
enum Source {
    /// A checkout (absolute path).
    Checkout(PathBuf),
    /// A published version.
    Version(String),
}

impl Source {
    fn dependency(&self, krate: &str) -> String {
        match self {
            Self::Checkout(root) => {
                let path = root.join("crates").join(krate);
                format!(
                    "{{ path = {} }}",
                    toml::Value::from(path.display().to_string())
                )
            }
            Self::Version(version) => toml::Value::from(version.as_str()).to_string(),
        }
    }
}

fn checkout(dir: &Path) -> Result<PathBuf, String> {
    let root = dir.canonicalize().map_err(|err| {
        format!(
            "the framework checkout {} is not there ({err}); pass --path <checkout> or --version <version>",
            dir.display()
        )
    })?;
    if !root.join("crates/foundry/Cargo.toml").is_file() {
        return Err(format!(
            "{} is not a RustForge checkout: it has no crates/foundry/Cargo.toml; pass --path <checkout> or --version <version>",
            root.display()
        ));
    }
    Ok(root)
}

/// Run `foundry new` with the matches of [`command`]; `cwd` is where the app goes.
pub(crate) fn run(args: &ArgMatches, cwd: &Path) -> Result<(), String> {
    let name: &String = args.get_one("name").ok_or("the app's name is required")?;
    check_project_name(name)?;
    let dir = cwd.join(name);
    if dir.exists() {
        return Err(format!(
            "{} already exists; pick another name or remove it first (foundry new never overwrites)",
            dir.display()
        ));
    }
    let source = match (
        args.get_one::<String>("path"),
        args.get_one::<String>("version"),
    ) {
        (_, Some(version)) => Source::Version(version.clone()),
        (Some(path), None) => Source::Checkout(checkout(&cwd.join(path))?),
        (None, None) => Source::Checkout(checkout(Path::new(BUILT_FROM))?),
    };
    let template = args
        .get_one::<String>("template")
        .map_or("api", String::as_str);
    let db = args
        .get_one::<String>("db")
        .map_or("sqlite", String::as_str);
    let krate = crate_ident(name);
    let app_type = studly_case(&krate);
    let ctx = context! {
        name => name,
        krate => krate,
        app_type => app_type,
        title => title(name),
        template => template,
        db => db,
        foundry_dep => source.dependency("foundry"),
        testing_dep => source.dependency("foundry-testing"),
    };
    let module = |doc: &str, uses: &str, body: &str| {
        render(
            "new/mod.rs",
            context! { doc => doc, uses => uses, body => body },
        )
    };
    let mut plan = Plan::default();
    for (path, template_name) in [
        ("Cargo.toml", "new/Cargo.toml"),
        ("foundry.toml", "new/foundry.toml"),
        (".env.example", "new/.env.example"),
        ("askama.toml", "new/askama.toml"),
        (".gitignore", "new/.gitignore"),
        ("src/main.rs", "new/main.rs"),
        ("src/lib.rs", "new/lib.rs"),
        ("src/app.rs", "new/app.rs"),
        ("src/routes.rs", "new/routes.rs"),
        ("migrations/mod.rs", "new/migrations.rs"),
        ("tests/app.rs", "new/test.rs"),
    ] {
        plan.file(path, render(template_name, ctx.clone())?);
    }
    plan.file(
        "src/models/mod.rs",
        module(
            "The app's models. `foundry make:model` adds them here.",
            "",
            "",
        )?,
    );
    plan.file(
        "src/controllers/mod.rs",
        module(
            "The app's controllers. `foundry make:controller` adds them here.",
            "",
            "",
        )?,
    );
    plan.file(
        "src/requests/mod.rs",
        module(
            "Form requests: validated input. `foundry make:request` adds them here.",
            "",
            "",
        )?,
    );
    plan.file(
        "src/seeders/mod.rs",
        module(
            "The app's seeders. `foundry make:seeder` adds them here.",
            "use foundry::db::seed::Seeder;",
            "/// Every seeder, in the order `db:seed` runs them.\npub fn all() -> Vec<Box<dyn Seeder>> {\n    vec![\n        // foundry:seeders\n    ]\n}",
        )?,
    );
    plan.file(
        "src/commands/mod.rs",
        module(
            "The app's own commands. `foundry make:command` adds them here.",
            "use foundry::cli::Commands;",
            "/// Add the app's commands to its command line.\npub fn register(commands: &mut Commands) {\n    let _ = &commands;\n    // foundry:commands\n}",
        )?,
    );
    plan.file(
        "src/jobs/mod.rs",
        module(
            "The app's queued jobs. `foundry make:job` adds them here.",
            "use foundry::queue::JobRegistry;",
            "/// Register the app's jobs so workers can run them by name.\npub fn register(jobs: &mut JobRegistry) {\n    let _ = &jobs;\n    // foundry:jobs\n}",
        )?,
    );
    plan.file("storage/.gitignore", "*\n!.gitignore\n");
    if template == "web" {
        plan.file(
            "resources/views/welcome.html",
            render("new/welcome.html", ctx)?,
        );
    }
    if let Source::Checkout(root) = &source {
        // The framework's lock file: the versions it is tested with, already downloaded, so
        // the first build works offline and shares a target directory's artifacts.
        if let Ok(lock) = std::fs::read_to_string(root.join("Cargo.lock")) {
            plan.file("Cargo.lock", lock);
        }
    }
    plan.apply(&dir, false)?;
    let db_name = if db == "postgres" {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!(
        "Created {name} ({template} template, {db_name}) in {}",
        dir.display()
    );
    println!();
    println!("Next:");
    println!("  cd {name}");
    println!("  foundry make:model Post --fields title:string,body:text -mf --api --requests");
    println!("  foundry migrate");
    println!("  foundry serve");
    Ok(())
}

/// `my-shop` → `My Shop`.
fn title(name: &str) -> String {
    name.split(['-', '_'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map_or_else(String::new, |c| {
                c.to_uppercase().chain(chars).collect::<String>()
            })
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_read_well() {
        assert_eq!(title("my-shop"), "My Shop");
        assert_eq!(title("blog"), "Blog");
        assert_eq!(title("api_v2"), "Api V2");
    }

    #[test]
    fn dependencies_point_at_the_checkout_or_a_version() {
        let path = Source::Checkout(PathBuf::from("/src/rustforge"));
        assert_eq!(
            path.dependency("foundry"),
            "{ path = \"/src/rustforge/crates/foundry\" }"
        );
        assert_eq!(
            Source::Version("0.2".into()).dependency("foundry"),
            "\"0.2\""
        );
    }
}
